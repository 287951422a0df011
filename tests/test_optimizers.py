"""The optimizer API: the issue's hand-computed cases and one suite over the registry.

Expected values are hand calculations written beside each test, or come from an
independent reference run (torch, optax) in the same test.
"""

import math

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import brainoptim
from brainoptim.registry import REGISTRY, TUTORIAL_OPTIMIZERS, create

NAMES = list(REGISTRY)


def run(opt, params: dict, grads_seq) -> dict:
    """Registers ``params`` (name -> array) and applies each gradient dict eagerly."""
    states = {k: brainstate.ParamState(jnp.asarray(v)) for k, v in params.items()}
    opt.register_trainable_weights(states)
    for grads in grads_seq:
        opt.update({k: jnp.asarray(v) for k, v in grads.items()})
    return states


# -- cases from public bug reports, computed by hand -------------------------------


def test_rprop_treats_gradient_as_zero_after_sign_change():
    # Step sizes: 0.1 (first step, no sign info), 0.1*1.2, 0.12*1.2, then a sign
    # change halves the size to 0.072 and skips the step, then sign(+1 * 0) = 0
    # keeps 0.072 and steps.
    opt = brainoptim.Rprop(lr=0.1, etas=(0.5, 1.2), step_sizes=(1e-6, 50))
    x = brainstate.ParamState(jnp.zeros(()))
    opt.register_trainable_weights({"x": x})
    moves = []
    for g in [1.0, 1.0, 1.0, -1.0, 1.0]:
        before = float(x.value)
        opt.update({"x": jnp.asarray(g)})
        moves.append(abs(float(x.value) - before))
    np.testing.assert_allclose(moves, [0.1, 0.12, 0.144, 0.0, 0.072], rtol=1e-6)


def test_sm3_scalar_next_to_matrix_behaves_as_one_element_vector():
    rng = np.random.default_rng(0)
    w0, s0 = rng.normal(size=(3, 4)), rng.normal()
    grads = [(rng.normal(size=(3, 4)), rng.normal()) for _ in range(5)]
    as_scalar = [{"w": g, "s": np.float32(h)} for g, h in grads]
    as_vector = [{"w": g, "s": np.array([h], np.float32)} for g, h in grads]
    scalar = run(brainoptim.SM3(lr=0.1), {"w": w0, "s": np.float32(s0)}, as_scalar)
    vector = run(brainoptim.SM3(lr=0.1), {"w": w0, "s": np.array([s0], np.float32)},
                 as_vector)  # fmt: skip
    assert scalar["s"].value.shape == ()
    np.testing.assert_array_equal(scalar["s"].value, vector["s"].value[0])
    np.testing.assert_array_equal(scalar["w"].value, vector["w"].value)


def test_lion_two_steps_by_hand():
    # c1 = 0.1 * 1 > 0: x = -0.1; m1 = 0.01.
    # c2 = 0.9 * 0.01 + 0.1 * (-0.5) = -0.041 < 0: x = 0.0; m2 = 0.99*0.01 - 0.005.
    opt = brainoptim.Lion(lr=0.1, betas=(0.9, 0.99))
    states = run(opt, {"x": np.float32(0.0)}, [{"x": 1.0}, {"x": -0.5}])
    assert float(states["x"].value) == pytest.approx(0.0, abs=1e-7)
    (mu,) = [x for x in jax.tree.leaves(opt.opt_state.value) if x.dtype == jnp.float32]
    assert float(mu) == pytest.approx(0.0049, rel=1e-5)


