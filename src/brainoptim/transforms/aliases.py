"""Complete update rules, one per optimizer, in optax's protocol with torch's names.

Each function returns an ``optax.GradientTransformation`` whose updates are added to
the parameters (``optax.apply_updates``). ``learning_rate`` may be a float, a JAX
scalar, or a schedule ``count -> lr``. Hyperparameters are checked when the rule is
built; the message names the argument, the valid range and the value received.

Where optax implements a method as its reference defines it, the rule is composed
from optax's pieces; where it does not (torch-defined methods whose details optax
changes), the piece comes from :mod:`brainoptim.transforms.adaptive` or
:mod:`brainoptim.transforms.momentum`.
"""

from __future__ import annotations

import optax

from .._validation import (
    check_betas,
    check_bool,
    check_choice,
    check_int,
    check_pair,
    check_range,
)
from . import adaptive, momentum
from .wrappers import lookahead as _lookahead
from .wrappers import scalars_as_vectors

__all__ = [
    "sgd", "adam", "adamw", "nadam", "radam", "adamax", "adagrad", "adadelta",
    "rmsprop", "rprop", "lion", "adafactor", "lamb", "lars", "sm3", "yogi",
    "adabelief", "novograd", "lbfgs", "lookahead",
]  # fmt: skip


def _lr(learning_rate):
    if not callable(learning_rate):
        check_range("lr", learning_rate, 0.0)
    return optax.scale_by_learning_rate(learning_rate)


def _decay(weight_decay):
    """u <- u + wd * p. Placed before the direction it is torch's coupled decay
    (added to the gradient); placed after it, before the lr, it is decoupled decay
    p <- p (1 - lr wd) - lr u."""
    check_range("weight_decay", weight_decay, 0.0)
    return optax.add_decayed_weights(weight_decay) if weight_decay else optax.identity()


def _eps(eps):
    return check_range("eps", eps, 0.0)


def sgd(learning_rate=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False):  # fmt: skip
    """``torch.optim.SGD``: see :func:`~.momentum.scale_by_sgd_momentum`."""
    check_bool("nesterov", nesterov)
    check_range("momentum", momentum, 0.0)
    check_range("dampening", dampening, 0.0, 1.0)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "nesterov=True requires momentum > 0 and dampening = 0, got "
            f"momentum={momentum}, dampening={dampening}"
        )
    direction = (
        momentum_.scale_by_sgd_momentum(momentum, dampening, nesterov)
        if momentum > 0
        else optax.identity()
    )
    return optax.chain(_decay(weight_decay), direction, _lr(learning_rate))


momentum_ = momentum  # the module, shadowed by sgd's argument name above


def adam(learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
         amsgrad=False, decoupled_weight_decay=False):  # fmt: skip
    """``torch.optim.Adam``: coupled weight decay (added to the gradient) unless
    ``decoupled_weight_decay``, which makes it AdamW."""
    check_bool("amsgrad", amsgrad)
    check_bool("decoupled_weight_decay", decoupled_weight_decay)
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    before, after = _decay_pair(weight_decay, decoupled_weight_decay)
    direction = adaptive.scale_by_adam(b1, b2, eps, amsgrad)
    return optax.chain(before, direction, after, _lr(learning_rate))


def adamw(learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
          amsgrad=False):  # fmt: skip
    """``torch.optim.AdamW``: Adam with decoupled decay p <- p (1 - lr wd).

    References:
        Loshchilov, Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """
    return adam(learning_rate, betas, eps, weight_decay, amsgrad, True)


def _decay_pair(weight_decay, decoupled):
    """(before, after) the direction, for methods with a ``decoupled_weight_decay``."""
    if decoupled:
        return optax.identity(), _decay(weight_decay)
    return _decay(weight_decay), optax.identity()


def nadam(learning_rate=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          momentum_decay=4e-3, decoupled_weight_decay=False):  # fmt: skip
    """``torch.optim.NAdam``: see :func:`~.adaptive.scale_by_nadam`."""
    check_bool("decoupled_weight_decay", decoupled_weight_decay)
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    check_range("momentum_decay", momentum_decay, 0.0)
    before, after = _decay_pair(weight_decay, decoupled_weight_decay)
    direction = adaptive.scale_by_nadam(b1, b2, eps, momentum_decay)
    return optax.chain(before, direction, after, _lr(learning_rate))


