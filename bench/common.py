"""What every benchmark shares: interleaved timing, model shapes, machine, output.

Timing is interleaved: each round calls every implementation once, in a rotating
order, so that a burst of load on a shared machine slows all of them alike and
the ratios of medians stay meaningful. Every implementation is warmed up (compiled)
before the first round.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"


@dataclass
class Timing:
    """Wall times of one implementation, in seconds."""

    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def iqr(self) -> tuple[float, float]:
        q = np.percentile(self.times, [25, 75])
        return float(q[0]), float(q[1])


def interleave(
    fns: dict[str, Callable[[], Any]],
    *,
    warmup: int = 3,
    min_rounds: int = 5,
    max_rounds: int = 50,
    budget_s: float = 5.0,
) -> dict[str, Timing]:
    """Median-ready timings of ``fns``, measured round-robin.

    Each function must block until its work is done. The number of rounds is the
    most that fits ``budget_s`` (judged from the warm-up), within
    ``[min_rounds, max_rounds]``.
    """
    per_round = 0.0
    for fn in fns.values():
        fn()
        t0 = time.perf_counter()
        for _ in range(max(warmup - 1, 1)):
            fn()
        per_round += (time.perf_counter() - t0) / max(warmup - 1, 1)
    rounds = int(min(max_rounds, max(min_rounds, budget_s / max(per_round, 1e-9))))
    out = {k: Timing() for k in fns}
    names = list(fns)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            fns[name]()
            out[name].times.append(time.perf_counter() - t0)
    return out


def transformer_block_shapes(d: int, ff: int, prefix: str = "") -> dict[str, tuple]:
    """Leaf shapes of one pre-norm transformer block (attention + MLP).

    ``d=512, ff=2048`` is the tutorial's TransformerBlock: 3.15M parameters.
    """
    s: dict[str, tuple] = {}
    for n in ("q", "k", "v", "o"):
        s[f"{prefix}attn.{n}.weight"] = (d, d)
        s[f"{prefix}attn.{n}.bias"] = (d,)
    for n in ("ln1", "ln2"):
        s[f"{prefix}{n}.scale"] = (d,)
        s[f"{prefix}{n}.bias"] = (d,)
    s[f"{prefix}mlp.fc1.weight"] = (d, ff)
    s[f"{prefix}mlp.fc1.bias"] = (ff,)
    s[f"{prefix}mlp.fc2.weight"] = (ff, d)
    s[f"{prefix}mlp.fc2.bias"] = (d,)
    return s


#: Model sizes of the step-time benchmark: name -> leaf shapes.
SIZES: dict[str, Callable[[], dict[str, tuple]]] = {
    "1M": lambda: transformer_block_shapes(288, 1152),
    "3M": lambda: transformer_block_shapes(512, 2048),
    "30M": lambda: {
        k: v
        for i in range(10)
        for k, v in transformer_block_shapes(512, 2048, f"block{i}.").items()
    },
}


def n_params(shapes: dict[str, tuple]) -> int:
    return int(sum(np.prod(s) for s in shapes.values()))


def random_tree(shapes: dict[str, tuple], seed: int, scale: float) -> dict:
    rng = np.random.default_rng(seed)
    return {
        k: (rng.standard_normal(s) * scale).astype(np.float32)
        for k, s in shapes.items()
    }


def machine() -> dict[str, Any]:
    """A description of this machine and the library versions measured."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for mod in ("jax", "jaxlib", "brainstate", "optax", "braintools", "torch"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is reported
            versions[mod] = None
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "load_average_1min_at_start": load,
        "versions": versions,
    }


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=_jsonable))
    return path


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def block(tree) -> None:
    import jax

    jax.block_until_ready(tree)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}"


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c != columns[0] else "left")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    # a log file gets the full table, not one squeezed to 80 columns
    Console(width=None if sys.stdout.isatty() else 200).print(table)
