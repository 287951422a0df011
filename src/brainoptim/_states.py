"""Finding the brainstate States in a pytree, and the gradients that belong to them."""

from __future__ import annotations

from typing import Any

import brainstate
import jax
import jax.numpy as jnp
from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

__all__ = [
    "UniqueStateManager",
    "flatten_states",
    "subtree",
    "path_str",
    "is_low_precision",
]


def _is_state(x: Any) -> bool:
    return isinstance(x, brainstate.State)


def path_str(path: tuple) -> str:
    """A readable key path: ``('l1', 'weight')`` or ``['layers'][0]``."""
    if len(path) == 1 and isinstance(path[0], DictKey):
        return repr(path[0].key)
    return jax.tree_util.keystr(path)


def flatten_states(tree: Any) -> list[tuple[tuple, brainstate.State]]:
    """Every State in ``tree`` with its key path; raises on a leaf that is no State."""
    if _is_state(tree):
        return [((), tree)]
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_state)
    out = []
    for path, leaf in leaves:
        if not _is_state(leaf):
            raise TypeError(
                f"expected brainstate States, but the entry at {path_str(path)} is "
                f"{type(leaf).__name__}; pass model.states(brainstate.ParamState)"
            )
        out.append((path, leaf))
    return out


def subtree(tree: Any, path: tuple) -> Any:
    """The entry of ``tree`` at ``path``; raises KeyError naming the missing key."""
    node = tree
    for entry in path:
        try:
            if isinstance(entry, DictKey):
                node = node[entry.key]
            elif isinstance(entry, SequenceKey):
                node = node[entry.idx]
            elif isinstance(entry, GetAttrKey):
                node = getattr(node, entry.name)
            elif isinstance(entry, FlattenedIndexKey):
                node = jax.tree_util.tree_leaves(node, is_leaf=lambda x: x is None)[
                    entry.key
                ]
            else:
                raise KeyError(entry)
        except (KeyError, IndexError, AttributeError, TypeError):
            raise KeyError(path_str(path)) from None
    return node


class UniqueStateManager:
    """Collects the States of a pytree once each, keyed by their first path.

    A State reachable under two paths (a tied weight) is kept once, under the first
    path, so an optimizer updates it once.

    Args:
        pytree: a State, or a pytree (dict, list, brainstate's ``FlattedDict`` ...) of
            States, e.g. ``model.states(brainstate.ParamState)``.

    Example:
        >>> import brainstate, jax.numpy as jnp
        >>> w = brainstate.ParamState(jnp.ones(3))
        >>> mgr = UniqueStateManager({'a': w, 'b': w})
        >>> list(mgr.to_pytree())
        ['a']
    """

    def __init__(self, pytree: Any = None):
        self._items: dict[Any, brainstate.State] = {}
        if pytree is not None:
            self.merge(pytree)

    def merge(self, pytree: Any) -> UniqueStateManager:
        """Adds the States of ``pytree`` not already held; returns ``self``."""
        seen = {id(s) for s in self._items.values()}
        for path, state in flatten_states(pytree):
            if id(state) in seen:
                continue
            seen.add(id(state))
            self._items[self._key(path)] = state
        return self

    @staticmethod
    def _key(path: tuple) -> Any:
        if len(path) == 1 and isinstance(path[0], DictKey):
            return path[0].key
        return tuple(
            getattr(e, "key", getattr(e, "idx", getattr(e, "name", e))) for e in path
        )

    def to_pytree(self) -> dict[Any, brainstate.State]:
        """A dict ``key -> State``, each State once."""
        return dict(self._items)

    def to_pytree_value(self) -> dict[Any, Any]:
        """A dict ``key -> State.value``."""
        return {k: s.value for k, s in self._items.items()}

    @property
    def num_unique_states(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)


def is_low_precision(dtype) -> bool:
    return jnp.dtype(dtype) in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))
