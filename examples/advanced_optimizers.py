"""The advanced-optimizers tutorial, ported to brainoptim and made to run.

Four model families, each trained with the optimizers the tutorial pairs with it:

- a CNN with Lion and Adafactor,
- a Transformer block with Lookahead, RAdam and Lamb,
- a recurrent network with Rprop, Yogi and SM3,
- an MLP with Lars and L-BFGS,

plus Adam as a baseline in every family. Each family gets the tutorial's 3x3
comparison figure, with the optimizer memory *measured* instead of guessed.

What differs from the tutorial as written, and why:

- The data are scikit-learn's digits (real 8x8 images with real labels), so the
  curves say something; the tutorial's random labels can only be memorised.
- The CNN's convolutions get their ``in_size``; the Transformer block ends in a
  classifier head; the recurrent network initialises its GRU cell's state for the
  batch and feeds it one image row per step; the MLP's input size is the image size.
- L-BFGS runs full-batch with its line search, which needs the loss as a function
  of the parameters (``value_fn``).

Run it with ``python examples/advanced_optimizers.py [OUT_DIR]``; it takes a few
minutes on two CPU cores. ``brainoptim compare`` runs the full experiment.
"""

import os
import sys
import time

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

import brainoptim

EPOCHS = 12
BATCH = 64

# -- data ----------------------------------------------------------------------------


def digits(seed=0):
    """Digits as (N, 8, 8, 1) images in [0, 1], split 60/20/20."""
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_tr, n_va = int(0.6 * len(y)), int(0.2 * len(y))
    tr, va, te = np.split(perm, [n_tr, n_tr + n_va])
    return (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])


# -- models ----------------------------------------------------------------------


class CNN(brainstate.nn.Module):
    def __init__(self, in_size=(8, 8, 1), n_classes=10):
        super().__init__()
        self.conv1 = brainstate.nn.Conv2d(in_size, 16, 3)
        self.conv2 = brainstate.nn.Conv2d((4, 4, 16), 32, 3)
        self.pool = brainstate.nn.MaxPool2d(2, 2, channel_axis=-1)
        self.head = brainstate.nn.Linear(2 * 2 * 32, n_classes)

    def __call__(self, x):
        x = self.pool(jax.nn.relu(self.conv1(x)))
        x = self.pool(jax.nn.relu(self.conv2(x)))
        return self.head(x.reshape(x.shape[0], -1))


