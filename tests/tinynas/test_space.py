import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinynas.space import (
    Arch,
    SearchSpace,
    StageSpec,
    arch_steps,
    cifar_space,
    crossover,
    macs,
    mutate,
    quick_space,
    sample,
)

TINY = SearchSpace(
    1,
    4,
    8,
    1,
    8,
    (StageSpec(16, 2, 2),),
    0,
    kernel_sizes=(3, 5),
    expand_ratios=(2, 3),
    depths=(1, 2),
    widths=(1.0,),
    resolutions=(8,),
)


def test_sample_is_valid_and_seeded():
    sp = cifar_space()
    a = [sample(sp, np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    for arch in [sample(sp, np.random.default_rng(i)) for i in range(50)]:
        sp.validate(arch)
        assert set(arch.kernels) <= set(sp.kernel_sizes) and set(arch.expands) <= set(sp.expand_ratios)
        assert all(d in sp.depths and d <= st.max_depth for d, st in zip(arch.depths, sp.stages))
        assert arch.resolution in sp.resolutions and arch.width in sp.widths


def test_mutate_and_crossover_keep_width_and_mix_parents():
    sp = quick_space()
    rng = np.random.default_rng(0)
    a, b = sample(sp, rng, width=1.0), sample(sp, rng, width=1.0)
    m = mutate(sp, a, rng, prob=1.0)
    assert m.width == a.width and m.resolution == a.resolution and m != a
    assert mutate(sp, a, rng, prob=0.0) == a
    c = crossover(a, b, rng)
    assert all(
        x in (p, q)
        for x, p, q in zip(
            c.kernels + c.expands + c.depths, a.kernels + a.expands + a.depths, b.kernels + b.expands + b.depths
        )
    )


def test_steps_and_macs_by_hand():
    # 8x8x1 input; stem 3x3 1->8 (stride 1); first dw 3x3 on 8; project 8->8; one block: expand 8->16 (e=2),
    # dw 5x5 stride 2 -> 4x4, project 16->16; pool; fc 16->4
    arch = Arch(8, 1.0, (5, 3), (2, 3), (1,))
    steps = arch_steps(arch, TINY)
    assert [s.name for s in steps] == [
        "stem",
        "first.dw",
        "first.project",
        "b0.expand",
        "b0.dw",
        "b0.project",
        "pool",
        "classifier",
    ]
    expected = 64 * 8 * 9 + 64 * 8 * 9 + 64 * 8 * 8 + 64 * 16 * 8 + 16 * 16 * 25 + 16 * 16 * 16 + 16 * 4
    assert macs(arch, TINY) == expected
    deeper = Arch(8, 1.0, (5, 3), (2, 3), (2,))
    names = [s.name for s in arch_steps(deeper, TINY)]
    assert "b1.add" in names and macs(deeper, TINY) > expected  # second block is residual


def test_inactive_slots_do_not_change_the_key():
    a, b = Arch(8, 1.0, (5, 3), (2, 3), (1,)), Arch(8, 1.0, (5, 5), (2, 2), (1,))
    assert a != b and a.key(TINY) == b.key(TINY)


def test_validate_names_the_mismatch():
    with pytest.raises(TinyMLError, match="slots"):
        TINY.validate(Arch(8, 1.0, (3,), (2,), (1,)))
