"""Build your own optimizer from transforms and get the whole stateful API.

The tutorial's exercise: combine ideas from different methods. Here, Lion's sign
update is taken over Adafactor's factored second moment (so the direction is
sign(momentum of g / sqrt(V_hat))), with decoupled weight decay and a cosine
schedule, trained on scikit-learn's digits with a small MLP.

    python examples/custom_optimizer.py
"""

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import brainoptim


class MLP(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = brainstate.nn.Linear(64, 128)
        self.l2 = brainstate.nn.Linear(128, 10)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def main(epochs: int = 10) -> float:
    x, y = load_digits(return_X_y=True)
    x = jnp.asarray(x / 16.0, jnp.float32)
    y = jnp.asarray(y)

    brainstate.random.seed(0)
    model = MLP()
    params = brainoptim.UniqueStateManager(
        model.states(brainstate.ParamState)
    ).to_pytree()

    opt = brainoptim.Custom(
        optax.scale_by_factored_rms(min_dim_size_to_factor=32),
        optax.scale_by_lion(b1=0.9, b2=0.99),
        lr=brainoptim.schedulers.CosineAnnealingLR(base_lr=3e-3, T_max=epochs),
        weight_decay=1e-4,
    )
    opt.register_trainable_weights(params)

    def loss_fn(xb, yb):
        logits = model(xb)
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(yb)), yb])

    @brainstate.transform.jit
    def train_step(xb, yb):
        grads, loss = brainstate.transform.grad(
            loss_fn, grad_states=params, return_value=True
        )(xb, yb)
        opt.update(grads)
        return loss

    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        losses = [
            float(train_step(x[idx], y[idx]))
            for idx in np.array_split(order, len(y) // 64)
        ]
        print(f"epoch {epoch}: loss {np.mean(losses):.4f}, lr {opt.current_lr:.2e}")
        opt.lr.step()

    accuracy = float(jnp.mean(jnp.argmax(model(x), -1) == y))
    print(f"train accuracy {accuracy:.3f}; state {opt.state_nbytes()} bytes")
    return accuracy


if __name__ == "__main__":
    main()