@pytest.mark.parametrize("name", ["Lamb", "Lars"])
def test_trust_ratio_on_zero_parameter(name):
    opt = brainoptim.Lamb(lr=0.1) if name == "Lamb" else brainoptim.Lars(lr=0.1)
    states = run(opt, {"w": np.zeros(3, np.float32)}, [{"w": [1.0, -2.0, 3.0]}])
    w = np.asarray(states["w"].value)
    # Trust ratio 1 when the parameter norm is 0: the step is the plain direction.
    assert np.all(np.sign(w) == [-1, 1, -1])

    opt = brainoptim.Lamb(lr=0.1) if name == "Lamb" else brainoptim.Lars(lr=0.1)
    states = run(opt, {"w": np.zeros(3, np.float32)}, [{"w": np.zeros(3)}] * 3)
    np.testing.assert_array_equal(states["w"].value, np.zeros(3))


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 3, 4)])
def test_adafactor_3d_rank_one_first_step_is_sign(shape):
    # g^2 factorises across the two largest dims, so the row/column estimate is
    # exact and the first step (beta2_1 = 0) is g / |g| = sign(g).
    rng = np.random.default_rng(0)
    a, b, c = (rng.uniform(0.5, 2.0, size=n) for n in shape)
    signs = rng.choice([-1.0, 1.0], size=shape)
    g = (signs * np.einsum("i,j,k->ijk", a, b, c)).astype(np.float32)
    opt = brainoptim.Adafactor(lr=1.0, clip_threshold=None, min_dim_size_to_factor=1,
                               multiply_by_parameter_scale=False)  # fmt: skip
    states = run(opt, {"w": np.zeros(shape, np.float32)}, [{"w": g}])
    np.testing.assert_allclose(states["w"].value, -np.sign(g), rtol=1e-5)
    factored = [x.shape for x in jax.tree.leaves(opt.opt_state.value) if x.ndim >= 1]
    assert shape not in factored  # no full-size second moment


def test_adafactor_clip_threshold_changes_the_result():
    rng = np.random.default_rng(0)
    g = [{"w": rng.normal(size=(8, 8)) * 10} for _ in range(3)]
    w0 = {"w": rng.normal(size=(8, 8)).astype(np.float32)}
    loose = run(brainoptim.Adafactor(lr=0.1, clip_threshold=1.0), w0, g)
    tight = run(brainoptim.Adafactor(lr=0.1, clip_threshold=0.01), w0, g)
    assert not np.allclose(loose["w"].value, tight["w"].value)


def test_lookahead_over_sgd_with_weight_decay_by_hand():
    # f = x^2/2, g = x + 0.1 x. Step 1: x = 1 - 0.1*1.1 = 0.89.
    # Step 2: fast = 0.89 - 0.1*0.979 = 0.7921; slow = 1 + 0.5*(0.7921 - 1) = 0.89605.
    opt = brainoptim.Lookahead(brainoptim.SGD(lr=0.1, weight_decay=0.1),
                               sync_period=2, alpha=0.5)  # fmt: skip
    x = brainstate.ParamState(jnp.asarray(1.0))
    opt.register_trainable_weights({"x": x})
    for _ in range(2):
        opt.update({"x": x.value})
    slow = opt.opt_state.value[0].slow_params[0]
    assert float(x.value) == pytest.approx(0.89605, rel=1e-6)
    assert float(slow) == pytest.approx(0.89605, rel=1e-6)


def test_lookahead_k1_alpha1_is_the_inner_optimizer_exactly():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.normal(size=5)} for _ in range(6)]
    w0 = {"w": rng.normal(size=5).astype(np.float32)}
    inner = run(brainoptim.Adam(lr=0.1), w0, grads)
    wrapped = run(brainoptim.Lookahead(brainoptim.Adam(lr=0.1), sync_period=1,
                                       alpha=1.0), w0, grads)  # fmt: skip
    np.testing.assert_array_equal(inner["w"].value, wrapped["w"].value)


def test_lookahead_follows_the_inner_schedule():
    sched = brainoptim.schedulers.StepLR(base_lr=0.1, step_size=1, gamma=0.5)
    opt = brainoptim.Lookahead(brainoptim.SGD(lr=sched))
    opt.lr.step()
    assert opt.current_lr == pytest.approx(0.05)


@pytest.mark.parametrize("name", ["Lion", "AdamW"])
def test_decoupled_decay_multiplies(name):
    # With a zero gradient both rules leave only the decay: p <- p (1 - lr wd),
    # a product, so negative and positive entries shrink alike.
    opt = REGISTRY[name].cls(lr=0.1, weight_decay=0.5)
    states = run(opt, {"w": np.array([2.0, -4.0], np.float32)}, [{"w": np.zeros(2)}])
    np.testing.assert_allclose(states["w"].value, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-6)


