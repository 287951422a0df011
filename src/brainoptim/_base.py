"""The stateful, PyTorch-style shell around a pure update rule.

An :class:`Optimizer` holds brainstate ``State``\\ s (the parameters), one optax
state per parameter group, and a learning-rate scheduler. ``update(grads)`` runs
the update rule on every group and writes the new values into the States. All of
it is traceable: under ``brainstate.transform.jit`` the whole step compiles to one
XLA computation, Python touches each leaf only while tracing, and the learning rate
is an input of that computation (a scheduler step never retraces).

Subclasses only name their rule (``transform``) and its hyperparameters.
"""

from __future__ import annotations

import inspect
import logging
import warnings
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._states import flatten_states, is_low_precision, path_str, subtree
from ._validation import check_range
from .schedulers._base import LRScheduler, as_scheduler, check_lr
from .transforms.wrappers import clip_by_global_norm

__all__ = ["Optimizer", "OptimState"]

logger = logging.getLogger(__name__)

_IMPL_FLAGS = ("foreach", "fused", "capturable", "differentiable")
#: Keyword options of every optimizer, handled by the shell (not by the rule).
SHELL_OPTIONS = ("grad_clip_norm", "grad_clip_value", "maximize", "skip_nonfinite",
                 "detect_nonfinite", "state_dtype", *_IMPL_FLAGS)  # fmt: skip


class OptimState(brainstate.LongTermState):
    """A State holding optimizer state (moments, step counts, slow weights)."""


class _Group:
    """One parameter group: which States it holds and its own hyperparameters."""

    def __init__(self, indices: list[int], hparams: dict[str, Any]):
        self.indices = indices
        self.hparams = hparams


