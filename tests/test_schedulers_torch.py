"""Every scheduler against torch.optim.lr_scheduler, step for step.

torch is the reference: each case runs a torch SGD with one or two param groups
and the matching torch scheduler, and the lrs of ours must equal its lrs (float64
to rel 1e-12, the float32 ``lr_values`` to float32 rounding).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import brainoptim.schedulers as bs

L = torch.optim.lr_scheduler
ONE_GROUP = [0.1]
TWO_GROUPS = [0.1, 0.01]


def grouped(sched, lrs):
    """Adds the param groups after the first, as the optimizer does."""
    for lr in lrs[1:]:
        sched.add_group(lr)
    return sched


def torch_sequence(make, lrs, steps, metrics=None):
    """torch's lrs at epochs 0..steps, one list per epoch."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    opt = torch.optim.SGD(groups, lr=lrs[0])
    sched = make(opt, lrs)
    out = [list(sched.get_last_lr())]
    for t in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[t])
        out.append(list(sched.get_last_lr()))
    return out


def our_sequence(sched, steps, metrics=None):
    lrs, f32 = [sched.get_last_lr()], [np.asarray(sched.lr_values.value)]
    for t in range(steps):
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[t])
        lrs.append(sched.get_last_lr())
        f32.append(np.asarray(sched.lr_values.value))
    return lrs, f32


def assert_same(ours, f32, ref):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), rtol=1e-12, atol=0)
    f32 = np.stack(f32)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, np.asarray(ref, np.float32), rtol=1.2e-7, atol=0)


@dataclass
class Case:
    name: str
    ours: Any  # lrs -> our scheduler with len(lrs) groups
    theirs: Any  # (optimizer, lrs) -> torch scheduler
    steps: int = 50
    chainable: bool = True  # whether __call__ is available

    def __repr__(self):
        return self.name


def same_args(name, ours_cls, torch_cls, steps=50, **kw):
    return Case(
        name,
        lambda lrs: grouped(ours_cls(lrs[0], **kw), lrs),
        lambda opt, lrs: torch_cls(opt, **kw),
        steps,
    )


def one_cycle(name, **kw):
    div = kw.get("div_factor", 25.0)

    def ours(lrs):
        maxes = [10 * lr for lr in lrs]
        sched = bs.OneCycleLR(max_lr=maxes, total_steps=40, **kw)
        return grouped(sched, [m / div for m in maxes])

    def theirs(opt, lrs):
        maxes = [10 * lr for lr in lrs]
        return L.OneCycleLR(
            opt, max_lr=maxes, total_steps=40, cycle_momentum=False, **kw
        )

    return Case(name, ours, theirs, steps=40)


def cyclic(name, **kw):
    def ours(lrs):
        bases = [lr / 10 for lr in lrs]
        sched = bs.CyclicLR(base_lr=bases, max_lr=list(lrs), **kw)
        return grouped(sched, bases)

    def theirs(opt, lrs):
        bases = [lr / 10 for lr in lrs]
        return L.CyclicLR(
            opt, base_lr=bases, max_lr=list(lrs), cycle_momentum=False, **kw
        )

    return Case(name, ours, theirs, steps=60)


def sequential(name, parts, milestones):
    def ours(lrs):
        return grouped(bs.SequentialLR([p[0](lrs[0]) for p in parts], milestones), lrs)

    def theirs(opt, lrs):
        return L.SequentialLR(opt, [p[1](opt) for p in parts], milestones)

    return Case(name, ours, theirs, steps=50)


def chained(name, parts, chainable=True):
    def ours(lrs):
        return grouped(bs.ChainedScheduler([p[0](lrs[0]) for p in parts]), lrs)

    def theirs(opt, lrs):
        return L.ChainedScheduler([p[1](opt) for p in parts])

    return Case(name, ours, theirs, steps=50, chainable=chainable)


def decay(k):
    return 0.95**k


