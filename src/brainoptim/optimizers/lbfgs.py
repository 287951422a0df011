"""L-BFGS, usable inside a compiled step or torch-style with a closure."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .. import transforms as T
from .._base import Optimizer
from .._validation import check_int, check_range

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    r"""Limited-memory BFGS with an optional line search (optax's two-loop
    recursion and line searches).

    One ``update`` is one L-BFGS iteration. With a line search it needs the loss:
    ``update(grads, value=loss, value_fn=fn)`` inside a compiled step, where
    ``fn(values)`` returns the loss at parameter values shaped like ``grads``; or
    torch-style ``step(closure)``, which runs up to ``max_iter`` iterations and stops
    early on ``tolerance_grad`` / ``tolerance_change`` as torch does.

    Args:
        lr: step scale, ``>= 0`` (the line search's first trial step). Default 1.
        max_iter: iterations per ``step(closure)``, ``>= 1``. Default 20.
        max_eval: loss-and-gradient evaluations of the closure per
            ``step(closure)`` (the line search's own trial points, inside the
            compiled iteration, are not counted). Default ``max_iter * 5 // 4``.
        tolerance_grad: stop when :math:`\max|g| \le` this. Default 1e-7.
        tolerance_change: stop when the loss or the step changes less. Default 1e-9.
        history_size: torch's name for ``memory_size``.
        line_search_fn: ``None``, ``'zoom'`` (strong Wolfe; ``'strong_wolfe'`` is an
            alias) or ``'backtracking'``.
        memory_size: pairs :math:`(s, y)` kept, ``>= 1``. Default 10.
        max_linesearch_steps: trial steps per line search, ``>= 1``. Default 20.
        **options: the shell's options.

    Limitations:
        One parameter group only: L-BFGS sees all parameters as one vector.
        ``step(closure)`` compiles once per closure object; a closure made anew
        for each mini-batch compiles each time. For mini-batches, pass the batch
        as an argument of a compiled step that calls
        ``update(grads, value=..., value_fn=...)``.

    References:
        Liu, Nocedal, "On the limited memory BFGS method for large scale
        optimization", Mathematical Programming 45, 1989.
    """

    transform = staticmethod(T.lbfgs)

    def __init__(self, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=None, line_search_fn=None, *,
                 memory_size=10, max_linesearch_steps=20, **options):  # fmt: skip
        if history_size is not None:
            check_int("history_size", history_size, 1)
            if memory_size not in (10, history_size):
                raise ValueError(
                    "history_size and memory_size name the same thing; got "
                    f"history_size={history_size}, memory_size={memory_size}"
                )
            memory_size = history_size
        self.max_iter = check_int("max_iter", max_iter, 1)
        self.max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        check_int("max_eval", self.max_eval, 1)
        self.tolerance_grad = check_range("tolerance_grad", tolerance_grad, 0.0)
        self.tolerance_change = check_range("tolerance_change", tolerance_change, 0.0)
        self.needs_value_fn = line_search_fn is not None
        super().__init__(lr, memory_size=memory_size, line_search_fn=line_search_fn,
                         max_linesearch_steps=max_linesearch_steps,
                         **options)  # fmt: skip

    def add_param_group(self, states, lr=None, **hparams):
        raise ValueError(
            "LBFGS optimizes all parameters as one vector and has one parameter "
            "group; register every State with register_trainable_weights"
        )

    def step(self, grads=None, closure: Callable | None = None, **kwargs):
        """``update(grads, ...)``, or up to ``max_iter`` iterations on a closure.

        ``closure()`` computes the loss from the registered States. Returns the loss
        before the first iteration, as torch does.
        """
        if closure is None and callable(grads):
            grads, closure = None, grads
        if closure is None:
            return super().step(grads, **kwargs)

        iterate = self._compiled_for(closure, lambda: self._iterate(closure))

        first_loss = prev_loss = None
        for evals in range(1, self.max_iter + 1):
            loss, gmax, step_max = iterate()
            loss = float(loss)
            if first_loss is None:
                first_loss = loss
            if float(gmax) <= self.tolerance_grad:
                break
            if evals >= self.max_eval:
                break
            if float(step_max) <= self.tolerance_change:
                break
            if prev_loss is not None and abs(loss - prev_loss) < self.tolerance_change:
                break
            prev_loss = loss
        return first_loss

    def _iterate(self, closure):
        before = [s.value for s in self._states]
        loss, grads = self._closure_update(closure)
        gmax = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(grads)]))
        after = jax.tree.leaves([s.value for s in self._states])
        step_max = jnp.max(
            jnp.stack(
                [
                    jnp.max(jnp.abs(a - b))
                    for a, b in zip(after, jax.tree.leaves(before), strict=True)
                ]
            )
        )
        return loss, gmax, step_max
