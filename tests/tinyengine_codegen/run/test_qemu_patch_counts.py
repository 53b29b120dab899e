"""Per-layer instruction counts of a patch stage: a stage layer is bracketed once per patch, its counts add up."""

import pytest

from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run.qemu import parse_counts


def test_stage_layers_accumulate_over_patches():
    # cost 9; two patches of layers 0 and 1, then layer 2 once
    marks = [
        (0, 100),
        (1, 109),
        (2, 500),
        (4, 510),
        (5, 529),
        (6, 530),
        (7, 549),  # patch 0: layer 0 = 10, layer 1 = 10
        (4, 550),
        (5, 579),
        (6, 580),
        (7, 589),  # patch 1: layer 0 = 20, layer 1 = 0
        (8, 600),
        (9, 619),
        (3, 700),
    ]  # layer 2 = 10
    text = "".join(f"mark {i} {c}\n" for i, c in marks)
    assert parse_counts(text) == (200 - 11 * 9, (30, 10, 10))


def test_a_layer_seen_before_its_predecessor_is_refused():
    text = "mark 0 1\nmark 1 9\nmark 2 20\nmark 4 30\nmark 5 40\nmark 8 41\nmark 9 50\nmark 3 60\n"
    with pytest.raises(TinyMLError, match="out of order at layer 1"):
        parse_counts(text)
