"""Coordinates of a layer's weights: the parametrization sets the metric of gradient descent.

A :class:`Parametrization` maps coordinates ``theta`` (shape ``(..., dim)``) linearly to a full
weight matrix ``W`` (shape ``(..., n_out, n_in)``) or bias (``(..., n_out)``)::

    W.flat = theta @ Phi            Phi: (dim, N),  N = n_out * n_in (row-major entries)

Its adjoint pulls a gradient back, ``dL/dtheta = dL/dW.flat @ Phi^T``, so a gradient step on
``theta`` moves ``W`` by ``-lr * Phi^T Phi dL/dW``: gradient descent in ``theta`` is gradient
descent in the full space preconditioned by ``Phi^T Phi`` (docs/design.md section 4). The kinds:

* ``orbit``: ``Phi`` = the orbit indicators of the equivariant maps (one shared weight per orbit,
  weight sharing); ``Phi^T Phi`` weighs each orbit by its size.
* ``orthonormal``: indicators divided by ``sqrt(orbit size)``; ``Phi^T Phi`` is the orthogonal
  projection onto ``E``: the Euclidean metric of the full space restricted to ``E``.
* ``projected``: free coordinates ``V`` of the full shape, ``W = P_E V`` (``Phi`` = the projection).
* ``free``: ``Phi`` = identity (an ordinary layer); with a ``mask``, the kept entries only (the
  admissible subspace ``L`` of a sparsity pattern, orthonormal coordinates).
* ``random``: a random non-orthonormal basis of the full space (or of ``L`` with a mask): the
  "non-unitary" arm of Nordenfors et al.

:meth:`Parametrization.from_full` returns the coordinates of the orthogonal projection of a full
tensor onto the image of ``Phi`` (``W.flat @ pinv(Phi)``): converting a free model back to a
constrained one projects it onto ``E``.

``Phi`` is stored densely (``dim * N`` floats; ``N^2`` for ``projected`` and ``random``): the
coordinate maps are then one matrix product each, the fastest form for the small layers this
toolkit trains by the thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch

from eqlandscape.equivariant import LinearBasis, OrbitBasis, admissible_equivariant_basis, random_basis
from eqlandscape.errors import ConfigError

CONSTRAINED_KINDS = ("orbit", "orthonormal", "projected")
KINDS = (*CONSTRAINED_KINDS, "free", "random")


@dataclass(frozen=True, eq=False)
class Parametrization:
    """Linear coordinates ``W.flat = theta @ phi`` of one tensor of shape ``shape``.

    Attributes
    ----------
    kind : one of :data:`KINDS` (see the module docstring).
    shape : the full tensor's shape, ``(n_out, n_in)`` or ``(n_out,)``.
    phi : float64 array ``(dim, N)``, or ``None`` for the identity (``dim = N``).
    pinv : float64 array ``(N, dim)``, the pseudo-inverse of ``phi`` (``None`` with ``phi``).
    """

    kind: str
    shape: tuple[int, ...]
    phi: np.ndarray | None = field(repr=False)
    pinv: np.ndarray | None = field(repr=False)
    _tensors: dict[tuple[Any, ...], torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def numel(self) -> int:
        """``N``: entries of the full tensor."""
        return int(np.prod(self.shape, dtype=np.int64))

    @cached_property
    def dim(self) -> int:
        """Number of coordinates."""
        return self.numel if self.phi is None else int(self.phi.shape[0])

    def same_as(self, other: Parametrization) -> bool:
        """Whether ``other`` maps coordinates to full tensors in the same way."""
        same_phi = (self.phi is None and other.phi is None) or (
            self.phi is not None and other.phi is not None and np.array_equal(self.phi, other.phi)
        )
        return self.kind == other.kind and self.shape == other.shape and same_phi

    def _tensor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        key = (name, like.device, like.dtype)
        t = self._tensors.get(key)
        if t is None:
            t = torch.tensor(np.array(getattr(self, name)), dtype=like.dtype, device=like.device)
            self._tensors[key] = t
        return t

    def to_full(self, theta: torch.Tensor) -> torch.Tensor:
        """``(..., dim) -> (..., *shape)``: ``W.flat = theta @ phi`` (differentiable)."""
        lead = theta.shape[:-1]
        flat = theta if self.phi is None else theta @ self._tensor("phi", theta)
        return flat.reshape(*lead, *self.shape)

    def _flatten(self, t: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., N)``."""
        return t.reshape(*t.shape[: t.dim() - len(self.shape)], self.numel)

    def pullback(self, grad: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., dim)``: the gradient in coordinates, ``dL/dW.flat @ phi^T``."""
        flat = self._flatten(grad)
        return flat if self.phi is None else flat @ self._tensor("phi", grad).T

    def from_full(self, full: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., dim)``: coordinates of the orthogonal projection of ``full`` onto
        the image, ``full.flat @ pinv(phi)``; exact inverse of :meth:`to_full` on the image. A new
        contiguous tensor."""
        flat = self._flatten(full)
        if self.phi is None:
            return flat.clone(memory_format=torch.contiguous_format)
        return (flat @ self._tensor("pinv", full)).contiguous()


