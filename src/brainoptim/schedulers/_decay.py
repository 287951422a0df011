"""Schedules that scale each group's base lr by a factor of the epoch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._base import (
    LRScheduler,
    check_int,
    check_lr,
    check_real,
    per_group,
)

__all__ = [
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "ExponentialDecayLR",
    "ConstantLR",
    "LinearLR",
    "PolynomialLR",
    "LambdaLR",
]


class StepLR(LRScheduler):
    r"""Multiplies the lr by ``gamma`` every ``step_size`` epochs.

    .. math::
        \eta_k = \eta_0 \, \gamma^{\lfloor k / s \rfloor}

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        step_size: period :math:`s` in epochs, an integer ``>= 1``.
        gamma: decay factor :math:`\gamma`, ``> 0``. Default 0.1.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.StepLR``, the reference this matches
        step for step:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> sched = StepLR(base_lr=0.1, step_size=2, gamma=0.5)
        >>> for _ in range(2):
        ...     sched.step()
        >>> sched.get_last_lr()
        [0.05]
    """

    _multiplicative = True

    def __init__(
        self, base_lr: float, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = check_real("gamma", gamma, 0.0, low_open=True)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lr
        return lr * self.gamma

    def _factor(self, k, xp):
        return self.gamma ** (k // self.step_size)


class MultiStepLR(LRScheduler):
    r"""Multiplies the lr by ``gamma`` at each milestone epoch.

    .. math::
        \eta_k = \eta_0 \, \gamma^{\#\{m \in M : m \le k\}}

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        milestones: the epochs :math:`M`, strictly increasing integers ``>= 0``.
        gamma: decay factor :math:`\gamma`, ``> 0``. Default 0.1.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.MultiStepLR``:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> sched = MultiStepLR(base_lr=1e-3, milestones=[10, 20, 30])
        >>> sched.step(25)
        >>> round(sched.current_lr, 12)
        1e-05
    """

    _multiplicative = True

    def __init__(
        self,
        base_lr: float,
        milestones: Sequence[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ):
        self.milestones = _check_milestones("milestones", milestones, 0)
        self.gamma = check_real("gamma", gamma, 0.0, low_open=True)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        if self.last_epoch in self.milestones:
            return lr * self.gamma
        return lr

    def _factor(self, k, xp):
        passed = sum((k >= m) * 1 for m in self.milestones)
        return self.gamma**passed


class ExponentialLR(LRScheduler):
    r"""Multiplies the lr by ``gamma`` every epoch.

    .. math::
        \eta_k = \eta_0 \, \gamma^k

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        gamma: decay factor :math:`\gamma`, ``> 0``.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.ExponentialLR``:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> sched = ExponentialLR(base_lr=1.0, gamma=0.5)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.5]
    """

    _multiplicative = True

    def __init__(self, base_lr: float, gamma: float, last_epoch: int = -1):
        self.gamma = check_real("gamma", gamma, 0.0, low_open=True)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        return lr if self._is_initial else lr * self.gamma

    def _factor(self, k, xp):
        return self.gamma**k


class ExponentialDecayLR(LRScheduler):
    r"""Exponential decay in the style of optax and braintools.

    .. math::
        \eta_k = \eta_0 \, r^{p_k}, \qquad
        p_k = \frac{\max(k - k_0, 0)}{T}
        \ \ (\lfloor p_k \rfloor \text{ if staircase}),

    clipped from below (``decay_rate < 1``) or above (``decay_rate > 1``) at
    ``end_value`` when given. Same arguments and defaults as
    ``braintools.optim.ExponentialDecayLR``; the epoch counts as in every
    scheduler here (construction is epoch 0).

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
            Default 1e-3.
        decay_steps: :math:`T`, an integer ``>= 1``. Default 1000.
        decay_rate: :math:`r`, ``> 0``. Default 0.96.
        transition_begin: :math:`k_0`, epochs before the decay starts, ``>= 0``.
        staircase: decay in whole multiples of ``decay_steps``. Default False.
        end_value: bound on the lr, ``>= 0``, or ``None`` for none.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        optax ``exponential_decay``:
        https://optax.readthedocs.io/en/latest/api/optimizer_schedules.html

    Example:
        >>> sched = ExponentialDecayLR(base_lr=1.0, decay_steps=2, decay_rate=0.25)
        >>> sched.step(2)
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(
        self,
        base_lr: float = 1e-3,
        decay_steps: int = 1000,
        decay_rate: float = 0.96,
        transition_begin: int = 0,
        staircase: bool = False,
        end_value: float | None = None,
        last_epoch: int = -1,
    ):
        self.decay_steps = check_int("decay_steps", decay_steps, 1)
        self.decay_rate = check_real("decay_rate", decay_rate, 0.0, low_open=True)
        self.transition_begin = check_int("transition_begin", transition_begin, 0)
        self.staircase = bool(staircase)
        self.end_value = None if end_value is None else check_lr("end_value", end_value)
        super().__init__(base_lr, last_epoch)

    def _closed(self, k, group, xp):
        p = xp.maximum(k - self.transition_begin, 0) / self.decay_steps
        if self.staircase:
            p = xp.floor(p)
        lr = self._groups.base_lrs[group] * self.decay_rate**p
        if self.end_value is not None:
            bound = xp.maximum if self.decay_rate < 1 else xp.minimum
            lr = bound(lr, self.end_value)
        return lr


