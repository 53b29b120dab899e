import numpy as np
import torch

from tinynas.data import to_input
from tinynas.space import quick_space
from tinynas.supernet.mbv2 import Supernet
from tinynas.train.bn_calib import calibration_images, recalibrate


def test_recalibration_gives_exact_batch_statistics():
    torch.manual_seed(0)
    images = np.random.default_rng(0).integers(0, 256, (40, 12, 12, 1), dtype=np.uint8)
    sp = quick_space()
    arch = sp.smallest(1.0, 12)
    net = Supernet(sp, 1.0)
    sub = recalibrate(net.extract(arch), images, batch_size=40)  # one batch: stats are that batch's
    assert not sub.training
    seen = {}
    sub.train()
    sub.layer("stem").bn.register_forward_hook(lambda m, i, o: seen.setdefault("x", i[0].detach()))
    with torch.no_grad():
        sub(to_input(images))
    x = seen["x"]
    bn = sub.layer("stem").bn
    assert torch.allclose(bn.running_mean, x.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, x.var((0, 2, 3), unbiased=True), atol=1e-4)


def test_recalibrating_the_supernet_touches_only_active_channels():
    torch.manual_seed(0)
    images = np.random.default_rng(1).integers(0, 256, (16, 12, 12, 1), dtype=np.uint8)
    sp = quick_space()
    net = Supernet(sp, 1.0)
    arch = sp.smallest(1.0, 12)
    recalibrate(net, images, forward=lambda n, x: n(x, arch))
    bn = net.layers["b0_expand"].bn.bn
    mid = 8 * min(sp.expand_ratios)
    assert bn.running_var[:mid].ne(1).all() and bn.running_var[mid:].eq(1).all()


def test_calibration_images_are_a_deterministic_resized_subset():
    imgs = np.random.default_rng(0).integers(0, 256, (50, 16, 16, 1), dtype=np.uint8)
    a, b = calibration_images(imgs, 12, 10, seed=3), calibration_images(imgs, 12, 10, seed=3)
    assert a.shape == (10, 12, 12, 1) and np.array_equal(a, b)
