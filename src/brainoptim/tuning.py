"""Hyperparameter search for an optimizer: train briefly, score on validation loss.

:func:`tune` searches an optimizer's hyperparameters (the learning rate on a log
scale, weight decay, momentum, betas, ...) with a Nevergrad optimizer. Each
candidate trains the comparison's model for a few epochs with
:func:`brainoptim.compare.train_run` and is scored by its final validation loss;
the best hyperparameters are returned and, with ``out=``, written as JSON next to
a PNG plot of the search. :func:`add_tune_subparser` and :func:`run_tune` give the
``brainoptim tune`` command.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import inspect
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brainoptim.gradient_free import MinimizeResult, NevergradOptimizer

__all__ = [
    "Dimension",
    "TuneResult",
    "add_tune_subparser",
    "default_space",
    "parse_space",
    "run_tune",
    "tune",
]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"([A-Za-z_]\w*)(?:\[(\d+)\])?")
_LR_FACTOR = 30.0  # the default lr range is [lr / 30, lr * 30]


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter.

    Attributes:
        name: A constructor argument (``"lr"``) or one entry of a tuple argument
            (``"betas[1]"``).
        low: Smallest value, > 0 on a log scale.
        high: Largest value, > ``low``.
        log: Search ``log10`` of the value, uniformly.
    """

    name: str
    low: float
    high: float
    log: bool = False

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval Nevergrad searches (``log10`` of it on a log scale)."""
        if self.log:
            return math.log10(self.low), math.log10(self.high)
        return self.low, self.high

    def decode(self, coordinate: float) -> float:
        """The hyperparameter value at a search coordinate."""
        value = 10.0 ** float(coordinate) if self.log else float(coordinate)
        return min(max(value, self.low), self.high)

    def to_json(self) -> list[Any]:
        return [self.low, self.high, "log" if self.log else "linear"]


@dataclasses.dataclass
class TuneResult:
    """Outcome of :func:`tune`.

    Attributes:
        optimizer: The registry name of the tuned optimizer.
        best: The best hyperparameters as constructor arguments (tuple
            arguments whole), ready for ``registry.create(optimizer, **best)``.
        best_val_loss: Its final validation loss.
        success: Whether some candidate trained to a finite validation loss.
        trials: Per candidate, in order: ``{"hparams": ..., "val_loss": ...}``
            (``val_loss`` is None when training diverged).
        space: The searched dimensions.
        search: The Nevergrad search's result (coordinates on log scales are
            ``log10`` values).
        files: Paths written (``"json"``, ``"png"``); empty without ``out``.
    """

    optimizer: str
    best: dict[str, Any]
    best_val_loss: float
    success: bool
    trials: list[dict[str, Any]]
    space: list[Dimension]
    search: MinimizeResult = dataclasses.field(repr=False)
    files: dict[str, str] = dataclasses.field(default_factory=dict)


def _defaults(optimizer: str) -> tuple[Any, dict[str, Any]]:
    """The registry spec and the effective constructor defaults of ``optimizer``."""
    from brainoptim import registry

    spec = registry.get(optimizer)
    defaults = {}
    for name, param in inspect.signature(spec.cls.__init__).parameters.items():
        if name != "self" and param.default is not inspect.Parameter.empty:
            defaults[name] = param.default
    defaults.update(spec.defaults)
    return spec, defaults


def default_space(optimizer: str) -> list[Dimension]:
    """The dimensions :func:`tune` searches when no ``space`` is given.

    ``lr`` on a log scale from 1/30 to 30 times the registry's default; then,
    where the optimizer takes them, ``weight_decay`` on a log scale in
    ``[1e-6, 0.1]`` and ``momentum`` in ``[0, 0.99]``. Betas and other
    arguments are searched only when ``space`` names them.
    """
    spec, defaults = _defaults(optimizer)
    space = []
    lr = defaults.get("lr")
    if isinstance(lr, int | float) and lr > 0:
        space.append(Dimension("lr", lr / _LR_FACTOR, lr * _LR_FACTOR, log=True))
    if spec.weight_decay and "weight_decay" in defaults:
        space.append(Dimension("weight_decay", 1e-6, 0.1, log=True))
    if isinstance(defaults.get("momentum"), int | float):
        space.append(Dimension("momentum", 0.0, 0.99))
    return space


def parse_space(optimizer: str, space: Mapping[str, Any] | None) -> list[Dimension]:
    """Check a search space against the optimizer's constructor.

    Args:
        optimizer: A registry name.
        space: ``name -> (low, high)`` or ``(low, high, "log" | "linear")``;
            ``name`` a constructor argument with a default or ``arg[i]`` for
            entry ``i`` of a tuple argument. None: :func:`default_space`.

    Raises:
        ValueError: Naming the entry, for an unknown argument, an index out of
            range, ``low >= high`` or a log scale with ``low <= 0``.
    """
    if space is None:
        return default_space(optimizer)
    if not isinstance(space, Mapping) or not space:
        raise ValueError(f"space must be a non-empty dict, got {space!r}")
    spec, defaults = _defaults(optimizer)
    dims = []
    for name, entry in space.items():
        label = f"space[{name!r}]"
        match = _NAME.fullmatch(str(name))
        if not match or match[1] not in defaults:
            raise ValueError(
                f"{label}: {spec.name} has no argument {name!r}; searchable "
                f"arguments are {', '.join(sorted(defaults))} (arg[i] for an "
                "entry of a tuple argument)"
            )
        base, index = match[1], match[2]
        if index is not None:
            default = defaults[base]
            if not isinstance(default, tuple | list) or int(index) >= len(default):
                raise ValueError(
                    f"{label}: {spec.name}'s {base} default is {default!r}, which has "
                    f"no entry {index}"
                )
        if not isinstance(entry, tuple | list) or len(entry) not in (2, 3):
            raise ValueError(
                f"{label} must be (low, high) or (low, high, 'log'), got {entry!r}"
            )
        scale = entry[2] if len(entry) == 3 else "linear"
        if scale not in ("log", "linear"):
            raise ValueError(f"{label}: scale must be 'log' or 'linear', got {scale!r}")
        low, high = float(entry[0]), float(entry[1])
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"{label}: low must be < high, got low={low} high={high}")
        if scale == "log" and low <= 0:
            raise ValueError(f"{label}: a log scale needs low > 0, got low={low}")
        dims.append(Dimension(str(name), low, high, log=scale == "log"))
    return dims


def _hparams(
    dims: list[Dimension], coords: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Constructor arguments for search coordinates; tuple arguments whole."""
    out: dict[str, Any] = {}
    for dim in dims:
        value = dim.decode(coords[dim.name])
        match = _NAME.fullmatch(dim.name)
        base, index = match[1], match[2]
        if index is None:
            out[base] = value
        else:
            entries = list(out.get(base, defaults[base]))
            entries[int(index)] = value
            out[base] = tuple(entries)
    return out


