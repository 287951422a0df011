"""Shared by the test modules (importable because pytest puts tests/ on sys.path)."""

import brainstate

from brainoptim import registry


def is_state(x) -> bool:
    return isinstance(x, brainstate.State)


def create_optimizer(name: str, **overrides):
    """A registry optimizer with ``overrides``; L-BFGS gets the cheaper backtracking
    line search (the zoom search compiles slowly when run eagerly)."""
    if name == "LBFGS":
        overrides.setdefault("line_search_fn", "backtracking")
    return registry.create(name, **overrides)
