"""``scheduled``: constraint relaxation on a schedule (Pertigkiozoglou et al. 2024).

Every tensor is ``W = W_eq + theta(t) V`` with ``W_eq`` in ``E`` (coordinates ``parametrization``),
``V`` free (initialized from the student's seed, ``free_init_scale`` times the equivariant part's
initial scale) and a schedule ``theta(t)`` over ``T = theta_steps`` steps (default: the run's
steps), ``theta_max`` at its peak (:func:`theta`):

* ``constant``: ``theta(t) = theta_max``;
* ``linear``: ``theta_max (1 - t / T)``, decaying to 0 at ``T`` and 0 after;
* ``triangular``: ``theta_max (1 - |2 t / T - 1|)``, ``0 -> theta_max -> 0`` over ``T`` and 0 after.

The extra loss (recorded as ``penalty``) is ``(equiv_weight / 2) ||V - P_E V||^2 +
(norm_weight / 2) ||V||^2`` (summed over all tensors): the equivariance error of ``V`` and its
norm. The paper evaluates with the free branch dropped: ``test_loss_dropped`` (``W_eq`` alone),
beside the model as trained at the last step (``W_eq`` itself once ``theta`` reached 0). Recorded:
``theta``, ``v_norm = ||V||``, ``v_equiv_error = ||V - P_E V||``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import Field

from eqlandscape.nn import MLPArchitecture
from eqlandscape.train.config import ConstrainedKind, NonNegativeFloat, PositiveInt, StrategyConfig
from eqlandscape.train.strategies.base import (
    FlatLayout,
    Strategy,
    flat_size,
    free_init,
    register_strategy,
    squared_norm,
)

if TYPE_CHECKING:
    from eqlandscape.train.phase import Phase

Tensor = torch.Tensor
THETA_SCHEDULES = ("constant", "linear", "triangular")


class ScheduledConfig(StrategyConfig):
    """Scheduled relaxation (module docstring of :mod:`eqlandscape.train.strategies.scheduled`)."""

    name: Literal["scheduled"] = "scheduled"
    parametrization: ConstrainedKind = Field(
        "orthonormal", description="coordinates of the equivariant part: orthonormal, orbit or projected"
    )
    theta_schedule: Literal["constant", "linear", "triangular"] = Field(
        "linear", description="theta(t), constant, linear (to 0) or triangular (0 -> max -> 0)"
    )
    theta_max: NonNegativeFloat = Field(1.0, description="largest theta")
    theta_steps: PositiveInt | None = Field(None, description="length T of the schedule (default: steps)")
    equiv_weight: NonNegativeFloat = Field(1.0, description="weight of (w/2)||V - P_E V||^2")
    norm_weight: NonNegativeFloat = Field(0.01, description="weight of (w/2)||V||^2")
    free_init_scale: NonNegativeFloat = Field(1.0, description="scale of the free part's initial weights")

    @property
    def parametrization_label(self) -> str:
        return f"{self.parametrization}+theta*free"


def theta(schedule: str, theta_max: float, length: int, step: int) -> float:
    """``theta(step)`` of the schedule ``schedule`` (:data:`THETA_SCHEDULES`) of length ``length``."""
    if schedule == "constant":
        return theta_max
    x = step / length
    if x >= 1:
        return 0.0
    if schedule == "linear":
        return theta_max * (1 - x)
    return theta_max * (1 - abs(2 * x - 1))


@register_strategy(ScheduledConfig)
class Scheduled(Strategy):
    """``W = W_eq + theta(t) V`` with penalties on ``V`` (module docstring)."""

    config: ScheduledConfig
    has_extra_loss = True
    has_free_part = True

    def __init__(self, config: ScheduledConfig, arch: MLPArchitecture, seeds: np.ndarray, steps: int) -> None:
        super().__init__(config, arch, seeds, steps)
        self.phases = (arch.parametrizations(config.parametrization),)
        self.length = config.theta_steps or steps

    def theta(self, step: int) -> float:
        return theta(self.config.theta_schedule, self.config.theta_max, self.length, step)

    def extras(self, phase: int) -> dict[str, tuple[int, ...]]:
        return {"V": (flat_size(self.arch),)}

    def init_extras(self, phase: int, full: list[Tensor]) -> dict[str, Tensor]:
        self.layout = FlatLayout(self.arch, full[0])
        return {"V": free_init(self.arch, self.seeds, "scheduled/V", self.config.free_init_scale, full[0])}

    def compose(self, s: Phase, step: int) -> None:
        torch.mul(s.extra["V"], self.theta(step), out=s.model_flat).add_(s.full_flat)

    def pull(self, s: Phase, step: int) -> None:
        torch.mul(s.model_grads_flat, self.theta(step), out=s.extra_grads["V"])  # dL/dV = theta G

    def extra_loss(self, s: Phase, step: int) -> Tensor:
        cfg, V = self.config, s.extra["V"]
        gap = V - self.layout.project(V)
        value = squared_norm(gap) * (cfg.equiv_weight / 2) + squared_norm(V) * (cfg.norm_weight / 2)
        s.extra_grads["V"].add_(gap.mul_(cfg.equiv_weight)).add_(V * cfg.norm_weight)
        return value

    def curve_names(self) -> tuple[str, ...]:
        return ("theta", "v_norm", "v_equiv_error")

    def record(self, s: Phase, step: int) -> dict[str, Tensor]:
        V = s.extra["V"]
        gap = V - self.layout.project(V)
        th = V.new_full((V.shape[0],), self.theta(step))
        return {"theta": th, "v_norm": squared_norm(V).sqrt(), "v_equiv_error": squared_norm(gap).sqrt()}
