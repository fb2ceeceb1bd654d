"""``penalty``: a free MLP with the projection penalty of Nordenfors & Flinth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field

from eqlandscape.train.config import NonNegativeFloat, StrategyConfig
from eqlandscape.train.strategies.base import FlatLayout, Strategy, register_strategy, squared_norm

if TYPE_CHECKING:
    from eqlandscape.train.phase import Phase


class PenaltyConfig(StrategyConfig):
    """Free MLP with the loss ``+ (gamma / 2) ||A - P_E A||^2`` summed over all weights and biases."""

    name: Literal["penalty"] = "penalty"
    gamma: NonNegativeFloat = Field(1.0, description="weight of (gamma/2) ||A - P_E A||^2")


@register_strategy(PenaltyConfig)
class Penalty(Strategy):
    """Adds ``(gamma / 2) ||A - P_E A||^2`` (recorded as ``penalty``); its gradient
    ``gamma (A - P_E A)`` in the full space."""

    config: PenaltyConfig
    has_extra_loss = True
    layout: FlatLayout | None = None

    def extra_loss(self, s: Phase, step: int) -> torch.Tensor:
        W = s.full_flat  # free coordinates: the tensors themselves, in flat order
        if self.layout is None:
            self.layout = FlatLayout(self.arch, W)
        gap = W - self.layout.project(W)
        value = squared_norm(gap) * (self.config.gamma / 2)
        # a multiply, then an add (not ``add_(..., alpha=gamma)``: a fused multiply-add in the
        # vectorized kernel only would make a student's bits depend on its place in the tensor)
        s.full_grads_flat.add_(gap.mul_(self.config.gamma))
        return value
