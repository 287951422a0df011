"""Writes the reference trajectories the tests compare against.

    python tests/reference/generate.py

For every optimizer in the registry and each of its ``settings``, runs the reference
implementation on the problem in ``problem.py`` and stores every iterate in
``trajectories.npz``; ``cases.json`` records what was run. References:

- torch.optim 2.13 for the methods torch has;
- optax 0.2.8's own aliases for the paper-defined methods it implements, with
  pytorch-optimizer as a second opinion where it agrees (Lion, AdaBelief);
- Lookahead: the paper's rule written here over torch.optim.SGD;
- L-BFGS: torch's LBFGS(line_search_fn='strong_wolfe') iteration counts to converge.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "src"))

import problem  # noqa: E402

TORCH = {"SGD", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adagrad", "Adadelta",
         "RMSprop", "Rprop"}  # fmt: skip


def run_torch(name: str, hp: dict) -> dict[str, np.ndarray]:
    import torch

    params = {k: torch.tensor(v) for k, v in problem.initial_params().items()}
    hp = dict(hp)
    lookahead = None
    if name == "Lookahead":
        lookahead = (hp.pop("sync_period"), hp.pop("alpha"))
        name = "SGD"
    opt = getattr(torch.optim, name)(list(params.values()), **hp)
    slow = {k: v.clone() for k, v in params.items()}
    return _loop(
        params,
        lambda g: _torch_step(opt, params, g, lookahead, slow),
        lambda p: {k: v.detach().numpy().copy() for k, v in p.items()},
    )


def _torch_step(opt, params, grads, lookahead, slow):
    import torch

    for k, p in params.items():
        p.grad = torch.tensor(grads[k])
    opt.step()
    if lookahead is None:
        return
    k_sync, alpha = lookahead
    _torch_step.count = getattr(_torch_step, "count", 0) + 1
    if _torch_step.count % k_sync == 0:
        with torch.no_grad():
            for k, p in params.items():
                slow[k] += alpha * (p - slow[k])
                p.copy_(slow[k])


def _loop(params, step, to_numpy):
    noise = problem.noise()
    traj = {k: [v] for k, v in to_numpy(params).items()}
    for t in range(problem.STEPS):
        current = to_numpy(params)
        g = problem.grad(current, {k: v[t] for k, v in noise.items()})
        step(g)
        for k, v in to_numpy(params).items():
            traj[k].append(v)
    return {k: np.stack(v) for k, v in traj.items()}


def optax_rule(name: str, hp: dict):
    import optax

    lr = hp.get("lr")
    b1, b2 = hp.get("betas", (None, None))
    if name == "Lion":
        return optax.lion(
            lr, b1 or 0.9, b2 or 0.99, weight_decay=hp.get("weight_decay", 0.0)
        )
    if name == "Adafactor":
        return optax.adafactor(
            lr,
            min_dim_size_to_factor=hp.get("min_dim_size_to_factor", 128),
            decay_rate=hp.get("decay_rate", 0.8),
            clipping_threshold=hp.get("clip_threshold", 1.0),
            multiply_by_parameter_scale=hp.get("multiply_by_parameter_scale", True),
            momentum=hp.get("momentum"),
            weight_decay_rate=hp.get("weight_decay") or None,
            factored=hp.get("factored", True),
        )
    if name == "Lamb":
        return optax.lamb(lr, b1 or 0.9, b2 or 0.999, hp.get("eps", 1e-6),
                          weight_decay=hp.get("weight_decay", 0.0))  # fmt: skip
    if name == "Lars":
        return optax.lars(lr, weight_decay=hp.get("weight_decay", 0.0),
                          trust_coefficient=hp.get("trust_coefficient", 1e-3),
                          eps=hp.get("eps", 0.0), momentum=hp.get("momentum", 0.9),
                          nesterov=hp.get("nesterov", False))  # fmt: skip
    if name == "SM3":
        return _sm3_scalars_as_vectors(optax.sm3(lr, momentum=hp.get("momentum", 0.9)))
    if name == "Yogi":
        return optax.yogi(lr, b1 or 0.9, b2 or 0.999, hp.get("eps", 1e-3))
    if name == "AdaBelief":
        if hp.get("weight_decay"):
            return None  # optax's adabelief has no decay: pytorch-optimizer decides
        return optax.adabelief(lr, b1 or 0.9, b2 or 0.999)
    if name == "Novograd":
        return optax.novograd(lr, b1 or 0.9, b2 or 0.25, hp.get("eps", 1e-6),
                              weight_decay=hp.get("weight_decay", 0.0))  # fmt: skip
    raise KeyError(name)


def _sm3_scalars_as_vectors(tx):
    """optax's SM3 with each 0-d leaf given to it as a one-element vector: the
    issue's definition of SM3 on a scalar (optax's own rule fails on one)."""
    import optax

    def vec(tree):
        return {k: v.reshape(1) if v.ndim == 0 else v for k, v in tree.items()}

    def update(updates, state, params):
        new, state = tx.update(vec(updates), state, vec(params))
        return {k: new[k].reshape(updates[k].shape) for k in updates}, state

    return optax.GradientTransformation(lambda p: tx.init(vec(p)), update)


def run_optax(tx) -> dict[str, np.ndarray]:
    import jax
    import jax.numpy as jnp
    import optax

    params = {k: jnp.asarray(v) for k, v in problem.initial_params().items()}
    state = tx.init(params)
    box = {"p": params, "s": state}

    @jax.jit
    def apply(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    def step(g):
        box["p"], box["s"] = apply(box["p"], box["s"], g)

    return _loop(box, step, lambda b: {k: np.asarray(v) for k, v in b["p"].items()})


def run_pytorch_optimizer(name: str, hp: dict) -> dict[str, np.ndarray] | None:
    import pytorch_optimizer as po
    import torch

    params = {k: torch.tensor(v) for k, v in problem.initial_params().items()}
    hp = dict(hp)
    if name == "Lion":
        opt = po.Lion(list(params.values()), lr=hp["lr"],
                      betas=hp.get("betas", (0.9, 0.99)),
                      weight_decay=hp.get("weight_decay", 0.0))  # fmt: skip
    elif name == "AdaBelief":
        opt = po.AdaBelief(list(params.values()), lr=hp["lr"],
                           betas=hp.get("betas", (0.9, 0.999)),
                           weight_decay=hp.get("weight_decay", 0.0),
                           weight_decouple=True, eps=1e-16)  # fmt: skip
    else:
        return None
    return _loop(
        params,
        lambda g: _torch_step(opt, params, g, None, None),
        lambda p: {k: v.detach().numpy().copy() for k, v in p.items()},
    )


def lbfgs_iterations() -> dict[str, int]:
    """Iterations torch's strong-Wolfe L-BFGS needs to reach each tolerance."""
    from problems_lbfgs import PROBLEMS

    return {key: _torch_lbfgs(*problem) for key, problem in PROBLEMS.items()}


