"""The search box: user bounds, a flat float64 vector, and calls in the user's form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["BoundSpace"]


def _fmt(value: np.ndarray) -> str:
    return repr(float(value)) if value.ndim == 0 else np.array2string(value)


class BoundSpace:
    """Box bounds over named or positional arguments, flattened to one vector.

    Optimizers in this package work on a flat float64 vector; this class maps
    that vector to the arguments of the user's loss and back.

    Args:
        bounds: A sequence of ``(low, high)`` pairs (the loss is called
            positionally, ``loss(*xs)``) or a mapping ``name -> (low, high)``
            (the loss is called by keyword). ``low`` and ``high`` are finite
            scalars or arrays of one shape with ``low <= high`` elementwise.

    Raises:
        TypeError: If ``bounds`` is neither a sequence nor a mapping.
        ValueError: If an entry is not a pair, has mismatched or non-finite
            ``low``/``high``, or has ``low > high`` somewhere.
    """

    def __init__(self, bounds: Sequence[Any] | Mapping[str, Any]):
        if isinstance(bounds, Mapping):
            for key in bounds:
                if not isinstance(key, str):
                    raise TypeError(
                        f"bounds keys must be argument names (str), got {key!r}"
                    )
            self.names: list[str] | None = list(bounds)
            entries = list(bounds.values())
            labels = [f"bounds[{key!r}]" for key in bounds]
        elif isinstance(bounds, Sequence) and not isinstance(bounds, str):
            self.names = None
            entries = list(bounds)
            labels = [f"bounds[{i}]" for i in range(len(entries))]
        else:
            raise TypeError(
                "bounds must be a sequence of (low, high) pairs or a dict "
                f"name -> (low, high), got {type(bounds).__name__}"
            )
        if not entries:
            raise ValueError("bounds must have at least one (low, high) entry")
        self._sequence_type = type(bounds) if isinstance(bounds, list) else tuple

        lows, highs = [], []
        for label, entry in zip(labels, entries, strict=True):
            low, high = _check_pair(label, entry)
            lows.append(low)
            highs.append(high)
        self.labels = labels
        self.shapes = [low.shape for low in lows]
        self.sizes = [low.size for low in lows]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        self.lower = np.concatenate([low.ravel() for low in lows])
        self.upper = np.concatenate([high.ravel() for high in highs])

    @property
    def size(self) -> int:
        """Length of the flat vector."""
        return int(self.lower.size)

    def unflatten(self, flat: Any) -> list[Any]:
        """Split a flat vector (NumPy or JAX) into one array per entry."""
        return [
            flat[start:stop].reshape(shape)
            for start, stop, shape in zip(
                self.offsets[:-1], self.offsets[1:], self.shapes, strict=True
            )
        ]

    def call(self, fun: Callable[..., Any], flat: Any) -> Any:
        """Call ``fun`` with the flat vector split into the user's arguments."""
        values = self.unflatten(flat)
        if self.names is None:
            return fun(*values)
        return fun(**dict(zip(self.names, values, strict=True)))

    def to_user(self, flat: np.ndarray) -> Any:
        """The flat vector in the structure of ``bounds`` (NumPy float64)."""
        values = [np.array(v, dtype=np.float64)[()] for v in self.unflatten(flat)]
        if self.names is None:
            return self._sequence_type(values)
        return dict(zip(self.names, values, strict=True))

    def from_user(self, x: Any, name: str = "x0") -> np.ndarray:
        """Flatten a point given in the structure of ``bounds``; check it lies inside.

        Raises:
            ValueError: If the structure or a shape differs from ``bounds``, or a
                value lies outside its bounds.
        """
        if self.names is None:
            if isinstance(x, Mapping) or not isinstance(x, Sequence):
                raise ValueError(
                    f"{name} must be a sequence like bounds, got {type(x).__name__}"
                )
            if len(x) != len(self.shapes):
                raise ValueError(
                    f"{name} must have {len(self.shapes)} entries like bounds, "
                    f"got {len(x)}"
                )
            values = list(x)
            labels = [f"{name}[{i}]" for i in range(len(values))]
        else:
            if not isinstance(x, Mapping) or set(x) != set(self.names):
                got = sorted(x) if isinstance(x, Mapping) else type(x).__name__
                raise ValueError(
                    f"{name} must be a dict with keys {sorted(self.names)}, got {got}"
                )
            values = [x[key] for key in self.names]
            labels = [f"{name}[{key!r}]" for key in self.names]

        parts = []
        for label, value, shape in zip(labels, values, self.shapes, strict=True):
            value = np.asarray(value, dtype=np.float64)
            if value.shape != shape:
                raise ValueError(
                    f"{label} must have shape {shape} like its bounds, "
                    f"got {value.shape}"
                )
            parts.append(value.ravel())
        flat = np.concatenate(parts)

        outside = ~((self.lower <= flat) & (flat <= self.upper))
        if outside.any():
            i = int(np.argmax(outside))
            entry = int(np.searchsorted(self.offsets, i, side="right")) - 1
            raise ValueError(
                f"{labels[entry]} must lie within {self.labels[entry]}, got "
                f"{float(flat[i])!r} outside [{float(self.lower[i])!r}, "
                f"{float(self.upper[i])!r}]"
            )
        return flat

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A point drawn uniformly from the box."""
        return rng.uniform(self.lower, self.upper)


def _check_pair(label: str, entry: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(entry, str | bytes) or not isinstance(entry, Sequence):
        raise ValueError(f"{label} must be a (low, high) pair, got {entry!r}")
    if len(entry) != 2:
        raise ValueError(f"{label} must be a (low, high) pair, got {len(entry)} values")
    low = np.asarray(entry[0], dtype=np.float64)
    high = np.asarray(entry[1], dtype=np.float64)
    if low.shape != high.shape:
        raise ValueError(
            f"{label}: low and high must have the same shape, "
            f"got {low.shape} and {high.shape}"
        )
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError(
            f"{label}: low and high must be finite, got low={_fmt(low)}, "
            f"high={_fmt(high)}"
        )
    if (low > high).any():
        index = np.unravel_index(np.argmax(low > high), low.shape)
        where = str(list(map(int, index))) if index else ""
        raise ValueError(
            f"{label}: low must be <= high, got low{where}={float(low[index])!r} "
            f"> high{where}={float(high[index])!r}"
        )
    return low, high
