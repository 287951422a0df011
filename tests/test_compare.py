"""Tests of ``brainoptim compare``: data, measurement, reproducibility, end to end."""

import json
import math
import os

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import brainoptim
from brainoptim.cli import main
from brainoptim.compare import CompareConfig, run_compare
from brainoptim.compare.data import as_model_input, load_data, load_npz
from brainoptim.compare.experiment import parse_switch, plan_runs
from brainoptim.compare.models import build_model
from brainoptim.compare.report import rolling_variance
from brainoptim.compare.train import (
    param_states,
    state_nbytes,
    tree_nbytes,
)

F32 = 4  # bytes per float32

# The default MLP on digits: 64 -> 128 -> 64 -> 10, weights and biases.
MLP_PARAMS = (64 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10)


def _mlp():
    brainstate.random.seed(0)
    return build_model("mlp", (64,), 10)


def _registered(optimizer, states):
    optimizer.register_trainable_weights(states)
    return optimizer


# -- memory: known cases ---------------------------------------------------------


def test_param_bytes_of_the_mlp():
    assert tree_nbytes(param_states(_mlp())) == MLP_PARAMS * F32


def test_sgd_without_momentum_keeps_no_per_parameter_state():
    opt = _registered(brainoptim.SGD(lr=0.1), param_states(_mlp()))
    # Nothing but (at most) a step counter or two.
    assert state_nbytes(opt) <= 8
    assert state_nbytes(opt) == tree_nbytes(opt.opt_state.value)


def test_adam_keeps_two_parameter_sized_moments():
    opt = _registered(brainoptim.Adam(lr=1e-3), param_states(_mlp()))
    moments = 2 * MLP_PARAMS * F32
    assert moments <= state_nbytes(opt) <= moments + 8
    assert state_nbytes(opt) == tree_nbytes(opt.opt_state.value)


def test_factored_adafactor_keeps_row_and_column_statistics():
    w = brainstate.ParamState(jnp.zeros((512, 2048), jnp.float32))
    opt = brainoptim.Adafactor(
        lr=1e-3, decay_rate=0.8, factored=True, clip_threshold=1.0
    )
    opt.register_trainable_weights({"w": w})
    factored = (512 + 2048) * F32  # one number per row and per column
    assert factored <= state_nbytes(opt) <= factored + 16
    assert state_nbytes(opt) < 512 * 2048 * F32 / 100


# -- data -------------------------------------------------------------------------


def test_digits_split_is_fixed_and_disjoint():
    a = load_data("digits", "mlp", seed=3)
    b = load_data("digits", "mlp", seed=3)
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (1078, 359, 360)
    assert a.sample_shape == (8, 8, 1) and a.n_classes == 10
    np.testing.assert_array_equal(a.x_val, b.x_val)
    rows = {r.tobytes() for r in a.x_train.reshape(len(a.x_train), -1)}
    test_rows = [r.tobytes() for r in a.x_test.reshape(len(a.x_test), -1)]
    # Digits holds a few duplicate images; nearly all test images are unseen.
    assert sum(r in rows for r in test_rows) < 10
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0


def test_synthetic_data_has_the_tutorial_shapes():
    shapes = {
        "cnn": (32, 32, 3),
        "transformer": (64, 512),
        "rnn": (20, 10),
        "mlp": (32, 32, 3),
    }
    for kind, shape in shapes.items():
        d = load_data("synthetic", kind, seed=0, limit=40)
        assert d.sample_shape == shape
        assert as_model_input(d.x_train, kind).shape[0] == len(d.y_train)
    assert as_model_input(np.zeros((5, 32, 32, 3)), "mlp").shape == (5, 3072)


@pytest.mark.parametrize("kind", ["cnn", "transformer", "rnn", "mlp"])
@pytest.mark.parametrize("source", ["digits", "synthetic"])
def test_every_model_reads_its_data(kind, source):
    d = load_data(source, kind, seed=0, limit=20)
    x = as_model_input(d.x_train[:3], kind)
    brainstate.random.seed(0)
    model = build_model(kind, x.shape[1:], d.n_classes)
    out = brainstate.transform.eval_shape(model, jnp.asarray(x))
    assert out.shape == (3, d.n_classes)


