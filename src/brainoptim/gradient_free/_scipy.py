"""``scipy.optimize.minimize`` over box bounds, with JAX derivatives and restarts."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from brainoptim.gradient_free._common import (
    MinimizeResult,
    Recorder,
    compile_flat,
    progress_bar,
    to_scalar,
)
from brainoptim.gradient_free._space import BoundSpace

__all__ = ["ScipyOptimizer"]

logger = logging.getLogger(__name__)


class _Method(NamedTuple):
    gradient: bool  # SciPy needs jac
    bounds: bool  # SciPy honours bounds
    constraints: bool  # SciPy honours constraints
    hessian: str | None  # "hess", "hessp" or None: what we hand SciPy


_METHODS = {
    "Nelder-Mead": _Method(False, True, False, None),
    "Powell": _Method(False, True, False, None),
    "CG": _Method(True, False, False, None),
    "BFGS": _Method(True, False, False, None),
    "Newton-CG": _Method(True, False, False, "hessp"),
    "L-BFGS-B": _Method(True, True, False, None),
    "TNC": _Method(True, True, False, None),
    "COBYLA": _Method(False, True, True, None),
    "COBYQA": _Method(False, True, True, None),
    "SLSQP": _Method(True, True, True, None),
    "trust-constr": _Method(True, True, True, "hessp"),
    "dogleg": _Method(True, False, False, "hess"),
    "trust-ncg": _Method(True, False, False, "hessp"),
    "trust-exact": _Method(True, False, False, "hess"),
    "trust-krylov": _Method(True, False, False, "hessp"),
}
_BY_LOWER = {name.lower(): name for name in _METHODS}

# The subproblem solvers of these methods pass the gradient and Hessian to
# LAPACK routines that raise on NaN/inf; a restart that meets one is ended
# cleanly instead.
_FINITE_DERIVATIVES_REQUIRED = {"dogleg", "trust-ncg", "trust-exact", "trust-krylov"}


class _NonFiniteDerivative(Exception):
    pass


class ScipyOptimizer:
    """Minimize a loss over box bounds with ``scipy.optimize.minimize``.

    The loss and its constraints are functions of the arguments that ``bounds``
    describes. Methods that use derivatives get the gradient (and, where SciPy
    needs it, the Hessian or Hessian-vector product) from JAX, compiled once
    and evaluated in float64. ``minimize(n_iter)`` runs ``n_iter`` restarts
    from points drawn uniformly in the bounds and reports the best point
    evaluated in any of them, not SciPy's ``res.x``: a line search can evaluate
    a better point than the one it ends on.

    Args:
        loss_fun: The loss, returning a scalar. Called as ``loss_fun(*xs)`` for
            sequence bounds and ``loss_fun(**xs)`` for dict bounds. Must be
            JAX-traceable for methods that use derivatives; for the others a
            plain NumPy/Python function works too.
        bounds: A sequence of ``(low, high)`` pairs or a dict
            ``name -> (low, high)``; each ``low``/``high`` a finite scalar or
            array, same shape, ``low <= high`` elementwise.
        method: Any ``scipy.optimize.minimize`` method name (case-insensitive).
            Default: ``"SLSQP"`` with constraints, else ``"L-BFGS-B"``.
        constraints: Dicts ``{"type": "eq" | "ineq", "fun": f}`` with ``f`` a
            JAX function of the same arguments as ``loss_fun``; ``"eq"`` means
            ``f(x) == 0`` and ``"ineq"`` means ``f(x) >= 0`` (elementwise for
            array outputs). Only for COBYLA, COBYQA, SLSQP and trust-constr.
        tol: Passed to SciPy as ``tol``.
        options: Passed to SciPy as ``options`` (e.g. ``{"maxiter": 200}``).
        seed: Seed of the restart points. Default 0.
        verbose: Show a progress bar over restarts on stderr. Default True.
        callback: ``callback(x, fun)``, called after each restart with the best
            point so far (structure of ``bounds``; ``None`` while no finite,
            feasible point exists) and its loss. Returning ``True`` stops the
            search.
        feasibility_tol: Largest violation a point may have to be reported: of
            the bounds, for methods that honour them, and of the constraints
            (``|f|`` for equalities, ``max(-f, 0)`` for inequalities).
            Default 1e-6.
        jit: Compile the loss with ``jax.jit`` (default). ``False`` calls it
            eagerly with NumPy arrays, for losses with side effects such as
            writing brainstate States; only derivative-free methods without
            constraints can then run.

    Raises:
        ValueError: For unknown methods, bad bounds or constraints, or a method
            that cannot take the given constraints.

    Limitations:
        CG, BFGS, Newton-CG, dogleg and trust-* do not accept bounds: the box
        only sets where restarts start, and ``x`` may lie outside it. The loss
        is evaluated in float64 inside ``jax.enable_x64``, so ``fun`` may
        differ in the last bits from a float32 evaluation of ``loss_fun(*x)``.

    Example:
        >>> import jax.numpy as jnp
        >>> opt = ScipyOptimizer(
        ...     lambda a: (a - 3.0) ** 2, bounds=[(0.0, 2.0)], verbose=False
        ... )
        >>> res = opt.minimize(n_iter=2)
        >>> float(res.x[0]), res.success
        (2.0, True)

    References:
        Virtanen, P., Gommers, R., Oliphant, T. E., et al. "SciPy 1.0:
        fundamental algorithms for scientific computing in Python." Nature
        Methods 17, 261-272 (2020). https://doi.org/10.1038/s41592-019-0686-2
    """

    def __init__(
        self,
        loss_fun: Callable[..., Any],
        bounds: Sequence[Any] | Mapping[str, Any],
        method: str | None = None,
        constraints: Sequence[Mapping[str, Any]] | Mapping[str, Any] = (),
        tol: float | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        verbose: bool = True,
        callback: Callable[[Any, float], Any] | None = None,
        feasibility_tol: float = 1e-6,
        jit: bool = True,
    ):
        if not callable(loss_fun):
            raise TypeError(f"loss_fun must be callable, got {type(loss_fun).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"options must be a dict, got {type(options).__name__}")
        if not feasibility_tol >= 0:
            raise ValueError(f"feasibility_tol must be >= 0, got {feasibility_tol!r}")
        self.space = BoundSpace(bounds)
        self.constraints = _check_constraints(constraints)
        self.method = _check_method(method, bool(self.constraints))
        self.info = _METHODS[self.method]
        if self.constraints and not self.info.constraints:
            raise ValueError(
                f"method {self.method!r} does not accept constraints; use one of "
                "'COBYLA', 'COBYQA', 'SLSQP', 'trust-constr'"
            )
        if not jit and (self.info.gradient or self.constraints):
            raise ValueError(
                f"jit=False calls the loss eagerly, but method {self.method!r}"
                f"{' with constraints' if self.constraints else ''} needs JAX "
                "derivatives; use a derivative-free method (Nelder-Mead, "
                "Powell, COBYLA, COBYQA) without constraints, or jit=True"
            )
        if not self.info.bounds:
            logger.info(
                "method %s ignores bounds; they only set where restarts start",
                self.method,
            )
        self.loss_fun = loss_fun
        self.tol = tol
        self.options = dict(options or {})
        self.seed = seed
        self.verbose = verbose
        self.callback = callback
        self.feasibility_tol = float(feasibility_tol)
        self.jit = jit
        self._compiled: dict[str, Any] | None = None

    def minimize(self, n_iter: int = 1, *, x0: Any = None) -> MinimizeResult:
        """Run ``n_iter`` SciPy minimizations and keep the best point evaluated.

        Args:
            n_iter: Number of restarts, >= 1. Default 1.
            x0: Start of the first restart, in the structure of ``bounds`` and
                inside them. Default: drawn uniformly like the other restarts.

        Returns:
            A :class:`MinimizeResult`; ``runs`` holds SciPy's result per restart.
        """
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
            raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
        first = None if x0 is None else self.space.from_user(x0)
        rng = np.random.default_rng(self.seed)
        recorder = Recorder(self.feasibility_tol)
        runs: list[Any] = []
        stopped = False

        with jax.enable_x64(True):
            functions = self._functions()
            with progress_bar(self.verbose, f"SciPy {self.method}", n_iter) as advance:
                for restart in range(n_iter):
                    start = self.space.sample(rng)
                    if restart == 0 and first is not None:
                        start = first
                    recorder.tag = restart
                    run = self._run(start, functions, recorder)
                    runs.append(run)
                    logger.info(
                        "restart %d/%d: fun=%.6g success=%s (%s)",
                        restart + 1,
                        n_iter,
                        recorder.best_fun,
                        run.success,
                        run.message,
                    )
                    advance(recorder.best_fun)
                    if self.callback is not None:
                        best = recorder.best_x
                        x = None if best is None else self.space.to_user(best)
                        if self.callback(x, recorder.best_fun) is True:
                            stopped = restart + 1 < n_iter
                            break

        nit = sum(int(getattr(run, "nit", 0) or 0) for run in runs)
        success, message = False, ""
        if recorder.found:
            best_run = runs[recorder.best_tag]
            success = bool(best_run.success)
            message = str(best_run.message)
            if stopped:
                message = f"stopped by callback after {len(runs)} restarts; {message}"
        return recorder.result(
            self.space,
            self.method,
            success=success,
            message=message,
            nit=nit,
            runs=runs,
        )

    def _functions(self) -> dict[str, Any]:
        """Compiled float64 loss, derivatives and constraints (built once)."""
        if self._compiled is not None:
            return self._compiled
        n = self.space.size

        def raw_loss(flat):
            return self.space.call(self.loss_fun, flat)

        def loss(flat):
            return jnp.reshape(raw_loss(flat), ())

        functions: dict[str, Any] = {}
        if self.info.gradient:
            try:
                out = jax.eval_shape(raw_loss, jax.ShapeDtypeStruct((n,), jnp.float64))
            except Exception as err:
                raise ValueError(
                    f"method {self.method!r} needs the gradient of loss_fun, and "
                    f"JAX could not trace it: {err}"
                ) from err
            if math.prod(out.shape) != 1:
                raise ValueError(
                    f"loss_fun must return a scalar, got an array of shape {out.shape}"
                )
            value_and_grad = compile_flat(jax.value_and_grad(loss), (n,))
            functions["value_and_grad"] = value_and_grad
            if self.info.hessian == "hess":
                functions["hess"] = compile_flat(jax.hessian(loss), (n,))
            elif self.info.hessian == "hessp":

                def hvp(flat_and_p):
                    flat, p = flat_and_p[:n], flat_and_p[n:]
                    return jax.jvp(jax.grad(loss), (flat,), (p,))[1]

                functions["hessp"] = compile_flat(hvp, (2 * n,))
        elif self.jit:
            try:
                functions["value"] = compile_flat(loss, (n,))
            except Exception as err:  # any tracing failure: evaluate eagerly
                logger.info(
                    "loss_fun is not JAX-traceable (%s); calling it eagerly", err
                )

        functions["constraints"] = [
            _CompiledConstraint(con, self.space, hessian=self.method == "trust-constr")
            for con in self.constraints
        ]
        self._compiled = functions
        return functions

    def _run(
        self, start: np.ndarray, functions: dict[str, Any], recorder: Recorder
    ) -> scipy.optimize.OptimizeResult:
        """One SciPy minimization from ``start``; every evaluation is recorded."""
        constraints = functions.get("constraints", [])
        guard = self.method in _FINITE_DERIVATIVES_REQUIRED

        lower, upper = self.space.lower, self.space.upper

        def violation(x: np.ndarray) -> float:
            # A method that honours bounds may still step outside them (COBYLA
            # treats them as constraints); such points are infeasible too.
            worst = 0.0
            if self.info.bounds:
                worst = float(np.max(np.maximum(lower - x, x - upper), initial=0.0))
            for con in constraints:
                worst = max(worst, con.violation(x))
            return worst if np.isfinite(worst) else np.inf

        def check_finite(array: np.ndarray) -> np.ndarray:
            if guard and not np.isfinite(array).all():
                raise _NonFiniteDerivative
            return array

        kwargs: dict[str, Any] = {}
        if self.info.gradient:

            def objective(x):
                x = np.asarray(x, dtype=np.float64)
                value, grad = functions["value_and_grad"](x)
                value = float(value)
                recorder.record(x, value, violation(x))
                return value, check_finite(np.asarray(grad, dtype=np.float64))

            kwargs["jac"] = True
        else:
            compiled = functions.get("value")

            def objective(x):
                x = np.asarray(x, dtype=np.float64)
                if compiled is not None:
                    value = float(compiled(x))
                else:
                    value = to_scalar(self.space.call(self.loss_fun, x))
                recorder.record(x, value, violation(x))
                return value

        if "hess" in functions:

            def hess(x):
                x = np.asarray(x, dtype=np.float64)
                return check_finite(np.asarray(functions["hess"](x), dtype=np.float64))

            kwargs["hess"] = hess
        if "hessp" in functions:

            def hessp(x, p):
                xp = np.concatenate(
                    [np.asarray(x, np.float64), np.asarray(p, np.float64)]
                )
                return check_finite(
                    np.asarray(functions["hessp"](xp), dtype=np.float64)
                )

            kwargs["hessp"] = hessp
        if self.info.bounds:
            kwargs["bounds"] = scipy.optimize.Bounds(self.space.lower, self.space.upper)
        if constraints:
            kwargs["constraints"] = [con.for_scipy(self.method) for con in constraints]

        try:
            return scipy.optimize.minimize(
                objective,
                start,
                method=self.method,
                tol=self.tol,
                options=self.options,
                **kwargs,
            )
        except _NonFiniteDerivative:
            return scipy.optimize.OptimizeResult(
                success=False,
                message=f"{self.method} stopped: the gradient or Hessian was not "
                "finite at the current point",
                nit=0,
            )


class _CompiledConstraint:
    """One user constraint, compiled on the flat vector, in SciPy's forms."""

    def __init__(self, con: Mapping[str, Any], space: BoundSpace, hessian: bool):
        n = space.size
        self.kind = con["type"]

        def fun(flat):
            return jnp.ravel(jnp.asarray(space.call(con["fun"], flat)))

        self.fun = compile_flat(fun, (n,))
        self.jac = compile_flat(jax.jacrev(fun), (n,))
        self.size = int(self.fun.out_info.shape[0])
        self.hess = None
        if hessian:
            m = self.size

            def weighted_hessian(flat_and_v):
                flat, v = flat_and_v[:n], flat_and_v[n:]
                return jax.hessian(lambda y: jnp.dot(v, fun(y)))(flat)

            self.hess = compile_flat(weighted_hessian, (n + m,))

    def values(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.fun(np.asarray(x, np.float64)), dtype=np.float64)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.jac(np.asarray(x, np.float64)), dtype=np.float64)

    def violation(self, x: np.ndarray) -> float:
        """``max |f|`` for an equality, ``max(-f, 0)`` for an inequality."""
        values = self.values(x)
        if self.kind == "eq":
            return float(np.max(np.abs(values), initial=0.0))
        return float(np.max(-values, initial=0.0))

    def for_scipy(self, method: str) -> Any:
        if method == "trust-constr":
            # With a dict SciPy would approximate the constraint Hessian by
            # BFGS updates, which stall on linear constraints.
            def hess(x, v):
                xv = np.concatenate([np.asarray(x, np.float64), np.asarray(v)])
                return np.asarray(self.hess(xv), dtype=np.float64)

            upper = 0.0 if self.kind == "eq" else np.inf
            return scipy.optimize.NonlinearConstraint(
                self.values, 0.0, upper, jac=self.jacobian, hess=hess
            )
        constraint = {"type": self.kind, "fun": self.values}
        if _METHODS[method].gradient:
            constraint["jac"] = self.jacobian
        return constraint


