"""``rpp``: the residual pathway prior (Finzi, Benton, Wilson 2021).

Every tensor is ``W = P_E(W_eq) + W_free``: the equivariant part ``W_E = P_E(W_eq)`` in ``E``
(coordinates ``parametrization``, so that it lies in ``E`` exactly) and a free part ``W_free``
initialized small (``free_init_scale`` times the equivariant part's initial scale, from the
student's seed), both trained, with L2 priors of separate weights, the extra loss
``prior_eq ||W_E||^2 + prior_free ||W_free||^2`` (summed over all tensors; recorded as
``penalty``), the free path with the stronger prior. Recorded: ``eq_norm = ||W_E||``,
``free_norm = ||W_free||``; the test loss of ``W_E`` alone as ``test_loss_dropped``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import Field

from eqlandscape.nn import MLPArchitecture
from eqlandscape.train.config import ConstrainedKind, NonNegativeFloat, StrategyConfig
from eqlandscape.train.strategies.base import Strategy, flat_size, free_init, register_strategy, squared_norm

if TYPE_CHECKING:
    from eqlandscape.train.phase import Phase

Tensor = torch.Tensor


class RppConfig(StrategyConfig):
    """Residual pathway prior (module docstring of :mod:`eqlandscape.train.strategies.rpp`)."""

    name: Literal["rpp"] = "rpp"
    parametrization: ConstrainedKind = Field(
        "orthonormal", description="coordinates of the equivariant part: orthonormal, orbit or projected"
    )
    prior_eq: NonNegativeFloat = Field(1e-6, description="weight of the prior ||W_E||^2")
    prior_free: NonNegativeFloat = Field(1e-3, description="weight of the prior ||W_free||^2")
    free_init_scale: NonNegativeFloat = Field(1e-3, description="scale of the free part's initial weights")

    @property
    def parametrization_label(self) -> str:
        return f"{self.parametrization}+free"


@register_strategy(RppConfig)
class Rpp(Strategy):
    """``W = W_E + W_free`` with separate L2 priors (module docstring)."""

    config: RppConfig
    has_extra_loss = True
    has_free_part = True

    def __init__(self, config: RppConfig, arch: MLPArchitecture, seeds: np.ndarray, steps: int) -> None:
        super().__init__(config, arch, seeds, steps)
        self.phases = (arch.parametrizations(config.parametrization),)

    def extras(self, phase: int) -> dict[str, tuple[int, ...]]:
        return {"free": (flat_size(self.arch),)}

    def init_extras(self, phase: int, full: list[Tensor]) -> dict[str, Tensor]:
        return {"free": free_init(self.arch, self.seeds, "rpp/free", self.config.free_init_scale, full[0])}

    def compose(self, s: Phase, step: int) -> None:
        torch.add(s.full_flat, s.extra["free"], out=s.model_flat)

    def pull(self, s: Phase, step: int) -> None:
        s.extra_grads["free"].copy_(s.model_grads_flat)  # dL/dW_E = dL/dW_free = G

    def extra_loss(self, s: Phase, step: int) -> Tensor:
        cfg, W, free = self.config, s.full_flat, s.extra["free"]
        value = squared_norm(W) * cfg.prior_eq + squared_norm(free) * cfg.prior_free
        s.full_grads_flat.add_(W * (2 * cfg.prior_eq))
        s.extra_grads["free"].add_(free * (2 * cfg.prior_free))
        return value

    def curve_names(self) -> tuple[str, ...]:
        return ("eq_norm", "free_norm")

    def record(self, s: Phase, step: int) -> dict[str, Tensor]:
        return {"eq_norm": squared_norm(s.full_flat).sqrt(), "free_norm": squared_norm(s.extra["free"]).sqrt()}
