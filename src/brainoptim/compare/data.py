"""Data sets for the comparison: scikit-learn's digits, the tutorial's synthetic
shapes, or a user's ``.npz`` file.

Every source yields a :class:`Dataset` with fixed train, validation and test splits
drawn from one seed. Inputs are float32 with a sample axis first, labels are int32
class indices in ``[0, n_classes)``.

Each model reads the data in the layout it needs (see :func:`as_model_input`): the
MLP a flat vector, the CNN an ``(H, W, C)`` image, the Transformer and the recurrent
model a sequence of rows ``(T, F)``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

import numpy as np

__all__ = [
    "Dataset",
    "SYNTHETIC_SHAPES",
    "load_data",
    "load_digits",
    "load_npz",
    "make_synthetic",
    "as_model_input",
    "split_indices",
]

Kind = Literal["cnn", "transformer", "rnn", "mlp"]

# Input shape (without the sample axis) the tutorial feeds each model.
SYNTHETIC_SHAPES: dict[str, tuple[int, ...]] = {
    "cnn": (32, 32, 3),
    "transformer": (64, 512),
    "rnn": (20, 10),
    "mlp": (32, 32, 3),
}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of one classification data set.

    Attributes:
        name: where the data came from (``digits``, ``synthetic`` or a file path).
        x_train, y_train, x_val, y_val, x_test, y_test: the splits; ``x`` arrays are
            float32 with the sample axis first, ``y`` arrays int32.
        n_classes: the number of classes, ``max(y) + 1`` over all splits.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input sample."""
        return tuple(self.x_train.shape[1:])

    def summary(self) -> dict:
        """Sizes and shapes as plain Python values, for ``results.json``."""
        return {
            "name": self.name,
            "sample_shape": list(self.sample_shape),
            "n_classes": self.n_classes,
            "n_train": int(len(self.y_train)),
            "n_val": int(len(self.y_val)),
            "n_test": int(len(self.y_test)),
        }


