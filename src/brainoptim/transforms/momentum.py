"""Sign- and momentum-based rules as torch.optim defines them: SGD momentum, Rprop.

optax's ``trace`` has no dampening and optax has no Rprop, so both are written here
in optax's protocol.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["scale_by_sgd_momentum", "scale_by_rprop", "SgdMomentumState", "RpropState"]


class SgdMomentumState(NamedTuple):
    """State of :func:`scale_by_sgd_momentum`.

    Attributes:
        count: steps taken so far (the first step starts the buffer without dampening).
        momentum_buffer: :math:`b_t`.
    """

    count: jax.Array
    momentum_buffer: optax.Updates


def scale_by_sgd_momentum(
    momentum: float, dampening: float = 0.0, nesterov: bool = False
) -> optax.GradientTransformation:
    r"""Heavy-ball or Nesterov momentum with dampening, as ``torch.optim.SGD``.

    .. math::

        b_1 = g_1, \qquad b_t = \mu b_{t-1} + (1 - \tau) g_t \quad (t > 1)

        u_t = g_t + \mu b_t \ \text{(nesterov)}, \qquad u_t = b_t \ \text{(otherwise)}

    Args:
        momentum: :math:`\mu \ge 0`.
        dampening: :math:`\tau`; the first step is never dampened, as in torch.
        nesterov: use the Nesterov form.

    References:
        Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and
        momentum in deep learning", ICML 2013.
    """

    def init_fn(params):
        return SgdMomentumState(
            count=jnp.zeros([], jnp.int32),
            momentum_buffer=optax.tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None):
        del params
        first = state.count == 0

        buf = jax.tree.map(
            lambda b, g: jnp.where(first, g, momentum * b + (1.0 - dampening) * g),
            state.momentum_buffer,
            updates,
        )

        if nesterov:
            updates = jax.tree.map(lambda g, b: g + momentum * b, updates, buf)
        else:
            updates = buf
        count = optax.safe_increment(state.count)
        return updates, SgdMomentumState(count=count, momentum_buffer=buf)

    return optax.GradientTransformation(init_fn, update_fn)


class RpropState(NamedTuple):
    """State of :func:`scale_by_rprop`.

    Attributes:
        prev: the previous gradient (zeroed where its sign changed), :math:`g_{t-1}`.
        step_size: the per-element step size :math:`\\Delta_t`.
    """

    prev: optax.Updates
    step_size: optax.Updates


def scale_by_rprop(
    init_step_size: float,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50.0),
) -> optax.GradientTransformation:
    r"""Resilient backpropagation as ``torch.optim.Rprop`` (no weight backtracking).

    .. math::

        s_t = \operatorname{sign}(g_t g_{t-1}), \qquad
        \Delta_t = \operatorname{clip}\big(\Delta_{t-1}\,\eta(s_t),
                   \Delta_{\min}, \Delta_{\max}\big)

        \tilde g_t = 0 \text{ where } s_t < 0, \ g_t \text{ elsewhere}, \qquad
        u_t = \operatorname{sign}(\tilde g_t)\,\Delta_t

    with :math:`\eta(+) = \eta_+`, :math:`\eta(-) = \eta_-`, :math:`\eta(0) = 1` and
    :math:`\Delta_0` the initial step size. :math:`\tilde g_t` is remembered as
    :math:`g_t` for the next step, so after a sign change the gradient counts as zero.
    The output is the step itself; negate it to descend.

    Args:
        init_step_size: :math:`\Delta_0` (torch's ``lr``).
        etas: :math:`(\eta_-, \eta_+)`, with :math:`0 < \eta_- < 1 < \eta_+`.
        step_sizes: :math:`(\Delta_{\min}, \Delta_{\max})`.

    References:
        Riedmiller, Braun, "A direct adaptive method for faster backpropagation
        learning: the RPROP algorithm", ICNN 1993.
    """
    eta_minus, eta_plus = etas
    step_min, step_max = step_sizes

    def init_fn(params):
        return RpropState(
            prev=optax.tree.zeros_like(params),
            step_size=jax.tree.map(lambda p: jnp.full_like(p, init_step_size), params),
        )

    def update_fn(updates, state, params=None):
        del params
        sign = jax.tree.map(lambda g, p: jnp.sign(g * p), updates, state.prev)

        factor = jax.tree.map(
            lambda s: jnp.where(s > 0, eta_plus, jnp.where(s < 0, eta_minus, 1.0)),
            sign,
        )
        step_size = jax.tree.map(
            lambda d, f: jnp.clip(d * f, step_min, step_max).astype(d.dtype),
            state.step_size,
            factor,
        )

        grad = jax.tree.map(lambda g, s: jnp.where(s < 0, 0.0, g), updates, sign)
        updates = jax.tree.map(
            lambda g, d: (jnp.sign(g) * d).astype(g.dtype), grad, step_size
        )
        return updates, RpropState(prev=grad, step_size=step_size)

    return optax.GradientTransformation(init_fn, update_fn)
