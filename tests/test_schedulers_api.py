"""The scheduler protocol: no retrace, state round trips, closed forms, errors."""

from __future__ import annotations

import math

import brainstate
import jax
import jax.numpy as jnp
import matplotlib
import msgpack
import numpy as np
import optax
import pytest

import brainoptim.schedulers as bs

matplotlib.use("Agg")


def _factories():
    return {
        "step": lambda: bs.StepLR(0.1, step_size=3, gamma=0.5),
        "multistep": lambda: bs.MultiStepLR(0.1, milestones=[4, 9]),
        "exponential": lambda: bs.ExponentialLR(0.1, gamma=0.9),
        "exponential_decay": lambda: bs.ExponentialDecayLR(0.1, 5, 0.5),
        "cosine": lambda: bs.CosineAnnealingLR(0.1, T_max=7, eta_min=1e-3),
        "warm_restarts": lambda: bs.CosineAnnealingWarmRestarts(0.1, T_0=2, T_mult=2),
        "linear": lambda: bs.LinearLR(0.1, start_factor=0.2, total_iters=6),
        "constant": lambda: bs.ConstantLR(0.1, factor=0.5, total_iters=4),
        "polynomial": lambda: bs.PolynomialLR(0.1, total_iters=12, power=2.0),
        "lambda": lambda: bs.LambdaLR(0.1, lr_lambda=lambda k: 1.0 / (1.0 + k)),
        "one_cycle": lambda: bs.OneCycleLR(max_lr=1.0, total_steps=40),
        "cyclic": lambda: bs.CyclicLR(0.01, 0.1, step_size_up=3, mode="triangular2"),
        "warmup_cosine": lambda: bs.WarmupCosineSchedule(0.1, 5, 30, eta_min=1e-3),
        "warmup": lambda: bs.WarmupScheduler(0.1, warmup_epochs=4),
        "constant_lr": lambda: bs.Constant(0.1),
        "sequential": lambda: bs.SequentialLR(
            [bs.LinearLR(0.1, total_iters=4), bs.ExponentialLR(0.1, gamma=0.8)],
            milestones=[4],
        ),
        "chained": lambda: bs.ChainedScheduler(
            [bs.ConstantLR(0.1, total_iters=3), bs.StepLR(0.1, step_size=5)]
        ),
    }


FACTORIES = _factories()


def _step(sched, t):
    if isinstance(sched, bs.ReduceLROnPlateau):
        sched.step(1.0 if t % 3 else 0.5 / (t + 1))
    else:
        sched.step()


@pytest.mark.parametrize("name", [*FACTORIES, "plateau"])
def test_stepping_never_retraces(name):
    if name == "plateau":
        sched = bs.ReduceLROnPlateau(0.1, patience=1)
    else:
        sched = FACTORIES[name]()
    sched.add_group(0.01 if name not in ("one_cycle", "cyclic") else sched.base_lr)
    traces = []

    @brainstate.transform.jit
    def scaled(x):
        traces.append(1)
        return x * sched.lr_values.value

    seen = []
    for t in range(10):
        seen.append(np.asarray(scaled(jnp.ones(2))))
        np.testing.assert_array_equal(seen[-1], np.float32(sched.get_last_lr()))
        _step(sched, t)
    assert len(traces) == 1
    assert sched.lr_values.value.shape == (2,)
    assert sched.lr_values.value.dtype == jnp.float32


@pytest.mark.parametrize("name", [*FACTORIES, "plateau"])
def test_state_dict_round_trip_through_msgpack(name):
    def make():
        if name == "plateau":
            return bs.ReduceLROnPlateau(0.1, patience=1, cooldown=1)
        return FACTORIES[name]()

    def run(sched, start, stop):
        out = []
        for t in range(start, stop):
            _step(sched, t)
            out.append((sched.get_last_lr(), np.asarray(sched.lr_values.value)))
        return out

    first = make()
    first.add_group(first.base_lr)
    run(first, 0, 13)
    blob = msgpack.packb(first.state_dict())
    expected = run(first, 13, 40)

    second = make()
    second.add_group(second.base_lr)
    second.load_state_dict(msgpack.unpackb(blob))
    got = run(second, 13, 40)
    for (lr_a, f32_a), (lr_b, f32_b) in zip(expected, got, strict=True):
        assert lr_a == lr_b
        np.testing.assert_array_equal(f32_a, f32_b)


