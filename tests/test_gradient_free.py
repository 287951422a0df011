"""ScipyOptimizer and NevergradOptimizer: known minima, best-seen reporting, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainoptim.gradient_free import (
    MinimizeResult,
    NevergradOptimizer,
    ScipyOptimizer,
)
from brainoptim.gradient_free._scipy import _METHODS

ALL_SCIPY_METHODS = list(_METHODS)


def loss_at(loss, x):
    """The loss at a reported point, evaluated in float64 like the optimizers."""
    with jax.enable_x64(True):
        if isinstance(x, dict):
            return float(loss(**{k: jnp.asarray(v) for k, v in x.items()}))
        return float(loss(*(jnp.asarray(v) for v in x)))


def assert_best_seen(res, loss):
    """The reported point is the best finite value evaluated, and its loss."""
    finite = res.history[np.isfinite(res.history)]
    assert res.fun == finite.min()
    # Compiled (fused) and eager float64 evaluations may differ in the last bits.
    assert res.fun == pytest.approx(loss_at(loss, res.x), rel=1e-12)
    assert res.nfev == len(res.history)


# Quadratic with two active bounds. f(x) = (x0 - 3)^2 + (x1 + 1)^2 separates, so
# each coordinate is the unconstrained minimizer clipped into its interval:
# x0 = clip(3, 0, 2) = 2 and x1 = clip(-1, -0.5, 1) = -0.5, f = 1 + 0.25 = 1.25.
def box_quadratic(x):
    return (x[0] - 3.0) ** 2 + (x[1] + 1.0) ** 2


BOX_BOUNDS = [(np.array([0.0, -0.5]), np.array([2.0, 1.0]))]


@pytest.mark.parametrize(
    "method",
    ["L-BFGS-B", "TNC", "SLSQP", "trust-constr", "Nelder-Mead", "Powell", "COBYLA"],
)
def test_scipy_quadratic_with_active_bounds(method):
    res = ScipyOptimizer(
        box_quadratic, BOX_BOUNDS, method=method, tol=1e-10, verbose=False
    ).minimize(n_iter=2)
    # trust-constr's interior-point iterates stay ~1e-5 inside the bounds.
    np.testing.assert_allclose(res.x[0], [2.0, -0.5], atol=1e-4)
    assert res.fun == pytest.approx(1.25, abs=1e-4)
    assert isinstance(res, MinimizeResult) and res.success
    assert res.method == method and len(res.runs) == 2
    if method == "COBYLA":
        # COBYLA also evaluates points outside the box (lower loss here); only
        # points within feasibility_tol of the box count.
        assert res.history.min() < 1.25 - 1e-3
        assert np.all(res.x[0] <= BOX_BOUNDS[0][1] + 1e-6)
        assert res.fun == pytest.approx(loss_at(box_quadratic, res.x), rel=1e-12)
    else:
        assert_best_seen(res, box_quadratic)


def rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


# The classic start (-1.2, 1); the minimum is (1, 1) with f = 0. A gradient
# tolerance of 1e-8 is tight enough for 1e-4 on x; below it trust-krylov's
# trlib solver multiplies by NaN on the vanishing gradient and warns.
@pytest.mark.parametrize(
    "method",
    ["L-BFGS-B", "BFGS", "CG", "Newton-CG", "trust-exact", "trust-ncg", "trust-krylov"],
)
def test_scipy_rosenbrock(method):
    res = ScipyOptimizer(
        rosenbrock, [(-2.0, 2.0), (-2.0, 2.0)], method=method, tol=1e-8, verbose=False
    ).minimize(n_iter=1, x0=(-1.2, 1.0))
    np.testing.assert_allclose([res.x[0], res.x[1]], [1.0, 1.0], atol=1e-4)
    assert res.fun < 1e-8
    assert_best_seen(res, rosenbrock)


def test_scipy_dogleg_on_convex_quadratic():
    # dogleg needs a positive definite Hessian: f = x^2 + 2 (y - 1)^2, min (0, 1).
    def loss(x, y):
        return x**2 + 2.0 * (y - 1.0) ** 2

    res = ScipyOptimizer(
        loss, [(-3.0, 3.0), (-3.0, 3.0)], method="dogleg", verbose=False
    ).minimize(n_iter=2)
    np.testing.assert_allclose([res.x[0], res.x[1]], [0.0, 1.0], atol=1e-6)
    assert res.success


# Minimize f = (x - 2)^2 + (y - 2)^2 subject to h = x + y - 2 = 0 and
# g = x - y - 0.5 >= 0. On the line alone the minimizer is the projection of
# (2, 2), x = y = 1, where g = -0.5 < 0, so g is active too: x + y = 2 and
# x - y = 0.5 give x = 1.25, y = 0.75, f = 0.75^2 + 1.25^2 = 2.125.
# KKT: grad f = (-1.5, -2.5) = lam (1, 1) + mu (1, -1) gives lam = -2 and
# mu = 0.5 >= 0, so the point is the constrained minimum.
def constrained_loss(x, y):
    return (x - 2.0) ** 2 + (y - 2.0) ** 2


CONSTRAINTS = [
    {"type": "eq", "fun": lambda x, y: x + y - 2.0},
    {"type": "ineq", "fun": lambda x, y: x - y - 0.5},
]


@pytest.mark.parametrize("method", ["SLSQP", "trust-constr", "COBYLA", "COBYQA"])
def test_scipy_equality_and_inequality_constraints(method):
    res = ScipyOptimizer(
        constrained_loss,
        [(-3.0, 3.0), (-3.0, 3.0)],
        method=method,
        constraints=CONSTRAINTS,
        tol=1e-10,
        verbose=False,
    ).minimize(n_iter=2)
    np.testing.assert_allclose([res.x[0], res.x[1]], [1.25, 0.75], atol=1e-4)
    assert res.fun == pytest.approx(2.125, abs=1e-4)
    assert res.success
    x, y = res.x
    assert abs(x + y - 2.0) <= 1e-6 and x - y - 0.5 >= -1e-6


def test_scipy_default_method_depends_on_constraints():
    plain = ScipyOptimizer(constrained_loss, [(-3, 3), (-3, 3)], verbose=False)
    constrained = ScipyOptimizer(
        constrained_loss, [(-3, 3), (-3, 3)], constraints=CONSTRAINTS, verbose=False
    )
    assert plain.method == "L-BFGS-B" and constrained.method == "SLSQP"


def test_scipy_reports_best_point_evaluated_not_res_x():
    # |x| from x0 = 1.1: CG's line search evaluates points near 0 but ends the
    # run on a point no better than its start. The minimum of |x| is 0.
    def loss(x):
        return jnp.abs(x)

    res = ScipyOptimizer(loss, [(-2.0, 2.0)], method="CG", verbose=False).minimize(
        x0=[1.1]
    )
    scipy_x = float(res.runs[0].x[0])
    assert res.fun < 1e-6
    assert res.fun <= abs(scipy_x)
    assert_best_seen(res, loss)


def test_scipy_constrained_best_is_feasible():
    # Over the constrained problem's evaluations, infeasible points with lower
    # loss (e.g. near (2, 2), f = 0) are never reported.
    res = ScipyOptimizer(
        constrained_loss,
        [(-3.0, 3.0), (-3.0, 3.0)],
        method="SLSQP",
        constraints=CONSTRAINTS,
        verbose=False,
    ).minimize(n_iter=3)
    assert res.fun >= 2.125 - 1e-6
    assert res.fun == pytest.approx(2.125, abs=1e-6)


@pytest.mark.parametrize("method", ALL_SCIPY_METHODS)
def test_scipy_all_nan_loss_fails_cleanly(method):
    def loss(x):
        return jnp.nan * jnp.sum(x)

    res = ScipyOptimizer(
        loss, [(-jnp.ones(2), jnp.ones(2))], method=method, verbose=False
    ).minimize(n_iter=1)
    assert res.success is False
    assert "NaN or inf" in res.message
    assert res.nfev >= 1 and np.isnan(res.history).all()


# Nelder-Mead's convergence test subtracts loss values, and -inf - -inf warns.
@pytest.mark.filterwarnings(
    "ignore:invalid value encountered in subtract:RuntimeWarning"
)
def test_non_finite_values_are_never_best():
    # -inf below 0 would win any plain comparison; the finite part's minimum
    # is (x - 0.5)^2 = 0 at x = 0.5.
    def loss(x):
        return jnp.where(x < 0.0, -jnp.inf, (x - 0.5) ** 2)

    res = ScipyOptimizer(
        loss, [(-1.0, 1.0)], method="Nelder-Mead", verbose=False
    ).minimize(n_iter=3)
    assert np.isneginf(res.history).any()
    assert math.isfinite(res.fun) and res.fun == pytest.approx(0.0, abs=1e-6)
    ng_res = NevergradOptimizer(
        loss, [(-1.0, 1.0)], n_sample=10, seed=0, verbose=False
    ).minimize(n_iter=5)
    assert np.isneginf(ng_res.history).any() and math.isfinite(ng_res.fun)
    assert_best_seen(ng_res, loss)


def test_scipy_restarts_are_seeded_and_x0_starts_the_first():
    def make(seed):
        return ScipyOptimizer(
            rosenbrock, [(-2.0, 2.0), (-2.0, 2.0)], seed=seed, verbose=False
        )

    a = make(3).minimize(n_iter=3, x0=(0.5, 0.5))
    b = make(3).minimize(n_iter=3, x0=(0.5, 0.5))
    c = make(4).minimize(n_iter=3, x0=(0.5, 0.5))
    np.testing.assert_array_equal(a.history, b.history)
    assert a.history[0] == rosenbrock(0.5, 0.5)  # = 0.25 + 100 * 0.0625
    assert not np.array_equal(a.history, c.history)
    assert len(a.runs) == 3


def test_scipy_callback_sees_best_and_can_stop():
    seen = []

    def callback(x, fun):
        seen.append((x, fun))
        return True

    res = ScipyOptimizer(
        box_quadratic, BOX_BOUNDS, verbose=False, callback=callback
    ).minimize(n_iter=4)
    assert len(res.runs) == 1 and len(seen) == 1
    assert "stopped by callback" in res.message
    assert seen[0][1] == res.fun


def test_scipy_non_traceable_loss():
    def loss(x):
        return (float(x) - 0.25) ** 2  # float() on a tracer fails

    res = ScipyOptimizer(
        loss, [(-1.0, 1.0)], method="Nelder-Mead", verbose=False
    ).minimize(n_iter=1)
    assert res.x[0] == pytest.approx(0.25, abs=1e-3)
    with pytest.raises(ValueError, match="needs the gradient of loss_fun"):
        ScipyOptimizer(loss, [(-1.0, 1.0)], method="BFGS", verbose=False).minimize()


def test_verbose_progress_bar_runs(capsys):
    ScipyOptimizer(box_quadratic, BOX_BOUNDS, verbose=True).minimize(n_iter=2)
    NevergradOptimizer(
        box_quadratic, BOX_BOUNDS, n_sample=4, seed=0, verbose=True
    ).minimize(n_iter=2)
    err = capsys.readouterr().err
    assert "SciPy L-BFGS-B" in err and "Nevergrad DE" in err


def test_dict_bounds_call_by_keyword():
    # Keyword-only arguments, listed in another order than the bounds, so a
    # positional call would fail. Minimum at lr = 0.1, momentum = 0.9.
    def loss(*, momentum, lr):
        return (lr - 0.1) ** 2 + (momentum - 0.9) ** 2

    bounds = {"lr": (0.0, 1.0), "momentum": (0.0, 1.0)}
    res = ScipyOptimizer(loss, bounds, verbose=False).minimize(n_iter=1)
    assert set(res.x) == {"lr", "momentum"}
    assert res.x["lr"] == pytest.approx(0.1, abs=1e-5)
    assert res.x["momentum"] == pytest.approx(0.9, abs=1e-5)
    ng_res = NevergradOptimizer(
        loss, bounds, n_sample=8, seed=0, verbose=False
    ).minimize(n_iter=5)
    assert set(ng_res.x) == {"lr", "momentum"}
    assert_best_seen(ng_res, loss)


def test_result_keeps_shapes_of_bounds():
    bounds = [(0.0, 1.0), (jnp.zeros((2, 3)), jnp.ones((2, 3)))]

    def loss(a, w):
        return (a - 0.5) ** 2 + jnp.sum((w - 0.25) ** 2)

    for opt in (
        ScipyOptimizer(loss, bounds, verbose=False),
        NevergradOptimizer(loss, bounds, n_sample=4, seed=0, verbose=False),
    ):
        res = opt.minimize(n_iter=2)
        assert np.shape(res.x[0]) == () and np.shape(res.x[1]) == (2, 3)


# A step function: floor(5 |x - 0.3|) summed over 3 coordinates takes integer
# values, so the best seen value is exact and compared with ==.
def floor_steps(x):
    return jnp.sum(jnp.floor(5.0 * jnp.abs(x - 0.3)))


@pytest.mark.parametrize("seed", range(20))
def test_nevergrad_reports_minimum_evaluated(seed):
    res = NevergradOptimizer(
        floor_steps, [(-jnp.ones(3), jnp.ones(3))], n_sample=8, seed=seed, verbose=False
    ).minimize(n_iter=5)
    assert res.nfev == 40 and res.nit == 5 and res.success
    assert_best_seen(res, floor_steps)


def test_nevergrad_seed_repeats_run():
    def run(seed, method):
        return NevergradOptimizer(
            floor_steps,
            [(-jnp.ones(3), jnp.ones(3))],
            method=method,
            n_sample=6,
            seed=seed,
            verbose=False,
        ).minimize(n_iter=4)

    for method in ("DE", "CMA", "OnePlusOne"):
        a, b, c = run(7, method), run(7, method), run(8, method)
        np.testing.assert_array_equal(a.history, b.history)
        np.testing.assert_array_equal(a.x[0], b.x[0])
        assert not np.array_equal(a.history, c.history)


def test_nevergrad_batches_with_vmap():
    calls = []

    def traceable(x):
        calls.append(1)
        return jnp.sum(x**2)

    res = NevergradOptimizer(
        traceable, [(-jnp.ones(2), jnp.ones(2))], n_sample=10, seed=0, verbose=False
    ).minimize(n_iter=6)
    assert res.nfev == 60 and len(calls) == 1  # traced once, then compiled

    def python_only(x):
        calls.append(1)
        return float(np.sum(np.asarray(x) ** 2))  # not traceable

    calls.clear()
    res = NevergradOptimizer(
        python_only, [(-jnp.ones(2), jnp.ones(2))], n_sample=10, seed=0, verbose=False
    ).minimize(n_iter=6)
    assert res.nfev == 60 and len(calls) == 1 + 60  # failed trace, then a loop


def test_nevergrad_fixed_entries_stay_fixed():
    res = NevergradOptimizer(
        lambda x: jnp.sum(x**2),
        [(jnp.array([-1.0, 0.5]), jnp.array([1.0, 0.5]))],
        n_sample=4,
        seed=0,
        verbose=False,
    ).minimize(n_iter=3)
    assert res.x[0][1] == 0.5


def test_nevergrad_budget_sets_rounds():
    opt = NevergradOptimizer(
        floor_steps,
        [(-jnp.ones(3), jnp.ones(3))],
        n_sample=8,
        budget=20,
        seed=0,
        verbose=False,
    )
    res = opt.minimize()
    assert res.nit == 3 and res.nfev == 24  # ceil(20 / 8) rounds of 8


@pytest.mark.parametrize(
    ("bounds", "match"),
    [
        ([(1.0, 0.5)], r"bounds\[0\]: low must be <= high, got low=1.0 > high=0.5"),
        (
            {"lr": (1.0, 0.5)},
            r"bounds\['lr'\]: low must be <= high, got low=1.0 > high=0.5",
        ),
        (
            [(0.0, 1.0), (np.zeros(2), np.array([1.0, -1.0]))],
            r"bounds\[1\]: low must be <= high, got low\[1\]=0.0 > high\[1\]=-1.0",
        ),
        (
            [(np.zeros(2), np.ones(3))],
            r"bounds\[0\]: low and high must have the same shape, "
            r"got \(2,\) and \(3,\)",
        ),
        ([(0.0, np.inf)], r"bounds\[0\]: low and high must be finite"),
        ([(0.0, 1.0, 2.0)], r"bounds\[0\] must be a \(low, high\) pair, got 3 values"),
        ([], "at least one"),
    ],
)
def test_bad_bounds(bounds, match):
    with pytest.raises(ValueError, match=match):
        ScipyOptimizer(lambda *a, **k: 0.0, bounds)
    with pytest.raises(ValueError, match=match):
        NevergradOptimizer(lambda *a, **k: 0.0, bounds)


def test_bad_methods_and_arguments():
    with pytest.raises(ValueError, match=r"method must be one of 'Nelder-Mead', .*"):
        ScipyOptimizer(box_quadratic, BOX_BOUNDS, method="adam")
    with pytest.raises(ValueError, match=r"did you mean 'DE'"):
        NevergradOptimizer(box_quadratic, BOX_BOUNDS, method="DEE")
    with pytest.raises(ValueError, match=r"'BFGS' does not accept constraints"):
        ScipyOptimizer(
            constrained_loss, [(0, 1), (0, 1)], method="BFGS", constraints=CONSTRAINTS
        )
    with pytest.raises(ValueError, match=r"\['type'\] must be 'eq' or 'ineq'"):
        ScipyOptimizer(
            constrained_loss, [(0, 1), (0, 1)], constraints={"type": "le", "fun": abs}
        )
    with pytest.raises(ValueError, match=r"use n_sample=1, got n_sample=4"):
        NevergradOptimizer(box_quadratic, BOX_BOUNDS, method="NelderMead", n_sample=4)
    with pytest.raises(ValueError, match=r"n_sample must be an integer >= 1, got 0"):
        NevergradOptimizer(box_quadratic, BOX_BOUNDS, n_sample=0)
    with pytest.raises(ValueError, match=r"n_iter is required"):
        NevergradOptimizer(box_quadratic, BOX_BOUNDS, verbose=False).minimize()
    with pytest.raises(ValueError, match=r"n_iter must be an integer >= 1, got 0"):
        ScipyOptimizer(box_quadratic, BOX_BOUNDS, verbose=False).minimize(n_iter=0)
    with pytest.raises(ValueError, match=r"x0\[0\] must have shape \(2,\)"):
        ScipyOptimizer(box_quadratic, BOX_BOUNDS, verbose=False).minimize(x0=[0.0])
    with pytest.raises(ValueError, match=r"x0\[0\] must lie within bounds\[0\]"):
        ScipyOptimizer(box_quadratic, BOX_BOUNDS, verbose=False).minimize(
            x0=[np.array([5.0, 0.0])]
        )
    with pytest.raises(ValueError, match=r"loss_fun must return a scalar"):
        ScipyOptimizer(lambda x: x, BOX_BOUNDS, verbose=False).minimize()
    with pytest.raises(ValueError, match=r"loss_fun must return a scalar"):
        NevergradOptimizer(lambda x: x, BOX_BOUNDS, verbose=False).minimize(1)
