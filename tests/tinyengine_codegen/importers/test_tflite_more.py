"""The unsupported-model message: one line of at most 200 characters naming every unsupported operator with
its count, most frequent first."""

from __future__ import annotations

from tinyengine_codegen.importers.tflite import unsupported_message


def test_message_names_every_unsupported_operator_with_its_count():
    msg = unsupported_message("model", {"CUMSUM": 1, "GATHER_ND": 3})
    assert msg == "'model' uses 2 unsupported operators: GATHER_ND ×3, CUMSUM ×1 (see tinyml inspect --ops)"


def test_long_lists_are_cut_to_200_characters_with_a_count_of_the_rest():
    counts = {f"SOME_RATHER_LONG_OPERATOR_{i}": i for i in range(1, 30)}
    msg = unsupported_message("a_model_with_a_long_name", counts)
    assert len(msg) <= 200 and "\n" not in msg
    assert "29 unsupported operators" in msg and "SOME_RATHER_LONG_OPERATOR_29 ×29" in msg
    shown = msg.count("×")
    assert f"and {29 - shown} more" in msg
