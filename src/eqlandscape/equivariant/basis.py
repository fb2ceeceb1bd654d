"""Exact bases of equivariant linear maps and biases between permutation representations.

Conventions (docs/design.md section 3): ``rho(g)[p[i], i] = 1`` for the permutation ``p = perms[g]``.
A weight matrix ``W`` of shape ``(n_out, n_in)`` maps ``R^{n_in} -> R^{n_out}``; it is
equivariant when ``W @ rho_in(g) == rho_out(g) @ W`` for all ``g``. Entry-wise this reads
``W[p_out[i], p_in[j]] = W[i, j]`` with ``p_out = rho_out.perms[g]``, ``p_in = rho_in.perms[g]``:
``W`` is constant on the orbits of ``G`` acting on index pairs ``(i_out, i_in)`` by
``g.(i, j) = (p_out[i], p_in[j])``. The orbit indicators are an exact integer basis, numbered
by first occurrence in row-major order of the pairs; their number is Burnside's count
``(1/|G|) sum_g chi_out(g) chi_in(g)``.

The indicators are mutually orthogonal for the Frobenius inner product ``<A, B> = sum A * B``,
so the orthogonal projection onto the equivariant maps averages ``W`` over each orbit; it is
the Reynolds operator ``(1/|G|) sum_g rho_out(g)^T W rho_in(g)``.

Only the generators of ``G`` are used: the orbits of the group are the connected components
of the graph joining each pair to its images under the generators.

:meth:`OrbitBasis.coefficients`, :meth:`OrbitBasis.combine` and :meth:`OrbitBasis.project`
take NumPy arrays or PyTorch tensors (any device, differentiable) with any leading batch
dimensions, e.g. an ensemble of ``K`` weight matrices of shape ``(K, n_out, n_in)``.

Bases are immutable and cached per pair of rep objects (by identity; ``cache=False`` bypasses it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from eqlandscape.equivariant._backend import (
    TorchIndexCache,
    as_float_tensor,
    float_dtype,
    leading_shape,
    torch_module,
)
from eqlandscape.errors import ConfigError, GroupTooLargeError
from eqlandscape.groups.perm_group import orbit_labels
from eqlandscape.reps.constructors import tensor_perms
from eqlandscape.reps.perm_rep import PermRep

PAIR_LIMIT = 20_000_000
"""Largest number of index pairs ``n_out * n_in`` whose orbits :func:`equivariant_basis` labels (about
2 GB of working memory at the limit; ``natural^2 -> natural^2`` of ``S_60`` has 13 million pairs)."""

ArrayLike = Any
"""A NumPy array (or anything ``np.asarray`` accepts) or a ``torch.Tensor``."""


class LinearBasis(Protocol):
    """What :class:`OrbitBasis` and :class:`~eqlandscape.equivariant.compatibility.AdmissibleBasis`
    share: a subspace of arrays of shape ``shape``, spanned by ``dim`` disjoint orbit indicators
    of ``sizes`` entries each. Code that only needs a space of weights (layers, trainers) can
    take either."""

    @property
    def dim(self) -> int: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def numel(self) -> int: ...

    @property
    def sizes(self) -> np.ndarray: ...

    @property
    def projection_matrix(self) -> np.ndarray: ...

    def dense(self, dtype: type = np.float64) -> np.ndarray: ...

    def orthonormal(self, dtype: type = np.float64) -> np.ndarray: ...

    def coefficients(self, W: ArrayLike) -> ArrayLike: ...

    def combine(self, coefficients: ArrayLike) -> ArrayLike: ...

    def project(self, W: ArrayLike) -> ArrayLike: ...


@dataclass(frozen=True, eq=False)
class OrbitBasis:
    """The orbit basis of a space of equivariant maps (or biases): the indicators of the orbits
    of ``G`` on the entries.

    Attributes
    ----------
    orbit_index : read-only int array of the entries' shape (``(n_out, n_in)`` for maps,
        ``(n_out,)`` for biases): the orbit of each entry, numbered ``0..dim-1`` by first
        occurrence in row-major order. Every entry lies in exactly one orbit.
    sizes : read-only int array ``(dim,)``: the number of entries in each orbit.
    label : what the space is (e.g. ``"natural -> natural of S3"``), used in error messages.

    Basis element ``k`` is ``B_k = (orbit_index == k)``. Inner products are Frobenius:
    ``<B_k, B_l> = sizes[k] * delta_kl``.
    """

    orbit_index: np.ndarray
    sizes: np.ndarray = field(repr=False)
    label: str = ""
    _torch: TorchIndexCache = field(default_factory=TorchIndexCache, init=False, repr=False)

    def __post_init__(self) -> None:
        index = np.array(self.orbit_index, dtype=np.int64)
        sizes = np.array(self.sizes, dtype=np.int64)
        valid = index.size > 0 and index.min() >= 0 and sizes.ndim == 1
        if not valid or not np.array_equal(np.bincount(index.reshape(-1), minlength=sizes.size), sizes):
            raise ConfigError(
                f"orbit sizes {sizes.tolist()} do not count the entries of orbit_index "
                f"(values {np.unique(index).tolist()})"
            )
        index.setflags(write=False)
        sizes.setflags(write=False)
        object.__setattr__(self, "orbit_index", index)
        object.__setattr__(self, "sizes", sizes)

    # ------------------------------------------------------------------ shape
    @property
    def dim(self) -> int:
        """Number of orbits: the dimension of the space."""
        return int(self.sizes.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one element of the space, e.g. ``(n_out, n_in)``."""
        return tuple(self.orbit_index.shape)

    @property
    def numel(self) -> int:
        """Number of entries of one element, ``prod(shape)``."""
        return int(self.orbit_index.size)

    def __repr__(self) -> str:
        label = f"{self.label!r}, " if self.label else ""
        return f"OrbitBasis({label}dim={self.dim}, shape={self.shape})"

    # ------------------------------------------------------------------ dense bases
    def dense(self, dtype: type = np.float64) -> np.ndarray:
        """Orbit indicators, shape ``(dim, *shape)``: exact 0/1 entries."""
        flat = self.orbit_index.reshape(-1)
        out = np.zeros((self.dim, flat.size), dtype=dtype)
        out[flat, np.arange(flat.size)] = 1
        return out.reshape(self.dim, *self.shape)

    def orthonormal(self, dtype: type = np.float64) -> np.ndarray:
        """Indicators divided by ``sqrt(orbit size)``, shape ``(dim, *shape)``: an orthonormal
        basis for the Frobenius inner product."""
        scale = 1 / np.sqrt(self.sizes.astype(dtype))
        return self.dense(dtype) * scale.reshape(-1, *([1] * len(self.shape)))

    # ------------------------------------------------------------------ coordinates
    @cached_property
    def _segments(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat entries sorted by orbit (stable), and the start of each orbit's run in that order."""
        order = np.argsort(self.orbit_index.reshape(-1), kind="stable")
        starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        return order, starts

    def coefficients(self, W: ArrayLike) -> ArrayLike:
        """Orbit means of ``W``: shape ``(..., *shape) -> (..., dim)``.

        ``c_k = (1/sizes[k]) sum_{a in orbit k} W[a]`` are the coordinates, in the orbit basis, of
        the orthogonal projection of ``W``. Floating (and complex) inputs keep their dtype, integer
        inputs give float64 (torch: the default dtype). Torch tensors stay on their device and
        the result is differentiable in ``W`` (a scatter-add, ``index_add``).
        """
        torch = torch_module(W)
        if torch is not None:
            W = as_float_tensor(torch, W)
            lead = leading_shape(tuple(W.shape), self.shape, "W", self.label)
            index = self._torch.get(torch, "index", self.orbit_index.reshape(-1), W)
            sizes = self._torch.get(torch, "sizes", self.sizes.astype(np.float64), W)
            flat = W.reshape(*lead, self.numel)
            sums = flat.new_zeros(*lead, self.dim).index_add(len(lead), index, flat)
            return sums / sizes
        W = np.asarray(W)
        lead = leading_shape(W.shape, self.shape, "W", self.label)
        dtype = float_dtype(W.dtype)
        order, starts = self._segments
        flat = W.reshape(-1, self.numel).astype(dtype, copy=False)
        sums = np.add.reduceat(flat[:, order], starts, axis=1)
        return (sums / self.sizes.astype(dtype)).reshape(*lead, self.dim)

    def combine(self, coefficients: ArrayLike) -> ArrayLike:
        """``sum_k c_k B_k``, shape ``(..., dim) -> (..., *shape)``: entry ``a`` is ``c[..., index[a]]``
        with ``index = orbit_index``.

        A gather, so for torch tensors it is differentiable in the coefficients.
        """
        torch = torch_module(coefficients)
        if torch is not None:
            lead = leading_shape(tuple(coefficients.shape), (self.dim,), "coefficients", self.label)
            index = self._torch.get(torch, "index", self.orbit_index.reshape(-1), coefficients)
            return coefficients.index_select(len(lead), index).reshape(*lead, *self.shape)
        c = np.asarray(coefficients)
        leading_shape(c.shape, (self.dim,), "coefficients", self.label)
        return c[..., self.orbit_index]

    def project(self, W: ArrayLike) -> ArrayLike:
        """Orthogonal (Frobenius) projection onto the space: the average of ``W`` over each orbit.

        For maps this is the Reynolds operator ``(1/|G|) sum_g rho_out(g)^T W rho_in(g)``.
        Shape ``(..., *shape) -> (..., *shape)``; NumPy or torch, as :meth:`coefficients`.
        """
        return self.combine(self.coefficients(W))

    @cached_property
    def projection_matrix(self) -> np.ndarray:
        """The projection as a read-only matrix on the flattened (row-major) entries, ``(N, N)``
        with ``N = prod(shape)``: ``P[a, b] = 1/size`` when ``a`` and ``b`` lie in one orbit,
        else 0; so ``project(W).reshape(-1) == P @ W.reshape(-1)``. Dense: ``N^2`` floats."""
        flat = self.orbit_index.reshape(-1)
        same = flat[:, None] == flat[None, :]
        P = same / self.sizes[flat][:, None]
        P.setflags(write=False)
        return P


# ---------------------------------------------------------------------- construction
def _orbit_basis(labels: np.ndarray, shape: tuple[int, ...], label: str) -> OrbitBasis:
    return OrbitBasis(labels.reshape(shape), np.bincount(labels), label)


class _IdentityCache:
    """A bounded LRU cache of bases keyed by the identity of the reps.

    An entry holds references to its reps, so their ``id`` cannot be reused while it lives, and a
    hit is confirmed with ``is``. Keys cost O(1), unlike hashing a rep (``O(|G| n)``), which can
    cost more than computing the basis. Reps and bases are immutable, so sharing is safe."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[int, int], tuple[PermRep, PermRep, OrbitBasis]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, a: PermRep, b: PermRep) -> OrbitBasis | None:
        with self._lock:
            entry = self._entries.get((id(a), id(b)))
            if entry is None or entry[0] is not a or entry[1] is not b:
                return None
            self._entries.move_to_end((id(a), id(b)))
            return entry[2]

    def put(self, a: PermRep, b: PermRep, basis: OrbitBasis) -> None:
        with self._lock:
            self._entries[(id(a), id(b))] = (a, b, basis)
            self._entries.move_to_end((id(a), id(b)))
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_MAP_CACHE = _IdentityCache()
_BIAS_CACHE = _IdentityCache()


def clear_basis_cache() -> None:
    """Forget the cached bases of :func:`equivariant_basis` and :func:`bias_basis`."""
    _MAP_CACHE.clear()
    _BIAS_CACHE.clear()


def equivariant_basis(rep_in: PermRep, rep_out: PermRep, *, cache: bool = True) -> OrbitBasis:
    """Orbit basis of the equivariant maps ``rho_in -> rho_out`` (matrices ``(n_out, n_in)``).

    With ``cache=True`` the basis is remembered for this pair of rep objects (by identity) and
    returned again on the next call; ``cache=False`` always computes it.
    Raises :class:`~eqlandscape.errors.GroupMismatchError` if the reps are over different groups.
    """
    rep_in.check_same_generators(rep_out, "equivariant maps")
    if cache and (hit := _MAP_CACHE.get(rep_in, rep_out)) is not None:
        return hit
    # signed reps: an orbit whose stabilizer acts with sign -1 would contribute nothing
    rep_in.check_unsigned("the orbit basis")
    rep_out.check_unsigned("the orbit basis")
    # W[i_out, i_in] is the point i_out * n_in + i_in of rep_out (x) rep_in, and W is equivariant iff it
    # is constant on that rep's orbits; only the generators' images are needed (no full tensor rep)
    pairs = rep_out.size * rep_in.size
    if pairs > PAIR_LIMIT:
        raise GroupTooLargeError(
            f"the orbit basis of maps {rep_in.name} -> {rep_out.name} of {rep_in.group.name} (order "
            f"{rep_in.group.order:.4g}) needs {pairs} index pairs, more than the limit of {PAIR_LIMIT} "
            "(eqlandscape.equivariant.basis.PAIR_LIMIT)"
        )
    # int32 point numbers (pairs < PAIR_LIMIT < 2^31): half the memory of the images and the labelling
    images = tensor_perms(rep_out.generator_images.astype(np.int32), rep_in.generator_images.astype(np.int32))
    _, labels = orbit_labels(images, pairs)
    label = f"maps {rep_in.name} -> {rep_out.name} of {rep_in.group.name}"
    basis = _orbit_basis(labels, (rep_out.size, rep_in.size), label)
    if cache:
        _MAP_CACHE.put(rep_in, rep_out, basis)
    return basis


def bias_basis(rep_out: PermRep, *, cache: bool = True) -> OrbitBasis:
    """Orbit basis of the equivariant biases in ``rho_out`` (vectors ``(n_out,)`` with
    ``rho_out(g) b = b``): the indicators of the orbits of ``G`` on the points. ``cache`` as in
    :func:`equivariant_basis`."""
    if cache and (hit := _BIAS_CACHE.get(rep_out, rep_out)) is not None:
        return hit
    rep_out.check_unsigned("the orbit basis")
    label = f"biases in {rep_out.name} of {rep_out.group.name}"
    basis = _orbit_basis(rep_out.orbit_index, (rep_out.size,), label)
    if cache:
        _BIAS_CACHE.put(rep_out, rep_out, basis)
    return basis


def burnside_dim(rep_in: PermRep, rep_out: PermRep) -> int:
    """Burnside's count of the equivariant maps: ``(1/|G|) sum_g chi_out(g) chi_in(g)``, computed from
    the characters alone (independent of the orbit computation)."""
    rep_in.check_same_group(rep_out, "equivariant maps")
    total = int(np.dot(rep_out.character.astype(np.int64), rep_in.character.astype(np.int64)))
    return total // rep_in.group.order


def random_basis(
    basis: LinearBasis, rng: np.random.Generator | int | None = None, condition: float = 10.0
) -> np.ndarray:
    """A random basis of the same space that is not orthonormal: shape ``(dim, *shape)``.

    Returns ``A @ Q``, with ``Q`` the orthonormal basis (rows flattened) and ``A = U diag(s) V^T``
    for Haar-random orthogonal ``U``, ``V`` and singular values ``s`` spaced geometrically from
    ``sqrt(condition)`` down to ``1/sqrt(condition)``: the Gram matrix of the returned basis is
    ``U diag(s^2) U^T``, with condition number ``condition**2``. Coordinates in this basis give
    the "non-unitary" parametrization (gradient descent in them is preconditioned by the Gram
    matrix). ``condition=1`` gives a random orthonormal basis.
    """
    if not np.isfinite(condition) or condition < 1:
        raise ConfigError(f"condition must be a finite number >= 1, got {condition!r}")
    rng = np.random.default_rng(rng)
    d = basis.dim
    Q = basis.orthonormal().reshape(d, basis.numel)
    U, V = (_haar_orthogonal(d, rng) for _ in range(2))
    s = np.geomspace(np.sqrt(condition), 1 / np.sqrt(condition), d)
    return ((U * s) @ V.T @ Q).reshape(d, *basis.shape)


def _haar_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal ``d x d`` matrix (QR of a Gaussian, signs fixed by ``R``'s diagonal)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r)) if d else q
