"""PlatformIO extra script (pre:) for the official platforms: machine flags on the link step as well.

Flags in build_flags that start with -m reach only the compiler; a hard-float object then fails to link against
a soft-float libc. The project option custom_machine_flags carries the board's -mcpu/-mfloat-abi/-mfpu flags.
"""

Import("env")  # noqa: F821  pylint: disable=undefined-variable

machine = env.GetProjectOption("custom_machine_flags", "").split()  # noqa: F821
env.Append(  # noqa: F821
    ASFLAGS=machine,
    CCFLAGS=machine,
    LINKFLAGS=machine + ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"],
)