def test_model_views_of_an_image_batch():
    x = np.zeros((4, 8, 8, 1), np.float32)
    assert as_model_input(x, "cnn").shape == (4, 8, 8, 1)
    assert as_model_input(x, "rnn").shape == (4, 8, 8)
    assert as_model_input(x[..., 0], "cnn").shape == (4, 8, 8, 1)
    with pytest.raises(ValueError, match="needs images or sequences"):
        as_model_input(np.zeros((4, 64)), "transformer")


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_npz_loads(tmp_path):
    x = np.random.default_rng(0).standard_normal((50, 6, 5))
    y = np.arange(50) % 3
    d = load_npz(_write_npz(tmp_path / "ok.npz", x=x, y=y), seed=0)
    assert d.sample_shape == (6, 5) and d.n_classes == 3
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 50


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(x=np.zeros((20, 4))), r"must hold arrays 'x' and 'y'; missing \['y'\]"),
        (
            dict(x=np.zeros((20, 4)), y=np.zeros(19, int)),
            "must have the same length, got 20 and 19",
        ),
        (dict(x=np.zeros((20, 4)), y=np.full(20, 0.5)), "integer class labels"),
        (dict(x=np.zeros(20), y=np.zeros(20, int)), "2 to 4 dimensions"),
        (dict(x=np.zeros((20, 4)), y=-np.ones(20, int)), "must be >= 0"),
    ],
)
def test_bad_npz_is_rejected(tmp_path, arrays, message):
    path = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_npz(path)


def test_unreadable_or_missing_npz(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("not an archive")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_npz(junk)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_data(str(tmp_path / "absent.npz"), "mlp")


def test_cli_reports_a_bad_file(tmp_path, capsys):
    path = _write_npz(tmp_path / "bad.npz", x=np.zeros((20, 4)))
    status = main(["compare", "--data", path, "--models", "mlp", "--quiet"])
    assert status == 2
    assert "missing ['y']" in capsys.readouterr().out


# -- pieces of the training loop -----------------------------------------------------


def test_value_fn_evaluates_at_given_values_and_restores_the_states():
    model = _mlp()
    states = param_states(model)
    before = jax.tree.map(lambda s: s.value, states, is_leaf=_is_state)
    x = jnp.ones((3, 64))
    y = jnp.array([0, 4, 9])

    def loss():
        logits = model(x)
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(3), y])

    zeros = jax.tree.map(jnp.zeros_like, before)
    opt = brainoptim.LBFGS(line_search_fn="zoom")
    opt.register_trainable_weights(states)
    # All-zero weights give uniform logits: the cross-entropy is log(10).
    assert float(opt.value_fn(loss)(zeros)) == pytest.approx(math.log(10))
    after = jax.tree.map(lambda s: s.value, states, is_leaf=_is_state)
    jax.tree.map(np.testing.assert_array_equal, before, after)


def _is_state(x):
    return isinstance(x, brainstate.State)


def test_rolling_variance_by_hand():
    # Windows [1, 2], [2, 4], [4, 4]: variances 0.25, 1, 0.
    np.testing.assert_allclose(rolling_variance([1, 2, 4, 4], 2), [0.25, 1.0, 0.0])
    assert rolling_variance([1.0], 5).size == 0


def test_switch_parsing():
    assert parse_switch("Adam:LBFGS@5") == ("Adam", "LBFGS", 5)
    with pytest.raises(ValueError, match="FIRST:SECOND@EPOCH"):
        parse_switch("Adam->LBFGS")
    with pytest.raises(ValueError, match="unknown optimizer 'Nope'"):
        parse_switch("Adam:Nope@2")