def test_state_dict_holds_plain_values_only():
    sched = bs.SequentialLR(
        [bs.LambdaLR(0.1, lr_lambda=lambda k: 0.5**k), bs.StepLR(0.1, step_size=2)],
        milestones=[3],
    )

    def check(value):
        if isinstance(value, dict):
            for k, v in value.items():
                assert isinstance(k, str)
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        else:
            assert value is None or isinstance(value, bool | int | float | str)

    check(sched.state_dict())


def test_load_state_dict_rejects_another_kind():
    with pytest.raises(ValueError, match="does not have"):
        bs.StepLR(0.1, step_size=2).load_state_dict(
            bs.CosineAnnealingLR(0.1, T_max=3).state_dict()
        )


def test_multistep_step_epoch_is_the_closed_form():
    sched = bs.MultiStepLR(base_lr=1e-3, milestones=[10, 20, 30], gamma=0.1)
    sched.step(1)
    assert sched.current_lr == pytest.approx(1e-3, rel=1e-12)
    sched.step(25)  # two milestones passed: 1e-3 * 0.1**2
    assert sched.current_lr == pytest.approx(1e-5, rel=1e-12)
    sched.step(9)
    assert sched.current_lr == pytest.approx(1e-3, rel=1e-12)
    sched.step(40)
    assert sched.current_lr == pytest.approx(1e-6, rel=1e-12)


def test_warm_restarts_hand_values():
    # T_0=1, T_mult=2: periods [0], [1, 2], [3..6], [7..14];
    # lr = 0.25 (1 + cos(pi t / T_i)), t counted from the period start.
    expected = [
        0.5,
        0.5,
        0.25,
        0.5,
        0.42677670,
        0.25,
        0.07322330,
        0.5,
        0.48096988,
    ]
    sched = bs.CosineAnnealingWarmRestarts(base_lr=0.5, T_0=1, T_mult=2, eta_min=0.0)
    got = [sched.current_lr]
    for _ in range(8):
        sched.step()
        got.append(sched.current_lr)
    np.testing.assert_allclose(got, expected, atol=5e-9)
    jumped = []
    for epoch in range(9):
        sched.step(epoch)
        jumped.append(sched.current_lr)
    np.testing.assert_allclose(jumped, expected, atol=5e-9)
    schedule = jax.jit(lambda k: sched(k))
    via_call = [float(schedule(jnp.asarray(k))) for k in range(9)]
    np.testing.assert_allclose(via_call, expected, rtol=1e-6)


def test_warmup_cosine_formula():
    base, start, eta, w, t = 0.1, 0.01, 0.001, 5, 20
    sched = bs.WarmupCosineSchedule(base, w, t, warmup_start_lr=start, eta_min=eta)

    def formula(k):  # the docstring's formula
        if k < w:
            return start + (base - start) * k / w
        done = min(k - w, t - w) / (t - w)
        return eta + (base - eta) * (1 + math.cos(math.pi * done)) / 2

    got = [sched.current_lr]
    for _ in range(30):
        sched.step()
        got.append(sched.current_lr)
    np.testing.assert_allclose(got, [formula(k) for k in range(31)], rtol=1e-12)
    assert got[w] == pytest.approx(base) and got[-1] == pytest.approx(eta)

    reference = optax.warmup_cosine_decay_schedule(start, base, w, t, end_value=eta)
    ours = jax.jit(lambda k: sched(k))
    for k in range(31):
        np.testing.assert_allclose(ours(k), reference(k), rtol=2e-6, atol=1e-9)


