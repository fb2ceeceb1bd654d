"""The architecture of an equivariant MLP: its reps, activation and biases; and its initialization.

An MLP with reps ``rho_0, ..., rho_L`` (sizes ``n_0, ..., n_L``) has ``L`` layers; layer ``l`` has a
weight matrix ``W_l`` of shape ``(n_{l+1}, n_l)`` and, with ``bias=True``, a bias ``b_l`` of shape
``(n_{l+1},)``. On a row batch ``x`` of shape ``(B, n_0)``::

    h_0 = x,   z_l = h_l @ W_l.T + b_l,   h_{l+1} = act(z_l) (l < L-1),   f(x) = z_{L-1}

(no activation after the last layer). The model's tensors are kept in *flat order*
``W_0, b_0, W_1, b_1, ...`` (biases left out without ``bias``).

**Initialization** (the seed alone determines every weight; :mod:`eqlandscape.nn.rng`): biases
start at 0. With ``init="equivariant"`` the weight of layer ``l`` is ``W_l = sum_o theta_o B_o``
over the orbit indicators ``B_o`` of its equivariant maps, ``theta_o ~ N(0, scale^2 / n_l)``
independently; with ``init="free"`` its entries are i.i.d. ``N(0, scale^2 / n_l)``. Either way
every entry has variance ``scale^2 / fan_in`` (fan-in ``n_l``), so ``E[z_i^2] = scale^2`` for inputs
of unit variance. In ``orthonormal`` coordinates the equivariant rule reads
``c_o ~ N(0, scale^2 size_o / n_l)``. The same seed gives the same initial *function* under every
parametrization (up to rounding), so strategies can be compared seed by seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from eqlandscape.equivariant import OrbitBasis, bias_basis, equivariant_basis
from eqlandscape.errors import ConfigError
from eqlandscape.nn import rng
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS
from eqlandscape.nn.parametrization import Parametrization, make_parametrization
from eqlandscape.reps import PermRep

ACTIVATIONS = tuple(ACTIVATION_FUNCTIONS)
"""The built-in activations, each with the fast kernel's hand-written backward (more may be registered:
:func:`~eqlandscape.nn.functional.register_activation`)."""


def tensor_names(n_layers: int, bias: bool) -> list[str]:
    """``["W0", "b0", "W1", ...]``: the names of an MLP's tensors in flat order."""
    return [name for layer in range(n_layers) for name in ((f"W{layer}", f"b{layer}") if bias else (f"W{layer}",))]


INITS = ("equivariant", "free")


