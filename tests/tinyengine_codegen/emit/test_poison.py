"""Sanitized builds poison every arena byte a layer must not touch: a kernel that strays is reported."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host, run_host
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.errors import InternalError

from ..kernels.graphs import conv_graph


def _project(tmp_path):
    g = conv_graph(np.random.default_rng(4), h=6, w=6, cin=3, cout=4, k=3)
    write_project(g, tmp_path / "m")
    return tmp_path / "m"


def test_each_layer_lists_its_inputs_outputs_and_scratch(tmp_path):
    text = (_project(tmp_path) / "tinyml.c").read_text()
    touch = re.search(r"l0_conv_2d_touch\[(\d+)\] = \{ ([^}]*) \}", text)
    assert touch, text[:2000]
    values = [int(v) for v in touch.group(2).split(",")]
    assert int(touch.group(1)) == len(values) and values[1::2][:2] == [6 * 6 * 3, 6 * 6 * 4]
    assert "LAYER_POISON(l0_conv_2d_touch);" in text and "#ifdef TINYML_POISON" in text


def test_a_kernel_writing_outside_its_tensors_is_reported(tmp_path):
    d = _project(tmp_path)
    x = np.random.default_rng(0).integers(-128, 128, (1, 6, 6, 3)).astype(np.int8)
    run_host(build_host(d, tmp_path / "ok.exe", sanitize=True, opt="-O1"), x)  # the real list runs clean
    model = d / "tinyml.c"
    text = model.read_text()
    # the layer now claims to touch only its input: its output writes land on poisoned bytes
    model.write_text(re.sub(r"(l0_conv_2d_touch\[)\d+(\] = \{ )(\d+, \d+)[^}]*\}", r"\g<1>2\g<2>\g<3> }", text))
    exe = build_host(d, tmp_path / "bad.exe", sanitize=True, opt="-O1")
    with pytest.raises(InternalError, match="use-after-poison"):
        run_host(exe, x)
