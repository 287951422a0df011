"""The benchmark scripts' building blocks run (``jit_step`` has its own tests).

No wall-clock assertions: timings are only checked to exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

pytest.importorskip("torch")
pytest.importorskip("braintools")

import common  # noqa: E402
import impls  # noqa: E402

TINY = common.transformer_block_shapes(8, 16)


def _tiny():
    return common.random_tree(TINY, 0, 0.1), common.random_tree(TINY, 1, 1e-2)


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
