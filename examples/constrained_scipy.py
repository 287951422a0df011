"""Fit a small tanh network whose weights must stay on a norm ball, with SLSQP.

A 1-16-1 tanh network is fitted to noisy samples of ``sin(3x)``. Its two weight
vectors must satisfy ``||w_in||^2 + ||w_out||^2 <= radius^2`` (an inequality
constraint), and its mean prediction over the inputs must equal the mean target
(an equality constraint). ScipyOptimizer runs SLSQP with gradients and
constraint Jacobians from JAX, from three random starts, and reports the best
feasible point it evaluated.

Run: ``python examples/constrained_scipy.py`` (a few seconds on a CPU).
"""

import time

import jax.numpy as jnp
import numpy as np

from brainoptim.gradient_free import ScipyOptimizer

HIDDEN = 16
RADIUS = 3.0

rng = np.random.default_rng(0)
x_train = np.linspace(-1.0, 1.0, 64)
y_train = np.sin(3.0 * x_train) + 0.05 * rng.standard_normal(x_train.shape)


def predict(w_in, b_in, w_out, b_out, x):
    hidden = jnp.tanh(x[:, None] * w_in + b_in)
    return hidden @ w_out + b_out


def mse(w_in, b_in, w_out, b_out):
    return jnp.mean((predict(w_in, b_in, w_out, b_out, x_train) - y_train) ** 2)


def inside_ball(w_in, b_in, w_out, b_out):
    """>= 0 when the weights lie in the ball of radius RADIUS."""
    return RADIUS**2 - jnp.sum(w_in**2) - jnp.sum(w_out**2)


def mean_matches(w_in, b_in, w_out, b_out):
    """== 0 when the mean prediction equals the mean target."""
    return jnp.mean(predict(w_in, b_in, w_out, b_out, x_train)) - np.mean(y_train)


box = (-3.0 * np.ones(HIDDEN), 3.0 * np.ones(HIDDEN))
bounds = {"w_in": box, "b_in": box, "w_out": box, "b_out": (-3.0, 3.0)}

optimizer = ScipyOptimizer(
    mse,
    bounds,
    method="SLSQP",
    constraints=[
        {"type": "ineq", "fun": inside_ball},
        {"type": "eq", "fun": mean_matches},
    ],
    options={"maxiter": 500},
    seed=0,
)
start = time.perf_counter()
result = optimizer.minimize(n_iter=3)
elapsed = time.perf_counter() - start

params = {name: jnp.asarray(value) for name, value in result.x.items()}
norm = float(jnp.sqrt(jnp.sum(params["w_in"] ** 2) + jnp.sum(params["w_out"] ** 2)))
print(f"SLSQP, 3 restarts: {result.message} (success={result.success})")
print(f"train MSE         {result.fun:.5f}   (noise variance 0.0025)")
print(f"weight norm       {norm:.4f}   (radius {RADIUS})")
print(f"mean residual     {float(mean_matches(**params)):.2e}")
print(f"evaluations       {result.nfev} in {elapsed:.1f} s")