class TwoLayer(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = brainstate.nn.Linear(3, 4)
        self.l2 = brainstate.nn.Linear(4, 2)

    def __call__(self, x):
        return self.l2(jnp.tanh(self.l1(x)))


@pytest.mark.parametrize("name", ["Lion", "SGD"])
def test_add_param_group_uses_the_same_rule_with_the_groups_lr(name):
    brainstate.random.seed(0)
    model = TwoLayer()
    params = model.states(brainstate.ParamState)
    first = {k: v for k, v in params.items() if k[0] == "l1"}
    second = {k: v for k, v in params.items() if k[0] == "l2"}
    opt = brainoptim.Lion(lr=0.01) if name == "Lion" else brainoptim.SGD(lr=0.01)
    opt.register_trainable_weights(first)
    opt.add_param_group(second, lr=0.5)

    x = jnp.ones((5, 3))
    before = jax.tree.map(lambda s: s.value, dict(params))
    grads = brainstate.transform.grad(
        lambda: jnp.sum(model(x) ** 2), grad_states=dict(params)
    )()
    opt.update(grads)

    for key, lr in [(("l1", "weight"), 0.01), (("l2", "weight"), 0.5)]:
        moved = jax.tree.map(lambda a, b: a - b, params[key].value, before[key])
        g = grads[key]
        # Lion's first step is -lr * sign(0.1 g); SGD's is -lr * g.
        direction = jax.tree.map(jnp.sign, g) if name == "Lion" else g
        expect = jax.tree.map(lambda d, lr=lr: -lr * d, direction)
        jax.tree.map(
            lambda m, e: np.testing.assert_allclose(m, e, rtol=1e-5, atol=1e-7),
            moved,
            expect,
        )


def test_add_param_group_rejects_unknown_hyperparameter():
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"a": brainstate.ParamState(jnp.ones(2))})
    with pytest.raises(TypeError, match="betas"):
        opt.add_param_group({"b": brainstate.ParamState(jnp.ones(2))}, betas=(0.9, 0.9))


def test_state_registered_twice_is_updated_once():
    w = brainstate.ParamState(jnp.ones(2))
    opt = brainoptim.SGD(lr=0.1)
    opt.register_trainable_weights({"a": w, "b": w})
    opt.update({"a": jnp.ones(2), "b": jnp.ones(2)})
    np.testing.assert_allclose(w.value, [0.9, 0.9])  # one step, not two


# -- L-BFGS ------------------------------------------------------------------------


def test_lbfgs_line_search_without_loss_shows_both_ways():
    opt = brainoptim.LBFGS(lr=1.0, memory_size=10, line_search_fn="zoom")
    opt.register_trainable_weights({"x": brainstate.ParamState(jnp.ones(2))})
    with pytest.raises(ValueError, match=r"value_fn=fn(.|\n)*step\(closure\)"):
        opt.update({"x": jnp.ones(2)})


@pytest.mark.parametrize("line_search_fn", ["zoom", "backtracking"])
def test_lbfgs_closure_converges_on_rosenbrock(line_search_fn):
    x = brainstate.ParamState(jnp.array([-1.5, 2.0]))

    def closure():
        v = x.value
        return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2

    opt = brainoptim.LBFGS(lr=1.0, max_iter=100, line_search_fn=line_search_fn)
    opt.register_trainable_weights({"x": x})
    assert opt.step(closure) == pytest.approx(12.5)  # torch returns the first loss
    np.testing.assert_allclose(x.value, [1.0, 1.0], atol=1e-3)


def test_lbfgs_memory_is_memory_size_pairs():
    n, m = 50, 7
    opt = brainoptim.LBFGS(memory_size=m)
    opt.register_trainable_weights({"x": brainstate.ParamState(jnp.ones(n))})
    big = [x.shape for x in jax.tree.leaves(opt.opt_state.value) if x.size >= n]
    # m pairs (s, y), plus the previous iterate and gradient that form the next pair.
    assert sorted(big) == [(m, n), (m, n), (n,), (n,)]


def test_lbfgs_history_size_is_memory_size():
    with pytest.raises(ValueError, match="history_size"):
        brainoptim.LBFGS(history_size=5, memory_size=7)
    opt = brainoptim.LBFGS(history_size=5)
    assert opt.defaults["memory_size"] == 5


# -- the tutorial ------------------------------------------------------------------

