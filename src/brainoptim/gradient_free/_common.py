"""Shared by both wrappers: result, evaluation record, compilation, progress."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["MinimizeResult", "Recorder", "compile_flat", "progress_bar", "to_scalar"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class MinimizeResult:
    """Outcome of a gradient-free search.

    Attributes:
        x: The best point evaluated, in the structure of ``bounds`` (a tuple or
            list of NumPy float64 values for sequence bounds, a dict for dict
            bounds).
        fun: The loss at ``x``, as evaluated during the search: the smallest
            finite value in ``history`` among points within the bounds (for
            methods that honour them) and constraints.
        success: Whether the search found a finite (and, with constraints,
            feasible) point and the run that found it reported convergence.
        message: Why the search stopped, in words.
        nfev: Number of loss evaluations.
        nit: Iterations: summed over restarts for SciPy, rounds for Nevergrad.
        history: Every loss value evaluated, in order (float64, NaN/inf kept).
        method: The method that ran.
        runs: Per-restart ``scipy.optimize.OptimizeResult`` objects (SciPy only;
            their ``x`` is SciPy's own answer, which may be worse than ``x``).
    """

    x: Any
    fun: float
    success: bool
    message: str
    nfev: int
    nit: int
    history: np.ndarray
    method: str
    runs: list[Any] = dataclasses.field(default_factory=list, repr=False)


class Recorder:
    """Keeps every evaluated loss and the best finite (feasible) point seen.

    Args:
        feasibility_tol: Largest constraint violation a point may have to count
            as feasible; points whose violation exceeds it are never the best.
    """

    def __init__(self, feasibility_tol: float = 0.0):
        self.feasibility_tol = feasibility_tol
        self.history: list[float] = []
        self.best_x: np.ndarray | None = None
        self.best_fun = math.inf
        self.best_tag: Any = None
        self.first_x: np.ndarray | None = None
        # With constraints and no feasible point, the least-violating one is kept.
        self.least_violation = math.inf
        self.least_violating_x: np.ndarray | None = None
        self.least_violating_fun = math.nan
        self.tag: Any = None

    def record(self, flat: np.ndarray, value: float, violation: float = 0.0) -> None:
        """Note one evaluation of the loss at ``flat``."""
        self.history.append(value)
        if self.first_x is None:
            self.first_x = np.array(flat, dtype=np.float64)
        if not math.isfinite(value):
            return
        if violation > self.feasibility_tol:
            if violation < self.least_violation:
                self.least_violation = violation
                self.least_violating_x = np.array(flat, dtype=np.float64)
                self.least_violating_fun = value
            return
        if value < self.best_fun:
            self.best_fun = value
            self.best_x = np.array(flat, dtype=np.float64)
            self.best_tag = self.tag

    @property
    def found(self) -> bool:
        """Whether a finite, feasible point has been evaluated."""
        return self.best_x is not None

    def fallback(self) -> tuple[np.ndarray, float, str]:
        """Point, loss and message to report when nothing usable was found."""
        if self.least_violating_x is not None:
            return (
                self.least_violating_x,
                self.least_violating_fun,
                "no evaluated point satisfied the bounds and constraints within "
                f"feasibility_tol={self.feasibility_tol!r}; x is the least "
                f"violating point (violation {self.least_violation:.3g})",
            )
        return (
            self.first_x,
            self.history[0],
            f"every loss evaluation returned NaN or inf ({len(self.history)} "
            "evaluations); x is the first point evaluated",
        )

    def result(self, space, method: str, *, success: bool, message: str, nit: int,
               **extra) -> MinimizeResult:  # fmt: skip
        """The search's result: the best point evaluated, or, when no evaluation
        was usable, :meth:`fallback`'s point with ``success=False``."""
        if self.found:
            x, fun = self.best_x, self.best_fun
        else:
            x, fun, message = self.fallback()
            success = False
        return MinimizeResult(
            x=space.to_user(x),
            fun=fun,
            success=success,
            message=message,
            nfev=len(self.history),
            nit=nit,
            history=np.asarray(self.history, dtype=np.float64),
            method=method,
            **extra,
        )


def to_scalar(value: Any) -> float:
    """The loss value as a Python float; rejects non-scalar losses.

    Raises:
        ValueError: If ``value`` holds more than one number.
    """
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(
            f"loss_fun must return a scalar, got an array of shape {array.shape}"
        )
    return float(array.reshape(()))


def compile_flat(fn: Callable[[jax.Array], Any], shape: tuple[int, ...]) -> Any:
    """Trace and compile ``fn`` once for a float64 input of ``shape``.

    Must run inside ``jax.enable_x64(True)``, and so must every call of the
    result. Tracing errors propagate to the caller.
    """
    spec = jax.ShapeDtypeStruct(shape, jnp.float64)
    return jax.jit(fn).lower(spec).compile()


def check_scalar_output(compiled: Any, batch: int | None = None) -> None:
    """Reject a compiled loss whose output is not one number (per batch row).

    Raises:
        ValueError: If the loss does not return a scalar.
    """
    info = compiled.out_info
    info = info[0] if isinstance(info, tuple) else info
    shape = tuple(info.shape)
    expected = () if batch is None else (batch,)
    if shape != expected:
        got = shape if batch is None else shape[1:]
        raise ValueError(f"loss_fun must return a scalar, got an array of shape {got}")


@contextlib.contextmanager
def progress_bar(
    verbose: bool, description: str, total: int
) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr; yields ``advance(best_fun)``."""
    if not verbose:
        yield lambda best: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total, best="-")

        def advance(best: float) -> None:
            progress.update(task, advance=1, best=f"{best:.6g}")

        yield advance
