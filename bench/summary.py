"""Tables of each benchmark's results, and the markdown summary built from them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import common

SUMMARY = Path(__file__).parent / "RESULTS.md"

Table = tuple[str, list[str], list[list]]


def _f(x, digits=3):
    return "" if x is None else f"{x:.{digits}g}"


def _x(x):
    return "" if x is None else f"{x:.2f}x"


def _ms(entry):
    return "-" if "median_s" not in entry else f"{entry['median_s'] * 1e3:.3g}"


# -- step time -----------------------------------------------------------------


def step_time_tables(res) -> list[Table]:
    out = []
    columns = res["columns"]
    for size, entry in res["sizes"].items():
        rows = []
        for name, o in entry["opt"].items():
            imp = o["impls"]
            bo = imp.get("brainoptim+donate", {})
            rows.append(
                [name, o["bytes_per_param"]]
                + [_ms(imp.get(c, {})) for c in columns]
                + [_x(bo.get("x_floor")), _x(bo.get("x_optax_donate"))]
            )
        title = (
            f"Step time (ms, median) at {size} = {entry['n_params'] / 1e6:.2f}M params "
            f"in {entry['leaves']} leaves"
        )
        out.append(
            (
                title,
                ["optimizer", "B/param", *columns, "bo+d/floor", "bo+d/optax+d"],
                rows,
            )
        )
    adam = _adam_rows(res)
    if adam:
        out.append(("Adam: every implementation, ratio to the floor", *adam))
    return out


def _adam_rows(res):
    rows = []
    sizes = [s for s, e in res["sizes"].items() if "Adam" in e["opt"]]
    if not sizes:
        return None
    labels = list(res["sizes"][sizes[0]]["opt"]["Adam"]["impls"])
    for label in labels:
        row = [label]
        for s in sizes:
            e = res["sizes"][s]["opt"]["Adam"]["impls"].get(label, {})
            row += [_ms(e), _x(e.get("x_floor"))]
        rows.append(row)
    cols = ["implementation"]
    for s in sizes:
        cols += [f"{s} ms", f"{s} /floor"]
    return cols, rows


# -- compile time ----------------------------------------------------------------


def compile_tables(res) -> list[Table]:
    rows = []
    for name, by in res["opt"].items():
        for jit, m in by.items():
            rows.append(
                [
                    name,
                    jit,
                    _f(m["compile_s"]),
                    _f(m["steady_step_s"] * 1e3),
                    m["python_traces"],
                    m["xla_executables"],
                    " -> ".join(f"{lr:.3g}" for lr in m["lrs_applied"]),
                ]
            )
    rows.append(["Adam (raw optax)", "jax.jit", _f(res["optax_adam"]["compile_s"]),
                 "", "", "", ""])  # fmt: skip
    cols = ["optimizer", "jit", "compile s", "step ms", "traces", "executables",
            "lr over 4 steps"]  # fmt: skip
    return [(f"Compile time of a train step, {res['model']}", cols, rows)]


# -- memory --------------------------------------------------------------------


def memory_tables(res) -> list[Table]:
    mib = 2**20
    rows = []
    pb = res["param_bytes"]
    for name, by in res["state_bytes"].items():
        rows.append(
            [name]
            + [
                "" if by.get(k) is None else f"{by[k] / mib:.2f} ({by[k] / pb:.2f}x)"
                for k in ("brainoptim", "optax", "braintools", "torch")
            ]
        )
    out = [
        (
            f"Optimizer state, MiB (x parameters = {pb / mib:.2f} MiB), {res['model']}",
            ["optimizer", "brainoptim", "optax", "braintools", "torch"],
            rows,
        )
    ]
    rows = []
    for name, by in res["peak"].items():
        for which in ("brainoptim", "brainoptim+donate", "braintools"):
            m = by.get(which)
            if m is None:
                rows.append([name, which, "n/a", "", "", "", "", ""])
                continue
            rows.append(
                [
                    name,
                    which,
                    f"{m['peak'] / mib:.1f}",
                    f"{m['arguments'] / mib:.1f}",
                    f"{m['outputs'] / mib:.1f}",
                    f"{m['aliased'] / mib:.1f}",
                    f"{m['temporaries'] / mib:.1f}",
                    f"{by['bound'] / mib:.1f}",
                ]
            )
    g = res["gradient_only"]
    out.append(
        (
            "Peak memory of the compiled train step, MiB (XLA memory analysis); "
            f"gradient computation alone: outputs {g['outputs'] / mib:.1f}, "
            f"temporaries {g['temporaries'] / mib:.1f}",
            [
                "optimizer",
                "step",
                "peak",
                "args",
                "outputs",
                "aliased",
                "temps",
                "bound",
            ],  # fmt: skip
            rows,
        )
    )
    return out


# -- L-BFGS --------------------------------------------------------------------


def lbfgs_tables(res) -> list[Table]:
    rows = []
    for name, p in res["problems"].items():
        for solver in ("brainoptim", "torch", "scipy"):
            r = p[solver]
            rows.append(
                [
                    name,
                    solver,
                    r["iterations"],
                    r["evaluations"],
                    "yes" if r["converged"] else "no",
                    f"{r['loss']:.6g}",
                ]
            )
    cols = ["problem", "solver", "iterations", "evaluations", "converged", "loss"]
    return [("L-BFGS to max|grad| <= tol (Rosenbrock 1e-4, logistic 1e-5)", cols,
             rows)]  # fmt: skip


# -- per leaf ------------------------------------------------------------------


def per_leaf_tables(res) -> list[Table]:
    keys = list(res["train_step_s"])
    keys += [k for k in res["optimizer_step_s"] if k not in keys]
    rows = [
        [
            k,
            _f(res["train_step_s"].get(k, 0) * 1e3) if k in res["train_step_s"] else "",
            _f(res["optimizer_step_s"][k] * 1e3)
            if k in res["optimizer_step_s"]
            else "",
        ]
        for k in keys
    ]
    o = res["brainstate_overhead_s"]
    rows2 = [[k, _f(v * 1e3) if isinstance(v, float) else v] for k, v in o.items()]
    return [
        (f"Per-leaf overhead: {res['model']}", ["implementation", "train step ms",
                                                "optimizer step ms"], rows),
        ("brainstate.transform.jit per-call Python work (ms)", ["part", "value"],
         rows2),
    ]  # fmt: skip


# -- the markdown ----------------------------------------------------------------


def _md(table: Table) -> str:
    title, cols, rows = table
    lines = [f"**{title}**", ""] if title else []
    lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join("" if v is None else str(v) for v in r) + " |")
    return "\n".join(lines) + "\n"


def _load(name):
    path = common.RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def targets(results: dict) -> list[list[str]]:
    """Each target of the benchmark issue, with the measured value and verdict."""
    rows = []
    st = results.get("step_time")
    if st and "3M" in st["sizes"]:
        e = st["sizes"]["3M"]["opt"]
        adam = e.get("Adam", {}).get("impls", {})
        for label in ("brainoptim+donate", "brainoptim"):
            x = adam.get(label, {}).get("x_floor")
            if x is not None:
                rows.append([f"Adam 3M, {label} / same-bytes floor <= 1.1", _x(x),
                             _ok(x <= 1.1)])  # fmt: skip
        worst, worst_name = 0.0, ""
        for name, o in e.items():
            x = o["impls"].get("brainoptim+donate", {}).get("x_optax_donate")
            if x is not None and x > worst:
                worst, worst_name = x, name
        if worst_name:
            slow = [
                f"{n} {o['impls']['brainoptim+donate']['x_optax_donate']:.2f}x"
                for n, o in e.items()
                if (o["impls"].get("brainoptim+donate", {}).get("x_optax_donate") or 0)
                > 1.1
            ]
            rows.append(["every optimizer, brainoptim+donate / optax+donate <= 1.1 "
                         "(3M)", f"worst {worst_name} {worst:.2f}x; over: "
                         + (", ".join(slow) or "none"), _ok(worst <= 1.1)])  # fmt: skip
        ratios = []
        for name, o in e.items():
            a = o["impls"].get("brainoptim+donate", {}).get("median_s")
            b = o["impls"].get("braintools", {}).get("median_s")
            if a and b:
                ratios.append((b / a, name))
        if ratios:
            low = min(ratios)
            rows.append(["braintools / brainoptim+donate >= 2.5 (3M)",
                         f"min {low[1]} {low[0]:.2f}x, median "
                         f"{sorted(r for r, _ in ratios)[len(ratios) // 2]:.2f}x",
                         _ok(low[0] >= 2.5)])  # fmt: skip
        fused = adam.get("torch fused", {}).get("median_s")
        mine = adam.get("brainoptim+donate", {}).get("median_s")
        if fused and mine:
            rows.append(["Adam 3M, brainoptim+donate no slower than torch fused",
                         f"{mine * 1e3:.3g} vs {fused * 1e3:.3g} ms",
                         _ok(mine <= fused)])  # fmt: skip
    mem = results.get("memory")
    if mem:
        for name, by in mem["peak"].items():
            d = by["brainoptim+donate"]
            rows.append([f"{name}: donated peak <= params+grads+state+activations",
                         f"{d['peak'] / 2**20:.1f} vs {by['bound'] / 2**20:.1f} MiB",
                         _ok(by["donated_within_bound"])])  # fmt: skip
    lb = results.get("lbfgs")
    if lb:
        for name, p in lb["problems"].items():
            a, b = p["brainoptim"]["iterations"], p["torch"]["iterations"]
            rows.append([f"L-BFGS {name}: iterations <= torch", f"{a} vs {b}",
                         _ok(a <= b and p["brainoptim"]["converged"])])  # fmt: skip
    return rows


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def write(elapsed: float | None = None, quick: bool = False) -> Path:
    parts = {
        "step_time": step_time_tables,
        "compile_time": compile_tables,
        "memory": memory_tables,
        "lbfgs": lbfgs_tables,
        "per_leaf": per_leaf_tables,
    }
    results = {name: _load(name) for name in parts}
    meta = next((r["machine"] for r in results.values() if r), common.machine())
    v = meta["versions"]
    lines = [
        "# brainoptim benchmarks",
        "",
        "Written by `make bench` (`python bench/run.py`) from the JSON files in "
        "`bench/results/`; do not edit by hand. Method, findings and what limits "
        "each number: [bench/README.md](README.md).",
        "",
        f"- Machine: {meta['cpu']}, {meta['cores']} cores, "
        f"{meta['memory_gib']} GiB, {meta['backend']} backend; 1-min load average "
        f"at start {meta['load_average_1min_at_start']} (a shared machine: compare "
        "ratios within one table, not absolute times across runs).",
        f"- Versions: python {meta['python']}, "
        + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- torch threads: {meta.get('torch_threads')}; run took "
        f"{'' if elapsed is None else f'{elapsed:.0f} s'}"
        f"{' (quick run)' if quick else ''}; written "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "## Targets",
        "",
        _md(("", ["target", "measured", "verdict"], targets(results))),
    ]
    names = {
        "step_time": "1. Step time",
        "compile_time": "2. Compile time and recompilation",
        "memory": "3. Memory",
        "lbfgs": "4. L-BFGS",
        "per_leaf": "5. Per-leaf overhead",
    }
    for name, tables in parts.items():
        if results[name] is None:
            continue
        lines += [f"## {names[name]}", ""]
        for t in tables(results[name]):
            lines += [_md(t), ""]
    quick_dir = common.RESULTS.name != "results"
    path = common.RESULTS / "RESULTS.md" if quick_dir else SUMMARY
    path.write_text("\n".join(lines))
    return path
