"""Shape arithmetic shared by the verifier, the importers, the reference executor and the code generator."""

from __future__ import annotations

from .ops import Padding


def conv_out_pad(
    in_size: int, kernel: int, stride: int, dilation: int, padding: Padding, explicit: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Output size and padding before (top or left) of a convolution or pool along one axis, as TFLite computes them;
    `explicit` (before, after) pads the input by these amounts and then applies VALID (fuse_pad's folded PAD)."""
    eff = (kernel - 1) * dilation + 1
    if explicit is not None:
        return (in_size + explicit[0] + explicit[1] - eff) // stride + 1, explicit[0]
    if padding is Padding.SAME:
        out = (in_size + stride - 1) // stride
    else:
        out = (in_size - eff + stride) // stride
    total = max((out - 1) * stride + eff - in_size, 0)
    return out, total // 2


def explicit_pads(attrs: object, axis: int) -> tuple[int, int] | None:
    """The explicit (before, after) padding of a conv's attrs along axis 1 (rows) or 2 (columns); None if none."""
    pads = getattr(attrs, "pads", None)
    if pads is None:
        return None
    return (pads[0], pads[1]) if axis == 1 else (pads[2], pads[3])


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes; raises ValueError when they do not broadcast."""
    rank = max(len(a), len(b))
    pa, pb = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)
