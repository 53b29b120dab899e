"""state: a search's state folder checks its configuration and writes each stage atomically."""

import json

import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinynas.space import quick_space, sample
from tinynas.space_opt import Candidate, SpaceChoice
from tinynas.state import SearchState, arch_from_json, space_choice_from_json, space_choice_to_json


def test_other_configuration_is_refused_naming_the_keys(tmp_path):
    SearchState.open(tmp_path / "st", {"full_epochs": 4, "lr": 0.1, "seed": 0})
    with pytest.raises(TinyMLError) as e:
        SearchState.open(tmp_path / "st", {"full_epochs": 5, "lr": 0.1, "seed": 1})
    msg = str(e.value)
    assert "full_epochs, seed" in msg and "saved 4, now 5" in msg and "\n" not in msg
    again = SearchState.open(tmp_path / "st", {"full_epochs": 4, "lr": 0.1, "seed": 0})
    assert again.run == 2  # the refused open did not count as a run


def test_stages_round_trip_and_the_log_keeps_every_run(tmp_path):
    st = SearchState.open(tmp_path / "st", {"a": (1, 2)})
    assert st.load("space") is None and st.supernet_path == tmp_path / "st" / "supernet.pt"
    st.save("measured", {"draws": [{"accuracy": 0.1 + 0.2}]})
    seen = []
    st.logger(seen.append)({"stage": "train", "epoch": 1})
    assert seen == [{"run": 1, "stage": "train", "epoch": 1}]
    st2 = SearchState.open(tmp_path / "st", {"a": [1, 2]})  # tuples and lists are the same in JSON
    assert st2.load("measured")["draws"][0]["accuracy"] == 0.1 + 0.2
    assert st2.earlier_log == ({"run": 1, "stage": "train", "epoch": 1},) and st2.run == 2
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "st").iterdir())
    with pytest.raises(ValueError):
        st2.save("bogus", {})


def test_a_pt_file_is_an_older_supernet_only_checkpoint(tmp_path):
    st = SearchState.open(tmp_path / "supernet.pt", {"x": 1})
    assert st.folder is None and st.supernet_path == tmp_path / "supernet.pt" and st.finetune_path is None
    st.save("space", {"width": 1.0})  # nothing is kept without a folder
    assert st.load("space") is None and not (tmp_path / "supernet.pt").exists()


def test_arch_and_space_choice_survive_json():
    space = quick_space()
    a = sample(space, np.random.default_rng(3), width=0.75)
    assert arch_from_json(json.loads(json.dumps(a.describe()))) == a
    c = SpaceChoice(0.75, 14, "mean", (Candidate(0.75, 14, 5, np.array([10, 30], dtype=np.int64)),))
    back = space_choice_from_json(json.loads(json.dumps(space_choice_to_json(c))))
    assert (back.width, back.resolution, back.criterion) == (0.75, 14, "mean")
    assert back.candidates[0].fit_ratio == 0.4 and back.candidates[0].fitting_macs.tolist() == [10, 30]


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("state.json", "{not json", "state.json is corrupt"),
        ("state.json", "[1, 2]", "state.json is corrupt"),
        ("space.json", '{"width": 1', "space stage is corrupt"),
    ],
)
def test_a_corrupt_state_file_is_one_clear_error(tmp_path, name, content, words):
    st = SearchState.open(tmp_path / "st", {"a": 1})
    st.save("space", {"width": 1.0})
    (tmp_path / "st" / name).write_text(content)
    with pytest.raises(TinyMLError) as e:
        SearchState.open(tmp_path / "st", {"a": 1}).load("space")
    assert words in str(e.value) and "--checkpoint" in str(e.value) and "\n" not in str(e.value)


def test_a_log_line_cut_short_by_a_kill_is_skipped(tmp_path):
    st = SearchState.open(tmp_path / "st", {"a": 1})
    st.logger(None)({"stage": "train", "epoch": 1})
    with (tmp_path / "st" / "log.jsonl").open("a") as f:
        f.write('{"run": 1, "stage": "tr')
    assert SearchState.open(tmp_path / "st", {"a": 1}).earlier_log == ({"run": 1, "stage": "train", "epoch": 1},)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x80\x02garbage"])
def test_a_corrupt_training_checkpoint_is_one_clear_error(tmp_path, content):
    from tinynas.train.checkpoint import load_checkpoint

    (tmp_path / "supernet.pt").write_bytes(content)
    with pytest.raises(TinyMLError, match="training checkpoint is corrupt"):
        load_checkpoint(tmp_path / "supernet.pt", "cpu")