class ConstantLR(LRScheduler):
    r"""Scales the lr by ``factor`` until epoch ``total_iters``.

    .. math::
        \eta_k = \eta_0 \, (f \text{ if } k < n \text{ else } 1)

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        factor: :math:`f`, in ``[0, 1]``. Default 1/3.
        total_iters: :math:`n`, an integer ``>= 1``. Default 5.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.ConstantLR``:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> ConstantLR(base_lr=0.3, factor=0.5).get_last_lr()
        [0.15]
    """

    _multiplicative = True

    def __init__(
        self,
        base_lr: float,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        self.factor = check_real("factor", factor, 0.0, 1.0)
        self.total_iters = check_int("total_iters", total_iters, 1)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        if self.last_epoch == 0:
            return lr * self.factor
        if self.last_epoch != self.total_iters:
            return lr
        if self.factor == 0:
            # Undoing a zero factor by division is impossible; restart from base.
            return self._groups.base_lrs[group]
        return lr * (1.0 / self.factor)

    def _factor(self, k, xp):
        return self.factor + (k >= self.total_iters) * (1 - self.factor)


class LinearLR(LRScheduler):
    r"""Moves the lr factor linearly from ``start_factor`` to ``end_factor``.

    .. math::
        \eta_k = \eta_0 \left(f_s + (f_e - f_s)\,\frac{\min(k, n)}{n}\right)

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        start_factor: :math:`f_s`, in ``(0, 1]``. Default 1/3.
        end_factor: :math:`f_e`, in ``[0, 1]``. Default 1.
        total_iters: :math:`n`, an integer ``>= 1``. Default 5.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.LinearLR``:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> sched = LinearLR(base_lr=1.0, start_factor=0.5, total_iters=2)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.75]
    """

    _multiplicative = True

    def __init__(
        self,
        base_lr: float,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        self.start_factor = check_real(
            "start_factor", start_factor, 0.0, 1.0, low_open=True
        )
        self.end_factor = check_real("end_factor", end_factor, 0.0, 1.0)
        self.total_iters = check_int("total_iters", total_iters, 1)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        if self.last_epoch == 0:
            return lr * self.start_factor
        if self.last_epoch > self.total_iters:
            return lr
        span = self.end_factor - self.start_factor
        previous = self.total_iters * self.start_factor + (self.last_epoch - 1) * span
        return lr * (1.0 + span / previous)

    def _factor(self, k, xp):
        span = self.end_factor - self.start_factor
        return self.start_factor + span * xp.minimum(self.total_iters, k) / (
            self.total_iters
        )


class PolynomialLR(LRScheduler):
    r"""Decays the lr to zero over ``total_iters`` epochs with a polynomial.

    .. math::
        \eta_k = \eta_0 \left(1 - \frac{\min(k, n)}{n}\right)^{p}

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        total_iters: :math:`n`, an integer ``>= 1``. Default 5.
        power: :math:`p`, ``>= 0``. Default 1.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.PolynomialLR``:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> sched = PolynomialLR(base_lr=1.0, total_iters=4, power=2.0)
        >>> sched.step(2)
        >>> sched.get_last_lr()
        [0.25]
    """

    _multiplicative = True

    def __init__(
        self,
        base_lr: float,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ):
        self.total_iters = check_int("total_iters", total_iters, 1)
        self.power = check_real("power", power, 0.0)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        if self._is_initial or self.last_epoch > self.total_iters:
            return lr
        n, k = self.total_iters, self.last_epoch
        return lr * ((1.0 - k / n) / (1.0 - (k - 1) / n)) ** self.power

    def _factor(self, k, xp):
        n = self.total_iters
        return (1.0 - xp.minimum(n, k) / n) ** self.power


class LambdaLR(LRScheduler):
    r"""Sets the lr of each group to its base lr times a function of the epoch.

    .. math::
        \eta_k = \eta_0 \, \lambda(k)

    The functions are not part of :meth:`state_dict` (msgpack cannot hold them):
    build the scheduler with the same ``lr_lambda`` again, then load the state.
    Used as an optax schedule, ``lr_lambda`` must be traceable by jax.

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        lr_lambda: :math:`\lambda`, a function of the integer epoch, or a list of
            such functions, one per param group.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        PyTorch ``torch.optim.lr_scheduler.LambdaLR``:
        https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate

    Example:
        >>> sched = LambdaLR(base_lr=0.1, lr_lambda=lambda k: 0.5**k)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.05]
    """

    def __init__(
        self,
        base_lr: float,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ):
        if isinstance(lr_lambda, list | tuple):
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda]
        for i, fn in enumerate(lambdas):
            if not callable(fn):
                raise ValueError(f"lr_lambda[{i}] must be callable, got {fn!r}")
        self._lr_lambda_arg = lambdas if isinstance(lr_lambda, list | tuple) else None
        self.lr_lambdas: list[Callable[[int], float]] = []
        self._single_lambda = lambdas[0]
        super().__init__(base_lr, last_epoch)

    def _on_group_added(self, group):
        if self._lr_lambda_arg is None:
            self.lr_lambdas.append(self._single_lambda)
        else:
            self.lr_lambdas.append(per_group("lr_lambda", self._lr_lambda_arg, group))

    def _closed(self, k, group, xp):
        return self._groups.base_lrs[group] * self.lr_lambdas[group](k)


def _check_milestones(name: str, milestones, minimum: int) -> list[int]:
    if not isinstance(milestones, Sequence) or isinstance(milestones, str):
        raise ValueError(f"{name} must be a list of integers, got {milestones!r}")
    out = [check_int(f"{name}[{i}]", m, minimum) for i, m in enumerate(milestones)]
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise ValueError(
                f"{name} must be strictly increasing, got {list(milestones)}"
            )
    return out
