"""quad_share: which quad-core variants a model drops, worked by hand."""

from __future__ import annotations

from tinyengine_codegen.emit.quad_share import QUAD_PASS_CYCLES, SHARE_BUDGET, QuadUse, quad_use, shared_unrolls

F = (True, False, False, False, 1)  # one requantization flavour
G = (True, True, False, False, 1)  # another


def test_a_variant_whose_layers_fit_a_smaller_one_is_dropped_within_the_budget():
    uses = [QuadUse(4, F, 4, 4, 2304), QuadUse(0, F, 1, 7, 100), QuadUse(6, F, 8, 16, 9000)]
    cost = 2304 * (4 - 1) * QUAD_PASS_CYCLES  # layer 4: four passes of one k quad instead of one of four
    assert shared_unrolls(uses, macs=int(cost / SHARE_BUDGET) + 1) == {4: 1}
    assert shared_unrolls(uses, macs=int(cost / SHARE_BUDGET) - 100) == {}  # over the budget: kept
    # the 8 variant's layer 6 onto unroll 4 costs fewer cycles per byte saved: it goes first, and 4 then stays
    cheap = [QuadUse(4, F, 4, 4, 2304), QuadUse(0, F, 1, 7, 100), QuadUse(6, F, 8, 8, 2304)]
    assert shared_unrolls(cheap, macs=10**9) == {6: 4}


def test_no_smaller_divisor_another_flavour_or_a_receiver_keeps_the_variant():
    # unroll 1 of flavour G does not serve flavour F; 7 k quads are not a multiple of 4
    assert shared_unrolls([QuadUse(1, F, 4, 4, 10), QuadUse(2, G, 1, 2, 10)], macs=10**9) == {}
    assert shared_unrolls([QuadUse(1, F, 8, 8, 10), QuadUse(2, F, 4, 12, 10)], macs=10**9) == {1: 4}
    # 8 -> 4 is the cheaper move; the 4 variant then receives layers and stays, even though 1 could serve it
    uses = [QuadUse(1, F, 8, 8, 10), QuadUse(2, F, 4, 4, 1000), QuadUse(3, F, 1, 3, 10)]
    assert shared_unrolls(uses, macs=10**9) == {1: 4}


def test_quad_use_reads_the_template_context():
    q = dict(lo=-128, zp=-128, lo_clip=False, hi_clip=False, ls=1)
    ctx = dict(quads=8, uniform=False, compact=True, q=q, kp=28, unroll=1)
    assert quad_use(0, "conv2d_s8_pair_region", ctx, 99) == QuadUse(0, (True, False, False, False, 1), 1, 7, 400)
    assert quad_use(0, "conv2d_s8_pair_region", dict(ctx, uniform=True), 99) is None  # its own core
    assert quad_use(0, "conv2d_1x1_s8_pair", dict(ctx, ext=False), 99) is None  # the one-pair core
    assert quad_use(0, "fc_s8_pair", ctx, 99) is None