def test_warmup_scheduler_formula():
    sched = bs.WarmupScheduler(base_lr=0.2, warmup_epochs=4, warmup_start_lr=0.04)
    got = [sched.current_lr]
    for _ in range(6):
        sched.step()
        got.append(sched.current_lr)
    # 0.04 + 0.16 * min(k / 4, 1)
    np.testing.assert_allclose(got, [0.04, 0.08, 0.12, 0.16, 0.2, 0.2, 0.2])


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"staircase": True},
        {"transition_begin": 4},
        {"end_value": 0.05},
        {"decay_rate": 1.5, "end_value": 0.3},
    ],
    ids=str,
)
def test_exponential_decay_matches_optax(kw):
    rate = kw.pop("decay_rate", 0.6)
    sched = bs.ExponentialDecayLR(0.1, decay_steps=3, decay_rate=rate, **kw)
    reference = optax.exponential_decay(0.1, 3, rate, **kw)
    for k in range(40):
        assert sched.current_lr == pytest.approx(float(reference(k)), rel=2e-6)
        sched.step()


def test_plateau_sign_of_metric_does_not_matter():
    def run(value):
        sched = bs.ReduceLROnPlateau(1.0, patience=2, factor=0.5)
        out = []
        for _ in range(20):
            sched.step(value)
            out.append(sched.current_lr)
        return out

    negative = run(-1.0)
    assert negative == run(1.0)
    assert negative[-1] < 1.0


def test_plateau_relative_threshold_with_negative_metric():
    sched = bs.ReduceLROnPlateau(1.0, mode="min", threshold=1e-4)
    sched.step(-1.0)
    assert sched.best == -1.0
    sched.step(-0.99995)  # worse than -1.0: not a new best
    assert sched.best == -1.0
    assert sched.num_bad_epochs == 1
    sched.step(-1.001)  # better than -1.0 by more than 1e-4 relative
    assert sched.best == -1.001


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "loss"])
def test_plateau_rejects_non_finite_metric(value):
    sched = bs.ReduceLROnPlateau(0.1)
    with pytest.raises(ValueError, match="metrics must be a finite number"):
        sched.step(value)


def test_plateau_has_no_optax_schedule():
    with pytest.raises(NotImplementedError, match="ReduceLROnPlateau"):
        bs.ReduceLROnPlateau(0.1)(jnp.asarray(3))


def test_lambda_call_traces_a_jnp_lambda():
    sched = bs.LambdaLR(0.1, lr_lambda=lambda k: jnp.exp(-0.1 * k))
    schedule = jax.jit(lambda k: sched(k))
    for k in range(41):
        np.testing.assert_allclose(schedule(k), 0.1 * math.exp(-0.1 * k), rtol=2e-6)
        assert sched.current_lr == pytest.approx(0.1 * math.exp(-0.1 * k), rel=1e-6)
        sched.step()