CASES = [
    same_args("step", bs.StepLR, L.StepLR, step_size=7, gamma=0.5),
    same_args("step_default_gamma", bs.StepLR, L.StepLR, step_size=3),
    same_args("multistep", bs.MultiStepLR, L.MultiStepLR, milestones=[5, 12, 30]),
    same_args("exponential", bs.ExponentialLR, L.ExponentialLR, gamma=0.93),
    same_args("cosine", bs.CosineAnnealingLR, L.CosineAnnealingLR, T_max=15),
    same_args(
        "cosine_eta_min",
        bs.CosineAnnealingLR,
        L.CosineAnnealingLR,
        T_max=12,
        eta_min=0.002,
    ),
    same_args(
        "warm_restarts",
        bs.CosineAnnealingWarmRestarts,
        L.CosineAnnealingWarmRestarts,
        T_0=3,
        T_mult=2,
        eta_min=1e-4,
    ),
    same_args(
        "warm_restarts_mult1",
        bs.CosineAnnealingWarmRestarts,
        L.CosineAnnealingWarmRestarts,
        T_0=7,
    ),
    same_args(
        "linear",
        bs.LinearLR,
        L.LinearLR,
        start_factor=0.25,
        end_factor=0.9,
        total_iters=10,
    ),
    same_args("linear_default", bs.LinearLR, L.LinearLR),
    same_args("constant", bs.ConstantLR, L.ConstantLR, factor=0.4, total_iters=8),
    same_args("polynomial", bs.PolynomialLR, L.PolynomialLR, total_iters=20, power=2.0),
    same_args("lambda", bs.LambdaLR, L.LambdaLR, lr_lambda=decay),
    one_cycle("one_cycle_cos"),
    one_cycle("one_cycle_linear", anneal_strategy="linear", pct_start=0.25),
    one_cycle(
        "one_cycle_three_phase", three_phase=True, div_factor=10.0, final_div_factor=1e3
    ),
    cyclic("cyclic_triangular", step_size_up=5, step_size_down=3),
    cyclic("cyclic_triangular2", step_size_up=4, mode="triangular2"),
    cyclic("cyclic_exp_range", step_size_up=6, mode="exp_range", gamma=0.97),
    cyclic(
        "cyclic_scale_fn_cycle",
        step_size_up=4,
        scale_fn=lambda x: 1 / (1 + 0.5 * x),
        scale_mode="cycle",
    ),
    cyclic(
        "cyclic_scale_fn_iterations",
        step_size_up=4,
        scale_fn=lambda x: 1 / (1 + 0.1 * x),
        scale_mode="iterations",
    ),
    sequential(
        "sequential_warmup_cosine",
        [
            (
                lambda b: bs.LinearLR(b, start_factor=0.1, total_iters=5),
                lambda o: L.LinearLR(o, start_factor=0.1, total_iters=5),
            ),
            (
                lambda b: bs.CosineAnnealingLR(b, T_max=20, eta_min=1e-4),
                lambda o: L.CosineAnnealingLR(o, T_max=20, eta_min=1e-4),
            ),
        ],
        [5],
    ),
    sequential(
        "sequential_three",
        [
            (
                lambda b: bs.ConstantLR(b, factor=0.5, total_iters=3),
                lambda o: L.ConstantLR(o, factor=0.5, total_iters=3),
            ),
            (
                lambda b: bs.ExponentialLR(b, gamma=0.9),
                lambda o: L.ExponentialLR(o, gamma=0.9),
            ),
            (
                lambda b: bs.StepLR(b, step_size=4, gamma=0.5),
                lambda o: L.StepLR(o, step_size=4, gamma=0.5),
            ),
        ],
        [4, 20],
    ),
    chained(
        "chained_constant_exponential",
        [
            (
                lambda b: bs.ConstantLR(b, factor=0.5, total_iters=4),
                lambda o: L.ConstantLR(o, factor=0.5, total_iters=4),
            ),
            (
                lambda b: bs.ExponentialLR(b, gamma=0.9),
                lambda o: L.ExponentialLR(o, gamma=0.9),
            ),
        ],
    ),
    chained(
        "chained_linear_step_cosine",
        [
            (
                lambda b: bs.LinearLR(b, start_factor=0.2, total_iters=6),
                lambda o: L.LinearLR(o, start_factor=0.2, total_iters=6),
            ),
            (
                lambda b: bs.StepLR(b, step_size=10, gamma=0.7),
                lambda o: L.StepLR(o, step_size=10, gamma=0.7),
            ),
            (
                lambda b: bs.CosineAnnealingLR(b, T_max=30),
                lambda o: L.CosineAnnealingLR(o, T_max=30),
            ),
        ],
        chainable=False,
    ),
    chained(
        "chained_linear_multistep_polynomial",
        [
            (
                lambda b: bs.LinearLR(b, start_factor=0.2, total_iters=6),
                lambda o: L.LinearLR(o, start_factor=0.2, total_iters=6),
            ),
            (
                lambda b: bs.MultiStepLR(b, milestones=[10, 25], gamma=0.5),
                lambda o: L.MultiStepLR(o, milestones=[10, 25], gamma=0.5),
            ),
            (
                lambda b: bs.PolynomialLR(b, total_iters=45, power=0.5),
                lambda o: L.PolynomialLR(o, total_iters=45, power=0.5),
            ),
        ],
    ),
    chained(
        "chained_lambda_then_exponential",
        [
            (
                lambda b: bs.LambdaLR(b, lr_lambda=decay),
                lambda o: L.LambdaLR(o, lr_lambda=decay),
            ),
            (
                lambda b: bs.ExponentialLR(b, gamma=0.9),
                lambda o: L.ExponentialLR(o, gamma=0.9),
            ),
        ],
        chainable=False,
    ),
]


