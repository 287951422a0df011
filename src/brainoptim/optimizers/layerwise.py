"""Sign and layer-wise trust-ratio methods: Lion, LAMB, LARS."""

from __future__ import annotations

from .. import transforms as T
from .._base import Optimizer

__all__ = ["Lion", "Lamb", "Lars"]


class Lion(Optimizer):
    r"""Lion: the sign of an interpolated momentum, with decoupled weight decay.

    .. math::

        \theta_t = \theta_{t-1} - \eta\big(\operatorname{sign}(\beta_1 m_{t-1}
                   + (1-\beta_1) g_t) + \lambda\theta_{t-1}\big), \qquad
        m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t

    Args:
        lr: :math:`\eta \ge 0`. Default 1e-4.
        betas: :math:`(\beta_1, \beta_2)` in [0, 1). Default (0.9, 0.99).
        weight_decay: :math:`\lambda \ge 0`. Default 0.
        **options: the shell's options.

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023.
        https://arxiv.org/abs/2302.06675

    Example:
        >>> import brainstate, jax.numpy as jnp, brainoptim
        >>> w = brainstate.ParamState(jnp.zeros(()))
        >>> opt = brainoptim.Lion(lr=0.1, betas=(0.9, 0.99))
        >>> opt.register_trainable_weights({'w': w})
        >>> opt.update({'w': jnp.asarray(1.0)})
        >>> w.value
        Array(-0.1, dtype=float32)
    """

    transform = staticmethod(T.lion)

    def __init__(self, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, **options):
        super().__init__(lr, betas=betas, weight_decay=weight_decay, **options)


class Lamb(Optimizer):
    r"""LAMB: Adam's step with decoupled decay, rescaled per parameter by the trust
    ratio :math:`\lVert\theta\rVert / \lVert u\rVert` (1 where a norm is 0);
    optax's rule.

    Args:
        lr: ``>= 0``. Default 1e-3.
        betas: :math:`(\beta_1, \beta_2)` in [0, 1).
        eps: ``>= 0``. Default 1e-6.
        weight_decay: ``>= 0``.
        **options: the shell's options (the tutorial uses ``grad_clip_value``).

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76
        minutes", ICLR 2020. https://arxiv.org/abs/1904.00962
    """

    transform = staticmethod(T.lamb)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                 **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         **options)  # fmt: skip


class Lars(Optimizer):
    r"""LARS: the gradient plus decay, rescaled per parameter by
    :math:`c\lVert\theta\rVert / \lVert g + \lambda\theta\rVert` (1 where a norm
    is 0), then momentum; optax's rule.

    Args:
        lr: ``>= 0``. Default 1.0.
        momentum: ``>= 0``. Default 0.9.
        weight_decay: :math:`\lambda \ge 0`.
        trust_coefficient: :math:`c > 0`. Default 1e-3.
        eps: ``>= 0``, added to the denominator. Default 0.
        nesterov: Nesterov momentum.
        **options: the shell's options.

    References:
        You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks",
        arXiv:1708.03888, 2017.
    """

    transform = staticmethod(T.lars)

    def __init__(self, lr=1.0, momentum=0.9, weight_decay=0.0, trust_coefficient=1e-3,
                 eps=0.0, nesterov=False, **options):  # fmt: skip
        super().__init__(lr, momentum=momentum, weight_decay=weight_decay,
                         trust_coefficient=trust_coefficient, eps=eps,
                         nesterov=nesterov, **options)  # fmt: skip
