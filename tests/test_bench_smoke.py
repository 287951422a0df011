"""The benchmark scripts' building blocks run, and ``jit_step`` is correct.

No wall-clock assertions: timings are only checked to exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import brainoptim

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

pytest.importorskip("torch")
pytest.importorskip("braintools")

import common  # noqa: E402
import impls  # noqa: E402
from _jit_step import jit_step  # noqa: E402

TINY = common.transformer_block_shapes(8, 16)


def _tiny():
    return common.random_tree(TINY, 0, 0.1), common.random_tree(TINY, 1, 1e-2)


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


def test_floor_and_library_steps_run():
    params, grads = _tiny()
    steps = {
        "floor": impls.make_floor(params, grads, 2),
        "optax": impls.make_optax("Adam", params, grads, donate=True),
        "rule": impls.make_rule("Adam", params, grads),
        "bo": impls.make_brainoptim("Adam", params, grads, donate=True),
        "bo-check": impls.make_brainoptim("Adam", params, grads, True, check=False),
        "braintools": impls.make_braintools("Adam", params, grads),
        "torch": impls.make_torch("Adam", params, grads, "fused"),
    }
    timings = common.interleave(
        {k: s.run for k, s in steps.items()}, warmup=2, min_rounds=2, max_rounds=2
    )
    assert all(len(t.times) == 2 for t in timings.values())
    nbytes = 4 * sum(v.size for v in params.values())
    assert impls.state_arrays(steps["bo"].nbytes_state, nbytes) == 2


def test_step_time_measure_reports_ratios():
    import step_time

    params, grads = _tiny()
    out = step_time.measure("SGD", params, grads, budget_s=0.0)
    assert out["bytes_per_param"] == 20  # one momentum array
    bo = out["impls"]["brainoptim+donate"]
    assert bo["x_floor"] > 0 and bo["x_optax_donate"] > 0


def test_memory_analysis_of_a_train_step():
    import memory
    from models import TransformerBlock

    model = TransformerBlock(16, 32, heads=2)
    x, y = model.batch(2, 4)
    plain = memory.train_step_memory("Adam", model, x, y, "brainoptim")
    donated = memory.train_step_memory("Adam", model, x, y, "brainoptim+donate")
    assert plain["aliased"] == 0
    # donation aliases the new parameters and state onto the old ones
    assert donated["aliased"] >= donated["state_bytes"]


def test_lbfgs_counts_iterations():
    import lbfgs

    f, x0, data, tol = lbfgs.problems()["rosenbrock-2d"]
    r = lbfgs.run_brainoptim(f, x0, data, tol)
    assert r["converged"] and r["iterations"] >= 1
    assert r["evaluations"] >= r["iterations"]


def test_summary_tables_build_from_results(tmp_path, monkeypatch):
    import summary

    monkeypatch.setattr(common, "RESULTS", tmp_path / "quick")
    common.save("lbfgs", {"machine": common.machine(), "max_iter": 1, "problems": {
        "p": {s: {"iterations": 1, "evaluations": 2, "converged": True, "loss": 0.0}
              for s in ("brainoptim", "torch", "scipy")}}})  # fmt: skip
    path = summary.write(elapsed=1.0, quick=True)
    text = path.read_text()
    assert "L-BFGS" in text and "iterations <= torch" in text
    jax.clear_caches()
