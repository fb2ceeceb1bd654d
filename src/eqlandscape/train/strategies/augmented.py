"""``augmented``: a free MLP trained on transformed copies of its batch (Nordenfors et al.)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from eqlandscape.errors import ConfigError, GroupTooLargeError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import random_elements
from eqlandscape.train.config import PositiveInt, StrategyConfig
from eqlandscape.train.strategies.base import Strategy, register_strategy

Tensor = torch.Tensor


class AugmentedConfig(StrategyConfig):
    """Free MLP on augmented data: the loss averaged over all of ``G`` (``samples=None``) or over
    ``samples`` group elements drawn uniformly (with replacement) per model and step from the
    model's seed.

    ``basis="random"`` parametrizes the free weights in a random non-orthonormal basis (seeded by
    ``basis_seed``) of the full weight space; ``masks`` (one per layer, ``None`` for none; nested
    lists of booleans of the weight's shape) restrict the weights to a sparsity pattern ``L``, which
    is compatible with ``G`` when it is a union of orbits of index pairs.
    """

    name: Literal["augmented"] = "augmented"
    samples: PositiveInt | None = Field(None, description="group elements per step (default: all of G)")
    basis: Literal["orthonormal", "random"] = Field("orthonormal", description="basis of the free weights")
    basis_seed: int = Field(0, description="seed of the random basis")
    masks: list[list[list[bool]] | None] | None = None

    @property
    def parametrization_kind(self) -> str:
        """The :mod:`eqlandscape.nn.parametrization` kind of the weights: ``free`` or ``random``."""
        return "free" if self.basis == "orthonormal" else "random"

    @property
    def parametrization_label(self) -> str:
        kind = self.parametrization_kind
        return kind if self.masks is None else f"{kind}+mask"

    def mask_arrays(self) -> list[np.ndarray | None] | None:
        return None if self.masks is None else [None if m is None else np.asarray(m, dtype=bool) for m in self.masks]


@register_strategy(AugmentedConfig)
class Augmented(Strategy):
    """The loss averaged over transformed copies ``(rho_in(g) x, rho_out(g) y)`` of every sample:
    all ``g`` in ``G`` (the same copies for every model; the group listed) or ``samples`` uniformly
    random elements per model and step, drawn from the model's seed (stream ``augment/<step>``) by
    :func:`~eqlandscape.reps.random_elements`, which needs no list of the group (``S_10`` say)."""

    config: AugmentedConfig

    def __init__(self, config: AugmentedConfig, arch: MLPArchitecture, seeds: np.ndarray, steps: int) -> None:
        super().__init__(config, arch, seeds, steps)
        masks, seed = config.mask_arrays(), config.basis_seed
        self.phases = (arch.parametrizations(config.parametrization_kind, masks=masks, basis_seed=seed),)
        if config.samples is None:
            group = arch.rep_in.group
            try:
                perms_in, perms_out = arch.rep_in.perms, arch.rep_out.perms
            except GroupTooLargeError:
                raise ConfigError(
                    f"augmented over all of {group.name} needs its {group.order:,} elements listed, past the "
                    "enumeration limit; set samples (group elements drawn per model and step)"
                ) from None
            # (rho(g) x)[p[i]] = x[i]: row j of the image is row p^{-1}[j] of x.
            self._rows_in = torch.as_tensor(np.argsort(perms_in, axis=1))
            self._rows_out = torch.as_tensor(np.argsort(perms_out, axis=1))
        self._last: tuple[Tensor, Tensor, tuple[Tensor, Tensor]] | None = None

    def batch(self, xt: Tensor, yt: Tensor, step: int) -> tuple[Tensor, Tensor]:
        if self.config.samples is None:
            # the same copies for the same batch (a full-batch run asks for them every step)
            last = self._last
            if last is None or last[0] is not xt or last[1] is not yt:
                last = self._last = (xt, yt, (_transform(xt, self._rows_in), _transform(yt, self._rows_out)))
            return last[2]
        reps = [self.arch.rep_in, self.arch.rep_out]
        p_in, p_out = random_elements(reps, self.seeds, f"augment/{step}", self.config.samples)
        rows_in = torch.as_tensor(np.argsort(p_in, axis=-1))  # (K, samples, n_in): row p^{-1}[j] of x
        rows_out = torch.as_tensor(np.argsort(p_out, axis=-1))
        return _transform(xt, rows_in), _transform(yt, rows_out)


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
