"""One optimizer step, built the way each library's users build it.

Every ``make_*`` function takes the parameters and gradients as NumPy arrays
(``{name: array}``) and returns a :class:`Step`: ``run()`` applies one step to the
same gradients and blocks until it is done, ``nbytes_state`` is what the library
keeps besides the parameters, or ``None`` where a library cannot be built for this
optimizer (``reason`` says why).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax

import brainoptim
from brainoptim import registry

try:
    from brainoptim import jit_step
except ImportError:  # the prototype, until the core exports it
    from _jit_step import jit_step

__all__ = [
    "Step",
    "OPTAX",
    "TORCH",
    "make_floor",
    "make_optax",
    "make_rule",
    "make_brainoptim",
    "make_braintools",
    "make_torch",
    "state_arrays",
]


@dataclass
class Step:
    run: Callable[[], Any] | None
    nbytes_state: int | None = None
    reason: str = ""
    lower: Callable[[], Any] | None = None


def _unavailable(reason: str) -> Step:
    return Step(None, None, reason)


def _nbytes(tree) -> int:
    return int(sum(np.prod(jnp.shape(x)) * jnp.result_type(x).itemsize
                   for x in jax.tree.leaves(tree)))  # fmt: skip


# -- the floor -------------------------------------------------------------------


def state_arrays(nbytes_state: int, nbytes_params: int) -> int:
    """How many parameter-sized arrays an optimizer state amounts to."""
    return int(round(nbytes_state / nbytes_params))


def make_floor(params: dict, grads: dict, k: int) -> Step:
    """A donated elementwise kernel that reads the gradient, reads and writes the
    parameter and ``k`` state arrays: ``12 + 8k`` bytes per float32 parameter,
    what an elementwise optimizer with ``k`` moments must move."""

    def kernel(p, states, g):
        new_states = [0.9 * s + g for s in states]
        direction = g
        for s in new_states:
            direction = direction + s
        return p - 1e-3 * direction, new_states

    def step(p, states, g):
        out = {n: kernel(p[n], [s[n] for s in states], g[n]) for n in p}
        new_p = {n: o[0] for n, o in out.items()}
        new_s = [{n: o[1][i] for n, o in out.items()} for i in range(k)]
        return new_p, new_s

    f = jax.jit(step, donate_argnums=(0, 1))
    g = {n: jnp.asarray(v) for n, v in grads.items()}
    carry = [
        {n: jnp.asarray(v) for n, v in params.items()},
        [{n: jnp.zeros_like(jnp.asarray(v)) for n, v in params.items()}
         for _ in range(k)],
    ]  # fmt: skip

    def run():
        carry[0], carry[1] = f(carry[0], carry[1], g)
        jax.block_until_ready(carry)

    return Step(run, k * _nbytes(params), lower=lambda: f.lower(*carry, g))


# -- raw optax -----------------------------------------------------------------

#: The same algorithm written with optax's own alias, at the registry's defaults.
OPTAX: dict[str, Callable[[], optax.GradientTransformation]] = {
    "Lion": lambda: optax.lion(3e-4, b1=0.9, b2=0.99, weight_decay=1e-4),
    "Adafactor": lambda: optax.adafactor(1e-3, decay_rate=0.8, clipping_threshold=1.0),
    "Lookahead": lambda: optax.lookahead(
        optax.sgd(0.1, momentum=0.9), sync_period=5, slow_step_size=0.5
    ),
    "RAdam": lambda: optax.chain(
        optax.add_decayed_weights(1e-4), optax.radam(1e-3, eps=1e-8)
    ),
    "Lamb": lambda: optax.chain(
        optax.clip(10.0), optax.lamb(2e-3, eps=1e-6, weight_decay=0.01)
    ),
    "Lars": lambda: optax.lars(
        0.1, weight_decay=1e-4, trust_coefficient=0.001, eps=1e-8, momentum=0.9
    ),
    "SM3": lambda: optax.sm3(1e-3, momentum=0.9),
    "Rprop": lambda: optax.rprop(1e-3, min_step_size=1e-6, max_step_size=50.0),
    "Yogi": lambda: optax.yogi(1e-2, b1=0.9, b2=0.999, eps=1e-3),
    "Adam": lambda: optax.adam(1e-3),
    "AdamW": lambda: optax.adamw(1e-3, weight_decay=1e-2),
    "SGD": lambda: optax.sgd(0.1, momentum=0.9),
    "NAdam": lambda: optax.nadam(2e-3),
    "Adamax": lambda: optax.adamax(2e-3),
    "Adagrad": lambda: optax.adagrad(1e-2),
    "Adadelta": lambda: optax.adadelta(1.0),
    "RMSprop": lambda: optax.rmsprop(1e-3, decay=0.99, eps=1e-8),
    "AdaBelief": lambda: optax.adabelief(1e-3),
    "Novograd": lambda: optax.novograd(1e-2),
}


def _functional(tx, params: dict, grads: dict, donate: bool, lookahead=False) -> Step:
    g = {n: jnp.asarray(v) for n, v in grads.items()}
    p = {n: jnp.asarray(v) for n, v in params.items()}
    if lookahead:
        p = optax.LookaheadParams.init_synced(p)
    state = tx.init(p)

    def step(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    f = jax.jit(step, donate_argnums=(0, 1) if donate else ())
    carry = [jax.tree.map(jnp.copy, p), jax.tree.map(jnp.copy, state)]

    def run():
        carry[0], carry[1] = f(carry[0], carry[1], g)
        jax.block_until_ready(carry)

    return Step(run, _nbytes(state), lower=lambda: f.lower(*carry, g))


def make_optax(name: str, params: dict, grads: dict, donate: bool) -> Step:
    """The optimizer in raw optax under ``jax.jit`` (the functional baseline)."""
    if name not in OPTAX:
        return _unavailable("optax has no alias")
    return _functional(OPTAX[name](), params, grads, donate, name == "Lookahead")


def make_rule(name: str, params: dict, grads: dict, donate: bool = True) -> Step:
    """brainoptim's own rule (``to_optax()``) used functionally under ``jax.jit``."""
    return _functional(registry.create(name).to_optax(), params, grads, donate)


