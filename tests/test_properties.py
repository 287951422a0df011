"""Property tests over the registry: random parameter trees and hyperparameters.

For every optimizer, hypothesis draws a parameter tree (nested dicts, States whose
value is itself a dict, leaves of rank 0 to 4 in float32, bfloat16 or float16),
finite gradients, and hyperparameters inside their documented valid ranges. One
step must keep the structure, shapes and dtypes, must not produce NaN or inf, and
``state_dict`` / ``load_state_dict`` (and a checkpoint file) must be the identity.
"""

from __future__ import annotations

import os
import tempfile

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import brainoptim
from brainoptim import registry

NAMES = registry.names()
DTYPES = (jnp.float32, jnp.bfloat16, jnp.float16)

_SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# L-BFGS's line searches are slow to run eagerly; fewer examples keep the
# suite fast.
_EXAMPLES = {"LBFGS": 3}
_DEFAULT_EXAMPLES = 6


# -- hyperparameters inside their valid ranges --------------------------------------


def _unit(low=0.0, high=1.0):
    return st.floats(low, high, allow_nan=False, allow_subnormal=False)


def _betas():
    return st.tuples(_unit(0.0, 0.999), _unit(0.0, 0.999))


def _eps(low=1e-8, high=1e-3):
    return _unit(low, high)


_LR = _unit(0.0, 1.0)
_WD = _unit(0.0, 0.5)
_MOMENTUM = _unit(0.0, 0.99)


@st.composite
def _sgd(draw):
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]) | _MOMENTUM)
    dampening = draw(st.just(0.0) | _unit())
    nesterov = momentum > 0 and dampening == 0 and draw(st.booleans())
    return dict(
        lr=draw(_LR),
        momentum=momentum,
        dampening=dampening,
        weight_decay=draw(_WD),
        nesterov=nesterov,
    )


@st.composite
def _lars(draw):
    momentum = draw(_MOMENTUM)
    return dict(
        lr=draw(_LR),
        momentum=momentum,
        weight_decay=draw(_WD),
        trust_coefficient=draw(_unit(1e-4, 1.0)),
        eps=draw(_unit(0.0, 1e-3)),
        nesterov=momentum > 0 and draw(st.booleans()),
    )


@st.composite
def _rprop(draw):
    low = draw(_unit(0.0, 1e-3))
    return dict(
        lr=draw(_unit(1e-4, 0.5)),
        etas=(draw(_unit(0.1, 0.9)), draw(_unit(1.1, 2.0))),
        step_sizes=(low, draw(_unit(max(low, 1e-3), 50.0))),
    )


def _kwargs(**strategies):
    return st.fixed_dictionaries(strategies)


_ADAM_LIKE = dict(lr=_LR, betas=_betas(), eps=_eps(), weight_decay=_WD)

