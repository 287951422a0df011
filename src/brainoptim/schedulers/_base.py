"""The scheduler protocol shared by every learning-rate schedule.

A scheduler owns one learning rate per optimizer parameter group. It computes them
in Python (float64, as torch does) whenever :meth:`LRScheduler.step` is called and
writes them, as one float32 array, into a brainstate ``State``. A compiled train
step reads that State, so a new learning rate reaches an already compiled step as
an input, never as a new trace.

The epoch counter follows torch: construction is epoch 0 and each ``step()`` moves
to the next epoch; the lr an optimizer step applies is the lr of the current epoch.

Each schedule is written once as a closed form ``_closed(k, group, xp)`` over a
small math namespace ``xp``: :data:`PY` evaluates it on Python floats (what
``step(epoch)`` and composites use) and :data:`JNP` traces it with ``jax.numpy``
(what ``__call__``, the optax schedule, uses). Schedules that torch updates
recursively also implement that recursion in ``_next_lr`` so that ``step()``
reproduces torch's floating-point sequence, not only its mathematics.
"""

from __future__ import annotations

import math
import numbers
from types import SimpleNamespace
from typing import Any

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["LRScheduler", "Constant", "as_scheduler", "check_lr"]


def _py_where(cond, if_true, if_false):
    return if_true if cond else if_false


# Python floats: the arithmetic of torch's schedulers, used when stepping.
PY = SimpleNamespace(
    pi=math.pi,
    cos=math.cos,
    log=math.log,
    floor=math.floor,
    minimum=min,
    maximum=max,
    where=_py_where,
)

# jax.numpy: the same formulas, traceable, used by ``__call__``.
JNP = SimpleNamespace(
    pi=math.pi,
    cos=jnp.cos,
    log=jnp.log,
    floor=jnp.floor,
    minimum=jnp.minimum,
    maximum=jnp.maximum,
    where=jnp.where,
)


# -- argument checks ---------------------------------------------------------------


def check_lr(name: str, value: Any) -> float:
    """Returns ``value`` as a float after checking it is a finite, non-negative lr."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a number or a brainoptim scheduler, got {value!r}"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_int(name: str, value: Any, minimum: int) -> int:
    """Returns ``value`` as an int after checking it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Returns ``value`` as a float after checking it lies in the given interval."""
    if math.isinf(high):
        rule = f"{'>' if low_open else '>='} {low:g}"
    elif math.isinf(low):
        rule = f"{'<' if high_open else '<='} {high:g}"
    else:
        rule = f"in {'(' if low_open else '['}{low:g}, {high:g}"
        rule += ")" if high_open else "]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number {rule}, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if math.isnan(value) or too_low or too_high:
        raise ValueError(f"{name} must be a number {rule}, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Returns ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def per_group(name: str, value: Any, group: int) -> Any:
    """The entry of a per-group argument (a scalar or one value per group)."""
    if isinstance(value, list):
        if group >= len(value):
            raise ValueError(
                f"{name} has {len(value)} values, one per param group, so param "
                f"group {group} has none; give a scalar or one value per group"
            )
        return value[group]
    return value


def _plain(value: Any) -> bool:
    """Whether ``value`` survives msgpack unchanged (no arrays, no callables)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _copy_plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_copy_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_plain(v) for k, v in value.items()}
    return value


class _Groups:
    """The parameter groups one scheduler, or one composite and its parts, act on.

    ``base_lrs`` is torch's ``group["initial_lr"]``, ``lrs`` is ``group["lr"]`` and
    ``state`` holds ``lrs`` as float32 for compiled steps.
    """

    def __init__(self, base_lrs: list[float]):
        self.base_lrs = list(base_lrs)
        self.lrs = list(base_lrs)
        self.state = brainstate.LongTermState(jnp.asarray(self.lrs, jnp.float32))

    def publish(self) -> None:
        value = jnp.asarray(self.lrs, dtype=jnp.float32)
        if isinstance(value + 0, jax.core.Tracer):
            # Inside a trace this Python code runs once, when the step compiles:
            # the lr would stop changing without a word.
            raise RuntimeError(
                "the learning rate was changed inside a compiled function; call "
                "opt.lr.step() and set_lr() between compiled steps, e.g. once per "
                "epoch, as the compiled step reads the new lr as an input"
            )
        self.state.value = value


# -- the base class ----------------------------------------------------------------