class TransformerBlock(brainstate.nn.Module):
    """Rows of the image as 8 tokens; self-attention, feed-forward, classifier."""

    def __init__(self, seq_len=8, features=8, dim=32, heads=4, n_classes=10):
        super().__init__()
        self.heads = heads
        self.embed = brainstate.nn.Linear(features, dim)
        self.pos = brainstate.ParamState(
            0.02 * brainstate.random.normal(size=(seq_len, dim))
        )
        self.norm1 = brainstate.nn.LayerNorm(dim)
        self.qkv = brainstate.nn.Linear(dim, 3 * dim)
        self.proj = brainstate.nn.Linear(dim, dim)
        self.norm2 = brainstate.nn.LayerNorm(dim)
        self.ff = brainstate.nn.Sequential(
            brainstate.nn.Linear(dim, 2 * dim),
            brainstate.nn.GELU(),
            brainstate.nn.Linear(2 * dim, dim),
        )
        self.norm_out = brainstate.nn.LayerNorm(dim)
        self.head = brainstate.nn.Linear(dim, n_classes)

    def attention(self, h):
        n, t, d = h.shape
        q, k, v = jnp.split(self.qkv(h).reshape(n, t, 3 * self.heads, -1), 3, axis=2)
        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) / np.sqrt(d // self.heads)
        out = jnp.einsum("nhqk,nkhd->nqhd", jax.nn.softmax(scores, -1), v)
        return self.proj(out.reshape(n, t, d))

    def __call__(self, x):
        h = self.embed(x[..., 0]) + self.pos.value
        h = h + self.attention(self.norm1(h))
        h = h + self.ff(self.norm2(h))
        return self.head(self.norm_out(h.mean(axis=1)))


class RNN(brainstate.nn.Module):
    """A GRU cell stepped over the image rows; the last state is classified."""

    def __init__(self, features=8, hidden=64, n_classes=10):
        super().__init__()
        self.cell = brainstate.nn.GRUCell(features, hidden)
        self.head = brainstate.nn.Linear(hidden, n_classes)

    def __call__(self, x):
        rows = x[..., 0]
        self.cell.init_state(rows.shape[0])  # one hidden state per sample
        for t in range(rows.shape[1]):
            h = self.cell.update(rows[:, t])
        return self.head(h)


class MLP(brainstate.nn.Module):
    def __init__(self, in_size=64, n_classes=10):
        super().__init__()
        self.net = brainstate.nn.Sequential(
            brainstate.nn.Linear(in_size, 128),
            brainstate.nn.ReLU(),
            brainstate.nn.Linear(128, 64),
            brainstate.nn.ReLU(),
            brainstate.nn.Linear(64, n_classes),
        )

    def __call__(self, x):
        return self.net(x.reshape(x.shape[0], -1))


# -- the tutorial's optimizers ---------------------------------------------------------

FAMILIES = {
    "CNN": (
        CNN,
        {
            "Lion": lambda: brainoptim.Lion(
                lr=3e-4, betas=(0.9, 0.99), weight_decay=1e-4
            ),
            "Adafactor": lambda: brainoptim.Adafactor(
                lr=1e-3, decay_rate=0.8, factored=True, clip_threshold=1.0
            ),
        },
    ),
    "Transformer": (
        TransformerBlock,
        {
            "Lookahead": lambda: brainoptim.Lookahead(
                brainoptim.SGD(lr=0.1, momentum=0.9), sync_period=5, alpha=0.5
            ),
            "RAdam": lambda: brainoptim.RAdam(
                lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4
            ),
            "Lamb": lambda: brainoptim.Lamb(
                lr=2e-3,
                betas=(0.9, 0.999),
                eps=1e-6,
                weight_decay=0.01,
                grad_clip_value=10.0,
            ),
        },
    ),
    "RNN": (
        RNN,
        {
            "Rprop": lambda: brainoptim.Rprop(
                lr=1e-3, etas=(0.5, 1.2), step_sizes=(1e-6, 50)
            ),
            "Yogi": lambda: brainoptim.Yogi(lr=1e-2, betas=(0.9, 0.999), eps=1e-3),
            "SM3": lambda: brainoptim.SM3(lr=1e-3, momentum=0.9, eps=1e-8),
        },
    ),
    "MLP": (
        MLP,
        {
            "Lars": lambda: brainoptim.Lars(
                lr=0.1,
                momentum=0.9,
                weight_decay=1e-4,
                trust_coefficient=0.001,
                eps=1e-8,
            ),
            "LBFGS": lambda: brainoptim.LBFGS(
                lr=1.0, memory_size=10, line_search_fn="zoom"
            ),
        },
    ),
}
for _, optimizers in FAMILIES.values():
    optimizers["Adam"] = lambda: brainoptim.Adam(lr=1e-3)


# -- training ------------------------------------------------------------------------


def is_state(x):
    return isinstance(x, brainstate.State)


def nbytes(tree):
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def train(model_cls, make_optimizer, data, seed=0):
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data
    brainstate.random.seed(seed)
    model = model_cls()
    states = model.states(brainstate.ParamState)
    params = brainoptim.UniqueStateManager(states).to_pytree()
    opt = make_optimizer()
    opt.register_trainable_weights(params)
    full_batch = opt.needs_value_fn  # L-BFGS with a line search

    def loss_fn(x, y):
        logits = model(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def loss_at(values, x, y):
        """The loss with ``values`` in place of the parameters; States restored."""
        leaves = jax.tree.leaves(params, is_leaf=is_state)
        old = [s.value for s in leaves]
        flat = jax.tree.structure(params, is_leaf=is_state).flatten_up_to(values)
        for s, v in zip(leaves, flat, strict=True):
            s.value = v
        try:
            return loss_fn(x, y)[0]
        finally:
            for s, v in zip(leaves, old, strict=True):
                s.value = v

    @brainstate.transform.jit
    def train_step(x, y):
        grads, loss, acc = brainstate.transform.grad(
            loss_fn, grad_states=params, has_aux=True, return_value=True
        )(x, y)
        if full_batch:
            opt.update(grads, value=loss, value_fn=lambda v: loss_at(v, x, y))
        else:
            opt.update(grads)
        return loss, acc

    evaluate = brainstate.transform.jit(loss_fn)
    rng = np.random.default_rng(seed)
    hist = {k: [] for k in ("loss", "val_loss", "val_acc", "time", "batch_losses")}
    for _ in range(EPOCHS):
        if full_batch:
            batches = [np.arange(len(y_tr))] * 10  # ten L-BFGS iterations
        else:
            perm = rng.permutation(len(y_tr))
            n = len(perm) // BATCH
            batches = np.array_split(perm[: n * BATCH], n)
        start, losses = time.perf_counter(), []
        for idx in batches:
            loss, _ = train_step(x_tr[idx], y_tr[idx])
            losses.append(float(loss))
        hist["time"].append(time.perf_counter() - start)
        val_loss, val_acc = evaluate(x_va, y_va)
        hist["loss"].append(np.mean(losses))
        hist["val_loss"].append(float(val_loss))
        hist["val_acc"].append(float(val_acc))
        hist["batch_losses"] += losses
        opt.lr.step()
    hist["test_acc"] = float(evaluate(x_te, y_te)[1])
    hist["state_bytes"] = opt.state_nbytes()
    hist["param_bytes"] = nbytes([s.value for s in states.values()])
    return hist


# -- the 3x3 figure ----------------------------------------------------------------


def figure(family, results):
    fig = Figure(figsize=(14, 11), layout="constrained")
    ax = fig.subplots(3, 3).flat
    epochs = np.arange(1, EPOCHS + 1)
    for name, h in results.items():
        ax[0].plot(epochs, h["loss"], label=name)
        ax[1].plot(epochs, h["val_loss"], label=name)
        ax[2].plot(epochs, 100 * np.array(h["val_acc"]), label=name)
        ax[3].plot(epochs, np.array(h["loss"]) / h["loss"][0], label=name)
        ax[4].plot(epochs[1:], h["time"][1:], label=name)  # epoch 1 compiles
        window = max(2, len(h["batch_losses"]) // EPOCHS)
        var = np.lib.stride_tricks.sliding_window_view(h["batch_losses"], window)
        ax[6].plot(np.arange(len(var)) * EPOCHS / len(h["batch_losses"]), var.var(1))
    names = list(results)
    ax[5].barh(names, [results[n]["loss"][-1] for n in names])
    ax[7].barh(names, [results[n]["state_bytes"] / 1024 for n in names])
    ax[7].axvline(results[names[0]]["param_bytes"] / 1024, color="k", ls=":")
    ax[8].barh(names, [100 * results[n]["test_acc"] for n in names])
    labels = [
        ("Training loss", "epoch", "loss"),
        ("Validation loss", "epoch", "loss"),
        ("Validation accuracy", "epoch", "accuracy (%)"),
        ("Convergence ratio", "epoch", "loss / first-epoch loss"),
        ("Time per epoch", "epoch", "seconds"),
        ("Final training loss", "loss", ""),
        ("Rolling variance of batch loss", "epoch", "variance"),
        ("Optimizer state (measured; dotted: parameters)", "KiB", ""),
        ("Test accuracy", "accuracy (%)", ""),
    ]
    for a, (title, xlabel, ylabel) in zip(ax, labels, strict=True):
        a.set(title=title, xlabel=xlabel, ylabel=ylabel)
    for i in (0, 1, 3, 6):
        ax[i].set_yscale("log")
    ax[0].legend()
    fig.suptitle(f"{family}: {', '.join(names)}")
    return fig


def main(out_dir="results/advanced_optimizers"):
    os.makedirs(out_dir, exist_ok=True)
    data = digits()
    for family, (model_cls, optimizers) in FAMILIES.items():
        results = {}
        for name, make in optimizers.items():
            results[name] = train(model_cls, make, data)
            h = results[name]
            print(
                f"{family:12s}{name:10s} val loss {h['val_loss'][-1]:.3f}  "
                f"test acc {100 * h['test_acc']:.1f}%  "
                f"state {h['state_bytes'] / 1024:.1f} KiB"
            )
        path = os.path.join(out_dir, f"{family.lower()}.png")
        figure(family, results).savefig(path, dpi=100)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
