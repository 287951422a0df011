"""Step time of every registry optimizer, against optax, braintools, torch and the
same-bytes elementwise floor, at several model sizes.

For each optimizer and size, every implementation is built, compiled and warmed up,
then timed round-robin (see :func:`common.interleave`); ratios are taken to the
floor kernel that moves the same bytes as the optimizer (``12 + 8k`` bytes per
parameter for ``k`` parameter-sized state arrays) and to raw optax with donation.
"""

from __future__ import annotations

import gc

import impls
from common import SIZES, interleave, n_params, random_tree

#: Implementations, in table order.
COLUMNS = (
    "floor",
    "optax",
    "optax+donate",
    "rule+donate",
    "brainoptim",
    "brainoptim+donate",
    "braintools",
    "torch foreach",
    "torch fused",
)

#: Extra rows that isolate one cost of the shell (Adam only).
ADAM_VARIANTS = {
    "brainoptim+donate, no finite check": dict(check=False),
    "brainoptim+donate, skip_nonfinite": dict(skip_nonfinite=True),
}


def optimizers() -> list[str]:
    """Every registry optimizer whose step needs only gradients."""
    return [n for n, s in impls.registry.REGISTRY.items() if not s.needs_value_fn]


def measure(name: str, params: dict, grads: dict, budget_s: float) -> dict:
    """Times every implementation of ``name`` on ``params``; one interleaved run."""
    steps = {
        "optax": impls.make_optax(name, params, grads, donate=False),
        "optax+donate": impls.make_optax(name, params, grads, donate=True),
        "rule+donate": impls.make_rule(name, params, grads),
        "brainoptim": impls.make_brainoptim(name, params, grads, donate=False),
        "brainoptim+donate": impls.make_brainoptim(name, params, grads, donate=True),
        "braintools": impls.make_braintools(name, params, grads),
        "torch foreach": impls.make_torch(name, params, grads, "foreach"),
        "torch fused": impls.make_torch(name, params, grads, "fused"),
    }
    if name == "Adam":
        for label, overrides in ADAM_VARIANTS.items():
            steps[label] = impls.make_brainoptim(
                name, params, grads, donate=True, **overrides
            )
    param_bytes = 4 * n_params_of(params)
    k = impls.state_arrays(steps["brainoptim"].nbytes_state, param_bytes)
    steps["floor"] = impls.make_floor(params, grads, k)
    runnable = {label: s.run for label, s in steps.items() if s.run is not None}
    timings = interleave(runnable, budget_s=budget_s)
    out = {
        "state_arrays": k,
        "bytes_per_param": 12 + 8 * k,
        "rounds": len(next(iter(timings.values())).times),
        "impls": {},
    }
    floor = timings["floor"].median
    ref = timings["optax+donate"].median if "optax+donate" in timings else None
    for label, step in steps.items():
        if label not in timings:
            out["impls"][label] = {"skipped": step.reason}
            continue
        t = timings[label]
        out["impls"][label] = {
            "median_s": t.median,
            "iqr_s": t.iqr,
            "x_floor": t.median / floor,
            "x_optax_donate": None if ref is None else t.median / ref,
            "state_bytes": step.nbytes_state,
        }
    del steps, runnable
    gc.collect()
    return out


def n_params_of(tree: dict) -> int:
    return int(sum(v.size for v in tree.values()))


def run(
    sizes: list[str], names: list[str], budget_s: dict[str, float], log=print
) -> dict:
    results: dict = {"sizes": {}, "columns": list(COLUMNS)}
    for size in sizes:
        shapes = SIZES[size]()
        params = random_tree(shapes, 0, 0.02)
        grads = random_tree(shapes, 1, 1e-3)
        entry = {"n_params": n_params(shapes), "leaves": len(shapes), "opt": {}}
        for name in names:
            log(f"  step time: {name} at {size}")
            entry["opt"][name] = measure(name, params, grads, budget_s[size])
        results["sizes"][size] = entry
    return results
