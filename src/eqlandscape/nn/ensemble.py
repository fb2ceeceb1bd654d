"""Ensembles: ``K`` models of one architecture as data, with pure functions of them.

An :class:`Ensemble` is an architecture, one :class:`Parametrization` per tensor (flat order
``W_0, b_0, W_1, ...``, shared by all models) and the coordinates of the ``K`` models: one tensor
``(K, dim)`` per parametrized tensor, the leading dimension indexing the model (torch.func style:
models as data). Full tensors have shapes ``(K, n_out, n_in)`` and ``(K, n_out)``.

A slice converts to a single :class:`EquivariantMLP` (:meth:`Ensemble.module`) and modules stack
back into an ensemble (:meth:`Ensemble.from_modules`); both keep coordinates exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.nn.architecture import MLPArchitecture
from eqlandscape.nn.functional import mlp_forward, mlp_loss_and_grad
from eqlandscape.nn.layers import TensorLike
from eqlandscape.nn.mlp import EquivariantMLP
from eqlandscape.nn.parametrization import Parametrization, exact_coordinates


class Ensemble:
    """``K`` models: ``arch``, ``params`` (flat order), ``coords`` (list of ``(K, dim)`` tensors) and
    the models' ``seeds`` (int array ``(K,)``, or ``None`` when the weights were given explicitly)."""

    def __init__(
        self,
        arch: MLPArchitecture,
        params: Sequence[Parametrization],
        coords: Sequence[torch.Tensor],
        seeds: np.ndarray | None = None,
    ) -> None:
        self.arch = arch
        self.params = tuple(params)
        self.coords = list(coords)
        if tuple(p.shape for p in self.params) != arch.shapes or len(self.coords) != len(self.params):
            raise ConfigError(f"ensemble tensors do not match the architecture {arch}")
        if len({c.shape[0] for c in self.coords}) != 1:
            raise ConfigError(f"coordinates with different model counts {[c.shape[0] for c in self.coords]}")
        self.seeds = None if seeds is None else np.asarray(seeds, dtype=np.int64).reshape(-1)

    # ------------------------------------------------------------------ construction
    @classmethod
    def init(
        cls,
        arch: MLPArchitecture,
        seeds: Sequence[int] | np.ndarray,
        parametrization: str | Sequence[Parametrization] = "orthonormal",
        *,
        init: str = "equivariant",
        init_scale: float = 1.0,
        masks: Sequence[np.ndarray | None] | None = None,
        basis_seed: int = 0,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> Ensemble:
        """One model per seed, initialized by the rule of :mod:`eqlandscape.nn.architecture`
        (model ``k`` equals ``EquivariantMLP(..., seed=seeds[k])``). Raises :class:`ConfigError`
        for no seeds (``K < 1``)."""
        seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        if seeds.size < 1:
            raise ConfigError(f"an ensemble needs K >= 1 models, got K={seeds.size}")
        params = arch.parametrizations(parametrization, masks=masks, basis_seed=basis_seed)
        full = [torch.as_tensor(t, dtype=dtype, device=device) for t in arch.init_full(seeds, init, init_scale)]
        coords = [p.from_full(t) for p, t in zip(params, full, strict=True)]
        return cls(arch, params, coords, seeds)

    @classmethod
    def from_full(
        cls,
        arch: MLPArchitecture,
        full: Sequence[TensorLike],
        parametrization: str | Sequence[Parametrization] = "orthonormal",
        *,
        seeds: Sequence[int] | np.ndarray | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> Ensemble:
        """``K`` models with explicit full tensors (flat order, each ``(K, *shape)``), which must lie
        in the parametrization's space."""
        params = arch.parametrizations(parametrization)
        tensors = [torch.as_tensor(t, dtype=dtype, device=device) for t in full]
        if len(tensors) != len(params):
            raise ConfigError(f"got {len(tensors)} tensors for the {len(params)} tensors of {arch}")
        coords = [
            exact_coordinates(p, t, f"tensor {i} (flat order)")
            for i, (p, t) in enumerate(zip(params, tensors, strict=True))
        ]
        return cls(arch, params, coords, None if seeds is None else np.asarray(seeds))

    @classmethod
    def from_modules(cls, modules: Sequence[EquivariantMLP], seeds: Sequence[int] | None = None) -> Ensemble:
        """Stack modules of one architecture and parametrization into an ensemble (exact copy)."""
        if not modules:
            raise ConfigError("an ensemble needs K >= 1 models, got K=0")
        first = modules[0]
        for m in modules[1:]:
            same_arch = (m.arch.reps, m.arch.activation, m.arch.bias) == (
                first.arch.reps,
                first.arch.activation,
                first.arch.bias,
            )
            same_params = all(a.same_as(b) for a, b in zip(m.parametrizations, first.parametrizations, strict=True))
            if not (same_arch and same_params):
                raise ConfigError("modules of different architectures or parametrizations cannot be stacked")
        coords = [torch.stack([c.detach() for c in cs]) for cs in zip(*(m.coordinates() for m in modules), strict=True)]
        return cls(first.arch, first.parametrizations, coords, None if seeds is None else np.asarray(seeds))

    # ------------------------------------------------------------------ views
    @property
    def K(self) -> int:
        """Number of models."""
        return int(self.coords[0].shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.coords[0].dtype

    @property
    def device(self) -> torch.device:
        return self.coords[0].device

    def full(self) -> list[torch.Tensor]:
        """Full tensors in flat order, each ``(K, *shape)``."""
        return [p.to_full(c) for p, c in zip(self.params, self.coords, strict=True)]

    def weights(self) -> list[torch.Tensor]:
        """``W_l`` of every model, each ``(K, n_{l+1}, n_l)``."""
        return self.arch.split(self.full())[0]

    def biases(self) -> list[torch.Tensor] | None:
        """``b_l`` of every model, each ``(K, n_{l+1})``, or ``None`` without biases."""
        return self.arch.split(self.full())[1]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, n_L)`` on a shared batch ``x (B, n_0)`` or per-model batches ``(K, B, n_0)``."""
        weights, biases = self.arch.split(self.full())
        return mlp_forward(weights, biases, x, self.arch.activation)

    def loss_and_grad(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-model MSE ``(K,)`` on ``(x, y)`` (shared or per-model row batches) and its gradient
        with respect to the coordinates (flat order, each ``(K, dim)``)."""
        weights, biases = self.arch.split(self.full())
        loss, gw, gb = mlp_loss_and_grad(weights, biases, x, y, self.arch.activation)
        grads = self.arch.join(gw, gb)
        return loss, [p.pullback(g) for p, g in zip(self.params, grads, strict=True)]

    # ------------------------------------------------------------------ conversions
    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray | torch.Tensor) -> Ensemble:
        """The sub-ensemble of the selected models (an integer keeps a model dimension of 1)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        idx = index if isinstance(index, slice) else torch.as_tensor(np.asarray(index), dtype=torch.long)
        seeds = None if self.seeds is None else self.seeds[index if isinstance(index, slice) else np.asarray(index)]
        return Ensemble(self.arch, self.params, [c[idx].clone() for c in self.coords], seeds)

    def module(self, k: int) -> EquivariantMLP:
        """Model ``k`` as an :class:`EquivariantMLP` with the same parametrization and coordinates."""
        full = [p.to_full(c[k]).detach() for p, c in zip(self.params, self.coords, strict=True)]
        module = EquivariantMLP(
            self.arch.reps,
            self.arch.activation,
            self.arch.bias,
            self.params,
            initial=full,
            dtype=self.dtype,
            device=self.device,
        )
        with torch.no_grad():
            for target, c in zip(module.coordinates(), self.coords, strict=True):
                target.copy_(c[k])
        return module

    def reparametrize(self, parametrization: str | Sequence[Parametrization]) -> Ensemble:
        """The same models in another parametrization, each tensor orthogonally projected onto its
        space (the same functions when the spaces contain them: ``"free"`` always does)."""
        params = self.arch.parametrizations(parametrization)
        coords = [p.from_full(t) for p, t in zip(params, self.full(), strict=True)]
        return Ensemble(self.arch, params, coords, self.seeds)

    def to_free(self) -> Ensemble:
        """The same functions as free MLPs (identical full tensors)."""
        return self.reparametrize("free")

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Ensemble:
        """A copy with coordinates in another dtype and/or on another device."""
        return Ensemble(self.arch, self.params, [c.to(dtype=dtype, device=device) for c in self.coords], self.seeds)
