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
