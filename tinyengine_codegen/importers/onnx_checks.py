"""The graph of an ONNX file before import: one writer per value, a node order without cycles, and external data
resolved relative to the model's folder and confined to it."""

from __future__ import annotations

import heapq
from pathlib import Path

from ..errors import TinyMLError


def check_writers(g, label: str) -> None:
    """Every value has one writer: a graph input, an initializer or one node output; no node reads its output."""
    writer = {vi.name: "a graph input" for vi in g.input}
    for init in g.initializer:  # an initializer may also be listed as a graph input (its default value)
        writer.setdefault(init.name, "an initializer")
    for i, node in enumerate(g.node):
        for out in node.output:
            if not out:
                continue
            if out in node.input:
                raise TinyMLError(
                    f"'{label}': node #{i} '{node.name}' ({node.op_type}) writes its own input '{out}'; "
                    "the graph has a cycle"
                )
            if out in writer:
                raise TinyMLError(
                    f"'{label}': node #{i} '{node.name}' ({node.op_type}) writes '{out}', which is already "
                    f"{writer[out]}; every value has one writer"
                )
            writer[out] = f"written by node #{i} '{node.name}'"


def load_external_data(model, folder: Path | None, label: str) -> None:
    """Read initializers stored in external files, resolved relative to the model's folder and confined to it."""
    from onnx import TensorProto

    for init in model.graph.initializer:
        if init.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in init.external_data}
        where = f"'{label}': initializer '{init.name}' stored in external file '{info.get('location', '')}'"
        if folder is None:
            raise TinyMLError(f"{where}: a model with external data must be given as a file path")
        base = folder.resolve()
        path = (base / info.get("location", "")).resolve()
        if not info.get("location") or base not in path.parents or not path.is_file():
            raise TinyMLError(f"{where}: the file must exist inside the model's folder '{folder}'")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", -1))
        except ValueError:
            raise TinyMLError(f"{where}: offset or length is not a number") from None
        size = path.stat().st_size
        if length < 0:
            length = size - offset
        if offset < 0 or offset + length > size:
            raise TinyMLError(f"{where}: bytes {offset}..{offset + length} lie outside the file ({size} bytes)")
        with path.open("rb") as f:
            f.seek(offset)
            init.raw_data = f.read(length)
        del init.external_data[:]
        init.data_location = TensorProto.DEFAULT


def topological(g, available: set[str], label: str) -> list[tuple[int, object]]:
    """(index, node) in an order where every input is written first; the file order wherever it allows."""
    waiting: dict[str, list[int]] = {}
    missing = []
    for i, node in enumerate(g.node):
        needs = {x for x in node.input if x and x not in available}
        missing.append(len(needs))
        for x in needs:
            waiting.setdefault(x, []).append(i)
    ready = [i for i, m in enumerate(missing) if m == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append((i, g.node[i]))
        for x in g.node[i].output:
            for j in waiting.pop(x, ()):
                missing[j] -= 1
                if missing[j] == 0:
                    heapq.heappush(ready, j)
    if len(order) != len(g.node):
        stuck = next(i for i, m in enumerate(missing) if m)
        raise TinyMLError(
            f"'{label}': node #{stuck} '{g.node[stuck].name}' ({g.node[stuck].op_type}) reads a "
            "tensor that no node writes, or the graph has a cycle; the file is corrupt"
        )
    return order
