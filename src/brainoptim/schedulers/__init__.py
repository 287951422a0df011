"""Learning-rate schedulers with torch's semantics, read by compiled brainstate steps.

A scheduler is built before the optimizer and given to it as ``lr=``; its
``lr_values`` State carries the lr of every param group into the compiled step,
and ``step()`` moves it to the next epoch from Python without retracing.
"""

from ._base import Constant, LRScheduler, as_scheduler, check_lr
from ._composite import ChainedScheduler, SequentialLR
from ._cosine import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    WarmupCosineSchedule,
    WarmupScheduler,
)
from ._cyclic import CyclicLR, OneCycleLR
from ._decay import (
    ConstantLR,
    ExponentialDecayLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ._plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler",
    "Constant",
    "as_scheduler",
    "check_lr",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "ExponentialDecayLR",
    "ConstantLR",
    "LinearLR",
    "PolynomialLR",
    "LambdaLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "WarmupCosineSchedule",
    "WarmupScheduler",
    "OneCycleLR",
    "CyclicLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "ChainedScheduler",
]
