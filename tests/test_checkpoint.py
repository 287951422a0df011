"""Checkpoints: brainoptim.save / brainoptim.load.

Round trips must be bit-exact (every state leaf's dtype and bytes, the step count,
the scheduler position) and the next update after loading must equal the next
update without the round trip. Loading another kind, structure or shape raises an
error that says what differs; a damaged file or a pickle is refused; a process
killed in the middle of a save leaves the previous checkpoint loadable.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import create_optimizer, is_state

import brainoptim
from brainoptim import registry, schedulers

TESTS = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(TESTS), "src")
NAMES = registry.names()


def _params(seed=0):
    """A layer-like State holding a dict, and a plain State; mixed dtypes."""
    rng = np.random.default_rng(seed)
    return {
        "layer": brainstate.ParamState(
            {
                "weight": jnp.asarray(rng.uniform(-1, 1, (2, 3)), jnp.float32),
                "bias": jnp.asarray(rng.uniform(-1, 1, 3), jnp.bfloat16),
            }
        ),
        "scale": brainstate.ParamState(jnp.asarray(rng.uniform(-1, 1, 4), jnp.float16)),
    }


def _values(params):
    return jax.tree.map(lambda s: s.value, params, is_leaf=is_state)


def _loss(values):
    return sum(
        0.5 * jnp.sum(jnp.square(x.astype(jnp.float32) - 0.3))
        for x in jax.tree.leaves(values)
    )


def _step(opt, params):
    """One update on the quadratic loss (value and value_fn for line searches)."""
    values = _values(params)
    grads = jax.grad(_loss)(values)
    if opt.needs_value_fn:
        opt.update(grads, value=_loss(values), value_fn=_loss)
    else:
        opt.update(grads)


def _bits(x):
    x = np.asarray(x)
    return x.dtype.name, x.shape, x.tobytes()


def _assert_same_tree(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert _bits(x) == _bits(y)


def _assert_same_state_dict(a, b):
    assert a["optimizer"] == b["optimizer"]
    assert a["step"] == b["step"]
    assert a["nonfinite_steps"] == b["nonfinite_steps"]
    assert a["param_groups"] == b["param_groups"]
    assert a["scheduler"] == b["scheduler"]
    assert list(a["state"]) == list(b["state"])
    for key in a["state"]:
        assert _bits(a["state"][key]) == _bits(b["state"][key]), key


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_resumes_bitwise(name, tmp_path):
    path = tmp_path / "opt.ckpt"
    params = _params()
    opt = create_optimizer(name)
    opt.register_trainable_weights(params)
    for _ in range(2):
        _step(opt, params)
    brainoptim.save(path, opt, params=params)
    before = opt.state_dict()

    fresh_params = _params(seed=1)  # other values: load must overwrite them
    fresh = create_optimizer(name)
    fresh.register_trainable_weights(fresh_params)
    values = brainoptim.load(path, fresh, params=fresh_params)

    _assert_same_state_dict(fresh.state_dict(), before)
    _assert_same_tree(values, _values(params))
    _assert_same_tree(_values(fresh_params), _values(params))
    for x, y in zip(
        jax.tree.leaves(_values(fresh_params)),
        jax.tree.leaves(_values(params)),
        strict=True,
    ):
        assert x.dtype == y.dtype

    _step(opt, params)
    _step(fresh, fresh_params)
    _assert_same_tree(_values(fresh_params), _values(params))
    _assert_same_state_dict(fresh.state_dict(), opt.state_dict())


def test_bfloat16_step_count_survives_257_steps(tmp_path):
    # 257 is not a bfloat16 number (it rounds to 256): the counters must stay ints.
    path = tmp_path / "adam.ckpt"
    params = {"w": brainstate.ParamState(jnp.linspace(-1, 1, 5, dtype=jnp.bfloat16))}
    opt = brainoptim.Adam(lr=1e-3)
    opt.register_trainable_weights(params)
    train = brainstate.transform.jit(lambda: _step(opt, params))
    for _ in range(257):
        train()
    brainoptim.save(path, opt, params=params)

    fresh_params = {"w": brainstate.ParamState(jnp.zeros(5, jnp.bfloat16))}
    fresh = brainoptim.Adam(lr=1e-3)
    fresh.register_trainable_weights(fresh_params)
    brainoptim.load(path, fresh, params=fresh_params)

    saved = fresh.state_dict()
    assert saved["step"] == 257
    counts = [v for k, v in saved["state"].items() if k.endswith(".count")]
    assert counts and all(int(c) == 257 and c.dtype == np.int32 for c in counts)
    assert fresh_params["w"].value.dtype == jnp.bfloat16

    train()
    _step(fresh, fresh_params)
    _assert_same_tree(_values(fresh_params), _values(params))
    assert fresh.state_dict()["step"] == opt.state_dict()["step"] == 258


def test_lbfgs_zoom_round_trip_inside_compiled_step(tmp_path):
    # The zoom line search's state is part of the checkpoint; loading into the
    # optimizer a compiled step already uses replaces its state in place.
    path = tmp_path / "lbfgs.ckpt"
    params = {"w": brainstate.ParamState(jnp.asarray([2.0, -1.0, 0.5]))}
    opt = brainoptim.LBFGS(lr=1.0, memory_size=10, line_search_fn="zoom")
    opt.register_trainable_weights(params)
    train = brainstate.transform.jit(lambda: _step(opt, params))
    train()
    train()
    brainoptim.save(path, opt, params=params)
    train()
    expected_params = _values(params)
    expected_state = opt.state_dict()

    brainoptim.load(path, opt, params=params)
    assert opt.state_dict()["step"] == 2
    train()
    _assert_same_tree(_values(params), expected_params)
    _assert_same_state_dict(opt.state_dict(), expected_state)


def test_round_trip_restores_scheduler_and_groups(tmp_path):
    path = tmp_path / "groups.ckpt"
    a = {"a": brainstate.ParamState(jnp.ones(3))}
    b = {"b": brainstate.ParamState(jnp.full(2, -1.0))}
    opt = brainoptim.Adam(lr=schedulers.StepLR(base_lr=0.1, step_size=2, gamma=0.5))
    opt.register_trainable_weights(a)
    opt.add_param_group(b, lr=0.01, weight_decay=0.1)
    both = {**a, **b}
    for _ in range(3):
        _step(opt, both)
        opt.lr.step()
    brainoptim.save(path, opt)

    fa = {"a": brainstate.ParamState(jnp.ones(3))}
    fb = {"b": brainstate.ParamState(jnp.full(2, -1.0))}
    fresh = brainoptim.Adam(lr=schedulers.StepLR(base_lr=0.1, step_size=2, gamma=0.5))
    fresh.register_trainable_weights(fa)
    fresh.add_param_group(fb, lr=0.01)  # weight_decay comes from the checkpoint
    assert brainoptim.load(path, fresh) is None  # no parameters were saved

    # StepLR after 3 epochs with step_size 2: base * 0.5 (hand calculation).
    assert fresh.get_last_lr() == opt.get_last_lr() == [0.05, 0.005]
    assert fresh.lr.last_epoch == 3
    assert fresh.param_groups[1].hparams["weight_decay"] == 0.1
    _assert_same_state_dict(fresh.state_dict(), opt.state_dict())


def test_load_without_params_returns_saved_values(tmp_path):
    path = tmp_path / "p.ckpt"
    tied = brainstate.ParamState(jnp.asarray([1.0, 2.0]))
    params = {("l1", "weight"): tied, ("l2",): [brainstate.ParamState(jnp.zeros(()))]}
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights(params)
    brainoptim.save(path, opt, params=params)
    fresh = brainoptim.SGD(lr=0.1)
    fresh.register_trainable_weights(params)
    values = brainoptim.load(path, fresh)
    assert set(values) == {("l1", "weight"), ("l2",)}
    assert values[("l1", "weight")].tolist() == [1.0, 2.0]
    assert isinstance(values[("l2",)], list) and values[("l2",)][0].shape == ()


# -- mismatches -------------------------------------------------------------------


def _saved_adam(tmp_path, shape=(3,), **kw):
    path = tmp_path / "adam.ckpt"
    opt = brainoptim.Adam(lr=0.1, **kw)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(shape))})
    opt.update({"w": jnp.ones(shape)})
    brainoptim.save(path, opt)
    return path


def test_load_rejects_another_kind(tmp_path):
    path = _saved_adam(tmp_path)
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(3))})
    with pytest.raises(ValueError, match="Adam optimizer, not of a SGD"):
        brainoptim.load(path, opt)


def test_load_rejects_another_structure(tmp_path):
    path = _saved_adam(tmp_path)
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"v": brainstate.ParamState(jnp.ones(3))})
    with pytest.raises(
        ValueError, match="has 'w' that this optimizer lacks, this optimizer has 'v'"
    ):
        brainoptim.load(path, opt)


def test_load_rejects_other_shapes_and_changes_nothing(tmp_path):
    path = _saved_adam(tmp_path)
    w = brainstate.ParamState(jnp.ones(4))
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"w": w})
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"'w' is \['float32\[3\]'\].*float32\[4\]"):
        brainoptim.load(path, opt)
    _assert_same_state_dict(opt.state_dict(), before)


def test_load_rejects_other_state_structure(tmp_path):
    # Same parameters, but amsgrad keeps a third moment.
    path = _saved_adam(tmp_path, amsgrad=True)
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(3))})
    with pytest.raises(ValueError, match="differs in structure"):
        brainoptim.load(path, opt)


def test_load_rejects_params_of_another_shape(tmp_path):
    path = tmp_path / "p.ckpt"
    w = brainstate.ParamState(jnp.ones(3))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": w})
    brainoptim.save(path, opt, params={"w": w})
    other = {"w": brainstate.ParamState(jnp.ones(3, jnp.bfloat16))}
    with pytest.raises(ValueError, match=r"\['w'\] is float32\[3\].*bfloat16\[3\]"):
        brainoptim.load(path, opt, params=other)
    with pytest.raises(ValueError, match=r"\['x'\] not in the checkpoint"):
        brainoptim.load(path, opt, params={"x": w})
    brainoptim.save(path, opt)
    with pytest.raises(ValueError, match="holds no parameters"):
        brainoptim.load(path, opt, params={"w": w})


def test_load_refuses_damaged_and_foreign_files(tmp_path):
    path = _saved_adam(tmp_path)
    data = path.read_bytes()
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(3))})

    path.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="damaged or incomplete"):
        brainoptim.load(path, opt)
    flipped = bytearray(data)
    flipped[-1] ^= 1
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="damaged or incomplete"):
        brainoptim.load(path, opt)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a brainoptim checkpoint"):
        brainoptim.load(path, opt)


class _Trap:
    """Unpickling this would create the file named by ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_load_never_unpickles(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"state": _Trap(str(marker))}))
    opt = brainoptim.Adam(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(3))})
    with pytest.raises(ValueError, match="not a brainoptim checkpoint"):
        brainoptim.load(path, opt)
    assert not marker.exists()