@dataclass(frozen=True, eq=False)
class MLPArchitecture:
    """Reps ``rho_0 .. rho_L`` of an MLP's layers, its pointwise activation and whether it has biases.

    Pointwise activations commute with permutation reps, so a model whose every weight and bias
    is equivariant is an equivariant function ``rho_0 -> rho_L``.
    """

    reps: tuple[PermRep, ...]
    activation: str = "relu"
    bias: bool = True

    def __post_init__(self) -> None:
        reps = tuple(self.reps)
        object.__setattr__(self, "reps", reps)
        if len(reps) < 2:
            raise ConfigError(f"an MLP needs at least an input and an output rep, got {len(reps)} rep(s)")
        for r in reps[1:]:
            reps[0].check_same_group(r, "MLP layers")
        if self.activation not in ACTIVATION_FUNCTIONS:  # read now: activations may be registered later
            known = ", ".join(ACTIVATION_FUNCTIONS)
            raise ConfigError(f"unknown activation {self.activation!r}; expected one of {known}")

    # ------------------------------------------------------------------ shape
    @property
    def n_layers(self) -> int:
        return len(self.reps) - 1

    @property
    def widths(self) -> tuple[int, ...]:
        """``(n_0, ..., n_L)``."""
        return tuple(r.size for r in self.reps)

    @property
    def rep_in(self) -> PermRep:
        return self.reps[0]

    @property
    def rep_out(self) -> PermRep:
        return self.reps[-1]

    @cached_property
    def bases(self) -> tuple[OrbitBasis, ...]:
        """Orbit bases of the equivariant tensors, in flat order (``W_0, b_0, W_1, ...``)."""
        out: list[OrbitBasis] = []
        for a, b in zip(self.reps[:-1], self.reps[1:], strict=True):
            out.append(equivariant_basis(a, b))
            if self.bias:
                out.append(bias_basis(b))
        return tuple(out)

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shapes of the tensors in flat order."""
        return tuple(b.shape for b in self.bases)

    @property
    def names(self) -> list[str]:
        """Names of the tensors in flat order: ``W0, b0, W1, ...`` (:func:`tensor_names`)."""
        return tensor_names(self.n_layers, self.bias)

    @property
    def per_layer(self) -> int:
        """Tensors per layer in flat order: 2 with biases, else 1."""
        return 2 if self.bias else 1

    def split(self, tensors: Sequence[Any]) -> tuple[list[Any], list[Any] | None]:
        """Flat order -> ``(weights, biases)`` (``biases`` is ``None`` without biases)."""
        k = self.per_layer
        return list(tensors[::k]), (list(tensors[1::k]) if self.bias else None)

    def join(self, weights: Sequence[Any], biases: Sequence[Any] | None) -> list[Any]:
        """``(weights, biases)`` -> flat order (the inverse of :meth:`split`)."""
        if biases is None:
            return list(weights)
        return [t for pair in zip(weights, biases, strict=True) for t in pair]

    def describe(self) -> dict[str, Any]:
        """A JSON-serializable summary: group, rep names, activation, bias."""
        return {
            "group": self.reps[0].group.name,
            "reps": [r.name for r in self.reps],
            "activation": self.activation,
            "bias": self.bias,
        }

    def __str__(self) -> str:
        arrow = " -> ".join(r.name for r in self.reps)
        return f"{arrow} of {self.reps[0].group.name} ({self.activation}, {'bias' if self.bias else 'no bias'})"

    # ------------------------------------------------------------------ parametrizations and init
    def parametrizations(
        self,
        kind: str | Sequence[Parametrization],
        *,
        masks: Sequence[np.ndarray | None] | None = None,
        basis_seed: int = 0,
    ) -> tuple[Parametrization, ...]:
        """One :func:`make_parametrization` of ``kind`` per tensor, in flat order (or ``kind`` itself,
        explicit parametrizations in flat order, checked against the shapes).

        ``masks`` (one per layer, ``None`` for no mask) restrict the free kinds' weights to a
        sparsity pattern; biases are never masked. ``basis_seed`` seeds the ``random`` bases
        (tensor ``t`` of the flat order uses ``basis_seed + t``).
        """
        if not isinstance(kind, str):
            params = tuple(kind)
            if tuple(p.shape for p in params) != self.shapes:
                raise ConfigError(f"parametrizations of shapes {[p.shape for p in params]} for tensors {self.shapes}")
            return params
        if masks is not None and len(masks) != self.n_layers:
            raise ConfigError(f"got {len(masks)} masks for {self.n_layers} layers")
        made = self._parametrizations.get((kind, basis_seed)) if masks is None else None
        if made is not None:
            return made
        out = []
        for t, basis in enumerate(self.bases):
            layer, is_bias = divmod(t, self.per_layer)
            mask = None if masks is None or is_bias else masks[layer]
            out.append(make_parametrization(kind, basis, mask=mask, basis_seed=basis_seed + t))
        if masks is None:
            self._parametrizations[(kind, basis_seed)] = tuple(out)
        return tuple(out)

    @cached_property
    def _parametrizations(self) -> dict[tuple[str, int], tuple[Parametrization, ...]]:
        """The unmasked parametrizations made so far, by kind and basis seed: they depend on nothing else
        (immutable, their maps computed once), and the trainer asks for the same ones for every chunk of
        students (a graph network of ``S_10`` holds about 50 MB of them)."""
        return {}

    def init_full(
        self, seeds: Sequence[int] | np.ndarray, init: str = "equivariant", scale: float = 1.0
    ) -> list[np.ndarray]:
        """Initial full tensors (float64, flat order, each ``(K, *shape)``) for the given seeds,
        by the rule of the module docstring."""
        if init not in INITS:
            raise ConfigError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
        seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        out = []
        for t, basis in enumerate(self.bases):
            layer, is_bias = divmod(t, self.per_layer)
            if is_bias:
                out.append(np.zeros((seeds.size, *basis.shape)))
                continue
            std = scale / np.sqrt(self.widths[layer])
            if init == "equivariant":
                coefficients = std * rng.normal(seeds, f"init/W{layer}/orbit", (basis.dim,))
                out.append(basis.combine(coefficients))
            else:
                out.append(std * rng.normal(seeds, f"init/W{layer}/free", basis.shape))
        return out