def _torch_lbfgs(loss_fn, x0, tol, limit=2000) -> int:
    import torch

    x = torch.tensor(np.asarray(x0, np.float32), requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, max_eval=25, history_size=10,
                            line_search_fn="strong_wolfe",
                            tolerance_grad=0.0, tolerance_change=0.0)  # fmt: skip

    def closure():
        opt.zero_grad()
        loss = loss_fn(x, torch)
        loss.backward()
        return loss

    for it in range(1, limit + 1):
        opt.step(closure)
        at = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_fn(at, torch), at)
        if float(g.abs().max()) < tol:
            return it
    raise RuntimeError(f"torch's L-BFGS did not converge in {limit} iterations")


def main() -> None:
    sys.path.insert(0, str(HERE))
    from brainoptim.registry import REGISTRY

    arrays, cases = {}, []
    for spec in REGISTRY.values():
        for i, hp in enumerate(spec.settings):
            if spec.name in TORCH or spec.name == "Lookahead":
                traj, ref = run_torch(spec.name, hp), f"torch.optim.{spec.name}"
                if spec.name == "Lookahead":
                    _torch_step.count = 0
                    traj = run_torch(spec.name, hp)
                    ref = "paper rule over torch.optim.SGD"
            else:
                tx = optax_rule(spec.name, hp)
                second = run_pytorch_optimizer(spec.name, hp)
                if tx is None:
                    traj, ref = second, f"pytorch_optimizer.{spec.name}"
                else:
                    traj, ref = run_optax(tx), f"optax.{spec.name.lower()}"
                    if second is not None:
                        for k in traj:
                            np.testing.assert_allclose(
                                second[k], traj[k], rtol=1e-5, atol=1e-6,
                                err_msg=f"optax and pytorch_optimizer disagree: "
                                f"{spec.name} {hp}",
                            )  # fmt: skip
                        ref += " (pytorch_optimizer agrees)"
            for k, v in traj.items():
                arrays[f"{spec.name}/{i}/{k}"] = v
            cases.append({"name": spec.name, "index": i, "hparams": hp,
                          "reference": ref})  # fmt: skip
    np.savez_compressed(HERE / "trajectories.npz", **arrays)
    meta = {"cases": cases, "lbfgs_iterations": lbfgs_iterations()}
    (HERE / "cases.json").write_text(json.dumps(meta, indent=1, default=list) + "\n")


if __name__ == "__main__":
    main()