def split_indices(
    n: int, seed: int, fractions: tuple[float, float] = (0.6, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffles ``range(n)`` with ``seed`` and cuts it into train, val and test.

    Args:
        n: the number of samples, at least 3.
        seed: the seed of the permutation.
        fractions: the train and validation fractions; the test set gets the rest.

    Returns:
        Three sorted index arrays that partition ``range(n)``, none of them empty.
    """
    if n < 3:
        raise ValueError(f"a data set needs at least 3 samples to split, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    n_train = max(1, int(round(fractions[0] * n)))
    n_val = max(1, int(round(fractions[1] * n)))
    n_train = min(n_train, n - 2)
    n_val = min(n_val, n - n_train - 1)
    parts = np.split(perm, [n_train, n_train + n_val])
    return tuple(np.sort(p) for p in parts)


def _from_arrays(
    name: str, x: np.ndarray, y: np.ndarray, seed: int, limit: int | None
) -> Dataset:
    if limit is not None:
        keep = np.random.default_rng(seed + 1).permutation(len(y))[:limit]
        x, y = x[np.sort(keep)], y[np.sort(keep)]
    tr, va, te = split_indices(len(y), seed)
    return Dataset(
        name=name,
        x_train=x[tr],
        y_train=y[tr],
        x_val=x[va],
        y_val=y[va],
        x_test=x[te],
        y_test=y[te],
        n_classes=int(y.max()) + 1,
    )


def load_digits(seed: int = 0, limit: int | None = None) -> Dataset:
    """scikit-learn's bundled digits: 1,797 8x8 grey images of 10 digits.

    Pixels are scaled from ``[0, 16]`` to ``[0, 1]`` and images get a channel axis,
    giving samples of shape ``(8, 8, 1)``. The split is 60 / 20 / 20 percent.

    Args:
        seed: the seed of the split.
        limit: keep only this many samples (drawn with ``seed``), for quick runs.
    """
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int32)
    return _from_arrays("digits", x, y, seed, limit)


def make_synthetic(
    kind: Kind, seed: int = 0, n: int = 640, n_classes: int = 10
) -> Dataset:
    """The tutorial's random data: standard-normal inputs and uniform labels.

    The input shape depends on the model as in the tutorial
    (:data:`SYNTHETIC_SHAPES`). The labels carry no information about the inputs,
    so a model can only memorise the training set; validation accuracy stays near
    chance.

    Args:
        kind: the model the data is for: ``cnn``, ``transformer``, ``rnn``, ``mlp``.
        seed: the seed of the data and of the split.
        n: the number of samples before the split.
        n_classes: the number of classes.
    """
    if kind not in SYNTHETIC_SHAPES:
        raise ValueError(
            f"kind must be one of {sorted(SYNTHETIC_SHAPES)}, got {kind!r}"
        )
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *SYNTHETIC_SHAPES[kind]), dtype=np.float32)
    y = rng.integers(0, n_classes, size=n).astype(np.int32)
    # Make sure the label range is the declared one even for tiny ``n``.
    y[: min(n, n_classes)] = np.arange(min(n, n_classes), dtype=np.int32)
    return _from_arrays(f"synthetic-{kind}", x, y, seed, None)


def load_npz(path: str | os.PathLike, seed: int = 0, limit: int | None = None):
    """A user's data from a ``.npz`` file with arrays ``x`` and ``y``.

    ``x`` has the samples on its first axis: ``(N, F)`` vectors, ``(N, T, F)``
    sequences or images without channel, or ``(N, H, W, C)`` images. ``y`` holds
    ``N`` integer class labels ``>= 0``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable ``.npz``, lacks ``x`` or ``y``, or
            the arrays do not fit together; the message says which.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"--data file {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as err:
        raise ValueError(
            f"--data file {path!r} is not a readable .npz archive: {err}"
        ) from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise ValueError(
            f"--data file {path!r} must hold arrays 'x' and 'y'; missing "
            f"{missing}, found {sorted(arrays)}"
        )
    x, y = arrays["x"], arrays["y"]
    if x.ndim < 2 or x.ndim > 4:
        raise ValueError(
            f"x in {path!r} must have 2 to 4 dimensions (samples first), got shape "
            f"{x.shape}"
        )
    if y.ndim != 1:
        raise ValueError(f"y in {path!r} must be 1-D, got shape {y.shape}")
    if len(x) != len(y):
        raise ValueError(
            f"x and y in {path!r} must have the same length, got {len(x)} and {len(y)}"
        )
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(
        x.dtype, np.complexfloating
    ):
        raise ValueError(f"x in {path!r} must be real numbers, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"x in {path!r} must be finite, found NaN or inf")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(
                f"y in {path!r} must hold integer class labels, got non-integer "
                f"values of dtype {y.dtype}"
            )
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y in {path!r} must hold integer class labels, got dtype {y.dtype}"
        )
    if len(y) < 10:
        raise ValueError(f"{path!r} must hold at least 10 samples, got {len(y)}")
    if y.min() < 0:
        raise ValueError(f"y in {path!r} must be >= 0, got minimum {y.min()}")
    if y.max() < 1:
        raise ValueError(f"y in {path!r} must hold at least 2 classes, got 1")
    return _from_arrays(path, x.astype(np.float32), y.astype(np.int32), seed, limit)


def load_data(
    source: str, kind: Kind, seed: int = 0, limit: int | None = None
) -> Dataset:
    """The data set ``source`` names, as model ``kind`` sees it.

    Args:
        source: ``digits``, ``synthetic`` or the path of a ``.npz`` file.
        kind: the model: ``cnn``, ``transformer``, ``rnn`` or ``mlp``. Only the
            synthetic data differ per model.
        seed: the seed of the split (and of the synthetic data).
        limit: keep only this many samples.
    """
    if source == "digits":
        return load_digits(seed, limit)
    if source == "synthetic":
        n = 640 if limit is None else limit
        return make_synthetic(kind, seed, n=n)
    if source.endswith(".npz") or os.path.exists(source):
        return load_npz(source, seed, limit)
    raise ValueError(
        f"--data must be 'digits', 'synthetic' or the path of a .npz file, got "
        f"{source!r}"
    )


def as_model_input(x: np.ndarray, kind: Kind) -> np.ndarray:
    """Reshapes a batch of samples to the layout model ``kind`` reads.

    - ``mlp``: ``(N, D)``, every sample flattened;
    - ``cnn``: ``(N, H, W, C)``; a 3-D batch gets a channel axis of size 1;
    - ``transformer``, ``rnn``: ``(N, T, F)``; images are read row by row, each
      row's pixels and channels forming one step's features.

    Raises:
        ValueError: the batch cannot be read by that model (e.g. flat vectors for a
            CNN).
    """
    if kind == "mlp":
        return x.reshape(len(x), -1)
    if x.ndim == 2:
        raise ValueError(
            f"the {kind} model needs images or sequences (x with 3 or 4 "
            f"dimensions), got flat samples of shape {x.shape[1:]}; use --models mlp"
        )
    if kind == "cnn":
        return x if x.ndim == 4 else x[..., None]
    if kind in ("transformer", "rnn"):
        return x if x.ndim == 3 else x.reshape(*x.shape[:2], -1)
    raise ValueError(f"kind must be one of cnn, transformer, rnn, mlp, got {kind!r}")
