"""Checks for hyperparameters; each error names the argument, the rule and the value.

Values that are JAX tracers (a learning rate inside a compiled step) are not checked:
they were checked when the optimizer was built.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

__all__ = [
    "check_range",
    "check_betas",
    "check_pair",
    "check_choice",
    "check_int",
    "check_bool",
]


def _concrete(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got the string {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None


def check_range(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """Checks ``value`` lies in the interval; returns it unchanged."""
    if not _concrete(value):
        return value
    v = _as_float(name, value)
    below = v <= low if low_open else v < low
    above = v >= high if high_open else v > high
    if math.isnan(v) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value}")
    return value


def check_betas(name: str, betas: Any, n: int = 2) -> tuple[float, ...]:
    """Checks a tuple of ``n`` decay rates, each in [0, 1)."""
    try:
        betas = tuple(betas)
    except TypeError:
        raise TypeError(
            f"{name} must be a tuple of {n} numbers, got {betas!r}"
        ) from None
    if len(betas) != n:
        raise ValueError(f"{name} must have {n} entries, got {len(betas)}: {betas}")
    for i, b in enumerate(betas):
        check_range(f"{name}[{i}]", b, 0.0, 1.0, high_open=True)
    return betas


def check_pair(name: str, pair: Any, low: float, high: float, **kw) -> tuple:
    """Checks a 2-tuple whose entries lie in [low, high] and are in increasing order."""
    try:
        pair = tuple(pair)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of 2 numbers, got {pair!r}") from None
    if len(pair) != 2:
        raise ValueError(f"{name} must have 2 entries, got {len(pair)}: {pair}")
    for i, v in enumerate(pair):
        check_range(f"{name}[{i}]", v, low, high, **kw)
    if pair[0] > pair[1]:
        raise ValueError(f"{name} must satisfy {name}[0] <= {name}[1], got {pair}")
    return pair


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_int(name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
