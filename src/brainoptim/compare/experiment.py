"""The comparison experiment: which runs to make, and making them.

:class:`CompareConfig` holds what the command line asks for; :func:`plan_runs`
turns it into runs and :func:`run_compare` makes them and returns one dict of plain
Python values, the content of ``results.json``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import importlib.metadata
import math
import platform
import re
import sys
import time
from typing import Any

from .data import Dataset, as_model_input, load_data
from .models import MODEL_KINDS
from .train import Reporter, RunSpec, needs_value_fn, train_run

__all__ = [
    "CompareConfig",
    "TUTORIAL_PAIRING",
    "BASELINES",
    "DEFAULT_OPTIMIZERS",
    "MEMORY_OPTIMIZERS",
    "parse_switch",
    "resolve_optimizer",
    "plan_runs",
    "run_compare",
]

# The models the tutorial trains each of its optimizers on.
TUTORIAL_PAIRING: dict[str, tuple[str, ...]] = {
    "cnn": ("Lion", "Adafactor"),
    "transformer": ("Lookahead", "RAdam", "Lamb"),
    "rnn": ("Rprop", "Yogi", "SM3"),
    "mlp": ("Lars", "LBFGS"),
}

# Baselines: label -> (registry name, arguments over the registry's defaults).
BASELINES: dict[str, tuple[str, dict]] = {
    "Adam": ("Adam", {"lr": 1e-3}),
    "SGD-momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
}

DEFAULT_OPTIMIZERS: tuple[str, ...] = (
    "Lion",
    "Adafactor",
    "Lookahead",
    "RAdam",
    "Lamb",
    "Lars",
    "SM3",
    "LBFGS",
    "Rprop",
    "Yogi",
    *BASELINES,
)

MEMORY_OPTIMIZERS: tuple[str, ...] = ("Adam", "Lion", "Adafactor")

# The hidden-width factor of the model of the memory experiment.
MEMORY_WIDTH = 16


@dataclasses.dataclass
class CompareConfig:
    """What ``brainoptim compare`` runs.

    Attributes:
        data: ``digits``, ``synthetic`` or the path of a ``.npz`` file.
        models: model kinds, in the order of the report.
        optimizers: optimizer names (registry names or baseline labels).
        pairing: ``tutorial`` runs each optimizer on its tutorial model(s), the
            baselines on every model and every optimizer on the MLP; ``all`` runs
            every optimizer on every model.
        epochs: epochs per run.
        batch_size: the mini-batch size.
        seed: seeds the split, the weights, the batch order and the noise.
        limit: use only this many samples of the data set.
        lbfgs_iters: full-batch iterations per epoch of line-search optimizers.
        batch_sizes: batch sizes of the large-batch experiment (empty: none).
        lr_scaling: ``linear`` or ``sqrt`` scaling of the lr with the batch size.
        grad_noise: sigma of the gradient-noise experiment (``0``: none).
        switches: ``(first, second, epoch)`` optimizer switches.
        memory: whether to run the memory experiment.
        limit_steps: cap on steps per epoch (for quick tests).
    """

    data: str = "digits"
    models: tuple[str, ...] = MODEL_KINDS
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    pairing: str = "tutorial"
    epochs: int = 15
    batch_size: int = 64
    seed: int = 0
    limit: int | None = None
    lbfgs_iters: int = 20
    batch_sizes: tuple[int, ...] = ()
    lr_scaling: str = "linear"
    grad_noise: float = 0.0
    switches: tuple[tuple[str, str, int], ...] = ()
    memory: bool = False
    limit_steps: int | None = None

    def validate(self) -> None:
        """Raises ``ValueError`` naming the first invalid field."""
        bad = [m for m in self.models if m not in MODEL_KINDS]
        if bad or not self.models:
            raise ValueError(
                f"--models must be a comma-separated subset of "
                f"{','.join(MODEL_KINDS)}, got {','.join(self.models) or 'nothing'}"
            )
        if not self.optimizers:
            raise ValueError("--optimizers must name at least one optimizer")
        if self.pairing not in ("tutorial", "all"):
            raise ValueError(
                f"--pairing must be 'tutorial' or 'all', got {self.pairing!r}"
            )
        for name, value, low in (
            ("--epochs", self.epochs, 1),
            ("--batch-size", self.batch_size, 1),
            ("--lbfgs-iters", self.lbfgs_iters, 1),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value}")
        if self.limit is not None and self.limit < 10:
            raise ValueError(f"--limit must be >= 10, got {self.limit}")
        if any(b < 1 for b in self.batch_sizes):
            raise ValueError(
                f"--batch-sizes must be integers >= 1, got {list(self.batch_sizes)}"
            )
        if self.lr_scaling not in ("linear", "sqrt"):
            raise ValueError(
                f"--lr-scaling must be 'linear' or 'sqrt', got {self.lr_scaling!r}"
            )
        if not math.isfinite(self.grad_noise) or self.grad_noise < 0:
            raise ValueError(
                f"--grad-noise must be a finite number >= 0, got {self.grad_noise}"
            )
        for first, second, epoch in self.switches:
            if not 0 < epoch < self.epochs:
                raise ValueError(
                    f"--switch {first}:{second}@{epoch}: the epoch must be in "
                    f"[1, {self.epochs - 1}] with --epochs {self.epochs}, got {epoch}"
                )
        for name in self.optimizers:
            resolve_optimizer(name)


def parse_switch(text: str) -> tuple[str, str, int]:
    """Parses ``FIRST:SECOND@EPOCH``, e.g. ``Adam:LBFGS@5``."""
    match = re.fullmatch(r"\s*([\w.-]+)\s*:\s*([\w.-]+)\s*@\s*(\d+)\s*", text)
    if not match:
        raise ValueError(
            f"--switch must look like FIRST:SECOND@EPOCH (e.g. Adam:LBFGS@5), got "
            f"{text!r}"
        )
    first, second, epoch = match.groups()
    resolve_optimizer(first)
    resolve_optimizer(second)
    return first, second, int(epoch)


def resolve_optimizer(name: str) -> tuple[str, str, dict]:
    """``(label, registry name, constructor overrides)`` of an optimizer name.

    Baseline labels (``SGD-momentum``) map to a registry entry with arguments;
    registry names and aliases are resolved case-insensitively.

    Raises:
        ValueError: the name is neither a baseline nor in the registry; the message
            lists the valid names.
    """
    from brainoptim import registry

    for label, (reg_name, kwargs) in BASELINES.items():
        if name.lower() == label.lower():
            return label, reg_name, dict(kwargs)
    try:
        spec = registry.get(name)
    except (KeyError, ValueError):
        valid = ", ".join([*BASELINES, *sorted(registry.names())])
        raise ValueError(f"unknown optimizer {name!r}; valid names: {valid}") from None
    return spec.name, spec.name, {}


def _tutorial_models(label: str, chosen: tuple[str, ...]) -> list[str]:
    if label in BASELINES:
        return list(chosen)
    homes = [m for m, names in TUTORIAL_PAIRING.items() if label in names]
    models = [m for m in chosen if m in homes or m == "mlp"]
    return models or list(chosen)


def plan_runs(cfg: CompareConfig) -> list[RunSpec]:
    """The main runs: one per (model, optimizer) pair, plus the switches."""
    common = dict(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        lbfgs_iters=cfg.lbfgs_iters,
        limit_steps=cfg.limit_steps,
    )
    runs = []
    for model in cfg.models:
        for name in cfg.optimizers:
            label, reg_name, kwargs = resolve_optimizer(name)
            if cfg.pairing == "tutorial" and model not in _tutorial_models(
                label, cfg.models
            ):
                continue
            runs.append(RunSpec(model, reg_name, label, overrides=kwargs, **common))
    switch_model = "mlp" if "mlp" in cfg.models else cfg.models[0]
    for first, second, epoch in cfg.switches:
        label1, reg1, kwargs = resolve_optimizer(first)
        label2, reg2, _ = resolve_optimizer(second)
        runs.append(
            RunSpec(
                switch_model,
                reg1,
                f"{label1}→{label2}@{epoch}",
                overrides=kwargs,
                switch_to=reg2,
                switch_epoch=epoch,
                **common,
            )
        )
    return runs


def _default_lr(reg_name: str, overrides: dict) -> float | None:
    from brainoptim import registry

    if "lr" in overrides:
        return float(overrides["lr"])
    lr = registry.get(reg_name).defaults.get("lr")
    return float(lr) if isinstance(lr, (int, float)) else None


def _batch_runs(cfg: CompareConfig, main: list[RunSpec]) -> tuple[str, list]:
    model = "mlp" if "mlp" in cfg.models else cfg.models[0]
    runs = []
    for spec in main:
        if spec.model != model or spec.switch_to or needs_value_fn(spec.optimizer):
            continue
        base_lr = _default_lr(spec.optimizer, spec.overrides)
        for bs in cfg.batch_sizes:
            ratio = bs / cfg.batch_size
            factor = ratio if cfg.lr_scaling == "linear" else math.sqrt(ratio)
            overrides = dict(spec.overrides)
            if base_lr is not None:
                overrides["lr"] = base_lr * factor
            runs.append(
                dataclasses.replace(
                    spec,
                    label=f"{spec.label} bs={bs}",
                    batch_size=bs,
                    overrides=overrides,
                )
            )
    return model, runs


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("brainoptim", "jax", "jaxlib", "brainstate", "optax", "numpy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_compare(
    cfg: CompareConfig,
    reporter: Reporter | None = None,
    argv: list[str] | None = None,
) -> dict[str, Any]:
    """Makes every run ``cfg`` asks for; returns the content of ``results.json``."""
    cfg.validate()
    started = time.perf_counter()

    @functools.cache
    def data_for(kind: str) -> Dataset:
        return load_data(cfg.data, kind, cfg.seed, cfg.limit)

    # Load every model's data first so that a bad file fails before training.
    for kind in cfg.models:
        as_model_input(data_for(kind).x_train[:1], kind)
    if cfg.batch_sizes:
        n_train = len(data_for("mlp" if "mlp" in cfg.models else cfg.models[0]).y_train)
        for bs in cfg.batch_sizes:
            # The lr is scaled by the batch size asked for, and a step time needs
            # steps after the compiling one: each batch size must fit twice.
            if 2 * bs > n_train:
                raise ValueError(
                    f"--batch-sizes: {bs} must be at most half the {n_train} "
                    f"training samples (at most {n_train // 2}), so that an epoch "
                    "has two steps"
                )

    main = plan_runs(cfg)
    cache: dict = {}
    results: dict[str, Any] = {
        "command": list(sys.argv if argv is None else argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "versions": _versions(),
        "platform": platform.platform(),
        "config": dataclasses.asdict(cfg),
        "data": {kind: data_for(kind).summary() for kind in cfg.models},
        "runs": [train_run(s, data_for(s.model), reporter, cache) for s in main],
        "batch_scaling": None,
        "grad_noise": None,
        "memory": None,
    }

    if cfg.batch_sizes:
        model, runs = _batch_runs(cfg, main)
        results["batch_scaling"] = {
            "model": model,
            "base_batch_size": cfg.batch_size,
            "lr_scaling": cfg.lr_scaling,
            "runs": [train_run(s, data_for(s.model), reporter, cache) for s in runs],
        }

    if cfg.grad_noise > 0:
        noisy = [
            dataclasses.replace(
                s, label=f"{s.label} σ={cfg.grad_noise:g}", grad_noise=cfg.grad_noise
            )
            for s in main
            if s.switch_to is None
        ]
        results["grad_noise"] = {
            "sigma": cfg.grad_noise,
            "runs": [train_run(s, data_for(s.model), reporter, cache) for s in noisy],
        }

    if cfg.memory:
        model = "mlp"
        data = data_for(model) if model in cfg.models else None
        if data is None:
            data = load_data(cfg.data, model, cfg.seed, cfg.limit)
        runs = []
        for name in MEMORY_OPTIMIZERS:
            label, reg_name, kwargs = resolve_optimizer(name)
            spec = RunSpec(
                model,
                reg_name,
                f"{label} (large MLP)",
                epochs=min(cfg.epochs, 2),
                batch_size=cfg.batch_size,
                seed=cfg.seed,
                overrides=kwargs,
                width=MEMORY_WIDTH,
                limit_steps=cfg.limit_steps,
            )
            runs.append(train_run(spec, data, reporter, cache))
        results["memory"] = {"model": model, "width": MEMORY_WIDTH, "runs": runs}

    results["duration_s"] = time.perf_counter() - started
    return results
