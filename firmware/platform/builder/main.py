"""SCons build script of the offline platform: arm-none-eabi toolchain from PATH, QEMU run, uploads.

Board manifests (generated per project) carry build.cpu, build.fpu ("none" for soft float), build.qemu_machine
for virtual boards and build.openocd_target for ST-LINK/CMSIS-DAP uploads.
"""

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
board = env.BoardConfig()

cpu = board.get("build.cpu")
fpu = board.get("build.fpu", "none")
machine = ["-mthumb", "-mcpu=%s" % cpu]
machine += ["-mfloat-abi=soft"] if fpu == "none" else ["-mfloat-abi=hard", "-mfpu=%s" % fpu]

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    SIZEPROGREGEXP=r"^(?:\.isr_vector|\.text|\.rodata|\.ARM\.exidx|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGSUFFIX=".elf",
)
if env.get("PROGNAME", "program") == "program":
    env.Replace(PROGNAME="firmware")

env.Append(
    ASFLAGS=machine,
    ASPPFLAGS=machine + ["-x", "assembler-with-cpp"],
    CCFLAGS=machine + ["-ffunction-sections", "-fdata-sections", "-ffreestanding"],
    CFLAGS=["-std=gnu11"],
    LINKFLAGS=machine + ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"],
    LIBS=["c", "m", "gcc", "nosys"],
)

target_elf = env.BuildProgram()
target_bin = env.Command("$BUILD_DIR/${PROGNAME}.bin", target_elf, "$OBJCOPY -O binary $SOURCE $TARGET")
target_hex = env.Command("$BUILD_DIR/${PROGNAME}.hex", target_elf, "$OBJCOPY -O ihex $SOURCE $TARGET")
AlwaysBuild(env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))

qemu_machine = board.get("build.qemu_machine", "")
qemu_cmd = (
    "timeout 120 qemu-system-arm -machine %s -display none -monitor none -serial null "
    "-chardev stdio,id=sh0 -semihosting-config enable=on,target=native,chardev=sh0 -kernel $SOURCE" % qemu_machine
)
if qemu_machine:
    env.AddPlatformTarget("exec", target_elf, env.VerboseAction(qemu_cmd, "Running $SOURCE in QEMU"), "Run in QEMU")

protocol = env.subst("$UPLOAD_PROTOCOL")
jlink_device = board.get("build.jlink_device", "")


def write_jlink_script(target, source, env):  # noqa: ARG001 - SCons action signature
    """J-Link Commander script: load the Intel HEX image, reset, run."""
    with open(env.subst("$BUILD_DIR/upload.jlink"), "w") as f:
        f.write("r\nh\nloadfile %s\nr\ng\nqc\n" % source[0].get_abspath())

openocd_target = board.get("build.openocd_target", "")
openocd = 'openocd -f interface/%s.cfg -f target/%s.cfg -c "program {$SOURCE} verify reset exit"'
upload_actions = {
    "qemu": (target_elf, [qemu_cmd]),
    "stlink": (target_elf, [openocd % ("stlink", openocd_target)]),
    "cmsis-dap": (target_elf, [openocd % ("cmsis-dap", openocd_target)]),
    "jlink": (target_hex, [
        env.VerboseAction(write_jlink_script, "Writing the J-Link script"),
        "JLinkExe -device %s -if SWD -speed 4000 -autoconnect 1 -NoGui 1 -ExitOnError 1 "
        "-CommanderScript $BUILD_DIR/upload.jlink" % jlink_device,
    ]),
    "picotool": (target_elf, ["picotool load -x -t elf $SOURCE"]),
    "sam-ba": (target_bin, [
        env.VerboseAction(env.AutodetectUploadPort, "Looking for upload port..."),
        env.VerboseAction(lambda *a, **k: env.TouchSerialPort("$UPLOAD_PORT", 1200), "Forcing reset using 1200bps"),
        env.VerboseAction(env.AutodetectUploadPort, "Looking for upload port..."),
        "bossac --port=$UPLOAD_PORT -U -i -e -w $SOURCE -R",
    ]),
}
if protocol in upload_actions:
    source, actions = upload_actions[protocol]
    env.AddPlatformTarget("upload", source, actions, "Upload")

Default([target_elf, target_bin, target_hex])