TUTORIAL_CALLS = [
    lambda: brainoptim.Lion(lr=3e-4, betas=(0.9, 0.99), weight_decay=1e-4),
    lambda: brainoptim.Adafactor(
        lr=1e-3, decay_rate=0.8, factored=True, clip_threshold=1.0
    ),  # fmt: skip
    lambda: brainoptim.Lookahead(
        brainoptim.SGD(lr=0.1, momentum=0.9), sync_period=5, alpha=0.5
    ),  # fmt: skip
    lambda: brainoptim.RAdam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4),
    lambda: brainoptim.Lamb(
        lr=2e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, grad_clip_value=10.0
    ),  # fmt: skip
    lambda: brainoptim.Lars(
        lr=0.1, momentum=0.9, weight_decay=1e-4, trust_coefficient=0.001, eps=1e-8
    ),  # fmt: skip
    lambda: brainoptim.SM3(lr=1e-3, momentum=0.9, eps=1e-8),
    lambda: brainoptim.LBFGS(lr=1.0, memory_size=10, line_search_fn="zoom"),
    lambda: brainoptim.Rprop(lr=1e-3, etas=(0.5, 1.2), step_sizes=(1e-6, 50)),
    lambda: brainoptim.Yogi(lr=1e-2, betas=(0.9, 0.999), eps=1e-3),
]


@pytest.mark.parametrize("make", TUTORIAL_CALLS, ids=TUTORIAL_OPTIMIZERS)
def test_tutorial_constructor_in_the_tutorial_loop(make):
    brainstate.random.seed(0)
    model = TwoLayer()
    params = brainoptim.UniqueStateManager(
        model.states(brainstate.ParamState)
    ).to_pytree()
    opt = make()
    opt.register_trainable_weights(params)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 3)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, size=16))

    def loss_fn():
        logits = model(x)
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(16), y])

    @brainstate.transform.jit
    def train_step():
        grads, loss = brainstate.transform.grad(
            loss_fn, grad_states=params, return_value=True
        )()
        if opt.needs_value_fn:
            opt.update(grads, value=loss, value_fn=opt.value_fn(loss_fn))
        else:
            opt.update(grads)
        return loss

    first = float(train_step())
    for _epoch in range(3):
        for _ in range(10):
            last = float(train_step())
        opt.lr.step()
    assert math.isfinite(last)
    assert last < first


# -- the shared suite over the registry --------------------------------------------


# Learning rates at which each method settles within 150 steps on the quadratic
# below (measured once; methods not listed use their first test setting).
CONVERGE_LR = {"Adam": 0.1, "AdamW": 0.1, "NAdam": 0.1, "Adamax": 0.1, "Yogi": 0.1,
               "RAdam": 0.1, "Lamb": 0.1, "Lion": 0.1, "Adafactor": 0.3, "SM3": 0.3,
               "Adadelta": 10.0}  # fmt: skip


def _quadratic_run(name, steps=150):
    d = jnp.array([1.0, 3.0, 0.5, 2.0])
    w = brainstate.ParamState(jnp.array([1.0, -2.0, 1.5, 0.5]))
    spec = REGISTRY[name]
    hp = dict(spec.settings[0]) if spec.settings else dict(spec.defaults)
    if name in CONVERGE_LR:
        hp["lr"] = CONVERGE_LR[name]
    opt = spec.create(**hp) if name == "Lookahead" else spec.cls(**hp)
    opt.register_trainable_weights({"w": w})
    loss = lambda v: 0.5 * jnp.sum(d * v**2)  # noqa: E731
    traces = []

    @brainstate.transform.jit
    def step():
        traces.append(1)
        grads, value = brainstate.transform.grad(
            lambda: loss(w.value), grad_states={"w": w}, return_value=True
        )()
        if opt.needs_value_fn:
            opt.update(grads, value=value, value_fn=lambda v: loss(v["w"]))
        else:
            opt.update(grads)

    start = float(loss(w.value))
    for i in range(steps):
        step()
        if i == steps // 2:
            opt.set_lr(opt.current_lr * 0.5)
    return opt, w, start, float(loss(w.value)), len(traces), step


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_quadratic_without_retrace(name):
    opt, w, start, end, traces, _ = _quadratic_run(name)
    assert end < 0.1 * start, f"{name}: {start} -> {end}"
    assert traces == 1  # a new lr (set_lr) did not retrace
    assert w.value.dtype == jnp.float32
    assert int(opt.step_count.value) == 150


@pytest.mark.parametrize("name", [n for n in NAMES if n != "LBFGS"])
def test_state_dict_round_trip_resumes_bitwise(name):
    opt, w, *_, step = _quadratic_run(name, steps=5)
    saved_w, saved = w.value, opt.state_dict()
    for _ in range(4):
        step()
    expected = np.asarray(w.value)
    w.value = saved_w
    opt.load_state_dict(saved)
    for _ in range(4):
        step()
    np.testing.assert_array_equal(w.value, expected)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("LBFGS", "Lookahead")])
