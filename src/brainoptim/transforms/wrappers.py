"""Transforms that wrap or precede another: Lookahead and overflow-safe clipping."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "LookaheadState",
    "lookahead",
    "clip_by_global_norm",
    "scalars_as_vectors",
]


class LookaheadState(NamedTuple):
    """State of :func:`lookahead`.

    Attributes:
        count: fast steps taken, :math:`t`.
        slow_params: the slow weights :math:`\\phi`.
        inner_state: the state of the fast optimizer.
    """

    count: jax.Array
    slow_params: optax.Params
    inner_state: Any


def lookahead(
    inner: optax.GradientTransformation, sync_period: int = 5, alpha: float = 0.5
) -> optax.GradientTransformationExtraArgs:
    r"""Lookahead around any transformation (the fast optimizer).

    The fast weights :math:`\theta` follow ``inner``; every :math:`k` steps

    .. math::

        \phi \leftarrow \phi + \alpha(\theta - \phi), \qquad \theta \leftarrow \phi

    The fast optimizer's state is kept across synchronisations. With
    :math:`\alpha = 1` the fast optimizer is reproduced exactly.

    Args:
        inner: the fast optimizer, a full update rule (learning rate included).
        sync_period: :math:`k \ge 1`.
        alpha: :math:`\alpha \in (0, 1]`, the slow step size.

    References:
        Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step
        back", NeurIPS 2019. https://arxiv.org/abs/1907.08610
    """
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        return LookaheadState(
            count=jnp.zeros([], jnp.int32),
            slow_params=jax.tree.map(jnp.asarray, params),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("lookahead needs params in update(updates, state, params)")
        fast_updates, inner_state = inner.update(
            updates, state.inner_state, params, **extra_args
        )
        count = optax.safe_increment(state.count)
        if alpha == 1.0:
            slow = optax.apply_updates(params, fast_updates)
            slow = jax.tree.map(
                lambda new, old: jnp.where(count % sync_period == 0, new, old),
                slow,
                state.slow_params,
            )
            return fast_updates, LookaheadState(count, slow, inner_state)

        sync = count % sync_period == 0
        fast = optax.apply_updates(params, fast_updates)
        slow = jax.tree.map(
            lambda s, f: jnp.where(sync, s + alpha * (f - s), s),
            state.slow_params,
            fast,
        )
        out = jax.tree.map(
            lambda u, s, p: jnp.where(sync, s - p, u), fast_updates, slow, params
        )
        return out, LookaheadState(count, slow, inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _rescaled_norm(leaves) -> tuple[jax.Array, jax.Array]:
    """(e, n): 2^e bounds the largest magnitude and n = ||leaves * 2^-e||.

    Scaling by a power of two (``ldexp``) is exact and forms no reciprocal, which
    would be subnormal, and flushed to zero on CPU, for magnitudes near 1e38.
    """
    scale = jnp.max(
        jnp.stack([jnp.max(jnp.abs(x)).astype(jnp.float32) for x in leaves])
    )
    _, e = jnp.frexp(scale)
    norm = jnp.sqrt(
        sum(jnp.sum(jnp.square(jnp.ldexp(x.astype(jnp.float32), -e))) for x in leaves)
    )
    return e, norm


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    r"""Scales all updates together so that their global norm is at most ``max_norm``.

    .. math:: g \leftarrow g \cdot \min\!\big(1, c / \lVert g \rVert_2\big)

    Same rule as ``optax.clip_by_global_norm``, computed on leaves rescaled by a
    power of two, so that huge gradients (up to float32's largest) are clipped
    along their direction instead of to zero or to NaN.
    """
    if max_norm < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")

    def update_fn(updates, state, params=None):
        del params
        leaves = jax.tree.leaves(updates)
        if not leaves:
            return updates, state
        e, norm = _rescaled_norm(leaves)
        # Compare in the rescaled space: ||g|| > c  <=>  norm > c 2^-e.
        clip = norm > jnp.ldexp(jnp.float32(max_norm), -e)
        factor = jnp.where(clip, max_norm / jnp.where(clip, norm, 1.0), 1.0)
        updates = jax.tree.map(
            lambda g: jnp.where(
                clip, jnp.ldexp(g.astype(jnp.float32), -e) * factor, g
            ).astype(g.dtype),
            updates,
        )
        return updates, state

    return optax.GradientTransformation(optax.init_empty_state, update_fn)


def scalars_as_vectors(
    inner: optax.GradientTransformation,
) -> optax.GradientTransformation:
    """Runs ``inner`` with every 0-d leaf seen as a one-element vector.

    For rules whose accumulators index the dimensions of each array (SM3), a
    scalar then behaves exactly as a one-element vector would.
    """

    def up(tree):
        return jax.tree.map(lambda x: jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x,
                            tree)  # fmt: skip

    def init_fn(params):
        return inner.init(up(params))

    def update_fn(updates, state, params=None):
        new, state = inner.update(
            up(updates), state, None if params is None else up(params)
        )
        return jax.tree.map(
            lambda n, u: jnp.reshape(n, jnp.shape(u)), new, updates
        ), state

    return optax.GradientTransformation(init_fn, update_fn)
