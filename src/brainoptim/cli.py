"""The ``brainoptim`` command line.

``brainoptim compare`` trains the tutorial's models with the tutorial's optimizers
and writes ``results.json``, ``report.md`` and figures; ``brainoptim compare
--help`` lists its options. Output goes through ``rich``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

__all__ = ["main", "build_parser"]


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in _csv(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``brainoptim``."""
    from brainoptim.compare.experiment import DEFAULT_OPTIMIZERS, CompareConfig
    from brainoptim.compare.models import MODEL_KINDS

    d = CompareConfig()
    parser = argparse.ArgumentParser(
        prog="brainoptim",
        description="PyTorch-style optimizers for brainstate models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "compare",
        help="train models with many optimizers; write a report and figures",
        description=(
            "Train a CNN, a Transformer, a recurrent classifier and an MLP with the "
            "tutorial's optimizers (and Adam and SGD with momentum as baselines), "
            "measure optimizer memory and step time, and write results.json, "
            "report.md and PNG figures."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data",
        default=d.data,
        help="'digits' (scikit-learn's 8x8 digits), 'synthetic' (the tutorial's "
        "shapes with random labels) or a .npz file with arrays x and y",
    )
    p.add_argument(
        "--models",
        type=_csv,
        default=d.models,
        help=f"comma-separated models from {','.join(MODEL_KINDS)}",
    )
    p.add_argument(
        "--optimizers",
        type=_csv,
        default=DEFAULT_OPTIMIZERS,
        help="comma-separated registry names (default: the tutorial's ten plus "
        "Adam and SGD-momentum)",
    )
    p.add_argument(
        "--pairing",
        choices=("tutorial", "all"),
        default=d.pairing,
        help="'tutorial': each optimizer on its tutorial model, baselines on every "
        "model, every optimizer on the MLP; 'all': every optimizer on every model",
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, default=None, help="use only this many samples")
    p.add_argument(
        "--lbfgs-iters",
        type=int,
        default=d.lbfgs_iters,
        help="full-batch iterations per epoch for L-BFGS",
    )
    p.add_argument(
        "--batch-sizes",
        type=_ints,
        default=(),
        metavar="B1,B2,...",
        help="large-batch experiment: retrain the MLP's optimizers at these batch "
        "sizes (e.g. 32,128,512,1024)",
    )
    p.add_argument(
        "--lr-scaling",
        choices=("linear", "sqrt"),
        default=d.lr_scaling,
        help="how the large-batch experiment scales lr with batch size",
    )
    p.add_argument(
        "--grad-noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="robustness experiment: retrain every run with Gaussian noise of this "
        "standard deviation added to the gradients",
    )
    p.add_argument(
        "--switch",
        action="append",
        default=[],
        metavar="FIRST:SECOND@EPOCH",
        help="train with FIRST, switch to SECOND at EPOCH keeping the parameters "
        "(e.g. Adam:LBFGS@5); may be repeated",
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help="memory experiment: a larger MLP trained with Adam, Lion and Adafactor",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default: results/compare-<timestamp>)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    from brainoptim.tuning import add_tune_subparser

    add_tune_subparser(sub)
    return parser


def _config(args: argparse.Namespace):
    from brainoptim.compare.experiment import CompareConfig, parse_switch

    return CompareConfig(
        data=args.data,
        models=tuple(m.lower() for m in args.models),
        optimizers=args.optimizers,
        pairing=args.pairing,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        limit=args.limit,
        lbfgs_iters=args.lbfgs_iters,
        batch_sizes=args.batch_sizes,
        lr_scaling=args.lr_scaling,
        grad_noise=args.grad_noise,
        switches=tuple(parse_switch(s) for s in args.switch),
        memory=args.memory,
    )


def _rich_reporter(console, quiet: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from brainoptim.compare.train import Reporter

    class RichReporter(Reporter):
        def __init__(self):
            self.progress = Progress(
                TextColumn("[bold]{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeElapsedColumn(),
                console=console,
                disable=quiet,
            )
            self.task = None

        def start_run(self, label, total_steps):
            self.progress.start()
            self.task = self.progress.add_task(label, total=total_steps, loss="-")

        def advance(self, steps=1, **metrics):
            loss = metrics.get("loss")
            self.progress.update(
                self.task, advance=steps, loss="-" if loss is None else f"{loss:.4f}"
            )

        def end_run(self, result):
            self.progress.remove_task(self.task)
            m = result["measure"]
            loss = result["final_val_loss"]
            loss_text = "diverged" if loss is None else f"{loss:.4f}"
            self.progress.console.print(
                f"  {result['model']:<11} {result['label']:<22} "
                f"val loss {loss_text:>8}  test acc {100 * result['test_acc']:5.1f}%  "
                f"state {m['state_bytes'] / 1024:,.1f} KiB",
                soft_wrap=True,
            )

        def close(self):
            self.progress.stop()

    return RichReporter()


def _compare(args: argparse.Namespace, argv: list[str], console) -> int:
    from brainoptim.compare.experiment import plan_runs, run_compare
    from brainoptim.compare.report import write_results

    try:
        cfg = _config(args)
        cfg.validate()
        n_runs = len(plan_runs(cfg))
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    out = args.out or os.path.join(
        "results", "compare-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    console.print(
        f"[bold]brainoptim compare[/bold]: {n_runs} runs on [cyan]{cfg.data}[/cyan], "
        f"models {','.join(cfg.models)}, {cfg.epochs} epochs, seed {cfg.seed}"
    )
    reporter = _rich_reporter(console, args.quiet)
    try:
        results = run_compare(cfg, reporter, argv)
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}")
        return 2
    finally:
        reporter.close()
    written = write_results(results, out)
    console.print(
        f"done in {results['duration_s']:.0f} s; report: [green]{written['report']}"
        "[/green]"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    from rich.console import Console

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    console = Console(stderr=False, highlight=False)
    if args.command == "compare":
        return _compare(args, ["brainoptim", *argv], console)
    if args.command == "tune":
        from brainoptim.tuning import run_tune

        return run_tune(args, console)
    return 2


if __name__ == "__main__":
    sys.exit(main())