def tune(
    optimizer_name: str,
    model: str = "mlp",
    data: Any = "digits",
    *,
    space: Mapping[str, Any] | None = None,
    budget: int = 20,
    epochs: int = 3,
    seed: int = 0,
    batch_size: int = 64,
    method: str = "DE",
    limit: int | None = None,
    out: str | os.PathLike | None = None,
    verbose: bool = True,
) -> TuneResult:
    """Search an optimizer's hyperparameters by short training runs.

    Every candidate trains model ``model`` from the same initial weights and
    batch order (both from ``seed``) for ``epochs`` epochs; its score is the
    final validation loss. A diverged run scores NaN and is never chosen.
    The search runs ``budget`` candidates one after another through
    :class:`~brainoptim.gradient_free.NevergradOptimizer`.

    Args:
        optimizer_name: A registry name (case-insensitive), e.g. ``"Adam"``.
        model: A model kind of :mod:`brainoptim.compare`: ``mlp`` (default),
            ``cnn``, ``transformer`` or ``rnn``.
        data: ``"digits"`` (default), ``"synthetic"``, the path of a ``.npz``
            file, or a :class:`brainoptim.compare.Dataset`.
        space: ``name -> (low, high[, "log"])``; see :func:`parse_space`.
            Default :func:`default_space`.
        budget: Number of candidates (training runs), >= 1. Default 20.
        epochs: Epochs per candidate, >= 1. Default 3.
        seed: Seeds the data split, weights, batch order and the search.
        batch_size: Mini-batch size. Default 64.
        method: A Nevergrad optimizer name. Default ``"DE"``.
        limit: Use only this many samples of a named data set.
        out: A folder to write ``best_hparams.json`` and ``search.png`` into.
            Default None: nothing is written.
        verbose: Show a progress bar over candidates.

    Returns:
        A :class:`TuneResult`.

    Raises:
        ValueError: For an unknown optimizer or model, a bad space, budget or
            epochs.

    Limitations:
        Each candidate compiles its own train step (seconds on a CPU), so a
        candidate costs compile time plus ``epochs`` epochs. Nevergrad's DE
        starts from a population of 30 uniform draws, so with ``budget <= 30``
        the default search is a random search; ``method="OnePlusOne"`` or
        ``"CMA"`` refine around good candidates sooner.

    Example:
        >>> res = tune("Adam", space={"lr": (1e-4, 1e-1, "log")})  # doctest: +SKIP
        >>> res.best  # doctest: +SKIP
        {'lr': 0.0094...}

    References:
        Rapin, J. and Teytaud, O. "Nevergrad - A gradient-free optimization
        platform." GitHub (2018). https://github.com/facebookresearch/nevergrad
    """
    from brainoptim.compare import RunSpec, load_data, train_run
    from brainoptim.compare.models import MODEL_KINDS

    for name, value in (("budget", budget), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {MODEL_KINDS}, got {model!r}")
    spec, defaults = _defaults(optimizer_name)
    dims = parse_space(spec.name, space)
    if not dims:
        raise ValueError(f"{spec.name} has no default space; pass space=")
    if isinstance(data, str):
        dataset = load_data(data, model, seed, limit)
    elif limit is not None:
        raise ValueError("limit applies to a named data set, not to a Dataset")
    else:
        dataset = data

    trials: list[dict[str, Any]] = []
    cache: dict = {}

    def objective(**coords):
        hparams = _hparams(dims, coords, defaults)
        run = RunSpec(
            model=model,
            optimizer=spec.name,
            label=f"{spec.name} trial {len(trials)}",
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            overrides=hparams,
        )
        val_loss = train_run(run, dataset, cache=cache)["final_val_loss"]
        trials.append({"hparams": hparams, "val_loss": val_loss})
        logger.info("trial %d %s: val loss %s", len(trials), hparams, val_loss)
        return math.nan if val_loss is None else val_loss

    search = NevergradOptimizer(
        objective,
        {dim.name: dim.bounds for dim in dims},
        method=method,
        n_sample=1,
        seed=seed,
        verbose=verbose,
        jit=False,
    ).minimize(n_iter=budget)

    result = TuneResult(
        optimizer=spec.name,
        best=_hparams(dims, search.x, defaults),
        best_val_loss=search.fun,
        success=search.success,
        trials=trials,
        space=dims,
        search=search,
    )
    if out is not None:
        result.files = _write(result, Path(out), model, data, epochs, batch_size, seed)
    return result


def _write(
    result: TuneResult,
    out: Path,
    model: str,
    data: Any,
    epochs: int,
    batch_size: int,
    seed: int,
) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "optimizer": result.optimizer,
        "best": _jsonable(result.best),
        "best_val_loss": _finite_or_none(result.best_val_loss),
        "success": result.success,
        "model": model,
        "data": data if isinstance(data, str) else getattr(data, "name", repr(data)),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "method": result.search.method,
        "space": {dim.name: dim.to_json() for dim in result.space},
        "trials": [
            {"hparams": _jsonable(t["hparams"]), "val_loss": t["val_loss"]}
            for t in result.trials
        ],
    }
    json_path = out / "best_hparams.json"
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    png_path = out / "search.png"
    _plot(result, png_path)
    return {"json": str(json_path), "png": str(png_path)}


