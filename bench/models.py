"""Small brainstate models for the train-step benchmarks.

Each model keeps its weights as a ``{name: ParamState}`` dict, so optimizers
register it directly, and provides ``loss(x, y)`` reading those States.
"""

from __future__ import annotations

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
from common import random_tree, transformer_block_shapes


def _states(arrays: dict) -> dict:
    return {k: brainstate.ParamState(jnp.asarray(v)) for k, v in arrays.items()}


class TransformerBlock:
    """A pre-norm transformer block on token features, regression to zeros.

    ``d=512, ff=2048`` gives the tutorial's 3.15M parameters.
    """

    def __init__(self, d: int = 512, ff: int = 2048, heads: int = 8, seed: int = 0):
        self.d, self.heads = d, heads
        arrays = random_tree(transformer_block_shapes(d, ff), seed, 0.02)
        for k in arrays:
            if k.endswith(".scale"):
                arrays[k] = np.ones_like(arrays[k])
        self.params = _states(arrays)

    def batch(self, n: int = 8, t: int = 64, seed: int = 1):
        rng = np.random.default_rng(seed)
        x = jnp.asarray(rng.standard_normal((n, t, self.d)).astype(np.float32))
        return x, jnp.zeros_like(x)

    def apply(self, p: dict, x):
        def norm(h, name):
            mu = h.mean(-1, keepdims=True)
            var = ((h - mu) ** 2).mean(-1, keepdims=True)
            return (h - mu) / jnp.sqrt(var + 1e-5) * p[f"{name}.scale"] + p[
                f"{name}.bias"
            ]

        def lin(h, name):
            return h @ p[f"{name}.weight"] + p[f"{name}.bias"]

        n, t, d = x.shape
        dh = d // self.heads
        h = norm(x, "ln1")
        q, k, v = (lin(h, f"attn.{c}").reshape(n, t, self.heads, dh) for c in "qkv")
        w = jax.nn.softmax(jnp.einsum("nqhd,nkhd->nhqk", q, k) / dh**0.5, axis=-1)
        x = x + lin(jnp.einsum("nhqk,nkhd->nqhd", w, v).reshape(n, t, d), "attn.o")
        h = jax.nn.gelu(lin(norm(x, "ln2"), "mlp.fc1"))
        return x + lin(h, "mlp.fc2")

    def loss(self, x, y):
        p = {k: s.value for k, s in self.params.items()}
        return self.loss_of(p, x, y)

    def loss_of(self, p: dict, x, y):
        return jnp.mean((self.apply(p, x) - y) ** 2)


class ManyLeaves:
    """``2 * n_branches`` weight leaves (16x16 and 16) under an elementwise loss,
    where per-leaf Python or dispatch cost would show."""

    def __init__(self, n_branches: int = 250, width: int = 16, seed: int = 0):
        shapes = {}
        for i in range(n_branches):
            shapes[f"b{i}.weight"] = (width, width)
            shapes[f"b{i}.bias"] = (width,)
        self.n_branches, self.width = n_branches, width
        self.params = _states(random_tree(shapes, seed, 0.1))

    def batch(self, n: int = 32, seed: int = 1):
        rng = np.random.default_rng(seed)
        x = jnp.asarray(rng.standard_normal((n, self.width)).astype(np.float32))
        return x, jnp.zeros_like(x)

    def loss(self, x, y):
        p = {k: s.value for k, s in self.params.items()}
        return self.loss_of(p, x, y)

    def loss_of(self, p: dict, x, y):
        # Elementwise per leaf: 250 small matmuls would make XLA compile for
        # minutes, and the point here is the per-leaf cost of the update.
        total = 0.0
        for i in range(self.n_branches):
            w, b = p[f"b{i}.weight"], p[f"b{i}.bias"]
            total = total + jnp.mean(jnp.tanh(w * x[0] + b) ** 2)
        return total + jnp.mean((x - y) ** 2)
