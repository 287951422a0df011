"""A compiled stateful step that updates the States it writes in place.

``brainstate.transform.jit`` passes every State's value into the compiled
computation as an argument and takes the new values back as outputs. XLA may not
overwrite an argument's buffer, so each step writes the new parameters and moments
into fresh buffers: the step moves more bytes than its arithmetic needs, and peak
memory holds two copies of parameters and optimizer state. Its per-call Python
work (a cache key over every argument and a shape check of every State) is also
proportional to the number of States.

:func:`jit_step` compiles the same function, donates the buffers of the States the
function writes (parameters, moments, step counters) so that XLA updates them in
place, and keeps per-call Python work to a read and a write of each State. States
that are only read (the learning rate, data) are not donated.

"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import brainstate
import jax
import jax.numpy as jnp

__all__ = ["jit_step"]


class _StaleStates(Exception):
    """The traced function touches other States than the cached call passed."""


def _fresh_buffers(written: tuple, read: tuple) -> tuple:
    """``written`` with a copy of any array that occurs twice or is also read.

    A buffer can be donated once only, and a donated buffer that a read-only State
    still holds would be deleted under it. Optimizer states that start as the
    parameters themselves (Lookahead's slow weights) need this on the first step.
    """
    seen = {id(x) for x in jax.tree.leaves(read)}
    leaves, treedef = jax.tree.flatten(written)
    clash = False
    for i, x in enumerate(leaves):
        if id(x) in seen:
            leaves[i] = jnp.copy(x)
            clash = True
        seen.add(id(leaves[i]))
    return treedef.unflatten(leaves) if clash else written


def _arg_key(args: tuple, static_argnums: tuple[int, ...]):
    dynamic = [a for i, a in enumerate(args) if i not in static_argnums]
    leaves, treedef = jax.tree.flatten(dynamic)
    avals = tuple(
        (jnp.shape(x), jnp.result_type(x)) if hasattr(x, "shape") else type(x)
        for x in leaves
    )
    static = tuple(args[i] for i in static_argnums if i < len(args))
    return treedef, avals, static


def jit_step(
    fun: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    donate: bool = True,
) -> Callable:
    """Compiles a stateful step; the States it writes are updated in place.

    Use it where ``brainstate.transform.jit`` decorates a train step::

        @jit_step
        def train_step(x, y):
            grads = brainstate.transform.grad(loss_fn, grad_states=params)(x, y)
            opt.update(grads)

    Args:
        fun: the step; it reads and writes States and returns any pytree.
        static_argnums: positional arguments that are hashable Python values, part
            of the compilation's key.
        donate: donate the written States' buffers (``False`` compiles the same
            computation as ``brainstate.transform.jit``).

    Limitations:
        An array taken from a written State before the call (``w = param.value``)
        is deleted by the call when donation is on; copy it first if it is needed
        afterwards. Positional arguments only; they are never donated.
    """
    if fun is None:
        return functools.partial(jit_step, static_argnums=static_argnums, donate=donate)
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    static_argnums = tuple(static_argnums)
    stateful = brainstate.transform.StatefulFunction(
        fun, static_argnums=static_argnums, name="jit_step", return_only_write=True
    )
    # arguments' signature -> (written States, read States)
    cache: dict = {}
    # the States of the call being traced, so that a retrace can check them
    passing: list = [None]

    def split(trace) -> tuple[tuple, tuple]:
        flags = trace.been_writen
        written = tuple(s for s, w in zip(trace.states, flags, strict=True) if w)
        read = tuple(s for s, w in zip(trace.states, flags, strict=True) if not w)
        return written, read

    def pure(written, read, *args):
        trace = stateful.get_state_trace(*args, compile_if_miss=True)
        states = split(trace)
        if passing[0] is not None and tuple(map(id, states[0] + states[1])) != tuple(
            map(id, passing[0][0] + passing[0][1])
        ):
            raise _StaleStates
        w, r = iter(written), iter(read)
        values = tuple(next(w) if wr else next(r) for wr in trace.been_writen)
        new, out = stateful.jaxpr_call(values, *args)
        return tuple(v for v, wr in zip(new, trace.been_writen, strict=True) if wr), out

    compiled = jax.jit(
        pure,
        static_argnums=tuple(i + 2 for i in static_argnums),
        donate_argnums=(0,) if donate else (),
    )

    def states_for(args, key, refresh=False):
        states = None if refresh else cache.get(key)
        if states is None:
            trace = stateful.get_state_trace(*args, compile_if_miss=True)
            states = cache[key] = split(trace)
        return states

    def values(states):
        written = tuple(s.value for s in states[0])
        read = tuple(s.value for s in states[1])
        if donate:
            written = _fresh_buffers(written, read)
        return written, read

    @functools.wraps(fun)
    def step(*args):
        key = _arg_key(args, static_argnums)
        states = states_for(args, key)
        passing[0] = states
        try:
            new, out = compiled(*values(states), *args)
        except _StaleStates:
            stateful.clear_cache()
            states = passing[0] = states_for(args, key, refresh=True)
            new, out = compiled(*values(states), *args)
        finally:
            passing[0] = None
        for state, value in zip(states[0], new, strict=True):
            state.value = value
        return out

    def lower(*args) -> jax.stages.Lowered:
        """The lowered computation, for XLA's cost and memory analyses."""
        states = states_for(args, _arg_key(args, static_argnums))
        written = tuple(s.value for s in states[0])
        read = tuple(s.value for s in states[1])
        return compiled.lower(written, read, *args)

    step.lower = lower
    step.compiled = compiled
    step.stateful = stateful
    return step
