"""Optimizer-state bytes, and peak memory of a compiled train step.

State bytes are exact sums over the arrays each library keeps (brainoptim's
``state_nbytes()``, as ``brainoptim compare`` reports it). Peak memory comes from
XLA's memory analysis of the compiled train step (forward, backward, update of the
transformer block): arguments + outputs - aliased (donated) + temporaries. The
bound it is checked against is parameters + optimizer state + what the same
model's gradient computation alone needs (its gradients and activations, from
the same analysis) + the batch.
"""

from __future__ import annotations

import brainstate
import impls
import jax
import numpy as np
from common import transformer_block_shapes
from impls import jit_step
from models import TransformerBlock

from brainoptim import registry


def _peak(compiled) -> dict:
    m = compiled.memory_analysis()
    args, outs = m.argument_size_in_bytes, m.output_size_in_bytes
    alias, temp = m.alias_size_in_bytes, m.temp_size_in_bytes
    return {
        "arguments": args,
        "outputs": outs,
        "aliased": alias,
        "temporaries": temp,
        "peak": args + outs - alias + temp,
    }


def _nbytes(tree) -> int:
    return int(sum(np.asarray(x).nbytes for x in jax.tree.leaves(tree)))


def gradient_only(model, x, y) -> dict:
    """Memory of the model's loss and gradient alone: the activation bound."""
    p = {k: s.value for k, s in model.params.items()}
    compiled = jax.jit(jax.grad(model.loss_of)).lower(p, x, y).compile()
    return _peak(compiled)


def train_step_memory(name: str, model, x, y, which: str) -> dict | None:
    """Peak memory of the compiled train step with ``which`` library/jit."""
    for s in model.params.values():
        s.value = s.value.copy()
    if which == "braintools":
        opt = impls.braintools_optimizer(name)
        if opt is None:
            return None
        opt.register_trainable_weights(model.params)
    else:
        opt = registry.create(name)
        opt.register_trainable_weights(model.params)

    def step(x, y):
        grads = brainstate.transform.grad(model.loss, grad_states=model.params)(x, y)
        opt.update(grads)

    jitter = jit_step if which == "brainoptim+donate" else brainstate.transform.jit
    compiled = jitter(step).lower(x, y).compile()
    out = _peak(compiled)
    if which == "braintools":
        out["state_bytes"] = _nbytes(
            [s.value for s in impls._braintools_state(opt)]  # noqa: SLF001
        )
    else:
        out["state_bytes"] = opt.state_nbytes()
    return out


def state_bytes(names: list[str], d: int, ff: int) -> dict:
    """State bytes per optimizer for every library, on the block's leaves."""
    shapes = transformer_block_shapes(d, ff)
    params = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
    grads = {k: np.full(s, 1e-3, np.float32) for k, s in shapes.items()}
    out = {}
    for name in names:
        if registry.get(name).needs_value_fn:
            opt = registry.create(name)
            opt.register_trainable_weights(
                {k: brainstate.ParamState(v) for k, v in params.items()}
            )
            out[name] = {"brainoptim": opt.state_nbytes()}
            continue
        row = {"brainoptim": impls.make_brainoptim(name, params, grads, False)}
        row["optax"] = impls.make_optax(name, params, grads, False)
        row["braintools"] = impls.make_braintools(name, params, grads)
        row["torch"] = impls.make_torch(name, params, grads, "foreach")
        out[name] = {k: v.nbytes_state for k, v in row.items()}
    return out


def run(state_names: list[str], peak_names: list[str], d=512, ff=2048, log=print):
    model = TransformerBlock(d, ff)
    x, y = model.batch()
    param_bytes = _nbytes([s.value for s in model.params.values()])
    log("  memory: state bytes")
    result = {
        "model": f"TransformerBlock(d={d}, ff={ff}), batch {tuple(x.shape)}",
        "param_bytes": param_bytes,
        "batch_bytes": _nbytes((x, y)),
        "state_bytes": state_bytes(state_names, d, ff),
        "gradient_only": gradient_only(model, x, y),
        "peak": {},
    }
    grad_peak = result["gradient_only"]
    for name in peak_names:
        log(f"  memory: peak of {name}'s train step")
        row = {}
        for which in ("brainoptim", "brainoptim+donate", "braintools"):
            row[which] = train_step_memory(name, model, x, y, which)
        donated = row["brainoptim+donate"]
        bound = (
            param_bytes
            + donated["state_bytes"]
            + grad_peak["temporaries"]
            + grad_peak["outputs"]
            + result["batch_bytes"]
        )
        row["bound"] = bound
        row["donated_within_bound"] = donated["peak"] <= bound
        result["peak"][name] = row
    return result