HPARAMS = {
    "Lion": _kwargs(lr=_LR, betas=_betas(), weight_decay=_WD),
    "Adafactor": _kwargs(
        lr=_LR,
        decay_rate=_unit(),
        factored=st.booleans(),
        clip_threshold=st.none() | _unit(0.01, 10.0),
        min_dim_size_to_factor=st.sampled_from([1, 2, 128]),
        multiply_by_parameter_scale=st.booleans(),
        momentum=st.none() | _unit(0.0, 0.99),
        eps=_eps(1e-30, 1e-3),
        weight_decay=_WD,
    ),
    "Lookahead": _kwargs(
        lr=_LR, momentum=_MOMENTUM, sync_period=st.integers(1, 5), alpha=_unit(0.01)
    ),
    "RAdam": _kwargs(**_ADAM_LIKE, decoupled_weight_decay=st.booleans()),
    "Lamb": _kwargs(**_ADAM_LIKE),
    "Lars": _lars(),
    "SM3": _kwargs(lr=_LR, momentum=_unit(0.0, 0.99), eps=_eps()),
    "LBFGS": _kwargs(
        lr=_unit(0.01, 1.0),
        memory_size=st.integers(1, 10),
        line_search_fn=st.sampled_from([None, "backtracking"]),
    ),
    "Rprop": _rprop(),
    "Yogi": _kwargs(
        lr=_LR,
        betas=_betas(),
        eps=_eps(1e-6, 1e-2),
        initial_accumulator_value=_unit(0.0, 1e-3),
    ),
    "Adam": _kwargs(
        **_ADAM_LIKE, amsgrad=st.booleans(), decoupled_weight_decay=st.booleans()
    ),
    "AdamW": _kwargs(**_ADAM_LIKE, amsgrad=st.booleans()),
    "SGD": _sgd(),
    "NAdam": _kwargs(
        **_ADAM_LIKE,
        momentum_decay=_unit(0.0, 0.1),
        decoupled_weight_decay=st.booleans(),
    ),
    "Adamax": _kwargs(**_ADAM_LIKE),
    "Adagrad": _kwargs(
        lr=_LR,
        lr_decay=_unit(0.0, 0.1),
        weight_decay=_WD,
        initial_accumulator_value=_unit(),
        eps=_eps(1e-10, 1e-3),
    ),
    "Adadelta": _kwargs(lr=_LR, rho=_unit(), eps=_eps(), weight_decay=_WD),
    "RMSprop": _kwargs(
        lr=_LR,
        alpha=_unit(0.0, 0.99),
        eps=_eps(),
        weight_decay=_WD,
        momentum=_unit(0.0, 0.9),
        centered=st.booleans(),
    ),
    "AdaBelief": _kwargs(
        lr=_LR,
        betas=_betas(),
        eps=_eps(1e-16, 1e-3),
        eps_root=_unit(0.0, 1e-8),
        weight_decay=_WD,
    ),
    "Novograd": _kwargs(lr=_LR, betas=_betas(), eps=_eps(), weight_decay=_WD),
}

_OPTIONS = _kwargs(
    maximize=st.booleans(),
    grad_clip_norm=st.none() | _unit(0.0, 10.0),
    grad_clip_value=st.none() | _unit(0.0, 10.0),
)


def test_every_registered_optimizer_has_a_strategy():
    assert sorted(HPARAMS) == sorted(NAMES)


def _create(name, kwargs):
    if name == "Lookahead":
        kwargs = dict(kwargs)
        outer = {k: kwargs.pop(k) for k in ("sync_period", "alpha")}
        return brainoptim.Lookahead(brainoptim.SGD(**kwargs), **outer)
    return registry.get(name).cls(**kwargs)


# -- parameter trees ----------------------------------------------------------------

# One shape per rank from 0-d to 4-d: a small catalogue lets compiled operations
# be reused across examples, which keeps the suite fast.
_SHAPES = st.sampled_from([(), (3,), (2, 3), (3, 1, 2), (2, 1, 3, 2)])
_LEAF = st.tuples(_SHAPES, st.sampled_from(DTYPES))
# What one State holds: an array, or a dict of arrays (a layer's weight and bias).
_STATE = st.one_of(
    _LEAF.map(lambda leaf: ("array", leaf)),
    st.dictionaries(st.sampled_from(["weight", "bias"]), _LEAF, min_size=1).map(
        lambda d: ("layer", d)
    ),
)
_TREE = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(
        _STATE,
        st.dictionaries(st.sampled_from(["x", "y"]), _STATE, min_size=1).map(
            lambda d: ("nested", d)
        ),
    ),
    min_size=1,
    max_size=3,
)


def _array(rng, shape, dtype):
    """Uniform values in [-2, 2], about a fifth of them exactly 0."""
    x = rng.uniform(-2.0, 2.0, shape) * (rng.uniform(size=shape) > 0.2)
    return jnp.asarray(x, dtype)


