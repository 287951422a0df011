"""Reducing the learning rate when a monitored metric stops improving."""

from __future__ import annotations

import math

from ._base import (
    LRScheduler,
    check_choice,
    check_int,
    check_lr,
    check_real,
    per_group,
)

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    r"""Multiplies the lr by ``factor`` when the metric has stopped improving.

    A metric :math:`m` improves on the best so far :math:`b` when, in mode
    ``min``,

    .. math::
        m < b - \theta\,|b| \ \ (\texttt{rel}) \qquad m < b - \theta \ \ (\texttt{abs})

    (``max``: :math:`m > b + \theta |b|` or :math:`m > b + \theta`). After more
    than ``patience`` epochs without improvement every group's lr becomes
    :math:`\max(\eta\,f, \eta_{\min})`, unless that changes it by ``eps`` or less;
    then ``cooldown`` epochs pass before bad epochs count again.

    The relative threshold uses :math:`|b|`, so a negative metric is judged as
    a positive one is; torch's ``b (1 - \theta)`` is the same for :math:`b > 0` and
    makes a constant negative metric look ever-improving. The schedule depends on
    the metrics, so it has no closed form: ``step(epoch)`` without a metric and
    the optax schedule (``__call__``) are not available.

    Args:
        base_lr: initial lr of the first group, ``>= 0``.
        mode: ``'min'`` (lower is better) or ``'max'``. Default ``'min'``.
        factor: :math:`f`, in ``(0, 1)``. Default 0.1.
        patience: bad epochs tolerated, an integer ``>= 0``. Default 10.
        threshold: :math:`\theta`, ``>= 0``. Default 1e-4.
        threshold_mode: ``'rel'`` or ``'abs'``. Default ``'rel'``.
        cooldown: epochs to wait after a reduction, an integer ``>= 0``.
        min_lr: :math:`\eta_{\min}`, ``>= 0``, or one per param group. Default 0.
        eps: smallest change of lr applied, ``>= 0``. Default 1e-8.

    References:
        PyTorch ``torch.optim.lr_scheduler.ReduceLROnPlateau``:
        https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html

    Example:
        >>> sched = ReduceLROnPlateau(base_lr=1.0, patience=0, factor=0.5)
        >>> for loss in [1.0, 1.0]:
        ...     sched.step(loss)
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(
        self,
        base_lr: float,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ):
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.factor = check_real(
            "factor", factor, 0.0, 1.0, low_open=True, high_open=True
        )
        self.patience = check_int("patience", patience, 0)
        self.threshold = check_real("threshold", threshold, 0.0)
        self.threshold_mode = check_choice(
            "threshold_mode", threshold_mode, ("rel", "abs")
        )
        self.cooldown = check_int("cooldown", cooldown, 0)
        if isinstance(min_lr, list | tuple):
            self._min_lr_arg = [
                check_lr(f"min_lr[{i}]", v) for i, v in enumerate(min_lr)
            ]
        else:
            self._min_lr_arg = check_lr("min_lr", min_lr)
        self.eps = check_real("eps", eps, 0.0)
        self.min_lrs: list[float] = []
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(base_lr, -1)

    def _on_group_added(self, group):
        self.min_lrs.append(per_group("min_lr", self._min_lr_arg, group))

    def _initial_step(self):
        self.last_epoch = 0
        self._groups.publish()

    def _new_group_lr(self, group):
        return self._groups.base_lrs[group]

    def _closed(self, k, group, xp):
        raise NotImplementedError(
            "ReduceLROnPlateau follows the metrics given to step(metrics), so it has "
            "no closed form and cannot be used as an optax schedule"
        )

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.threshold_mode == "abs":
            if self.mode == "min":
                return metric < best - self.threshold
            return metric > best + self.threshold
        # best * (1 -/+ threshold) is torch's form for best > 0; using |best| keeps
        # the rule right for negative metrics.
        if self.mode == "min":
            scale = 1.0 - self.threshold if best >= 0 else 1.0 + self.threshold
            return metric < best * scale
        scale = 1.0 + self.threshold if best >= 0 else 1.0 - self.threshold
        return metric > best * scale

    def step(self, metrics: float, epoch: int | None = None) -> None:
        """Records the metric of the epoch just finished and updates the lrs.

        Args:
            metrics: the monitored value, a finite number.
            epoch: the epoch to record it as; the next one when ``None``.
        """
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise ValueError(
                f"metrics must be a finite number, got {metrics!r}"
            ) from None
        if not math.isfinite(current):
            raise ValueError(f"metrics must be a finite number, got {current}")
        if epoch is None:
            self.last_epoch += 1
        else:
            self.last_epoch = check_int("epoch", epoch, 0)

        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1

        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0

        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

        self._n_steps += 1
        self._last_lrs = list(self._groups.lrs)
        self._groups.publish()

    def _reduce(self) -> None:
        lrs = self._groups.lrs
        for i, old in enumerate(lrs):
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                lrs[i] = new

    def _plot_step(self, t, metrics):
        if metrics is None:
            raise ValueError(
                "metrics must be given to plot ReduceLROnPlateau: one value per step"
            )
        if t >= len(metrics):
            return False
        self.step(metrics[t])
        return True
