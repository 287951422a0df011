"""L-BFGS: iterations and function evaluations to reach a gradient tolerance.

Problems: Rosenbrock in 2 and 100 dimensions from the classic start
``(-1.2, 1, -1.2, 1, ...)``, and an L2-regularised logistic regression on
synthetic data. All three solvers keep 10 pairs of memory and stop at the first
iterate with ``max|grad| <= tol``:

- brainoptim ``LBFGS(lr=1, memory_size=10, line_search_fn='zoom')``, one
  ``update(grads, value=, value_fn=)`` per iteration in a compiled step (float32);
- torch ``LBFGS(history_size=10, line_search_fn='strong_wolfe')`` (float32);
- SciPy ``L-BFGS-B`` (``maxcor=10``, float64).

An evaluation is one loss-and-gradient computation: for brainoptim the gradient at
each iterate plus each line-search trial.
"""

from __future__ import annotations

import time

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

import brainoptim

MAX_ITER = 2000


def rosenbrock(x, data, xp):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def logreg(w, data, xp):
    a, b = data
    z = a @ w
    return xp.mean(xp.logaddexp(xp.zeros_like(z), z) - b * z) + 0.5e-2 * xp.sum(w * w)


def rosen_start(n: int) -> np.ndarray:
    x = np.ones(n)
    x[0::2] = -1.2
    return x


def logreg_data(n: int = 1000, d: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    b = (a @ w + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    return a, b


def problems() -> dict:
    """name -> (f(x, data, xp), x0, data as float64 NumPy, tolerance)."""
    return {
        "rosenbrock-2d": (rosenbrock, rosen_start(2), (), 1e-4),
        "rosenbrock-100d": (rosenbrock, rosen_start(100), (), 1e-4),
        "logistic-regression": (logreg, np.zeros(20), logreg_data(), 1e-5),
    }


def run_brainoptim(f, x0, data, tol) -> dict:
    data = tuple(jnp.asarray(a, jnp.float32) for a in data)
    w = brainstate.ParamState(jnp.asarray(x0, jnp.float32))
    opt = brainoptim.LBFGS(lr=1.0, memory_size=10, line_search_fn="zoom")
    opt.register_trainable_weights({"x": w})

    def value_fn(v):
        return f(v["x"], data, jnp)

    @brainstate.transform.jit
    def step():
        loss, g = jax.value_and_grad(value_fn)({"x": w.value})
        opt.update(g, value=loss, value_fn=value_fn)
        return loss, jnp.max(jnp.abs(g["x"])), _linesearch_steps(opt.opt_state.value)

    # The step computes the gradient at iterate k, then moves to k + 1: the run
    # stops at the first k whose gradient is within tolerance.
    evals = 0
    t0 = time.perf_counter()
    k = 0
    for k in range(MAX_ITER + 1):  # noqa: B007 - k is the result
        loss, gmax, ls = step()
        evals += 1
        if float(gmax) <= tol:
            break
        evals += int(ls)
    return {
        "iterations": k,
        "evaluations": evals,
        "converged": float(gmax) <= tol,
        "loss": float(loss),
        "seconds": time.perf_counter() - t0,
    }


def _linesearch_steps(state) -> jax.Array:
    total = jnp.zeros([], jnp.int32)
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        if "num_linesearch_steps" in jax.tree_util.keystr(path):
            total = total + leaf.astype(jnp.int32)
    return total


def run_torch(f, x0, data, tol) -> dict:
    import torch

    data = tuple(torch.tensor(a, dtype=torch.float32) for a in data)
    x = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float32))
    opt = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=MAX_ITER,
        max_eval=MAX_ITER * 5,
        tolerance_grad=tol,
        tolerance_change=0.0,
        history_size=10,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = f(x, data, torch)
        loss.backward()
        return loss

    t0 = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - t0
    state = opt.state[x]
    loss = closure().item()
    gmax = float(x.grad.abs().max())
    return {
        "iterations": int(state["n_iter"]),
        "evaluations": int(state["func_evals"]),
        "converged": gmax <= tol,
        "loss": loss,
        "seconds": seconds,
    }


def run_scipy(f, x0, data, tol) -> dict:
    from scipy.optimize import minimize

    def fun(x):
        with jax.enable_x64(True):
            v, g = _scipy_grad(f)(jnp.asarray(x), tuple(map(jnp.asarray, data)))
            return float(v), np.asarray(g, np.float64)

    t0 = time.perf_counter()
    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        options=dict(maxcor=10, gtol=tol, ftol=0.0, maxiter=MAX_ITER, maxfun=MAX_ITER),
    )
    _, g = fun(res.x)
    return {
        "iterations": int(res.nit),
        "evaluations": int(res.nfev),
        "converged": float(np.max(np.abs(g))) <= tol,
        "loss": float(res.fun),
        "seconds": time.perf_counter() - t0,
    }


_GRADS: dict = {}


def _scipy_grad(f):
    if f not in _GRADS:
        _GRADS[f] = jax.jit(jax.value_and_grad(lambda x, d: f(x, d, jnp)))
    return _GRADS[f]


def run(log=print) -> dict:
    out = {"max_iter": MAX_ITER, "problems": {}}
    for name, (f, x0, data, tol) in problems().items():
        log(f"  L-BFGS: {name}")
        row = {"tol": tol, "dim": len(x0)}
        row["brainoptim"] = run_brainoptim(f, x0, data, tol)
        row["torch"] = run_torch(f, x0, data, tol)
        row["scipy"] = run_scipy(f, x0, data, tol)
        out["problems"][name] = row
    return out