class Optimizer:
    """Base class of brainoptim's optimizers: the stateful shell.

    Args:
        lr: a float, or a scheduler from :mod:`brainoptim.schedulers`.
        grad_clip_norm: if set, gradients of all groups are scaled together so that
            their global L2 norm is at most this (overflow-safe), ``>= 0``.
        grad_clip_value: if set, each gradient entry is clipped to
            ``[-grad_clip_value, grad_clip_value]``, ``>= 0``.
        maximize: ascend instead of descend (torch's ``maximize``).
        skip_nonfinite: leave parameters and state untouched on a step whose
            gradients hold NaN or inf. Off by default; either way such steps are
            counted in :attr:`nonfinite_steps`.
        detect_nonfinite: count steps with NaN or inf gradients (default). The
            check is one more pass over the gradients, which XLA on CPU does not
            fuse into the update (6-20% of an Adam step in ``bench/``); ``False``
            drops it, and ``nonfinite_steps`` then stays 0 unless
            ``skip_nonfinite`` is on.
        state_dtype: the dtype in which bfloat16/float16 parameters are updated and
            their optimizer state is kept (default float32; ``None`` keeps the
            parameter's own dtype).
        foreach, fused, capturable, differentiable: accepted for torch code; XLA
            fuses the step whatever they say, so a non-default value only warns.
        **hparams: the update rule's hyperparameters.

    Gradients are expected as JAX returns them. For a complex parameter :math:`z`,
    JAX's gradient of a real loss is :math:`\\partial L/\\partial x - i\\,
    \\partial L/\\partial y` (the conjugate of torch's); the optimizer treats
    :math:`z` as the real pair :math:`(x, y)` and descends in both.
    """

    #: The update rule: ``transform(learning_rate=..., **hparams)``.
    transform: ClassVar[Callable[..., optax.GradientTransformation]]
    #: True for rules that need ``update(grads, value=..., value_fn=...)``.
    needs_value_fn: ClassVar[bool] = False

    def __init__(
        self,
        lr: float | LRScheduler = 1e-3,
        *,
        grad_clip_norm: float | None = None,
        grad_clip_value: float | None = None,
        maximize: bool = False,
        skip_nonfinite: bool = False,
        detect_nonfinite: bool = True,
        state_dtype: Any = jnp.float32,
        foreach: bool | None = None,
        fused: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        **hparams: Any,
    ):
        self.lr = as_scheduler(lr)
        owner = getattr(self.lr, "_owner", None)
        if owner is not None and owner() is not None and not _wraps(self, owner()):
            raise ValueError(
                "this scheduler already drives another optimizer; give each "
                "optimizer its own scheduler (its groups and position are per "
                "optimizer)"
            )
        self.lr._owner = weakref.ref(self)
        if grad_clip_norm is not None:
            check_range("grad_clip_norm", grad_clip_norm, 0.0)
        if grad_clip_value is not None:
            check_range("grad_clip_value", grad_clip_value, 0.0)
        for name, value in zip(
            _IMPL_FLAGS, (foreach, fused, capturable, differentiable), strict=True
        ):
            if value:
                warnings.warn(
                    f"{name}={value} is ignored: the step is compiled and fused by XLA",
                    stacklevel=3,
                )
        if state_dtype is not None and not jnp.issubdtype(state_dtype, jnp.floating):
            raise ValueError(
                f"state_dtype must be a floating-point dtype or None, got {state_dtype}"
            )
        self.options = dict(
            grad_clip_norm=grad_clip_norm,
            grad_clip_value=grad_clip_value,
            maximize=bool(maximize),
            skip_nonfinite=bool(skip_nonfinite),
            detect_nonfinite=bool(detect_nonfinite),
            state_dtype=None if state_dtype is None else jnp.dtype(state_dtype),
        )
        self.defaults = dict(hparams)
        self._check_names(hparams)
        self._make_transform(self.lr.base_lr, self.defaults)  # checks hparams

        self.param_groups: list[_Group] = []
        self._states: list[brainstate.State] = []
        self._paths: list[list[tuple]] = []  # every path of each unique State
        self._registered_tree: Any = None
        self.opt_state = OptimState(())
        self.step_count = OptimState(jnp.zeros([], jnp.int32))
        self._nonfinite = OptimState(jnp.zeros([], jnp.int32))

    # -- the rule ------------------------------------------------------------------

    def _check_names(self, hparams: dict) -> None:
        rule = getattr(type(self), "transform", None)
        if rule is None:
            return
        accepted = set(inspect.signature(rule).parameters) - {"learning_rate"}
        unknown = sorted(set(hparams) - accepted)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected arguments {unknown}; its "
                f"hyperparameters are {sorted(accepted)} and the shell's options "
                f"{', '.join(SHELL_OPTIONS)}"
            )

    def _make_transform(self, lr, hparams: dict) -> optax.GradientTransformation:
        return type(self).transform(learning_rate=lr, **hparams)

    def to_optax(self, group: int = 0) -> optax.GradientTransformation:
        """This optimizer's update rule as a pure optax ``GradientTransformation``.

        Includes maximize and clipping; the learning rate follows this optimizer's
        scheduler as an optax schedule, counted in optimizer steps.
        """
        hparams = (
            self.param_groups[group].hparams if self.param_groups else self.defaults
        )
        return optax.chain(
            *self._preprocess_transforms(),
            self._make_transform(self.lr, hparams),
        )

    def _preprocess_transforms(self) -> list[optax.GradientTransformation]:
        o = self.options
        out = []
        if o["maximize"]:
            out.append(optax.scale(-1.0))
        if o["grad_clip_value"] is not None:
            out.append(optax.clip(o["grad_clip_value"]))
        if o["grad_clip_norm"] is not None:
            out.append(clip_by_global_norm(o["grad_clip_norm"]))
        return out

    # -- registration --------------------------------------------------------------

    def register_trainable_weights(self, states: Any) -> None:
        """Registers the States to optimize as the first parameter group.

        Args:
            states: a State or a pytree of States (nested dicts, brainstate's
                ``FlattedDict`` with tuple keys, lists). A State that occurs twice is
                updated once. Each State's value may itself be a pytree.
        """
        if self._states:
            raise RuntimeError(
                "register_trainable_weights was already called; use "
                "add_param_group(states, ...) to optimize more States"
            )
        self._registered_tree = states
        indices = self._add_states(states)
        self.param_groups.append(_Group(indices, dict(self.defaults)))
        self.opt_state.value = (self._init_group(0),)

    def add_param_group(self, states: Any, lr: float | None = None, **hparams) -> int:
        """Adds States optimized by the same rule with their own hyperparameters.

        Args:
            states: a State or a pytree of States, none already registered. Their
                gradients are passed to ``update`` under these keys, alongside the
                first group's.
            lr: this group's initial learning rate (default: the optimizer's). The
                scheduler scales it as torch scales a group's ``initial_lr``.
            **hparams: any of the optimizer's hyperparameters, e.g.
                ``weight_decay=0.0``.

        Returns:
            The index of the new group.
        """
        if not self.param_groups:
            raise RuntimeError("call register_trainable_weights before add_param_group")
        unknown = set(hparams) - set(self.defaults)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no hyperparameter {sorted(unknown)}; "
                f"valid: {sorted(self.defaults)}"
            )
        merged = {**self.defaults, **hparams}
        lr = self.lr.base_lrs[0] if lr is None else check_lr("lr", lr)
        self._make_transform(lr, merged)
        indices = self._add_states(states)
        self.lr.add_group(lr)
        self.param_groups.append(_Group(indices, merged))
        self.opt_state.value = (*self.opt_state.value, self._init_group(-1))
        return len(self.param_groups) - 1

    def _add_states(self, tree: Any) -> list[int]:
        known = {id(s): i for i, s in enumerate(self._states)}
        taken = {p for paths in self._paths for p in paths}
        new: list[int] = []
        for path, state in flatten_states(tree):
            if path in taken and id(state) != id(self._state_at(path)):
                raise ValueError(
                    f"key {path_str(path)} is already registered for another State"
                )
            if id(state) in known:
                i = known[id(state)]
                if i not in new:
                    raise ValueError(
                        f"the State at {path_str(path)} is already in another "
                        "parameter group"
                    )
                self._paths[i].append(path)
                continue
            self._check_param(path, state)
            known[id(state)] = len(self._states)
            new.append(len(self._states))
            self._states.append(state)
            self._paths.append([path])
        if not new:
            raise ValueError("no States to optimize were given")
        return new

    def _state_at(self, path):
        for s, paths in zip(self._states, self._paths, strict=True):
            if path in paths:
                return s
        return None

    @staticmethod
    def _check_param(path, state) -> None:
        for leaf in jax.tree.leaves(state.value):
            dtype = jnp.result_type(leaf)
            if not (
                jnp.issubdtype(dtype, jnp.floating)
                or jnp.issubdtype(dtype, jnp.complexfloating)
            ):
                raise TypeError(
                    f"the parameter at {path_str(path)} has dtype {dtype}; only "
                    "floating-point and complex parameters can be optimized"
                )

    def _init_group(self, g: int):
        group = self.param_groups[g]
        lr = self.lr.get_last_lr()[g]
        tx = self._make_transform(lr, group.hparams)
        params = [self._to_compute(self._states[i].value) for i in group.indices]
        # Strong dtypes: a weakly typed leaf (optax's line-search info) would come
        # back strongly typed from the first update and recompile the step.
        return jax.tree.map(
            lambda x: jnp.asarray(x, jnp.result_type(x)), tx.init(params)
        )

    # -- dtype handling --------------------------------------------------------------

    def _to_compute(self, value, grad: bool = False):
        """Complex leaves as real pairs, low-precision leaves in ``state_dtype``."""
        state_dtype = self.options["state_dtype"]

        def leaf(x):
            x = jnp.asarray(x)
            if jnp.iscomplexobj(x):
                imag = -x.imag if grad else x.imag
                return jnp.stack([x.real, imag], axis=-1)
            if state_dtype is not None and is_low_precision(x.dtype):
                return x.astype(state_dtype)
            return x

        return jax.tree.map(leaf, value)

    @staticmethod
    def _from_compute(value, like):
        def leaf(x, ref):
            ref = jnp.asarray(ref)
            if jnp.iscomplexobj(ref):
                return jax.lax.complex(x[..., 0], x[..., 1]).astype(ref.dtype)
            return x.astype(ref.dtype)

        return jax.tree.map(leaf, value, like)

    # -- the step ------------------------------------------------------------------

    def _match_grads(self, grads) -> list[Any]:
        """The gradient of each registered State, checked against its value."""
        out = []
        n_expected = 0
        for state, paths in zip(self._states, self._paths, strict=True):
            for path in paths:
                try:
                    found = subtree(grads, path) if path else grads
                except KeyError:
                    raise ValueError(
                        f"grads has no entry for the parameter {path_str(path)}"
                    ) from None
                if path == paths[0]:
                    g = found
            ref = state.value
            if jax.tree.structure(g) != jax.tree.structure(ref):
                raise ValueError(
                    f"grads at {path_str(paths[0])} has structure "
                    f"{jax.tree.structure(g)}, the parameter {jax.tree.structure(ref)}"
                )
            for gl, pl in zip(jax.tree.leaves(g), jax.tree.leaves(ref), strict=True):
                if jnp.shape(gl) != jnp.shape(pl):
                    raise ValueError(
                        f"grads at {path_str(paths[0])} has shape {jnp.shape(gl)}, "
                        f"the parameter {jnp.shape(pl)}"
                    )
            n_expected += len(jax.tree.leaves(ref)) * len(paths)
            out.append(g)
        n_given = len(jax.tree.leaves(grads))
        if n_given != n_expected:
            known = {p for paths in self._paths for p in paths}
            extra = [
                path_str(p)
                for p, _ in jax.tree_util.tree_flatten_with_path(grads)[0]
                if not any(p[: len(k)] == k for k in known)
            ]
            raise ValueError(
                f"grads has entries for unregistered parameters: {extra[:5]}"
            )
        return out

    def update(self, grads: Any, *, value=None, value_fn: Callable | None = None):
        """Applies one optimizer step and writes the new values into the States.

        Args:
            grads: gradients keyed like the registered States (as
                ``brainstate.transform.grad(..., grad_states=params)`` returns them).
            value: the loss at the current parameters (line-search L-BFGS only).
            value_fn: ``fn(values) -> loss``, ``values`` shaped like ``grads``
                (line-search L-BFGS only).
        """
        if not self._states:
            raise RuntimeError("call register_trainable_weights before update")
        extra = self._extra_args(value, value_fn)
        grads = self._match_grads(grads)

        params = [s.value for s in self._states]
        new_params, new_state, step, nonfinite = self._step(
            params,
            grads,
            self.opt_state.value,
            self.lr.lr_values.value,
            self.step_count.value,
            self._nonfinite.value,
            extra,
        )

        for state, new in zip(self._states, new_params, strict=True):
            state.value = new
        self.opt_state.value = new_state
        self.step_count.value = step
        self._nonfinite.value = nonfinite

    def step(self, grads: Any = None, closure: Callable | None = None, **kwargs):
        """``update(grads)``, or torch's ``step(closure)`` for a loss closure.

        With a closure (``closure()`` computes the loss from the registered States),
        its gradient is taken here; the loss is returned. A rule that needs the loss
        (a line search) runs the step compiled, once per closure object: define the
        closure once and reuse it.
        """
        if closure is None and callable(grads):
            grads, closure = None, grads
        if closure is None:
            if grads is None:
                raise ValueError("step needs grads, or a closure that returns the loss")
            return self.update(grads, **kwargs)
        if self.needs_value_fn:
            run = self._compiled_for(closure, lambda: self._closure_update(closure)[0])
            return run()
        return self._closure_update(closure, **kwargs)[0]

    def _closure_update(self, closure, **kwargs):
        """One update from ``closure``'s loss and gradient; returns (loss, grads)."""
        grads, loss = brainstate.transform.grad(
            closure, grad_states=self._registered_tree, return_value=True
        )()
        if self.needs_value_fn:
            kwargs.setdefault("value", loss)
            kwargs.setdefault("value_fn", self.value_fn(closure))
        self.update(grads, **kwargs)
        return loss, grads

    def _compiled_for(self, closure, fn):
        """``fn`` compiled with brainstate's jit, cached for this closure object.

        A line search evaluates the closure at trial points inside its own loop;
        eagerly that would write tracers into the States, compiled it does not.
        """
        cache = self.__dict__.setdefault("_closure_cache", {})
        if closure not in cache:
            cache.clear()
            cache[closure] = brainstate.transform.jit(fn)
        return cache[closure]

    def value_fn(self, loss: Callable[[], Any]) -> Callable[[Any], Any]:
        """``loss`` as a pure function of parameter values, for a line search.

        Args:
            loss: computes the loss from the registered States.

        Returns:
            ``fn(values)``, ``values`` shaped like the gradients: it puts
            ``values`` into the States, evaluates ``loss`` and puts the previous
            values back. Pass it as ``update(grads, value=..., value_fn=fn)``.
        """
        states = self._states
        closure = loss

        def fn(values):
            flat = [subtree(values, paths[0]) if paths[0] else values
                    for paths in self._paths]  # fmt: skip
            old = [s.value for s in states]
            for s, v in zip(states, flat, strict=True):
                s.value = v
            try:
                return closure()
            finally:
                for s, v in zip(states, old, strict=True):
                    s.value = v

        return fn

    def _extra_args(self, value, value_fn) -> dict:
        if not self.needs_value_fn:
            if value_fn is not None:
                raise ValueError(f"{type(self).__name__} takes no value_fn")
            return {}
        if value is None or value_fn is None:
            raise ValueError(
                f"{type(self).__name__} with a line search needs the loss. Either "
                "inside a compiled step:\n"
                "    opt.update(grads, value=loss, value_fn=fn)  "
                "# fn(values) -> loss, values shaped like grads\n"
                "or eagerly, torch-style:\n"
                "    opt.step(closure)  # closure() -> loss"
            )
        return {"value": value, "value_fn": value_fn}

    def _step(self, params, grads, opt_state, lrs, step, nonfinite, extra):
        grads = [self._to_compute(g, grad=True) for g in grads]
        compute = [self._to_compute(p) for p in params]

        # Checked before clipping: clipping by value would turn inf into a finite
        # gradient and hide it.
        finite = None
        if self.options["skip_nonfinite"] or self.options["detect_nonfinite"]:
            finite = jnp.all(
                jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
            )

        for tx in self._preprocess_transforms():
            grads, _ = tx.update(grads, tx.init(grads))

        def apply():
            new_compute = list(compute)
            new_state = []
            for gi, group in enumerate(self.param_groups):
                idx = group.indices
                tx = self._make_transform(lrs[gi], group.hparams)
                p = [compute[i] for i in idx]
                g = [grads[i] for i in idx]
                group_extra = self._group_extra(extra, params, idx, g)
                updates, s = tx.update(g, opt_state[gi], p, **group_extra)
                for i, new in zip(idx, optax.apply_updates(p, updates), strict=True):
                    new_compute[i] = new
                new_state.append(s)
            return new_compute, tuple(new_state)

        if self.options["skip_nonfinite"]:
            new_compute, new_state = jax.lax.cond(
                finite, apply, lambda: (list(compute), opt_state)
            )
            step = step + finite.astype(step.dtype)
        else:
            new_compute, new_state = apply()
            step = step + 1

        new_params = [
            self._from_compute(c, p) for c, p in zip(new_compute, params, strict=True)
        ]
        if finite is not None:
            nonfinite = nonfinite + (~finite).astype(nonfinite.dtype)
        return new_params, new_state, step, nonfinite

    def _group_extra(self, extra: dict, params: list, idx: list[int], grads) -> dict:
        """Line-search arguments in the rule's own terms (values in compute form)."""
        if not extra:
            return {}
        user_fn = extra["value_fn"]
        # With maximize the gradients were negated: the rule minimizes -loss.
        sign = -1.0 if self.options["maximize"] else 1.0

        def value_fn(compute_values):
            values = [
                self._from_compute(c, params[i])
                for c, i in zip(compute_values, idx, strict=True)
            ]
            return sign * user_fn(self._unflatten_values(values))

        return {"value": sign * extra["value"], "grad": grads, "value_fn": value_fn}

    def _unflatten_values(self, values: list) -> Any:
        """Values placed where the registered tree holds its States."""
        tree = self._registered_tree
        if isinstance(tree, brainstate.State):
            return values[0]
        leaves, treedef = jax.tree_util.tree_flatten(
            tree, is_leaf=lambda x: isinstance(x, brainstate.State)
        )
        by_id = {id(s): v for s, v in zip(self._states, values, strict=True)}
        return treedef.unflatten([by_id[id(s)] for s in leaves])

    # -- learning rate -------------------------------------------------------------

    @property
    def current_lr(self) -> float:
        """The learning rate of the first group at the scheduler's current epoch."""
        return self.lr.current_lr

    def get_last_lr(self) -> list[float]:
        """The learning rate of every group at the scheduler's current epoch."""
        return self.lr.get_last_lr()

    def set_lr(self, lr: float, group: int | None = None) -> None:
        """Sets the current lr of one group (or all); no retrace."""
        self.lr.set_lr(lr, group)

    # -- inspection ----------------------------------------------------------------

    @property
    def nonfinite_steps(self) -> int:
        """Steps whose gradients held NaN or inf (skipped if ``skip_nonfinite``)."""
        return int(self._nonfinite.value)

    def state_nbytes(self) -> int:
        """Exact bytes of every array in the optimizer state (counters included)."""
        return sum(
            int(np.prod(jnp.shape(x))) * jnp.result_type(x).itemsize
            for x in jax.tree.leaves(self.opt_state.value)
        )

    # -- persistence ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume bit-exactly; plain Python and NumPy values.

        Holds the optimizer kind, step counters, each group's hyperparameters and
        parameter keys, the optimizer state (moments, slow weights ...) flattened to
        ``{path: ndarray}``, and the scheduler's position. Parameters are not in it.
        """
        leaves = jax.tree_util.tree_flatten_with_path(self.opt_state.value)[0]
        return {
            "optimizer": type(self).__name__,
            "step": int(self.step_count.value),
            "nonfinite_steps": self.nonfinite_steps,
            "param_groups": [
                {
                    "hparams": _plain(g.hparams),
                    "params": [path_str(self._paths[i][0]) for i in g.indices],
                }
                for g in self.param_groups
            ],
            "state": {jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves},
            "scheduler": self.lr.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`'s output into this (registered) optimizer.

        Raises:
            ValueError: if the kind of optimizer, the parameter groups, or the state's
                structure, shapes or dtypes differ; the message says what differs.
        """
        kind = state.get("optimizer")
        if kind != type(self).__name__:
            raise ValueError(
                f"the state is of a {kind} optimizer, this is a {type(self).__name__}"
            )
        groups = state["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"the state has {len(groups)} parameter groups, this optimizer "
                f"{len(self.param_groups)}"
            )
        for gi, (saved, group) in enumerate(
            zip(groups, self.param_groups, strict=True)
        ):
            mine = [path_str(self._paths[i][0]) for i in group.indices]
            if list(saved["params"]) != mine:
                raise ValueError(
                    f"parameter group {gi} holds {list(saved['params'])} in the state, "
                    f"{mine} here"
                )
        template = self.opt_state.value
        paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
        saved_state = state["state"]
        mine = [jax.tree_util.keystr(p) for p, _ in paths_leaves]
        missing = [k for k in mine if k not in saved_state]
        extra = [k for k in saved_state if k not in set(mine)]
        if missing or extra:
            raise ValueError(
                "the optimizer state differs in structure: missing "
                f"{missing[:5]}, unexpected {extra[:5]}"
            )
        leaves = []
        for key, (_, ref) in zip(mine, paths_leaves, strict=True):
            arr = np.asarray(saved_state[key])
            ref_shape, ref_dtype = jnp.shape(ref), jnp.result_type(ref)
            if arr.shape != ref_shape or arr.dtype != ref_dtype:
                raise ValueError(
                    f"state entry {key} is {arr.dtype}{list(arr.shape)} in the state, "
                    f"{ref_dtype}{list(ref_shape)} here"
                )
            leaves.append(jnp.asarray(arr))

        # Everything is checked; only now is this optimizer changed.
        self.lr.load_state_dict(state["scheduler"])
        for group, saved in zip(self.param_groups, groups, strict=True):
            group.hparams = _restore_hparams(saved["hparams"], group.hparams)
        self.opt_state.value = treedef.unflatten(leaves)
        self.step_count.value = jnp.asarray(state["step"], jnp.int32)
        self._nonfinite.value = jnp.asarray(state.get("nonfinite_steps", 0), jnp.int32)

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}(lr={self.lr!r}, {hp})"


def _wraps(outer, inner) -> bool:
    """True if ``outer`` wraps ``inner`` (Lookahead shares its optimizer's lr)."""
    return getattr(outer, "optimizer", None) is inner


def _plain(x, name: str = "hyperparameters"):
    """Hyperparameters as msgpack-able Python values (tuples become lists)."""
    if isinstance(x, dict):
        return {k: _plain(v, f"{name}[{k!r}]") for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return [_plain(v, f"{name}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, (np.generic, np.ndarray, jax.Array)):
        if np.ndim(x) != 0:
            raise TypeError(
                f"{name} is an array of shape {np.shape(x)}; state_dict stores only "
                "numbers, strings, booleans and None as hyperparameters"
            )
        return x.item()
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(
        f"{name} is a {type(x).__name__}; state_dict stores only numbers, strings, "
        "booleans and None as hyperparameters"
    )


def _restore_hparams(saved: dict, current: dict) -> dict:
    out = {}
    for k, v in current.items():
        s = saved.get(k, v)
        out[k] = tuple(s) if isinstance(v, tuple) and isinstance(s, list) else s
    return out
