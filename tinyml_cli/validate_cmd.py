"""`tinyml validate MODEL --board BOARD`: the model's C on the board, bit for bit against the reference, with
cycles per inference and per layer."""

from __future__ import annotations

from pathlib import Path

import typer


def load_samples(graph, inputs: Path | None, samples: int | None, seed: int) -> list[list]:
    """Samples as lists of arrays, one per model input.

    X.npy (one-input models): N samples stacked on a leading axis (the model's batch axis of 1 replaced by the
    sample axis). X.npz: one such array per model input, keyed by input index ("0", "1", ...; np.savez's "arr_0"
    ...) or by tensor name. Without --inputs: `samples` random inputs over the input type's range."""
    import numpy as np

    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.runner import _NP

    tensors = [graph.tensors[n] for n in graph.inputs]
    if inputs is None:
        rng = np.random.default_rng(seed)
        n = samples or 10
        arrays = []
        for t in tensors:
            dt = np.dtype(_NP[t.dtype])
            if dt.kind == "f":
                arrays.append(rng.standard_normal((n, t.size)).astype(dt))
            else:
                info = np.iinfo(dt)
                arrays.append(rng.integers(info.min, info.max + 1, size=(n, t.size)).astype(dt))
    else:
        arrays = _read_arrays(Path(inputs), graph, tensors)
    counts = {a.shape[0] for a in arrays}
    if len(counts) != 1:
        raise TinyMLError(f"{inputs}: the model inputs hold different sample counts {sorted(counts)}")
    n = counts.pop()
    if samples is not None and inputs is not None:
        n = min(n, samples)
    return [[a[i].reshape(t.shape) for a, t in zip(arrays, tensors)] for i in range(n)]


def _read_arrays(path: Path, graph, tensors) -> list:
    import numpy as np

    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.runner import _NP

    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise TinyMLError(f"cannot read {path}: {err}") from err
    if isinstance(data, np.ndarray):
        if len(tensors) != 1:
            raise TinyMLError(f"{path}: the model has {len(tensors)} inputs; pass an .npz keyed 0..{len(tensors) - 1}")
        found = [data]
    else:
        found = []
        for i, (name, t) in enumerate(zip(graph.inputs, tensors)):
            key = next((k for k in (str(i), f"arr_{i}", name) if k in data.files), None)
            if key is None:
                raise TinyMLError(f"{path}: no array for input {i} ('{t.name}'); keys are {data.files}")
            found.append(data[key])
    out = []
    for arr, t in zip(found, tensors):
        dt = np.dtype(_NP[t.dtype])
        if arr.ndim == 0 or arr.size % t.size or arr.shape[0] != arr.size // t.size:
            raise TinyMLError(
                f"{path}: array of shape {list(arr.shape)} is not N samples of input '{t.name}' {list(t.shape)} "
                f"stacked on a leading axis; use shape (N, {', '.join(map(str, t.shape[1:]))})"
            )
        if arr.dtype != dt and not (arr.dtype.kind in "iu" and dt.kind == "i" and _fits(arr, dt)):
            raise TinyMLError(f"{path}: input '{t.name}' is {t.dtype}; the array is {arr.dtype}")
        out.append(arr.astype(dt).reshape(arr.shape[0], -1))
    return out


def _fits(arr, dt) -> bool:
    import numpy as np

    return bool(arr.size == 0 or (arr.min() >= np.iinfo(dt).min and arr.max() <= np.iinfo(dt).max))


def _save(path: Path, report, graph) -> None:
    import numpy as np

    per_output = [np.stack([s[k] for s in report.outputs]) for k in range(len(graph.outputs))]
    if path.suffix == ".npz":
        np.savez(path, **{str(k): a for k, a in enumerate(per_output)})
    else:
        np.save(path, per_output[0])


def validate(
    model: Path = typer.Argument(..., help="int8 model (.tflite)"),
    board: str = typer.Option(..., "--board", "-b", help="board id (tinyml boards)"),
    port: str = typer.Option(None, "--port", "-p", help="serial port of a real board's console"),
    inputs: Path = typer.Option(None, "--inputs", "-i", help="X.npy (N stacked samples) or X.npz (per input)"),
    samples: int = typer.Option(None, "--samples", "-n", help="number of random samples (default 10)"),
    save_outputs: Path = typer.Option(None, "--save-outputs", help="write the board's outputs (.npy or .npz)"),
    patches: str = typer.Option("auto", "--patches", help="off, auto or N (N x N patches)"),
    seed: int = typer.Option(0, "--seed", help="seed of the random samples"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object for scripts"),
) -> None:
    """Run the model's C on BOARD over its console UART; exit 0 only when every output is bit-exact."""
    from tinyengine_codegen.boards import load_board
    from tinyengine_codegen.errors import TinyMLError
    from tinyengine_codegen.model_io import load_model
    from tinyengine_codegen.options import CompileOptions
    from tinyengine_codegen.run.validate import validate_model

    from .console import err, out, print_json

    if inputs is not None and samples is not None and samples < 1:
        raise TinyMLError(f"--samples {samples}: give at least 1")
    b = load_board(board)
    graph = load_model(model)
    xs = load_samples(graph, inputs, samples, seed)
    if not xs:
        raise TinyMLError(f"{inputs}: holds no samples")
    report = validate_model(graph, b, xs, port=port, options=CompileOptions(target=b, patches=patches))
    if save_outputs is not None:
        _save(Path(save_outputs), report, graph)
    if as_json:
        print_json({**report.to_json(), "model": str(model)})
    else:
        err.print(report.banner.strip())
        for la in report.layers:
            out.print(f"layer {la.index:3d} {la.kernel:40s} {la.cycles:>12,} cycles")
        out.print(
            f"{report.board}: {report.bit_exact_samples}/{report.samples} samples bit-exact over {report.transport} "
            f"({report.port}); {report.cycles:,} cycles per inference ({report.cycle_source}), {report.ms:.3f} ms"
        )
    if report.bit_exact_samples != report.samples:
        raise typer.Exit(1)
