"""SGD and Rprop: momentum and sign methods, as torch.optim defines them."""

from __future__ import annotations

from .. import transforms as T
from .._base import Optimizer

__all__ = ["SGD", "Rprop"]


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum.

    .. math::

        g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
        b_t = \mu b_{t-1} + (1-\tau) g_t \ (b_1 = g_1), \qquad
        \theta_t = \theta_{t-1} - \eta\,(g_t + \mu b_t \text{ or } b_t)

    Args:
        lr: :math:`\eta \ge 0`, a float or a scheduler. Default 1e-3.
        momentum: :math:`\mu \ge 0`. Default 0.
        dampening: :math:`\tau \in [0, 1]`. Default 0.
        weight_decay: :math:`\lambda \ge 0`, added to the gradient. Default 0.
        nesterov: Nesterov momentum; needs momentum > 0 and dampening = 0.
        **options: the shell's options (:class:`~brainoptim.Optimizer`).

    References:
        torch.optim.SGD; Sutskever et al., "On the importance of initialization and
        momentum in deep learning", ICML 2013.

    Example:
        >>> import brainstate, jax.numpy as jnp, brainoptim
        >>> w = brainstate.ParamState(jnp.ones(2))
        >>> opt = brainoptim.SGD(lr=0.1, momentum=0.9)
        >>> opt.register_trainable_weights({'w': w})
        >>> opt.update({'w': jnp.ones(2)})
        >>> w.value
        Array([0.9, 0.9], dtype=float32)
    """

    transform = staticmethod(T.sgd)

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, **options):  # fmt: skip
        super().__init__(lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov,
                         **options)  # fmt: skip


class Rprop(Optimizer):
    r"""Resilient backpropagation (per-element step sizes from gradient signs).

    See :func:`brainoptim.transforms.momentum.scale_by_rprop` for the rule. As in
    torch, after a sign change the gradient counts as zero for one step, and ``lr``
    is only the initial step size.

    Args:
        lr: initial step size :math:`\Delta_0 \ge 0`. Default 1e-2.
        etas: :math:`(\eta_-, \eta_+)` with :math:`0 < \eta_- < 1 < \eta_+`.
        step_sizes: :math:`(\Delta_{\min}, \Delta_{\max})`, increasing.
        **options: the shell's options.

    References:
        torch.optim.Rprop; Riedmiller, Braun, "A direct adaptive method for faster
        backpropagation learning: the RPROP algorithm", ICNN 1993.
    """

    transform = staticmethod(T.rprop)

    def __init__(self, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), **options):
        super().__init__(lr, etas=etas, step_sizes=step_sizes, **options)
