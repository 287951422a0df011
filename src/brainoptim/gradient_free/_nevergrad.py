"""Nevergrad's ask/tell optimizers over box bounds, with batched JAX evaluation."""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import nevergrad as ng
import numpy as np

from brainoptim.gradient_free._common import (
    MinimizeResult,
    Recorder,
    check_scalar_output,
    compile_flat,
    progress_bar,
    to_scalar,
)
from brainoptim.gradient_free._space import BoundSpace

__all__ = ["NevergradOptimizer"]

logger = logging.getLogger(__name__)

# Told to Nevergrad for a NaN/inf loss: worse than any sensible loss, and below
# the 5e20 above which Nevergrad clips the value itself with a warning.
_NON_FINITE_PENALTY = 1e20
_COMMON = ("DE", "TwoPointsDE", "CMA", "OnePlusOne", "PSO", "RandomSearch", "NGOpt")


class NevergradOptimizer:
    """Minimize a loss over box bounds with a Nevergrad optimizer, by ask and tell.

    Each round asks Nevergrad for ``n_sample`` candidates, evaluates them in one
    batch (``jax.vmap`` of the loss, compiled once, when the loss is
    JAX-traceable; a Python loop otherwise) and tells the losses back. The
    result is the best point evaluated, not Nevergrad's recommendation, which
    for some optimizers is a point never evaluated.

    Args:
        loss_fun: The loss, returning a scalar. Called as ``loss_fun(*xs)`` for
            sequence bounds and ``loss_fun(**xs)`` for dict bounds.
        bounds: A sequence of ``(low, high)`` pairs or a dict
            ``name -> (low, high)``; each ``low``/``high`` a finite scalar or
            array, same shape, ``low <= high`` elementwise. Entries with
            ``low == high`` stay fixed.
        method: A name in ``nevergrad.optimizers.registry`` (``"DE"``,
            ``"CMA"``, ``"OnePlusOne"``, ``"PSO"``, ...) or a Nevergrad
            optimizer class or configured family. Default ``"DE"``.
        n_sample: Candidates per round, >= 1; Nevergrad's ``num_workers``.
            Default 20.
        budget: Loss evaluations Nevergrad is told to plan for, >= 1.
            Default: ``n_iter * n_sample`` of the ``minimize`` call.
        seed: Seed of the parametrization's random state; the same seed gives
            the same run. Default None (not repeatable).
        verbose: Show a progress bar over rounds on stderr. Default True.
        callback: ``callback(x, fun)``, called after each round with the best
            point so far (structure of ``bounds``; ``None`` while no finite
            loss was seen) and its loss. Returning ``True`` stops the search.
        jit: Compile the batched loss with ``jax.jit`` (default). ``False``
            calls it once per candidate with NumPy arrays, for losses with side
            effects such as writing brainstate States.

    Raises:
        ValueError: For an unknown method, bad bounds, ``n_sample`` or
            ``budget``.

    Limitations:
        A NaN/inf loss is told to Nevergrad as 1e20. Nevergrad's meta-model
        optimizers (``NGOpt`` in low dimension picks one) fail with NumPy >= 2.4
        in Nevergrad 1.0.12. The loss is evaluated in float64 inside
        ``jax.enable_x64``.

    Example:
        >>> import jax.numpy as jnp
        >>> opt = NevergradOptimizer(
        ...     lambda x: jnp.sum((x - 0.5) ** 2),
        ...     bounds=[(-jnp.ones(2), jnp.ones(2))],
        ...     n_sample=10,
        ...     seed=0,
        ...     verbose=False,
        ... )
        >>> res = opt.minimize(n_iter=30)
        >>> res.nfev, bool(res.fun < 1e-2)
        (300, True)

    References:
        Rapin, J. and Teytaud, O. "Nevergrad - A gradient-free optimization
        platform." GitHub (2018).
        https://github.com/facebookresearch/nevergrad
    """

    def __init__(
        self,
        loss_fun: Callable[..., Any],
        bounds: Sequence[Any] | Mapping[str, Any],
        method: Any = "DE",
        n_sample: int = 20,
        budget: int | None = None,
        *,
        seed: int | None = None,
        verbose: bool = True,
        callback: Callable[[Any, float], Any] | None = None,
        jit: bool = True,
    ):
        if not callable(loss_fun):
            raise TypeError(f"loss_fun must be callable, got {type(loss_fun).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        _check_count("n_sample", n_sample)
        if budget is not None:
            _check_count("budget", budget)
        self.space = BoundSpace(bounds)
        self.free = self.space.lower < self.space.upper
        if not self.free.any():
            raise ValueError("bounds fix every value (low == high): nothing to search")
        self.method, self.factory = _check_method(method)
        if n_sample > 1 and getattr(self.factory, "no_parallelization", False):
            raise ValueError(
                f"method {self.method!r} evaluates one candidate at a time; "
                f"use n_sample=1, got n_sample={n_sample}"
            )
        self.loss_fun = loss_fun
        self.n_sample = n_sample
        self.budget = budget
        self.seed = seed
        self.verbose = verbose
        self.callback = callback
        self.jit = jit
        self._batched: Any = None
        self._traced = False

    def minimize(self, n_iter: int | None = None, *, x0: Any = None) -> MinimizeResult:
        """Run ``n_iter`` ask/evaluate/tell rounds of ``n_sample`` candidates.

        Each call starts a fresh Nevergrad optimizer, so with a fixed ``seed``
        repeated calls give the same result.

        Args:
            n_iter: Number of rounds, >= 1. Default ``ceil(budget / n_sample)``;
                required when ``budget`` is None.
            x0: Initial point of the parametrization (where CMA, OnePlusOne and
                similar optimizers start), in the structure of ``bounds`` and
                strictly inside them. Default: the centre of the bounds.

        Returns:
            A :class:`MinimizeResult`; ``nit`` is the number of rounds run.
        """
        if n_iter is None:
            if self.budget is None:
                raise ValueError(
                    "n_iter is required when NevergradOptimizer has no budget"
                )
            n_iter = math.ceil(self.budget / self.n_sample)
        _check_count("n_iter", n_iter)
        budget = self.budget if self.budget is not None else n_iter * self.n_sample
        init = 0.5 * (self.space.lower + self.space.upper)
        if x0 is not None:
            init = self.space.from_user(x0)
        lower, upper = self.space.lower[self.free], self.space.upper[self.free]
        if not ((lower < init[self.free]) & (init[self.free] < upper)).all():
            raise ValueError("x0 must lie strictly inside the bounds for Nevergrad")

        parametrization = ng.p.Array(init=init[self.free], lower=lower, upper=upper)
        if self.seed is not None:
            parametrization.random_state = np.random.RandomState(self.seed)
        optimizer = self.factory(
            parametrization=parametrization, budget=budget, num_workers=self.n_sample
        )
        recorder = Recorder()
        points = np.tile(init, (self.n_sample, 1))
        rounds = 0
        stopped = False

        with jax.enable_x64(True):
            evaluate = self._evaluator()
            with progress_bar(self.verbose, f"Nevergrad {self.method}", n_iter) as adv:
                for rounds in range(1, n_iter + 1):
                    candidates = [optimizer.ask() for _ in range(self.n_sample)]
                    points[:, self.free] = [c.value for c in candidates]
                    values = evaluate(points)
                    for candidate, point, value in zip(
                        candidates, points, values, strict=True
                    ):
                        recorder.record(point, value)
                        told = value if math.isfinite(value) else _NON_FINITE_PENALTY
                        optimizer.tell(candidate, told)
                    logger.debug(
                        "round %d/%d: best %.6g", rounds, n_iter, recorder.best_fun
                    )
                    adv(recorder.best_fun)
                    if self.callback is not None:
                        best = recorder.best_x
                        x = None if best is None else self.space.to_user(best)
                        if self.callback(x, recorder.best_fun) is True:
                            stopped = rounds < n_iter
                            break

        message = f"ran {rounds} rounds of {self.n_sample} candidates"
        if stopped:
            message = f"stopped by callback after {rounds} rounds"
        return recorder.result(
            self.space, self.method, success=True, message=message, nit=rounds
        )

    def _evaluator(self) -> Callable[[np.ndarray], list[float]]:
        """Loss of each row of a (n_sample, size) float64 array."""
        if self.jit and not self._traced:
            self._traced = True

            def batched(rows):
                return jax.vmap(lambda row: self.space.call(self.loss_fun, row))(rows)

            try:
                self._batched = compile_flat(batched, (self.n_sample, self.space.size))
            except Exception as err:  # any tracing failure: evaluate eagerly
                logger.info("loss_fun is not JAX-traceable (%s); looping instead", err)
            else:
                check_scalar_output(self._batched, batch=self.n_sample)
        if self._batched is not None:
            return lambda rows: np.asarray(self._batched(rows), np.float64).tolist()
        return lambda rows: [
            to_scalar(self.space.call(self.loss_fun, row.copy())) for row in rows
        ]


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _check_method(method: Any) -> tuple[str, Any]:
    registry = ng.optimizers.registry
    if isinstance(method, str):
        if method in registry:
            return method, registry[method]
        close = difflib.get_close_matches(method, list(registry), n=5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"method must be a name in nevergrad.optimizers.registry, got "
            f"{method!r}; {hint}common choices: {', '.join(map(repr, _COMMON))} "
            f"({len(registry)} names in all)"
        )
    configured = isinstance(method, ng.optimizers.base.ConfiguredOptimizer)
    if configured or (
        isinstance(method, type) and issubclass(method, ng.optimizers.base.Optimizer)
    ):
        return getattr(method, "__name__", repr(method)), method
    raise ValueError(
        "method must be a name in nevergrad.optimizers.registry or a Nevergrad "
        f"optimizer class, got {method!r}"
    )
