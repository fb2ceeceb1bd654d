"""Training strategies: which coordinates are trained, on which batch, with which extra loss.

A :class:`Strategy` is the runtime form of a :class:`~eqlandscape.train.config.StrategyConfig`,
bound to the student's architecture. The trainer reads, for every chunk of models:

* :attr:`Strategy.phases`: the parametrization of every tensor (flat order) in each phase; phase 0
  at the start, phase ``p + 1`` from step ``switch_steps[p]`` on. At a switch the trainer maps each
  model's full tensors into the new coordinates (kept bit for bit when the new space contains them,
  projected orthogonally otherwise) and restarts the optimizer state.
* :meth:`Strategy.batch` ``(xt, yt, step, seeds)``: the batch a step trains on (samples-last layout,
  shared ``(n, B)`` or per-model ``(K, n, B)``); augmentation transforms it here.
* :meth:`Strategy.regularize` ``(params, coords, full, grads)``: add the gradient of any extra loss
  term to the coordinate gradients, in place. ``coords`` are the coordinates the optimizer trains:
  the tensor itself for identity coordinates, else the offset ``d`` from the phase's anchor
  ``A`` (``W = A + phi(d)``, ``d = 0`` at the start of a phase; :mod:`eqlandscape.train.trainer`),
  so a term of the coordinates themselves is best written in terms of ``full``. The gradients must
  be computed per model with a fixed order of operations (elementwise operations, sums over a
  model's own entries), so that a model's numbers do not depend on the others.

New strategies subclass :class:`Strategy` and register with :func:`register_strategy` (and their
config with :func:`~eqlandscape.train.config.register_strategy_config`); the trainer needs no
change. ``rpp`` (residual pathway prior) is a linear parametrization ``W = P_E W_eq + W_free``
(``phi`` stacking the projection and the identity) with the coordinate penalty
``l_eq ||W_eq||^2 + l_free ||W_free||^2`` in ``regularize``; ``ace`` is a parametrization
``W = W_eq + gamma_l V`` per layer with the multipliers' gradient term and their dual ascent step
in ``regularize`` (called once per step).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from eqlandscape.nn import MLPArchitecture, Parametrization
from eqlandscape.nn import rng as model_rng
from eqlandscape.train.config import AugmentedConfig, ConstrainedConfig, PenaltyConfig, RelaxedConfig, StrategyConfig

Tensor = torch.Tensor


class Strategy:
    """Default behaviour: a free MLP in one phase, the plain batch, no extra loss. Subclasses set
    :attr:`phases` and :attr:`switch_steps` in ``__init__`` and override :meth:`batch` and
    :meth:`regularize` as needed."""

    def __init__(self, config: StrategyConfig, arch: MLPArchitecture) -> None:
        self.config = config
        self.arch = arch
        self.phases: tuple[tuple[Parametrization, ...], ...] = (arch.parametrizations("free"),)
        self.switch_steps: tuple[int, ...] = ()

    def batch(self, xt: Tensor, yt: Tensor, step: int, seeds: np.ndarray) -> tuple[Tensor, Tensor]:
        """The batch that step ``step`` trains the models ``seeds`` on."""
        return xt, yt

    def regularize(
        self, params: tuple[Parametrization, ...], coords: list[Tensor], full: list[Tensor], grads: list[Tensor]
    ) -> None:
        """Add the gradient of extra loss terms to ``grads`` (coordinates, flat order) in place
        (``coords``: the trained coordinates, offsets from the anchors for non-identity ones)."""


_STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: the runtime class of the strategy called ``name``."""

    def decorate(cls: type[Strategy]) -> type[Strategy]:
        _STRATEGIES[name] = cls
        return cls

    return decorate


def build_strategy(config: StrategyConfig, arch: MLPArchitecture) -> Strategy:
    """The runtime strategy of ``config`` for students of architecture ``arch``."""
    return _STRATEGIES[config.name](config, arch)


@register_strategy("constrained")
class Constrained(Strategy):
    """Train in ``E`` with the configured parametrization (its metric: docs/design.md section 4)."""

    def __init__(self, config: ConstrainedConfig, arch: MLPArchitecture) -> None:
        super().__init__(config, arch)
        self.phases = (arch.parametrizations(config.parametrization),)


