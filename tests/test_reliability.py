"""Bad input, non-finite gradients, clipping and dtypes, over the whole registry.

Expected values are hand calculations written beside each test: SGD moves by
lr * g; Adam's first step is lr * sign(g) (its bias-corrected moments are g and
g^2, so m / sqrt(v) = sign(g)).
"""

from __future__ import annotations

import inspect
import re

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import create_optimizer

import brainoptim
from brainoptim import registry

NAMES = registry.names()


def _loss(values):
    return sum(
        0.5 * jnp.sum(jnp.square(x.astype(jnp.float32) - 0.3))
        for x in jax.tree.leaves(values)
    )


def _update(opt, grads, values=None):
    """opt.update(grads), with the loss of ``_loss`` for line-search methods."""
    if opt.needs_value_fn:
        opt.update(grads, value=_loss(values), value_fn=_loss)
    else:
        opt.update(grads)


def _bits(x):
    x = np.asarray(x)
    return x.dtype.name, x.shape, x.tobytes()


def _state_bits(opt):
    d = opt.state_dict()
    return d["step"], {k: _bits(v) for k, v in d["state"].items()}


# -- hyperparameters --------------------------------------------------------------

# argument -> (bad value, the valid range as the message states it)
_COMMON = {
    "lr": [(-1.0, ">= 0"), (float("nan"), ">= 0")],
    "betas": [
        ((1.0, 0.999), "betas[0] must be in [0.0, 1.0), got 1.0"),
        ((0.9, 1.0), "betas[1] must be in [0.0, 1.0), got 1.0"),
        ((-0.1, 0.9), "betas[0] must be in [0.0, 1.0), got -0.1"),
    ],
    "eps": [(-1e-8, "eps must be in [0.0, inf], got -1e-08")],
    "weight_decay": [(-0.1, "weight_decay must be in [0.0, inf], got -0.1")],
    "grad_clip_norm": [(-1.0, "grad_clip_norm must be in [0.0, inf], got -1.0")],
    "grad_clip_value": [(-1.0, "grad_clip_value must be in [0.0, inf], got -1.0")],
}

