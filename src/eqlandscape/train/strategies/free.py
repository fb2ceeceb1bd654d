"""``free``: a free MLP, every entry of every tensor a coordinate."""

from __future__ import annotations

from typing import Literal

from eqlandscape.train.config import StrategyConfig
from eqlandscape.train.strategies.base import Strategy, register_strategy


class FreeConfig(StrategyConfig):
    """Train a free MLP (every weight entry a coordinate)."""

    name: Literal["free"] = "free"


@register_strategy(FreeConfig)
class Free(Strategy):
    """A free MLP: the default behaviour of :class:`Strategy`."""
