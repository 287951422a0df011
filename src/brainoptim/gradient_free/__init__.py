"""Gradient-free and SciPy optimization over box bounds.

:class:`ScipyOptimizer` wraps ``scipy.optimize.minimize`` (with JAX gradients,
Hessians and constraint Jacobians, and random restarts); :class:`NevergradOptimizer`
wraps Nevergrad's ask/tell optimizers (with candidates evaluated in one
``jax.vmap`` batch). Both return a :class:`MinimizeResult` holding the best point
actually evaluated.
"""

from brainoptim.gradient_free._common import MinimizeResult
from brainoptim.gradient_free._nevergrad import NevergradOptimizer
from brainoptim.gradient_free._scipy import ScipyOptimizer

__all__ = ["MinimizeResult", "NevergradOptimizer", "ScipyOptimizer"]
