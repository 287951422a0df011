"""``brainoptim.jit_step``: the same results as ``brainstate.transform.jit``, with the
written States updated in place (their buffers donated) and no retrace on a new lr.
"""

import brainstate
import jax.numpy as jnp
import numpy as np
import pytest

import brainoptim
from brainoptim import jit_step


def _quadratic_setup(name, jitter):
    w = {
        "a": brainstate.ParamState(jnp.asarray([[1.0, -2.0], [0.5, 3.0]])),
        "b": brainstate.ParamState(jnp.asarray([0.3, -0.7])),
    }
    opt = brainoptim.registry.create(name)
    opt.register_trainable_weights(w)

    @jitter
    def step(x):
        def loss():
            return jnp.sum((w["a"].value @ x + w["b"].value) ** 2)

        grads, value = brainstate.transform.grad(
            loss, grad_states=w, return_value=True
        )()
        opt.update(grads)
        return value

    return w, opt, step


@pytest.mark.parametrize("name", ["Adam", "Lookahead", "Adafactor", "Rprop"])
def test_jit_step_matches_brainstate_jit(name):
    results = []
    for jitter in (brainstate.transform.jit, jit_step):
        w, opt, step = _quadratic_setup(name, jitter)
        losses = [float(step(jnp.asarray([1.0, 0.5]) * (i + 1))) for i in range(7)]
        results.append((losses, np.asarray(w["a"].value), opt.state_dict()["state"]))
    (l0, a0, s0), (l1, a1, s1) = results
    np.testing.assert_array_equal(l0, l1)
    np.testing.assert_array_equal(a0, a1)
    assert s0.keys() == s1.keys()
    for k in s0:
        np.testing.assert_array_equal(s0[k], s1[k])


def test_jit_step_donates_written_states_only():
    w, opt, step = _quadratic_setup("Adam", jit_step)
    step(jnp.ones(2))
    old_param, old_lr = w["a"].value, opt.lr.lr_values.value
    step(jnp.ones(2))
    assert old_param.is_deleted()  # updated in place
    assert not old_lr.is_deleted()  # only read: never donated


def test_jit_step_does_not_retrace_on_new_lr():
    traces = []
    w = brainstate.ParamState(jnp.ones(3))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": w})

    @jit_step
    def step(g):
        traces.append(1)
        opt.update({"w": g})

    step(jnp.ones(3))
    opt.set_lr(0.5)
    step(jnp.ones(3))
    # 1 - 0.1 - 0.5, with one Python trace
    np.testing.assert_allclose(np.asarray(w.value), [0.4] * 3, rtol=1e-6)
    assert len(traces) == 1
    assert step.compiled._cache_size() == 1


def test_jit_step_follows_a_state_whose_shape_changes():
    s = brainstate.State(jnp.zeros(2))

    @jit_step
    def grow(x):
        s.value = s.value + x

    grow(1.0)
    s.value = jnp.zeros(3)
    grow(2.0)
    np.testing.assert_array_equal(np.asarray(s.value), [2.0, 2.0, 2.0])
