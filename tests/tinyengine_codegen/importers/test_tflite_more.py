"""The unsupported-model message: one line of at most 200 characters naming every unsupported operator with
its count, most frequent first, and its details (every layer, what to use instead)."""

from __future__ import annotations

from tinyengine_codegen.importers.tflite import unsupported_message
from tinyengine_codegen.importers.unsupported import unsupported_details


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


def test_details_list_every_layer_of_each_unsupported_operator_and_what_instead():
    layers = [(i, "GATHER", [f"g{i}"]) for i in range(10)] + [(12, "CUSTOM:Foo", ["c"]), (11, "LSTM", ["a", "b"])]
    lines = unsupported_details(layers)
    assert len(lines) == 3 and lines[0].startswith("GATHER \u00d710: operators #0 -> 'g0', #1 -> 'g1'")
    assert "#7 -> 'g7' and 2 more; instead: STRIDED_SLICE" in lines[0]
    assert lines[1].startswith("CUSTOM:Foo \u00d71: operators #12 -> 'c'; instead: custom operators cannot run")
    assert lines[2] == (
        "LSTM \u00d71: operators #11 -> 'a', 'b'; instead: convert the Keras LSTM layer with a recent TensorFlow: "
        "it becomes UNIDIRECTIONAL_SEQUENCE_LSTM"
    )
