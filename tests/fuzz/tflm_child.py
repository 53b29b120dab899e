"""Run one .tflite file in TFLM in its own process (a malformed model may crash the interpreter).

usage: python -m tests.fuzz.tflm_child MODEL SEED OUT_DIR
Writes OUT_DIR/x.npy (a random input) and OUT_DIR/y.npy (TFLM's first output) and exits 0 when TFLM runs the
model and gives the same output twice; any other exit means TFLM does not define an output for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main() -> int:
    from tflite_micro.python.tflite_micro import runtime

    model, seed, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    outputs = []
    for _ in range(2):
        it = runtime.Interpreter.from_file(str(model))
        d = it.get_input_details(0)
        dtype, shape = np.dtype(d["dtype"]), [int(v) for v in d["shape"]]
        rng = np.random.default_rng(seed)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            x = rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)
        else:
            x = rng.standard_normal(shape).astype(dtype)
        it.set_input(x, 0)
        it.invoke()
        outputs.append(it.get_output(0).copy())
    if outputs[0].shape != outputs[1].shape or not np.array_equal(outputs[0], outputs[1]):
        return 5  # not deterministic: TFLM reads memory the model never wrote
    np.save(out / "x.npy", x)
    np.save(out / "y.npy", outputs[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
