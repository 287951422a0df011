"""The four classifiers of the comparison, written with brainstate.

Every model maps a batch of inputs to class logits and keeps its weights in
``brainstate.ParamState`` objects only, so a model call is a function of its
parameters and its input alone. Sizes are small enough that the default comparison
on digits runs in minutes on two CPU cores; :func:`build_model` takes a ``width``
factor for larger versions.
"""

from __future__ import annotations

import math

import brainstate
import jax
import jax.numpy as jnp

__all__ = ["CNN", "TransformerClassifier", "RecurrentClassifier", "MLP", "build_model"]

MODEL_KINDS = ("cnn", "transformer", "rnn", "mlp")


class CNN(brainstate.nn.Module):
    """Two blocks of 3x3 convolution, ReLU and 2x2 max pooling, then a linear
    classifier on the flattened features.

    Args:
        in_size: one image's shape ``(H, W, C)``.
        n_classes: the number of classes.
        channels: the channels of the two convolutions.
    """

    def __init__(
        self,
        in_size: tuple[int, int, int],
        n_classes: int,
        channels: tuple[int, int] = (16, 32),
    ):
        super().__init__()
        h, w, _ = in_size
        self.conv1 = brainstate.nn.Conv2d(in_size, channels[0], 3, b_init=jnp.zeros)
        if h < 4 or w < 4:
            raise ValueError(f"the CNN needs images of at least 4x4, got {in_size}")
        self.pool = brainstate.nn.MaxPool2d(2, 2, channel_axis=-1)
        pooled = (h // 2, w // 2, channels[0])
        self.conv2 = brainstate.nn.Conv2d(pooled, channels[1], 3, b_init=jnp.zeros)
        features = (h // 4) * (w // 4) * channels[1]
        self.head = brainstate.nn.Linear(features, n_classes)

    def __call__(self, x):
        x = self.pool(jax.nn.relu(self.conv1(x)))
        x = self.pool(jax.nn.relu(self.conv2(x)))
        return self.head(x.reshape(x.shape[0], -1))


class MultiHeadSelfAttention(brainstate.nn.Module):
    """Scaled dot-product self-attention with ``n_heads`` heads.

    .. math::
        \\mathrm{head}_i = \\mathrm{softmax}\\big(Q_i K_i^\\top / \\sqrt{d_h}\\big) V_i,
        \\qquad \\mathrm{out} = [\\mathrm{head}_1, \\dots, \\mathrm{head}_h] W_o

    where ``Q, K, V`` are linear projections of the input and ``d_h = d / h``.
    """

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        if dim % n_heads:
            raise ValueError(
                f"dim must be divisible by n_heads, got dim={dim}, n_heads={n_heads}"
            )
        self.n_heads = n_heads
        self.qkv = brainstate.nn.Linear(dim, 3 * dim)
        self.out = brainstate.nn.Linear(dim, dim)

    def __call__(self, x):
        n, t, d = x.shape
        dh = d // self.n_heads
        qkv = self.qkv(x).reshape(n, t, 3, self.n_heads, dh)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]

        scores = jnp.einsum("nqhd,nkhd->nhqk", q, k) / math.sqrt(dh)
        weights = jax.nn.softmax(scores, axis=-1)

        heads = jnp.einsum("nhqk,nkhd->nqhd", weights, v)
        return self.out(heads.reshape(n, t, d))


class TransformerClassifier(brainstate.nn.Module):
    """A pre-norm Transformer encoder block with a classification head.

    The input sequence ``(T, F)`` is projected to ``dim`` features, a learned
    position embedding is added, one block of multi-head self-attention and a
    feed-forward layer (each with a residual connection) follows, and the mean over
    the sequence goes through a final LayerNorm to a linear classifier.

    Args:
        in_size: one sequence's shape ``(T, F)``.
        n_classes: the number of classes.
        dim: the model width.
        n_heads: the number of attention heads.
    """

    def __init__(
        self, in_size: tuple[int, int], n_classes: int, dim: int = 32, n_heads: int = 4
    ):
        super().__init__()
        t, f = in_size
        self.embed = brainstate.nn.Linear(f, dim)
        self.pos = brainstate.ParamState(
            0.02 * brainstate.random.normal(size=(t, dim)).astype(jnp.float32)
        )
        self.norm1 = brainstate.nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, n_heads)
        self.norm2 = brainstate.nn.LayerNorm(dim)
        self.ff1 = brainstate.nn.Linear(dim, 2 * dim)
        self.ff2 = brainstate.nn.Linear(2 * dim, dim)
        self.norm_out = brainstate.nn.LayerNorm(dim)
        self.head = brainstate.nn.Linear(dim, n_classes)

    def __call__(self, x):
        h = self.embed(x) + self.pos.value
        h = h + self.attn(self.norm1(h))
        h = h + self.ff2(jax.nn.gelu(self.ff1(self.norm2(h))))
        return self.head(self.norm_out(h.mean(axis=1)))


