"""The optimizer classes: thin stateful shells, one family per module."""

from .adam import AdaBelief, Adam, Adamax, AdamW, NAdam, RAdam, Yogi
from .adaptive import SM3, Adadelta, Adafactor, Adagrad, Novograd, RMSprop
from .layerwise import Lamb, Lars, Lion
from .lbfgs import LBFGS
from .sgd import SGD, Rprop
from .wrappers import Custom, Lookahead

__all__ = [
    "SGD", "Rprop", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "AdaBelief",
    "Yogi", "Adagrad", "Adadelta", "RMSprop", "Adafactor", "SM3", "Novograd",
    "Lion", "Lamb", "Lars", "LBFGS", "Lookahead", "Custom",
]  # fmt: skip
