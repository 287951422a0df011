"""brainoptim: PyTorch-style optimizers, schedulers and comparisons for brainstate.

Example:
    >>> import brainstate, jax.numpy as jnp, brainoptim
    >>> w = brainstate.ParamState(jnp.ones(3))
    >>> opt = brainoptim.Lion(lr=3e-4, betas=(0.9, 0.99), weight_decay=1e-4)
    >>> opt.register_trainable_weights({'w': w})
"""

from . import registry, schedulers, transforms
from ._base import Optimizer, OptimState
from ._jit import jit_step
from ._states import UniqueStateManager
from .checkpoint import load, save
from .optimizers import *  # noqa: F403
from .optimizers import SGD, NAdam, RMSprop
from .optimizers import __all__ as _optimizers

__version__ = "0.1.0"

#: braintools.optim's names for the same methods, so its code ports unchanged.
Nadam = NAdam
RMSProp = RMSprop


class Momentum(SGD):
    """braintools.optim's ``Momentum``: SGD with momentum 0.9 by default."""

    def __init__(self, lr=1e-3, momentum=0.9, **kwargs):
        super().__init__(lr, momentum=momentum, **kwargs)


class MomentumNesterov(SGD):
    """braintools.optim's ``MomentumNesterov``: SGD with Nesterov momentum 0.9."""

    def __init__(self, lr=1e-3, momentum=0.9, **kwargs):
        super().__init__(lr, momentum=momentum, nesterov=True, **kwargs)


# Gradient-free search and tuning import SciPy and Nevergrad, which take seconds:
# they load on first use.
_LAZY = {
    "ScipyOptimizer": "gradient_free",
    "NevergradOptimizer": "gradient_free",
    "MinimizeResult": "gradient_free",
    "tune": "tuning",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'brainoptim' has no attribute {name!r}")


__all__ = [
    *_optimizers,
    *_LAZY,
    "Optimizer",
    "OptimState",
    "UniqueStateManager",
    "jit_step",
    "save",
    "load",
    "Nadam",
    "RMSProp",
    "Momentum",
    "MomentumNesterov",
    "registry",
    "schedulers",
    "transforms",
]
