"""The one list of optimizers: name -> class, reference, tutorial hyperparameters.

The package's ``__all__``, the CLI's choices, the README's table and the shared
tests are all read from :data:`REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import optimizers as O
from ._base import Optimizer

__all__ = ["OptimizerSpec", "REGISTRY", "TUTORIAL_OPTIMIZERS", "get", "create", "names"]


@dataclass(frozen=True)
class OptimizerSpec:
    """What brainoptim knows about one optimizer.

    Attributes:
        name: the class name.
        cls: the class.
        reference: what its trajectory is tested against.
        citation: the paper or definition.
        defaults: the tutorial's (or a sensible) constructor call, as kwargs.
        settings: hyperparameter sets used by the reference-trajectory tests.
        aliases: other accepted names (e.g. braintools.optim's).
        needs_value_fn: ``update`` needs ``value=`` and ``value_fn=``.
        weight_decay: the constructor takes ``weight_decay``.
    """

    name: str
    cls: type[Optimizer]
    reference: str
    citation: str
    defaults: dict[str, Any] = field(default_factory=dict)
    settings: tuple[dict[str, Any], ...] = ()
    aliases: tuple[str, ...] = ()
    needs_value_fn: bool = False
    weight_decay: bool = True

    def create(self, **overrides: Any) -> Optimizer:
        """An instance with the default hyperparameters, updated by ``overrides``."""
        kwargs = {**self.defaults, **overrides}
        if self.cls is O.Lookahead:
            outer = {k: kwargs.pop(k) for k in ("sync_period", "alpha") if k in kwargs}
            inner = kwargs.pop("optimizer", None) or O.SGD(**kwargs)
            return O.Lookahead(inner, **outer)
        return self.cls(**kwargs)


def _spec(cls, reference, citation, defaults, settings, **kw) -> OptimizerSpec:
    return OptimizerSpec(cls.__name__, cls, reference, citation, defaults,
                         tuple(settings), **kw)  # fmt: skip


_TORCH = "torch.optim.{} 2.13"
_OPTAX = "optax 0.2.8 {} (the paper's rule)"

REGISTRY: dict[str, OptimizerSpec] = {
    s.name: s
    for s in [
        _spec(
            O.Lion,
            _OPTAX.format("lion"),
            "Chen et al., Symbolic Discovery of Optimization Algorithms, 2023",
            dict(lr=3e-4, betas=(0.9, 0.99), weight_decay=1e-4),
            [dict(lr=1e-2), dict(lr=3e-3, betas=(0.95, 0.98), weight_decay=0.1)],
        ),
        _spec(
            O.Adafactor,
            _OPTAX.format("adafactor"),
            "Shazeer & Stern, Adafactor, ICML 2018",
            dict(lr=1e-3, decay_rate=0.8, factored=True, clip_threshold=1.0),
            [
                dict(lr=1e-2, min_dim_size_to_factor=2),
                dict(
                    lr=1e-2,
                    clip_threshold=0.05,
                    min_dim_size_to_factor=2,
                    multiply_by_parameter_scale=False,
                ),
                dict(lr=1e-2, factored=False, momentum=0.9, weight_decay=1e-2),
            ],
        ),
        _spec(
            O.Lookahead,
            "the paper's rule over torch.optim.SGD",
            "Zhang et al., Lookahead Optimizer, NeurIPS 2019",
            dict(lr=0.1, momentum=0.9, sync_period=5, alpha=0.5),
            [
                dict(lr=0.05, momentum=0.9, sync_period=5, alpha=0.5),
                dict(lr=0.1, momentum=0.0, sync_period=3, alpha=0.8),
            ],
            weight_decay=False,
        ),
        _spec(
            O.RAdam,
            _TORCH.format("RAdam"),
            "Liu et al., On the Variance of the Adaptive Learning Rate, ICLR 2020",
            dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4),
            [
                dict(lr=1e-2),
                dict(lr=1e-2, weight_decay=0.1),
                dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
            ],
        ),
        _spec(
            O.Lamb,
            _OPTAX.format("lamb"),
            "You et al., Large Batch Optimization for Deep Learning, ICLR 2020",
            dict(
                lr=2e-3,
                betas=(0.9, 0.999),
                eps=1e-6,
                weight_decay=0.01,
                grad_clip_value=10.0,
            ),
            [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1, eps=1e-4)],
        ),
        _spec(
            O.Lars,
            _OPTAX.format("lars"),
            "You, Gitman & Ginsburg, Large Batch Training of CNNs, 2017",
            dict(
                lr=0.1,
                momentum=0.9,
                weight_decay=1e-4,
                trust_coefficient=0.001,
                eps=1e-8,
            ),
            [
                dict(lr=1.0),
                dict(lr=0.5, weight_decay=0.1, nesterov=True, trust_coefficient=0.01),
            ],
        ),
        _spec(
            O.SM3,
            _OPTAX.format("scale_by_sm3"),
            "Anil et al., Memory-Efficient Adaptive Optimization, NeurIPS 2019",
            dict(lr=1e-3, momentum=0.9, eps=1e-8),
            [dict(lr=1e-2), dict(lr=1e-2, momentum=0.0)],
            weight_decay=False,
        ),
        _spec(
            O.LBFGS,
            "torch.optim.LBFGS(line_search_fn='strong_wolfe'): iterations to converge",
            "Liu & Nocedal, On the limited memory BFGS method, 1989",
            dict(lr=1.0, memory_size=10, line_search_fn="zoom"),
            [],
            needs_value_fn=True,
            weight_decay=False,
        ),
        _spec(
            O.Rprop,
            _TORCH.format("Rprop"),
            "Riedmiller & Braun, RPROP, ICNN 1993",
            dict(lr=1e-3, etas=(0.5, 1.2), step_sizes=(1e-6, 50)),
            [dict(lr=1e-2), dict(lr=1e-3, etas=(0.3, 1.5), step_sizes=(1e-4, 0.05))],
            weight_decay=False,
        ),
        _spec(
            O.Yogi,
            _OPTAX.format("yogi"),
            "Zaheer et al., Adaptive Methods for Nonconvex Optimization, 2018",
            dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-3),
            [dict(lr=1e-2), dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-2)],
            weight_decay=False,
        ),
        _spec(
            O.Adam,
            _TORCH.format("Adam"),
            "Kingma & Ba, Adam, ICLR 2015",
            dict(lr=1e-3),
            [
                dict(lr=1e-2),
                dict(lr=1e-2, weight_decay=0.1, amsgrad=True),
                dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
            ],
        ),
        _spec(
            O.AdamW,
            _TORCH.format("AdamW"),
            "Loshchilov & Hutter, Decoupled Weight Decay Regularization, 2019",
            dict(lr=1e-3, weight_decay=1e-2),
            [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1, amsgrad=True)],
        ),
        _spec(
            O.SGD,
            _TORCH.format("SGD"),
            "Robbins & Monro, 1951; Polyak, 1964",
            dict(lr=0.1, momentum=0.9),
            [
                dict(lr=0.1),
                dict(lr=0.05, momentum=0.9, weight_decay=0.1),
                dict(lr=0.05, momentum=0.9, dampening=0.3),
                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            ],
        ),
        _spec(
            O.NAdam,
            _TORCH.format("NAdam"),
            "Dozat, Incorporating Nesterov Momentum into Adam, 2016",
            dict(lr=2e-3),
            [
                dict(lr=1e-2),
                dict(lr=1e-2, weight_decay=0.1, momentum_decay=1e-2),
                dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
            ],
            aliases=("Nadam",),
        ),
        _spec(
            O.Adamax,
            _TORCH.format("Adamax"),
            "Kingma & Ba, Adam, ICLR 2015",
            dict(lr=2e-3),
            [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1)],
        ),
        _spec(
            O.Adagrad,
            _TORCH.format("Adagrad"),
            "Duchi et al., JMLR 2011",
            dict(lr=1e-2),
            [
                dict(lr=1e-1),
                dict(
                    lr=1e-1,
                    lr_decay=0.01,
                    weight_decay=0.1,
                    initial_accumulator_value=0.1,
                ),
            ],
        ),
        _spec(
            O.Adadelta,
            _TORCH.format("Adadelta"),
            "Zeiler, ADADELTA, 2012",
            dict(lr=1.0),
            [dict(lr=1.0), dict(lr=0.5, rho=0.8, weight_decay=0.1)],
        ),
        _spec(
            O.RMSprop,
            _TORCH.format("RMSprop"),
            "Hinton, lecture 6e, 2012",
            dict(lr=1e-3),
            [
                dict(lr=1e-2),
                dict(lr=1e-2, centered=True, momentum=0.9),
                dict(lr=1e-2, weight_decay=0.1, momentum=0.5, alpha=0.9),
            ],
            aliases=("RMSProp",),
        ),
        _spec(
            O.AdaBelief,
            _OPTAX.format("adabelief"),
            "Zhuang et al., AdaBelief Optimizer, NeurIPS 2020",
            dict(lr=1e-3),
            [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1)],
        ),
        _spec(
            O.Novograd,
            _OPTAX.format("novograd"),
            "Ginsburg et al., Stochastic Gradient Methods with Layer-wise "
            "Adaptive Moments, 2019",
            dict(lr=1e-2),
            [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1)],
        ),
    ]
}

#: The ten optimizers of the tutorial, in its order.
TUTORIAL_OPTIMIZERS = ("Lion", "Adafactor", "Lookahead", "RAdam", "Lamb", "Lars",
                       "SM3", "LBFGS", "Rprop", "Yogi")  # fmt: skip

_LOOKUP = {k.lower(): s for s in REGISTRY.values() for k in (s.name, *s.aliases)}


def get(name: str) -> OptimizerSpec:
    """The spec of ``name`` (case-insensitive; aliases such as ``Nadam`` work)."""
    try:
        return _LOOKUP[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; choose from {', '.join(names())}"
        ) from None


def create(name: str, **overrides: Any) -> Optimizer:
    """An optimizer by name with its default hyperparameters and ``overrides``."""
    return get(name).create(**overrides)


def names() -> list[str]:
    """Every registered optimizer name."""
    return list(REGISTRY)


def markdown_table() -> str:
    """The README's table of optimizers, made from the registry."""
    rows = ["| optimizer | tested against | reference |", "|---|---|---|"]
    for s in REGISTRY.values():
        also = "".join(f", `{a}`" for a in s.aliases)
        rows.append(f"| `{s.name}`{also} | {s.reference} | {s.citation} |")
    return "\n".join(rows)
