import numpy as np
import pytest

from tinyengine_codegen.errors import TinyMLError
from tinyml_cli.search_cmd import _numbers, infer_dataset


def test_data_alone_names_the_dataset(tmp_path):
    npz = tmp_path / "c.npz"
    np.savez(npz, a=np.zeros(1))
    assert infer_dataset(npz) == "cifar10"
    (tmp_path / "batches" / "cifar-10-batches-py").mkdir(parents=True)
    assert infer_dataset(tmp_path / "batches") == "cifar10"
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    assert infer_dataset(tmp_path / "imgs") == "folder"
    (tmp_path / "empty").mkdir()
    with pytest.raises(TinyMLError, match="pass --dataset cifar10 or --dataset folder"):
        infer_dataset(tmp_path / "empty")
    with pytest.raises(TinyMLError, match="not CIFAR-10"):
        infer_dataset(tmp_path / "missing.bin")


def test_space_lists():
    assert _numbers("--widths", "1.0, 0.5,0.75", float) == (0.5, 0.75, 1.0)
    assert _numbers("--resolutions", "32,24,32", int) == (24, 32)
    assert _numbers("--widths", None, float) is None
    with pytest.raises(TinyMLError, match="comma-separated numbers"):
        _numbers("--resolutions", "24,big", int)
    with pytest.raises(TinyMLError, match="positive"):
        _numbers("--widths", "0,1", float)
