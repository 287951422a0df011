"""Cosine annealing, with restarts, and linear warmup schedules."""

from __future__ import annotations

from ._base import PY, LRScheduler, check_int, check_lr

__all__ = [
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "WarmupCosineSchedule",
    "WarmupScheduler",
]


class CosineAnnealingLR(LRScheduler):
    r"""Anneals the lr from its base value to ``eta_min`` along a cosine.

    .. math::
        \eta_k = \eta_{\min} + (\eta_0 - \eta_{\min})
        \,\frac{1 + \cos(\pi k / T_{\max})}{2}

    Past ``T_max`` the cosine continues, so the lr climbs back to :math:`\eta_0`
    at ``2 * T_max``, as in torch. ``eta_min`` is absolute, the same for every
    param group. ``step()`` follows torch's recursive form, ``step(epoch)`` and
    the optax schedule the closed form above; they agree to rounding. In a
    :class:`ChainedScheduler` torch's recursion restarts the cosine from its
    trough past ``T_max`` without the other factors, so a chain holding this
    schedule has no closed form.

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        T_max: half period :math:`T_{\max}` in epochs, an integer ``>= 1``.
        eta_min: the lowest lr :math:`\eta_{\min}`, ``>= 0``. Default 0.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        Loshchilov, I. and Hutter, F. "SGDR: Stochastic Gradient Descent with
        Warm Restarts", ICLR 2017. https://arxiv.org/abs/1608.03983

    Example:
        >>> sched = CosineAnnealingLR(base_lr=1.0, T_max=2)
        >>> sched.step()
        >>> round(sched.current_lr, 12)
        0.5
    """

    def __init__(
        self, base_lr: float, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        self.T_max = check_int("T_max", T_max, 1)
        self.eta_min = check_lr("eta_min", eta_min)
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group, lr):
        if self._is_initial:
            return lr
        k, t, eta = self.last_epoch, self.T_max, self.eta_min
        base = self._groups.base_lrs[group]
        if (k - 1 - t) % (2 * t) == 0:
            # The ratio below is 0/0 at the trough; step up from it directly.
            return lr + (base - eta) * (1 - PY.cos(PY.pi / t)) / 2
        ratio = (1 + PY.cos(PY.pi * k / t)) / (1 + PY.cos(PY.pi * (k - 1) / t))
        return ratio * (lr - eta) + eta

    def _closed(self, k, group, xp):
        base, eta = self._groups.base_lrs[group], self.eta_min
        return eta + (base - eta) * (1 + xp.cos(xp.pi * k / self.T_max)) / 2


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing that restarts at the base lr, with growing periods.

    .. math::
        \eta_k = \eta_{\min} + (\eta_0 - \eta_{\min})
        \,\frac{1 + \cos(\pi T_{cur} / T_i)}{2},

    where period :math:`i` lasts :math:`T_i = T_0 T_{mult}^i` epochs and
    :math:`T_{cur}` counts the epochs since the last restart.

    Args:
        base_lr: initial lr :math:`\eta_0` of the first group, ``>= 0``.
        T_0: length of the first period, an integer ``>= 1``.
        T_mult: growth of the period after each restart, an integer ``>= 1``.
        eta_min: the lowest lr :math:`\eta_{\min}`, ``>= 0``, the same for every
            param group. Default 0.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        Loshchilov, I. and Hutter, F. "SGDR: Stochastic Gradient Descent with
        Warm Restarts", ICLR 2017. https://arxiv.org/abs/1608.03983

    Example:
        >>> sched = CosineAnnealingWarmRestarts(base_lr=0.5, T_0=1, T_mult=2)
        >>> sched.step(2)
        >>> round(sched.current_lr, 12)
        0.25
    """

    def __init__(
        self,
        base_lr: float,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ):
        self.T_0 = check_int("T_0", T_0, 1)
        self.T_mult = check_int("T_mult", T_mult, 1)
        self.eta_min = check_lr("eta_min", eta_min)
        self.T_i = self.T_0
        self.T_cur = last_epoch
        super().__init__(base_lr, last_epoch)

    def _advance(self):
        self.T_cur += 1
        if self.T_cur >= self.T_i:
            self.T_cur = self.T_cur - self.T_i
            self.T_i = self.T_i * self.T_mult

    def _seek(self, epoch):
        self.T_cur, self.T_i = self._position(epoch, PY)

    def _position(self, k, xp):
        """``(T_cur, T_i)`` at epoch ``k``."""
        t0, m = self.T_0, self.T_mult
        if m == 1:
            return k % t0, t0

        def start(n):  # the epoch at which period n begins
            return t0 * (m**n - 1) // (m - 1)

        # The log gives the period up to rounding; one integer correction each way.
        guess = xp.floor(xp.log(k / t0 * (m - 1) + 1) / xp.log(m))
        n = guess.astype("int32") if hasattr(guess, "astype") else int(guess)
        n = n + (start(n + 1) <= k) * 1 - (start(n) > k) * 1
        return k - start(n), t0 * m**n

    def _next_lr(self, group, lr):
        return self._cosine(self.T_cur, self.T_i, group, PY)

    def _closed(self, k, group, xp):
        t_cur, t_i = self._position(k, xp)
        return self._cosine(t_cur, t_i, group, xp)

    def _cosine(self, t_cur, t_i, group, xp):
        base, eta = self._groups.base_lrs[group], self.eta_min
        return eta + (base - eta) * (1 + xp.cos(xp.pi * t_cur / t_i)) / 2


class WarmupCosineSchedule(LRScheduler):
    r"""Linear warmup to the base lr, then cosine annealing to ``eta_min``.

    With :math:`W` = ``warmup_steps`` and :math:`T` = ``total_steps``:

    .. math::
        \eta_k = \begin{cases}
            \eta_s + (\eta_0 - \eta_s)\, k / W & k < W \\
            \eta_{\min} + (\eta_0 - \eta_{\min})\,
            \frac{1 + \cos\left(\pi \min(k - W,\, T - W) / (T - W)\right)}{2}
            & k \ge W
        \end{cases}

    After ``total_steps`` the lr stays at ``eta_min``. ``warmup_start_lr`` and
    ``eta_min`` are absolute, the same for every param group. The arguments are
    those of ``braintools.optim.WarmupCosineSchedule``.

    Args:
        base_lr: peak lr :math:`\eta_0` of the first group, ``>= 0``.
        warmup_steps: :math:`W`, an integer ``>= 0``.
        total_steps: :math:`T`, an integer ``> warmup_steps``.
        warmup_start_lr: :math:`\eta_s`, ``>= 0``. Default 0.
        eta_min: :math:`\eta_{\min}`, ``>= 0``. Default 0.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        Goyal, P. et al. "Accurate, Large Minibatch SGD: Training ImageNet in
        1 Hour", 2017. https://arxiv.org/abs/1706.02677 (warmup);
        Loshchilov, I. and Hutter, F. "SGDR", ICLR 2017.
        https://arxiv.org/abs/1608.03983 (cosine).

    Example:
        >>> sched = WarmupCosineSchedule(base_lr=1.0, warmup_steps=2, total_steps=4)
        >>> [round(sched(k).item(), 6) for k in range(6)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        base_lr: float,
        warmup_steps: int,
        total_steps: int,
        warmup_start_lr: float = 0.0,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ):
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0)
        self.total_steps = check_int("total_steps", total_steps, 1)
        if self.total_steps <= self.warmup_steps:
            raise ValueError(
                f"total_steps must be > warmup_steps ({self.warmup_steps}), "
                f"got {total_steps}"
            )
        self.warmup_start_lr = check_lr("warmup_start_lr", warmup_start_lr)
        self.eta_min = check_lr("eta_min", eta_min)
        super().__init__(base_lr, last_epoch)

    def _closed(self, k, group, xp):
        base, w, t = self._groups.base_lrs[group], self.warmup_steps, self.total_steps
        eta = self.eta_min
        done = xp.minimum(k - w, t - w) / (t - w)
        cosine = eta + (base - eta) * (1 + xp.cos(xp.pi * done)) / 2
        if w == 0:
            return cosine
        start = self.warmup_start_lr
        warmup = start + (base - start) * k / w
        return xp.where(k < w, warmup, cosine)