def _build(spec, rng):
    """(States, gradients) for a drawn tree spec."""
    states, grads = {}, {}
    for key, (kind, body) in spec.items():
        if kind == "nested":
            states[key], grads[key] = _build(body, rng)
        elif kind == "array":
            states[key] = brainstate.ParamState(_array(rng, *body))
            grads[key] = _array(rng, *body)
        else:
            value = {k: _array(rng, *leaf) for k, leaf in body.items()}
            states[key] = brainstate.ParamState(value)
            grads[key] = {k: _array(rng, *leaf) for k, leaf in body.items()}
    return states, grads


def _values(states):
    return jax.tree.map(
        lambda s: s.value, states, is_leaf=lambda x: isinstance(x, brainstate.State)
    )


def _loss(values):
    return sum(
        0.5 * jnp.sum(jnp.square(x.astype(jnp.float32)))
        for x in jax.tree.leaves(values)
    )


def _signature(tree):
    return jax.tree.structure(tree), [
        (jnp.shape(x), jnp.result_type(x)) for x in jax.tree.leaves(tree)
    ]


def _bits(x):
    x = np.asarray(x)
    return x.dtype.name, x.shape, x.tobytes()


def _same_state_dict(a, b):
    assert {k: v for k, v in a.items() if k != "state"} == {
        k: v for k, v in b.items() if k != "state"
    }
    assert list(a["state"]) == list(b["state"])
    for key in a["state"]:
        assert _bits(a["state"][key]) == _bits(b["state"][key]), key


def _finite(x):
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return True
    return bool(np.all(np.isfinite(x.astype(np.float64))))


# -- the property -------------------------------------------------------------------


def _check_one_step(name, kwargs, options, spec, seed):
    rng = np.random.default_rng(seed)
    states, grads = _build(spec, rng)
    opt = _create(name, {**kwargs, **options})
    opt.register_trainable_weights(states)
    before = _signature(_values(states))
    state_before = _signature(opt.opt_state.value)

    if opt.needs_value_fn:
        values = _values(states)
        grads = jax.grad(_loss)(values)  # a line search needs the true gradient
        opt.update(grads, value=_loss(values), value_fn=_loss)
    else:
        opt.update(grads)

    after = _values(states)
    assert _signature(after) == before
    assert _signature(opt.opt_state.value) == state_before
    assert all(_finite(x) for x in jax.tree.leaves(after)), after
    saved = opt.state_dict()
    assert all(_finite(x) for x in saved["state"].values()), saved["state"]
    assert saved["step"] == 1 and saved["nonfinite_steps"] == 0

    # load_state_dict(state_dict()) is the identity, in place and into a twin.
    opt.load_state_dict(saved)
    _same_state_dict(opt.state_dict(), saved)
    twin_states, _ = _build(spec, np.random.default_rng(seed + 1))
    twin = _create(name, {**kwargs, **options})
    twin.register_trainable_weights(twin_states)
    twin.load_state_dict(saved)
    _same_state_dict(twin.state_dict(), saved)

    # So is a checkpoint file.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "opt.ckpt")
        brainoptim.save(path, opt, params=states)
        twin = _create(name, {**kwargs, **options})
        twin.register_trainable_weights(twin_states)
        brainoptim.load(path, twin, params=twin_states)
    _same_state_dict(twin.state_dict(), saved)
    for x, y in zip(
        jax.tree.leaves(_values(twin_states)), jax.tree.leaves(after), strict=True
    ):
        assert _bits(x) == _bits(y)


@pytest.mark.parametrize("name", NAMES)
def test_one_step_keeps_structure_and_stays_finite(name):
    @settings(max_examples=_EXAMPLES.get(name, _DEFAULT_EXAMPLES), **_SETTINGS)
    @given(
        kwargs=HPARAMS[name],
        options=_OPTIONS,
        spec=_TREE,
        seed=st.integers(0, 2**16),
    )
    def run(kwargs, options, spec, seed):
        _check_one_step(name, kwargs, options, spec, seed)

    run()