# (optimizer, arguments, the message's argument / range / value)
_SPECIFIC = [
    ("SGD", dict(momentum=-0.1), "momentum must be in [0.0, inf], got -0.1"),
    ("SGD", dict(dampening=1.5), "dampening must be in [0.0, 1.0], got 1.5"),
    ("SGD", dict(momentum=0.0, nesterov=True), "nesterov=True requires momentum > 0"),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    ("RMSprop", dict(momentum=-0.1), "momentum must be in [0.0, inf], got -0.1"),
    ("RMSprop", dict(alpha=1.5), "alpha must be in [0.0, 1.0], got 1.5"),
    ("Lars", dict(momentum=-0.1), "momentum must be in [0.0, inf], got -0.1"),
    ("Lars", dict(momentum=0.0, nesterov=True), "nesterov=True requires momentum > 0"),
    ("Lars", dict(trust_coefficient=0.0), "trust_coefficient must be in (0.0, inf]"),
    ("SM3", dict(momentum=1.0), "momentum must be in [0.0, 1.0), got 1.0"),
    ("SM3", dict(momentum=-0.1), "momentum must be in [0.0, 1.0), got -0.1"),
    ("Adafactor", dict(momentum=1.0), "momentum must be in [0.0, 1.0), got 1.0"),
    ("Adafactor", dict(decay_rate=1.5), "decay_rate must be in [0.0, 1.0], got 1.5"),
    ("Adafactor", dict(clip_threshold=0.0), "clip_threshold must be in (0.0, inf]"),
    ("Adafactor", dict(min_dim_size_to_factor=0), "min_dim_size_to_factor must be"),
    ("Adadelta", dict(rho=1.5), "rho must be in [0.0, 1.0], got 1.5"),
    ("Adagrad", dict(lr_decay=-1.0), "lr_decay must be in [0.0, inf], got -1.0"),
    (
        "Adagrad",
        dict(initial_accumulator_value=-1.0),
        "initial_accumulator_value must be in [0.0, inf], got -1.0",
    ),
    ("Yogi", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("NAdam", dict(momentum_decay=-1.0), "momentum_decay must be in [0.0, inf]"),
    ("AdaBelief", dict(eps_root=-1.0), "eps_root must be in [0.0, inf], got -1.0"),
    ("Rprop", dict(etas=(1.2, 0.5)), "etas must satisfy etas[0] <= etas[1]"),
    ("Rprop", dict(etas=(0.5, 0.9)), "0 < etas[0] < 1 < etas[1], got (0.5, 0.9)"),
    ("Rprop", dict(etas=(0.0, 1.2)), "etas[0] must be in (0.0, inf], got 0.0"),
    ("Rprop", dict(step_sizes=(50, 1e-6)), "step_sizes[0] <= step_sizes[1]"),
    ("Rprop", dict(step_sizes=(-1.0, 1.0)), "step_sizes[0] must be in [0.0, inf]"),
    ("LBFGS", dict(memory_size=0), "memory_size must be an int >= 1, got 0"),
    ("LBFGS", dict(memory_size=1.5), "memory_size must be an int >= 1, got 1.5"),
    ("LBFGS", dict(history_size=0), "history_size must be an int >= 1, got 0"),
    ("LBFGS", dict(line_search_fn="newton"), "line_search_fn must be one of"),
    ("LBFGS", dict(max_iter=0), "max_iter must be an int >= 1, got 0"),
    ("LBFGS", dict(tolerance_grad=-1.0), "tolerance_grad must be in [0.0, inf]"),
    ("Lookahead", dict(sync_period=0), "sync_period must be an int >= 1, got 0"),
    ("Lookahead", dict(alpha=0.0), "alpha must be in (0.0, 1.0], got 0.0"),
    ("Lookahead", dict(alpha=1.5), "alpha must be in (0.0, 1.0], got 1.5"),
]


def _arguments(name):
    """The constructor arguments an optimizer takes (the shell's options too)."""
    cls = registry.get(name).cls
    names = set(inspect.signature(cls.__init__).parameters)
    if name == "Lookahead":
        names |= {"lr"}  # the wrapped SGD's lr, given through the registry
    return names | {"grad_clip_norm", "grad_clip_value"}


_COMMON_CASES = [
    pytest.param(name, {arg: value}, text, id=f"{name}-{arg}={value}")
    for name in NAMES
    for arg, cases in _COMMON.items()
    if arg in _arguments(name)
    for value, text in cases
]


@pytest.mark.parametrize("name, kwargs, text", _COMMON_CASES + _SPECIFIC)
def test_bad_hyperparameter_raises_naming_argument_range_and_value(name, kwargs, text):
    with pytest.raises(ValueError, match=re.escape(text)) as info:
        create_optimizer(name, **kwargs)
    if "lr" in kwargs:
        assert re.search(r"lr must be .*got (-1\.0|nan)", str(info.value))


def test_betas_of_the_wrong_length_raise():
    with pytest.raises(ValueError, match=r"betas must have 2 entries, got 1"):
        brainoptim.Adam(betas=(0.9,))


def test_bad_group_hyperparameter_raises():
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"a": brainstate.ParamState(jnp.ones(2))})
    with pytest.raises(ValueError, match=re.escape("weight_decay must be in [0.0")):
        opt.add_param_group({"b": brainstate.ParamState(jnp.ones(2))}, weight_decay=-1)
    with pytest.raises(TypeError, match="no hyperparameter.*momentum"):
        opt.add_param_group({"b": brainstate.ParamState(jnp.ones(2))}, momentum=0.9)


# -- registration and the gradient tree -------------------------------------------


def _registered():
    params = {
        "layer": brainstate.ParamState(
            {"weight": jnp.ones((2, 3)), "bias": jnp.ones(3)}
        ),
        "w": brainstate.ParamState(jnp.ones(3)),
    }
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights(params)
    return opt


@pytest.mark.parametrize(
    "grads, text",
    [
        ({"layer": {"weight": jnp.ones((2, 3)), "bias": jnp.ones(3)}}, "'w'"),
        (
            {
                "layer": {"weight": jnp.ones((2, 3)), "bias": jnp.ones(3)},
                "w": jnp.ones(3),
                "extra": jnp.ones(2),
            },
            "unregistered parameters.*extra",
        ),
        (
            {
                "layer": {"weight": jnp.ones((2, 3)), "bias": jnp.ones(3)},
                "w": jnp.ones(4),
            },
            r"grads at 'w' has shape \(4,\), the parameter \(3,\)",
        ),
        (
            {"layer": {"weight": jnp.ones((2, 3))}, "w": jnp.ones(3)},
            "grads at 'layer' has structure",
        ),
        (
            {
                "layer": {"weight": jnp.ones((3, 2)), "bias": jnp.ones(3)},
                "w": jnp.ones(3),
            },
            r"grads at 'layer' has shape \(3, 2\), the parameter \(2, 3\)",
        ),
    ],
    ids=["missing", "extra", "shape", "nested-missing", "nested-shape"],
)
def test_gradient_tree_mismatch_names_the_key(grads, text):
    opt = _registered()
    with pytest.raises(ValueError, match=text):
        opt.update(grads)