def _check_method(method: str | None, constrained: bool) -> str:
    if method is None:
        return "SLSQP" if constrained else "L-BFGS-B"
    if not isinstance(method, str) or method.lower() not in _BY_LOWER:
        raise ValueError(
            f"method must be one of {', '.join(repr(m) for m in _METHODS)}; "
            f"got {method!r}"
        )
    return _BY_LOWER[method.lower()]


def _check_constraints(
    constraints: Sequence[Mapping[str, Any]] | Mapping[str, Any],
) -> list[dict[str, Any]]:
    if isinstance(constraints, Mapping):
        constraints = [constraints]
    checked = []
    for i, con in enumerate(constraints):
        if not isinstance(con, Mapping):
            raise TypeError(
                f"constraints[{i}] must be a dict {{'type': 'eq'|'ineq', "
                f"'fun': f}}, got {type(con).__name__}"
            )
        unknown = set(con) - {"type", "fun"}
        if unknown:
            raise ValueError(
                f"constraints[{i}] has unknown keys {sorted(unknown)}; allowed "
                "keys are 'type' and 'fun' (Jacobians come from JAX)"
            )
        if con.get("type") not in ("eq", "ineq"):
            raise ValueError(
                f"constraints[{i}]['type'] must be 'eq' or 'ineq', "
                f"got {con.get('type')!r}"
            )
        if not callable(con.get("fun")):
            raise ValueError(
                f"constraints[{i}]['fun'] must be callable, got {con.get('fun')!r}"
            )
        checked.append(dict(con))
    return checked
