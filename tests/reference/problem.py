"""The fixed problem on which every optimizer's trajectory is compared.

Three parameters (a matrix, a vector, a scalar); the gradient at step t is
``0.5 * p + noise[t]``: a quadratic pull towards zero plus fixed noise, so the path
depends on the optimizer's own iterates while rounding differences stay damped.
"""

import numpy as np

STEPS = 25
SHAPES = {"w": (4, 3), "b": (3,), "s": ()}


def initial_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}


def noise() -> dict[str, np.ndarray]:
    """Noise of shape (STEPS, *shape) per parameter."""
    rng = np.random.default_rng(1)
    return {
        k: rng.normal(size=(STEPS, *s)).astype(np.float32) for k, s in SHAPES.items()
    }


def grad(params, noise_t):
    return {k: np.float32(0.5) * params[k] + noise_t[k] for k in params}
