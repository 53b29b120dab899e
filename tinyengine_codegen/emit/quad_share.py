"""Fewer quad cores per model: a layer may run a smaller unroll of the quad core that other layers already use.

The GEMM-type kernels on the quad core (kernels/cortexm_pair.py, templates/common/cortexm_pair.c.j2) share one
naked assembly function per variant, the variant being the k quads per loop pass (`unroll`, chosen per layer by
quad_unroll) and the requantization flavour. Each variant costs about 110 bytes per k quad of its pass plus about
300 bytes of frame and epilogue; a pass costs its loop test, QUAD_PASS_CYCLES estimated cycles. When the only layers
of a variant could run another variant of the model with fewer k quads per pass (one that divides their k quads),
dropping the variant saves its bytes for their extra loop tests. `shared_unrolls` drops variants, the fewest extra
cycles per byte first, while those extra cycles stay within SHARE_BUDGET of the model's multiply-accumulates (a
variant that receives layers is kept).
"""

from __future__ import annotations

from dataclasses import dataclass

QUAD_KERNELS = frozenset({"conv2d_1x1_s8_pair", "conv2d_s8_pair", "conv2d_s8_pair_stack", "conv2d_s8_pair_region"})
QUAD_PASS_CYCLES = 6  # estimated cycles of one loop test of the quad core's k loop
VARIANT_BYTES, KQUAD_BYTES = 300, 110  # about: a variant's frame and epilogue, each k quad of its pass
SHARE_BUDGET = 0.006  # extra estimated cycles allowed for dropping variants, per multiply-accumulate of the model


@dataclass(frozen=True)
class QuadUse:
    """One layer on the quad core: its variant (flavour, unroll), k quads and the passes' count factor (groups of
    two pixels x four channels that run the k loop)."""

    index: int
    flavour: tuple
    unroll: int
    kq: int
    groups: int


def quad_use(index: int, kernel: str, ctx: dict, pixels: int) -> QuadUse | None:
    """The layer's use of a shared quad core from its template context, or None (another core, or its own)."""
    if kernel not in QUAD_KERNELS or not ctx.get("quads") or ctx.get("uniform") or not ctx.get("ext", True):
        return None
    q = ctx["q"]
    flavour = (bool(ctx.get("compact")), q["lo"] < q["zp"], bool(q["lo_clip"]), bool(q["hi_clip"]), q["ls"])
    kq = int(ctx.get("kp", ctx.get("cin", 0))) // 4
    return QuadUse(index, flavour, int(ctx["unroll"]), kq, (pixels + 1) // 2 * int(ctx["quads"]))


def shared_unrolls(uses: list[QuadUse], macs: int) -> dict[int, int]:
    """Layer index → the smaller unroll it runs instead, for the variants worth dropping (cheapest first)."""
    budget = SHARE_BUDGET * macs
    variants: dict[tuple, list[QuadUse]] = {}
    for u in uses:
        variants.setdefault((u.flavour, u.unroll), []).append(u)
    kept = set(variants)
    receivers: set[tuple] = set()
    plans = []
    for key, layers in variants.items():
        flavour, unroll = key
        moves, cost = {}, 0
        for u in layers:
            smaller = [v for f, v in variants if f == flavour and v < unroll and u.kq % v == 0]
            if not smaller:
                break
            to = max(smaller)
            moves[u.index] = to
            cost += u.groups * (u.kq // to - u.kq // unroll) * QUAD_PASS_CYCLES
        else:
            plans.append((cost, key, moves))
    out: dict[int, int] = {}
    # the fewest extra cycles per byte saved first (a variant's bytes: about VARIANT_BYTES + KQUAD_BYTES per k quad)
    for cost, key, moves in sorted(plans, key=lambda t: t[0] / (VARIANT_BYTES + KQUAD_BYTES * t[1][1])):
        targets = {(key[0], v) for v in moves.values()}
        if cost > budget or key in receivers or not targets <= kept - {key}:
            continue
        budget -= cost
        kept.discard(key)
        receivers |= targets
        out.update(moves)
    return out
