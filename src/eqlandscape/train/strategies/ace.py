"""``ace`` and ``ace-resilient`` (Manolache, Chamon, Niepert): an equivariant layer plus a free
one scaled by a trained ``gamma_l``, driven to ``gamma_l = 0`` by a dual variable.

Every layer ``l`` (its weight and its bias alike) is ``W = W_eq + gamma_l V`` with ``W_eq`` in
``E`` (coordinates ``parametrization``), ``V`` free and one scalar ``gamma_l`` per layer starting
at ``gamma_init``. The constrained problem ``min loss s.t. gamma_l = 0`` is solved primal-dual, on
every step: the run's optimizer descends the Lagrangian ``loss + sum_l lambda_l gamma_l`` in all
primal coordinates (``W_eq``, ``V``, ``gamma``), then the dual ascends,
``lambda_l <- lambda_l + dual_lr gamma_l`` (``dual_optimizer="sgd"``) or by an Adam step on the
ascent direction ``gamma_l`` (``"adam"``: betas ``(0.9, 0.999)``, eps ``1e-8``, bias-corrected).

``ace-resilient`` relaxes the constraint to ``|gamma_l| <= u_l`` with slacks ``u_l >= 0`` learned
at the cost ``(rho / 2) ||u||^2``: the Lagrangian ``loss + sum_l lambda_l (|gamma_l| - u_l) +
(rho / 2) ||u||^2``, the dual step ``lambda_l <- max(0, lambda_l + dual_lr (|gamma_l| - u_l))``
(or its Adam form), ``u`` projected onto ``u >= 0`` after each primal step.

Recorded per layer: ``gamma_l``, ``lambda_l``, ``v_norm_l = ||V_l||``, ``gamma_v_norm_l =
||gamma_l V_l||`` (a small ``gamma_l`` beside a growing ``V_l`` constrains nothing), ``u_l``
(resilient); the Lagrangian term as ``penalty``; the test loss with the free part dropped
(``W_eq`` alone) as ``test_loss_dropped``, beside the model as trained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import Field

from eqlandscape.nn import MLPArchitecture
from eqlandscape.train.config import ConstrainedKind, NonNegativeFloat, StrategyConfig
from eqlandscape.train.strategies.base import FlatLayout, Strategy, flat_size, free_init, register_strategy

if TYPE_CHECKING:
    from eqlandscape.train.phase import Phase

Tensor = torch.Tensor
_BETAS, _EPS = (0.9, 0.999), 1e-8


class AceConfig(StrategyConfig):
    """ACE (module docstring of :mod:`eqlandscape.train.strategies.ace`)."""

    name: Literal["ace"] = "ace"
    parametrization: ConstrainedKind = Field(
        "orthonormal", description="coordinates of the equivariant part: orthonormal, orbit or projected"
    )
    dual_lr: NonNegativeFloat = Field(0.01, description="learning rate of the dual variables lambda_l")
    dual_optimizer: Literal["sgd", "adam"] = Field("sgd", description="dual step: sgd (gradient ascent) or adam")
    gamma_init: float = Field(1.0, allow_inf_nan=False, description="initial gamma_l")
    gamma_fixed: bool = Field(False, description="hold gamma_l at gamma_init (0: the constrained model)")
    free_init_scale: NonNegativeFloat = Field(1.0, description="scale of the free part's initial weights")

    @property
    def parametrization_label(self) -> str:
        return f"{self.parametrization}+gamma*free"


class AceResilientConfig(AceConfig):
    """ACE with the resilient constraint ``|gamma_l| <= u_l``, slack cost ``(rho / 2) ||u||^2``."""

    name: Literal["ace-resilient"] = "ace-resilient"  # type: ignore[assignment]
    rho: NonNegativeFloat = Field(1.0, description="cost (rho/2)||u||^2 of the slacks u_l")


@register_strategy(AceConfig, AceResilientConfig)
class Ace(Strategy):
    """``W = W_eq + gamma_l V`` per layer, primal-dual (module docstring)."""

    config: AceConfig
    has_extra_loss = True
    has_free_part = True

    def __init__(self, config: AceConfig, arch: MLPArchitecture, seeds: np.ndarray, steps: int) -> None:
        super().__init__(config, arch, seeds, steps)
        self.phases = (arch.parametrizations(config.parametrization),)
        self.resilient = isinstance(config, AceResilientConfig)
        self.L = arch.n_layers

    def extras(self, phase: int) -> dict[str, tuple[int, ...]]:
        return {"gamma": (self.L,), "V": (flat_size(self.arch),)} | ({"u": (self.L,)} if self.resilient else {})

    def init_extras(self, phase: int, full: list[Tensor]) -> dict[str, Tensor]:
        like = full[0]
        K = len(self.seeds)
        self.layout = FlatLayout(self.arch, like)
        # per-model dual state: lambda (and the dual Adam moments), 0 at the start
        self.lam = like.new_zeros((K, self.L))
        self.dual_m, self.dual_v, self.dual_t = torch.zeros_like(self.lam), torch.zeros_like(self.lam), 0
        out = {
            "gamma": like.new_full((K, self.L), self.config.gamma_init),
            "V": free_init(self.arch, self.seeds, "ace/V", self.config.free_init_scale, like),
        }
        return out | ({"u": like.new_zeros((K, self.L))} if self.resilient else {})

    def compose(self, s: Phase, step: int) -> None:
        # gamma_l of every entry's layer (K, N), kept for pull (gamma does not change in between)
        self._gamma_entries = s.extra["gamma"].index_select(1, self.layout.layer_index)
        torch.mul(s.extra["V"], self._gamma_entries, out=s.model_flat).add_(s.full_flat)

    def pull(self, s: Phase, step: int) -> None:
        # dL/dW_eq = G (the trainer's), dL/dV = gamma_l G, dL/dgamma_l = <G, V> over the layer's entries
        G = s.model_grads_flat
        torch.mul(G, self._gamma_entries, out=s.extra_grads["V"])
        if self.config.gamma_fixed:
            s.extra_grads["gamma"].zero_()
        else:
            s.extra_grads["gamma"].copy_(self.layout.layer_sums(G * s.extra["V"]))

    def _violation(self, s: Phase) -> Tensor:
        """The constraint's value ``(K, L)``: ``gamma_l``, or ``|gamma_l| - u_l`` (resilient)."""
        gamma = s.extra["gamma"]
        return gamma.abs() - s.extra["u"] if self.resilient else gamma

    def extra_loss(self, s: Phase, step: int) -> Tensor:
        lam, gamma = self.lam, s.extra["gamma"]
        value = (lam * self._violation(s)).sum(-1)
        if not self.config.gamma_fixed:
            term = lam * torch.sign(gamma) if self.resilient else lam
            s.extra_grads["gamma"].add_(term)
        if self.resilient:
            u = s.extra["u"]
            rho = self.config.rho  # type: ignore[attr-defined]
            value = value + (u * u).sum(-1) * (rho / 2)
            s.extra_grads["u"].add_((u * rho).sub_(lam))
        return value

    def after_step(self, s: Phase, step: int, active: Tensor | None) -> None:
        keep = None if active is None else active[:, None]

        def kept(new: Tensor, old: Tensor) -> Tensor:  # the stopped students keep their state
            return new if keep is None else torch.where(keep, new, old)

        if self.resilient:  # the slacks stay non-negative (a projection of the primal step)
            u = s.extra["u"]
            u.copy_(kept(u.clamp(min=0.0), u))
        ascent = self._violation(s)
        if self.config.dual_optimizer == "adam":
            self.dual_t += 1
            b1, b2 = _BETAS
            self.dual_m = kept(self.dual_m * b1 + ascent * (1 - b1), self.dual_m)
            self.dual_v = kept(self.dual_v * b2 + (ascent * ascent) * (1 - b2), self.dual_v)
            m_hat = self.dual_m / (1 - b1**self.dual_t)
            v_hat = self.dual_v / (1 - b2**self.dual_t)
            ascent = m_hat / (v_hat.sqrt() + _EPS)
        new = self.lam + ascent * self.config.dual_lr
        self.lam = kept(new.clamp(min=0.0) if self.resilient else new, self.lam)

    def curve_names(self) -> tuple[str, ...]:
        names = ["gamma", "lambda", "v_norm", "gamma_v_norm"] + (["u"] if self.resilient else [])
        return tuple(f"{n}_{layer}" for n in names for layer in range(self.L))

    def record(self, s: Phase, step: int) -> dict[str, Tensor]:
        gamma, V = s.extra["gamma"], s.extra["V"]
        v_norm = self.layout.layer_sums(V * V).sqrt()
        values = {"gamma": gamma, "lambda": self.lam, "v_norm": v_norm, "gamma_v_norm": gamma.abs() * v_norm}
        if self.resilient:
            values["u"] = s.extra["u"]
        return {f"{n}_{layer}": v[:, layer].clone() for n, v in values.items() for layer in range(self.L)}
