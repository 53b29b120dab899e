"""runner: a board run refuses a model over the board's SRAM budget (needed and available bytes in one line)
unless ignore_fit; float arrays go into float-input models."""

from __future__ import annotations

import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.ir.graph import Graph, QuantParams, Tensor
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.runner import check_input, run_model

from .kernels.graphs import conv_graph


def test_board_run_refuses_a_model_over_the_sram_budget():
    g = conv_graph(np.random.default_rng(0), h=160, w=160, cin=8, cout=8, k=3)  # 2 x 200 KB activations
    x = np.zeros((1, 160, 160, 8), np.int8)
    with pytest.raises(TinyMLError) as err:
        run_model(g, x, CompileOptions(target="qemu-m4", patches="off"))
    msg = str(err.value)
    assert "409,600 B of SRAM" in msg and "327,680 B" in msg and "--ignore-fit" in msg and "\n" not in msg


def test_float_arrays_go_into_a_float_input_model():
    t = Tensor("x", (1, 3), "float32", None)
    g = Graph("g", {"x": t, "y": Tensor("y", (1, 3), "int8", QuantParams((0.1,), (0,)))}, (), ("x",), ("y",))
    x = check_input(g, np.array([[0.5, -1.0, 2.0]], np.float64))
    assert x.dtype == np.float32 and x.tolist() == [[0.5, -1.0, 2.0]]
    with pytest.raises(TinyMLError, match="float32"):
        check_input(g, np.zeros((1, 3), np.int8))
