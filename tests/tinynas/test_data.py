import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from tinyengine_codegen.errors import TinyMLError
from tinynas.data import (
    augment,
    load_cifar10_batches,
    load_cifar10_npz,
    load_dataset,
    load_digits,
    load_image_folder,
    resize_uint8,
    to_input,
    to_int8_input,
)


def _write_folder(root, split, classes, n, size=(6, 6)):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / split / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(root / split / c / f"{i}.png")


def test_digits_is_deterministic_and_resized():
    a, b = load_digits(16), load_digits(16)
    assert a.x_train.shape == (1438, 16, 16, 1) and a.x_test.shape == (359, 16, 16, 1)
    assert np.array_equal(a.y_test, b.y_test) and a.x_train.dtype == np.uint8 and not a.flip
    assert a.x_train.max() == 255 and set(np.unique(a.y_train)) == set(range(10))


def test_image_folder_with_train_and_test(tmp_path):
    _write_folder(tmp_path, "train", ["cat", "dog"], 3)
    _write_folder(tmp_path, "test", ["cat", "dog"], 2)
    d = load_image_folder(tmp_path)
    assert d.x_train.shape == (6, 6, 6, 3) and d.x_test.shape == (4, 6, 6, 3)
    assert d.class_names == ("cat", "dog") and list(d.y_test) == [0, 0, 1, 1]
    back = np.asarray(Image.open(tmp_path / "train" / "dog" / "0.png"))
    assert np.array_equal(d.x_train[3], back)


def test_class_folder_split_and_resize(tmp_path):
    _write_folder(tmp_path, "all", ["a", "b", "c"], 5, size=(9, 7))
    d = load_image_folder(tmp_path / "all", size=8)
    assert len(d.y_train) + len(d.y_test) == 15 and len(d.y_test) == 3 and d.x_train.shape[1:] == (8, 8, 3)


def test_folder_errors(tmp_path):
    with pytest.raises(TinyMLError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(TinyMLError, match="at least 2"):
        load_image_folder(tmp_path / "one")
    _write_folder(tmp_path, "bad", ["a", "b"], 1)
    (tmp_path / "bad" / "a" / "x.png").write_bytes(b"not a png")
    with pytest.raises(TinyMLError, match="x.png"):
        load_image_folder(tmp_path / "bad")


def test_cifar_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 255, (4, 3072), dtype=np.uint8)
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [0, 1, 2, 9]}, f)
    d = load_dataset("cifar10", tmp_path)
    assert d.x_train.shape == (20, 32, 32, 3) and d.x_test.shape == (4, 32, 32, 3)
    with open(tmp_path / "test_batch", "rb") as f:
        raw = pickle.load(f)[b"data"][0]
    assert d.x_test[0, 0, 1, 2] == raw[2 * 1024 + 1]  # channel-major rows to NHWC
    (tmp_path / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(TinyMLError, match="data_batch_3"):
        load_cifar10_batches(tmp_path)


def test_cifar_npz_is_decoded_and_cached(tmp_path):
    import io

    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    off = np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
    np.savez(
        tmp_path / "c.npz",
        train_jpeg=np.concatenate(blobs),
        train_offsets=off,
        test_jpeg=np.concatenate(blobs[:1]),
        test_offsets=off[:2],
        y_train=np.array([1, 2, 3], np.uint8),
        y_test=np.array([4], np.uint8),
        class_names=np.array([str(i) for i in range(10)]),
    )
    d = load_cifar10_npz(tmp_path / "c.npz", cache_dir=tmp_path / "cache")
    assert d.x_train.shape == (3, 32, 32, 3) and list(d.y_train) == [1, 2, 3]
    assert np.array_equal(d.x_test[0], d.x_train[0])
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = load_cifar10_npz(tmp_path / "c.npz", cache_dir=tmp_path / "cache")
    assert np.array_equal(again.x_train, d.x_train)
    with pytest.raises(TinyMLError, match="does not exist"):
        load_cifar10_npz(tmp_path / "missing.npz")


def test_input_mapping_and_augment():
    x = np.array([[[[0], [128]], [[255], [64]]]], dtype=np.uint8)
    assert to_input(x).tolist() == [[[[-1.0, 0.0], [127 / 128, -0.5]]]]
    assert to_int8_input(x).ravel().tolist() == [-128, 0, 127, -64]
    assert resize_uint8(x, 2) is x and resize_uint8(np.zeros((1, 4, 4, 1), np.uint8), 2).shape == (1, 2, 2, 1)
    t = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    same = augment(t, torch.Generator().manual_seed(0), 0, False)
    assert torch.equal(same, t)
    moved = augment(t, torch.Generator().manual_seed(0), 1, True)
    assert moved.shape == t.shape and not torch.equal(moved, t)
    assert set(moved.unique().tolist()) <= set(t.unique().tolist()) | {-1.0}