def test_registering_a_non_state_raises_naming_the_key():
    with pytest.raises(TypeError, match="entry at 'b' is ArrayImpl"):
        brainoptim.Adam().register_trainable_weights(
            {"a": brainstate.ParamState(jnp.ones(2)), "b": jnp.ones(2)}
        )


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_registering_a_non_float_parameter_raises(dtype):
    state = brainstate.ParamState(jnp.ones(2, dtype))
    with pytest.raises(TypeError, match=f"parameter at 'n' has dtype {dtype.__name__}"):
        brainoptim.Adam().register_trainable_weights({"n": state})


def test_a_state_registered_twice_is_updated_once():
    w = brainstate.ParamState(jnp.ones(3))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"a": w, "b": w})
    grads = brainstate.transform.grad(
        lambda: jnp.sum(w.value), grad_states={"a": w, "b": w}
    )()
    opt.update(grads)
    # d/dw sum(w) = 1; one SGD step: 1 - 0.1 * 1 = 0.9 (twice would give 0.8).
    np.testing.assert_allclose(np.asarray(w.value), 0.9, rtol=1e-7)
    with pytest.raises(ValueError, match="no entry for the parameter 'b'"):
        opt.update({"a": jnp.ones(3)})


def test_a_state_in_two_groups_raises():
    w = brainstate.ParamState(jnp.ones(3))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"a": w})
    with pytest.raises(ValueError, match="already"):
        opt.add_param_group({"b": w})


# -- non-finite gradients ---------------------------------------------------------


def test_skip_nonfinite_is_off_by_default():
    for name in NAMES:
        assert create_optimizer(name).options["skip_nonfinite"] is False


@pytest.mark.parametrize("name", NAMES)
def test_skip_nonfinite_leaves_params_and_state_untouched(name):
    w = brainstate.ParamState(jnp.asarray([0.5, -1.0, 2.0]))
    opt = create_optimizer(name, skip_nonfinite=True)
    opt.register_trainable_weights({"w": w})
    # Compiled once: skipping is a lax.cond, which eager mode would recompile.
    train = brainstate.transform.jit(lambda g: _update(opt, {"w": g}, {"w": w.value}))
    train(jnp.asarray([0.2, -0.4, 1.0]))
    before_params, before_state = _bits(w.value), _state_bits(opt)

    for bad in (jnp.nan, jnp.inf, -jnp.inf):
        train(jnp.asarray([0.2, bad, 1.0]))
        assert _bits(w.value) == before_params
        assert _state_bits(opt) == before_state
    assert opt.nonfinite_steps == 3
    assert opt.state_dict()["nonfinite_steps"] == 3

    # Parameters and state are as after the first step, so the next finite step
    # is the second step; it moves the parameters again.
    train(jnp.asarray([0.2, -0.4, 1.0]))
    assert _bits(w.value) != before_params
    assert np.all(np.isfinite(np.asarray(w.value)))
    assert int(opt.step_count.value) == 2


def test_skip_nonfinite_inside_a_compiled_step():
    w = brainstate.ParamState(jnp.ones(3))
    opt = brainoptim.Adam(lr=0.1, skip_nonfinite=True)
    opt.register_trainable_weights({"w": w})
    train = brainstate.transform.jit(lambda g: opt.update({"w": g}))
    train(jnp.asarray([1.0, jnp.nan, 1.0]))
    assert w.value.tolist() == [1.0, 1.0, 1.0]
    train(jnp.asarray([1.0, -2.0, 3.0]))
    # Adam's first step is lr * sign(g): 1 - 0.1, 1 + 0.1, 1 - 0.1.
    np.testing.assert_allclose(np.asarray(w.value), [0.9, 1.1, 0.9], rtol=1e-5)
    assert (opt.nonfinite_steps, int(opt.step_count.value)) == (1, 1)


def test_inf_is_skipped_even_when_clipping_by_value():
    # Clipping inf to the bound would hide it; the check looks at the raw gradient.
    w = brainstate.ParamState(jnp.ones(3))
    opt = brainoptim.SGD(lr=0.1, grad_clip_value=1.0, skip_nonfinite=True)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.asarray([1.0, jnp.inf, 1.0])})
    assert w.value.tolist() == [1.0, 1.0, 1.0]
    assert opt.nonfinite_steps == 1


