import itertools
import socket

import pytest
import torch
import torch.multiprocessing as mp

from tinynas.data import Dataset, load_digits
from tinynas.space import quick_space
from tinynas.supernet.mbv2 import Supernet
from tinynas.train.bn_calib import recalibrate
from tinynas.train.loop import TrainConfig, evaluate, finetune, train_supernet
from tinynas.train.schedule import Phase, progressive_shrinking, restrict

SPACE = quick_space()


def tiny_data(n: int = 96) -> Dataset:
    d = load_digits(12)
    return Dataset("tiny", d.x_train[:n], d.y_train[:n], d.x_test[:64], d.y_test[:64], d.class_names, False)


def phases():
    return (Phase("full", 1, 0.05, (5,), (4,), (3,), 0, False), Phase("kernel", 2, 0.05, (3, 5), (4,), (3,), 1))


def _net():
    torch.manual_seed(0)
    return Supernet(SPACE, 1.0)


def test_schedule_opens_the_space_phase_by_phase():
    ps = progressive_shrinking(SPACE, 3, 2, 0.1, sub_stages=False)
    assert [p.name for p in ps] == ["full", "kernel", "depth", "expand"]
    assert ps[0].subnets_per_step == 0 and ps[0].kernel_sizes == (5,)
    assert ps[-1].expand_ratios == SPACE.expand_ratios and ps[-1].lr < ps[0].lr
    assert restrict(SPACE, ps[1]).expand_ratios == (4,) and restrict(SPACE, ps[1]).kernel_sizes == (3, 5)
    assert [p.name for p in progressive_shrinking(SPACE, 0, 1, 0.1, sub_stages=False)] == ["kernel", "depth", "expand"]


def test_sub_stages_open_one_value_at_a_time():
    """Kernel 5 -> 3 (one step in this space), depth 3 -> 2 -> 1, expand 4 -> 3 -> 2; epochs split per dimension."""
    ps = progressive_shrinking(SPACE, 3, 4, 0.1)
    assert [(p.name, p.epochs) for p in ps] == [
        ("full", 3),
        ("kernel", 4),
        ("depth-2", 2),
        ("depth-1", 2),
        ("expand-3", 2),
        ("expand-2", 2),
    ]
    assert [p.depths for p in ps[2:4]] == [(2, 3), (1, 2, 3)]
    assert [p.expand_ratios for p in ps[4:]] == [(3, 4), (2, 3, 4)]
    assert [p.sort_channels for p in ps] == [False] * 4 + [True, False]
    assert all(p.frozen_teacher and p.distill for p in ps[1:])
    # one epoch per dimension: only the last sub-stage trains, and the channels are sorted there
    short = progressive_shrinking(SPACE, 0, 1, 0.1)
    assert [(p.name, p.sort_channels) for p in short] == [("kernel", False), ("depth-1", False), ("expand-2", True)]


def test_sorting_expanded_channels_keeps_every_network():
    import numpy as np

    from tinynas.space import sample
    from tinynas.train.loop import sort_expanded_channels

    net = _net().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(4, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    largest = SPACE.largest(1.0, 12)
    before = net(x, largest)
    proj = net.layers["b0_project"].conv.weight
    assert not torch.all(proj.abs().sum(dim=(0, 2, 3)).diff() <= 0)  # not sorted yet
    sort_expanded_channels(net)
    assert torch.allclose(net(x, largest), before, atol=1e-5)  # a permutation: the full network is unchanged
    assert torch.all(proj.abs().sum(dim=(0, 2, 3)).diff() <= 0)  # most important channels first
    sub = sample(SPACE, np.random.default_rng(0), 1.0, 12)
    assert net(x, sub).shape == before.shape


def test_warmup_then_cosine():
    from tinynas.train.loop import lr_at

    rates = [lr_at(1.0, s, 100, 10) for s in range(100)]
    assert rates[0] == 0.1 and rates[9] == 1.0 and rates[10] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(rates[10:])) and rates[-1] < 0.01
    assert lr_at(0.5, 0, 10, 0) == 0.5