def test_save_refuses_values_it_cannot_store(tmp_path):
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(3))})
    with pytest.raises(TypeError, match="params is a object"):
        brainoptim.save(tmp_path / "x.ckpt", opt, params=object())
    with pytest.raises(TypeError, match=r"key 1\.5 of type float"):
        brainoptim.save(tmp_path / "x.ckpt", opt, params={1.5: jnp.ones(2)})
    with pytest.raises(RuntimeError, match="register_trainable_weights"):
        brainoptim.save(tmp_path / "x.ckpt", brainoptim.SGD(lr=0.1))
    assert not os.listdir(tmp_path)


# -- atomic writes ----------------------------------------------------------------


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = _saved_adam(tmp_path)
    data = path.read_bytes()
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(3))})

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        brainoptim.save(path, opt)
    assert path.read_bytes() == data
    assert os.listdir(tmp_path) == ["adam.ckpt"]  # the temporary file is gone


_KILLED_CHILD = """
import os, sys, time
import brainstate, jax.numpy as jnp
import brainoptim
from brainoptim import checkpoint

path, marker = sys.argv[1], sys.argv[2]
real_open = open


class HalfWriter:
    # Writes half of the data, then waits to be killed.
    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        os.fsync(self.f.fileno())
        real_open(marker, "w").close()
        time.sleep(120)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


checkpoint.open = lambda *a, **k: HalfWriter(real_open(*a, **k))
w = brainstate.ParamState(jnp.ones(1000))
opt = brainoptim.Adam(lr=0.5)
opt.register_trainable_weights({"w": w})
for _ in range(5):
    opt.update({"w": jnp.ones(1000)})
brainoptim.save(path, opt, params={"w": w})
"""


