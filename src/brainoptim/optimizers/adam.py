"""The Adam family: Adam, AdamW, NAdam, RAdam, Adamax, AdaBelief, Yogi."""

from __future__ import annotations

from .. import transforms as T
from .._base import Optimizer

__all__ = ["Adam", "AdamW", "NAdam", "RAdam", "Adamax", "AdaBelief", "Yogi"]

_ARGS = """
    Args:
        lr: the learning rate, ``>= 0``, a float or a scheduler.
        betas: :math:`(\\beta_1, \\beta_2)`, each in [0, 1).
        eps: :math:`\\epsilon \\ge 0`.
        weight_decay: :math:`\\lambda \\ge 0`.
        **options: the shell's options (:class:`~brainoptim.Optimizer`)."""


class Adam(Optimizer):
    (
        r"""Adam, as ``torch.optim.Adam`` (AMSGrad with ``amsgrad=True``).

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
        \theta_t = \theta_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t)}
                   {\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    ``weight_decay`` is added to the gradient, or with ``decoupled_weight_decay``
    applied as :math:`\theta \leftarrow \theta(1-\eta\lambda)` (AdamW).
    """
        + _ARGS
        + """
        amsgrad: use :math:`\\max_{s\\le t} v_s` (see ``scale_by_adam``).
        decoupled_weight_decay: AdamW's decay.

    References:
        Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.

    Example:
        >>> import brainstate, jax.numpy as jnp, brainoptim
        >>> w = brainstate.ParamState(jnp.ones(2))
        >>> opt = brainoptim.Adam(lr=0.1)
        >>> opt.register_trainable_weights({'w': w})
        >>> opt.update({'w': jnp.ones(2)})
        >>> w.value.round(4)
        Array([0.9, 0.9], dtype=float32)
    """
    )

    transform = staticmethod(T.adam)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, decoupled_weight_decay=False, **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad,
                         decoupled_weight_decay=decoupled_weight_decay,
                         **options)  # fmt: skip


class AdamW(Optimizer):
    (
        r"""AdamW: Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    .. math:: \theta_t = \theta_{t-1}(1 - \eta\lambda) - \eta\,\hat m_t /
              (\sqrt{\hat v_t} + \epsilon)
    """
        + _ARGS
        + """ Default 1e-2.
        amsgrad: the AMSGrad variant.

    References:
        Loshchilov, Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """
    )

    transform = staticmethod(T.adamw)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, **options)  # fmt: skip


class NAdam(Optimizer):
    (
        r"""NAdam with torch's momentum schedule :math:`\mu_t = \beta_1(1 - \frac12
    0.96^{t\psi})`; see :func:`~brainoptim.transforms.adaptive.scale_by_nadam`.
    """
        + _ARGS
        + """
        momentum_decay: :math:`\\psi \\ge 0`. Default 4e-3.
        decoupled_weight_decay: decay as AdamW does.

    References:
        torch.optim.NAdam; Dozat, "Incorporating Nesterov Momentum into Adam", ICLR
        workshop 2016.
    """
    )

    transform = staticmethod(T.nadam)

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False,
                 **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay,
                         **options)  # fmt: skip


class RAdam(Optimizer):
    (
        r"""Rectified Adam, as ``torch.optim.RAdam``; see
    :func:`~brainoptim.transforms.adaptive.scale_by_radam`.
    """
        + _ARGS
        + """
        decoupled_weight_decay: decay as AdamW does.

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR
        2020. https://arxiv.org/abs/1908.03265
    """
    )

    transform = staticmethod(T.radam)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay,
                         **options)  # fmt: skip


class Adamax(Optimizer):
    (
        r"""Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``; see
    :func:`~brainoptim.transforms.adaptive.scale_by_adamax`.
    """
        + _ARGS
        + """

    References:
        Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, sec. 7.
    """
    )

    transform = staticmethod(T.adamax)

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         **options)  # fmt: skip


class AdaBelief(Optimizer):
    (
        r"""AdaBelief: Adam whose second moment tracks :math:`(g_t - m_t)^2`; optax's
    rule, with decoupled weight decay.
    """
        + _ARGS
        + """
        eps_root: added inside the square root. Default 1e-16.

    References:
        Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
        Observed Gradients", NeurIPS 2020. https://arxiv.org/abs/2010.07468
    """
    )

    transform = staticmethod(T.adabelief)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, eps_root=1e-16,
                 weight_decay=0.0, **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps, eps_root=eps_root,
                         weight_decay=weight_decay, **options)  # fmt: skip


class Yogi(Optimizer):
    r"""Yogi: Adam with an additive second-moment update,
    :math:`v_t = v_{t-1} - (1-\beta_2)\operatorname{sign}(v_{t-1}-g_t^2)g_t^2`;
    optax's rule.

    Args:
        lr: the learning rate, ``>= 0``. Default 1e-2.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon \ge 0`. Default 1e-3.
        initial_accumulator_value: :math:`v_0 \ge 0`. Default 1e-6.
        **options: the shell's options.

    References:
        Zaheer et al., "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018.
    """

    transform = staticmethod(T.yogi)

    def __init__(self, lr=1e-2, betas=(0.9, 0.999), eps=1e-3,
                 initial_accumulator_value=1e-6, **options):  # fmt: skip
        super().__init__(lr, betas=betas, eps=eps,
                         initial_accumulator_value=initial_accumulator_value,
                         **options)  # fmt: skip
