"""Cyclical schedules: the one-cycle policy and cyclical learning rates."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from ._base import (
    PY,
    LRScheduler,
    check_choice,
    check_int,
    check_lr,
    check_real,
    per_group,
)

__all__ = ["OneCycleLR", "CyclicLR"]


def _check_lrs(name: str, value) -> float | list[float]:
    if isinstance(value, list | tuple):
        return [check_lr(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return check_lr(name, value)


def _first(value):
    return value[0] if isinstance(value, list) else value


def _check_no_momentum(cycle_momentum) -> None:
    if cycle_momentum:
        raise ValueError(
            "cycle_momentum must be False, got True: brainoptim schedulers set the "
            "learning rate only; cycle momentum through the optimizer's own argument"
        )


def _replace_group_lr(sched: LRScheduler, group: int, lr: float, why: str) -> None:
    """Sets a group's initial lr to the one the schedule derives, as torch does."""
    given = sched._groups.base_lrs[group]
    if given != lr:
        warnings.warn(
            f"{type(sched).__name__} sets param group {group}'s initial lr to "
            f"{why} = {lr}; the lr {given} given for the group is not used",
            UserWarning,
            stacklevel=4,
        )
    sched._groups.base_lrs[group] = lr
    sched._groups.lrs[group] = lr