@register_strategy("free")
class Free(Strategy):
    """A free MLP: every entry of every tensor is a coordinate (the default behaviour)."""


@register_strategy("relaxed")
class Relaxed(Strategy):
    """Constrained, then free from step ``switch_step`` on (the same function at the switch)."""

    def __init__(self, config: RelaxedConfig, arch: MLPArchitecture) -> None:
        super().__init__(config, arch)
        self.phases = (arch.parametrizations(config.parametrization), arch.parametrizations("free"))
        self.switch_steps = (config.switch_step,)


@register_strategy("penalty")
class Penalty(Strategy):
    """Adds ``(gamma / 2) ||A - P_E A||^2``: its gradient ``gamma (A - P_E A)`` in the full space,
    pulled back to the coordinates."""

    config: PenaltyConfig

    def regularize(
        self, params: tuple[Parametrization, ...], coords: list[Tensor], full: list[Tensor], grads: list[Tensor]
    ) -> None:
        for p, basis, t, g in zip(params, self.arch.bases, full, grads, strict=True):
            # a multiply, then an add (not ``add_(..., alpha=gamma)``: a fused multiply-add in the
            # vectorized kernel only would make a student's bits depend on its place in the tensor)
            g.add_(p.pullback(t - basis.project(t)).mul_(self.config.gamma))


@register_strategy("augmented")
class Augmented(Strategy):
    """The loss averaged over transformed copies ``(rho_in(g) x, rho_out(g) y)`` of every sample:
    all ``g`` in ``G`` (the same copies for every model) or ``samples`` elements per model and step,
    drawn from the model's seed (stream ``augment/<step>``)."""

    config: AugmentedConfig

    def __init__(self, config: AugmentedConfig, arch: MLPArchitecture) -> None:
        super().__init__(config, arch)
        masks, seed = config.mask_arrays(), config.basis_seed
        self.phases = (arch.parametrizations(config.parametrization_kind, masks=masks, basis_seed=seed),)
        # (rho(g) x)[p[i]] = x[i]: row j of the image is row p^{-1}[j] of x.
        self._rows_in = torch.as_tensor(np.argsort(arch.rep_in.perms, axis=1))
        self._rows_out = torch.as_tensor(np.argsort(arch.rep_out.perms, axis=1))
        self._last: tuple[Tensor, Tensor, tuple[Tensor, Tensor]] | None = None

    def batch(self, xt: Tensor, yt: Tensor, step: int, seeds: np.ndarray) -> tuple[Tensor, Tensor]:
        if self.config.samples is None:
            # the same copies for the same batch (a full-batch run asks for them every step)
            last = self._last
            if last is None or last[0] is not xt or last[1] is not yt:
                last = self._last = (xt, yt, (_transform(xt, self._rows_in), _transform(yt, self._rows_out)))
            return last[2]
        elements = torch.as_tensor(
            model_rng.integers(seeds, f"augment/{step}", self.arch.rep_in.group.order, (self.config.samples,))
        )
        return _transform(xt, self._rows_in[elements]), _transform(yt, self._rows_out[elements])


def _transform(xt: Tensor, rows: Tensor) -> Tensor:
    """Copies of the batch ``xt`` (``(n, B)`` or ``(K, n, B)``) with rows permuted by ``rows``
    (``(m, n)`` for every model alike, or ``(K, m, n)`` per model), side by side along the samples:
    ``(n, m B)`` or ``(K, n, m B)``."""
    rows = rows.to(xt.device)
    if xt.dim() == 2:
        copies = xt[rows]  # (m, n, B) or (K, m, n, B)
    elif rows.dim() == 2:
        copies = xt[:, rows]  # (K, m, n, B)
    else:
        copies = xt[torch.arange(xt.shape[0], device=xt.device)[:, None, None], rows]
    copies = copies.movedim(-3, -2)  # (..., n, m, B)
    return copies.reshape(*copies.shape[:-2], copies.shape[-2] * copies.shape[-1])
