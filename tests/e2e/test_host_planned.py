"""The generated C runs plan_model's plan (in-place layers, patch stage) bit-exactly, with an arena of exactly the
planned size that AddressSanitizer guards (build_host(sanitize=True) puts it in its own heap block)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from tinyengine_codegen.build.host import build_host, build_host_many, run_host
from tinyengine_codegen.compile import write_project
from tinyengine_codegen.errors import InternalError
from tinyengine_codegen.options import CompileOptions
from tinyengine_codegen.reference.run import run_graph

from ..conftest import mlperf_path
from ..fuzz.modelgen import random_input, random_model
from ..helpers.interpreters import tflm_batch
from ..tinyengine_codegen.planner.stacks import random_stack


def _run_all(cases, work: Path, *, sanitize: bool = True) -> list[np.ndarray]:
    """cases: (graph, options, input batch); one executable for all of them; the outputs per case."""
    dirs, projects = [], []
    for k, (graph, options, _) in enumerate(cases):
        projects.append(write_project(graph, work / f"m{k}", options, prefix=f"m{k}"))
        dirs.append(work / f"m{k}")
    for d, p in zip(dirs, projects):
        assert f"#define M{dirs.index(d)}_ARENA_BYTES {p.arena_bytes}\n" in (d / f"m{dirs.index(d)}.h").read_text()
    exe = build_host_many(dirs, work / "models.exe", sanitize=sanitize, opt="-O1")
    return [run_host(exe, xs, model=k) for k, (_, _, xs) in enumerate(cases)]


def _reference(graph, xs: np.ndarray) -> np.ndarray:
    return np.stack([run_graph(graph, [x])[0] for x in xs])


def test_mlperf_planned_c_bit_exact_with_tflm_under_asan(tmp_path):
    from tinyengine_codegen.importers.tflite import load_tflite

    rng = np.random.default_rng(11)
    runs = [
        ("vww", CompileOptions()),
        ("vww", CompileOptions(patches="off")),
        ("ic", CompileOptions()),
        ("kws", CompileOptions()),
        ("ad", CompileOptions()),
    ]
    cases, paths = [], []
    for key, options in runs:
        path = mlperf_path(key)
        graph = load_tflite(path)
        shape = graph.tensor(graph.inputs[0]).shape
        cases.append((graph, options, rng.integers(-128, 128, (3,) + shape, dtype=np.int8)))
        paths.append(path)
    outs = _run_all(cases, tmp_path)
    assert json.loads((tmp_path / "m0" / "manifest.json").read_text())["patches"]["p"] == 8  # VWW runs patched
    assert json.loads((tmp_path / "m1" / "manifest.json").read_text())["inplace_layers"]  # VWW's depthwise
    assert json.loads((tmp_path / "m2" / "manifest.json").read_text())["inplace_layers"]  # IC's ADDs in place
    for (graph, options, xs), path, got in zip(cases, paths, outs):
        want = tflm_batch(path, xs)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{graph.name} {options}")


@pytest.mark.parametrize(("patches", "wide"), [("auto", False), ("2", False), ("3", False), ("2", True)])
def test_random_stacks_patched_bit_exact_under_asan(tmp_path, monkeypatch, patches, wide):
    """wide: the region tables in the wide tinyml_region_t (TINYML_WIDE_REGIONS), as for regions too large for the
    compact one."""
    if wide:
        monkeypatch.setattr("tinyengine_codegen.emit.model.compact_regions", lambda rows: False)
    cases = []
    for seed in range(10):
        rng = np.random.default_rng(1000 * len(patches) + seed)
        graph = random_stack(rng, depth=int(rng.integers(2, 6)))
        xs = rng.integers(-128, 128, (2,) + graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
        cases.append((graph, CompileOptions(patches=patches, max_extra_cycles=10.0), xs))
    outs = _run_all(cases, tmp_path)
    patched = 0
    for k, ((graph, _, xs), got) in enumerate(zip(cases, outs)):
        patched += json.loads((tmp_path / f"m{k}" / "manifest.json").read_text())["patches"] is not None
        np.testing.assert_array_equal(
            got.reshape((len(xs),) + _reference(graph, xs).shape[1:]), _reference(graph, xs), err_msg=graph.name
        )
    assert patched >= 3, f"only {patched} of 10 stacks got a patch stage"
    assert wide == ("#define TINYML_WIDE_REGIONS" in (tmp_path / "m0" / "m0.c").read_text()) or not patched


def test_random_models_planned_bit_exact_under_asan(tmp_path):
    cases = []
    for seed in range(30):
        rng = np.random.default_rng(7000 + seed)
        graph = random_model(rng, name=f"p{seed}")
        graph = dataclasses.replace(graph, outputs=graph.outputs[:1])
        xs = np.stack([random_input(graph, rng)[0] for _ in range(2)])
        options = CompileOptions(patches=("auto", "2", "off")[seed % 3], inplace=seed % 4 != 3, max_extra_cycles=10.0)
        cases.append((graph, options, xs))
    outs = _run_all(cases, tmp_path)
    for (graph, options, xs), got in zip(cases, outs):
        want = _reference(graph, xs)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{graph.name} {options}")


def test_debug_canaries_catch_a_stage_layer_writing_past_the_arena(tmp_path):
    """Canaries are checked after every stage layer of every patch: a stage layer whose region table sends its
    output past the arena end makes tinyml_invoke return -(layer + 1)."""
    graph = random_stack(np.random.default_rng(4), depth=3)
    options = CompileOptions(patches="2", debug_canaries=True, max_extra_cycles=10.0)
    project = write_project(graph, tmp_path / "m", options)
    assert project.manifest["patches"] is not None
    xs = np.random.default_rng(0).integers(-128, 128, (2,) + graph.tensor(graph.inputs[0]).shape, dtype=np.int8)
    got = run_host(build_host(tmp_path / "m", tmp_path / "ok.exe"), xs)
    np.testing.assert_array_equal(got.reshape(_reference(graph, xs).shape), _reference(graph, xs))
    split = project.manifest["patches"]["split"]
    src = (tmp_path / "m" / "tinyml.c").read_text()
    if f"static const tinyml_region_x_t l{split}_" in src:
        # a grid: the split layer's column part of patch column 0, {{ox in0, ox in1, ox out}, {rows}, ...}: the
        # output's first byte inside its row moved to the arena end (patch row 0 starts at output row 0)
        table = src.index(f"static const tinyml_region_x_t l{split}_")
        start = src.index("\n    {{", table) + 1
        row = src[start : src.index("\n", start)]
        head, rest = row.split("}", 1)
        ox = head.replace("{", "").split(",")
        bad = "    {{" + f"{ox[0].strip()},{ox[1]}, {project.arena_bytes}" + "}" + rest
    else:
        table = src.index(f"static const tinyml_region_t l{split}_")
        start = src.index("\n    {{", table) + 1
        row = src[start : src.index("\n", start)]
        fields = row.replace("{", "").replace("}", "").split(",")
        # compact tinyml_region_t: {{in_off0, in_off1}, out_off, {in_row0, in_row1}, out_row, ...}
        fields[2] = f" {project.arena_bytes}"  # out_off: the output region starts at the arena end
        bad = "    {{{{{},{}}},{}, {{{},{}}},{}}},".format(
            fields[0].strip(), fields[1], fields[2], fields[3].strip(), fields[4], ",".join(fields[5:-1])
        )
    (tmp_path / "m" / "tinyml.c").write_text(src[:start] + bad + src[start + len(row) :])
    with pytest.raises(InternalError, match=f"returned {-(split + 1)}"):
        run_host(build_host(tmp_path / "m", tmp_path / "bad.exe"), xs[:1])