def test_frozen_teacher_step_learns_from_labels_and_teacher():
    import copy

    import numpy as np

    from tinynas.train.loop import _step

    phase = Phase("kernel", 1, 0.05, (3, 5), (4,), (3,), 1, True, True)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 1, 12, 12, generator=g), torch.randint(0, 10, (6,), generator=g)
    net = _net()
    teacher = copy.deepcopy(net).eval()
    with pytest.raises(ValueError, match="frozen teacher"):
        _step(net, phase, x, y, np.random.default_rng(0), TrainConfig(12), False)
    loss = _step(net, phase, x, y, np.random.default_rng(0), TrainConfig(12), False, teacher)
    assert float(loss) > 0 and all(p.grad is None for p in teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_training_learns():
    data, net = tiny_data(), _net()
    cfg = TrainConfig(12, batch_size=32, augment_pad=0)
    big = SPACE.largest(1.0, 12)
    before = evaluate(lambda x: net.eval()(x, big), data.x_train, data.y_train)
    hist = train_supernet(net, data, (Phase("full", 6, 0.1, (5,), (4,), (3,), 0, False),), cfg)
    after = evaluate(recalibrate(net.extract(big), data.x_train), data.x_train, data.y_train)
    assert len(hist) == 6 and hist[-1]["loss"] < hist[0]["loss"]
    assert after > max(before, 0.5)


def test_resume_mid_phase_gives_the_same_weights(tmp_path):
    data = tiny_data()
    straight = _net()
    train_supernet(straight, data, phases(), TrainConfig(12, batch_size=32))
    ck = tmp_path / "ck.pt"
    first = _net()
    # interrupt after the first epoch of the "kernel" phase: train that far, then resume in a fresh net
    partial = (phases()[0], Phase("kernel", 2, 0.05, (3, 5), (4,), (3,), 1))
    state = {}

    class Stop(Exception):
        pass

    def stop(rec):
        if rec["phase"] == "kernel" and rec["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        train_supernet(first, data, partial, TrainConfig(12, batch_size=32, checkpoint=ck), progress=stop)
    resumed = _net()
    hist = train_supernet(
        resumed,
        data,
        phases(),
        TrainConfig(12, batch_size=32, checkpoint=ck),
        progress=lambda r: state.setdefault("seen", []).append((r["phase"], r["epoch"])),
    )
    assert state["seen"] == [("kernel", 2)] and len(hist) == 1
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_finetune_static_network():
    data, net = tiny_data(), _net()
    sub = net.extract(SPACE.smallest(1.0, 12))
    before = evaluate(sub.eval(), data.x_train, data.y_train)
    finetune(sub, data, TrainConfig(12, batch_size=32, augment_pad=0), epochs=6, lr=0.1)
    assert evaluate(sub, data.x_train, data.y_train) > max(before, 0.4)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    net = _net()
    train_supernet(net, tiny_data(64), phases()[:2], TrainConfig(12, batch_size=16))
    torch.save(net.state_dict(), f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_stay_in_sync(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a if "running" not in k and "num_batches" not in k)
    assert any(not torch.equal(a[k], b[k]) for k in a if "running_mean" in k)  # each rank saw its own shard


def test_a_step_has_the_gradients_of_one_backward_per_network():
    """_step shares kernel transforms and runs one backward; the sum of per-network backwards is the reference."""
    import numpy as np
    import torch.nn.functional as F

    from tinynas.space import sample
    from tinynas.train.loop import _step

    phase = Phase("expand", 1, 0.05, (3, 5), (2, 3, 4), (1, 2, 3), 2)  # in-place distillation
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 1, 12, 12, generator=g), torch.randint(0, 10, (6,), generator=g)
    cfg = TrainConfig(12, batch_size=6)
    fast, ref = _net(), _net()
    with torch.no_grad():  # non-identity transforms, so the 5 -> 3 path matters
        for (name, p), q in zip(fast.named_parameters(), ref.parameters()):
            if "transforms" in name:
                noise = 0.1 * torch.randn(p.shape, generator=g)
                p.add_(noise), q.add_(noise)
    loss = _step(fast, phase, x, y, np.random.default_rng(5), cfg, False)

    space, rng = restrict(SPACE, phase), np.random.default_rng(5)
    archs = [sample(space, rng, width=1.0, resolution=12) for _ in range(2)]
    logits = ref(x, space.largest(1.0, 12))
    first = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    first.backward()
    soft, total = logits.detach().softmax(1), first.detach()
    for arch in archs:
        sub = -(soft * ref(x, arch).log_softmax(1)).sum(1).mean()
        sub.backward()
        total = total + sub.detach()
    assert torch.allclose(loss, total / 3, rtol=1e-6, atol=0)
    for (k, p), q in zip(fast.named_parameters(), ref.parameters()):
        assert (p.grad is None) == (q.grad is None), k
        assert p.grad is None or torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6), k
    grads = [p.grad for n, p in fast.named_parameters() if "transforms" in n and p.grad is not None]
    assert grads and all(gr.abs().sum() > 0 for gr in grads)  # 3x3 kernels were trained through the cache