class LRScheduler:
    """Base class of every learning-rate scheduler.

    A subclass implements ``_closed(k, group, xp)``, the lr of a group at epoch
    ``k``, and, where torch updates the lr recursively, ``_next_lr(group, lr)``:
    the lr at ``self.last_epoch`` given the group's lr one epoch earlier.
    Schedules whose lr is ``base_lr * factor(k)`` and whose recursion multiplies
    the current lr set ``_multiplicative`` and implement ``_factor(k, xp)``;
    :class:`ChainedScheduler` composes those.

    Args:
        base_lr: the learning rate of the first parameter group, ``>= 0``.
        last_epoch: the index of the last epoch when resuming; ``-1`` starts fresh.
            A scheduler built with ``last_epoch >= 0`` starts at the closed-form lr
            of epoch ``last_epoch + 1``.

    Attributes:
        base_lrs: the initial lr of each parameter group (torch's ``initial_lr``).
        last_epoch: the current epoch.
        lr_values: a brainstate ``State`` holding the current lr of every group as a
            float32 array of shape ``(n_groups,)``; read by compiled steps.
    """

    _multiplicative = False

    def __init__(self, base_lr: float, last_epoch: int = -1):
        base_lr = check_lr("base_lr", base_lr)
        last_epoch = check_int("last_epoch", last_epoch, -1)
        self._groups = _Groups([base_lr])
        self.last_epoch = last_epoch
        self._last_lrs: list[float] = [base_lr]
        self._is_initial = False
        self._fresh = last_epoch == -1
        self._n_steps = 0
        self._on_group_added(0)
        self._initial_step()

    # -- groups ------------------------------------------------------------------

    @property
    def base_lrs(self) -> list[float]:
        return self._groups.base_lrs

    @property
    def base_lr(self) -> float:
        """The initial lr of the first parameter group."""
        return self._groups.base_lrs[0]

    @property
    def lr_values(self) -> brainstate.LongTermState:
        """The current lr of every group, float32 of shape ``(n_groups,)``."""
        return self._groups.state

    def _members(self) -> list[LRScheduler]:
        return [self]

    def add_group(self, base_lr: float) -> int:
        """Adds a parameter group whose initial lr is ``base_lr``; returns its index.

        The group then follows the schedule exactly as it would in torch had the
        optimizer held it when the scheduler was built. Added after the scheduler
        has stepped, it starts at the closed-form lr of the current epoch.
        """
        base_lr = check_lr("base_lr", base_lr)
        group = len(self._groups.base_lrs)
        self._groups.base_lrs.append(base_lr)
        self._groups.lrs.append(base_lr)
        for member in self._members():
            member._on_group_added(group)
        lr = self._new_group_lr(group)
        self._groups.lrs[group] = lr
        for member in self._members():
            member._last_lrs.append(lr)
        self._groups.publish()
        return group

    def _on_group_added(self, group: int) -> None:
        """Hook for schedulers with per-group arguments (e.g. ``max_lr``)."""

    def _new_group_lr(self, group: int) -> float:
        if self._fresh and self._n_steps == 0:
            return self._initial_lr(group, self._groups.lrs[group])
        return float(self._closed(self.last_epoch, group, PY))

    # -- the schedule --------------------------------------------------------------

    def _closed(self, k, group: int, xp):
        """The lr of ``group`` at epoch ``k``, computed with the namespace ``xp``."""
        if self._multiplicative:
            return self._groups.base_lrs[group] * self._factor(k, xp)
        raise NotImplementedError(
            f"{type(self).__name__} has no closed form in the epoch"
        )

    def _factor(self, k, xp):
        raise NotImplementedError

    def _next_lr(self, group: int, lr: float) -> float:
        """torch's ``get_lr`` for one group; closed-form schedules ignore ``lr``."""
        return self._closed(self.last_epoch, group, PY)

    def _initial_lr(self, group: int, lr: float) -> float:
        """The lr the construction step gives ``group`` when its lr was ``lr``."""
        self._is_initial = True
        try:
            return float(self._next_lr(group, lr))
        finally:
            self._is_initial = False

    def _closed_lrs(self) -> list[float]:
        n = len(self._groups.base_lrs)
        return [float(self._closed(self.last_epoch, i, PY)) for i in range(n)]

    def _advance(self) -> None:
        """Hook run once per ``step()`` after ``last_epoch`` moved on."""

    def _seek(self, epoch: int) -> None:
        """Hook run by ``step(epoch)`` before ``last_epoch`` is set to ``epoch``."""

    def _check_epoch(self, epoch: int) -> None:
        """Hook that rejects an epoch the schedule does not define."""

    # -- stepping ------------------------------------------------------------------

    def _initial_step(self) -> None:
        if self._fresh:
            self._check_epoch(0)
            self.last_epoch = 0
            self._advance()
            lrs = [self._initial_lr(i, lr) for i, lr in enumerate(self._groups.lrs)]
            self._apply(lrs)
        else:
            self._apply(self._jump(self.last_epoch + 1))
        self._groups.publish()

    def _jump(self, epoch: int) -> list[float]:
        self._check_epoch(epoch)
        self._seek(epoch)
        self.last_epoch = epoch
        return self._closed_lrs()

    def _apply(self, lrs: list[float]) -> None:
        self._groups.lrs[:] = [float(v) for v in lrs]
        self._last_lrs = list(self._groups.lrs)

    def _step(self, epoch: int | None = None) -> None:
        if epoch is None:
            self._check_epoch(self.last_epoch + 1)
            self.last_epoch += 1
            self._advance()
            lrs = [self._next_lr(i, lr) for i, lr in enumerate(self._groups.lrs)]
        else:
            lrs = self._jump(check_int("epoch", epoch, 0))
        self._n_steps += 1
        self._apply(lrs)

    def step(self, epoch: int | None = None) -> None:
        """Moves to the next epoch, or to ``epoch``, and publishes the new lrs.

        Args:
            epoch: if given, jump to this epoch and use the closed form, as
                torch's deprecated ``step(epoch)`` does.
        """
        self._step(epoch)
        self._groups.publish()

    # -- reading -------------------------------------------------------------------

    def get_last_lr(self) -> list[float]:
        """The lr of every group at the current epoch, as Python floats."""
        return list(self._last_lrs)

    @property
    def current_lr(self) -> float:
        """The lr of the first parameter group at the current epoch."""
        return self._groups.lrs[0]

    def set_lr(self, lr: float, group: int | None = None) -> None:
        """Sets the current lr of one group, or of all, as assigning torch's
        ``group["lr"]`` does: recursive schedules continue from the new value,
        closed-form ones overwrite it at the next ``step``.
        """
        lr = check_lr("lr", lr)
        n = len(self._groups.lrs)
        if group is None:
            groups = range(n)
        else:
            groups = [check_int("group", group, 0)]
            if group >= n:
                raise ValueError(f"group must be in [0, {n - 1}], got {group}")
        for i in groups:
            self._groups.lrs[i] = lr
            self._last_lrs[i] = lr
        self._groups.publish()

    # -- persistence ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the exact lr sequence, as plain Python values.

        Callables (``lr_lambda``, ``scale_fn``) are not included: build the
        scheduler with them again, then load.
        """
        out = {
            "base_lrs": list(self._groups.base_lrs),
            "group_lrs": list(self._groups.lrs),
        }
        for key, value in vars(self).items():
            if key != "_groups" and _plain(value):
                out[key] = _copy_plain(value)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""
        state = dict(state)
        base_lrs = state.pop("base_lrs", None)
        group_lrs = state.pop("group_lrs", None)
        known = {k for k, v in vars(self).items() if k != "_groups" and _plain(v)}
        unknown = sorted(set(state) - known)
        if unknown:
            raise ValueError(
                f"state has keys {unknown} that {type(self).__name__} does not have"
            )
        for key, value in state.items():
            setattr(self, key, _copy_plain(value))
        if base_lrs is not None:
            self._groups.base_lrs[:] = [float(v) for v in base_lrs]
        if group_lrs is not None:
            self._groups.lrs[:] = [float(v) for v in group_lrs]
        self._groups.publish()

    # -- functional use ------------------------------------------------------------

    def __call__(self, count):
        """The lr of the first group at epoch ``count``: an optax schedule.

        Traceable with jax; schedules driven by a metric cannot be used this way.
        """
        k = jnp.asarray(count)
        return jnp.asarray(self._closed(k, 0, JNP), jnp.float32)

    def plot(self, steps: int = 100, ax=None, metrics=None):
        """Draws the lr of every group over ``steps`` epochs; returns the axes.

        The scheduler is stepped and then restored to where it was.

        Args:
            steps: how many epochs to draw, from the current one.
            ax: matplotlib axes to draw into; a new figure when ``None``.
            metrics: one metric per step, for :class:`ReduceLROnPlateau` only.
        """
        import matplotlib.pyplot as plt

        steps = check_int("steps", steps, 1)
        saved = self.state_dict()
        values = []
        try:
            for t in range(steps):
                values.append(self.get_last_lr())
                if t + 1 < steps and not self._plot_step(t, metrics):
                    break
        finally:
            self.load_state_dict(saved)
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        values = np.asarray(values)
        epochs = self.last_epoch + np.arange(len(values))
        for i in range(values.shape[1]):
            ax.plot(epochs, values[:, i], label=f"group {i}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("learning rate")
        ax.set_title(type(self).__name__)
        if values.shape[1] > 1:
            ax.legend()
        return ax

    def _plot_step(self, t: int, metrics) -> bool:
        """Advances one epoch for :meth:`plot`; False where the schedule ends."""
        try:
            self._check_epoch(self.last_epoch + 1)
        except ValueError:
            return False
        self.step()
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_lr={self.base_lr}, epoch={self.last_epoch})"


class Constant(LRScheduler):
    """A learning rate that stays where it is set; what a float ``lr=`` becomes.

    Args:
        base_lr: the learning rate, ``>= 0``.

    Example:
        >>> Constant(0.1).get_last_lr()
        [0.1]
    """

    def __init__(self, base_lr: float = 1e-3, last_epoch: int = -1):
        super().__init__(base_lr, last_epoch)

    def _next_lr(self, group: int, lr: float) -> float:
        return lr

    def _closed(self, k, group: int, xp):
        return self._groups.lrs[group]

    def _new_group_lr(self, group: int) -> float:
        return self._groups.base_lrs[group]


def as_scheduler(lr: float | LRScheduler) -> LRScheduler:
    """Returns ``lr`` if it is a scheduler, else a :class:`Constant` of it."""
    if isinstance(lr, LRScheduler):
        return lr
    return Constant(check_lr("lr", lr))
