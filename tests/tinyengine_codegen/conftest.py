"""Shared fixtures for the firmware tests: a hand-written model folder implementing the generated C API.

Input and output live in its arena (zero-copy, like generated code). The fake model has 5 layers, each
bracketed by TINYML_LAYER_BEGIN/END like generated code:
  0: output[i] = input[i]                          1: a 1000-iteration `subs/bne` loop (2001 instructions)
  2: nothing (0 instructions)                        3: output[i] += 1 (int8 wrap-around)
  4: a 3000-iteration `subs/bne` loop (6001 instructions)
so the firmware output is input + 1 and layers 1, 2 and 4 have known exact instruction counts.
"""

import json
from pathlib import Path

import pytest

FAKE_INPUT_SIZE = 37

_MODEL_H = """#ifndef TINYML_H
#define TINYML_H
#include <stddef.h>
#include <stdint.h>
#define TINYML_INPUT_COUNT 1
#define TINYML_OUTPUT_COUNT 1
#define TINYML_INPUT0_BYTES {size}
#define TINYML_OUTPUT0_BYTES {size}
#define TINYML_ARENA_BYTES {arena}
#define TINYML_LAYER_COUNT 5
int tinyml_init(void);
int tinyml_invoke(void);
void *tinyml_input(int i);
void *tinyml_output(int i);
size_t tinyml_input_bytes(int i);
size_t tinyml_output_bytes(int i);
#endif
"""

_MODEL_C = """#include "tinyml.h"
#ifdef TINYML_HOOKS
#include "tinyml_hooks.h"
#else
#define TINYML_LAYER_BEGIN(i)
#define TINYML_LAYER_END(i)
#endif

static int8_t arena[TINYML_ARENA_BYTES];
static int initialised;
#define IN (arena)
#define OUT (arena + TINYML_INPUT0_BYTES)

/* n iterations of `subs; bne`: 2 instructions each, plus 1 to load n */
static inline __attribute__((always_inline)) void spin(uint32_t n) {
#if defined(__thumb2__)
    __asm__ volatile("1: subs %0, %0, #1\\n\\tbne 1b" : "+l"(n) : : "cc");
#else /* Thumb-1: GCC hands inline asm to the assembler in divided syntax */
    __asm__ volatile(".syntax unified\\n1: subs %0, %0, #1\\n\\tbne 1b\\n.syntax divided" : "+l"(n) : : "cc");
#endif
}

int tinyml_init(void) {
    initialised = 1;
    return 0;
}

void *tinyml_input(int i) { return initialised && i == 0 ? (void *)IN : NULL; }
void *tinyml_output(int i) { return initialised && i == 0 ? (void *)OUT : NULL; }
size_t tinyml_input_bytes(int i) { return i == 0 ? TINYML_INPUT0_BYTES : 0; }
size_t tinyml_output_bytes(int i) { return i == 0 ? TINYML_OUTPUT0_BYTES : 0; }

int tinyml_invoke(void) {
    if (!initialised) return -100;
    {prologue}
    TINYML_LAYER_BEGIN(0);
    for (int i = 0; i < TINYML_INPUT0_BYTES; ++i) OUT[i] = IN[i];
    TINYML_LAYER_END(0);
    TINYML_LAYER_BEGIN(1);
    spin(1000);
    TINYML_LAYER_END(1);
    TINYML_LAYER_BEGIN(2);
    TINYML_LAYER_END(2);
    TINYML_LAYER_BEGIN(3);
    for (int i = 0; i < TINYML_OUTPUT0_BYTES; ++i) OUT[i] = (int8_t)(OUT[i] + 1);
    TINYML_LAYER_END(3);
    TINYML_LAYER_BEGIN(4);
    spin(3000);
    TINYML_LAYER_END(4);
    return 0;
}
"""


def write_fake_model(folder: Path, *, arena_bytes: int = 64, size: int = FAKE_INPUT_SIZE, prologue: str = "") -> Path:
    """Write the fake model (tinyml.h, tinyml.c, manifest.json) into folder. prologue: C statements run first in
    tinyml_invoke (e.g. a fault)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tinyml.h").write_text(_MODEL_H.format(size=size, arena=max(arena_bytes, 2 * size)))
    (folder / "tinyml.c").write_text(_MODEL_C.replace("{prologue}", prologue))
    t = {"name": "x", "shape": [1, size], "dtype": "int8", "bytes": size, "scale": 0.0, "zero_point": 0}
    man = {"model": "fake", "prefix": "tinyml", "arena_bytes": max(arena_bytes, 2 * size), "inputs": [t],
           "outputs": [dict(t, name="y")]}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(man))
    return folder


@pytest.fixture(scope="session")
def fake_model_dir(tmp_path_factory) -> Path:
    return write_fake_model(tmp_path_factory.mktemp("fake_model"))
