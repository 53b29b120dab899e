import numpy as np
import pytest
import torch

from tinynas.space import quick_space, sample
from tinynas.supernet.elastic import ElasticDepthwise, same_pad
from tinynas.supernet.mbv2 import Supernet


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    n = Supernet(quick_space(), 1.0)
    with torch.no_grad():  # non-trivial BN statistics and kernel transforms
        for m in n.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for name, p in n.named_parameters():
            if "transforms" in name:
                p.add_(0.05 * torch.randn_like(p))
    return n.eval()


def test_sampled_forward_equals_extracted_network(net):
    rng = np.random.default_rng(0)
    for _ in range(6):
        arch = sample(net.space, rng, width=1.0)
        x = torch.randn(3, 1, arch.resolution, arch.resolution)
        with torch.no_grad():
            want = net(x, arch)
            got = net.extract(arch).eval()(x)
        assert got.shape == (3, 10)
        assert torch.allclose(got, want, atol=1e-5, rtol=0), (arch, (got - want).abs().max())


def test_subnets_share_weights(net):
    sp = net.space
    a = sample(sp, np.random.default_rng(1), width=1.0)
    x = torch.randn(2, 1, a.resolution, a.resolution)
    with torch.no_grad():
        before = net(x, a)
        w = net.layers["b0_expand"].conv.weight
        w[0].mul_(3.0)  # channel 0 is active in every sub-network
        after = net(x, a)
        w[0].div_(3.0)
    assert not torch.allclose(before, after)


def test_small_kernel_is_transformed_centre_crop():
    torch.manual_seed(0)
    dw = ElasticDepthwise(4, (3, 5, 7), 1)
    w3 = dw.active_weight(4, 3)
    assert torch.equal(w3, dw.weight[:, :, 2:5, 2:5])  # identity transforms: plain centre crop
    with torch.no_grad():
        dw.transforms["5to3"].mul_(2.0)
    assert torch.allclose(dw.active_weight(4, 3), 2 * dw.weight[:, :, 2:5, 2:5])
    assert torch.equal(dw.active_weight(2, 7), dw.weight[:2])


def test_same_padding_matches_tflite_rule():
    x = torch.ones(1, 1, 16, 16)
    y = same_pad(x, 3, 2)  # TFLite: out 8, total pad 1, all at the bottom/right
    assert y.shape == (1, 1, 17, 17) and y[0, 0, 0, 0] == 1 and y[0, 0, 16, 16] == 0
    assert same_pad(x, 5, 1).shape == (1, 1, 20, 20)


def test_gradients_reach_only_active_channels(net):
    sp = net.space
    arch = sp.smallest(1.0, 12)
    net.zero_grad()
    net.train()
    net(torch.randn(4, 1, 12, 12), arch).sum().backward()
    net.eval()
    g = net.layers["b0_expand"].conv.weight.grad
    mid = 8 * min(sp.expand_ratios)
    assert g[:mid].abs().sum() > 0 and g[mid:].abs().sum() == 0