def _dense(kind: str, shape: tuple[int, ...], phi: np.ndarray, pinv: np.ndarray | None = None) -> Parametrization:
    phi = np.ascontiguousarray(phi.reshape(phi.shape[0], -1), dtype=np.float64)
    pinv = np.linalg.pinv(phi) if pinv is None else np.ascontiguousarray(pinv, dtype=np.float64)
    phi.setflags(write=False)
    pinv.setflags(write=False)
    return Parametrization(kind, shape, phi, pinv)


def _orthonormal(kind: str, basis: LinearBasis) -> Parametrization:
    """Coordinates in the orthonormal basis of ``basis`` (``pinv(phi) = phi^T``)."""
    phi = basis.orthonormal()
    return _dense(kind, basis.shape, phi, phi.reshape(basis.dim, -1).T)


def _full_space(shape: tuple[int, ...]) -> OrbitBasis:
    """The whole space of tensors of ``shape`` as an orbit basis of singletons."""
    n = int(np.prod(shape, dtype=np.int64))
    return OrbitBasis(np.arange(n).reshape(shape), np.ones(n, dtype=np.int64), label=f"all tensors {shape}")


def make_parametrization(
    kind: str, basis: OrbitBasis, *, mask: np.ndarray | None = None, basis_seed: int = 0
) -> Parametrization:
    """The parametrization ``kind`` of a tensor whose equivariant subspace has orbit basis ``basis``.

    ``mask`` (bool, ``basis.shape``) restricts the free kinds to the admissible subspace
    ``L = {W : W = 0 off the mask}``; ``basis_seed`` seeds the random basis of ``random``.
    Raises :class:`ConfigError` for an unknown kind or a mask on a constrained kind.
    """
    shape = basis.shape
    if kind not in KINDS:
        raise ConfigError(f"unknown parametrization {kind!r}; expected one of {', '.join(KINDS)}")
    if mask is not None and kind in CONSTRAINED_KINDS:
        raise ConfigError(f"a mask applies to the free parametrizations, not to {kind!r}")
    if kind == "orbit":
        phi = basis.dense()
        return _dense(kind, shape, phi, (phi.reshape(basis.dim, -1) / basis.sizes[:, None]).T)
    if kind == "orthonormal":
        return _orthonormal(kind, basis)
    if kind == "projected":
        P = np.asarray(basis.projection_matrix)
        return _dense(kind, shape, P, P)
    if kind == "free" and mask is None:
        return Parametrization(kind, shape, None, None)
    space = _full_space(shape) if mask is None else admissible_equivariant_basis(_full_space(shape), mask)
    if kind == "random":
        return _dense(kind, shape, random_basis(space, basis_seed))
    return _orthonormal(kind, space)


def exact_coordinates(param: Parametrization, full: torch.Tensor, what: str) -> torch.Tensor:
    """Coordinates of a full tensor that must lie in the image of ``param`` (an explicit weight of
    a constrained model, say); raises :class:`ConfigError` naming ``what`` if an entry lies farther
    than ``rtol * max(1, max |full|)`` from the image (``rtol`` 1e-6 in float64, 1e-4 in lower
    precision). Project such a tensor first (:meth:`Parametrization.from_full`)."""
    theta = param.from_full(full)
    if not full.numel():
        return theta
    rtol = 1e-6 if full.dtype == torch.float64 else 1e-4
    gap = float((param.to_full(theta) - full).abs().max())
    if not gap <= rtol * max(1.0, float(full.abs().max())):
        raise ConfigError(
            f"{what} is not in the space of the {param.kind!r} parametrization "
            f"(largest entry off it: {gap:.3g}); project it first"
        )
    return theta
