"""Per-leaf overhead: Adam on a model of 500 small leaves (68k parameters).

With so little arithmetic, what a step costs is per leaf: Python work per State in
the stateful shell and in brainstate's jit wrapper, dispatch, and XLA's fixed cost
per fused kernel. Measured, interleaved:

- the full train step (forward, backward, update) in brainoptim under
  ``brainstate.transform.jit`` and under ``jit_step``, in raw optax (donated), and
  in torch (fused and foreach Adam);
- the optimizer step alone (gradients given) in the same libraries, plus optax's
  ``flatten`` wrapper, which concatenates all leaves into one vector;
- brainstate's per-call Python work taken apart: the cache-key and State-shape
  check (``get_state_trace``) and the write-back of every State.
"""

from __future__ import annotations

import time

import brainstate
import impls
import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import interleave
from impls import jit_step
from models import ManyLeaves

import brainoptim


def _stateful_train(model, jitter):
    opt = brainoptim.Adam(lr=1e-3)
    opt.register_trainable_weights(model.params)

    @jitter
    def step(x, y):
        grads, loss = brainstate.transform.grad(
            model.loss, grad_states=model.params, return_value=True
        )(x, y)
        opt.update(grads)
        return loss

    return step


def _optax_train(model, tx):
    p = {k: s.value.copy() for k, s in model.params.items()}

    def step(p, s, x, y):
        loss, g = jax.value_and_grad(model.loss_of)(p, x, y)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    f = jax.jit(step, donate_argnums=(0, 1))
    carry = [p, tx.init(p)]

    def run(x, y):
        carry[0], carry[1], loss = f(carry[0], carry[1], x, y)
        return loss

    return run


def _torch_train(model, impl):
    import torch

    n, w = model.n_branches, model.width
    ws = [torch.nn.Parameter(torch.from_numpy(np.asarray(model.params[f"b{i}.weight"]
                                                          .value).copy()))
          for i in range(n)]  # fmt: skip
    bs = [
        torch.nn.Parameter(
            torch.from_numpy(np.asarray(model.params[f"b{i}.bias"].value).copy())
        )
        for i in range(n)
    ]
    opt = torch.optim.Adam(ws + bs, lr=1e-3, **{impl: True})
    del w

    def run(x, y):
        opt.zero_grad()
        loss = torch.mean((x - y) ** 2)
        for wi, bi in zip(ws, bs, strict=True):
            loss = loss + torch.mean(torch.tanh(wi * x[0] + bi) ** 2)
        loss.backward()
        opt.step()
        return loss

    return run


def run(budget_s: float = 6.0, log=print) -> dict:
    log("  per-leaf: 500-leaf model")
    x, y = ManyLeaves().batch()
    xt, yt = (None, None)
    try:
        import torch

        xt, yt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))
    except ImportError:
        torch = None

    train = {
        "brainoptim": (_stateful_train(ManyLeaves(), brainstate.transform.jit), x, y),
        "brainoptim+jit_step": (_stateful_train(ManyLeaves(), jit_step), x, y),
        "optax+donate": (_optax_train(ManyLeaves(), optax.adam(1e-3)), x, y),
    }
    if torch is not None:
        train["torch fused"] = (_torch_train(ManyLeaves(), "fused"), xt, yt)

    def blocking(fn, a, b):
        def call():
            out = fn(a, b)
            if hasattr(out, "block_until_ready"):
                out.block_until_ready()

        return call

    t_train = interleave(
        {k: blocking(*v) for k, v in train.items()}, budget_s=budget_s, max_rounds=200
    )

    model = ManyLeaves()
    params = {k: np.asarray(s.value) for k, s in model.params.items()}
    grads = {k: np.full_like(v, 1e-3) for k, v in params.items()}
    steps = {
        "brainoptim": impls.make_brainoptim("Adam", params, grads, donate=False),
        "brainoptim+jit_step": impls.make_brainoptim("Adam", params, grads, True),
        "optax+donate": impls.make_optax("Adam", params, grads, donate=True),
        "optax.flatten+donate": impls._functional(  # noqa: SLF001
            optax.flatten(optax.adam(1e-3)), params, grads, donate=True
        ),
        "torch fused": impls.make_torch("Adam", params, grads, "fused"),
        "torch foreach": impls.make_torch("Adam", params, grads, "foreach"),
    }
    t_step = interleave(
        {k: s.run for k, s in steps.items() if s.run is not None},
        budget_s=budget_s,
        max_rounds=200,
    )
    return {
        "model": "500 leaves (250 x W[16x16], b[16]; 68k params), elementwise loss",
        "train_step_s": {k: v.median for k, v in t_train.items()},
        "optimizer_step_s": {k: v.median for k, v in t_step.items()},
        "brainstate_overhead_s": _brainstate_overhead(),
    }


def _brainstate_overhead() -> dict:
    """Per-call Python work of ``brainstate.transform.jit`` on the 500 States."""
    model = ManyLeaves()
    x, y = model.batch()
    step = _stateful_train(model, brainstate.transform.jit)
    step(x, y)
    fun = step.stateful_fun
    trace = fun.get_state_trace(x, y, compile_if_miss=True)
    values = trace.get_state_values()
    reads = trace.get_read_state_values(True)

    def t(fn, n=30):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    return {
        "states": len(trace.states),
        "cache_key_and_shape_check": t(
            lambda: fun.get_state_trace(x, y, compile_if_miss=True)
        ),
        "read_values": t(trace.get_state_values),
        "write_back": t(lambda: trace.assign_state_vals_v2(reads, values)),
        "whole_call": t(lambda: jnp.asarray(step(x, y)).block_until_ready()),
    }