class RecurrentClassifier(brainstate.nn.Module):
    """A GRU that reads a sequence step by step and classifies its last state.

    An image is read one row per step. The gates follow Cho et al. (2014):

    .. math::
        r_t = \\sigma(W_r x_t + U_r h_{t-1} + b_r), \\quad
        z_t = \\sigma(W_z x_t + U_z h_{t-1} + b_z)

        \\tilde h_t = \\tanh(W_h x_t + r_t \\odot (U_h h_{t-1}) + b_h), \\quad
        h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t

    The hidden state is a local value of the call, not a State, so training and
    evaluation may use any batch size.

    Args:
        in_size: one sequence's shape ``(T, F)``.
        n_classes: the number of classes.
        hidden: the GRU width.
    """

    def __init__(self, in_size: tuple[int, int], n_classes: int, hidden: int = 64):
        super().__init__()
        _, f = in_size
        self.hidden = hidden
        self.input_gates = brainstate.nn.Linear(f, 3 * hidden)
        self.hidden_gates = brainstate.nn.Linear(
            hidden, 3 * hidden, b_init=None, w_init=brainstate.nn.init.Orthogonal()
        )
        self.head = brainstate.nn.Linear(hidden, n_classes)

    def __call__(self, x):
        xs = jnp.swapaxes(self.input_gates(x), 0, 1)  # (T, N, 3H)
        u = self.hidden_gates.weight.value["weight"]

        def cell(h, gx):
            gh = h @ u
            xr, xz, xh = jnp.split(gx, 3, axis=-1)
            hr, hz, hh = jnp.split(gh, 3, axis=-1)
            r = jax.nn.sigmoid(xr + hr)
            z = jax.nn.sigmoid(xz + hz)
            cand = jnp.tanh(xh + r * hh)
            return (1 - z) * h + z * cand, None

        h0 = jnp.zeros((x.shape[0], self.hidden), x.dtype)
        h, _ = jax.lax.scan(cell, h0, xs)
        return self.head(h)


class MLP(brainstate.nn.Module):
    """Fully connected layers with ReLU between them.

    Args:
        in_size: the number of input features (images are flattened first).
        n_classes: the number of classes.
        hidden: the widths of the hidden layers.
    """

    def __init__(
        self, in_size: int, n_classes: int, hidden: tuple[int, ...] = (128, 64)
    ):
        super().__init__()
        sizes = (in_size, *hidden, n_classes)
        self.layers = [
            brainstate.nn.Linear(a, b)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        return self.layers[-1](x)


def build_model(
    kind: str, sample_shape: tuple[int, ...], n_classes: int, width: int = 1
) -> brainstate.nn.Module:
    """Builds model ``kind`` for inputs of ``sample_shape`` (as the model reads them).

    Args:
        kind: ``cnn``, ``transformer``, ``rnn`` or ``mlp``.
        sample_shape: one input as :func:`~brainoptim.compare.data.as_model_input`
            lays it out for that model.
        n_classes: the number of classes.
        width: multiplies every hidden width; ``1`` gives the default sizes.

    Initial weights come from brainstate's global random state; seed it with
    ``brainstate.random.seed`` first for reproducible weights.
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an int >= 1, got {width!r}")
    if kind == "cnn":
        return CNN(tuple(sample_shape), n_classes, channels=(16 * width, 32 * width))
    if kind == "transformer":
        return TransformerClassifier(tuple(sample_shape), n_classes, dim=32 * width)
    if kind == "rnn":
        return RecurrentClassifier(tuple(sample_shape), n_classes, hidden=64 * width)
    if kind == "mlp":
        return MLP(math.prod(sample_shape), n_classes, hidden=(128 * width, 64 * width))
    raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