# -- brainoptim's stateful shell ------------------------------------------------


def make_brainoptim(
    name: str, params: dict, grads: dict, donate: bool, check=True, **overrides
) -> Step:
    """The tutorial's code: ParamStates, ``register_trainable_weights``,
    ``opt.update(grads)`` compiled by ``brainstate.transform.jit`` (or, with
    ``donate``, by :func:`jit_step`)."""
    states = {n: brainstate.ParamState(jnp.asarray(v)) for n, v in params.items()}
    opt = registry.create(name, detect_nonfinite=check, **overrides)
    opt.register_trainable_weights(states)
    g = {n: jnp.asarray(v) for n, v in grads.items()}
    jitter = jit_step if donate else brainstate.transform.jit

    @jitter
    def step(g):
        opt.update(g)

    first = next(iter(states.values()))

    def run():
        step(g)
        jax.block_until_ready((first.value, opt.step_count.value))

    return Step(run, opt.state_nbytes(), lower=lambda: step.lower(g))


# -- braintools.optim -----------------------------------------------------------


def braintools_optimizer(name: str):
    """braintools.optim's optimizer of this name at the registry's defaults."""
    import braintools.optim as bto

    cls = getattr(bto, name, None)
    if cls is None:
        return None
    kwargs = dict(registry.get(name).defaults)
    if name == "Lookahead":
        kwargs = dict(base_optimizer=optax.sgd(0.1, momentum=0.9), sync_period=5,
                      alpha=0.5, lr=0.1)  # fmt: skip
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})


def make_braintools(name: str, params: dict, grads: dict) -> Step:
    """braintools.optim's class of the same name, used as its users do."""
    try:
        import braintools.optim  # noqa: F401
    except ImportError:
        return _unavailable("braintools is not installed")
    opt = braintools_optimizer(name)
    if opt is None:
        return _unavailable(f"braintools.optim has no {name}")
    try:
        states = {n: brainstate.ParamState(jnp.asarray(v)) for n, v in params.items()}
        opt.register_trainable_weights(states)
        g = {n: jnp.asarray(v) for n, v in grads.items()}

        @brainstate.transform.jit
        def step(g):
            opt.update(g)

        step(g)
    except Exception as e:  # noqa: BLE001 - recorded as the reason it is absent
        return _unavailable(f"braintools.optim.{name} fails: {type(e).__name__}")
    first = next(iter(states.values()))

    def run():
        step(g)
        jax.block_until_ready(first.value)

    nbytes = _nbytes([s.value for s in _braintools_state(opt)])
    return Step(run, nbytes, lower=lambda: step.lower(g))


