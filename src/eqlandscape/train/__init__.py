"""The ensemble trainer and the training strategies (docs/design.md sections 4 and 6).

``train(task, TrainConfig(strategy=..., optimizer=..., n_models=K, steps=...))`` trains ``K``
students at once and returns a :class:`TrainResult` (a table with one row per student, the
initial and final weights, the config and the package version). The strategies, one module each,
are in :mod:`eqlandscape.train.strategies`.
"""

from eqlandscape.train.config import (
    OptimizerConfig,
    ScheduleConfig,
    StrategyConfig,
    TrainConfig,
    register_strategy_config,
    strategy_names,
)
from eqlandscape.train.optim import Optimizer
from eqlandscape.train.results import TrainResult
from eqlandscape.train.strategies import (
    AceConfig,
    AceResilientConfig,
    AugmentedConfig,
    ConstrainedConfig,
    FreeConfig,
    PenaltyConfig,
    RelaxedConfig,
    RppConfig,
    ScheduledConfig,
    Strategy,
    register_strategy,
)
from eqlandscape.train.trainer import TrainProgress, train

__all__ = [
    "AceConfig",
    "AceResilientConfig",
    "AugmentedConfig",
    "ConstrainedConfig",
    "FreeConfig",
    "Optimizer",
    "OptimizerConfig",
    "PenaltyConfig",
    "RelaxedConfig",
    "RppConfig",
    "ScheduleConfig",
    "ScheduledConfig",
    "Strategy",
    "StrategyConfig",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "register_strategy",
    "register_strategy_config",
    "strategy_names",
    "train",
]
