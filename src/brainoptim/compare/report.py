"""Writing a comparison's results: ``results.json``, ``report.md`` and figures.

Figures are drawn on ``matplotlib.figure.Figure`` objects directly, so no pyplot
backend or global state is touched.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "write_results",
    "write_json",
    "write_markdown",
    "model_figure",
    "batch_figure",
    "noise_figure",
    "memory_figure",
    "rolling_variance",
    "MODEL_TITLES",
]

MODEL_TITLES = {
    "cnn": "CNN",
    "transformer": "Transformer",
    "rnn": "Recurrent (GRU)",
    "mlp": "MLP",
}

_KIB = 1024.0
_ADVERB = {"linear": "linearly", "sqrt": "by the square root"}


def _color_map(labels: Sequence[str]) -> dict[str, Any]:
    import matplotlib

    # tab20's saturated colours first, then their light partners.
    cmap = matplotlib.colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    ordered = list(dict.fromkeys(labels))
    return {label: cmap(order[i % 20]) for i, label in enumerate(ordered)}


def _nan(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def rolling_variance(values: Sequence[float | None], window: int) -> np.ndarray:
    """The variance of each window of ``window`` consecutive values.

    Entry ``i`` is the (population) variance of ``values[i : i + window]``; the
    result has ``len(values) - window + 1`` entries, none if the series is shorter
    than the window.
    """
    x = _nan(values)
    window = max(2, int(window))
    if len(x) < window:
        return np.array([])
    windows = np.lib.stride_tricks.sliding_window_view(x, window)
    return windows.var(axis=1)


# -- figures -------------------------------------------------------------------


def _bar(ax, labels, values, colors, fmt, xlabel, title):
    y = np.arange(len(labels))
    vals = _nan(values)
    ax.barh(y, np.nan_to_num(vals), color=[colors[k] for k in labels])
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    top = np.nanmax(vals) if np.any(np.isfinite(vals)) else 1.0
    for yi, v in zip(y, vals, strict=True):
        text = "diverged" if not np.isfinite(v) else fmt(v)
        ax.text(
            (0 if not np.isfinite(v) else v) + 0.01 * top,
            yi,
            text,
            va="center",
            fontsize=6,
        )
    ax.set_xlim(0, top * 1.3 if top > 0 else 1.0)


def model_figure(model: str, runs: list[dict], colors: dict) -> Figure:
    """The tutorial's 3x3 panel for one model, with measured memory.

    Panels: training loss, validation loss, validation accuracy, convergence ratio
    (validation loss over its value before training), time per epoch, final
    validation loss, rolling variance of the mini-batch loss, optimizer-state and
    peak train-step memory, test accuracy.
    """
    fig = Figure(figsize=(15, 13), layout="constrained")
    axes = fig.subplots(3, 3)
    labels = [r["label"] for r in runs]
    for r in runs:
        h = r["history"]
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        c = colors[r["label"]]
        style = "--" if r.get("switch_to") else "-"
        kw = dict(color=c, ls=style, lw=1.5, label=r["label"])
        axes[0, 0].plot(epochs, _nan(h["train_loss"]), **kw)
        axes[0, 1].plot(epochs, _nan(h["val_loss"]), **kw)
        axes[0, 2].plot(epochs, 100 * np.array(h["val_acc"]), **kw)
        init = r["initial_val_loss"] or np.nan
        axes[1, 0].plot(epochs, _nan(h["val_loss"]) / init, **kw)
        axes[1, 1].plot(epochs, np.array(h["epoch_time"]) * 1e3, **kw)
        window = max(2, int(r["measure"]["steps"] // r["epochs"]))
        var = rolling_variance(h["step_loss"], window)
        if len(var):
            x = (np.arange(len(var)) + window) * r["epochs"] / len(h["step_loss"])
            axes[2, 0].plot(x, var, **kw)

    titles = [
        (axes[0, 0], "Training loss", "loss (cross-entropy)"),
        (axes[0, 1], "Validation loss", "loss (cross-entropy)"),
        (axes[0, 2], "Validation accuracy", "accuracy (%)"),
        (axes[1, 0], "Convergence ratio", "val loss / val loss at start"),
        (axes[1, 1], "Time per epoch (compilation excluded)", "time (ms)"),
        (axes[2, 0], "Rolling variance of mini-batch loss", "variance"),
    ]
    for ax, title, ylabel in titles:
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax, floor in (
        (axes[0, 0], 1e-6),
        (axes[0, 1], None),
        (axes[1, 0], None),
        (axes[2, 0], 1e-8),
        (axes[1, 1], None),
    ):
        if ax.has_data():
            ax.set_yscale("log")
            if floor is not None and ax.get_ylim()[0] < floor:
                # A run that drives the loss to ~0 would flatten every other curve.
                ax.set_ylim(bottom=floor)
    for ax, _, _ in titles:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    _bar(
        axes[1, 2],
        labels,
        [r["final_val_loss"] for r in runs],
        colors,
        lambda v: f"{v:.3f}",
        "validation loss",
        "Final validation loss",
    )
    _memory_panel(axes[2, 1], runs, labels)
    _bar(
        axes[2, 2],
        labels,
        [100 * r["test_acc"] for r in runs],
        colors,
        lambda v: f"{v:.1f}%",
        "accuracy (%)",
        "Test accuracy",
    )
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="outside lower center",
        ncol=min(6, len(names)),
        fontsize=9,
        frameon=False,
    )
    fig.suptitle(f"{MODEL_TITLES.get(model, model)}: optimizer comparison", size=15)
    return fig


def _memory_panel(ax, runs, labels, unit=_KIB, unit_name="KiB"):
    y = np.arange(len(labels))
    state = np.array([r["measure"]["state_bytes"] for r in runs]) / unit
    peak = np.array(
        [r["measure"].get("memory", {}).get("peak_bytes", np.nan) for r in runs],
        dtype=float,
    )
    peak = peak / unit
    params = runs[0]["measure"]["param_bytes"] / unit if runs else 0
    ax.barh(y - 0.2, state, 0.4, color="tab:blue", label="optimizer state")
    ax.barh(y + 0.2, peak, 0.4, color="tab:orange", label="train-step peak (XLA)")
    ax.axvline(params, color="k", ls=":", lw=1, label="parameters")
    both = np.concatenate([state, peak, [params]])
    top = float(np.nanmax(both))
    positive = both[np.isfinite(both) & (both > 0)]
    low = float(positive.min()) if len(positive) else 1.0
    log = top / low > 30
    for yi, s, p in zip(y, state, peak, strict=True):
        for v, dy, fmt in ((s, -0.2, "{:,.1f}"), (p, 0.2, "{:,.0f}")):
            if np.isfinite(v) and v > 0:
                x = v * 1.05 if log else v + 0.01 * top
                ax.text(x, yi + dy, fmt.format(v), va="center", fontsize=6)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    if log:
        # Sizes span orders of magnitude (L-BFGS's history, SGD's empty state).
        ax.set_xscale("log")
        ax.set_xlim(low / 2, top * 4)
    else:
        ax.set_xlim(0, top * 1.25)
    ax.set_xlabel(f"measured memory ({unit_name}{', log scale' if log else ''})")
    ax.set_title("Memory (measured)")
    ax.legend(
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=3,
        frameon=False,
    )


def batch_figure(block: dict, colors: dict) -> Figure:
    """Large-batch scaling: final training loss and epoch time against batch size."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    ax_loss, ax_time = fig.subplots(1, 2)
    by_opt: dict[str, list[dict]] = {}
    for r in block["runs"]:
        by_opt.setdefault(r["label"].rsplit(" bs=", 1)[0], []).append(r)
    for label, runs in by_opt.items():
        runs = sorted(runs, key=lambda r: r["batch_size"])
        bs = [r["batch_size"] for r in runs]
        kw = dict(marker="o", color=colors.get(label), label=label)
        ax_loss.plot(bs, _nan([r["final_train_loss"] for r in runs]), **kw)
        ax_time.plot(
            bs, [1e3 * float(np.mean(r["history"]["epoch_time"])) for r in runs], **kw
        )
    sizes = sorted({r["batch_size"] for r in block["runs"]})
    for ax, title, ylabel in (
        (ax_loss, "Final training loss", "loss (cross-entropy)"),
        (ax_time, "Mean time per epoch", "time (ms)"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    ax_loss.legend(fontsize=8, ncol=2)
    fig.suptitle(
        f"Large-batch scaling on the {MODEL_TITLES.get(block['model'])} "
        f"(lr scaled {_ADVERB[block['lr_scaling']]} with batch size / "
        f"{block['base_batch_size']})"
    )
    return fig


def noise_figure(clean: list[dict], block: dict) -> Figure:
    """Robustness to gradient noise: final loss and test accuracy, clean vs noisy."""
    noisy = {(r["model"], r["label"].rsplit(" σ=", 1)[0]): r for r in block["runs"]}
    pairs = [
        (c, noisy[(c["model"], c["label"])])
        for c in clean
        if (c["model"], c["label"]) in noisy
    ]
    names = [
        f"{MODEL_TITLES.get(c['model'], c['model'])} / {c['label']}" for c, _ in pairs
    ]
    fig = Figure(figsize=(13, 0.32 * len(names) + 2), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))
    sigma = block["sigma"]
    for ax, key, scale, title in (
        (ax_loss, "final_val_loss", 1.0, "Final validation loss"),
        (ax_acc, "test_acc", 100.0, "Test accuracy (%)"),
    ):
        a = _nan([c[key] for c, _ in pairs]) * scale
        b = _nan([n[key] for _, n in pairs]) * scale
        ax.barh(y - 0.2, np.nan_to_num(a), 0.4, color="tab:blue", label="no noise")
        ax.barh(y + 0.2, np.nan_to_num(b), 0.4, color="tab:red", label=f"σ = {sigma:g}")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    ax_loss.set_yticks(y, names, fontsize=7)
    ax_loss.invert_yaxis()
    ax_loss.set_xlabel("loss (cross-entropy)")
    ax_acc.set_xlabel("accuracy (%)")
    ax_loss.legend(fontsize=8)
    fig.suptitle(f"Robustness to Gaussian gradient noise (σ = {sigma:g})")
    return fig


def memory_figure(block: dict) -> Figure:
    """The memory experiment: optimizer state and peak step memory per optimizer."""
    runs = block["runs"]
    labels = [r["label"] for r in runs]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    _memory_panel(ax, runs, labels, unit=_KIB * _KIB, unit_name="MiB")
    n = runs[0]["measure"]["n_params"] if runs else 0
    ax.set_title(f"Large MLP ({n:,} parameters): measured memory")
    return fig


# -- markdown ------------------------------------------------------------------

# (header, key function, "min" or "max", format)
_COLUMNS: list[tuple[str, Callable[[dict], Any], str, str]] = [
    ("final train loss", lambda r: r["final_train_loss"], "min", "{:.4f}"),
    ("final val loss", lambda r: r["final_val_loss"], "min", "{:.4f}"),
    ("val acc (%)", lambda r: _pct(r["final_val_acc"]), "max", "{:.1f}"),
    ("test acc (%)", lambda r: _pct(r["test_acc"]), "max", "{:.1f}"),
    (
        "epoch time (ms)",
        lambda r: 1e3 * float(np.mean(r["history"]["epoch_time"])),
        "min",
        "{:.1f}",
    ),
    (
        "step time (ms)",
        lambda r: _scale(r["measure"]["step_time_median"], 1e3),
        "min",
        "{:.2f}",
    ),
    ("compile (s)", lambda r: r["measure"]["compile_time"], "min", "{:.2f}"),
    ("state (KiB)", lambda r: r["measure"]["state_bytes"] / _KIB, "min", "{:,.1f}"),
    ("state / params", lambda r: r["measure"]["state_to_param_ratio"], "min", "{:.2f}"),
    (
        "step peak (KiB)",
        lambda r: _scale(r["measure"].get("memory", {}).get("peak_bytes"), 1 / _KIB),
        "min",
        "{:,.0f}",
    ),
]


def _pct(v):
    return None if v is None else 100.0 * v


def _scale(v, s):
    return None if v is None else v * s


def _table(runs: list[dict]) -> list[str]:
    values = [[key(r) for _, key, _, _ in _COLUMNS] for r in runs]
    best = []
    for j, (_, _, sense, fmt) in enumerate(_COLUMNS):
        col = [
            float(fmt.format(v).replace(",", ""))
            for v in (row[j] for row in values)
            if v is not None and math.isfinite(v)
        ]
        best.append(None if not col else (min(col) if sense == "min" else max(col)))
    head = ["optimizer", *(c[0] for c in _COLUMNS)]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join([":--"] + ["--:"] * len(_COLUMNS)) + "|",
    ]
    for r, row in zip(runs, values, strict=True):
        cells = [r["label"]]
        for j, (_, _, _, fmt) in enumerate(_COLUMNS):
            v = row[j]
            if v is None or not math.isfinite(v):
                cells.append("n/a" if v is None else "diverged")
                continue
            text = fmt.format(v)
            is_best = best[j] is not None and float(text.replace(",", "")) == best[j]
            cells.append(f"**{text}**" if is_best else text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_MEMORY_NOTE = """\
**What the columns mean.** *state* is the exact size of the optimizer's state: the
bytes of every array in it (moments, step counters, slow weights, L-BFGS history),
and *state / params* its ratio to the parameters' bytes. *step peak* is the memory
XLA's `memory_analysis()` reports for the compiled train step: argument + output +
temporary buffers − aliased buffers. Arguments are the parameters, the optimizer
state, the learning rate and one mini-batch; outputs are their new values. It is the
memory the step's buffers occupy at once on this backend, not the process's resident
memory. *step time* is the median wall time of one compiled train step (dispatch
and `block_until_ready` included); *compile* is the first call's time minus that
median; *epoch time* sums the epoch's steps, compilation excluded, evaluation not
counted. Line-search optimizers (L-BFGS) train full-batch: each epoch is
{lbfgs_iters} iterations on the whole training set, each with its line search, so
their step and epoch times are not per mini-batch. The best value of each column is
in **bold**. A run that switches optimizer (`A→B@N`, dashed in the figures) shows
the memory of its first optimizer."""


def write_markdown(results: dict, figures: dict[str, str], path: str) -> None:
    """Writes ``report.md``: the setting, a table per model and the figures."""
    cfg = results["config"]
    lines = ["# brainoptim compare", ""]
    lines += [
        f"Command: `{' '.join(results['command'])}`  ",
        f"Date: {results['date']}; total time {results['duration_s']:.0f} s  ",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + "  ",
        f"Data: `{cfg['data']}`, {cfg['epochs']} epochs, batch size "
        f"{cfg['batch_size']}, seed {cfg['seed']}.",
        "",
    ]
    summaries = list(results["data"].items())
    if all(v == summaries[0][1] for _, v in summaries):
        summaries = [("every model", summaries[0][1])]
    for kind, summary in summaries:
        lines.append(
            f"- {MODEL_TITLES.get(kind, kind)} data: samples of shape "
            f"{tuple(summary['sample_shape'])}, {summary['n_classes']} classes, "
            f"{summary['n_train']} train / {summary['n_val']} validation / "
            f"{summary['n_test']} test"
        )
    if cfg["data"] == "synthetic":
        lines += [
            "",
            "The synthetic labels are random: validation and test accuracy can "
            "only be near chance.",
        ]
    lines += ["", _MEMORY_NOTE.format(lbfgs_iters=cfg["lbfgs_iters"]), ""]

    for kind in cfg["models"]:
        runs = [r for r in results["runs"] if r["model"] == kind]
        if not runs:
            continue
        n = runs[0]["measure"]["n_params"]
        lines += [f"## {MODEL_TITLES.get(kind, kind)} ({n:,} parameters)", ""]
        lines += _table(runs)
        if kind in figures:
            lines += ["", f"![{kind}]({figures[kind]})"]
        lines.append("")

    if results.get("batch_scaling"):
        block = results["batch_scaling"]
        lines += [
            "## Large-batch scaling",
            "",
            f"Model: {MODEL_TITLES.get(block['model'])}; lr scaled "
            f"{_ADVERB[block['lr_scaling']]} with batch size / "
            f"{block['base_batch_size']}. L-BFGS trains full-batch and is left out.",
            "",
        ]
        lines += _table(block["runs"])
        if "batch_scaling" in figures:
            lines += ["", f"![batch scaling]({figures['batch_scaling']})"]
        lines.append("")
    if results.get("grad_noise"):
        block = results["grad_noise"]
        lines += [
            "## Robustness to gradient noise",
            "",
            f"Gaussian noise of standard deviation {block['sigma']:g} added to every "
            "gradient entry.",
            "",
        ]
        lines += _table(block["runs"])
        if "grad_noise" in figures:
            lines += ["", f"![gradient noise]({figures['grad_noise']})"]
        lines.append("")
    if results.get("memory"):
        block = results["memory"]
        lines += ["## Memory on a larger model", ""]
        lines += _table(block["runs"])
        if "memory" in figures:
            lines += ["", f"![memory]({figures['memory']})"]
        lines.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def write_json(results: dict, path: str) -> None:
    """Writes ``results`` as JSON; non-finite numbers become ``null``."""

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    with open(path, "w", encoding="utf-8") as f:
        json.dump(clean(results), f, indent=1, allow_nan=False)


def write_results(results: dict, out_dir: str) -> dict[str, str]:
    """Writes ``results.json``, the figures and ``report.md`` into ``out_dir``.

    Returns:
        The path of every file written, keyed by ``results``, ``report`` and the
        figure names.
    """
    os.makedirs(out_dir, exist_ok=True)
    labels = [r["label"] for r in results["runs"]]
    colors = _color_map(labels)
    figures: dict[str, Figure] = {}
    for kind in results["config"]["models"]:
        runs = [r for r in results["runs"] if r["model"] == kind]
        if runs:
            figures[kind] = model_figure(kind, runs, colors)
    if results.get("batch_scaling") and results["batch_scaling"]["runs"]:
        figures["batch_scaling"] = batch_figure(results["batch_scaling"], colors)
    if results.get("grad_noise") and results["grad_noise"]["runs"]:
        figures["grad_noise"] = noise_figure(results["runs"], results["grad_noise"])
    if results.get("memory"):
        figures["memory"] = memory_figure(results["memory"])

    names = {}
    written = {}
    for key, fig in figures.items():
        name = f"{key}.png"
        fig.savefig(os.path.join(out_dir, name), dpi=110)
        names[key] = name
        written[key] = os.path.join(out_dir, name)
    written["results"] = os.path.join(out_dir, "results.json")
    write_json(results, written["results"])
    written["report"] = os.path.join(out_dir, "report.md")
    write_markdown(results, names, written["report"])
    return written
