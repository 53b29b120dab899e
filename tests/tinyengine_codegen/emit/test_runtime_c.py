"""tinyml_runtime.h's fixed-point helpers compiled on the host against their reference formulas."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tinyengine_codegen.emit.env import TEMPLATES_DIR

PROGRAM = r"""
#include <stdio.h>
#include "tinyml_runtime.h"

/* the reference: nudge 2^30 or 1 - 2^30 by the product's sign, then a division by 2^31 truncating toward zero */
static int32_t ref_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) return INT32_MAX;
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

int main(void) {
    static const int32_t edge[] = {INT32_MIN, INT32_MIN + 1, -1073741824, -65536, -5, -3, -1, 0, 1, 3, 5,
                                   65536, 1073741824, INT32_MAX - 1, INT32_MAX};
    const int n = (int)(sizeof edge / sizeof edge[0]);
    long bad = 0, checked = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j, ++checked) bad += tinyml_srdhm(edge[i], edge[j]) != ref_srdhm(edge[i], edge[j]);
    uint32_t s = 12345u;
    for (long k = 0; k < 2000000; ++k, ++checked) {
        s = s * 1664525u + 1013904223u;
        const int32_t a = (int32_t)s;
        s = s * 1664525u + 1013904223u;
        /* every other b a power of two times a small odd number: products on and near the rounding ties */
        const int32_t b = (k & 1) ? (int32_t)s : (int32_t)((uint32_t)((s >> 28) | 1u) << (s & 15u));
        bad += tinyml_srdhm(a, b) != ref_srdhm(a, b);
    }
    for (int32_t m = -70000; m <= 70000; ++m, ++checked) /* a * 2^30: exact ties for every odd a */
        bad += tinyml_srdhm(m, 1 << 30) != ref_srdhm(m, 1 << 30);
    printf("%ld %ld\n", checked, bad);
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc missing (tinyml setup installs it)")
def test_srdhm_matches_the_reference_rounding_everywhere(tmp_path):
    src = tmp_path / "srdhm.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "srdhm"
    cmd = ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{TEMPLATES_DIR / 'runtime'}", str(src), "-o"]
    subprocess.run([*cmd, str(exe), "-lm"], check=True, capture_output=True, text=True)
    checked, bad = map(int, subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split())
    assert checked > 2_000_000 and bad == 0
