"""Training one model with one optimizer, and measuring what the optimizer costs.

A run builds the model from a seed, registers its parameters with the optimizer,
compiles one train step with :func:`brainoptim.jit_step` (parameters and optimizer
state updated in place) and trains for a number of
epochs, recording per epoch the training loss and accuracy, the validation loss and
accuracy and the epoch's time. After training it measures

- the optimizer state's bytes, summed exactly over the state's arrays, and their
  ratio to the parameters' bytes;
- the compiled train step's memory as XLA's ``memory_analysis()`` reports it;
- the median time of a train step after compilation, and the compile time (first
  call minus that median).

Optimizers whose registry entry says ``needs_value_fn`` (L-BFGS with a line search)
train full-batch: each iteration sees the whole training set and the line search
evaluates the loss at trial parameters through a ``value_fn``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._jit import jit_step
from .data import Dataset, as_model_input
from .models import build_model

__all__ = [
    "RunSpec",
    "Reporter",
    "train_run",
    "tree_nbytes",
    "state_nbytes",
    "param_states",
    "create_optimizer",
    "needs_value_fn",
]

logger = logging.getLogger(__name__)

_EVAL_CHUNK = 1024


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What one training run does.

    Attributes:
        model: the model kind (``cnn``, ``transformer``, ``rnn``, ``mlp``).
        optimizer: the registry name of the optimizer.
        label: how tables and figures name the run.
        epochs: the number of epochs.
        batch_size: the mini-batch size (ignored by full-batch optimizers).
        seed: seeds the weights, the batch order and the gradient noise.
        overrides: constructor arguments replacing the registry's defaults.
        grad_noise: the standard deviation of Gaussian noise added to every
            gradient entry; ``0`` adds none.
        switch_to: the optimizer to continue with from epoch ``switch_epoch`` on,
            keeping the trained parameters; ``None`` trains with one optimizer.
        switch_epoch: the epoch of the switch.
        lbfgs_iters: full-batch iterations per epoch for optimizers with a line
            search.
        width: the model's width factor (see ``build_model``).
        limit_steps: stop each epoch after this many steps (for quick tests).
    """

    model: str
    optimizer: str
    label: str
    epochs: int
    batch_size: int
    seed: int = 0
    overrides: dict = dataclasses.field(default_factory=dict)
    grad_noise: float = 0.0
    switch_to: str | None = None
    switch_epoch: int = 0
    lbfgs_iters: int = 20
    width: int = 1
    limit_steps: int | None = None


class Reporter:
    """Receives progress events; the library's default reports nothing.

    The command line passes a subclass that draws ``rich`` progress bars.
    """

    def start_run(self, label: str, total_steps: int) -> None:
        """A run of ``total_steps`` optimizer steps begins."""

    def advance(self, steps: int = 1, **metrics: float) -> None:
        """``steps`` more steps are done; ``metrics`` are the latest numbers."""

    def end_run(self, result: dict) -> None:
        """The run finished with ``result``."""


# -- optimizers --------------------------------------------------------------


def create_optimizer(name: str, **overrides):
    """The optimizer the registry builds for ``name`` with ``overrides``."""
    from brainoptim import registry

    return registry.create(name, **overrides)


def needs_value_fn(name: str) -> bool:
    """Whether optimizer ``name`` needs the loss function (a line search)."""
    from brainoptim import registry

    return bool(getattr(registry.get(name), "needs_value_fn", False))


# -- pytrees of States ---------------------------------------------------------


def _is_state(x) -> bool:
    return isinstance(x, brainstate.State)


def param_states(model: brainstate.nn.Module):
    """The model's ParamStates as the pytree an optimizer registers."""
    from brainoptim import UniqueStateManager

    return UniqueStateManager(model.states(brainstate.ParamState)).to_pytree()


def _leaves_of_states(states) -> list[brainstate.State]:
    return jax.tree.leaves(states, is_leaf=_is_state)


