"""Image classification datasets as uint8 NHWC arrays, and the tensors the networks take.

Sources: the embedded default (scikit-learn's bundled 8x8 digits, resized), CIFAR-10 python batches
(data_batch_1..5 and test_batch), the CIFAR-10 JPEG npz copy (decoded once, cached as uint8), and image folders
(train/<class>/*, test/<class>/*, or one folder of class subfolders split deterministically).
A pixel p becomes the network input (p - 128) / 128, so the int8 model input is exactly p - 128.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tinyengine_codegen.errors import TinyMLError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "tinynas"
INPUT_SCALE, INPUT_ZERO_POINT = 1.0 / 128.0, 0  # int8 input quantization: q = p - 128


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    x_train: np.ndarray  # uint8 (N, H, W, C)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    flip: bool = True  # horizontal flips are a valid augmentation

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_validation(self, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
        """(train minus a held-out part, a dataset whose test set is that held-out part)."""
        idx = np.random.default_rng(seed).permutation(len(self.y_train))
        n_val = max(1, int(round(fraction * len(idx))))
        val, tr = idx[:n_val], idx[n_val:]
        keep = Dataset(
            self.name, self.x_train[tr], self.y_train[tr], self.x_test, self.y_test, self.class_names, self.flip
        )
        held = Dataset(
            self.name + "-val",
            self.x_train[tr],
            self.y_train[tr],
            self.x_train[val],
            self.y_train[val],
            self.class_names,
            self.flip,
        )
        return keep, held


def load_digits(size: int = 16, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's bundled 1797 8x8 grey digits, scaled to 0..255, resized to size x size, split 80/20."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = np.clip(np.asarray(d.images) * (255.0 / 16.0), 0, 255).round().astype(np.uint8)[..., None]
    x = resize_uint8(x, size)
    y = np.asarray(d.target, dtype=np.int64)
    idx = np.random.default_rng(0).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = idx[:n_test], idx[n_test:]
    return Dataset("digits", x[tr], y[tr], x[te], y[te], tuple(str(i) for i in range(10)), flip=False)


def load_cifar10_batches(folder: Path) -> Dataset:
    """The official CIFAR-10 python version: data_batch_1..5 and test_batch pickles (batches.meta optional)."""
    folder = Path(folder)
    names = [f"data_batch_{i}" for i in range(1, 6)]
    xs, ys = [], []
    for n in names + ["test_batch"]:
        p = folder / n
        if not p.is_file():
            raise TinyMLError(f"CIFAR-10 batch '{p}' is missing; the folder needs data_batch_1..5 and test_batch")
        try:
            with open(p, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            y = np.asarray(d[b"labels"], dtype=np.int64)
        except Exception as exc:
            raise TinyMLError(f"CIFAR-10 batch '{p}' is not a valid python batch ({exc}); re-download it") from None
        xs.append(x)
        ys.append(y)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    return _checked("cifar10", np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5], classes, True)


def load_cifar10_npz(path: Path, cache_dir: Path = DEFAULT_CACHE) -> Dataset:
    """CIFAR-10 stored as JPEG bytes with offsets (train_jpeg/train_offsets/test_jpeg/test_offsets/y_*)."""
    path = Path(path)
    if not path.is_file():
        raise TinyMLError(f"CIFAR-10 npz '{path}' does not exist; pass --data with the cifar10_jpeg.npz file")
    h = hashlib.sha256(f"{path.resolve()}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode()).hexdigest()
    cached = Path(cache_dir) / f"cifar10_{h[:16]}.npz"
    try:
        d = np.load(path)
        classes = tuple(str(c) for c in d["class_names"])
        if cached.is_file():
            c = np.load(cached)
            x_tr, x_te = c["x_train"], c["x_test"]
        else:
            x_tr, x_te = (
                _decode_jpegs(d["train_jpeg"], d["train_offsets"]),
                _decode_jpegs(d["test_jpeg"], d["test_offsets"]),
            )
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, x_train=x_tr, x_test=x_te)
            tmp.replace(cached)
        y_tr, y_te = d["y_train"].astype(np.int64), d["y_test"].astype(np.int64)
    except (KeyError, ValueError, OSError) as exc:
        raise TinyMLError(
            f"CIFAR-10 npz '{path}' is malformed ({exc}); expected train_jpeg, train_offsets, "
            "test_jpeg, test_offsets, y_train, y_test, class_names"
        ) from None
    return _checked("cifar10", x_tr, y_tr, x_te, y_te, classes, True)


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Decode on one thread per core (the JPEG decoder releases the GIL); the result does not depend on it."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    def one(i: int) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]].tobytes())).convert("RGB"))

    workers = max(1, min(16, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        return np.stack(list(pool.map(one, range(len(offsets) - 1), chunksize=256)))


def load_image_folder(folder: Path, size: int | None = None, channels: int = 3, test_fraction: float = 0.2) -> Dataset:
    """train/<class>/* and test/<class>/*, or <class>/* split deterministically into train and test."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TinyMLError(f"data folder '{folder}' does not exist")
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        classes = _class_dirs(folder / "train")
        x_tr, y_tr = _read_images(folder / "train", classes, size, channels)
        x_te, y_te = _read_images(folder / "test", classes, size, channels)
    else:
        classes = _class_dirs(folder)
        x, y = _read_images(folder, classes, size, channels)
        idx = np.random.default_rng(0).permutation(len(y))
        n_test = max(1, int(round(test_fraction * len(y))))
        x_tr, y_tr, x_te, y_te = x[idx[n_test:]], y[idx[n_test:]], x[idx[:n_test]], y[idx[:n_test]]
    return _checked(folder.name, x_tr, y_tr, x_te, y_te, classes, True)


def _class_dirs(folder: Path) -> tuple[str, ...]:
    classes = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))
    if len(classes) < 2:
        raise TinyMLError(f"image folder '{folder}' has {len(classes)} class subfolders; at least 2 are needed")
    return classes


def _read_images(folder: Path, classes: tuple[str, ...], size: int | None, channels: int):
    from PIL import Image, UnidentifiedImageError

    xs, ys = [], []
    for label, c in enumerate(classes):
        files = (
            sorted(p for p in (folder / c).glob("*") if p.suffix.lower() in IMAGE_EXTS) if (folder / c).is_dir() else []
        )
        if not files:
            raise TinyMLError(f"class folder '{folder / c}' has no images ({', '.join(sorted(IMAGE_EXTS))})")
        for p in files:
            im = _open_image(p, Image, UnidentifiedImageError).convert("RGB" if channels == 3 else "L")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
            xs.append(a if a.ndim == 3 else a[..., None])
            ys.append(label)
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise TinyMLError(f"images under '{folder}' have different sizes {sorted(shapes)[:3]}; pass a size to resize")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


MAX_IMAGE_PIXELS = 4096 * 4096  # a larger image is refused before it is decoded (decompression bombs)


def _open_image(p: Path, Image, UnidentifiedImageError):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(p)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TinyMLError(f"image '{p}' cannot be read, or is larger than the decoder allows; remove it") from None
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:
        raise TinyMLError(
            f"image '{p}' is {w}x{h} pixels, above the limit of {MAX_IMAGE_PIXELS:,}; resize or remove it"
        )
    return im


def _checked(name, x_tr, y_tr, x_te, y_te, classes, flip) -> Dataset:
    for part, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        if x.ndim != 4 or x.dtype != np.uint8 or len(x) != len(y) or len(x) == 0:
            raise TinyMLError(f"dataset '{name}': {part} split has images {x.shape} {x.dtype} and {len(y)} labels")
        if y.min() < 0 or y.max() >= len(classes):
            raise TinyMLError(f"dataset '{name}': {part} labels outside 0..{len(classes) - 1}")
    return Dataset(name, x_tr, y_tr, x_te, y_te, tuple(classes), flip)


def load_dataset(name: str, data: Path | None = None, size: int | None = None) -> Dataset:
    """By name: 'digits' (embedded), 'cifar10' (batches folder or npz file), 'folder' (image folder)."""
    if name == "digits":
        return load_digits(size or 16)
    if data is None:
        raise TinyMLError(f"dataset '{name}' needs a data path; pass --data DIR")
    data = Path(data)
    if name == "cifar10":
        if data.is_file() and data.suffix == ".npz":
            return load_cifar10_npz(data)
        if data.is_dir() and (data / "data_batch_1").exists():
            return load_cifar10_batches(data)
        if data.is_dir() and (data / "cifar-10-batches-py").is_dir():
            return load_cifar10_batches(data / "cifar-10-batches-py")
        if data.is_dir() and (data / "train").is_dir():
            return load_image_folder(data, size)
        raise TinyMLError(f"'{data}' is not CIFAR-10 data: expected python batches, an npz or train/ test/ folders")
    if name == "folder":
        return load_image_folder(data, size)
    raise TinyMLError(f"unknown dataset '{name}'; use digits, cifar10 or folder")


# ---------------------------------------------------------------------------------------------- tensors


def resize_uint8(x: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of uint8 NHWC images to size x size (identity when already that size)."""
    if x.shape[1] == size and x.shape[2] == size:
        return x
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float()
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[1])
    return t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def to_input(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NHWC images -> float NCHW network input (p - 128) / 128."""
    t = torch.as_tensor(x)
    return (t.permute(0, 3, 1, 2).float() - 128.0) * INPUT_SCALE


def to_int8_input(x: np.ndarray) -> np.ndarray:
    """uint8 NHWC images -> the int8 model input (p - 128)."""
    return (x.astype(np.int16) - 128).astype(np.int8)


def augment(x: torch.Tensor, gen: torch.Generator, pad: int, flip: bool) -> torch.Tensor:
    """Random crop after black padding by `pad` pixels, and random horizontal flips, on a float NCHW batch.

    The random numbers come from `gen` and are drawn on the generator's device: a generator on x's device (a CUDA
    generator for a CUDA batch) means no copy and no host synchronisation per step. The crop and flip run on x's
    device as whole-batch gathers."""
    n, c, h, w = x.shape
    dev, gdev = x.device, gen.device
    if pad:
        xp = F.pad(x, (pad, pad, pad, pad), value=-1.0)  # black, like padding the raw pixels
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=gdev).to(dev, non_blocking=True)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=gdev).to(dev, non_blocking=True)
        rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])[:, None, :, None].expand(n, c, h, w + 2 * pad)
        xp = torch.gather(xp, 2, rows)
        cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])[:, None, None, :].expand(n, c, h, w)
        x = torch.gather(xp, 3, cols)
    if flip:
        m = (torch.rand(n, generator=gen, device=gdev) < 0.5).to(dev, non_blocking=True)
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x
