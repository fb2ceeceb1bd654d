"""``EquivariantLinear``: a linear layer between permutation reps, with a choice of parametrization."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from eqlandscape.nn.architecture import MLPArchitecture
from eqlandscape.nn.parametrization import Parametrization, exact_coordinates
from eqlandscape.reps import PermRep

TensorLike = torch.Tensor | np.ndarray


class EquivariantLinear(nn.Module):
    """``x @ W.T + b`` for row batches ``x (..., n_in)``, with ``W (n_out, n_in)`` equivariant
    (``W @ rho_in(g) == rho_out(g) @ W``) unless the parametrization is free.

    The trainable parameters are coordinates: ``W = weight_param.to_full(weight_coords)`` and
    ``b = bias_param.to_full(bias_coords)`` (see :mod:`eqlandscape.nn.parametrization` for the
    kinds ``orbit``, ``orthonormal``, ``projected``, ``free``, ``random``).

    Parameters
    ----------
    parametrization : a kind name, or a ``(weight, bias)`` pair of :class:`Parametrization` (bias
        ``None`` without bias).
    bias : whether the layer has an (equivariant) bias.
    initial : explicit ``(W, b)`` full tensors (``b`` ignored without bias); they must lie in the
        parametrization's space. By default ``W`` is drawn from ``seed`` by the rule of
        :mod:`eqlandscape.nn.architecture` (this layer's weights equal those of layer 0 of an MLP
        with the same seed) and ``b = 0``.
    """

    def __init__(
        self,
        rep_in: PermRep,
        rep_out: PermRep,
        parametrization: str | tuple[Parametrization, Parametrization | None] = "orthonormal",
        bias: bool = True,
        *,
        initial: tuple[TensorLike, TensorLike | None] | None = None,
        seed: int = 0,
        init: str = "equivariant",
        init_scale: float = 1.0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.arch = MLPArchitecture((rep_in, rep_out), "identity", bias)
        if not isinstance(parametrization, str):
            parametrization = parametrization[: self.arch.per_layer]
        params = self.arch.parametrizations(parametrization)
        self.weight_param = params[0]
        self.bias_param = params[1] if bias else None
        dtype = dtype or torch.get_default_dtype()
        if initial is None:
            full = [
                torch.as_tensor(t[0], dtype=dtype, device=device) for t in self.arch.init_full([seed], init, init_scale)
            ]
        else:
            full = [torch.as_tensor(t, dtype=dtype, device=device) for t in initial[: self.arch.per_layer]]
        where = f"{rep_in.name} -> {rep_out.name}"
        self.weight_coords = nn.Parameter(exact_coordinates(self.weight_param, full[0], f"the weight {where}").detach())
        self.bias_coords = (
            nn.Parameter(exact_coordinates(self.bias_param, full[1], f"the bias {where}").detach())
            if self.bias_param is not None
            else None
        )

    @property
    def rep_in(self) -> PermRep:
        return self.arch.rep_in

    @property
    def rep_out(self) -> PermRep:
        return self.arch.rep_out

    @property
    def weight(self) -> torch.Tensor:
        """The full weight matrix ``(n_out, n_in)`` (differentiable in the coordinates)."""
        return self.weight_param.to_full(self.weight_coords)

    @property
    def bias(self) -> torch.Tensor | None:
        """The full bias ``(n_out,)``, or ``None``."""
        return None if self.bias_param is None else self.bias_param.to_full(self.bias_coords)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.rep_in.name} -> {self.rep_out.name}, parametrization={self.weight_param.kind}"