def test_without_skip_the_first_nonfinite_step_is_detected():
    w = brainstate.ParamState(jnp.ones(2))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.ones(2)})
    assert opt.nonfinite_steps == 0
    opt.update({"w": jnp.asarray([jnp.nan, 1.0])})
    assert opt.nonfinite_steps == 1  # the step was applied, and it was counted
    assert int(opt.step_count.value) == 2
    assert np.isnan(np.asarray(w.value)[0])


# -- clipping -----------------------------------------------------------------------


def test_global_norm_clipping_does_not_overflow():
    # ||g|| = sqrt(100) * 1e20 = 1e21 overflows float32 squares; clipped to norm 1
    # each entry is 1e20 / 1e21 = 0.1, and SGD with lr 1 from 0 gives -0.1.
    w = brainstate.ParamState(jnp.zeros(100, jnp.float32))
    opt = brainoptim.SGD(lr=1.0, grad_clip_norm=1.0)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.full(100, 1e20, jnp.float32)})
    np.testing.assert_allclose(np.asarray(w.value), -0.1, rtol=1e-6)


def test_global_norm_clipping_spans_parameters_and_groups():
    # Norm of (3, 4) is 5; clipped to 1: (0.6, 0.8).
    a, b = brainstate.ParamState(jnp.zeros(())), brainstate.ParamState(jnp.zeros(()))
    opt = brainoptim.SGD(lr=1.0, grad_clip_norm=1.0)
    opt.register_trainable_weights({"a": a})
    opt.add_param_group({"b": b})
    opt.update({"a": jnp.asarray(3.0), "b": jnp.asarray(4.0)})
    np.testing.assert_allclose([float(a.value), float(b.value)], [-0.6, -0.8], 1e-6)


def test_clipping_zeros_to_max_norm_zero_gives_zeros():
    w = brainstate.ParamState(jnp.ones(4))
    opt = brainoptim.SGD(lr=1.0, grad_clip_norm=0.0)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.zeros(4)})
    assert w.value.tolist() == [1.0] * 4
    tx = brainoptim.transforms.clip_by_global_norm(0.0)
    out, _ = tx.update({"g": jnp.zeros(3)}, tx.init({"g": jnp.zeros(3)}))
    assert out["g"].tolist() == [0.0] * 3
    # A nonzero gradient clipped to norm 0 becomes 0, not NaN.
    out, _ = tx.update({"g": jnp.ones(3)}, tx.init({"g": jnp.zeros(3)}))
    assert out["g"].tolist() == [0.0] * 3


def test_clipping_by_value():
    w = brainstate.ParamState(jnp.zeros(3))
    opt = brainoptim.SGD(lr=1.0, grad_clip_value=0.5)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.asarray([2.0, -0.25, -3.0])})
    assert w.value.tolist() == [-0.5, 0.25, 0.5]


# -- dtypes -------------------------------------------------------------------------


def _float_state_dtypes(opt):
    return {
        k: v.dtype
        for k, v in opt.state_dict()["state"].items()
        if np.issubdtype(v.dtype, np.floating) or v.dtype == jnp.bfloat16
    }


@pytest.mark.parametrize("name", NAMES)
def test_low_precision_params_keep_dtype_with_float32_state(name):
    params = {
        "m": brainstate.ParamState(
            jnp.asarray([[0.5, -1.0], [2.0, 0.25]], jnp.bfloat16)
        ),
        "v": brainstate.ParamState(jnp.asarray([0.5, -1.0, 2.0], jnp.float16)),
        "s": brainstate.ParamState(jnp.asarray(0.75, jnp.bfloat16)),
    }
    opt = create_optimizer(name)
    opt.register_trainable_weights(params)
    dtypes = {k: s.value.dtype for k, s in params.items()}
    for _ in range(2):
        values = {k: s.value for k, s in params.items()}
        grads = jax.grad(_loss)(values)
        assert {k: g.dtype for k, g in grads.items()} == dtypes
        _update(opt, grads, values)
    assert {k: s.value.dtype for k, s in params.items()} == dtypes
    for state in params.values():
        assert np.all(np.isfinite(np.asarray(state.value, np.float32)))
    assert params["s"].value.shape == ()
    floats = _float_state_dtypes(opt)
    assert floats and all(d == np.float32 for d in floats.values()), floats


