"""The counting plugin's cycle models: hand-costed instruction sequences under m4-trm-v1 (CYCLE_MODEL.md),
the m7-dual-v1 pairing rule, and the execution-order model against its address-order variant on a real model."""

import shutil

import numpy as np
import pytest

from tests.tinyengine_codegen.conftest import FAKE_INPUT_SIZE, write_fake_model
from tinyengine_codegen.boards import load_board
from tinyengine_codegen.build.platformio import build, prepare_project
from tinyengine_codegen.build.setup_tools import plugin_path
from tinyengine_codegen.run.cycle_profile import address_order_cycles, classify, disassemble
from tinyengine_codegen.run.qemu import MARK_INVOKE_BEGIN, MARK_INVOKE_END, parse_counts, run_qemu

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None or not plugin_path().is_file(),
    reason="needs qemu-system-arm, arm-none-eabi-gcc and setup_tools' plugin",
)

# (instructions, m4-trm-v1 cycles) of each layer, costed by hand from the table in CYCLE_MODEL.md
_LAYERS = [
    # ldr 2, ldr pipelined 1, ldrb pipelined 1, add 1, ldr 2
    ("ldr r0, [sp]\n ldr r1, [sp]\n ldrb r2, [sp]\n add r0, r1\n ldr r3, [sp]", "r0", "r1", "r2", "r3", 5, 7),
    # ldrd 3, ldr after ldrd (not a single load) 2, str pipelined after ldr 1... kept off the stack: ldr only
    ("ldrd r0, r1, [sp]\n ldr r2, [sp]\n ldrh r3, [sp]", "r0", "r1", "r2", "r3", 3, 6),
    # push 1+4, pop 1+4
    ("push {r0, r1, r2, r3}\n pop {r0, r1, r2, r3}", "r0", "r1", "r2", "r3", 2, 10),
    # movs 1, movs 1, sdiv 7, smlad 1, sxtb16 1, ssat 1
    (
        "movs r2, #3\n movs r1, #9\n sdiv r0, r1, r2\n smlad r0, r1, r2, r0\n sxtb16 r1, r2\n ssat r0, #8, r0",
        "r0",
        "r1",
        "r2",
        "r3",
        6,
        12,
    ),
    # movs 1, cmp 1, beq taken 1+2, cmp 1, beq not taken 1, nop 1, b 1+2, it 1, addeq 1 (condition fails)
    (
        "movs r0, #0\n cmp r0, #0\n beq 1f\n nop\n1: cmp r0, #1\n beq 2f\n nop\n2: b 3f\n nop\n3: it eq\n addeq r0, #1",
        "r0",
        "r1",
        "r2",
        "r3",
        9,
        13,
    ),
]


def _asm_model(folder):
    write_fake_model(folder)
    layers = []
    for i, (asm, *regs, _, _) in enumerate(_LAYERS):
        text = asm.replace("\n", "\\n\\t")
        clobber = ", ".join(f'"{r}"' for r in regs)
        layers.append(f'TINYML_LAYER_BEGIN({i});\n    __asm__ volatile("{text}" ::: {clobber}, "cc", "memory");')
        layers.append(f"TINYML_LAYER_END({i});")
    body = "\n    ".join(layers)
    c = (folder / "tinyml.c").read_text()
    start, end = c.index("    TINYML_LAYER_BEGIN(0);"), c.rindex("    return 0;\n}")
    copy = "for (int i = 0; i < TINYML_OUTPUT0_BYTES; ++i) OUT[i] = (int8_t)(IN[i] + 1);\n    "
    c = c[:start] + "    " + copy + body + "\n" + c[end:]
    (folder / "tinyml.c").write_text(c)
    (folder / "tinyml.h").write_text(
        (folder / "tinyml.h").read_text().replace("TINYML_LAYER_COUNT 5", f"TINYML_LAYER_COUNT {len(_LAYERS)}")
    )
    return folder


@pytest.fixture(scope="module", params=["qemu-m4", "qemu-m7"])
def asm_firmware(request, tmp_path_factory):
    board = load_board(request.param)
    root = tmp_path_factory.mktemp(f"cyc-{request.param}")
    x = np.zeros(FAKE_INPUT_SIZE, np.int8)
    return build(prepare_project(_asm_model(root / "model"), board, root / "proj", x), board).elf_path, board


@needs_qemu
@pytest.mark.qemu
def test_hand_costed_sequences_match_m4_trm_v1(asm_firmware):
    elf, board = asm_firmware
    res = run_qemu(elf, board)
    assert res.layer_instructions == tuple(row[-2] for row in _LAYERS)
    assert res.layer_cycles["m4-trm-v1"] == tuple(row[-1] for row in _LAYERS)
    # m7-dual-v1: push/pop take 1 + 4/2 issue cycles each and never pair
    assert res.layer_cycles["m7-dual-v1"][2] == 6
    assert res.cycles["m4-trm-v1"] > res.cycles["m7-dual-v1"] > res.instructions / 2


@needs_qemu
@pytest.mark.qemu
def test_execution_order_agrees_with_address_order(asm_firmware):
    elf, board = asm_firmware
    res = run_qemu(elf, board, profile=True)
    first = {m[0]: m[1:] for m in reversed(res.marks)}
    begin, end = first[MARK_INVOKE_BEGIN], first[MARK_INVOKE_END]
    assert sum(n for _, _, n in res.profile) == end[0] - begin[0]
    # this code has no branch whose successor in address order is reached from elsewhere: the two are equal
    assert address_order_cycles(res.profile, disassemble(elf)) == end[1] - begin[1]


def test_parse_counts_reads_each_cycle_column():
    text = "mark 0 100 150 90\nmark 1 109 160 99\nmark 2 500 900 400\nmark 4 520 930 420\nmark 5 629 1200 530\n"
    text += "mark 3 700 1300 600\ntotal 9 9 9\n"
    # one mark costs 9 instructions, 10 m4 cycles, 9 m7 cycles; invoke holds 3 marks
    assert parse_counts(text, 0) == (200 - 27, (629 - 520 - 9,))
    assert parse_counts(text, 1) == (400 - 30, (1200 - 930 - 10,))
    assert parse_counts(text, 2) == (200 - 27, (530 - 420 - 9,))


@pytest.mark.parametrize(
    "mnemonic, operands, in_it, expected",
    [
        ("ldr.w", "r0, [r1, #4]", False, ("ls", 2)),
        ("ldr", "pc, [sp], #4", False, ("other", 4)),
        ("pop", "{r4, r5, r6, pc}", False, ("other", 7)),
        ("popeq", "{r4, pc}", True, ("cbr", 3)),
        ("bls.n", "1c", False, ("cbr", 1)),
        ("bl", "100 <f>", False, ("other", 3)),
        ("bxeq", "lr", True, ("cbr", 1)),
        ("ldrd", "r2, r3, [r0]", False, ("other", 3)),
        ("vpush", "{d8-d9}", False, ("other", 5)),
        ("vdiv.f32", "s0, s0, s1", False, ("other", 14)),
        ("smlad", "r0, r1, r2, r0", False, ("other", 1)),
    ],
)
def test_objdump_classification(mnemonic, operands, in_it, expected):
    assert classify(mnemonic, operands, in_it) == expected
