"""Equivariant maps inside an admissible subspace, and when the two projections commute.

An admissible subspace ``L`` (Nordenfors et al.) is given here by a 0/1 ``mask`` of the entries'
shape (``(n_out, n_in)`` for maps): ``L = {W : W[a] = 0 wherever mask[a] == 0}``, a sparsity
pattern. Its orthogonal projection is ``P_L W = mask * W``. ``H_G`` is the space of equivariant
maps, with orthogonal projection ``P_G`` (orbit averaging, :class:`OrbitBasis`).

**Compatibility.** ``P_L`` and ``P_G`` commute iff the mask is a union of orbits of index pairs
(constant on each orbit). As matrices on the flattened entries, ``P_L = diag(m)`` and
``P_G[a, b] = 1/s_o`` for ``a, b`` in one orbit ``o`` of size ``s_o``, so the commutator is
``[P_L, P_G][a, b] = (m_a - m_b) P_G[a, b]``: it vanishes iff ``m`` is constant on every orbit.
Its squared Frobenius norm is ``sum_o 2 k_o (s_o - k_o) / s_o^2`` with ``k_o`` the number of
masked-in entries of orbit ``o`` (:func:`commutator_norm`). When they commute, ``P_L P_G`` is the
orthogonal projection onto ``L ∩ H_G``, and the results that need compatibility (the augmented
gradient is the projected gradient, docs/design.md section 4) hold.

**The intersection** ``E = L ∩ H_G`` is spanned, for *every* mask, by the indicators of the orbits
that lie entirely inside the mask: ``W in H_G`` is constant on orbits and ``W in L`` vanishes off
the mask, so an orbit that leaves the mask carries coefficient 0. Its orthogonal projection is
therefore exact and cheap: average over each kept orbit, zero elsewhere
(:class:`AdmissibleBasis`); no SVD is needed. For an incompatible mask this differs from
``P_L P_G``, which is then not even self-adjoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from eqlandscape.equivariant._backend import TorchIndexCache, leading_shape, torch_module
from eqlandscape.equivariant.basis import ArrayLike, OrbitBasis
from eqlandscape.errors import ConfigError, DegreeMismatchError


def check_mask(basis: OrbitBasis, mask: ArrayLike) -> np.ndarray:
    """Validate ``mask`` as a 0/1 sparsity pattern of ``basis.shape``; return it as a read-only bool array.

    Raises :class:`~eqlandscape.errors.DegreeMismatchError` on a wrong shape and
    :class:`~eqlandscape.errors.ConfigError` on entries other than 0 and 1.
    """
    torch = torch_module(mask)
    m = np.asarray(mask.detach().cpu() if torch is not None else mask)
    if m.shape != basis.shape:
        where = f" ({basis.label})" if basis.label else ""
        raise DegreeMismatchError(
            f"mask of shape {m.shape} does not match the basis shape {basis.shape}{where}"
        )
    if m.dtype != np.bool_:
        if not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
            bad = m[~np.isin(m, (0, 1))] if np.issubdtype(m.dtype, np.number) else m.reshape(-1)
            raise ConfigError(f"mask entries must be 0 or 1, got {bad.reshape(-1)[:5].tolist()} ({m.dtype})")
        m = m != 0
    m = m.copy()
    m.setflags(write=False)
    return m


def _inside_counts(basis: OrbitBasis, mask: np.ndarray) -> np.ndarray:
    """``k_o``: the number of entries of each orbit inside the mask, shape ``(dim,)``."""
    return np.bincount(basis.orbit_index.reshape(-1), weights=mask.reshape(-1), minlength=basis.dim).astype(
        np.int64
    )


def _all_orbits_whole(k: np.ndarray, sizes: np.ndarray) -> bool:
    """Every orbit entirely inside (``k == s``) or entirely outside (``k == 0``) the mask."""
    return bool(np.all((k == 0) | (k == sizes)))


def commutator_norm(basis: OrbitBasis, mask: ArrayLike) -> float:
    """Frobenius norm of ``P_L P_G - P_G P_L`` (as ``N x N`` matrices), computed in closed form
    ``sqrt(sum_o 2 k_o (s_o - k_o) / s_o^2)`` without forming the matrices."""
    m = check_mask(basis, mask)
    k = _inside_counts(basis, m)
    s = basis.sizes
    return float(np.sqrt(np.sum(2 * k * (s - k) / s.astype(np.float64) ** 2)))


def is_compatible(basis: OrbitBasis, mask: ArrayLike) -> bool:
    """Whether the projections onto ``L`` (the mask) and onto the equivariant maps commute,
    i.e. whether the commutator of :func:`commutator_norm` is zero. Decided exactly in integers:
    equivalently, the mask is a union of orbits of index pairs."""
    return _all_orbits_whole(_inside_counts(basis, check_mask(basis, mask)), basis.sizes)


@dataclass(frozen=True, eq=False)
class AdmissibleBasis:
    """Basis of ``E = L ∩ H_G``: the orbit indicators of ``parent`` whose orbits lie inside ``mask``.

    Offers the methods of :class:`OrbitBasis` (``dim``, ``shape``, ``sizes``, ``dense``,
    ``orthonormal``, ``coefficients``, ``combine``, ``project``, ``projection_matrix``), with the
    same shapes, NumPy/torch dispatch and batching; ``project`` is the orthogonal projection onto
    ``E`` whether or not the mask is compatible.

    Built as ``AdmissibleBasis(parent, mask)`` (the mask validated by :func:`check_mask`); ``orbits`` and
    ``compatible`` are derived from them.

    Attributes
    ----------
    parent : the orbit basis of ``H_G``.
    mask : read-only bool array of ``parent.shape``: the admissible pattern ``L``.
    orbits : read-only int array ``(dim,)``: the parent orbits kept (those inside the mask), increasing.
    compatible : whether ``P_L`` and ``P_G`` commute (then ``project == mask * parent.project``).
    """

    parent: OrbitBasis
    mask: np.ndarray = field(repr=False)
    orbits: np.ndarray = field(init=False, repr=False)
    compatible: bool = field(init=False)
    _torch: TorchIndexCache = field(default_factory=TorchIndexCache, init=False, repr=False)

    def __post_init__(self) -> None:
        """Validate ``mask`` (:func:`check_mask`) and derive ``orbits`` and ``compatible`` from it."""
        mask = check_mask(self.parent, self.mask)
        k = _inside_counts(self.parent, mask)
        orbits = np.flatnonzero(k == self.parent.sizes)
        orbits.setflags(write=False)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "orbits", orbits)
        object.__setattr__(self, "compatible", _all_orbits_whole(k, self.parent.sizes))

    @property
    def dim(self) -> int:
        return int(self.orbits.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return self.parent.shape

    @property
    def numel(self) -> int:
        return self.parent.numel

    @property
    def sizes(self) -> np.ndarray:
        """Sizes of the kept orbits, ``(dim,)``."""
        return self.parent.sizes[self.orbits]

    @property
    def label(self) -> str:
        return f"{self.parent.label} inside a mask" if self.parent.label else "inside a mask"

    @cached_property
    def support(self) -> np.ndarray:
        """Read-only bool array of ``shape``: entries that elements of ``E`` may have nonzero
        (the union of the kept orbits; equal to ``mask`` iff the mask is compatible)."""
        kept = np.zeros(self.parent.dim, dtype=bool)
        kept[self.orbits] = True
        support = kept[self.parent.orbit_index]
        support.setflags(write=False)
        return support

    @cached_property
    def _local_index(self) -> np.ndarray:
        """Flat entries -> position ``0..dim-1`` of their orbit among the kept ones, or ``dim``
        (a slot that holds 0) off the support."""
        local = np.full(self.parent.dim, self.dim, dtype=np.int64)
        local[self.orbits] = np.arange(self.dim)
        return local[self.parent.orbit_index.reshape(-1)]

    def dense(self, dtype: type = np.float64) -> np.ndarray:
        """Indicators of the kept orbits, shape ``(dim, *shape)``: exact 0/1 entries."""
        return self.parent.dense(dtype)[self.orbits]

    def orthonormal(self, dtype: type = np.float64) -> np.ndarray:
        """Kept indicators divided by ``sqrt(orbit size)``, shape ``(dim, *shape)``."""
        return self.parent.orthonormal(dtype)[self.orbits]

    def coefficients(self, W: ArrayLike) -> ArrayLike:
        """Means of ``W`` over the kept orbits: ``(..., *shape) -> (..., dim)``; the coordinates of
        the orthogonal projection onto ``E`` in this basis."""
        c = self.parent.coefficients(W)
        torch = torch_module(c)
        if torch is not None:
            return c.index_select(c.dim() - 1, self._torch.get(torch, "orbits", self.orbits, c))
        return c[..., self.orbits]

    def combine(self, coefficients: ArrayLike) -> ArrayLike:
        """``sum_k c_k B_k`` over the kept orbits: ``(..., dim) -> (..., *shape)``, zero off the support."""
        torch = torch_module(coefficients)
        if torch is not None:
            lead = leading_shape(tuple(coefficients.shape), (self.dim,), "coefficients", self.label)
            padded = torch.cat([coefficients, coefficients.new_zeros(*lead, 1)], dim=len(lead))
            index = self._torch.get(torch, "local", self._local_index, coefficients)
            return padded.index_select(len(lead), index).reshape(*lead, *self.shape)
        c = np.asarray(coefficients)
        lead = leading_shape(c.shape, (self.dim,), "coefficients", self.label)
        padded = np.concatenate([c, np.zeros((*lead, 1), dtype=c.dtype)], axis=-1)
        return padded[..., self._local_index.reshape(self.shape)]

    def project(self, W: ArrayLike) -> ArrayLike:
        """Orthogonal projection onto ``E = L ∩ H_G``: orbit averages on the kept orbits, 0 elsewhere."""
        return self.combine(self.coefficients(W))

    @cached_property
    def projection_matrix(self) -> np.ndarray:
        """``P_E`` as a read-only ``(N, N)`` matrix on the flattened entries: ``P_G`` with the rows
        and columns off the support set to zero."""
        s = self.support.reshape(-1)
        P = self.parent.projection_matrix * (s[:, None] & s[None, :])
        P.setflags(write=False)
        return P


def admissible_equivariant_basis(basis: OrbitBasis, mask: ArrayLike) -> AdmissibleBasis:
    """The basis of ``E = L ∩ H_G`` for the admissible pattern ``mask`` (see the module docstring):
    the orbits of ``basis`` inside the mask. Exact for any mask, compatible or not."""
    return AdmissibleBasis(basis, mask)


def orbit_union_mask(basis: OrbitBasis, orbits: Sequence[int] | np.ndarray) -> np.ndarray:
    """The mask that is the union of the given orbits (an iterable of orbit numbers): always compatible."""
    keep = np.zeros(basis.dim, dtype=bool)
    keep[np.asarray(orbits, dtype=np.int64)] = True
    return keep[basis.orbit_index]
