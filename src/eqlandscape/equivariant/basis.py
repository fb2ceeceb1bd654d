"""Exact bases of equivariant linear maps and biases between permutation representations.

A weight matrix ``W`` of shape ``(n_out, n_in)`` maps ``R^{n_in} -> R^{n_out}``; it is
equivariant when ``W @ rho_in(g) == rho_out(g) @ W`` for all ``g``. Entry-wise this reads
``W[p_out[i], p_in[j]] = W[i, j]`` with ``p = perms[g]``: ``W`` is constant on the orbits of
``G`` acting on index pairs ``(i_out, i_in)``. The orbit indicators are an exact integer basis,
numbered by first occurrence in row-major order of the pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from eqlandscape.groups.perm_group import orbit_labels
from eqlandscape.reps.perm_rep import PermRep


@dataclass(frozen=True, eq=False)
class OrbitBasis:
    """The orbit basis of a space of equivariant maps (or biases).

    Attributes
    ----------
    orbit_index : int array of the map's shape (``(n_out, n_in)`` for maps, ``(n_out,)`` for
        biases): the orbit of each entry, numbered ``0..dim-1`` by first occurrence.
    sizes : int array ``(dim,)``: the number of entries in each orbit.
    """

    orbit_index: np.ndarray
    sizes: np.ndarray = field(repr=False)

    @property
    def dim(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.orbit_index.shape)

    def dense(self, dtype: type = np.float64) -> np.ndarray:
        """Orbit indicators, shape ``(dim, *shape)``: exact 0/1 entries."""
        flat = self.orbit_index.reshape(-1)
        out = np.zeros((self.dim, flat.size), dtype=dtype)
        out[flat, np.arange(flat.size)] = 1
        return out.reshape(self.dim, *self.shape)

    def orthonormal(self, dtype: type = np.float64) -> np.ndarray:
        """Indicators divided by ``sqrt(orbit size)``: an orthonormal basis (Frobenius inner product)."""
        return self.dense(dtype) / np.sqrt(self.sizes.astype(dtype)).reshape(-1, *([1] * len(self.shape)))

    def coefficients(self, W: np.ndarray) -> np.ndarray:
        """Orbit means of ``W`` (shape ``(..., *shape)``), shape ``(..., dim)``: the coefficients of
        the projection of ``W`` in the orbit basis."""
        W = np.asarray(W)
        lead = W.shape[: W.ndim - len(self.shape)]
        flat = W.reshape(-1, self.orbit_index.size)
        sums = np.zeros((flat.shape[0], self.dim), dtype=np.result_type(W.dtype, np.float64))
        np.add.at(sums.T, self.orbit_index.reshape(-1), flat.T)
        return (sums / self.sizes).reshape(*lead, self.dim)

    def combine(self, coefficients: np.ndarray) -> np.ndarray:
        """``sum_k c_k B_k`` in the orbit basis: shape ``(..., dim) -> (..., *shape)``."""
        c = np.asarray(coefficients)
        return c[..., self.orbit_index]

    def project(self, W: np.ndarray) -> np.ndarray:
        """Orthogonal projection onto the equivariant subspace (the Reynolds operator
        ``(1/|G|) sum_g rho_out(g)^T W rho_in(g)``), i.e. the average of ``W`` over each orbit.
        Works on a batch with any leading dimensions."""
        return self.combine(self.coefficients(W))

    @cached_property
    def projection_matrix(self) -> np.ndarray:
        """The projection as a matrix on the flattened (row-major) entries, ``(N, N)``,
        ``N = prod(shape)``: ``P[a, b] = 1/size`` when ``a`` and ``b`` are in one orbit."""
        flat = self.orbit_index.reshape(-1)
        same = flat[:, None] == flat[None, :]
        return same / self.sizes[flat][:, None]


def _pair_images(rep_in: PermRep, rep_out: PermRep) -> np.ndarray:
    """Images of the flattened index pairs ``i_out * n_in + i_in`` under the generators,
    shape ``(n_generators, n_out * n_in)``."""
    gens = rep_in.group.generators
    p_out, p_in = rep_out.perms[gens], rep_in.perms[gens]
    return (p_out[:, :, None] * rep_in.size + p_in[:, None, :]).reshape(len(gens), -1)


def _orbit_basis(images: np.ndarray, shape: tuple[int, ...]) -> OrbitBasis:
    size = int(np.prod(shape))
    _, labels = orbit_labels(images, size)
    labels.setflags(write=False)
    sizes = np.bincount(labels)
    sizes.setflags(write=False)
    return OrbitBasis(labels.reshape(shape), sizes)


def equivariant_basis(rep_in: PermRep, rep_out: PermRep) -> OrbitBasis:
    """Orbit basis of the equivariant maps ``rho_in -> rho_out`` (matrices ``(n_out, n_in)``)."""
    rep_in.check_same_group(rep_out, "equivariant maps")
    return _orbit_basis(_pair_images(rep_in, rep_out), (rep_out.size, rep_in.size))


def bias_basis(rep_out: PermRep) -> OrbitBasis:
    """Orbit basis of the equivariant biases in ``rho_out``: vectors constant on the orbits of points."""
    return _orbit_basis(rep_out.perms[rep_out.group.generators], (rep_out.size,))


def burnside_dim(rep_in: PermRep, rep_out: PermRep) -> int:
    """Burnside's count of the equivariant maps: ``(1/|G|) sum_g chi_out(g) chi_in(g)``, computed from
    the characters alone (independent of the orbit computation)."""
    rep_in.check_same_group(rep_out, "equivariant maps")
    total = int(np.dot(rep_out.character.astype(np.int64), rep_in.character.astype(np.int64)))
    return total // rep_in.group.order