def _run_child(code, *args, timeout=120):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, TESTS])}
    env.setdefault("JAX_PLATFORMS", "cpu")
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_process_killed_mid_save_leaves_previous_checkpoint(tmp_path):
    path = tmp_path / "opt.ckpt"
    marker = tmp_path / "half-written"
    w = brainstate.ParamState(jnp.ones(1000))
    opt = brainoptim.Adam(lr=0.5)
    opt.register_trainable_weights({"w": w})
    opt.update({"w": jnp.ones(1000)})
    brainoptim.save(path, opt, params={"w": w})
    data = path.read_bytes()

    child = _run_child(_KILLED_CHILD, path, marker)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    temporaries = [p for p in os.listdir(tmp_path) if ".tmp-" in p]
    assert len(temporaries) == 1  # the killed save got half-way
    assert path.read_bytes() == data
    fresh_w = brainstate.ParamState(jnp.zeros(1000))
    fresh = brainoptim.Adam(lr=0.5)
    fresh.register_trainable_weights({"w": fresh_w})
    brainoptim.load(path, fresh, params={"w": fresh_w})
    assert fresh.state_dict()["step"] == 1
    # Adam's first step from 1 with g = 1 and lr 0.5 is 1 - 0.5 (hand calculation).
    np.testing.assert_allclose(np.asarray(fresh_w.value), 0.5, rtol=2e-5)


