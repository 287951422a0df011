"""Adaptive rules whose torch.optim definition optax does not reproduce.

optax's Adam, AMSGrad, NAdam, RAdam, Adamax, Adagrad and RMSprop differ from torch's
in where ``eps`` enters, in what is bias-corrected and how precisely, or in the
momentum schedule. Each
rule below follows torch's algorithm box; each returns the descent direction
(before the learning rate).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "scale_by_adam",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_adamax",
    "scale_by_adagrad",
    "scale_by_rmsprop",
]


def _moment(g, m, decay, order=1):
    return jax.tree.map(
        lambda g, m: decay * m + (1.0 - decay) * (g if order == 1 else g * g), g, m
    )


def _bias(decay, count):
    """1 - decay^t, accurate to float32 rounding.

    ``decay`` is a Python float: its log is taken in float64, as torch computes the
    whole correction. In float32, ``0.999 ** t`` rounds 0.999 itself and puts a
    1e-5 relative error into ``1 - 0.999 ** 1``.
    """
    if decay == 0.0:
        return jnp.ones([], jnp.float32)
    return -jnp.expm1(count.astype(jnp.float32) * math.log(decay))


class AdamState(NamedTuple):
    r""":math:`m_t` = ``exp_avg``, :math:`v_t` = ``exp_avg_sq``, and
    :math:`v^{\max}_t` = ``max_exp_avg_sq`` (AMSGrad only, else empty)."""

    count: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates
    max_exp_avg_sq: optax.Updates


def scale_by_adam(
    b1=0.9, b2=0.999, eps=1e-8, amsgrad=False
) -> optax.GradientTransformation:
    r"""Adam's direction as ``torch.optim.Adam`` computes it, AMSGrad included.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2

        u_t = \frac{m_t / (1-\beta_1^t)}{\sqrt{\tilde v_t / (1-\beta_2^t)} + \epsilon},
        \qquad \tilde v_t = v_t \ \text{or, with AMSGrad,} \
        \max(\tilde v_{t-1}, v_t)

    Same rule as ``optax.scale_by_adam``, but the bias corrections are exact to
    float32 (see ``_bias``); AMSGrad takes the maximum of the raw second moment,
    then bias-corrects (optax's ``amsgrad`` bias-corrects first).

    References:
        Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015; Reddi,
        Kale, Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
    """

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        v_max = zeros if amsgrad else ()
        return AdamState(jnp.zeros([], jnp.int32), zeros, zeros, v_max)

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        m = _moment(updates, state.exp_avg, b1)
        v = _moment(updates, state.exp_avg_sq, b2, 2)
        v_max = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, v) if amsgrad else ()

        bc1, bc2 = _bias(b1, count), _bias(b2, count)
        updates = jax.tree.map(
            lambda m, v: (m / bc1) / (jnp.sqrt(v) / jnp.sqrt(bc2) + eps),
            m,
            v_max if amsgrad else v,
        )
        return updates, AdamState(count, m, v, v_max)

    return optax.GradientTransformation(init_fn, update_fn)


class NadamState(NamedTuple):
    """``mu_product`` is :math:`\\prod_{i \\le t} \\mu_i`."""

    count: jax.Array
    mu_product: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def scale_by_nadam(
    b1=0.9, b2=0.999, eps=1e-8, momentum_decay=4e-3
) -> optax.GradientTransformation:
    r"""Nesterov-accelerated Adam with torch's momentum schedule.

    .. math::

        \mu_t = \beta_1\big(1 - \tfrac12\, 0.96^{t\psi}\big), \qquad
        \Pi_t = \textstyle\prod_{i\le t} \mu_i

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        d_t = \sqrt{v_t / (1-\beta_2^t)} + \epsilon

        u_t = \frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{d_t}
            + \frac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\,\frac{m_t}{d_t}

    Args:
        momentum_decay: :math:`\psi`.

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016.
    """

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        return NadamState(
            jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32), zeros, zeros
        )

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        t = count.astype(jnp.float32)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * momentum_decay))
        mu_product = state.mu_product * mu
        mu_product_next = mu_product * mu_next

        m = _moment(updates, state.exp_avg, b1)
        v = _moment(updates, state.exp_avg_sq, b2, 2)
        bc2 = _bias(b2, count)

        def direction(g, m, v):
            denom = jnp.sqrt(v / bc2) + eps
            grad_part = (1.0 - mu) / (1.0 - mu_product) * (g / denom)
            return grad_part + mu_next / (1.0 - mu_product_next) * (m / denom)

        updates = jax.tree.map(direction, updates, m, v)
        return updates, NadamState(count, mu_product, m, v)

    return optax.GradientTransformation(init_fn, update_fn)


class RadamState(NamedTuple):
    count: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def scale_by_radam(b1=0.9, b2=0.999, eps=1e-8) -> optax.GradientTransformation:
    r"""Rectified Adam, as ``torch.optim.RAdam``.

    .. math::

        \rho_\infty = \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t}

        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}
                         {(\rho_\infty-4)(\rho_\infty-2)\rho_t}}

        u_t = \frac{m_t}{1-\beta_1^t}
              \cdot \frac{r_t\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}
              \ \text{if } \rho_t > 5, \qquad
        u_t = \frac{m_t}{1-\beta_1^t} \ \text{otherwise}

    ``eps`` is added to :math:`\sqrt{v_t}` before bias correction, as torch does
    (optax adds it after).

    References:
        Liu, Jiang, He, Chen, Liu, Gao, Han, "On the Variance of the Adaptive
        Learning Rate and Beyond", ICLR 2020.
    """
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        return RadamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        m = _moment(updates, state.exp_avg, b1)
        v = _moment(updates, state.exp_avg_sq, b2, 2)
        bc1, bc2 = _bias(b1, count), _bias(b2, count)

        rectify, rect = _radam_rectifier(count, b2, rho_inf)

        def direction(m, v):
            m_hat = m / bc1
            adaptive = rect * jnp.sqrt(bc2) / (jnp.sqrt(v) + eps)
            return jnp.where(rectify, m_hat * adaptive, m_hat)

        updates = jax.tree.map(direction, m, v)
        return updates, RadamState(count, m, v)

    return optax.GradientTransformation(init_fn, update_fn)


def _radam_rectifier(count, b2, rho_inf):
    """(rho_t > 5, r_t), computed in float64 like torch's Python scalars.

    rho_t is a difference of two numbers near rho_inf (about 2000 for
    beta2 = 0.999); in float32 it would lose three digits of r_t.
    """
    with jax.enable_x64(True):
        t = count.astype(jnp.float64)
        rho_t = rho_inf - 2.0 * t * b2**t / (1.0 - b2**t)
        rectify = rho_t > 5.0
        safe = jnp.where(rectify, rho_t, rho_inf)
        rect = jnp.sqrt(
            (safe - 4.0)
            * (safe - 2.0)
            * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe)
        )
        return rectify, rect.astype(jnp.float32)


class AdamaxState(NamedTuple):
    """``exp_inf`` is the exponentially weighted infinity norm :math:`u_t`."""

    count: jax.Array
    exp_avg: optax.Updates
    exp_inf: optax.Updates


def scale_by_adamax(b1=0.9, b2=0.999, eps=1e-8) -> optax.GradientTransformation:
    r"""Adamax, as ``torch.optim.Adamax`` (``eps`` inside the maximum).

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        n_t = \max(\beta_2 n_{t-1}, |g_t| + \epsilon), \qquad
        u_t = \frac{m_t}{(1-\beta_1^t)\, n_t}

    References:
        Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, sec. 7.
    """

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        return AdamaxState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        m = _moment(updates, state.exp_avg, b1)
        n = jax.tree.map(
            lambda n, g: jnp.maximum(b2 * n, jnp.abs(g) + eps), state.exp_inf, updates
        )
        bc1 = _bias(b1, count)
        updates = jax.tree.map(lambda m, n: m / (bc1 * n), m, n)
        return updates, AdamaxState(count, m, n)

    return optax.GradientTransformation(init_fn, update_fn)


class AdagradState(NamedTuple):
    """``sum`` is the running sum of squared gradients :math:`G_t`."""

    count: jax.Array
    sum: optax.Updates


def scale_by_adagrad(
    lr_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
) -> optax.GradientTransformation:
    r"""Adagrad, as ``torch.optim.Adagrad``.

    .. math::

        G_t = G_{t-1} + g_t^2, \qquad
        u_t = \frac{1}{1 + (t-1)\,\lambda_{\text{decay}}}\,
              \frac{g_t}{\sqrt{G_t} + \epsilon}

    with :math:`G_0` = ``initial_accumulator_value``. optax puts ``eps`` inside
    the square root.

    References:
        Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 2011.
    """

    def init_fn(params):
        return AdagradState(
            jnp.zeros([], jnp.int32),
            jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params),
        )

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        decay = 1.0 / (1.0 + (count.astype(jnp.float32) - 1.0) * lr_decay)
        acc = jax.tree.map(lambda s, g: s + g * g, state.sum, updates)
        updates = jax.tree.map(
            lambda g, s: decay * g / (jnp.sqrt(s) + eps), updates, acc
        )
        return updates, AdagradState(count, acc)

    return optax.GradientTransformation(init_fn, update_fn)


class RmspropState(NamedTuple):
    """``square_avg`` :math:`v_t`, ``grad_avg`` :math:`\\bar g_t` (centered only),
    ``momentum_buffer`` :math:`b_t` (momentum only)."""

    square_avg: optax.Updates
    grad_avg: optax.Updates
    momentum_buffer: optax.Updates


def scale_by_rmsprop(
    alpha=0.99, eps=1e-8, momentum=0.0, centered=False
) -> optax.GradientTransformation:
    r"""RMSprop, as ``torch.optim.RMSprop`` (``eps`` outside the square root).

    .. math::

        v_t = \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t

        d_t = \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered)}, \qquad
        d_t = \sqrt{v_t} + \epsilon \ \text{(otherwise)}

        b_t = \mu b_{t-1} + g_t / d_t, \quad u_t = b_t \ \text{if } \mu > 0,
        \qquad u_t = g_t / d_t \ \text{otherwise}

    Buffers that a configuration does not use are kept empty (no memory).

    References:
        Hinton, Srivastava, Swersky, "Neural Networks for Machine Learning",
        lecture 6e, 2012; Graves, "Generating Sequences With Recurrent Neural
        Networks", arXiv:1308.0850, 2013 (centered form).
    """

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        return RmspropState(
            square_avg=zeros,
            grad_avg=zeros if centered else (),
            momentum_buffer=zeros if momentum > 0 else (),
        )

    def update_fn(updates, state, params=None):
        del params
        v = _moment(updates, state.square_avg, alpha, 2)
        grad_avg = state.grad_avg
        if centered:
            grad_avg = _moment(updates, state.grad_avg, alpha)
            denom = jax.tree.map(lambda v, a: jnp.sqrt(v - a * a) + eps, v, grad_avg)
        else:
            denom = jax.tree.map(lambda v: jnp.sqrt(v) + eps, v)

        direction = jax.tree.map(lambda g, d: g / d, updates, denom)
        buf = state.momentum_buffer
        if momentum > 0:
            buf = jax.tree.map(lambda b, u: momentum * b + u, buf, direction)
            direction = buf
        return direction, RmspropState(v, grad_avg, buf)

    return optax.GradientTransformation(init_fn, update_fn)
