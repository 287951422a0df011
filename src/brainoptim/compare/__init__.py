"""``brainoptim compare``: train models with many optimizers and report the result.

The pieces: :mod:`.data` (digits, synthetic or ``.npz`` data), :mod:`.models`
(CNN, Transformer, recurrent classifier, MLP), :mod:`.train` (one run and its
measurements), :mod:`.experiment` (which runs, and making them) and :mod:`.report`
(``results.json``, ``report.md`` and figures).

Example::

    from brainoptim.compare import CompareConfig, run_compare, write_results

    results = run_compare(CompareConfig(models=("mlp",), optimizers=("Adam",)))
    write_results(results, "results/adam-mlp")
"""

from .data import Dataset, load_data
from .experiment import CompareConfig, plan_runs, run_compare
from .models import build_model
from .report import write_results
from .train import Reporter, RunSpec, state_nbytes, train_run, tree_nbytes

__all__ = [
    "CompareConfig",
    "Dataset",
    "Reporter",
    "RunSpec",
    "build_model",
    "load_data",
    "plan_runs",
    "run_compare",
    "state_nbytes",
    "train_run",
    "tree_nbytes",
    "write_results",
]