def test_to_optax_gives_the_same_trajectory(name):
    rng = np.random.default_rng(0)
    grads = [{"w": rng.normal(size=(3, 4)).astype(np.float32)} for _ in range(5)]
    w0 = {"w": rng.normal(size=(3, 4)).astype(np.float32)}
    spec = REGISTRY[name]
    opt = spec.cls(**spec.settings[0])
    states = run(opt, w0, grads)

    tx = spec.cls(**spec.settings[0]).to_optax()
    params = {"w": jnp.asarray(w0["w"])}
    state = tx.init(params)
    for g in grads:
        updates, state = tx.update({"w": jnp.asarray(g["w"])}, state, params)
        params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(states["w"].value, params["w"], rtol=1e-6, atol=1e-7)


def test_custom_optimizer_from_optax_pieces_has_the_whole_api():
    # Lion's sign update over Adafactor's factored second moment.
    sched = brainoptim.schedulers.StepLR(base_lr=0.1, step_size=1, gamma=0.5)
    opt = brainoptim.Custom(
        optax.scale_by_factored_rms(min_dim_size_to_factor=2),
        optax.scale_by_lion(b1=0.9, b2=0.99),
        lr=sched,
        weight_decay=0.0,
    )
    w = brainstate.ParamState(jnp.ones((4, 4)))
    b = brainstate.ParamState(jnp.ones(4))
    opt.register_trainable_weights({"w": w})
    opt.add_param_group({"b": b}, lr=0.01)
    opt.update({"w": jnp.ones((4, 4)), "b": jnp.ones(4)})
    # First step: sign(...) = +1 everywhere; lr 0.1 for w, 0.01 for b.
    np.testing.assert_allclose(w.value, 0.9 * np.ones((4, 4)), rtol=1e-6)
    np.testing.assert_allclose(b.value, 0.99 * np.ones(4), rtol=1e-6)
    opt.lr.step()
    assert opt.get_last_lr() == pytest.approx([0.05, 0.005])
    state = opt.state_dict()
    assert state["scheduler"]["last_epoch"] == 1


def test_custom_from_a_factory_equals_lion():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.normal(size=6)} for _ in range(8)]
    w0 = {"w": rng.normal(size=6).astype(np.float32)}
    custom = brainoptim.Custom(lambda betas: optax.scale_by_lion(*betas), lr=0.05,
                               betas=(0.9, 0.99), weight_decay=0.1)  # fmt: skip
    a = run(custom, w0, grads)
    b = run(brainoptim.Lion(lr=0.05, betas=(0.9, 0.99), weight_decay=0.1), w0, grads)
    np.testing.assert_array_equal(a["w"].value, b["w"].value)


@pytest.mark.parametrize("name", NAMES)
def test_negative_lr_is_rejected_with_its_name(name):
    with pytest.raises(ValueError, match=r"lr must be .* got -1"):
        create(name, lr=-1.0)


def test_torch_implementation_flags_warn():
    with pytest.warns(UserWarning, match="foreach=True is ignored"):
        brainoptim.Adam(foreach=True)


def test_braintools_names_port():
    assert brainoptim.Nadam is brainoptim.NAdam
    opt = brainoptim.MomentumNesterov(lr=0.1)
    assert opt.defaults["nesterov"] and opt.defaults["momentum"] == 0.9


def test_nonfinite_detection_can_be_turned_off():
    # On by default (one NaN step counted); off, the scan is not compiled in.
    for detect, expected in [(True, 1), (False, 0)]:
        w = brainstate.ParamState(jnp.ones(2))
        opt = brainoptim.Adam(lr=0.1, detect_nonfinite=detect)
        opt.register_trainable_weights({"w": w})
        opt.update({"w": jnp.array([jnp.nan, 1.0])})
        assert opt.nonfinite_steps == expected


# -- found by review ---------------------------------------------------------------


def _least_squares():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(20, 5)), jnp.float32)
    y = jnp.asarray(rng.normal(size=20), jnp.float32)
    w_star = np.linalg.lstsq(np.asarray(a), np.asarray(y), rcond=None)[0]
    best = float(np.mean((np.asarray(a) @ w_star - np.asarray(y)) ** 2))
    return a, y, best


