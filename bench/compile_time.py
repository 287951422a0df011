"""Compile time of a train step, and proof that a new lr does not recompile.

For each optimizer a full train step (forward, backward, update) of the
transformer block is compiled with ``brainstate.transform.jit``. Then, between
further steps, the lr is changed three ways (``opt.lr.step()`` on a scheduler,
``opt.set_lr``, and the scheduler's own epoch change) and the number of Python
traces and of XLA executables is read back: both must stay at one.
"""

from __future__ import annotations

import time

import brainstate
import jax
import optax
from impls import jit_step
from models import TransformerBlock

import brainoptim
from brainoptim import registry


def _train_step(model, opt, jitter, traces: list):
    params = model.params

    def value_fn(values):
        return model.loss_of(values, *value_fn.batch)

    def step(x, y):
        traces[0] += 1
        grads, loss = brainstate.transform.grad(
            model.loss, grad_states=params, return_value=True
        )(x, y)
        if opt.needs_value_fn:
            value_fn.batch = (x, y)
            opt.update(grads, value=loss, value_fn=value_fn)
        else:
            opt.update(grads)
        return loss

    return jitter(step)


def _cache_size(step) -> int | None:
    jitted = getattr(step, "jitted_fun", None) or getattr(step, "compiled", None)
    try:
        return int(jitted._cache_size())
    except AttributeError:
        return None


def measure(name: str, jitter_name: str, d: int, ff: int) -> dict:
    model = TransformerBlock(d, ff)
    x, y = model.batch()
    overrides = {}
    if name != "LBFGS":
        base = registry.get(name).defaults.get("lr", 1e-3)
        overrides["lr"] = brainoptim.schedulers.CosineAnnealingLR(
            base_lr=base, T_max=10
        )
    opt = registry.create(name, **overrides)
    opt.register_trainable_weights(model.params)
    jitter = jit_step if jitter_name == "jit_step" else brainstate.transform.jit
    traces = [0]
    step = _train_step(model, opt, jitter, traces)

    t0 = time.perf_counter()
    jax.block_until_ready(step(x, y))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(step(x, y))
    steady = time.perf_counter() - t0

    lrs = [opt.current_lr]
    for i in range(3):
        opt.lr.step()
        if i == 1:
            opt.set_lr(lrs[0] * 0.5)
        lrs.append(opt.current_lr)
        jax.block_until_ready(step(x, y))
    return {
        "compile_s": first - steady,
        "first_call_s": first,
        "steady_step_s": steady,
        "lrs_applied": lrs,
        "python_traces": traces[0],
        "xla_executables": _cache_size(step),
    }


def optax_compile(d: int, ff: int) -> dict:
    """The same train step in raw optax (Adam), for reference."""
    model = TransformerBlock(d, ff)
    x, y = model.batch()
    p = {k: s.value for k, s in model.params.items()}
    tx = optax.adam(1e-3)

    @jax.jit
    def step(p, s, x, y):
        loss, g = jax.value_and_grad(model.loss_of)(p, x, y)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    s = tx.init(p)
    t0 = time.perf_counter()
    out = jax.block_until_ready(step(p, s, x, y))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(step(*out[:2], x, y))
    steady = time.perf_counter() - t0
    return {"compile_s": first - steady, "first_call_s": first}


def run(names: list[str], d: int = 512, ff: int = 2048, log=print) -> dict:
    out = {"model": f"TransformerBlock(d={d}, ff={ff})", "opt": {}}
    for name in names:
        log(f"  compile: {name}")
        out["opt"][name] = {"brainstate.jit": measure(name, "jit", d, ff)}
        if name == "Adam":
            out["opt"][name]["jit_step"] = measure(name, "jit_step", d, ff)
    out["optax_adam"] = optax_compile(d, ff)
    return out