class WarmupScheduler(LRScheduler):
    r"""Linear warmup from ``warmup_start_lr`` to the base lr, then constant.

    .. math::
        \eta_k = \eta_s + (\eta_0 - \eta_s) \min(k / W, 1)

    The schedule of ``braintools.optim.WarmupScheduler``, with its arguments and
    defaults. ``warmup_start_lr`` is absolute, the same for every param group.

    Args:
        base_lr: final lr :math:`\eta_0` of the first group, ``>= 0``. Default 1e-3.
        warmup_epochs: :math:`W`, an integer ``>= 0``; 0 means no warmup.
            Default 5.
        warmup_start_lr: :math:`\eta_s`, ``>= 0``. Default 0.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        Goyal, P. et al. "Accurate, Large Minibatch SGD: Training ImageNet in
        1 Hour", 2017. https://arxiv.org/abs/1706.02677

    Example:
        >>> sched = WarmupScheduler(base_lr=1.0, warmup_epochs=4)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(
        self,
        base_lr: float = 1e-3,
        warmup_epochs: int = 5,
        warmup_start_lr: float = 0.0,
        last_epoch: int = -1,
    ):
        self.warmup_epochs = check_int("warmup_epochs", warmup_epochs, 0)
        self.warmup_start_lr = check_lr("warmup_start_lr", warmup_start_lr)
        super().__init__(base_lr, last_epoch)

    def _closed(self, k, group, xp):
        base, start = self._groups.base_lrs[group], self.warmup_start_lr
        if self.warmup_epochs == 0:
            return base + 0.0 * k
        return start + (base - start) * xp.minimum(k / self.warmup_epochs, 1.0)
