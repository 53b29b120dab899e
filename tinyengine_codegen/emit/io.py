"""The generated library's I/O description: one record per graph input and output (name, shape, dtype, C type,
bytes, scale, zero point, arena offset), the header macros made from them and manifest.json.

Tensor i of the C API (`NAME_input(i)`, `NAME_output(i)`) is the graph's i-th input (output): the order of the
model file's subgraph, which is the order TFLM's interpreter numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TinyMLError
from ..ir.graph import DTYPE_BYTES, Graph

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}


@dataclass(frozen=True, slots=True)
class IoTensor:
    """One input or output of the generated API; scale and zero point are 0 for tensors without quantization."""

    kind: str  # "INPUT" or "OUTPUT"
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    ctype: str
    bytes: int
    scale: float
    zero_point: int
    offset: int

    def manifest(self) -> dict:
        return dict(
            name=self.name,
            shape=list(self.shape),
            dtype=self.dtype,
            bytes=self.bytes,
            scale=self.scale,
            zero_point=self.zero_point,
        )

    def macros(self, prefix_upper: str) -> list[tuple[str, str]]:
        """(macro name, value) pairs of this tensor in the public header."""
        m = f"{prefix_upper}_{self.kind}{self.index}"
        dims = ", ".join(map(str, self.shape)) or "1"
        return [
            (f"{m}_BYTES", str(self.bytes)),
            (f"{m}_ELEMENTS", str(self.bytes // DTYPE_BYTES[self.dtype])),
            (f"{m}_SCALE", c_float(self.scale)),
            (f"{m}_ZERO_POINT", str(self.zero_point) if self.zero_point >= 0 else f"({self.zero_point})"),
            (f"{m}_RANK", str(len(self.shape))),
            (f"{m}_DIMS", "{" + dims + "}"),
        ]


def c_float(value: float) -> str:
    """A float literal that C and C++ both read back to the same float (9 significant digits)."""
    return f"{value:.9e}f"


def io_tensors(graph: Graph, names: tuple[str, ...], kind: str, offset_of) -> tuple[IoTensor, ...]:
    """The IoTensor records of `names` (graph.inputs or graph.outputs); offset_of(name) gives the arena offset."""
    what = kind.lower()
    if not names:
        raise TinyMLError(f"graph '{graph.name}' has no {what}s; a model needs at least one {what} and one output")
    out = []
    for i, name in enumerate(names):
        t = graph.tensor(name)
        if t.dtype not in C_TYPES:
            raise TinyMLError(
                f"graph '{graph.name}': {what} {i} '{name}' is {t.dtype}; the C API supports "
                f"{', '.join(C_TYPES)} {what}s"
            )
        if t.is_const:
            raise TinyMLError(f"graph '{graph.name}': {what} {i} '{name}' is a constant; re-export the model")
        q = t.quant
        scale = float(q.scale[0]) if q is not None and len(q.scale) == 1 else 0.0
        zp = int(q.zero_point[0]) if q is not None and len(q.zero_point) == 1 else 0
        out.append(IoTensor(kind, i, name, tuple(t.shape), t.dtype, C_TYPES[t.dtype], t.nbytes, scale, zp,
                            offset_of(name)))  # fmt: skip
    return tuple(out)


def check_distinct(graph: Graph, ins: tuple[IoTensor, ...], outs: tuple[IoTensor, ...]) -> None:
    """A tensor that is both a graph input and a graph output would be one arena buffer behind two API slots."""
    both = sorted({t.name for t in ins} & {t.name for t in outs})
    if both:
        raise TinyMLError(
            f"graph '{graph.name}': tensor '{both[0]}' is both an input and an output; the C API needs an operator "
            "between them (re-export the model without the pass-through output)"
        )


def manifest(graph: Graph, prefix: str, arena_bytes: int, ins, outs, extra: dict) -> dict:
    """manifest.json: the facts of the header for tools (each input and output, the arena, the layers)."""
    return dict(
        model=graph.name,
        name=graph.name,
        prefix=prefix,
        arena_bytes=arena_bytes,
        inputs=[t.manifest() for t in ins],
        outputs=[t.manifest() for t in outs],
        **extra,
    )


def header_comment(t: IoTensor) -> str:
    shape = "x".join(map(str, t.shape)) or "scalar"
    name = t.name.replace("*/", "* /")
    q = f", real = {t.scale:.9g} * (q - {t.zero_point})" if t.scale else ""
    return f"{t.kind.lower()} {t.index}: '{name}', {t.dtype} [{shape}], {t.bytes} B{q}"
