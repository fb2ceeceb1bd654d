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

Storage. ``orbit``, ``orthonormal`` and masked ``free`` have at most one nonzero entry per column of
``Phi`` and the same value on all entries of a row: they are stored in *gather form*, built from the
integer orbit labels of the basis (``labels[a]``, the coordinate of entry ``a``, ``-1`` off the image;
``values[a] = Phi[labels[a], a]``; ``inverse[a] = pinv(Phi)[a, labels[a]]``), in memory linear in
``N``: the ``32*natural^2 -> 64*trivial`` layer of ``S_10`` (2e5 entries, 4,096 coordinates) needs
no ``839e6``-entry ``Phi``. Their dense ``phi`` and ``pinv`` are
built on first access, for callers that need the matrices (refused past :data:`DENSE_LIMIT`).
``projected`` and ``random`` store ``Phi`` and its pseudo-inverse densely (``N^2`` floats, refused
past the limit when built), and use the gather form as well when ``Phi`` happens to have one nonzero
entry per column (a projection onto singleton orbits, a random basis of a line).

The maps are computed per model with a fixed order of operations, so that a model's numbers do not
depend on the other rows of the batch (no BLAS matrix product, whose summation order changes with
the number of rows): in gather form ``to_full`` is a gather and a multiply and ``pullback`` /
``from_full`` sum the gathered entries of each coordinate (``members[d]``: the entries of
coordinate ``d`` in increasing order, padded with entry 0 of weight 0 to the largest orbit);
otherwise (``projected``, ``random``) a product is a broadcast multiply and a sum over the summed
index, entry by entry (so that tied entries of the space, with equal columns of ``Phi``, come out
equal). docs/design.md section 4 states the metrics.
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
"""Largest dense ``phi`` (entries) a parametrization builds, with its pseudo-inverse of the same size
(400 MB each in float64): the dense ``phi`` of the layer ``32*natural^2 -> 64*trivial`` of ``S_10``
would hold 839 million."""
KINDS = (*CONSTRAINED_KINDS, "free", "random")