@pytest.mark.parametrize("line_search_fn", ["zoom", "backtracking"])
def test_lbfgs_maximize_with_line_search_reaches_the_maximum(line_search_fn):
    a, y, best = _least_squares()  # the maximum of -mse is -best (NumPy's lstsq)
    w = brainstate.ParamState(jnp.zeros(5))
    opt = brainoptim.LBFGS(line_search_fn=line_search_fn, maximize=True, max_iter=50)
    opt.register_trainable_weights({"w": w})

    def closure():
        return -jnp.mean((a @ w.value - y) ** 2)

    for _ in range(3):
        opt.step(closure)
    assert float(closure()) == pytest.approx(-best, rel=1e-4)


def test_lookahead_around_lbfgs_with_a_closure():
    a, y, best = _least_squares()
    w = brainstate.ParamState(jnp.zeros(5))
    opt = brainoptim.Lookahead(brainoptim.LBFGS(line_search_fn="zoom"), sync_period=2)
    opt.register_trainable_weights({"w": w})
    losses = [float(opt.step(lambda: jnp.mean((a @ w.value - y) ** 2)))]
    losses += [float(opt.step(lambda: jnp.mean((a @ w.value - y) ** 2)))]
    assert losses[1] < losses[0]


def test_lookahead_keeps_its_alpha_apart_from_the_inner_optimizers():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.normal(size=4)} for _ in range(4)]
    w0 = {"w": rng.normal(size=4).astype(np.float32)}
    # alpha = 1 reproduces the inner optimizer, whose own alpha is 0.9.
    inner = run(brainoptim.RMSprop(lr=0.01, alpha=0.9), w0, grads)
    lookahead = brainoptim.Lookahead(
        brainoptim.RMSprop(lr=0.01, alpha=0.9), sync_period=2, alpha=1.0
    )
    wrapped = run(lookahead, w0, grads)
    np.testing.assert_array_equal(inner["w"].value, wrapped["w"].value)
    with pytest.raises(TypeError, match="another Lookahead"):
        brainoptim.Lookahead(brainoptim.Lookahead(brainoptim.SGD()))


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: brainoptim.Adam(weight_decay="0.1"), TypeError, "weight_decay must"),
        (lambda: brainoptim.Adam(amsgrad="yes"), TypeError, "amsgrad must be True"),
        (lambda: brainoptim.SGD(momentum=0.9, nesterov=1), TypeError, "nesterov"),
        (lambda: brainoptim.Adam(momentum=0.9), TypeError, r"\['momentum'\].*betas"),
        (lambda: brainoptim.Adam(state_dtype=jnp.int32), ValueError, "state_dtype"),
    ],
)
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_state_dict_names_a_hyperparameter_it_cannot_store():
    opt = brainoptim.Custom(lambda scale: optax.scale(scale), lr=0.1,
                            scale=jnp.ones(2))  # fmt: skip
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(2))})
    with pytest.raises(TypeError, match=r"hyperparameters\['scale'\] is an array"):
        opt.state_dict()


@pytest.mark.parametrize("compiled", [False, True])
def test_clip_norm_near_float32_max(compiled):
    # [1e38, 1e38, 0] clipped to norm 1 is [1, 1, 0] / sqrt(2), eagerly and compiled.
    w = brainstate.ParamState(jnp.zeros(3))
    opt = brainoptim.SGD(lr=1.0, grad_clip_norm=1.0)
    opt.register_trainable_weights({"w": w})
    update = brainstate.transform.jit(opt.update) if compiled else opt.update
    update({"w": jnp.array([1e38, 1e38, 0.0], jnp.float32)})
    np.testing.assert_allclose(-w.value, [0.5**0.5, 0.5**0.5, 0.0], rtol=1e-6)


def test_scheduler_stepped_inside_a_compiled_step_is_an_error():
    sched = brainoptim.schedulers.StepLR(base_lr=0.1, step_size=1, gamma=0.5)
    opt = brainoptim.SGD(lr=sched)
    opt.register_trainable_weights({"w": brainstate.ParamState(jnp.ones(2))})

    @brainstate.transform.jit
    def step(g):
        opt.update(g)
        opt.lr.step()  # would run once, at trace time

    with pytest.raises(RuntimeError, match="between compiled steps"):
        step({"w": jnp.ones(2)})


def test_one_scheduler_cannot_drive_two_optimizers():
    sched = brainoptim.schedulers.StepLR(base_lr=0.1, step_size=1)
    first = brainoptim.SGD(lr=sched)
    with pytest.raises(ValueError, match="already drives another optimizer"):
        brainoptim.Adam(lr=sched)
    assert first.lr is sched
