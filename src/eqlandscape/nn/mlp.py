"""``EquivariantMLP``: a stack of :class:`EquivariantLinear` layers with a pointwise activation.

With ``parametrization="free"`` it is a plain MLP (an ordinary ``Linear``/activation stack) that
still knows the reps, so it can be projected back onto the equivariant subspace ``E`` and its
distance to ``E`` measured. :meth:`EquivariantMLP.to_free` gives the same function as a free MLP,
:meth:`EquivariantMLP.project` the projection of a model onto ``E`` in a constrained parametrization.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from eqlandscape.errors import ConfigError
from eqlandscape.nn.architecture import MLPArchitecture
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS
from eqlandscape.nn.layers import EquivariantLinear, TensorLike
from eqlandscape.nn.parametrization import Parametrization
from eqlandscape.reps import PermRep


class EquivariantMLP(nn.Module):
    """``f(x) = W_{L-1} act(... act(x @ W_0.T + b_0) ...) + b_{L-1}`` for row batches ``x (..., n_0)``
    (see :mod:`eqlandscape.nn.architecture` for the shapes and the initialization rule).

    Parameters
    ----------
    reps : ``rho_0 .. rho_L``, the reps of the input, hidden and output layers.
    activation : ``"relu"`` (default), ``"tanh"``, ``"gelu"`` or ``"identity"``.
    bias : whether the layers have (equivariant) biases.
    parametrization : ``"orthonormal"`` (default), ``"orbit"``, ``"projected"``, ``"free"``,
        ``"random"``, or explicit :class:`Parametrization` objects in flat order.
    seed, init, init_scale : the random initialization (the seed alone determines every weight).
    initial : explicit full tensors in flat order (``W_0, b_0, W_1, ...``) instead of the random init;
        see also :meth:`from_weights`.
    masks, basis_seed : options of the free kinds (see :meth:`MLPArchitecture.parametrizations`).
    """

    def __init__(
        self,
        reps: Sequence[PermRep],
        activation: str = "relu",
        bias: bool = True,
        parametrization: str | Sequence[Parametrization] = "orthonormal",
        *,
        seed: int = 0,
        init: str = "equivariant",
        init_scale: float = 1.0,
        initial: Sequence[TensorLike] | None = None,
        masks: Sequence[np.ndarray | None] | None = None,
        basis_seed: int = 0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.arch = MLPArchitecture(tuple(reps), activation, bias)
        params = self.arch.parametrizations(parametrization, masks=masks, basis_seed=basis_seed)
        if initial is None:
            initial = [t[0] for t in self.arch.init_full([seed], init, init_scale)]
        if len(initial) != len(params):
            raise ConfigError(f"got {len(initial)} initial tensors for {len(params)} tensors (flat order)")
        k = self.arch.per_layer
        self.layers = nn.ModuleList(
            EquivariantLinear(
                a,
                b,
                (params[k * layer], params[k * layer + 1] if bias else None),
                bias,
                initial=(initial[k * layer], initial[k * layer + 1] if bias else None),
                dtype=dtype,
                device=device,
            )
            for layer, (a, b) in enumerate(zip(self.arch.reps[:-1], self.arch.reps[1:], strict=True))
        )

    @classmethod
    def from_weights(
        cls,
        reps: Sequence[PermRep],
        weights: Sequence[TensorLike],
        biases: Sequence[TensorLike] | None = None,
        *,
        activation: str = "relu",
        parametrization: str = "orthonormal",
        dtype: torch.dtype | None = None,
    ) -> EquivariantMLP:
        """A model with explicit full weights ``W_l (n_{l+1}, n_l)`` (and biases ``b_l``; no biases
        when ``None``). With a constrained parametrization they must be equivariant; e.g. a teacher
        with ``W_0 = a I + b (J - I)`` and output weights 1."""
        initial: list[TensorLike] = []
        for layer, W in enumerate(weights):
            initial.append(W)
            if biases is not None:
                initial.append(biases[layer])
        return cls(reps, activation, biases is not None, parametrization, initial=initial, dtype=dtype)

    # ------------------------------------------------------------------ views
    @property
    def parametrizations(self) -> tuple[Parametrization, ...]:
        """The parametrization of every tensor, flat order."""
        out: list[Parametrization] = []
        for layer in self.layers:
            out.append(layer.weight_param)
            if layer.bias_param is not None:
                out.append(layer.bias_param)
        return tuple(out)

    def coordinates(self) -> list[torch.Tensor]:
        """The trainable coordinates, flat order (the module's parameters themselves)."""
        out: list[torch.Tensor] = []
        for layer in self.layers:
            out.append(layer.weight_coords)
            if layer.bias_coords is not None:
                out.append(layer.bias_coords)
        return out

    def full(self) -> list[torch.Tensor]:
        """The full tensors ``W_0, b_0, W_1, ...`` (differentiable in the coordinates)."""
        return [p.to_full(c) for p, c in zip(self.parametrizations, self.coordinates(), strict=True)]

    def weights(self) -> list[torch.Tensor]:
        return self.arch.split(self.full())[0]

    def biases(self) -> list[torch.Tensor] | None:
        return self.arch.split(self.full())[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = ACTIVATION_FUNCTIONS[self.arch.activation].forward
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = act(x, None)
        return x

    # ------------------------------------------------------------------ conversions
    def reparametrize(self, parametrization: str | Sequence[Parametrization]) -> EquivariantMLP:
        """A new model in another parametrization whose tensors are the orthogonal projections of
        this model's onto the new parametrization's space (the same function when it contains them)."""
        params = self.arch.parametrizations(parametrization)
        full = [p.to_full(p.from_full(t)) for p, t in zip(params, self.full(), strict=True)]
        first = self.layers[0].weight_coords
        return EquivariantMLP(
            self.arch.reps,
            self.arch.activation,
            self.arch.bias,
            params,
            initial=[t.detach() for t in full],
            dtype=first.dtype,
            device=first.device,
        )

    def to_free(self) -> EquivariantMLP:
        """The same function as a free MLP (identical weight matrices)."""
        return self.reparametrize("free")

    def project(self, parametrization: str = "orthonormal") -> EquivariantMLP:
        """The projection onto the equivariant subspace ``E`` (orbit averages of every tensor), as a
        constrained model with the given parametrization."""
        return self.reparametrize(parametrization)
