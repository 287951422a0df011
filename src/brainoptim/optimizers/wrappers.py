"""Optimizers built from other optimizers or from transforms: Lookahead, Custom."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optax

from .. import transforms as T
from .._base import SHELL_OPTIONS, Optimizer

__all__ = ["Lookahead", "Custom"]


class Lookahead(Optimizer):
    r"""Lookahead around any brainoptim optimizer.

    The wrapped (fast) optimizer takes ``sync_period`` steps; then the slow weights
    move ``alpha`` of the way towards the fast ones and the fast weights restart
    from them: :math:`\phi \leftarrow \phi + \alpha(\theta - \phi)`,
    :math:`\theta \leftarrow \phi`. The learning rate, its scheduler and the shell's
    options (``grad_clip_norm``, ``skip_nonfinite``, ...) are the wrapped
    optimizer's: set them there. The slow weights are in ``state_dict``; the
    group hyperparameter ``lookahead`` holds ``sync_period`` and ``alpha``.

    Args:
        optimizer: an unregistered brainoptim optimizer, e.g. ``SGD(lr=0.1)``.
        sync_period: :math:`k \ge 1`. Default 5.
        alpha: :math:`\alpha \in (0, 1]`. Default 0.5.

    References:
        Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step
        back", NeurIPS 2019. https://arxiv.org/abs/1907.08610

    Example:
        >>> import brainoptim
        >>> opt = brainoptim.Lookahead(brainoptim.SGD(lr=0.1, momentum=0.9),
        ...                            sync_period=5, alpha=0.5)
        >>> opt.current_lr
        0.1
    """

    def __init__(self, optimizer: Optimizer, sync_period: int = 5, alpha: float = 0.5):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "optimizer must be a brainoptim optimizer, got "
                f"{type(optimizer).__name__}"
            )
        if optimizer.param_groups:
            raise ValueError(
                "the wrapped optimizer already has registered weights; register them "
                "with the Lookahead instead"
            )
        if isinstance(optimizer, Lookahead):
            raise TypeError("Lookahead cannot wrap another Lookahead")
        self.optimizer = optimizer
        self.needs_value_fn = optimizer.needs_value_fn
        # Lookahead's own two settings sit under one key, apart from the wrapped
        # optimizer's hyperparameters (RMSprop has an ``alpha`` of its own).
        own = {"sync_period": sync_period, "alpha": alpha}
        super().__init__(optimizer.lr, **optimizer.options, lookahead=own,
                         **optimizer.defaults)  # fmt: skip

    def _make_transform(self, lr, hparams):
        inner = dict(hparams)
        own = inner.pop("lookahead")
        return T.lookahead(
            self.optimizer._make_transform(lr, inner), own["sync_period"], own["alpha"]
        )


class Custom(Optimizer):
    r"""An optimizer made of transforms, with the whole stateful API.

    The rule is ``chain(*transforms, decay, lr)``: the transforms give the direction
    (optax's or brainoptim's, lr-free), decoupled weight decay is added, and the
    learning rate (a float or a scheduler) scales the result. Instead of
    transforms, pass one function ``factory(**hparams) -> GradientTransformation``
    and its hyperparameters as keywords; then ``add_param_group`` can change them.

    Args:
        *transforms: optax ``GradientTransformation``\ s, or one factory function.
        lr: a float or a scheduler.
        weight_decay: decoupled decay, ``>= 0``.
        **kwargs: the factory's hyperparameters and the shell's options.

    Example:
        Lion's sign update over Adafactor's factored second moment:

        >>> import optax, brainoptim
        >>> opt = brainoptim.Custom(
        ...     optax.scale_by_factored_rms(min_dim_size_to_factor=2),
        ...     optax.scale_by_lion(b1=0.9, b2=0.99),
        ...     lr=1e-3, weight_decay=1e-4)
    """

    def __init__(self, *transforms: Any, lr=1e-3, weight_decay: float = 0.0, **kwargs):
        if not transforms:
            raise ValueError("Custom needs at least one transform or a factory")
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in SHELL_OPTIONS}
        if len(transforms) == 1 and callable(transforms[0]):
            self._factory: Callable[..., Any] = transforms[0]
        else:
            for i, t in enumerate(transforms):
                if not isinstance(
                    t,
                    (
                        optax.GradientTransformation,
                        optax.GradientTransformationExtraArgs,
                    ),
                ):
                    raise TypeError(
                        f"transforms[{i}] must be an optax GradientTransformation, "
                        f"got {type(t).__name__}"
                    )  # fmt: skip
            if kwargs:
                raise TypeError(
                    f"unexpected arguments {sorted(kwargs)}: hyperparameters need a "
                    "factory function instead of fixed transforms"
                )
            chain = optax.chain(*transforms)
            self._factory = lambda: chain
        super().__init__(lr, weight_decay=weight_decay, **options, **kwargs)

    def _make_transform(self, lr, hparams):
        hp = dict(hparams)
        weight_decay = hp.pop("weight_decay")
        return optax.chain(
            self._factory(**hp),
            T.aliases._decay(weight_decay),
            T.aliases._lr(lr),
        )
