"""Kernel registry: every operator has a family, the last entry always matches, first match wins."""

from __future__ import annotations

import numpy as np

from tinyengine_codegen.emit.env import TEMPLATES_DIR
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.kernels.registry import HOST, KernelSpec, Target, families, select

from .graphs import conv_graph


def test_every_op_kind_has_a_family_with_templates():
    fam = families()
    assert set(fam) == set(OpKind)
    for _kind, specs in fam.items():
        for spec in specs:
            assert isinstance(spec, KernelSpec)
            assert (TEMPLATES_DIR / "kernels" / f"{spec.name}.c.j2").is_file(), spec.name


def test_last_entry_matches_any_op_of_its_kind():
    g = conv_graph(np.random.default_rng(0), h=5, w=5, cin=3, cout=4, k=3, stride=2)
    last = families()[OpKind.CONV_2D][-1]
    assert last.matches(g.ops[0], g, HOST) and last.matches(g.ops[0], g, Target("m4", dsp=True))


def test_first_match_wins_and_targets_with_dsp_are_accepted():
    g = conv_graph(np.random.default_rng(0), h=5, w=5, cin=3, cout=4, k=1)
    assert select(g.ops[0], g, HOST).name == "conv2d_1x1_s8_ref"
    assert select(g.ops[0], g, Target("cortex-m0plus", dsp=False)).name == "conv2d_1x1_s8_ref"
    assert select(g.ops[0], g, Target("cortex-m4", dsp=True)).name == "conv2d_s8_pair_stack"  # any cin
    dw = conv_graph(np.random.default_rng(0), h=5, w=5, cin=3, cout=0, k=3, depthwise=True, mult=2)
    assert select(dw.ops[0], dw, HOST).name == "dwconv_kxk_s8_ref"