@pytest.mark.parametrize("lrs", [ONE_GROUP, TWO_GROUPS], ids=["1group", "2groups"])
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_step_matches_torch(case, lrs):
    ref = torch_sequence(case.theirs, lrs, case.steps)
    ours, f32 = our_sequence(case.ours(lrs), case.steps)
    assert_same(ours, f32, ref)


@pytest.mark.parametrize("case", [c for c in CASES if c.chainable], ids=repr)
def test_call_is_the_optax_schedule(case):
    ref = np.asarray(torch_sequence(case.theirs, ONE_GROUP, 40))[:, 0]
    sched = case.ours(ONE_GROUP)
    schedule = jax.jit(lambda k: sched(k))
    got = np.asarray([schedule(jnp.asarray(k)) for k in range(41)])
    assert got.dtype == np.float32
    # float32 evaluation of the closed form: a few float32 ulps of the lr scale.
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-7 * ref.max())


def test_chained_call_with_an_absolute_schedule_raises():
    case = next(c for c in CASES if c.name == "chained_lambda_then_exponential")
    with pytest.raises(NotImplementedError, match="schedulers\\[0\\]"):
        case.ours(ONE_GROUP)(jnp.asarray(3))


def test_one_cycle_first_and_last_steps():
    """The first lr is max_lr / div_factor, the last one max_lr / div / final_div."""
    case = next(c for c in CASES if c.name == "one_cycle_cos")
    ours, _ = our_sequence(case.ours(ONE_GROUP), 40)
    ref = torch_sequence(case.theirs, ONE_GROUP, 40)
    assert ours[0] == pytest.approx(ref[0], rel=1e-12)
    assert ours[0][0] == pytest.approx(1.0 / 25, rel=1e-12)
    assert ours[39][0] == pytest.approx(ref[39][0], rel=1e-12)
    assert ours[39][0] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)
    assert ours[40] == pytest.approx(ref[40], rel=1e-12)