def _plot(result: TuneResult, path: Path) -> None:
    """Validation loss per trial with the running best, and per dimension."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    losses = np.array(
        [np.nan if t["val_loss"] is None else t["val_loss"] for t in result.trials]
    )
    finite = np.isfinite(losses)
    panels = 1 + len(result.space)
    fig = Figure(figsize=(4.0 * panels, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    # A log axis only pays when the losses span more than a decade.
    log_y = bool(
        finite.any()
        and (losses[finite] > 0).all()
        and losses[finite].max() > 10 * losses[finite].min()
    )

    trial = np.arange(1, len(losses) + 1)
    running = np.fmin.accumulate(np.where(finite, losses, np.inf))
    axes[0].scatter(trial[finite], losses[finite], s=18, label="trial")
    shown = np.isfinite(running)
    axes[0].step(trial[shown], running[shown], where="post", color="C3", label="best")
    diverged = int((~finite).sum())
    title = f"{result.optimizer}: search"
    axes[0].set_title(title + (f" ({diverged} diverged)" if diverged else ""))
    axes[0].set_xlabel("trial")
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("validation loss")
    axes[0].legend()

    for ax, dim in zip(axes[1:], result.space, strict=True):
        values = np.array([_coordinate(t["hparams"], dim) for t in result.trials])
        ax.scatter(values[finite], losses[finite], s=18)
        best = _coordinate(result.best, dim)
        ax.axvline(best, color="C3", linestyle="--", label=f"best {best:.3g}")
        ax.set_xlabel(dim.name)
        ax.set_xlim(dim.low, dim.high)
        if dim.log:
            ax.set_xscale("log")
        ax.legend()
    for ax in axes:
        if log_y:
            ax.set_yscale("log")
    fig.savefig(path, dpi=110)


def _coordinate(hparams: Mapping[str, Any], dim: Dimension) -> float:
    match = _NAME.fullmatch(dim.name)
    value = hparams[match[1]]
    return float(value if match[2] is None else value[int(match[2])])


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _jsonable(hparams: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hparams.items()}


# -- command line ----------------------------------------------------------------


def _space_arg(text: str) -> tuple[str, tuple]:
    """Parses ``NAME=LOW:HIGH[:log]``, e.g. ``lr=1e-5:1e-1:log``."""
    match = re.fullmatch(
        r"\s*([\w\[\]]+)\s*=\s*([^:]+):([^:]+)(?::(log|linear))?\s*", text
    )
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected NAME=LOW:HIGH[:log] (e.g. lr=1e-5:1e-1:log), got {text!r}"
        )
    name, low, high, scale = match.groups()
    try:
        bounds = (float(low), float(high))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"LOW and HIGH must be numbers, got {text!r}"
        ) from None
    return name, (*bounds, scale or "linear")


def add_tune_subparser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``tune`` to a ``parser.add_subparsers()`` object; returns its parser.

    The parsed arguments go to :func:`run_tune`; the parser also sets
    ``args.run = run_tune``.
    """
    p = subparsers.add_parser(
        "tune",
        help="search an optimizer's hyperparameters by short training runs",
        description=(
            "Search an optimizer's hyperparameters (lr on a log scale, weight "
            "decay, momentum, or the --space you give) with Nevergrad, training "
            "the model a few epochs per candidate and scoring the validation "
            "loss. Writes best_hparams.json and search.png."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("optimizer", help="a registry name, e.g. Adam or Lion")
    p.add_argument("--model", default="mlp", help="mlp, cnn, transformer or rnn")
    p.add_argument(
        "--data", default="digits", help="'digits', 'synthetic' or a .npz file"
    )
    p.add_argument(
        "--space",
        type=_space_arg,
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH[:log]",
        help="a searched argument, e.g. lr=1e-5:1e-1:log or betas[1]=0.99:0.9999; "
        "may be repeated (default: lr, weight decay, momentum as the optimizer "
        "takes them)",
    )
    p.add_argument("--budget", type=int, default=20, help="number of candidates")
    p.add_argument("--epochs", type=int, default=3, help="epochs per candidate")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="DE", help="a Nevergrad optimizer name")
    p.add_argument("--limit", type=int, default=None, help="use only this many samples")
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default: results/tune-<name>-<time>)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_tune)
    return p


def run_tune(args: argparse.Namespace, console: Any = None) -> int:
    """Runs ``brainoptim tune`` for parsed arguments; returns the exit status."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(highlight=False)
    out = args.out or os.path.join(
        "results",
        f"tune-{args.optimizer}-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"),
    )
    try:
        result = tune(
            args.optimizer,
            args.model,
            args.data,
            space=dict(args.space) or None,
            budget=args.budget,
            epochs=args.epochs,
            seed=args.seed,
            batch_size=args.batch_size,
            method=args.method,
            limit=args.limit,
            out=out,
            verbose=not args.quiet,
        )
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    table = Table(title=f"{result.optimizer}: best of {len(result.trials)} candidates")
    table.add_column("argument")
    table.add_column("value", justify="right")
    for name, value in result.best.items():
        values = value if isinstance(value, tuple) else (value,)
        table.add_row(name, ", ".join(f"{v:.4g}" for v in values))
    console.print(table)
    if not result.success:
        console.print("[red]every candidate diverged[/red]")
    else:
        console.print(f"validation loss {result.best_val_loss:.4f}")
    console.print(
        f"wrote [green]{result.files['json']}[/green] and "
        f"[green]{result.files['png']}[/green]"
    )
    return 0 if result.success else 1
