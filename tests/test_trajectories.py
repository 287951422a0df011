"""Every optimizer's trajectory equals its reference's, step for step.

The references were produced by ``tests/reference/generate.py`` (torch.optim, optax
and pytorch-optimizer, and the Lookahead paper's rule over torch's SGD) on the
problem in ``tests/reference/problem.py``; this file only reads their output.
"""

import json
import pathlib
import sys

import brainstate
import jax.numpy as jnp
import numpy as np
import pytest

from brainoptim.registry import REGISTRY, create

REF = pathlib.Path(__file__).parent / "reference"
sys.path.insert(0, str(REF))
import problem  # noqa: E402
from problems_lbfgs import PROBLEMS  # noqa: E402

META = json.loads((REF / "cases.json").read_text())
TRAJ = np.load(REF / "trajectories.npz")
CASES = [(c["name"], c["index"]) for c in META["cases"]]


def test_reference_cases_match_the_registry():
    """The stored references were generated from the registry's current settings."""
    stored = {(c["name"], c["index"]): c["hparams"] for c in META["cases"]}
    current = {
        (s.name, i): json.loads(json.dumps(hp, default=list))
        for s in REGISTRY.values()
        for i, hp in enumerate(s.settings)
    }
    assert stored == current, "run tests/reference/generate.py again"


def run_brainoptim(name: str, hparams: dict) -> dict[str, np.ndarray]:
    init = problem.initial_params()
    states = {k: brainstate.ParamState(jnp.asarray(v)) for k, v in init.items()}
    spec = REGISTRY[name]
    opt = spec.cls(**hparams) if name != "Lookahead" else _lookahead(hparams)
    opt.register_trainable_weights(states)

    @brainstate.transform.jit
    def step(noise_t):
        grads = {k: 0.5 * s.value + noise_t[k] for k, s in states.items()}
        opt.update(grads)

    noise = problem.noise()
    traj = {k: [v] for k, v in init.items()}
    for t in range(problem.STEPS):
        step({k: jnp.asarray(v[t]) for k, v in noise.items()})
        for k, s in states.items():
            traj[k].append(np.asarray(s.value))
    return {k: np.stack(v) for k, v in traj.items()}


def _lookahead(hp):
    import brainoptim

    hp = dict(hp)
    inner = brainoptim.SGD(lr=hp.pop("lr"), momentum=hp.pop("momentum"))
    return brainoptim.Lookahead(inner, **hp)


@pytest.mark.parametrize("name,index", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_trajectory_equals_reference(name, index):
    hparams = REGISTRY[name].settings[index]
    ours = run_brainoptim(name, hparams)
    for leaf in problem.SHAPES:
        ref = TRAJ[f"{name}/{index}/{leaf}"]
        np.testing.assert_allclose(
            ours[leaf], ref, rtol=1e-6, atol=2e-6, err_msg=f"{name} {hparams} {leaf}"
        )


@pytest.mark.parametrize("key", list(PROBLEMS))
def test_lbfgs_iterations_match_torch(key):
    """Iterations to reach the tolerance, against torch's strong-Wolfe L-BFGS.

    The line searches try different points, so the counts may differ by a little;
    torch's count is in cases.json (``lbfgs_iterations``).
    """
    import jax

    loss_fn, x0, tol = PROBLEMS[key]
    torch_iterations = META["lbfgs_iterations"][key]
    x = brainstate.ParamState(jnp.asarray(x0, jnp.float32))
    opt = create("LBFGS", lr=1.0, memory_size=10, line_search_fn="zoom")
    opt.register_trainable_weights({"x": x})

    @brainstate.transform.jit
    def iterate():
        grads, loss = brainstate.transform.grad(
            lambda: loss_fn(x.value, jnp), grad_states={"x": x}, return_value=True
        )()
        opt.update(grads, value=loss, value_fn=lambda v: loss_fn(v["x"], jnp))

    grad_fn = jax.jit(jax.grad(lambda v: loss_fn(v, jnp)))
    limit = int(torch_iterations * 1.1) + 2
    for _ in range(limit):
        iterate()
        if float(jnp.max(jnp.abs(grad_fn(x.value)))) < tol:
            break
    else:
        pytest.fail(
            f"not converged in {limit} iterations; torch needs {torch_iterations}"
        )
