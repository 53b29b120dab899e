"""The generated C is safe and is the plan simulate reports, for every option combination, on the MLPerf Tiny
models and on random graphs (no C build here). Safety is checked by an independent oracle: the arena offsets are
read back from the emitted model.c calls, every tensor's lifetime is recomputed here from the graph, and no two
buffers live at the same step may share a byte unless one is a declared view or in-place output of the other."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.compile import compile_model
from tinyengine_codegen.ir.ops import OpKind
from tinyengine_codegen.kernels.registry import spec_named
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.simulate import simulate

from ...conftest import MLPERF, mlperf_path
from ...fuzz.modelgen import random_model
from ..planner.stacks import random_stack

OPTIONS = [CompileOptions(inplace=i, patches=p) for i in (True, False) for p in ("off", "auto", "2", "4")]


def _emitted_buffers(project, graph, stage: set[int]) -> dict[str, tuple[int, int]]:
    """(offset, bytes) of every activation and scratch buffer, read from the layer calls in model.c."""
    man = json.loads(project.files["manifest.json"])
    calls = {int(m[1]): [int(a) for a in re.findall(r"ARENA \+ (\d+)", m[2])]
             for m in re.finditer(r"^\s*l(\d+)_\w+\((.*)\);$", project.files["tinyml.c"], re.M)}  # fmt: skip
    assert sorted(calls) == list(range(len(graph.ops)))
    out: dict[str, tuple[int, int]] = {}
    for i, op in enumerate(graph.ops):
        names = list(dict.fromkeys(t for t in op.inputs if t and not graph.tensor(t).is_const)) + list(op.outputs)
        spec = spec_named(op, man["layers"][i]["kernel"], stage=i in stage)
        scratch = spec.scratch_bytes(op, graph)
        assert len(calls[i]) == len(names) + (1 if scratch else 0), op.name
        for name, off in zip(names, calls[i]):
            assert out.setdefault(name, (off, graph.tensor(name).nbytes))[0] == off, f"{name} moved"
        if scratch:
            out[f"{op.name}#scratch"] = (calls[i][-1], scratch)
    return out


def _lifetimes(graph) -> dict[str, tuple[int, int]]:
    """[first, last] op of every activation, recomputed here: inputs from 0, outputs to the end."""
    n, live = len(graph.ops), {}
    for name in graph.inputs:
        live[name] = (0, n if name in graph.outputs else 0)
    for i, op in enumerate(graph.ops):
        for t in op.outputs:
            live[t] = (i, n if t in graph.outputs else i)
        for t in op.inputs:
            if t in live:
                live[t] = (live[t][0], max(live[t][1], i))
        live[f"{op.name}#scratch"] = (i, i)
    return live


def check_emitted_offsets(project, graph, inplace: set[int], stage: set[int]) -> None:
    """The oracle of the module docstring; stage tensors (per-patch buffers) are only checked to fit."""
    bufs, live = _emitted_buffers(project, graph, stage), _lifetimes(graph)
    views: dict[str, str] = {}  # output -> the input whose bytes it may reuse
    for i, op in enumerate(graph.ops):
        if op.kind is OpKind.RESHAPE or i in inplace:
            for t in op.inputs:
                if t in bufs and bufs[t][0] == bufs[op.outputs[0]][0]:
                    assert op.kind is OpKind.RESHAPE or live[t][1] == i, f"{op.name} overwrites a live input"
                    views[op.outputs[0]] = t

    def root(t: str) -> str:
        while t in views:
            t = views[t]
        return t

    staged = {t for i in stage for t in graph.ops[i].inputs + graph.ops[i].outputs if t in bufs}
    staged |= {f"{graph.ops[i].name}#scratch" for i in stage}
    for name, (off, size) in bufs.items():
        assert off % 4 == 0 and off >= 0 and off + (0 if name in staged else size) <= project.arena_bytes, name
    rows = sorted((k, v) for k, v in bufs.items() if k not in staged)
    for a, (oa, sa) in rows:
        for b, (ob, sb) in rows:
            if a < b and live[a][0] <= live[b][1] and live[b][0] <= live[a][1] and root(a) != root(b):
                assert oa + sa <= ob or ob + sb <= oa, f"[{oa}, {oa + sa}) {a} overlaps [{ob}, {ob + sb}) {b}"


def _check_same_as_simulate(graph, options: CompileOptions, board_id: str = "qemu-m4") -> None:
    board = load_board(board_id)
    sim = simulate(graph, board, options)
    project = compile_model(graph, CompileOptions(**{**options.as_dict(), "target": board}))
    mp = sim.model_plan
    stage = set(mp.patches.stage) if mp.patches is not None else set()
    check_emitted_offsets(project, mp.graph, set(mp.inplace), stage)
    assert project.arena_bytes == sim.peak_sram_bytes
    assert project.kernels == tuple(r.kernel for r in sim.layers)
    man = json.loads(project.files["manifest.json"])
    assert man["inplace_layers"] == sorted(mp.inplace)
    assert f"#define TINYML_ARENA_BYTES {sim.peak_sram_bytes}\n" in project.files["tinyml.h"]
    if not options.inplace:
        assert not mp.inplace
    if not options.patches.enabled or mp.patches is None:
        assert man["patches"] is None and "tinyml_region_t" not in project.files["tinyml.c"]
    else:
        assert man["patches"]["p"] == mp.patches.p and man["patches"]["split"] == mp.patches.split_op
        c = project.files["tinyml.c"]
        p = mp.patches.p  # a p x p grid: patch rows, then patch columns (or one loop over the p^2 patches)
        grid = f"for (int py = 0; py < {p}; ++py)" in c and f"for (int px = 0; px < {p}; ++px)" in c
        assert grid or f"for (int k = 0; k < {p**2}; ++k)" in c
        if options.patches.count is not None:
            assert mp.patches.p == options.patches.count


@pytest.mark.parametrize("key", sorted(MLPERF))
def test_mlperf_arena_is_simulates_peak(key):
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path(key))
    for options in OPTIONS:
        _check_same_as_simulate(graph, options)


def test_vww_plan_is_patched_and_in_place():
    from tinyengine_codegen.importers.tflite import load_tflite

    graph = load_tflite(mlperf_path("vww"))
    auto = compile_model(graph, CompileOptions(patches="auto"))
    off = compile_model(graph, CompileOptions(patches="off"))
    plain = compile_model(graph, CompileOptions(patches="off", inplace=False))
    assert (auto.arena_bytes, off.arena_bytes, plain.arena_bytes) == (38040, 46080, 55296)
    assert auto.kernels[:4] == ("conv2d_s8_region", "dwconv_s8_region", "conv2d_s8_region", "dwconv_s8_region")
    # in place whenever the lifetimes allow; VWW's peak is at a pointwise conv, which runs in place over its
    # input when patches are off: 55,296 -> 46,080 B
    assert "dwconv_s8_inplace" in off.kernels and "dwconv_s8_inplace" not in plain.kernels
    assert off.kernels.count("conv2d_1x1_s8_inplace") == 1 and "conv2d_1x1_s8_inplace" not in plain.kernels


@pytest.mark.parametrize("seed", range(12))
def test_random_stacks_arena_is_simulates_peak(seed):
    graph = random_stack(np.random.default_rng(seed), depth=int(np.random.default_rng(seed).integers(2, 6)))
    for options in OPTIONS[:4] + OPTIONS[5:6]:
        _check_same_as_simulate(graph, options, "qemu-m4" if seed % 2 else "pico")


@pytest.mark.parametrize("seed", range(40))
def test_random_models_arena_is_simulates_peak(seed):
    graph = random_model(np.random.default_rng(500 + seed), name=f"r{seed}")
    graph = type(graph)(graph.name, graph.tensors, graph.ops, graph.inputs, graph.outputs[:1])
    for options in (CompileOptions(), CompileOptions(inplace=False, patches="off"), CompileOptions(patches="2")):
        _check_same_as_simulate(graph, options)


def test_the_oracle_catches_two_live_tensors_sharing_bytes():
    graph = random_stack(np.random.default_rng(3), depth=3)
    options = CompileOptions(patches="off", inplace=False)
    project = compile_model(graph, options)
    mp = simulate(graph, load_board("pico"), options, flash="estimate").model_plan
    check_emitted_offsets(project, mp.graph, set(), set())  # the real plan passes
    text = project.files["tinyml.c"]
    first = re.search(r"^(\s*l0_\w+\()ARENA \+ (\d+), ARENA \+ (\d+)\);$", text, re.M)
    assert first, "layer 0 takes one input and one output"
    x, y = mp.graph.ops[0].inputs[0], mp.graph.ops[0].outputs[0]
    o_x, o_y = first.group(2), first.group(3)
    if mp.graph.tensor(x).nbytes <= mp.graph.tensor(y).nbytes:  # the smaller one onto the larger: stays inside
        lines = {0: (f"ARENA + {o_x},", f"ARENA + {o_y},")}
    else:
        lines = {0: (f"ARENA + {o_y})", f"ARENA + {o_x})"), 1: (f"(ARENA + {o_y}", f"(ARENA + {o_x}")}
    out = []
    for line in text.splitlines(keepends=True):
        m = re.match(r"\s*l(\d+)_\w+\(", line)
        if m and int(m.group(1)) in lines:
            line = line.replace(*lines[int(m.group(1))])
        out.append(line)
    clash = "".join(out)
    assert clash != text
    broken = dataclasses.replace(project, files={**project.files, "tinyml.c": clash})
    with pytest.raises(AssertionError, match="overlaps"):
        check_emitted_offsets(broken, mp.graph, set(), set())
