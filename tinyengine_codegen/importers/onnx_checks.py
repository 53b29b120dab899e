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


# op type: (fewest inputs, most inputs); "" inputs (absent optional operands) count
_ARITY = {
    "Conv": (2, 3), "Gemm": (2, 3), "MatMul": (2, 2), "Add": (2, 2), "Mul": (2, 2), "AveragePool": (1, 1),
    "MaxPool": (1, 1), "GlobalAveragePool": (1, 1), "ReduceMean": (1, 2), "Reshape": (2, 2), "Flatten": (1, 1),
    "Squeeze": (1, 2), "Unsqueeze": (1, 2), "Softmax": (1, 1), "Sigmoid": (1, 1), "HardSwish": (1, 1),
    "Relu": (1, 1), "Clip": (1, 3), "Pad": (1, 4), "Concat": (1, 1 << 16), "Transpose": (1, 1), "Slice": (1, 5),
    "Resize": (1, 4), "QuantizeLinear": (2, 3), "DequantizeLinear": (2, 3), "Identity": (1, 1), "Shape": (1, 1),
    "Constant": (0, 0), "QLinearConv": (8, 9), "QLinearMatMul": (8, 8), "QGemm": (8, 9), "QLinearAdd": (8, 8),
    "QLinearMul": (8, 8), "QLinearAveragePool": (5, 5), "QLinearGlobalAveragePool": (5, 5),
    "QLinearReduceMean": (5, 5), "QLinearSigmoid": (5, 5), "QLinearSoftmax": (5, 5), "QLinearConcat": (5, 1 << 16),
}  # fmt: skip
_INT_LISTS = {"strides", "pads", "kernel_shape", "dilations", "perm", "axes", "output_padding"}
_INTS = {"group", "axis", "transA", "transB", "keepdims", "ceil_mode", "count_include_pad", "storage_order",
         "channels_last", "block_size", "output_dtype", "saturate", "noop_with_empty_axes", "opset"}  # fmt: skip


def node_problem(node) -> str | None:
    """What makes this node unreadable (operand count, attribute types), or None."""
    from onnx import AttributeProto

    lo, hi = _ARITY.get(node.op_type, (0, 1 << 16))
    if not lo <= len(node.input) <= hi or (lo and not node.input[0]):
        count = f"{lo}" if lo == hi else f"{lo} to {hi}"
        return f"has {len(node.input)} inputs; {node.op_type} takes {count}"
    if not node.output or not node.output[0]:
        return "has no output"
    for a in node.attribute:
        if a.name in _INT_LISTS and a.type != AttributeProto.INTS:
            return f"attribute '{a.name}' must be a list of integers"
        if a.name in _INTS and a.type != AttributeProto.INT:
            return f"attribute '{a.name}' must be an integer"
    return None
