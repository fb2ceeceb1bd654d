"""``constrained``: train in ``E`` with a parametrization (docs/design.md section 4)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from eqlandscape.nn import MLPArchitecture
from eqlandscape.train.config import ConstrainedKind, StrategyConfig
from eqlandscape.train.strategies.base import Strategy, register_strategy


class ConstrainedConfig(StrategyConfig):
    """Train in ``E`` with the given parametrization (``orthonormal``: Euclidean metric of the full
    space restricted to ``E``; ``orbit``: weight sharing; ``projected``: free weights projected)."""

    name: Literal["constrained"] = "constrained"
    parametrization: ConstrainedKind = Field(
        "orthonormal", description="coordinates of E: orthonormal, orbit or projected"
    )

    @property
    def parametrization_label(self) -> str:
        return self.parametrization


@register_strategy(ConstrainedConfig)
class Constrained(Strategy):
    """Train in ``E`` with the configured parametrization."""

    def __init__(self, config: ConstrainedConfig, arch: MLPArchitecture, seeds, steps: int) -> None:
        super().__init__(config, arch, seeds, steps)
        self.phases = (arch.parametrizations(config.parametrization),)
