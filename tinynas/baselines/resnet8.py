"""The MLPerf Tiny image-classification ResNet-8 as a step list, so it trains, quantizes and exports through the
same code as the searched networks.

Structure (the MLPerf Tiny IC reference, pretrainedResnet_quant.tflite): conv 3x3 16 + BN + ReLU, then three
residual stages of 16, 32 (stride 2) and 64 (stride 2) channels. Each stage is conv 3x3 + BN + ReLU, conv 3x3 + BN,
a shortcut (the stage input, or a 1x1 conv with bias and no batch norm where the shape changes), ADD + ReLU.
Then average pooling over the whole map, a fully connected layer to the classes and softmax. Convolutions use
TFLite SAME padding (stride 2 pads bottom/right), batch norm is folded at export, ReLU is fused into the producer.
"""

from __future__ import annotations

from tinyengine_codegen.ir.graph import Graph

from ..quantize import QuantConfig, quantize
from ..space import Step
from ..supernet.static import StaticNet

STAGES = ((16, 1), (32, 2), (64, 2))  # (channels, stride of the first conv)
STEM_CHANNELS = 16


def resnet8_steps(resolution: int = 32, in_channels: int = 3, num_classes: int = 10) -> tuple[Step, ...]:
    """ResNet-8's layers in the MLPerf model's execution order (conv1, conv2, shortcut, add per stage)."""
    h = resolution
    steps = [Step("stem", "conv", ("input",), in_channels, STEM_CHANNELS, 3, 1, True, h, h, relu6=False)]
    x, cin = "stem", STEM_CHANNELS
    for i, (c, stride) in enumerate(STAGES, start=1):
        p = f"stage{i}"
        steps.append(Step(f"{p}.conv1", "conv", (x,), cin, c, 3, stride, True, h, h, relu6=False))
        oh = steps[-1].out_hw[0]
        steps.append(Step(f"{p}.conv2", "conv", (f"{p}.conv1",), c, c, 3, 1, False, oh, oh))
        shortcut = x
        if stride != 1 or cin != c:
            steps.append(Step(f"{p}.shortcut", "conv", (x,), cin, c, 1, stride, False, h, h, bn=False))
            shortcut = f"{p}.shortcut"
        steps.append(
            Step(f"{p}.add", "add", (shortcut, f"{p}.conv2"), c, c, act=True, height=oh, width=oh, relu6=False)
        )
        x, cin, h = f"{p}.add", c, oh
    steps.append(Step("pool", "pool", (x,), cin, cin, h, h, False, h, h))
    steps.append(Step("classifier", "fc", ("pool",), cin, num_classes, height=1, width=1))
    return tuple(steps)


def resnet8(resolution: int = 32, in_channels: int = 3, num_classes: int = 10) -> StaticNet:
    """A freshly initialised float ResNet-8 (NCHW input (p - 128) / 128, like every tinynas network)."""
    return StaticNet(resnet8_steps(resolution, in_channels, num_classes))


def quantize_resnet8(net: StaticNet, images, cfg: QuantConfig = QuantConfig(), name: str = "resnet8") -> Graph:
    """int8 graph of a trained ResNet-8, calibrated on uint8 NHWC `images`; ends in SOFTMAX like the MLPerf model."""
    from dataclasses import replace

    return quantize(net, images, replace(cfg, softmax=True), name=name)
