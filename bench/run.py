"""Runs brainoptim's benchmarks and writes results/*.json and RESULTS.md.

    python bench/run.py            # the full run (`make bench`), about 10 minutes
    python bench/run.py --quick    # a smoke run on small sizes, about a minute
    python bench/run.py --only step_time,lbfgs

Each part prints a rich table, writes ``bench/results/<part>.json``, and the
summary ``bench/RESULTS.md`` is rebuilt from whatever JSON files exist.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402

PARTS = ("step_time", "compile_time", "memory", "lbfgs", "per_leaf")

#: Optimizers timed at every size in the default run; the rest at 3M only.
EVERY_SIZE = ("Adam", "SGD", "Lion", "Adafactor")
QUICK = ("Adam", "SGD", "Lion")


def _torch_threads(log) -> int:
    """torch's thread count: whichever of 1 and all cores runs fused Adam faster
    here (on a loaded 2-core machine, one thread avoids spinning barriers)."""
    try:
        import torch
    except ImportError:
        return 0
    import impls

    shapes = common.SIZES["3M"]()
    params = common.random_tree(shapes, 0, 0.02)
    grads = common.random_tree(shapes, 1, 1e-3)
    best = {}
    for n in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(n)
        step = impls.make_torch("Adam", params, grads, "fused")
        best[n] = common.interleave({"t": step.run}, budget_s=0.5)["t"].median
    n = min(best, key=best.get)
    torch.set_num_threads(n)
    log(f"  torch threads: {n} (fused Adam at 3M: {best})")
    return n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--only", default=",".join(PARTS), help="parts to run")
    parser.add_argument(
        "--all-sizes",
        action="store_true",
        help="time every optimizer at every size (about 3x longer)",
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")

    def log(msg):
        print(msg, flush=True)

    if args.quick:
        common.RESULTS = common.RESULTS / "quick"
    import summary

    start = time.perf_counter()
    meta = common.machine()
    meta["quick"] = args.quick
    load = meta["load_average_1min_at_start"]
    log(f"machine: {meta['cpu']}, {meta['cores']} cores, load {load}")
    meta["torch_threads"] = _torch_threads(log)

    if "step_time" in parts:
        import step_time

        names = step_time.optimizers()
        if args.quick:
            sizes = {"1M": list(QUICK)}
            budget = {"1M": 0.5}
        else:
            every = names if args.all_sizes else [n for n in names if n in EVERY_SIZE]
            sizes = {"1M": every, "3M": names, "30M": every}
            budget = {"1M": 1.5, "3M": 3.0, "30M": 5.0}
        res = {"sizes": {}}
        for size, which in sizes.items():
            part = step_time.run([size], which, budget, log=log)
            res["sizes"].update(part["sizes"])
            res["columns"] = part["columns"]
        _finish("step_time", res, meta, summary.step_time_tables)

    if "compile_time" in parts:
        import compile_time

        from brainoptim import registry

        names = list(QUICK) if args.quick else list(registry.REGISTRY)
        d, ff = (128, 512) if args.quick else (512, 2048)
        res = compile_time.run(names, d, ff, log=log)
        _finish("compile_time", res, meta, summary.compile_tables)

    if "memory" in parts:
        import memory

        from brainoptim import registry

        state_names = list(QUICK) if args.quick else list(registry.REGISTRY)
        peak_names = ["Adam"] if args.quick else ["Adam", "SGD", "Lion", "Adafactor"]
        d, ff = (128, 512) if args.quick else (512, 2048)
        res = memory.run(state_names, peak_names, d, ff, log=log)
        _finish("memory", res, meta, summary.memory_tables)

    if "lbfgs" in parts:
        import lbfgs

        _finish("lbfgs", lbfgs.run(log=log), meta, summary.lbfgs_tables)

    if "per_leaf" in parts:
        import per_leaf

        res = per_leaf.run(budget_s=1.0 if args.quick else 6.0, log=log)
        _finish("per_leaf", res, meta, summary.per_leaf_tables)

    elapsed = time.perf_counter() - start
    path = summary.write(elapsed=elapsed, quick=args.quick)
    log(f"done in {elapsed:.0f} s; summary: {path}")
    return 0


def _finish(name, result, meta, tables) -> None:
    result = {"machine": meta, **result}
    path = common.save(name, result)
    for title, columns, rows in tables(result):
        common.print_table(title, columns, rows)
    print(f"  wrote {path}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