def test_one_cycle_stepping_past_the_end_raises():
    sched = bs.OneCycleLR(max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()
    assert sched.last_epoch == 3


@pytest.mark.parametrize("cls_name", ["OneCycleLR", "CyclicLR"])
def test_scalar_bounds_give_every_group_the_same_schedule(cls_name):
    """torch with two groups and a scalar max_lr ignores the groups' own lrs."""
    if cls_name == "OneCycleLR":
        ours = bs.OneCycleLR(max_lr=0.5, total_steps=40)

        def theirs(opt, lrs):
            return L.OneCycleLR(opt, max_lr=0.5, total_steps=40, cycle_momentum=False)
    else:
        ours = bs.CyclicLR(base_lr=0.05, max_lr=0.5, step_size_up=5)

        def theirs(opt, lrs):
            return L.CyclicLR(
                opt, base_lr=0.05, max_lr=0.5, step_size_up=5, cycle_momentum=False
            )

    with pytest.warns(UserWarning, match="param group 1"):
        ours.add_group(0.01)
    ref = torch_sequence(theirs, TWO_GROUPS, 40)
    got, f32 = our_sequence(ours, 40)
    assert_same(got, f32, ref)


_NOISE = np.random.default_rng(0).uniform(size=60)
# Improving for 30 epochs, then a noisy plateau, so that every case reduces.
METRICS = [float(v) for v in 1.0 + 0.3 * _NOISE[:30] - 0.02 * np.arange(30)] + [
    float(v) for v in 0.6 + 0.1 * _NOISE[30:]
]
PLATEAU_CASES = [
    {},
    {"patience": 2, "factor": 0.5},
    {"patience": 1, "threshold_mode": "abs", "threshold": 0.05, "cooldown": 2},
    {"mode": "max", "patience": 2, "factor": 0.3},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 3},
    {"patience": 0, "factor": 0.5, "min_lr": 0.004, "eps": 1e-3},
]


@pytest.mark.parametrize("lrs", [ONE_GROUP, TWO_GROUPS], ids=["1group", "2groups"])
@pytest.mark.parametrize("kw", PLATEAU_CASES, ids=str)
def test_plateau_matches_torch(kw, lrs):
    metrics = METRICS if kw.get("mode") != "max" else [2.0 - m for m in METRICS]
    ref = torch_sequence(lambda o, _: L.ReduceLROnPlateau(o, **kw), lrs, 60, metrics)
    ours = grouped(bs.ReduceLROnPlateau(lrs[0], **kw), lrs)
    got, f32 = our_sequence(ours, 60, metrics)
    assert_same(got, f32, ref)
    assert got[-1] != got[0]  # the case does reduce


@pytest.mark.parametrize(
    ("make_ours", "make_theirs", "epochs"),
    [
        (
            lambda: bs.StepLR(0.1, step_size=4, gamma=0.3),
            lambda o: L.StepLR(o, step_size=4, gamma=0.3),
            [9, 3, 16],
        ),
        (
            lambda: bs.MultiStepLR(1e-3, milestones=[10, 20, 30]),
            lambda o: L.MultiStepLR(o, milestones=[10, 20, 30]),
            [1, 25, 31, 12],
        ),
        (
            lambda: bs.CosineAnnealingLR(0.1, T_max=10, eta_min=0.01),
            lambda o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
            [3, 14, 7],
        ),
        (
            lambda: bs.CosineAnnealingWarmRestarts(0.1, T_0=2, T_mult=3),
            lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3),
            [1, 5, 9, 30],
        ),
        (
            lambda: bs.LinearLR(0.1, start_factor=0.3, total_iters=6),
            lambda o: L.LinearLR(o, start_factor=0.3, total_iters=6),
            [2, 9, 4],
        ),
        (
            lambda: bs.PolynomialLR(0.1, total_iters=8, power=3.0),
            lambda o: L.PolynomialLR(o, total_iters=8, power=3.0),
            [5, 11],
        ),
    ],
)
def test_step_epoch_matches_torch_closed_form(make_ours, make_theirs, epochs):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    if isinstance(make_ours(), bs.MultiStepLR):
        opt.param_groups[0]["lr"] = 1e-3
    theirs, ours = make_theirs(opt), make_ours()
    for epoch in epochs:
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch: epoch is deprecated
            theirs.step(epoch)
        ours.step(epoch)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