def radam(learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          decoupled_weight_decay=False):  # fmt: skip
    """``torch.optim.RAdam``: see :func:`~.adaptive.scale_by_radam`."""
    check_bool("decoupled_weight_decay", decoupled_weight_decay)
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    before, after = _decay_pair(weight_decay, decoupled_weight_decay)
    direction = adaptive.scale_by_radam(b1, b2, eps)
    return optax.chain(before, direction, after, _lr(learning_rate))


def adamax(learning_rate=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """``torch.optim.Adamax``: see :func:`~.adaptive.scale_by_adamax`."""
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    direction = adaptive.scale_by_adamax(b1, b2, eps)
    return optax.chain(_decay(weight_decay), direction, _lr(learning_rate))


def adagrad(learning_rate=1e-2, lr_decay=0.0, weight_decay=0.0,
            initial_accumulator_value=0.0, eps=1e-10):  # fmt: skip
    """``torch.optim.Adagrad``: see :func:`~.adaptive.scale_by_adagrad`."""
    check_range("lr_decay", lr_decay, 0.0)
    check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
    _eps(eps)
    direction = adaptive.scale_by_adagrad(lr_decay, initial_accumulator_value, eps)
    return optax.chain(_decay(weight_decay), direction, _lr(learning_rate))


def adadelta(learning_rate=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    r"""``torch.optim.Adadelta`` (optax's rule is the same).

    .. math::

        v_t = \rho v_{t-1} + (1-\rho) g_t^2, \qquad
        u_t = \frac{\sqrt{a_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g_t, \qquad
        a_t = \rho a_{t-1} + (1-\rho) u_t^2

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """
    check_range("rho", rho, 0.0, 1.0)
    _eps(eps)
    direction = optax.scale_by_adadelta(rho, eps)
    return optax.chain(_decay(weight_decay), direction, _lr(learning_rate))


def rmsprop(learning_rate=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
            momentum=0.0, centered=False):  # fmt: skip
    """``torch.optim.RMSprop``: see :func:`~.adaptive.scale_by_rmsprop`."""
    check_bool("centered", centered)
    check_range("alpha", alpha, 0.0, 1.0)
    check_range("momentum", momentum, 0.0)
    _eps(eps)
    direction = adaptive.scale_by_rmsprop(alpha, eps, momentum, centered)
    return optax.chain(_decay(weight_decay), direction, _lr(learning_rate))


def rprop(learning_rate=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    """``torch.optim.Rprop``: see :func:`~.momentum.scale_by_rprop`.

    ``learning_rate`` is the initial step size only, as in torch: a schedule is read
    once, at its first step, and later steps adapt their own sizes.
    """
    etas = check_pair("etas", etas, 0.0, float("inf"), low_open=True)
    if not etas[0] < 1.0 < etas[1]:
        raise ValueError(f"etas must satisfy 0 < etas[0] < 1 < etas[1], got {etas}")
    step_sizes = check_pair("step_sizes", step_sizes, 0.0, float("inf"))
    init = learning_rate(0) if callable(learning_rate) else learning_rate
    check_range("lr", init, 0.0)
    return optax.chain(
        momentum_.scale_by_rprop(init, etas, step_sizes), optax.scale(-1.0)
    )


def lion(learning_rate=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
    r"""Lion (EvoLved Sign Momentum), optax's rule.

    .. math::

        u_t = \operatorname{sign}\big(\beta_1 m_{t-1} + (1-\beta_1) g_t\big)
              + \lambda \theta_{t-1}, \qquad
        m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023.
        https://arxiv.org/abs/2302.06675
    """
    b1, b2 = check_betas("betas", betas)
    return optax.chain(
        optax.scale_by_lion(b1, b2), _decay(weight_decay), _lr(learning_rate)
    )


def adafactor(learning_rate=1e-3, decay_rate=0.8, factored=True, clip_threshold=1.0,
              min_dim_size_to_factor=128, decay_offset=0,
              multiply_by_parameter_scale=True, momentum=None, eps=1e-30,
              weight_decay=0.0):  # fmt: skip
    r"""Adafactor, as optax implements the paper.

    The second moment of a matrix is kept as its row and column means,
    :math:`R_t` and :math:`C_t`, with :math:`\hat V_t = R_t C_t / \bar R_t`; the
    decay is :math:`\hat\beta_{2,t} = 1 - t^{-c}` (``decay_rate`` :math:`c`); the
    update :math:`g / \sqrt{\hat V}` is clipped to block RMS ``clip_threshold`` and,
    with ``multiply_by_parameter_scale``, scaled by the parameter's RMS.
    ``weight_decay`` is added after the learning rate (optax's
    ``weight_decay_rate``). Arrays whose two largest dimensions are both at least
    ``min_dim_size_to_factor`` are factored.

    References:
        Shazeer, Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
        Cost", ICML 2018. https://arxiv.org/abs/1804.04235
    """
    check_bool("factored", factored)
    check_bool("multiply_by_parameter_scale", multiply_by_parameter_scale)
    check_range("decay_rate", decay_rate, 0.0, 1.0)
    if clip_threshold is not None:
        check_range("clip_threshold", clip_threshold, 0.0, low_open=True)
    check_int("min_dim_size_to_factor", min_dim_size_to_factor, 1)
    # optax counts from 0 and raises (t - offset) to a negative power: an offset
    # above 0 makes the first step NaN.
    check_range("decay_offset", decay_offset, high=0.0)
    if momentum is not None:
        check_range("momentum", momentum, 0.0, 1.0, high_open=True)
    _eps(eps)
    check_range("weight_decay", weight_decay, 0.0)
    if not callable(learning_rate):
        check_range("lr", learning_rate, 0.0)
    return optax.adafactor(
        learning_rate=learning_rate,
        min_dim_size_to_factor=min_dim_size_to_factor,
        decay_rate=decay_rate,
        decay_offset=decay_offset,
        multiply_by_parameter_scale=multiply_by_parameter_scale,
        clipping_threshold=clip_threshold,
        momentum=momentum,
        weight_decay_rate=weight_decay or None,
        eps=eps,
        factored=factored,
    )


def lamb(learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
    r"""LAMB, optax's rule: Adam's direction plus decoupled decay, scaled per leaf by
    the trust ratio :math:`\lVert\theta\rVert / \lVert u\rVert` (1 if either is 0).

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76
        minutes", ICLR 2020. https://arxiv.org/abs/1904.00962
    """
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    check_range("weight_decay", weight_decay, 0.0)
    if not callable(learning_rate):
        check_range("lr", learning_rate, 0.0)
    return optax.lamb(learning_rate, b1, b2, eps, weight_decay=weight_decay)


def lars(learning_rate=1.0, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001,
         eps=0.0, nesterov=False):  # fmt: skip
    r"""LARS, optax's rule: (g + wd θ) scaled per leaf by
    :math:`\eta\lVert\theta\rVert / \lVert g + \lambda\theta\rVert` (1 if a norm is
    0), times the lr, then momentum.

    References:
        You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks",
        arXiv:1708.03888, 2017.
    """
    check_bool("nesterov", nesterov)
    check_range("momentum", momentum, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("trust_coefficient", trust_coefficient, 0.0, low_open=True)
    _eps(eps)
    if nesterov and momentum <= 0:
        raise ValueError(f"nesterov=True requires momentum > 0, got {momentum}")
    if not callable(learning_rate):
        check_range("lr", learning_rate, 0.0)
    return optax.lars(
        learning_rate,
        weight_decay=weight_decay,
        trust_coefficient=trust_coefficient,
        eps=eps,
        momentum=momentum,
        nesterov=nesterov,
    )


def sm3(learning_rate=1e-3, momentum=0.9, eps=1e-8):
    r"""SM3, optax's rule: one accumulator per row and per column (per index of
    each dimension), :math:`\nu = \min_r \mu_r` over the covers of an entry. A
    0-d leaf is treated as a one-element vector (optax's rule fails on it).

    References:
        Anil, Gupta, Koren, Singer, "Memory-Efficient Adaptive Optimization",
        NeurIPS 2019. https://arxiv.org/abs/1901.11150
    """
    check_range("momentum", momentum, 0.0, 1.0, high_open=True)
    _eps(eps)
    direction = scalars_as_vectors(optax.scale_by_sm3(b1=momentum, eps=eps))
    return optax.chain(direction, _lr(learning_rate))


def yogi(learning_rate=1e-2, betas=(0.9, 0.999), eps=1e-3,
         initial_accumulator_value=1e-6):  # fmt: skip
    r"""Yogi, optax's rule:
    :math:`v_t = v_{t-1} - (1-\beta_2)\operatorname{sign}(v_{t-1} - g_t^2) g_t^2`.

    References:
        Zaheer, Reddi, Sachan, Kale, Kumar, "Adaptive Methods for Nonconvex
        Optimization", NeurIPS 2018.
    """
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
    direction = optax.scale_by_yogi(
        b1, b2, eps, initial_accumulator_value=initial_accumulator_value
    )
    return optax.chain(direction, _lr(learning_rate))


def adabelief(learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-16, eps_root=1e-16,
              weight_decay=0.0):  # fmt: skip
    r"""AdaBelief, optax's rule, with decoupled weight decay:
    :math:`s_t = \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2`.

    References:
        Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
        Observed Gradients", NeurIPS 2020. https://arxiv.org/abs/2010.07468
    """
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    check_range("eps_root", eps_root, 0.0)
    return optax.chain(
        optax.scale_by_belief(b1, b2, eps, eps_root),
        _decay(weight_decay),
        _lr(learning_rate),
    )


def novograd(learning_rate=1e-3, betas=(0.9, 0.25), eps=1e-6, weight_decay=0.0):
    r"""NovoGrad, optax's rule: a per-layer second moment
    :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2)\lVert g_t\rVert^2`.

    References:
        Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive
        Moments for Training of Deep Networks", arXiv:1905.11286, 2019.
    """
    b1, b2 = check_betas("betas", betas)
    _eps(eps)
    check_range("weight_decay", weight_decay, 0.0)
    if not callable(learning_rate):
        check_range("lr", learning_rate, 0.0)
    return optax.novograd(learning_rate, b1, b2, eps, weight_decay=weight_decay)


LINE_SEARCHES = (None, "zoom", "strong_wolfe", "backtracking")


def lbfgs(learning_rate=1.0, memory_size=10, line_search_fn=None,
          max_linesearch_steps=20, scale_init_precond=True):  # fmt: skip
    r"""L-BFGS, optax's two-loop recursion, with an optional line search.

    ``line_search_fn``: ``None`` (fixed step ``learning_rate``), ``'zoom'`` (strong
    Wolfe conditions; ``'strong_wolfe'`` is torch's name for it) or
    ``'backtracking'`` (Armijo). A line search needs ``value`` and ``value_fn`` in
    ``update``. The memory is ``memory_size`` pairs of parameter-sized vectors.

    References:
        Liu, Nocedal, "On the limited memory BFGS method for large scale
        optimization", Mathematical Programming 45, 1989; Nocedal, Wright,
        "Numerical Optimization", 2nd ed., 2006, algorithms 7.4 and 3.5-3.6.
    """
    check_bool("scale_init_precond", scale_init_precond)
    check_int("memory_size", memory_size, 1)
    check_choice("line_search_fn", line_search_fn, LINE_SEARCHES)
    check_int("max_linesearch_steps", max_linesearch_steps, 1)
    if line_search_fn in ("zoom", "strong_wolfe"):
        search = optax.scale_by_zoom_linesearch(
            max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one"
        )
    elif line_search_fn == "backtracking":
        search = optax.scale_by_backtracking_linesearch(
            max_backtracking_steps=max_linesearch_steps
        )
    else:
        search = None
    if not callable(learning_rate):
        check_range("lr", learning_rate, 0.0)
    return optax.lbfgs(
        learning_rate,
        memory_size=memory_size,
        scale_init_precond=scale_init_precond,
        linesearch=search,
    )


def lookahead(inner, sync_period=5, alpha=0.5):
    """Lookahead: see :func:`~.wrappers.lookahead`."""
    check_int("sync_period", sync_period, 1)
    check_range("alpha", alpha, 0.0, 1.0, low_open=True)
    return _lookahead(inner, sync_period, alpha)
