"""Training configuration: pydantic models, JSON-serializable, validated on construction.

Every invalid value raises :class:`~eqlandscape.errors.ConfigError` naming the field and the value
(``TrainConfig(steps=0)`` -> ``TrainConfig: steps=0: Input should be greater than 0``). Strategies
are looked up by name in a registry (:func:`register_strategy_config`, called by
:func:`eqlandscape.train.strategies.base.register_strategy`: each strategy's config class lives in
its own module of :mod:`eqlandscape.train.strategies`); a bare name such as ``"free"`` stands for
that strategy with its defaults, and so does an optimizer or schedule name.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from eqlandscape.errors import ConfigError

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
ConstrainedKind = Literal["orbit", "orthonormal", "projected"]
MAX_SEED = 2**63 - 1
"""Seeds are int64 (the counter-based streams of :mod:`eqlandscape.nn.rng`): ``0 .. 2^63 - 1``."""


def _describe(err: ValidationError, owner: str) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "value"
        shown = f"={e['input']!r}" if "input" in e and not isinstance(e["input"], dict) else ""
        parts.append(f"{loc}{shown}: {e['msg'].removeprefix('Value error, ')}")
    return f"{owner}: " + "; ".join(parts)


class Config(BaseModel):
    """Base of the configs: frozen, no unknown fields, :class:`ConfigError` on invalid values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise ConfigError(_describe(err, type(self).__name__)) from None

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse a config written by ``model_dump_json``."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as err:
            raise ConfigError(_describe(err, cls.__name__)) from None


class OptimizerConfig(Config):
    """``sgd`` (``p -= lr * buf``, ``buf = momentum * buf + g``, as ``torch.optim.SGD``; ``momentum``
    is for SGD only) or ``adam`` (as ``torch.optim.Adam``; :mod:`eqlandscape.train.optim`);
    hyperparameters shared by all models, state per model."""

    name: Literal["sgd", "adam"] = "adam"
    lr: PositiveFloat = 1e-2
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8

    @model_validator(mode="after")
    def _momentum_is_for_sgd(self) -> OptimizerConfig:
        if self.name != "sgd" and self.momentum:
            raise ValueError(f"momentum={self.momentum} applies to sgd, not to {self.name}")
        return self


class ScheduleConfig(Config):
    """Learning rate at step ``t`` of ``T``: ``constant`` ``lr``; ``cosine``
    ``min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2``; ``step`` ``lr * gamma ** (t // step_size)``."""

    name: Literal["constant", "cosine", "step"] = "constant"
    min_lr: NonNegativeFloat = 0.0
    step_size: PositiveInt = 1000
    gamma: PositiveFloat = 0.1

    def lr(self, base: float, step: int, total: int) -> float:
        if self.name == "cosine":
            return self.min_lr + (base - self.min_lr) * (1 + math.cos(math.pi * step / total)) / 2
        if self.name == "step":
            return base * self.gamma ** (step // self.step_size)
        return base


# ---------------------------------------------------------------------- strategies
_STRATEGY_CONFIGS: dict[str, type[StrategyConfig]] = {}


class StrategyConfig(Config):
    """Base of the strategy configs; ``name`` selects the subclass from the registry."""

    name: str

    @property
    def parametrization_label(self) -> str:
        """What the results table shows in its ``parametrization`` column."""
        return "free"


def register_strategy_config(cls: type[StrategyConfig]) -> type[StrategyConfig]:
    """Class decorator: make ``cls`` (whose ``name`` field defaults to its strategy name) known."""
    _STRATEGY_CONFIGS[cls.model_fields["name"].default] = cls
    return cls


def strategy_names() -> tuple[str, ...]:
    return tuple(_STRATEGY_CONFIGS)


def strategy_config_classes() -> dict[str, type[StrategyConfig]]:
    """The registered strategy configs by name (their fields are the strategies' options)."""
    return dict(_STRATEGY_CONFIGS)


def _strategy_config_class(name: Any) -> type[StrategyConfig]:
    """The registered config class of strategy ``name``; :class:`ConfigError` naming an unknown one."""
    cls = _STRATEGY_CONFIGS.get(name)
    if cls is None:
        raise ConfigError(f"unknown strategy {name!r}; expected one of {', '.join(_STRATEGY_CONFIGS)}")
    return cls


def strategy_fields(name: str) -> tuple[str, ...]:
    """The options of strategy ``name`` (its config's fields other than ``name``); raises
    :class:`ConfigError` for an unknown strategy."""
    return tuple(f for f in _strategy_config_class(name).model_fields if f != "name")


def strategy_config(value: str | dict[str, Any] | StrategyConfig) -> StrategyConfig:
    """A strategy config from its name, a dict with a ``name``, or a config (returned as is)."""
    if isinstance(value, StrategyConfig):
        return value
    data = {"name": value} if isinstance(value, str) else dict(value)
    return _strategy_config_class(data.get("name"))(**data)


# ---------------------------------------------------------------------- the run
class TrainConfig(Config):
    """One training run of ``n_models`` students with seeds ``first_seed + 0 .. n_models - 1``.

    Fields: ``strategy``, ``optimizer``, ``schedule`` (names or configs); ``steps`` (the step budget);
    ``batch_size`` (``None``: full batch; else minibatches in a per-model random order, a fresh
    permutation of the train set per epoch of ``n_train // batch_size`` steps); ``record_every``
    (metrics at steps ``0, r, 2r, ...`` and after the last step); ``loss_tol`` (a model whose train
    batch loss reaches it stops updating); ``success_tol`` (success: final test loss at most this;
    for a classification task, final test accuracy at least ``1 - success_tol``);
    ``dead_tol`` (dead: RMS output on the test set at most ``dead_tol`` times the RMS test label);
    ``init`` and ``init_scale`` (:mod:`eqlandscape.nn.architecture`); ``dtype``; ``device``;
    ``chunk_size`` (models trained together; ``None`` picks a cache-sized chunk); ``workers`` (chunks
    trained concurrently on CPU threads, each running PyTorch single-threaded; ``None``: as many as
    PyTorch's intra-op threads, ``torch.get_num_threads()``); ``record_weights`` (keep the full tensors
    at every record step).
    """

    strategy: SerializeAsAny[StrategyConfig]
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    n_models: PositiveInt = 1
    first_seed: NonNegativeInt = 0
    steps: PositiveInt = 1000
    batch_size: PositiveInt | None = None
    record_every: PositiveInt = 10
    loss_tol: NonNegativeFloat | None = None
    success_tol: PositiveFloat = 1e-3
    dead_tol: NonNegativeFloat = 1e-3
    init: Literal["equivariant", "free"] = "equivariant"
    init_scale: PositiveFloat = 1.0
    dtype: Literal["float32", "float64"] = "float32"
    device: str = "cpu"
    chunk_size: PositiveInt | None = None
    workers: PositiveInt | None = None
    record_weights: bool = False

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: Any) -> StrategyConfig:
        return strategy_config(value)

    @field_validator("optimizer", "schedule", mode="before")
    @classmethod
    def _by_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _seed_range(self) -> Self:
        if self.first_seed + self.n_models > MAX_SEED + 1:
            raise ValueError(f"seeds first_seed={self.first_seed} .. first_seed + n_models - 1 must stay below 2^63")
        return self

    @property
    def seeds(self) -> np.ndarray:
        """The students' seeds, int64 ``(n_models,)``."""
        return np.arange(self.first_seed, self.first_seed + self.n_models, dtype=np.int64)
