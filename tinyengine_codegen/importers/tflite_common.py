"""What every TFLite operator converter shares: the converter error and the fused-activation field."""

from __future__ import annotations

from ..ir.ops import Activation


class ModelError(Exception):
    """Raised by a converter; the importer adds the operator index and name."""


_ACT = {0: Activation.NONE, 1: Activation.RELU, 2: Activation.RELU_N1_TO_1, 3: Activation.RELU6}


def fused_activation(opts) -> Activation:
    code = int(getattr(opts, "fusedActivationFunction", 0) or 0)
    if code not in _ACT:
        raise ModelError(
            f"fused activation {code} (TANH/SIGN_BIT) is not supported; only NONE, RELU, RELU6, RELU_N1_TO_1"
        )
    return _ACT[code]