def test_scheduler_is_an_optax_learning_rate():
    sched = bs.StepLR(0.1, step_size=2, gamma=0.5)
    tx = optax.sgd(learning_rate=sched)
    params = jnp.zeros(1)
    state = tx.init(params)
    for k in range(6):
        updates, state = tx.update(jnp.ones(1), state, params)
        assert float(updates[0]) == pytest.approx(-0.1 * 0.5 ** (k // 2), rel=1e-6)


def test_set_lr_and_group_bookkeeping():
    sched = bs.StepLR(0.1, step_size=2, gamma=0.5)
    assert sched.add_group(0.02) == 1
    assert sched.base_lrs == [0.1, 0.02]
    sched.set_lr(0.04, group=1)
    assert sched.get_last_lr() == [0.1, 0.04]
    np.testing.assert_array_equal(sched.lr_values.value, np.float32([0.1, 0.04]))
    sched.step()
    sched.step()  # recursive, like torch's group["lr"]: continues from the set value
    assert sched.get_last_lr() == pytest.approx([0.05, 0.02])
    with pytest.raises(ValueError, match="group must be in \\[0, 1\\], got 2"):
        sched.set_lr(0.1, group=2)


def test_group_added_after_stepping_starts_at_the_closed_form():
    sched = bs.ExponentialLR(0.1, gamma=0.5)
    sched.step()
    sched.step()
    sched.add_group(0.4)
    assert sched.get_last_lr() == pytest.approx([0.025, 0.1])


def test_as_scheduler():
    sched = bs.StepLR(0.1, step_size=2)
    assert bs.as_scheduler(sched) is sched
    constant = bs.as_scheduler(0.3)
    assert isinstance(constant, bs.Constant)
    constant.step()
    assert constant.get_last_lr() == [0.3]
    assert float(constant(jnp.asarray(7))) == pytest.approx(0.3)


@pytest.mark.parametrize("name", ["cosine", "one_cycle", "sequential"])
def test_plot_returns_axes_and_leaves_the_scheduler(name):
    import matplotlib.pyplot as plt

    sched = FACTORIES[name]()
    sched.step()
    before = sched.state_dict()
    ax = sched.plot(60)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert sched.state_dict() == before
    plt.close("all")


def test_plot_plateau_needs_metrics():
    import matplotlib.pyplot as plt

    sched = bs.ReduceLROnPlateau(0.1, patience=0)
    assert isinstance(sched.plot(5, metrics=[1.0] * 5), matplotlib.axes.Axes)
    with pytest.raises(ValueError, match="metrics"):
        sched.plot(5)
    plt.close("all")


BAD_ARGUMENTS = [
    (lambda: bs.StepLR(-0.1, step_size=2), "base_lr must be .*>= 0, got -0.1"),
    (lambda: bs.StepLR(0.1, step_size=0), "step_size must be an integer >= 1, got 0"),
    (
        lambda: bs.StepLR(0.1, step_size=2, gamma=0.0),
        "gamma must be a number > 0, got 0.0",
    ),
    (lambda: bs.ExponentialLR(0.1, gamma=-1.0), "gamma must be a number > 0, got -1.0"),
    (lambda: bs.MultiStepLR(0.1, [5, 3]), r"milestones must be strictly increasing"),
    (lambda: bs.MultiStepLR(0.1, [5, 5]), r"strictly increasing, got \[5, 5\]"),
    (lambda: bs.CosineAnnealingLR(0.1, T_max=0), "T_max must be an integer >= 1"),
    (lambda: bs.CosineAnnealingLR(0.1, 5, eta_min=-1), "eta_min must be"),
    (lambda: bs.CosineAnnealingWarmRestarts(0.1, T_0=0), "T_0 must be .*>= 1, got 0"),
    (lambda: bs.CosineAnnealingWarmRestarts(0.1, 2, T_mult=0), "T_mult must be .*>= 1"),
    (lambda: bs.CosineAnnealingWarmRestarts(0.1, 2, T_mult=1.5), "T_mult .*1.5"),
    (lambda: bs.LinearLR(0.1, start_factor=0.0), r"start_factor must .*\(0, 1\]"),
    (lambda: bs.LinearLR(0.1, end_factor=1.5), r"end_factor must .*\[0, 1\], got 1.5"),
    (lambda: bs.ConstantLR(0.1, factor=1.5), r"factor must .*\[0, 1\], got 1.5"),
    (lambda: bs.ConstantLR(0.1, total_iters=0), "total_iters must be"),
    (lambda: bs.PolynomialLR(0.1, power=-1.0), "power must be"),
    (lambda: bs.OneCycleLR(0.1, total_steps=0), "total_steps must be .*>= 1, got 0"),
    (lambda: bs.OneCycleLR(0.1), "total_steps must be given"),
    (lambda: bs.OneCycleLR(0.1, 10, pct_start=1.0), r"pct_start must .*\(0, 1\)"),
    (lambda: bs.OneCycleLR(0.1, 10, pct_start=0.0), r"pct_start .*got 0.0"),
    (lambda: bs.OneCycleLR(0.1, 10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda: bs.OneCycleLR(0.1, 10, cycle_momentum=True), "cycle_momentum"),
    (lambda: bs.OneCycleLR(0.1, 10, div_factor=0), "div_factor"),
    (lambda: bs.CyclicLR(0.1, 1.0, step_size_up=0), "step_size_up must"),
    (lambda: bs.CyclicLR(0.1, 1.0, mode="sine"), "mode must be one of"),
    (lambda: bs.CyclicLR(0.1, -1.0), "max_lr must be"),
    (lambda: bs.ReduceLROnPlateau(0.1, factor=1.0), r"factor must .*\(0, 1\), got 1.0"),
    (lambda: bs.ReduceLROnPlateau(0.1, factor=0.0), r"factor must .*got 0.0"),
    (lambda: bs.ReduceLROnPlateau(0.1, mode="up"), "mode must be one of"),
    (lambda: bs.ReduceLROnPlateau(0.1, threshold_mode="x"), "threshold_mode"),
    (lambda: bs.ReduceLROnPlateau(0.1, patience=-1), "patience must be"),
    (lambda: bs.ReduceLROnPlateau(0.1, min_lr=-1.0), "min_lr must be"),
    (lambda: bs.LambdaLR(0.1, lr_lambda=3), r"lr_lambda\[0\] must be callable"),
    (lambda: bs.WarmupCosineSchedule(0.1, 10, 10), "total_steps must be > warmup"),
    (lambda: bs.ExponentialDecayLR(0.1, decay_steps=0), "decay_steps must be"),
    (lambda: bs.ExponentialDecayLR(0.1, decay_rate=0.0), "decay_rate must"),
    (lambda: bs.StepLR(0.1, 2, last_epoch=-2), "last_epoch must be"),
    (
        lambda: bs.SequentialLR([bs.StepLR(0.1, 2), bs.StepLR(0.1, 3)], [0]),
        r"milestones\[0\] must be an integer >= 1, got 0",
    ),
    (
        lambda: bs.SequentialLR([bs.StepLR(0.1, 2)], [3]),
        "milestones must hold one entry fewer",
    ),
    (
        lambda: bs.SequentialLR([bs.StepLR(0.1, 2), bs.StepLR(0.2, 3)], [3]),
        r"schedulers\[1\] must have the base lrs",
    ),
    (
        lambda: bs.ChainedScheduler([bs.StepLR(0.1, 2), bs.ReduceLROnPlateau(0.1)]),
        r"schedulers\[1\] must be a schedule of the epoch",
    ),
    (lambda: bs.ChainedScheduler([]), "at least one scheduler"),
]


@pytest.mark.parametrize(("make", "match"), BAD_ARGUMENTS)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_composite_rejects_a_stepped_part():
    part = bs.StepLR(0.1, 2)
    part.step()
    with pytest.raises(ValueError, match=r"schedulers\[0\] must be fresh"):
        bs.ChainedScheduler([part])


def test_bad_step_epoch_raises():
    with pytest.raises(ValueError, match="epoch must be an integer >= 0, got -1"):
        bs.StepLR(0.1, 2).step(-1)


def test_sgd_with_steplr_and_two_groups_matches_torch():
    brainoptim = pytest.importorskip("brainoptim")
    torch = pytest.importorskip("torch")
    if not hasattr(brainoptim, "SGD"):
        pytest.skip("brainoptim.SGD is not there yet")

    w1 = brainstate.ParamState(jnp.asarray([1.0, -2.0]))
    w2 = brainstate.ParamState(jnp.asarray([0.5, 3.0]))
    opt = brainoptim.SGD(lr=bs.StepLR(0.1, step_size=3, gamma=0.5), momentum=0.9)
    opt.register_trainable_weights({"w1": w1})
    opt.add_param_group({"w2": w2}, lr=0.01)

    def loss_fn():
        return jnp.sum(w1.value**2) + jnp.sum((w2.value - 1.0) ** 4)

    @brainstate.transform.jit
    def train_step():
        grads = brainstate.transform.grad(loss_fn, grad_states={"w1": w1, "w2": w2})()
        opt.update(grads)

    p1 = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    p2 = torch.nn.Parameter(torch.tensor([0.5, 3.0], dtype=torch.float64))
    ref = torch.optim.SGD(
        [{"params": [p1]}, {"params": [p2], "lr": 0.01}], lr=0.1, momentum=0.9
    )
    ref_sched = torch.optim.lr_scheduler.StepLR(ref, step_size=3, gamma=0.5)

    for _ in range(12):
        train_step()
        opt.lr.step()
        ref.zero_grad()
        (torch.sum(p1**2) + torch.sum((p2 - 1.0) ** 4)).backward()
        ref.step()
        ref_sched.step()
        assert opt.lr.get_last_lr() == pytest.approx(ref_sched.get_last_lr())
    np.testing.assert_allclose(w1.value, p1.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2.value, p2.detach().numpy(), rtol=1e-5, atol=1e-6)
