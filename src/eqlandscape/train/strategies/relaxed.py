"""``relaxed`` (Xie & Smidt): constrained, then free from the very same function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import Field

from eqlandscape.nn import MLPArchitecture, Parametrization
from eqlandscape.train.config import ConstrainedKind, NonNegativeInt, PositiveInt, StrategyConfig
from eqlandscape.train.strategies.base import Strategy, register_strategy

if TYPE_CHECKING:
    from eqlandscape.train.phase import Phase

Tensor = torch.Tensor


class RelaxedConfig(StrategyConfig):
    """Constrained (``parametrization``) for steps ``0 .. switch_step - 1``, then free from the very
    same function. ``optimizer_state`` at the switch:

    * ``restart`` (default): SGD momentum buffers and Adam moments at 0, Adam's bias correction
      from step 1. With Adam the restart is a kick: the first free step moves every coordinate by
      about ``lr``, whatever the size of its gradient.
    * ``keep``: the state carries over into the free coordinates, and the step count goes on. A
      constrained coordinate ``c`` with moments ``m_c``, ``v_c`` gives each entry ``i`` of the
      full tensor ``m_i = m_c P_ci`` and ``v_i = v_c P_ci^2`` with ``P = pinv(phi)^T`` (the moments
      an equivariant gradient with these coordinate moments has entry by entry); ``projected``
      coordinates are entries of the full tensor already and keep their moments as they are. The
      directions off ``E`` start at 0.
    * ``warmup``: a restart, and the learning rate rises linearly over the ``warmup_steps`` steps
      after the switch: ``lr * min(1, (t - switch_step + 1) / warmup_steps)``.
    """

    name: Literal["relaxed"] = "relaxed"
    parametrization: ConstrainedKind = Field(
        "orthonormal", description="coordinates of E: orthonormal, orbit or projected"
    )
    switch_step: NonNegativeInt = Field(1000, description="step of the switch to free training")
    optimizer_state: Literal["restart", "keep", "warmup"] = Field(
        "restart", description="optimizer state at the switch: restart, keep or warmup"
    )
    warmup_steps: PositiveInt = Field(100, description="steps of the linear warm-up of the learning rate")

    @property
    def parametrization_label(self) -> str:
        return f"{self.parametrization}->free"


@register_strategy(RelaxedConfig)
class Relaxed(Strategy):
    """Constrained, then free from step ``switch_step`` on (the same function at the switch)."""

    config: RelaxedConfig

    def __init__(self, config: RelaxedConfig, arch: MLPArchitecture, seeds: np.ndarray, steps: int) -> None:
        super().__init__(config, arch, seeds, steps)
        self.phases = (arch.parametrizations(config.parametrization), arch.parametrizations("free"))
        self.switch_steps = (config.switch_step,)

    def lr_scale(self, step: int) -> float:
        cfg = self.config
        if cfg.optimizer_state != "warmup" or step < cfg.switch_step:
            return 1.0
        return min(1.0, (step - cfg.switch_step + 1) / cfg.warmup_steps)

    def carry(self, old: Phase, new: Phase) -> None:
        if self.config.optimizer_state != "keep":
            return
        before, after = old.optimizer, new.optimizer
        after.t = before.t
        for src, dst in zip(before.m, after.m, strict=True):
            _carry_moments(old.params, old.views(src), new.views(dst), True)
        for src, dst in zip(before.v, after.v, strict=True):
            _carry_moments(old.params, old.views(src), new.views(dst), False)


def _carry_moments(params: tuple[Parametrization, ...], src: list[Tensor], dst: list[Tensor], first: bool) -> None:
    """Moments of constrained coordinates ``src`` (one ``(K, dim)`` view per tensor) into free
    coordinates ``dst`` (``(K, N)``): :class:`RelaxedConfig`'s rule. ``P = pinv(phi)^T`` has one
    nonzero per column for the gather kinds: ``P_ci = phi_ci / D_c`` with ``D = diag(phi phi^T)``."""
    for p, s, d in zip(params, src, dst, strict=True):
        if p.kind == "projected":
            d.copy_(s)
            continue
        if not p.dim:
            d.zero_()
            continue
        phi_ones = p.to_full(s.new_ones((1, p.dim)))
        D = p.pullback(phi_ones)  # (1, dim): phi phi^T 1, its diagonal for the gather kinds
        if first:
            d.copy_(p.to_full(s / D).reshape(d.shape))
        else:
            d.copy_((p.to_full(s / (D * D)) * phi_ones).reshape(d.shape))