# -- Lookahead resumed in a new process -------------------------------------------


def _lookahead(w):
    opt = brainoptim.Lookahead(
        brainoptim.SGD(lr=0.1, momentum=0.9), sync_period=5, alpha=0.5
    )
    opt.register_trainable_weights({"w": w})
    return opt


def _lookahead_steps(opt, w, n):
    """n updates on 0.5 * sum(a * (w - c)^2); the value after each one."""
    a = jnp.asarray([1.0, 3.0, 0.5, 2.0])
    c = jnp.asarray([0.3, -0.2, 1.0, 0.0])
    out = []
    for _ in range(n):
        opt.update({"w": a * (w.value - c)})
        out.append(np.asarray(w.value))
    return out


def _resume_lookahead(ckpt, out_traj, out_ckpt):
    """Run by the child: load after 3 steps, run 7 more, save both results."""
    w = brainstate.ParamState(jnp.zeros(4))
    opt = _lookahead(w)
    brainoptim.load(ckpt, opt, params={"w": w})
    traj = _lookahead_steps(opt, w, 7)
    np.save(out_traj, np.stack(traj), allow_pickle=False)
    brainoptim.save(out_ckpt, opt, params={"w": w})


_RESUME_CHILD = """
import sys
import test_checkpoint
test_checkpoint._resume_lookahead(*sys.argv[1:])
"""


def test_lookahead_resumes_bitwise_in_a_new_process(tmp_path):
    start = jnp.asarray([1.0, -1.0, 2.0, 0.5])
    w = brainstate.ParamState(start)
    uninterrupted = _lookahead(w)
    expected = _lookahead_steps(uninterrupted, w, 10)

    w = brainstate.ParamState(start)
    opt = _lookahead(w)
    _lookahead_steps(opt, w, 3)
    ckpt, traj, final = (tmp_path / n for n in ("3.ckpt", "traj.npy", "10.ckpt"))
    brainoptim.save(ckpt, opt, params={"w": w})

    child = _run_child(_RESUME_CHILD, ckpt, traj, final)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err.decode()

    resumed = np.load(traj, allow_pickle=False)
    assert resumed.shape == (7, 4)
    for k in range(7):
        assert _bits(resumed[k]) == _bits(expected[3 + k]), f"step {4 + k}"

    w_final = brainstate.ParamState(jnp.zeros(4))
    back = _lookahead(w_final)
    brainoptim.load(final, back, params={"w": w_final})
    assert back.state_dict()["step"] == 10
    _assert_same_state_dict(back.state_dict(), uninterrupted.state_dict())
    assert _bits(w_final.value) == _bits(expected[-1])


def test_save_creates_the_folder(tmp_path):
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(2))})
    path = tmp_path / "new" / "folder" / "opt.ckpt"
    brainoptim.save(path, opt)
    assert path.exists()
