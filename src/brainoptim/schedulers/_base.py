"""The scheduler protocol shared by every learning-rate schedule.

A scheduler owns one learning rate per optimizer parameter group. It computes them
in Python (float64, as torch does) whenever :meth:`LRScheduler.step` is called and
writes them, as one float32 array, into a brainstate ``State``. A compiled train
step reads that State, so a new learning rate reaches an already compiled step as
an input, never as a new trace.

The epoch counter follows torch: construction is epoch 0 and each ``step()`` moves
to the next epoch; the lr an optimizer step applies is the lr of the current epoch.
"""

from __future__ import annotations

import math
from typing import Any

import brainstate
import jax.numpy as jnp
import numpy as np

__all__ = ["LRScheduler", "Constant", "as_scheduler", "check_lr"]


def check_lr(name: str, value: Any) -> float:
    """Returns ``value`` as a float after checking it is a finite, non-negative lr."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


class LRScheduler:
    """Base class of every learning-rate scheduler.

    Subclasses implement :meth:`_compute_lrs`, returning the lr of every group at
    ``self.last_epoch``, and may override :meth:`_closed_form` for ``step(epoch)``.

    Args:
        base_lr: the learning rate of the first parameter group, ``>= 0``.
        last_epoch: the index of the last epoch when resuming; ``-1`` starts fresh.

    Attributes:
        base_lrs: the initial lr of each parameter group (torch's ``initial_lr``).
        last_epoch: the current epoch.
        lr_values: a brainstate ``State`` holding the current lr of every group as a
            float32 array of shape ``(n_groups,)``; read by compiled steps.
    """

    def __init__(self, base_lr: float = 1e-3, last_epoch: int = -1):
        base_lr = check_lr("base_lr", base_lr)
        if not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an int >= -1, got {last_epoch!r}")
        self.base_lrs: list[float] = [base_lr]
        self.last_epoch = last_epoch
        self._last_lrs: list[float] = [base_lr]
        self.lr_values = brainstate.LongTermState(jnp.asarray([base_lr], jnp.float32))
        self._initial_step()

    # -- group bookkeeping -------------------------------------------------------

    def add_group(self, base_lr: float) -> int:
        """Adds a parameter group whose initial lr is ``base_lr``; returns its index.

        The scheduler then scales this group's lr exactly as torch's scheduler
        scales a param group's ``initial_lr``.
        """
        self.base_lrs.append(check_lr("lr", base_lr))
        self._last_lrs.append(float(base_lr))
        self._on_group_added()
        self._last_lrs = self._current_lrs()
        self._publish()
        return len(self.base_lrs) - 1

    def _on_group_added(self) -> None:
        """Hook for schedulers with per-group arguments (e.g. ``max_lr``)."""

    # -- stepping ----------------------------------------------------------------

    def _initial_step(self) -> None:
        self.last_epoch += 1
        self._last_lrs = self._current_lrs()
        self._publish()

    def step(self, epoch: int | None = None) -> None:
        """Moves to the next epoch (or to ``epoch``) and publishes the new lrs."""
        if epoch is None:
            self.last_epoch += 1
            self._last_lrs = self._current_lrs()
        else:
            if not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
            self.last_epoch = epoch
            self._last_lrs = self._closed_form()
        self._publish()

    def _current_lrs(self) -> list[float]:
        return [float(v) for v in self._compute_lrs()]

    def _compute_lrs(self) -> list[float]:
        raise NotImplementedError

    def _closed_form(self) -> list[float]:
        return self._current_lrs()

    def _publish(self) -> None:
        self.lr_values.value = jnp.asarray(self._last_lrs, dtype=jnp.float32)

    # -- reading -----------------------------------------------------------------

    def get_last_lr(self) -> list[float]:
        """The lr of every group at the current epoch, as Python floats."""
        return list(self._last_lrs)

    @property
    def current_lr(self) -> float:
        """The lr of the first parameter group at the current epoch."""
        return self._last_lrs[0]

    @property
    def base_lr(self) -> float:
        return self.base_lrs[0]

    def set_lr(self, lr: float, group: int | None = None) -> None:
        """Overrides the current lr of one group (or all) until the next ``step``."""
        lr = check_lr("lr", lr)
        groups = range(len(self._last_lrs)) if group is None else [group]
        for i in groups:
            self._last_lrs[i] = lr
        self._publish()

    # -- persistence -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the exact lr sequence (plain Python values)."""
        skip = {"lr_values"}
        out = {}
        for k, v in self.__dict__.items():
            if k in skip or callable(v) or isinstance(v, LRScheduler):
                continue
            out[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""
        for k, v in state.items():
            if k == "_last_lrs" or k == "base_lrs":
                v = [float(x) for x in v]
            setattr(self, k, v)
        self._publish()

    # -- functional use ----------------------------------------------------------

    def __call__(self, count):
        """The lr of the first group after ``count`` scheduler steps, as an optax schedule.

        Schedules that depend on a metric (ReduceLROnPlateau) cannot be used this way.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no closed form usable as an optax schedule"
        )

    def plot(self, steps: int = 100, ax=None):
        """Draws the lr of every group over ``steps`` scheduler steps; returns the axes.

        The scheduler itself is not advanced: a copy is stepped.
        """
        import copy

        import matplotlib.pyplot as plt

        sched = copy.deepcopy(self)
        values = []
        for _ in range(steps):
            values.append(sched.get_last_lr())
            sched.step()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        values = np.asarray(values)
        for i in range(values.shape[1]):
            ax.plot(np.arange(steps), values[:, i], label=f"group {i}")
        ax.set_xlabel("scheduler step")
        ax.set_ylabel("learning rate")
        ax.set_title(type(self).__name__)
        if values.shape[1] > 1:
            ax.legend()
        return ax

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_lr={self.base_lr}, epoch={self.last_epoch})"


class Constant(LRScheduler):
    """A learning rate that stays where it is set; what a float ``lr=`` becomes."""

    def _compute_lrs(self) -> list[float]:
        return list(self._last_lrs)

    def _closed_form(self) -> list[float]:
        return list(self._last_lrs)

    def add_group(self, base_lr: float) -> int:
        self.base_lrs.append(check_lr("lr", base_lr))
        self._last_lrs.append(float(base_lr))
        self._publish()
        return len(self.base_lrs) - 1

    def __call__(self, count):
        return jnp.asarray(self.current_lr, jnp.float32)


def as_scheduler(lr: float | LRScheduler) -> LRScheduler:
    """Returns ``lr`` if it is a scheduler, else a :class:`Constant` of it."""
    if isinstance(lr, LRScheduler):
        return lr
    return Constant(check_lr("lr", lr))
