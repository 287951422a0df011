"""Schedulers made of other schedulers: in sequence, or chained."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ._base import PY, LRScheduler, _Groups, check_int
from ._plateau import ReduceLROnPlateau

__all__ = ["SequentialLR", "ChainedScheduler"]


class _Composite(LRScheduler):
    """Owns the param groups and hands them to its parts.

    In torch the parts share the optimizer's param groups. Here they are built
    before any optimizer, each with its own groups; the composite takes them
    over so that every part reads and writes one list of lrs and one ``State``.
    The parts must be fresh (not stepped) and agree on their base lrs.
    """

    def __init__(self, schedulers: Sequence[LRScheduler]):
        if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, Sequence):
            raise ValueError(
                f"schedulers must be a list of schedulers, got {schedulers!r}"
            )
        if len(schedulers) < 1:
            raise ValueError("schedulers must hold at least one scheduler, got []")
        schedulers = list(schedulers)
        first = schedulers[0]
        for i, s in enumerate(schedulers):
            name = f"schedulers[{i}]"
            if not isinstance(s, LRScheduler):
                raise ValueError(f"{name} must be a brainoptim scheduler, got {s!r}")
            if isinstance(s, ReduceLROnPlateau | _Composite):
                raise ValueError(
                    f"{name} must be a schedule of the epoch, not a "
                    f"{type(s).__name__}, got {s!r}"
                )
            if any(s is t for t in schedulers[:i]):
                raise ValueError(f"{name} appears twice in schedulers")
            if not s._fresh or s._n_steps:
                raise ValueError(
                    f"{name} must be fresh (never stepped, last_epoch=-1), got {s!r}"
                )
            if s.base_lrs != first.base_lrs:
                raise ValueError(
                    f"{name} must have the base lrs of schedulers[0], "
                    f"{first.base_lrs}, got {s.base_lrs}"
                )
        self._schedulers = schedulers
        self._groups = _Groups(first.base_lrs)
        for s in schedulers:
            s._groups = self._groups
        self.last_epoch = 0
        self._is_initial = False
        self._fresh = True
        self._n_steps = 0
        lrs = [self._initial_lr(i, lr) for i, lr in enumerate(self._groups.lrs)]
        self._apply(lrs)
        self._groups.publish()

    def _members(self) -> list[LRScheduler]:
        return [self, *self._schedulers]

    def state_dict(self) -> dict[str, Any]:
        out = super().state_dict()
        out["schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        parts = state.pop("schedulers")
        if len(parts) != len(self._schedulers):
            raise ValueError(
                f"state holds {len(parts)} schedulers, this "
                f"{type(self).__name__} has {len(self._schedulers)}"
            )
        for s, part in zip(self._schedulers, parts, strict=True):
            s.load_state_dict(part)
        super().load_state_dict(state)

    def __repr__(self) -> str:
        parts = ", ".join(repr(s) for s in self._schedulers)
        return f"{type(self).__name__}([{parts}], epoch={self.last_epoch})"


class SequentialLR(_Composite):
    r"""Runs one scheduler after another, switching at the milestones.

    .. math::
        \eta_k = S_j(k - m_j), \qquad m_j \le k < m_{j+1}, \ m_0 = 0,

    where :math:`S_j` is the lr of scheduler ``j`` at its own epoch. As in torch,
    each scheduler after the first starts at its closed-form lr of epoch 0 at its
    milestone and then steps on its own. All schedulers act on every param
    group, from the base lrs they share; they must not have been stepped.

    Args:
        schedulers: the schedulers, in order; not :class:`ReduceLROnPlateau` and
            not composites.
        milestones: strictly increasing epochs ``>= 1``, one fewer than
            ``schedulers``.
        last_epoch: must be ``-1``; resume with :meth:`load_state_dict`.

    References:
        PyTorch ``torch.optim.lr_scheduler.SequentialLR``:
        https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.SequentialLR.html

    Example:
        >>> from brainoptim.schedulers import ConstantLR, ExponentialLR
        >>> sched = SequentialLR(
        ...     [ConstantLR(1.0, factor=0.5, total_iters=2), ExponentialLR(1.0, 0.5)],
        ...     milestones=[2],
        ... )
        >>> [sched.get_last_lr()[0]] + [sched.step() or sched.current_lr for _ in "ab"]
        [0.5, 0.5, 1.0]
    """

    def __init__(
        self,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ):
        if last_epoch != -1:
            raise ValueError(
                f"last_epoch must be -1 for SequentialLR (resume with "
                f"load_state_dict), got {last_epoch!r}"
            )
        n = len(schedulers) if isinstance(schedulers, Sequence) else 0
        if not isinstance(milestones, Sequence) or len(milestones) != n - 1:
            raise ValueError(
                f"milestones must hold one entry fewer than schedulers ({n}), "
                f"got {milestones!r}"
            )
        self.milestones = [
            check_int(f"milestones[{i}]", m, 1) for i, m in enumerate(milestones)
        ]
        for i in range(1, len(self.milestones)):
            if self.milestones[i] <= self.milestones[i - 1]:
                raise ValueError(
                    f"milestones must be strictly increasing, got {list(milestones)}"
                )
        super().__init__(schedulers)
        for s in self._schedulers[1:]:
            s.last_epoch = -1

    def _initial_lr(self, group, lr):
        first = self._schedulers[0]
        value = first._initial_lr(group, self._groups.base_lrs[group])
        if len(first._last_lrs) > group:
            first._last_lrs[group] = value
        return value

    def _step(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            j = bisect_right(self.milestones, self.last_epoch)
            part = self._schedulers[j]
            if j > 0 and self.milestones[j - 1] == self.last_epoch:
                part._step(0)
            else:
                part._step()
        else:
            self.last_epoch = check_int("epoch", epoch, 0)
            j = bisect_right(self.milestones, self.last_epoch)
            part = self._schedulers[j]
            part._step(self.last_epoch - ([0] + self.milestones)[j])
        self._n_steps += 1
        self._last_lrs = list(part._last_lrs)

    def _closed(self, k, group, xp):
        starts = [0, *self.milestones]
        if xp is PY:
            j = bisect_right(self.milestones, k)
            return self._schedulers[j]._closed(k - starts[j], group, xp)
        out = self._schedulers[0]._closed(k, group, xp)
        for j in range(1, len(self._schedulers)):
            value = self._schedulers[j]._closed(k - starts[j], group, xp)
            out = xp.where(k >= starts[j], value, out)
        return out


class ChainedScheduler(_Composite):
    r"""Applies several schedulers at every epoch, one after the other.

    Each scheduler updates the lr the previous one left, as torch chains them:
    for schedules that scale the lr (:class:`StepLR`, :class:`MultiStepLR`,
    :class:`ExponentialLR`, :class:`ConstantLR`, :class:`LinearLR`,
    :class:`PolynomialLR`) the factors multiply,

    .. math::
        \eta_k = \eta_0 \prod_j f_j(k).

    A schedule that sets the lr outright (e.g. :class:`LambdaLR`) overwrites what
    the schedulers before it did, as in torch. :class:`CosineAnnealingLR` scales
    the lr only up to ``T_max``: past it torch's recursion restarts the cosine
    from zero and drops the other factors. ``step()`` follows torch in every
    case; ``step(epoch)`` and the optax schedule need the product form and raise
    ``NotImplementedError`` when a part is not of that kind.

    Args:
        schedulers: the schedulers, applied in order; not
            :class:`ReduceLROnPlateau` and not composites. They must share their
            base lrs and must not have been stepped.
        optimizer: accepted for torch's signature; must be ``None``.

    References:
        PyTorch ``torch.optim.lr_scheduler.ChainedScheduler``:
        https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ChainedScheduler.html

    Example:
        >>> from brainoptim.schedulers import ConstantLR, ExponentialLR
        >>> sched = ChainedScheduler(
        ...     [ConstantLR(1.0, factor=0.5, total_iters=2), ExponentialLR(1.0, 0.5)]
        ... )
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: None = None):
        if optimizer is not None:
            raise ValueError(
                "optimizer must be None: brainoptim schedulers are given to the "
                f"optimizer, not the other way round; got {optimizer!r}"
            )
        super().__init__(schedulers)

    def _initial_lr(self, group, lr):
        for s in self._schedulers:
            lr = s._initial_lr(group, lr)
            if len(s._last_lrs) > group:
                s._last_lrs[group] = lr
        return lr

    def _step(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            for s in self._schedulers:
                s._step()
        else:
            epoch = check_int("epoch", epoch, 0)
            self._require_multiplicative("step(epoch)")
            for s in self._schedulers:
                s._last_lrs = s._jump(epoch)
            self.last_epoch = epoch
            self._groups.lrs[:] = self._closed_lrs()
        self._n_steps += 1
        self._last_lrs = list(self._groups.lrs)

    def _require_multiplicative(self, what: str) -> None:
        for i, s in enumerate(self._schedulers):
            if not s._multiplicative:
                raise NotImplementedError(
                    f"ChainedScheduler.{what} needs every scheduler to scale the lr, "
                    f"but schedulers[{i}] ({type(s).__name__}) does not"
                )

    def _closed(self, k, group, xp):
        self._require_multiplicative("__call__")
        out = self._groups.base_lrs[group]
        for s in self._schedulers:
            out = out * s._factor(k, xp)
        return out