def test_state_dtype_none_keeps_the_parameter_dtype():
    w = brainstate.ParamState(jnp.ones(3, jnp.bfloat16))
    opt = brainoptim.Adam(lr=0.1, state_dtype=None)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.ones(3, jnp.bfloat16)})
    floats = _float_state_dtypes(opt)
    assert floats and all(d == jnp.bfloat16 for d in floats.values()), floats
    assert w.value.dtype == jnp.bfloat16
    # Adam's first step: 1 - 0.1 = 0.9, which bfloat16 rounds to 0.898438.
    assert w.value.tolist() == [float(jnp.bfloat16(0.9))] * 3


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["f32", "bf16"])
def test_lr_type_does_not_change_the_update(dtype):
    results = []
    for lr in (0.1, jnp.asarray(0.1), np.float64(0.1), np.float32(0.1)):
        w = brainstate.ParamState(jnp.asarray([1.0, -2.0], dtype))
        opt = brainoptim.Adam(lr=lr)
        opt.register_trainable_weights({"w": w})
        opt.update({"w": jnp.asarray([0.5, -0.5], dtype)})
        results.append(_bits(w.value))
    assert results[0][0] == np.dtype(dtype).name
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("name", NAMES)
def test_zero_dim_parameter(name):
    w = brainstate.ParamState(jnp.asarray(0.5))
    opt = create_optimizer(name)
    opt.register_trainable_weights({"w": w})
    for _ in range(2):
        _update(opt, {"w": jax.grad(_loss)(w.value)}, w.value)
    assert w.value.shape == () and w.value.dtype == jnp.float32
    assert np.isfinite(float(w.value))
    assert float(w.value) != 0.5  # it moved


# -- complex parameters -------------------------------------------------------------


def test_adam_on_complex_moves_like_a_real_pair():
    # L = |z|^2 at z0 = 1 + 1j: both real coordinates have gradient 2, so Adam's
    # first step is lr * sign = 0.1 on each: z1 = 0.9 + 0.9j.
    z = brainstate.ParamState(jnp.asarray(1 + 1j, jnp.complex64))
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"z": z})
    grad = jax.grad(lambda z: jnp.abs(z) ** 2)(z.value)  # JAX: 2 - 2j, conj(torch)
    assert complex(grad) == pytest.approx(2 - 2j)
    opt.update({"z": grad})
    assert z.value.dtype == jnp.complex64
    np.testing.assert_allclose(complex(z.value), 0.9 + 0.9j, atol=1e-6)


def test_sgd_on_complex_follows_torchs_convention():
    # torch's gradient of |z - c|^2 is 2 (z - c); SGD: z - lr * 2 (z - c).
    # (1+2j) - 0.1 * 2 * (1+2j - (0.5-1j)) = (1+2j) - (0.1+0.6j) = 0.9+1.4j.
    c = 0.5 - 1j
    z = brainstate.ParamState(jnp.asarray(1 + 2j, jnp.complex64))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"z": z})
    opt.update({"z": jax.grad(lambda z: jnp.abs(z - c) ** 2)(z.value)})
    np.testing.assert_allclose(complex(z.value), 0.9 + 1.4j, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_complex_parameter_equals_its_real_pair(name):
    z0 = np.asarray([1 + 1j, -0.5 + 2j, 0.25 - 1j], np.complex64)
    c = np.asarray([0.5 - 1j, 0.0 + 0.0j, -1 + 0.5j], np.complex64)
    z = brainstate.ParamState(jnp.asarray(z0))
    pair = brainstate.ParamState(jnp.stack([z0.real, z0.imag], axis=-1))
    opt_z, opt_pair = create_optimizer(name), create_optimizer(name)
    opt_z.register_trainable_weights({"p": z})
    opt_pair.register_trainable_weights({"p": pair})

    def loss_z(v):
        return jnp.sum(jnp.abs(v["p"] - c) ** 2)

    def loss_pair(v):
        p = v["p"]
        return jnp.sum((p[..., 0] - c.real) ** 2 + (p[..., 1] - c.imag) ** 2)

    for _ in range(5):
        for opt, state, loss in ((opt_z, z, loss_z), (opt_pair, pair, loss_pair)):
            values = {"p": state.value}
            grads = jax.grad(loss)(values)
            if opt.needs_value_fn:
                opt.update(grads, value=loss(values), value_fn=loss)
            else:
                opt.update(grads)
    assert z.value.dtype == jnp.complex64
    moved = np.asarray(z.value)
    expected = np.asarray(pair.value)
    np.testing.assert_allclose(moved.real, expected[..., 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(moved.imag, expected[..., 1], rtol=1e-6, atol=1e-7)
    assert not np.allclose(moved, z0)
