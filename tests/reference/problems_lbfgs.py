"""L-BFGS test problems, written once for torch, NumPy and JAX (``xp`` is the module).

Each entry: (loss(x, xp), x0, tolerance on max |gradient|).
"""

import numpy as np


def rosenbrock(x, xp):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


_rng = np.random.default_rng(3)
_A = _rng.normal(size=(200, 10)).astype(np.float32)
_w_true = _rng.normal(size=10)
_Y = (_A @ _w_true + 0.5 * _rng.normal(size=200) > 0).astype(np.float32)


def logistic(w, xp):
    a, y = xp.asarray(_A), xp.asarray(_Y)
    z = a @ w
    softplus = xp.log1p(xp.exp(-xp.abs(z))) + xp.clip(z, 0, None)
    return xp.mean(softplus - y * z) + 1e-3 * xp.sum(w * w)


PROBLEMS = {
    "rosenbrock_2d": (rosenbrock, [-1.5, 2.0], 1e-3),
    "rosenbrock_100d": (rosenbrock, [-1.2, 1.0] * 50, 1e-3),
    "logistic": (logistic, [0.0] * 10, 1e-5),
}