def test_default_plan_covers_the_tutorial():
    runs = plan_runs(CompareConfig())
    pairs = {(r.model, r.label) for r in runs}
    for name in brainoptim.registry.TUTORIAL_OPTIMIZERS:
        assert ("mlp", name) in pairs  # every optimizer on the MLP
    for model, name in [
        ("cnn", "Lion"),
        ("cnn", "Adafactor"),
        ("transformer", "Lookahead"),
        ("transformer", "RAdam"),
        ("transformer", "Lamb"),
        ("rnn", "Rprop"),
        ("rnn", "Yogi"),
        ("rnn", "SM3"),
    ]:
        assert (model, name) in pairs
    for model in ("cnn", "transformer", "rnn", "mlp"):
        assert {(model, "Adam"), (model, "SGD-momentum")} <= pairs
    assert ("cnn", "LBFGS") not in pairs


# -- end to end ----------------------------------------------------------------------

TINY = dict(
    models=("mlp",),
    optimizers=("SGD-momentum", "Adam"),
    epochs=2,
    batch_size=16,
    limit=120,
    seed=7,
)


def _trajectory(results):
    """Every number of every run that does not depend on wall-clock time."""
    keep = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "step_loss")
    return [
        (
            r["label"],
            {k: r["history"][k] for k in keep},
            r["test_acc"],
            r["measure"]["state_bytes"],
            r["measure"]["memory"],
        )
        for r in results["runs"]
    ]


def test_same_seed_same_numbers():
    a = run_compare(CompareConfig(**TINY))
    b = run_compare(CompareConfig(**TINY))
    assert _trajectory(a) == _trajectory(b)
    c = run_compare(CompareConfig(**{**TINY, "seed": 8}))
    assert _trajectory(a) != _trajectory(c)


@pytest.mark.slow
def test_compare_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "compare",
        "--models", "mlp",
        "--optimizers", "SGD-momentum,Adam",
        "--epochs", "2",
        "--batch-size", "16",
        "--limit", "120",
        "--batch-sizes", "32",
        "--grad-noise", "0.05",
        "--switch", "Adam:LBFGS@1",
        "--lbfgs-iters", "3",
        "--memory",
        "--out", str(out),
        "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "report.md" in capsys.readouterr().out

    names = sorted(os.listdir(out))
    for name in (
        "results.json",
        "report.md",
        "mlp.png",
        "batch_scaling.png",
        "grad_noise.png",
        "memory.png",
    ):
        assert name in names
        assert os.path.getsize(out / name) > 0

    results = json.loads((out / "results.json").read_text())
    assert results["command"][:2] == ["brainoptim", "compare"]
    for pkg in ("jax", "brainstate", "optax"):
        assert results["versions"][pkg] not in ("", "not installed")
    labels = [(r["model"], r["label"]) for r in results["runs"]]
    assert labels == [
        ("mlp", "SGD-momentum"),
        ("mlp", "Adam"),
        ("mlp", "Adam→LBFGS@1"),
    ]
    for r in results["runs"]:
        h = r["history"]
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time"):
            assert len(h[key]) == 2
        m = r["measure"]
        assert m["step_time_median"] > 0 and m["compile_time"] is not None
        assert m["memory"]["peak_bytes"] > 0
        # The step's arguments hold at least the parameters and optimizer state.
        assert m["memory"]["argument_bytes"] >= m["param_bytes"] + m["state_bytes"]
        assert 0.0 <= r["test_acc"] <= 1.0
    adam = next(r for r in results["runs"] if r["label"] == "Adam")
    assert adam["measure"]["param_bytes"] == MLP_PARAMS * F32
    assert adam["measure"]["state_to_param_ratio"] == pytest.approx(2.0, abs=1e-3)
    switched = results["runs"][-1]["history"]["optimizer"]
    assert switched == ["Adam", "LBFGS"]

    assert [r["batch_size"] for r in results["batch_scaling"]["runs"]] == [32, 32]
    assert len(results["grad_noise"]["runs"]) == 2
    memory = {r["label"]: r["measure"] for r in results["memory"]["runs"]}
    assert (
        memory["Adam (large MLP)"]["state_bytes"]
        > 10 * (memory["Adafactor (large MLP)"]["state_bytes"])
    )

    report = (out / "report.md").read_text()
    assert "## MLP" in report and "![mlp](mlp.png)" in report
    assert "**" in report  # best values are marked