@dataclass(frozen=True, eq=False)
class Parametrization:
    """Linear coordinates ``W.flat = theta @ phi`` of one tensor of shape ``shape``.

    Built by :func:`make_parametrization`: the identity (``free`` without a mask) stores nothing;
    the gather form (module docstring) stores ``labels``, ``values`` and ``inverse``; the dense
    kinds store ``dense = (phi, pinv)`` (and the gather form too where ``phi`` has one nonzero
    entry per column and ``pinv`` the same support).

    Attributes
    ----------
    kind : one of :data:`KINDS` (see the module docstring).
    shape : the full tensor's shape, ``(n_out, n_in)`` or ``(n_out,)``.
    dim : the number of coordinates.
    label : what the tensor is (the basis's label), for messages.
    labels : int64 ``(N,)``, the coordinate of each entry (``-1``: a zero column of ``phi``), or ``None``.
    values : float64 ``(N,)``, ``phi[labels[a], a]`` (0 for a zero column), or ``None``.
    inverse : float64 ``(N,)``, ``pinv[a, labels[a]]`` (0 for a zero column), or ``None``.
    dense : ``(phi (dim, N), pinv (N, dim))`` float64 for ``projected`` and ``random``, else ``None``.
    """

    kind: str
    shape: tuple[int, ...]
    dim: int
    label: str = ""
    labels: np.ndarray | None = field(default=None, repr=False)
    values: np.ndarray | None = field(default=None, repr=False)
    inverse: np.ndarray | None = field(default=None, repr=False)
    dense: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _tensors: dict[tuple[Any, ...], torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def numel(self) -> int:
        """``N``: entries of the full tensor."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_identity(self) -> bool:
        """Whether the coordinates are the entries themselves (``free`` without a mask; ``phi`` is ``None``)."""
        return self.labels is None and self.dense is None

    @property
    def is_gather(self) -> bool:
        """Whether the maps are in gather form (``orbit``, ``orthonormal``, masked ``free``)."""
        return self.labels is not None

    def _check_dense(self, what: str) -> None:
        if self.dim * self.numel > DENSE_LIMIT:
            raise ConfigError(
                f"the dense {what} of the {self.kind!r} parametrization of a tensor of shape {self.shape} "
                f"({self.label or 'weights'}) would hold {self.dim * self.numel:,} floats, more than the limit "
                f"of {DENSE_LIMIT:,} (eqlandscape.nn.parametrization.DENSE_LIMIT); its maps (to_full, pullback, "
                "from_full) do not need it"
            )

    @cached_property
    def phi(self) -> np.ndarray | None:
        """float64 ``(dim, N)``, read-only: the matrix of the map (``None`` for the identity). Built on
        first access in gather form; raises :class:`ConfigError` past :data:`DENSE_LIMIT` entries."""
        if self.dense is not None:
            return self.dense[0]
        return self._from_gather("phi", self.values, transpose=False)

    @cached_property
    def pinv(self) -> np.ndarray | None:
        """float64 ``(N, dim)``, read-only: the pseudo-inverse of :attr:`phi` (``None`` for the identity);
        built on first access in gather form, with the same limit."""
        if self.dense is not None:
            return self.dense[1]
        return self._from_gather("pinv", self.inverse, transpose=True)

    def _from_gather(self, what: str, weights: np.ndarray | None, transpose: bool) -> np.ndarray | None:
        """The dense ``(dim, N)`` matrix with ``weights[a]`` at ``(labels[a], a)`` (transposed to
        ``(N, dim)`` if asked), read-only; ``None`` without the gather form."""
        if self.labels is None or weights is None:
            return None
        self._check_dense(what)
        on = np.flatnonzero(self.labels >= 0)
        matrix = np.zeros((self.dim, self.numel))
        matrix[self.labels[on], on] = weights[on]
        if transpose:
            matrix = np.ascontiguousarray(matrix.T)
        matrix.setflags(write=False)
        return matrix

    def same_as(self, other: Parametrization) -> bool:
        """Whether ``other`` maps coordinates to full tensors in the same way."""
        if self.kind != other.kind or self.shape != other.shape or self.dim != other.dim:
            return False
        mine = (self.labels, self.values, None if self.dense is None else self.dense[0])
        theirs = (other.labels, other.values, None if other.dense is None else other.dense[0])
        return all(
            (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in zip(mine, theirs, strict=True)
        )

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
        """The gather form as index and weight arrays (empty for the dense kinds and the identity):
        ``row[a]`` and ``value[a]``, the nonzero entry of column ``a`` of ``phi`` (``0`` for a zero
        column); ``members[d]``, the columns whose nonzero lies in row ``d`` in increasing order
        (padded with column 0), with ``phi`` and ``pinv`` entries ``member_phi[d]`` and
        ``member_pinv[d]`` (0 for padding). Memory ``O(N + dim * largest orbit)``."""
        if self.labels is None or self.values is None or self.inverse is None:
            return {}
        labels = self.labels
        on = labels >= 0
        row = np.maximum(labels, 0)  # values and inverse are 0 already off the image
        counts = np.bincount(labels[on], minlength=self.dim)
        width = max(int(counts.max(initial=0)), 1)
        # entries sorted by coordinate, increasing within one (a stable sort); slot = rank in its coordinate
        entries = np.flatnonzero(on)
        entries = entries[np.argsort(labels[entries], kind="stable")]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        owner = labels[entries]
        slot = np.arange(entries.size) - starts[owner]
        members = np.zeros((self.dim, width), dtype=np.int64)
        member_phi = np.zeros((self.dim, width))
        member_pinv = np.zeros((self.dim, width))
        members[owner, slot] = entries
        member_phi[owner, slot] = self.values[entries]
        member_pinv[owner, slot] = self.inverse[entries]
        return {
            "row": row,
            "value": self.values,
            "members": members.reshape(-1),
            "member_phi": member_phi,
            "member_pinv": member_pinv,
        }

    def gather_maps(self) -> dict[str, np.ndarray] | None:
        """The gather form of the maps (``orbit``, ``orthonormal``, masked ``free``), else ``None``:
        ``to_full`` is ``theta[..., row] * value``; ``pullback`` is
        ``sum_m g[..., members[d, m]] * member_phi[d, m]`` (``members`` padded with column 0, weight 0)."""
        maps = self._maps
        if not maps:
            return None
        width = maps["member_phi"].shape[1]
        return {**maps, "members": maps["members"].reshape(self.dim, width)}

    def _gather_sum(self, flat: torch.Tensor, weights: str, out: torch.Tensor | None = None) -> torch.Tensor:
        """``(..., N) -> (..., dim)``: ``sum_m flat[members[d, m]] * weights[d, m]`` (gather form)."""
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
        if self.is_identity:
            full = theta.reshape(full_shape)
        elif not self.dim:  # no coordinates (an empty mask): the zero tensor
            full = theta.new_zeros(full_shape)
        elif self.is_gather:
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
        if self.is_identity:
            return flat if out is None else out.copy_(flat)
        if self.is_gather:
            return self._gather_sum(flat, "member_phi", out)
        coords = _contract(flat, self._tensor("phi", grad))
        return coords if out is None else out.copy_(coords)

    def from_full(self, full: torch.Tensor) -> torch.Tensor:
        """``(..., *shape) -> (..., dim)``: coordinates of the orthogonal projection of ``full`` onto
        the image, ``full.flat @ pinv(phi)``; an inverse of :meth:`to_full` on the image, up to
        rounding (exact for the identity). A new contiguous tensor."""
        flat = self._flatten(full)
        if self.is_identity:
            return flat.clone(memory_format=torch.contiguous_format)
        if self.is_gather:
            return self._gather_sum(flat, "member_pinv").contiguous()
        return _contract(flat, self._tensor("pinv_t", full)).contiguous()

    @cached_property
    def _ties(self) -> dict[str, np.ndarray] | None:
        """The image as equalities between entries, when they describe it exactly: entries whose
        columns of ``phi`` are equal and nonzero are equal (``first[a]``: the first such entry),
        entries with a zero column are 0 (``zero``). ``None`` when these do not pin the image down
        (the number of free entries differs from the rank of ``phi``) or for the identity. In
        gather form without a dense ``phi`` the columns of one coordinate are equal (one value per
        orbit) and the coordinates independent."""
        if self.is_identity:
            return None
        if self.dense is None and self.labels is not None:
            labels = self.labels
            entries = np.flatnonzero(labels >= 0)
            first_of = np.zeros(self.dim, dtype=np.int64)
            used, at = np.unique(labels[entries], return_index=True)  # first occurrences, entries increasing
            first_of[used] = entries[at]
            first = np.where(labels >= 0, first_of[np.maximum(labels, 0)] if self.dim else 0, np.arange(self.numel))
            return {"first": first, "zero": np.flatnonzero(labels < 0)}
        phi = self.phi
        columns = phi.T
        zero = ~columns.any(axis=1)
        _, first, inverse = np.unique(columns, axis=0, return_index=True, return_inverse=True)
        first = first[inverse.reshape(-1)]
        if np.unique(first[~zero]).size != np.linalg.matrix_rank(phi):
            return None
        return {"first": first, "zero": np.flatnonzero(zero)}

    def contains(self, full: torch.Tensor) -> torch.Tensor:
        """Whether each tensor ``(..., *shape)`` lies exactly in the image (bool ``(...)``): its
        entries satisfy the equalities that define the image, bit for bit. Always true for the
        identity; always false when the image has no such description (``random`` in a subspace
        without zero columns, which the toolkit does not build)."""
        flat = self._flatten(full)
        lead = flat.shape[:-1]
        if self.is_identity:
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


def _dense(kind: str, basis: LinearBasis, phi: np.ndarray, pinv: np.ndarray | None = None) -> Parametrization:
    """``phi`` (and ``pinv``, by default the pseudo-inverse) stored densely, with the gather form as
    well when every column of ``phi`` has at most one nonzero entry and ``pinv`` the same support."""
    phi = np.ascontiguousarray(phi.reshape(phi.shape[0], basis.numel), dtype=np.float64)
    pinv = np.linalg.pinv(phi) if pinv is None else np.ascontiguousarray(pinv, dtype=np.float64)
    phi.setflags(write=False)
    pinv.setflags(write=False)
    dim = phi.shape[0]
    nonzero = phi != 0
    gather: tuple[np.ndarray | None, ...] = (None, None, None)
    if not (nonzero.sum(axis=0) > 1).any() and np.array_equal(pinv != 0, nonzero.T):
        columns = np.flatnonzero(nonzero.any(axis=0))
        labels = np.full(phi.shape[1], -1, dtype=np.int64)
        if columns.size:
            labels[columns] = np.argmax(nonzero[:, columns], axis=0)
        values, inverse = np.zeros(phi.shape[1]), np.zeros(phi.shape[1])
        values[columns] = phi[labels[columns], columns]
        inverse[columns] = pinv[columns, labels[columns]]
        gather = (labels, values, inverse)
    return Parametrization(kind, basis.shape, dim, _label(basis), *gather, dense=(phi, pinv))


def _label(basis: LinearBasis) -> str:
    return str(getattr(basis, "label", ""))


def _gather(kind: str, basis: LinearBasis, labels: np.ndarray, orthonormal: bool) -> Parametrization:
    """The gather form of the indicators of ``basis`` (``labels``: the coordinate of each flat entry,
    ``-1`` outside every orbit): entries ``1`` and pseudo-inverse entries ``1 / size`` (orbit
    indicators), or both ``1 / sqrt(size)`` (orthonormal)."""
    sizes = np.asarray(basis.sizes, dtype=np.float64)
    scale = 1 / np.sqrt(sizes) if orthonormal else np.ones(basis.dim)
    inverse = scale if orthonormal else 1.0 / sizes
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    on = labels >= 0
    at = np.where(on, labels, 0)
    values = np.where(on, scale[at], 0.0) if basis.dim else np.zeros(labels.size)
    inverse = np.where(on, inverse[at], 0.0) if basis.dim else np.zeros(labels.size)
    for a in (labels, values, inverse):
        a.setflags(write=False)
    return Parametrization(kind, basis.shape, basis.dim, _label(basis), labels, values, inverse)


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
    ``orbit``, ``orthonormal`` and masked ``free`` are built from the orbit labels in gather form
    (memory linear in the number of entries); ``projected`` and ``random`` densely.
    Raises :class:`ConfigError` for an unknown kind, a mask on a constrained kind, or a dense kind
    past :data:`DENSE_LIMIT`.
    """
    shape = basis.shape
    if kind not in KINDS:
        raise ConfigError(f"unknown parametrization {kind!r}; expected one of {', '.join(KINDS)}")
    if mask is not None and kind in CONSTRAINED_KINDS:
        raise ConfigError(f"a mask applies to the free parametrizations, not to {kind!r}")
    n = basis.numel
    if kind in ("projected", "random") and n * n > DENSE_LIMIT:
        raise ConfigError(
            f"the {kind!r} parametrization of a tensor of shape {shape} ({basis.label or 'weights'}) would store "
            f"{n * n:,} floats twice, more than the limit of {DENSE_LIMIT:,}; use a smaller layer or the "
            "'free' strategy"
        )
    if kind in ("orbit", "orthonormal"):
        return _gather(kind, basis, basis.orbit_index.reshape(-1), orthonormal=kind == "orthonormal")
    if kind == "projected":
        P = np.asarray(basis.projection_matrix)
        return _dense(kind, basis, P, P)
    if kind == "free" and mask is None:
        return Parametrization(kind, shape, n, basis.label)
    space = _full_space(shape) if mask is None else admissible_equivariant_basis(_full_space(shape), mask)
    if kind == "random":
        return _dense(kind, space, random_basis(space, basis_seed))
    # masked free: the singletons inside the mask, numbered in row-major order
    labels = np.full(n, -1, dtype=np.int64)
    labels[space.orbits] = np.arange(space.dim)
    return _gather(kind, space, labels, orthonormal=True)


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
