"""Per-coordinate and memory-saving adaptive methods: Adagrad, Adadelta, RMSprop,
Adafactor, SM3, NovoGrad."""

from __future__ import annotations

from .. import transforms as T
from .._base import Optimizer

__all__ = ["Adagrad", "Adadelta", "RMSprop", "Adafactor", "SM3", "Novograd"]


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad``; see
    :func:`~brainoptim.transforms.adaptive.scale_by_adagrad`.

    Args:
        lr: the learning rate, ``>= 0``. Default 1e-2.
        lr_decay: ``>= 0``; the step is divided by :math:`1 + (t-1)\,` lr_decay.
        weight_decay: ``>= 0``, added to the gradient.
        initial_accumulator_value: the starting sum of squares, ``>= 0``.
        eps: ``>= 0``, added to the root. Default 1e-10.
        **options: the shell's options.

    References:
        Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 2011.
    """

    transform = staticmethod(T.adagrad)

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, **options):  # fmt: skip
        super().__init__(lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value,
                         eps=eps, **options)  # fmt: skip


class Adadelta(Optimizer):
    r"""Adadelta, as ``torch.optim.Adadelta``; see
    :func:`brainoptim.transforms.adadelta`.

    Args:
        lr: scales the step, ``>= 0``. Default 1.0.
        rho: the decay of both running averages, in [0, 1]. Default 0.9.
        eps: ``>= 0``, inside both roots. Default 1e-6.
        weight_decay: ``>= 0``, added to the gradient.
        **options: the shell's options.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """

    transform = staticmethod(T.adadelta)

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, **options):
        super().__init__(lr, rho=rho, eps=eps, weight_decay=weight_decay, **options)


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop`` (centered and momentum variants); see
    :func:`~brainoptim.transforms.adaptive.scale_by_rmsprop`.

    Args:
        lr: ``>= 0``. Default 1e-2.
        alpha: the smoothing constant, in [0, 1]. Default 0.99.
        eps: ``>= 0``, added to the root. Default 1e-8.
        weight_decay: ``>= 0``, added to the gradient.
        momentum: ``>= 0``. Default 0.
        centered: divide by the estimated standard deviation instead.
        **options: the shell's options.

    References:
        Hinton, "Neural Networks for Machine Learning", lecture 6e, 2012.
    """

    transform = staticmethod(T.rmsprop)

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, **options):  # fmt: skip
        super().__init__(lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered,
                         **options)  # fmt: skip


class Adafactor(Optimizer):
    r"""Adafactor: factored second moments (rows and columns of each matrix).

    optax's implementation of the paper; see :func:`brainoptim.transforms.adafactor`
    for the rule. A matrix of shape (n, m) keeps n + m second-moment numbers when
    both of its largest dimensions are at least ``min_dim_size_to_factor``.

    Args:
        lr: ``>= 0``. Default 1e-3.
        decay_rate: :math:`c` in :math:`\hat\beta_{2,t} = 1 - t^{-c}`. Default 0.8.
        factored: factor the second moment of arrays of rank >= 2.
        clip_threshold: the update's block RMS is clipped to this (``None``: off).
        min_dim_size_to_factor: smallest dimension that is factored. Default 128.
        decay_offset: shifts :math:`t` in the decay. Default 0.
        multiply_by_parameter_scale: scale updates by the parameter's RMS.
        momentum: first-moment decay, or ``None`` for none (the paper's default).
        eps: regulariser of the squared gradient. Default 1e-30.
        weight_decay: ``>= 0``, optax's ``weight_decay_rate``.
        **options: the shell's options.

    References:
        Shazeer, Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
        Cost", ICML 2018. https://arxiv.org/abs/1804.04235
    """

    transform = staticmethod(T.adafactor)

    def __init__(self, lr=1e-3, decay_rate=0.8, factored=True, clip_threshold=1.0,
                 min_dim_size_to_factor=128, decay_offset=0,
                 multiply_by_parameter_scale=True, momentum=None, eps=1e-30,
                 weight_decay=0.0, **options):  # fmt: skip
        super().__init__(lr, decay_rate=decay_rate, factored=factored,
                         clip_threshold=clip_threshold,
                         min_dim_size_to_factor=min_dim_size_to_factor,
                         decay_offset=decay_offset,
                         multiply_by_parameter_scale=multiply_by_parameter_scale,
                         momentum=momentum, eps=eps, weight_decay=weight_decay,
                         **options)  # fmt: skip


class SM3(Optimizer):
    r"""SM3: one accumulator per index of each dimension (memory n + m for an
    (n, m) matrix); optax's rule, see :func:`brainoptim.transforms.sm3`.

    A 0-d parameter is treated as a one-element vector.

    Args:
        lr: ``>= 0``. Default 1e-3.
        momentum: first-moment decay in [0, 1). Default 0.9.
        eps: ``>= 0``. Default 1e-8.
        **options: the shell's options.

    References:
        Anil, Gupta, Koren, Singer, "Memory-Efficient Adaptive Optimization",
        NeurIPS 2019. https://arxiv.org/abs/1901.11150
    """

    transform = staticmethod(T.sm3)

    def __init__(self, lr=1e-3, momentum=0.9, eps=1e-8, **options):
        super().__init__(lr, momentum=momentum, eps=eps, **options)


class Novograd(Optimizer):
    r"""NovoGrad: Adam-like with one second moment per layer; optax's rule.

    Args:
        lr: ``>= 0``. Default 1e-3.
        betas: :math:`(\beta_1, \beta_2)` in [0, 1). Default (0.9, 0.25).
        eps: ``>= 0``. Default 1e-6.
        weight_decay: ``>= 0``.
        **options: the shell's options.

    References:
        Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive
        Moments for Training of Deep Networks", arXiv:1905.11286, 2019.
    """

    transform = staticmethod(T.novograd)

    def __init__(self, lr=1e-3, betas=(0.9, 0.25), eps=1e-6, weight_decay=0.0,
                 **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         **options)  # fmt: skip
