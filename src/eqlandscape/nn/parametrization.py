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
constrained one projects it onto ``E``. In floating point ``to_full(from_full(W))`` is ``W`` only up
to rounding (``W = theta * (1 / sqrt(size))`` does not reach every float), so
:meth:`Parametrization.onto` keeps a tensor that lies in the image exactly as it is, bit for bit
(:meth:`Parametrization.contains`: its tied entries are equal, its entries off the image 0), and
projects the others; a projection lies in the image exactly. The trainer starts from ``onto`` of
the initial tensors, which makes a restart from recorded weights exact.

``Phi`` is stored densely (``dim * N`` floats; ``N^2`` for ``projected`` and ``random``). The maps
are computed per model with a fixed order of operations, so that a model's numbers do not depend
on the other rows of the batch (no BLAS matrix product, whose summation order changes with the
number of rows): when every column of ``Phi`` has at most one nonzero entry (``orbit``,
``orthonormal``, ``free`` with a mask) ``to_full`` is a gather and a multiply and ``pullback`` /
``from_full`` sum the gathered entries of each coordinate; otherwise (``projected``, ``random``) a
product is a broadcast multiply and a sum over the summed index, entry by entry (so that tied
entries of the space, with equal columns of ``Phi``, come out equal).
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
DENSE_LIMIT = 50_000_000
"""Largest ``phi`` (entries) a parametrization stores densely, with its pseudo-inverse of the same size
(400 MB each in float64): a layer ``32*natural^2 -> 64*trivial`` of ``S_10`` would need 839 million."""
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
        """The array ``name`` (``phi``, ``pinv``, their transposes ``phi_t``, ``pinv_t``, or a
        :attr:`_maps` entry) as a tensor on ``like``'s device, in ``like``'s dtype (floating
        arrays) or as indices (integer arrays); cached."""
        key = (name, like.device, like.dtype)
        t = self._tensors.get(key)
        if t is None:
            if name in ("phi", "pinv"):
                array = np.array(getattr(self, name))
            elif name in ("phi_t", "pinv_t"):
                array = np.ascontiguousarray(getattr(self, name[:-2]).T)
            else:
                array = self._maps[name]
            dtype = torch.long if array.dtype.kind in "iu" else like.dtype
            t = torch.tensor(array, dtype=dtype, device=like.device)
            self._tensors[key] = t
        return t

    @cached_property
    def _maps(self) -> dict[str, np.ndarray]:
        """The sparse form of ``phi`` and ``pinv`` (empty when ``phi`` is dense, or the identity):
        ``row[a]`` and ``value[a]``, the nonzero entry of column ``a`` of ``phi`` (``0`` for a zero
        column); ``members[d]``, the columns whose nonzero lies in row ``d`` (padded with column 0),
        with ``phi`` and ``pinv`` entries ``member_phi[d]`` and ``member_pinv[d]`` (0 for padding)."""
        if self.phi is None or self.pinv is None:
            return {}
        nonzero = self.phi != 0
        if (nonzero.sum(axis=0) > 1).any():
            return {}
        columns = np.arange(self.numel)
        row = np.argmax(nonzero, axis=0) if self.dim else np.zeros(self.numel, dtype=np.int64)
        value = np.where(nonzero.any(axis=0), self.phi[row, columns], 0.0)
        # pinv must be supported on the same entries (it is, for indicator bases): else dense
        if not np.array_equal(self.pinv != 0, nonzero.T):
            return {}
        counts = nonzero.sum(axis=1)
        width = max(int(counts.max(initial=0)), 1)
        members = np.zeros((self.dim, width), dtype=np.int64)
        member_phi = np.zeros((self.dim, width))
        member_pinv = np.zeros((self.dim, width))
        for d in range(self.dim):
            cols = np.flatnonzero(nonzero[d])
            members[d, : cols.size] = cols
            member_phi[d, : cols.size] = self.phi[d, cols]
            member_pinv[d, : cols.size] = self.pinv[cols, d]
        return {
            "row": row,
            "value": value,
            "members": members.reshape(-1),
            "member_phi": member_phi,
            "member_pinv": member_pinv,
        }

    def gather_maps(self) -> dict[str, np.ndarray] | None:
        """The sparse form of the maps when every column of ``phi`` has at most one nonzero entry
        (``orbit``, ``orthonormal``, masked ``free``), else ``None``: ``to_full`` is
        ``theta[..., row] * value``; ``pullback`` is ``sum_m g[..., members[d, m]] * member_phi[d, m]``
        (``members`` padded with column 0, weight 0)."""
        maps = self._maps
        if not maps:
            return None
        width = maps["member_phi"].shape[1]
        return {**maps, "members": maps["members"].reshape(self.dim, width)}

    def _gather_sum(self, flat: torch.Tensor, weights: str, out: torch.Tensor | None = None) -> torch.Tensor:
        """``(..., N) -> (..., dim)``: ``sum_m flat[members[d, m]] * weights[d, m]`` (sparse form)."""
        w = self._tensor(weights, flat)
        gathered = flat.index_select(-1, self._tensor("members", flat)).reshape(*flat.shape[:-1], *w.shape)
        return torch.sum(gathered.mul_(w), -1, out=out)

    def to_full(
        self, theta: torch.Tensor, offset: torch.Tensor | None = None, *, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(..., dim) -> (..., *shape)``: ``W.flat = theta @ phi``, plus ``offset`` (a full tensor)
        if given (differentiable in ``theta``), written into ``out`` if given. Without ``offset`` and
        ``out`` the identity's result is a view of ``theta``."""
        lead = theta.shape[:-1]
        full_shape = (*lead, *self.shape)
        if self.phi is None:
            full = theta.reshape(full_shape)
        elif self._maps:
            gathered = theta.index_select(-1, self._tensor("row", theta)).reshape(full_shape)
            value = self._tensor("value", theta).reshape(self.shape)
            if offset is not None:
                return torch.addcmul(offset, gathered, value, out=out)
            return torch.mul(gathered, value, out=out)
        else:
            full = _contract(theta, self._tensor("phi_t", theta)).reshape(full_shape)
        if offset is not None:
            return torch.add(offset, full, out=out)
        return full if out is None else out.copy_(full)

    def _flatten(self, t: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., N)``."""
        return t.reshape(*t.shape[: t.dim() - len(self.shape)], self.numel)

    def pullback(self, grad: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """``(..., *shape) -> (..., dim)``: the gradient in coordinates, ``dL/dW.flat @ phi^T``
        (written into ``out`` if given; else for the identity a view of ``grad``)."""
        flat = self._flatten(grad)
        if self.phi is None:
            return flat if out is None else out.copy_(flat)
        if self._maps:
            return self._gather_sum(flat, "member_phi", out)
        coords = _contract(flat, self._tensor("phi", grad))
        return coords if out is None else out.copy_(coords)

    def from_full(self, full: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., dim)``: coordinates of the orthogonal projection of ``full`` onto
        the image, ``full.flat @ pinv(phi)``; an inverse of :meth:`to_full` on the image, up to
        rounding (exact for the identity). A new contiguous tensor."""
        flat = self._flatten(full)
        if self.phi is None:
            return flat.clone(memory_format=torch.contiguous_format)
        if self._maps:
            return self._gather_sum(flat, "member_pinv").contiguous()
        return _contract(flat, self._tensor("pinv_t", full)).contiguous()

    @cached_property
    def _ties(self) -> dict[str, np.ndarray] | None:
        """The image as equalities between entries, when they describe it exactly: entries whose
        columns of ``phi`` are equal and nonzero are equal (``first[a]``: the first such entry),
        entries with a zero column are 0 (``zero``). ``None`` when these do not pin the image down
        (the number of free entries differs from the rank of ``phi``) or for the identity."""
        if self.phi is None:
            return None
        columns = self.phi.T
        zero = ~columns.any(axis=1)
        _, first, inverse = np.unique(columns, axis=0, return_index=True, return_inverse=True)
        first = first[inverse.reshape(-1)]
        if np.unique(first[~zero]).size != np.linalg.matrix_rank(self.phi):
            return None
        return {"first": first, "zero": np.flatnonzero(zero)}

    def contains(self, full: torch.Tensor) -> torch.Tensor:
        """Whether each tensor ``(..., *shape)`` lies exactly in the image (bool ``(...)``): its
        entries satisfy the equalities that define the image, bit for bit. Always true for the
        identity; always false when the image has no such description (``random`` in a subspace
        without zero columns, which the toolkit does not build)."""
        flat = self._flatten(full)
        lead = flat.shape[:-1]
        if self.phi is None:
            return torch.ones(lead, dtype=torch.bool, device=full.device)
        ties = self._ties
        if ties is None:
            return torch.zeros(lead, dtype=torch.bool, device=full.device)
        first = torch.as_tensor(ties["first"], device=full.device)
        zero = torch.as_tensor(ties["zero"], device=full.device)
        same = (flat == flat.index_select(-1, first)).all(-1)
        return same & (flat.index_select(-1, zero) == 0).all(-1)

    def onto(self, full: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., *shape)``: each tensor itself where it lies in the image
        (:meth:`contains`; unchanged bit for bit), else its orthogonal projection
        ``to_full(from_full(full))``, which lies in the image exactly (tied entries are computed
        by the same operations). A new contiguous tensor."""
        keep = self.contains(full)
        if bool(keep.all()):
            return full.clone(memory_format=torch.contiguous_format)
        projected = self.to_full(self.from_full(full))
        return torch.where(keep.reshape(*keep.shape, *([1] * len(self.shape))), full, projected).contiguous()


_PRODUCT_ENTRIES = 1 << 20  # entries of one broadcast product in :func:`_contract`


def _contract(a: torch.Tensor, MT: torch.Tensor) -> torch.Tensor:
    """``a @ MT.T`` for ``a (..., D)``, ``MT (N, D)``, entry by entry in a fixed order: entry ``n`` of
    a row is the sum over the last axis of the broadcast product ``a[r, None, :] * MT[n]``. The sum
    of one entry depends on its row of ``a`` and its row of ``MT`` alone (the reduction's order is
    a function of ``D``): not on the number of rows, and equal rows of ``MT`` give equal entries.
    Rows and entries are processed in groups that bound the product's size."""
    N, D = MT.shape
    lead = a.shape[:-1]
    rows = a.reshape(-1, D)
    if not (rows.shape[0] and N and D):
        return a.new_zeros((*lead, N))
    cols = max(1, min(N, _PRODUCT_ENTRIES // D))
    group = max(1, _PRODUCT_ENTRIES // (cols * D))
    parts = []
    for r in range(0, rows.shape[0], group):
        chunk = rows[r : r + group, None, :]
        pieces = [(chunk * MT[n : n + cols]).sum(-1) for n in range(0, N, cols)]
        parts.append(pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1))
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    return out.reshape(*lead, N)


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
    n = basis.numel
    stored = {"orbit": basis.dim * n, "orthonormal": basis.dim * n, "projected": n * n, "random": n * n}
    if stored.get(kind, 0) > DENSE_LIMIT:
        raise ConfigError(
            f"the {kind!r} parametrization of a tensor of shape {shape} ({basis.label or 'weights'}) would store "
            f"{stored[kind]:,} floats twice, more than the limit of {DENSE_LIMIT:,}; use a smaller layer or the "
            "'free' strategy"
        )
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
