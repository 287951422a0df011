"""Pure update rules in optax's protocol.

Every optimizer class in brainoptim names one of the rules in :mod:`.aliases`; use
them directly to train functionally::

    tx = brainoptim.transforms.lion(learning_rate=3e-4, betas=(0.9, 0.99))
    state = tx.init(params)
    updates, state = tx.update(grads, state, params)
"""

from . import adaptive, momentum, wrappers
from .aliases import *  # noqa: F403
from .aliases import __all__ as _aliases
from .wrappers import clip_by_global_norm

__all__ = [*_aliases, "clip_by_global_norm", "adaptive",
           "momentum", "wrappers"]  # fmt: skip
