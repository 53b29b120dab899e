"""Shape arithmetic shared by the verifier, the importers, the reference executor and the code generator."""

from __future__ import annotations

from .ops import Padding


def conv_out_pad(in_size: int, kernel: int, stride: int, dilation: int, padding: Padding) -> tuple[int, int]:
    """Output size and padding before (top or left) of a convolution or pool along one axis, as TFLite computes them."""
    eff = (kernel - 1) * dilation + 1
    if padding is Padding.SAME:
        out = (in_size + stride - 1) // stride
    else:
        out = (in_size - eff + stride) // stride
    total = max((out - 1) * stride + eff - in_size, 0)
    return out, total // 2


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