class OneCycleLR(LRScheduler):
    r"""The one-cycle policy: warm up to ``max_lr``, then anneal far below the start.

    Each group starts at :math:`\eta_{\max}/d`, rises to :math:`\eta_{\max}` by
    step :math:`p T - 1` and falls to :math:`\eta_{\max}/(d\, d_f)` at step
    :math:`T - 1`, each phase following

    .. math::
        \mathrm{cos}: \ \eta = \eta_e + \frac{\eta_s - \eta_e}{2}
        \left(1 + \cos(\pi\,\tau)\right), \qquad
        \mathrm{linear}: \ \eta = \eta_s + (\eta_e - \eta_s)\,\tau,

    where :math:`\tau` is the fraction of the phase done. With ``three_phase``
    the lr comes back down to :math:`\eta_{\max}/d` by step :math:`2pT - 2`
    before the final descent. As in torch the schedule is defined for epochs
    ``0 .. total_steps``; stepping further raises ``ValueError`` (the optax
    schedule holds the value of epoch ``total_steps``).

    The group's own lr is not used: as in torch, a scalar ``max_lr`` gives every
    param group the same schedule, and a list gives one ``max_lr`` per group. A
    group added with another lr gets a warning. ``base_lr`` is :math:`\eta_{\max}/d`.

    Args:
        max_lr: :math:`\eta_{\max}`, ``>= 0``, or one per param group.
        total_steps: :math:`T`, an integer ``>= 1``; or give ``epochs`` and
            ``steps_per_epoch``.
        epochs: number of epochs, an integer ``>= 1``.
        steps_per_epoch: steps in an epoch, an integer ``>= 1``.
        pct_start: :math:`p`, fraction of the cycle spent warming up, in
            ``(0, 1)`` (``(0, 0.5]`` with ``three_phase``). Default 0.3.
        anneal_strategy: ``'cos'`` or ``'linear'``. Default ``'cos'``.
        cycle_momentum: must be False (momentum is the optimizer's argument).
        div_factor: :math:`d`, ``> 0``. Default 25.
        final_div_factor: :math:`d_f`, ``> 0``. Default 1e4.
        three_phase: use the three-phase variant. Default False.
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        Smith, L. N. and Topin, N. "Super-Convergence: Very Fast Training of
        Neural Networks Using Large Learning Rates", 2019.
        https://arxiv.org/abs/1708.07120

    Example:
        >>> sched = OneCycleLR(max_lr=1.0, total_steps=10, div_factor=4.0)
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(
        self,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = False,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            epochs = check_int("epochs", epochs, 1)
            steps = check_int("steps_per_epoch", steps_per_epoch, 1)
            self.total_steps = epochs * steps
        else:
            raise ValueError(
                "total_steps must be given, or both epochs and steps_per_epoch; "
                f"got total_steps={total_steps}, epochs={epochs}, "
                f"steps_per_epoch={steps_per_epoch}"
            )
        high = 0.5 if three_phase else 1.0
        self.pct_start = check_real(
            "pct_start", pct_start, 0.0, high, low_open=True, high_open=not three_phase
        )
        self.anneal_strategy = check_choice(
            "anneal_strategy", anneal_strategy, ("cos", "linear")
        )
        _check_no_momentum(cycle_momentum)
        self.div_factor = check_real("div_factor", div_factor, 0.0, low_open=True)
        self.final_div_factor = check_real(
            "final_div_factor", final_div_factor, 0.0, low_open=True
        )
        self.three_phase = bool(three_phase)
        self._max_lr_arg = _check_lrs("max_lr", max_lr)
        self.max_lrs: list[float] = []

        rise = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if self.three_phase:
            fall = float(2 * self.pct_start * self.total_steps) - 2
            self._phases = [[rise, "initial", "max"], [fall, "max", "initial"]]
            self._phases.append([last, "initial", "min"])
        else:
            self._phases = [[rise, "initial", "max"], [last, "max", "min"]]
        ends = [0.0] + [p[0] for p in self._phases]
        if any(b == a for a, b in zip(ends, ends[1:], strict=False)):
            raise ValueError(
                f"pct_start * total_steps must not be 1, else the warmup phase is "
                f"empty; got pct_start={pct_start}, total_steps={self.total_steps}"
            )
        initial = _first(self._max_lr_arg) / self.div_factor
        super().__init__(initial, last_epoch)

    def _on_group_added(self, group):
        max_lr = per_group("max_lr", self._max_lr_arg, group)
        self.max_lrs.append(max_lr)
        _replace_group_lr(self, group, max_lr / self.div_factor, "max_lr / div_factor")

    def _check_epoch(self, epoch):
        if epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR is defined for epochs 0 .. total_steps "
                f"({self.total_steps}); stepping to epoch {epoch} is past its end"
            )

    def _anneal(self, start, end, pct, xp):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (xp.cos(xp.pi * pct) + 1)
        return (end - start) * pct + start

    def _closed(self, k, group, xp):
        initial = self._groups.base_lrs[group]
        levels = {
            "initial": initial,
            "max": self.max_lrs[group],
            "min": initial / self.final_div_factor,
        }
        k = xp.minimum(k, self.total_steps)
        values, begin = [], 0.0
        for end, a, b in self._phases:
            pct = (k - begin) / (end - begin)
            values.append(self._anneal(levels[a], levels[b], pct, xp))
            begin = end
        if xp is PY:
            for (end, _, _), value in zip(self._phases, values, strict=True):
                if k <= end:
                    return value
            return values[-1]
        out = values[-1]
        for (end, _, _), value in reversed(
            list(zip(self._phases, values, strict=True))[:-1]
        ):
            out = xp.where(k <= end, value, out)
        return out


class CyclicLR(LRScheduler):
    r"""Cycles the lr between ``base_lr`` and ``max_lr`` along a triangle.

    With :math:`c = \lfloor 1 + k / (s_u + s_d) \rfloor` the cycle and
    :math:`x = 1 + k / (s_u + s_d) - c` the position in it,

    .. math::
        \eta_k = \eta_b + (\eta_m - \eta_b)\, h(x)\, g(\cdot), \qquad
        h(x) = \begin{cases} x / r & x \le r \\ (x - 1)/(r - 1) & x > r \end{cases}

    where :math:`r = s_u / (s_u + s_d)`, and the amplitude scale :math:`g` is
    1 (``triangular``), :math:`2^{1-c}` (``triangular2``), :math:`\gamma^k`
    (``exp_range``) or ``scale_fn`` applied to :math:`c` (``scale_mode='cycle'``)
    or :math:`k` (``'iterations'``).

    As in torch, the group's own lr is replaced by ``base_lr``: a scalar gives
    every param group the same cycle, a list one value per group. A group added
    with another lr gets a warning. ``scale_fn`` is not part of
    :meth:`state_dict`; used as an optax schedule it must be traceable by jax.

    Args:
        base_lr: lower bound :math:`\eta_b`, ``>= 0``, or one per param group.
        max_lr: upper bound :math:`\eta_m`, ``>= 0``, or one per param group.
        step_size_up: :math:`s_u`, epochs of the rising half, ``> 0``. Default 2000.
        step_size_down: :math:`s_d`, epochs of the falling half, ``> 0``;
            ``None`` means ``step_size_up``.
        mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``; ignored
            when ``scale_fn`` is given.
        gamma: :math:`\gamma` of ``exp_range``, ``> 0``. Default 1.
        scale_fn: custom amplitude scale, a function of one number.
        scale_mode: ``'cycle'`` or ``'iterations'``, what ``scale_fn`` receives.
        cycle_momentum: must be False (momentum is the optimizer's argument).
        last_epoch: index of the last epoch when resuming; ``-1`` starts fresh.

    References:
        Smith, L. N. "Cyclical Learning Rates for Training Neural Networks",
        WACV 2017. https://arxiv.org/abs/1506.01186

    Example:
        >>> sched = CyclicLR(base_lr=0.1, max_lr=1.0, step_size_up=2)
        >>> sched.step(2)
        >>> sched.get_last_lr()
        [1.0]
    """

    def __init__(
        self,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: float = 2000,
        step_size_down: float | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = False,
        last_epoch: int = -1,
    ):
        self._base_lr_arg = _check_lrs("base_lr", base_lr)
        self._max_lr_arg = _check_lrs("max_lr", max_lr)
        up = check_real("step_size_up", step_size_up, 0.0, low_open=True)
        if step_size_down is None:
            down = up
        else:
            down = check_real("step_size_down", step_size_down, 0.0, low_open=True)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.gamma = check_real("gamma", gamma, 0.0, low_open=True)
        if scale_fn is None:
            self.mode = check_choice(
                "mode", mode, ("triangular", "triangular2", "exp_range")
            )
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"
        else:
            if not callable(scale_fn):
                raise ValueError(f"scale_fn must be callable or None, got {scale_fn!r}")
            self.mode = mode
            self.scale_mode = check_choice(
                "scale_mode", scale_mode, ("cycle", "iterations")
            )
        self._scale_fn = scale_fn
        _check_no_momentum(cycle_momentum)
        self.max_lrs: list[float] = []
        super().__init__(_first(self._base_lr_arg), last_epoch)

    def _on_group_added(self, group):
        self.max_lrs.append(per_group("max_lr", self._max_lr_arg, group))
        base_lr = per_group("base_lr", self._base_lr_arg, group)
        _replace_group_lr(self, group, base_lr, "base_lr")

    def _scale(self, x, xp):
        if self._scale_fn is not None:
            return self._scale_fn(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def _closed(self, k, group, xp):
        cycle = xp.floor(1 + k / self.total_size)
        x = 1.0 + k / self.total_size - cycle
        ratio = self.step_ratio
        height = xp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        base = self._groups.base_lrs[group]
        amplitude = (self.max_lrs[group] - base) * height
        arg = cycle if self.scale_mode == "cycle" else k
        return base + amplitude * self._scale(arg, xp)