def tree_nbytes(tree) -> int:
    """The exact bytes of every array in ``tree``; States count by their values."""
    total = 0
    for leaf in jax.tree.leaves(tree, is_leaf=_is_state):
        if _is_state(leaf):
            total += tree_nbytes(leaf.value)
        elif hasattr(leaf, "nbytes"):
            total += int(leaf.nbytes)
        elif isinstance(leaf, (int, float, bool)):
            total += int(np.asarray(leaf).nbytes)
    return total


def state_nbytes(optimizer) -> int:
    """Bytes of the optimizer's state arrays: moments, counters, slow weights.

    The sum runs over the arrays in ``optimizer.opt_state``; the learning-rate
    scheduler's value and the shell's step counter are not part of it.
    """
    return int(optimizer.state_nbytes())


# -- one run -----------------------------------------------------------------


def _cross_entropy(logits, labels):
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    acc = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return loss, acc


class _Trainer:
    """The model, its jitted evaluation and one jitted train step per optimizer."""

    def __init__(self, spec: RunSpec, data: Dataset):
        self.spec = spec
        self.data = data
        self.x_train = as_model_input(data.x_train, spec.model)
        self.y_train = data.y_train
        self.x_val = as_model_input(data.x_val, spec.model)
        self.y_val = data.y_val
        self.x_test = as_model_input(data.x_test, spec.model)
        self.y_test = data.y_test

        brainstate.random.seed(spec.seed)
        self.model = build_model(
            spec.model, self.x_train.shape[1:], data.n_classes, spec.width
        )
        self.params = param_states(self.model)
        self.noise_key = jax.random.key(spec.seed)

        @brainstate.transform.jit
        def evaluate(x, y, mask):
            logits = self.model(x)
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)
            correct = jnp.argmax(logits, axis=-1) == y
            return jnp.sum(losses * mask), jnp.sum(correct * mask)

        self._evaluate = evaluate
        # Copies: the train step updates the parameters' buffers in place.
        self._initial = [
            jax.tree.map(jnp.copy, s.value) for s in _leaves_of_states(self.params)
        ]

    def reset(self) -> None:
        """Puts the initial weights back, so the next run starts where this one did."""
        for state, value in zip(
            _leaves_of_states(self.params), self._initial, strict=True
        ):
            state.value = jax.tree.map(jnp.copy, value)

    def loss(self, x, y):
        return _cross_entropy(self.model(x), y)

    def make_step(self, optimizer, full_batch: bool):
        sigma = float(self.spec.grad_noise)
        params = self.params
        key = self.noise_key

        def noisy(grads, i):
            if sigma == 0.0:
                return grads
            leaves, treedef = jax.tree.flatten(grads)
            keys = jax.random.split(jax.random.fold_in(key, i), len(leaves))
            leaves = [
                g + sigma * jax.random.normal(k, g.shape, g.dtype)
                for g, k in zip(leaves, keys, strict=True)
            ]
            return jax.tree.unflatten(treedef, leaves)

        @jit_step
        def step(x, y, i):
            grads, loss, acc = brainstate.transform.grad(
                self.loss, grad_states=params, has_aux=True, return_value=True
            )(x, y)
            grads = noisy(grads, i)
            if full_batch:
                value_fn = optimizer.value_fn(lambda: self.loss(x, y)[0])
                optimizer.update(grads, value=loss, value_fn=value_fn)
            else:
                optimizer.update(grads)
            return loss, acc

        return step

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean loss and accuracy over ``x``, in chunks of one compiled shape."""
        n = len(y)
        chunk = min(n, _EVAL_CHUNK)
        total_loss = total_correct = 0.0
        for start in range(0, n, chunk):
            xb, yb = x[start : start + chunk], y[start : start + chunk]
            mask = np.ones(chunk, np.float32)
            if len(yb) < chunk:
                pad = chunk - len(yb)
                mask[len(yb) :] = 0.0
                xb = np.concatenate([xb, np.repeat(xb[:1], pad, axis=0)])
                yb = np.concatenate([yb, np.repeat(yb[:1], pad)])
            loss, correct = self._evaluate(xb, yb, mask)
            total_loss += float(loss)
            total_correct += float(correct)
        return total_loss / n, total_correct / n


def _memory_stats(step, *args) -> dict[str, int]:
    """XLA's memory analysis of the compiled ``step`` for ``args``."""
    try:
        stats = step.lower(*args).compile().memory_analysis()
    except Exception as err:  # a backend without memory analysis
        logger.warning("memory_analysis() is unavailable: %s", err)
        return {}
    if stats is None:
        return {}
    out = {
        "argument_bytes": int(stats.argument_size_in_bytes),
        "output_bytes": int(stats.output_size_in_bytes),
        "temp_bytes": int(stats.temp_size_in_bytes),
        "alias_bytes": int(stats.alias_size_in_bytes),
        "generated_code_bytes": int(stats.generated_code_size_in_bytes),
    }
    out["peak_bytes"] = (
        out["argument_bytes"]
        + out["output_bytes"]
        + out["temp_bytes"]
        - out["alias_bytes"]
    )
    return out


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def train_run(
    spec: RunSpec,
    data: Dataset,
    reporter: Reporter | None = None,
    cache: dict | None = None,
) -> dict[str, Any]:
    """Trains ``spec.model`` on ``data`` with ``spec.optimizer``; returns the record.

    Args:
        spec: the run.
        data: the data set, in its own layout (the model's view is derived).
        reporter: receives progress events.
        cache: a dict in which runs on the same model, data and seed share one
            model (reset to its initial weights) and its compiled evaluation.

    Returns:
        A dict of plain Python values: the spec, ``history`` (per epoch:
        ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``epoch_time``,
        ``lr``; per step: ``step_loss``), ``initial_val_loss``, ``test_loss``,
        ``test_acc`` and ``measure`` (state bytes, parameter bytes, their ratio,
        XLA memory, step and compile time). A non-finite loss is recorded as
        ``None``.
    """
    reporter = reporter or Reporter()
    if spec.epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {spec.epochs}")
    if spec.switch_to is not None and not 0 < spec.switch_epoch < spec.epochs:
        raise ValueError(
            f"the switch epoch must be in [1, {spec.epochs - 1}] for "
            f"{spec.epochs} epochs, got {spec.switch_epoch}"
        )
    key = (spec.model, spec.width, spec.seed, spec.grad_noise, id(data))
    if cache is None:
        trainer = _Trainer(spec, data)
    else:
        trainer = cache.get(key)
        if trainer is None:
            trainer = cache[key] = _Trainer(spec, data)
        trainer.reset()
    n_train = len(trainer.y_train)
    batch_size = min(spec.batch_size, n_train)
    n_batches = n_train // batch_size
    if spec.limit_steps is not None:
        n_batches = min(n_batches, spec.limit_steps)

    phases = [(spec.optimizer, 0)]
    if spec.switch_to is not None:
        phases.append((spec.switch_to, spec.switch_epoch))

    def steps_in(name: str) -> int:
        if not needs_value_fn(name):
            return n_batches
        if spec.limit_steps is not None:
            return min(spec.lbfgs_iters, spec.limit_steps)
        return spec.lbfgs_iters

    total = 0
    for k, (name, start) in enumerate(phases):
        end = phases[k + 1][1] if k + 1 < len(phases) else spec.epochs
        total += (end - start) * steps_in(name)
    reporter.start_run(spec.label, total)

    initial_val_loss, initial_val_acc = trainer.evaluate(trainer.x_val, trainer.y_val)
    history: dict[str, list] = {
        key: []
        for key in (
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "epoch_time",
            "lr",
            "optimizer",
            "step_loss",
        )
    }
    shuffle = np.random.default_rng(spec.seed)
    step_times: list[float] = []
    first_calls: list[float] = []
    measure: dict[str, Any] = {}
    param_bytes = tree_nbytes(trainer.params)
    step_counter = 0
    optimizer = step = None
    full_batch = False
    name = spec.optimizer
    overrides = dict(spec.overrides)

    for epoch in range(spec.epochs):
        for phase_name, start in phases:
            if epoch == start:
                name = phase_name
                optimizer = create_optimizer(
                    name, **(overrides if name == spec.optimizer else {})
                )
                optimizer.register_trainable_weights(trainer.params)
                full_batch = needs_value_fn(name)
                step = trainer.make_step(optimizer, full_batch)
                first_call = True

        if full_batch:
            batches = [np.arange(n_train)] * steps_in(name)
        else:
            perm = shuffle.permutation(n_train)
            batches = [
                perm[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)
            ]

        losses, accs, epoch_time, compiled_here = [], [], 0.0, False
        for idx in batches:
            xb, yb = trainer.x_train[idx], trainer.y_train[idx]
            i = np.uint32(step_counter)
            t0 = time.perf_counter()
            loss, acc = jax.block_until_ready(step(xb, yb, i))
            dt = time.perf_counter() - t0
            if first_call:
                compiled_here = True
                first_calls.append(dt)
                if not measure:
                    measure["memory"] = _memory_stats(step, xb, yb, i)
                first_call = False
            else:
                step_times.append(dt)
                epoch_time += dt
            step_counter += 1
            losses.append(float(loss))
            accs.append(float(acc))
            reporter.advance(1, loss=float(loss))

        if compiled_here and step_times:
            # The compiling first call counts as one ordinary step in the epoch.
            epoch_time += float(np.median(step_times))
        val_loss, val_acc = trainer.evaluate(trainer.x_val, trainer.y_val)
        history["train_loss"].append(_finite(np.mean(losses)))
        history["train_acc"].append(float(np.mean(accs)))
        history["val_loss"].append(_finite(val_loss))
        history["val_acc"].append(float(val_acc))
        history["epoch_time"].append(epoch_time)
        history["lr"].append(float(optimizer.current_lr))
        history["optimizer"].append(name)
        history["step_loss"].extend(_finite(v) for v in losses)
        if epoch == 0:
            measure["state_bytes"] = state_nbytes(optimizer)
        optimizer.lr.step()

    test_loss, test_acc = trainer.evaluate(trainer.x_test, trainer.y_test)
    median = float(np.median(step_times)) if step_times else float("nan")
    measure.update(
        param_bytes=param_bytes,
        n_params=int(sum(np.size(v) for v in jax.tree.leaves(_values(trainer.params)))),
        state_to_param_ratio=measure["state_bytes"] / param_bytes,
        step_time_median=_finite(median),
        compile_time=_finite(first_calls[0] - median) if step_times else None,
        steps=step_counter,
        steps_per_epoch=[steps_in(n) for n, _ in phases],
        full_batch=[needs_value_fn(n) for n, _ in phases],
    )
    result = {
        "label": spec.label,
        "model": spec.model,
        "optimizer": spec.optimizer,
        "switch_to": spec.switch_to,
        "switch_epoch": spec.switch_epoch if spec.switch_to else None,
        "hyperparameters": _jsonable(overrides),
        "epochs": spec.epochs,
        "batch_size": batch_size,
        "grad_noise": spec.grad_noise,
        "seed": spec.seed,
        "width": spec.width,
        "initial_val_loss": _finite(initial_val_loss),
        "initial_val_acc": float(initial_val_acc),
        "history": history,
        "final_train_loss": history["train_loss"][-1],
        "final_val_loss": history["val_loss"][-1],
        "final_val_acc": history["val_acc"][-1],
        "test_loss": _finite(test_loss),
        "test_acc": float(test_acc),
        "measure": measure,
    }
    reporter.end_run(result)
    return result


def _values(states):
    return jax.tree.map(lambda s: s.value, states, is_leaf=_is_state)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)
