"""Tune Adam's and Lion's learning rates on the digits MLP with a small budget.

Each candidate learning rate trains the comparison's MLP for three epochs on
scikit-learn's digits, from the same initial weights, and is scored by its
validation loss. Nevergrad's differential evolution proposes the candidates on
a log scale. The best learning rates, their validation losses and the plots of
both searches are written under ``results/tune-lr/``.

Run: ``python examples/tune_lr.py`` (about a minute on a CPU: each candidate
compiles its own train step).
"""

from brainoptim.tuning import tune

BUDGET = 8  # candidates per optimizer
SPACES = {
    # Ranges around each optimizer's usual value; Lion's sign update takes
    # steps of size lr, so its range sits about 10x lower than Adam's.
    "Adam": {"lr": (1e-4, 1e-1, "log")},
    "Lion": {"lr": (1e-5, 1e-2, "log")},
}

results = {}
for name, space in SPACES.items():
    results[name] = tune(
        name,
        "mlp",
        "digits",
        space=space,
        budget=BUDGET,
        epochs=3,
        seed=0,
        out=f"results/tune-lr/{name}",
    )

print(f"\nbest learning rates after {BUDGET} candidates each (3 epochs, digits MLP)")
for name, res in results.items():
    tried = ", ".join(f"{t['hparams']['lr']:.2g}" for t in res.trials)
    print(f"  {name:<5} lr = {res.best['lr']:.3g}  val loss {res.best_val_loss:.4f}")
    print(f"        tried: {tried}")
    print(f"        {res.files['json']}, {res.files['png']}")