def _braintools_state(opt) -> list:
    out = []
    for attr in ("opt_state", "param_groups_opt_states"):
        v = getattr(opt, attr, None)
        if v is None:
            continue
        is_state = lambda x: isinstance(x, brainstate.State)  # noqa: E731
        for leaf in jax.tree.leaves(v, is_leaf=is_state):
            out.append(leaf if isinstance(leaf, brainstate.State) else _Wrap(leaf))
    return out


class _Wrap:
    def __init__(self, value):
        self.value = value


# -- torch ------------------------------------------------------------------------


def _torch_classes() -> dict[str, tuple[Any, dict]]:
    import pytorch_optimizer as po
    import torch

    o = torch.optim
    return {
        "Adam": (o.Adam, dict(lr=1e-3)),
        "AdamW": (o.AdamW, dict(lr=1e-3, weight_decay=1e-2)),
        "SGD": (o.SGD, dict(lr=0.1, momentum=0.9)),
        "NAdam": (o.NAdam, dict(lr=2e-3)),
        "RAdam": (o.RAdam, dict(lr=1e-3, weight_decay=1e-4)),
        "Adamax": (o.Adamax, dict(lr=2e-3)),
        "Adagrad": (o.Adagrad, dict(lr=1e-2)),
        "Adadelta": (o.Adadelta, dict(lr=1.0)),
        "RMSprop": (o.RMSprop, dict(lr=1e-3)),
        "Rprop": (o.Rprop, dict(lr=1e-3)),
        "Lion": (po.Lion, dict(lr=3e-4, betas=(0.9, 0.99), weight_decay=1e-4)),
        "Adafactor": (
            po.AdaFactor,
            dict(lr=1e-3, clip_threshold=1.0, momentum_dtype=torch.float32),
        ),
        "Lamb": (po.Lamb, dict(lr=2e-3, eps=1e-6, weight_decay=0.01)),
        "Lars": (po.LARS, dict(lr=0.1, momentum=0.9, weight_decay=1e-4)),
        "SM3": (po.SM3, dict(lr=1e-3, momentum=0.9)),
        "Yogi": (po.Yogi, dict(lr=1e-2, eps=1e-3)),
        "AdaBelief": (po.AdaBelief, dict(lr=1e-3)),
        "Novograd": (po.NovoGrad, dict(lr=1e-2)),
    }


#: Which torch implementation each registry optimizer is compared with.
TORCH = (
    "torch.optim: Adam AdamW SGD NAdam RAdam Adamax Adagrad Adadelta RMSprop Rprop; "
    "pytorch-optimizer: Lion AdaFactor Lamb LARS SM3 Yogi AdaBelief NovoGrad, "
    "Lookahead(torch.optim.SGD)"
)


def make_torch(name: str, params: dict, grads: dict, impl: str) -> Step:
    """torch.optim / pytorch-optimizer with ``impl`` ``'foreach'`` or ``'fused'``."""
    try:
        import pytorch_optimizer as po
        import torch
    except ImportError:
        return _unavailable("torch / pytorch-optimizer are not installed")
    tensors = []
    for n, v in params.items():
        t = torch.nn.Parameter(torch.from_numpy(v.copy()))
        t.grad = torch.from_numpy(grads[n].copy())
        tensors.append(t)
    if name == "Lookahead":
        if impl != "foreach":
            return _unavailable("torch has no fused Lookahead")
        inner = torch.optim.SGD(tensors, lr=0.1, momentum=0.9, foreach=True)
        opt = po.Lookahead(inner, k=5, alpha=0.5)
    else:
        classes = _torch_classes()
        if name not in classes:
            return _unavailable("no torch implementation")
        cls, kwargs = classes[name]
        accepted = inspect.signature(cls.__init__).parameters
        if impl not in accepted:
            return _unavailable(f"{cls.__name__} has no {impl} implementation")
        try:
            opt = cls(tensors, **kwargs, **{impl: True})
            opt.step()
        except (RuntimeError, ValueError, TypeError) as e:
            return _unavailable(f"{cls.__name__}({impl}=True) fails: {e}"[:120])

    def run():
        opt.step()

    run()
    nbytes = sum(
        t.numel() * t.element_size()
        for st in opt.state.values()
        for t in st.values()
        if isinstance(t, torch.Tensor)
    )
    return Step(run, int(nbytes))


def brainoptim_version() -> str:
    return brainoptim.__version__
