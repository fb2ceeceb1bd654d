"""Permutation representations ``rho: G -> S_n`` of a finite permutation group.

Conventions (docs/design.md section 3):

* ``perms[g]`` is the permutation of the ``n`` points by which the group element with index
  ``g`` acts, ``perms[g][i]`` the image of point ``i``.
* ``rho(g)`` is the ``n x n`` matrix with ``rho(g)[perms[g][i], i] = 1``, so that
  ``rho(g*h) = rho(g) @ rho(h)`` and ``(rho(g) x)[perms[g][i]] = x[i]``.
* A representation is validated as a homomorphism on construction:
  ``perms[g*h] = perms[g][perms[h]]``.

Extension point (docs/design.md section 7): a ``signs`` array of the same shape as ``perms``
(entries +-1) turns a permutation rep into a monomial rep ``rho(g)[perms[g][i], i] = signs[g][i]``.
Only ``signs=None`` (plain permutation reps) is constructed today; code that consumes reps
reads the signs through :attr:`PermRep.signs` so that it can join later.

Reps are immutable values with an algebra (docs/design.md section 8): ``a + b`` (direct sum), ``k * a``
(``k`` copies), ``a * b`` (tensor product) and ``a ** k`` (tensor power); the equivariant maps ``a -> b``
are a layer up, :func:`eqlandscape.equivariant.equivariant_basis` (docs/design.md section 1: a rep knows
nothing of bases). ``str(rep)`` is its textual spec
(:mod:`eqlandscape.reps.spec`). The logic lives in :mod:`~eqlandscape.reps.constructors`,
:mod:`~eqlandscape.reps.coset` and :mod:`~eqlandscape.reps.decompose`; the methods here are thin.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from eqlandscape.errors import DegreeMismatchError, GroupMismatchError, NotAHomomorphismError
from eqlandscape.groups import perm_group
from eqlandscape.groups.perm_group import PermGroup, as_permutations, orbit_labels

if TYPE_CHECKING:
    from eqlandscape.reps.decompose import TransitivePiece


class PermRep:
    """A permutation representation of ``group`` on ``size`` points.

    Parameters
    ----------
    group : the acting group.
    perms : int array ``(group.order, size)``: one permutation of the points per group element,
        in the order of ``group.elements``.
    name : the textual spec that prints this rep (e.g. ``"natural"``, ``"2*trivial + S3/C2"``).
    signs : optional int array of ``perms``' shape with entries ``+-1``: a signed (monomial) rep,
        ``rho(g)[perms[g][i], i] = signs[g][i]``, validated as a homomorphism too. Most operations
        (sums, tensors, decomposition, bases) accept only plain permutation reps (``signs=None``)
        and raise :class:`NotImplementedError` otherwise.

    Instances are immutable (``perms`` and ``signs`` are read-only arrays and attributes cannot be
    reassigned).
    """

    __slots__ = ("__dict__", "_perms", "generator_images", "group", "name", "signs")

    def __init__(
        self,
        group: PermGroup,
        perms: Sequence[Sequence[int]] | np.ndarray,
        name: str | None = None,
        *,
        signs: np.ndarray | None = None,
    ):
        arr = as_permutations(perms, what="image")
        if arr.shape[0] != group.order:
            raise NotAHomomorphismError(
                f"a rep of {group.name} needs {group.order} images (one per element), got {arr.shape[0]}"
            )
        arr.setflags(write=False)
        images = arr[group.generators]
        images.setflags(write=False)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "_perms", arr)
        object.__setattr__(self, "generator_images", images)
        object.__setattr__(self, "name", name if name is not None else f"<rep of {group.name} on {self.size} points>")
        object.__setattr__(self, "signs", None if signs is None else self._as_signs(signs))
        self._check_homomorphism()

    @classmethod
    def _from_valid_images(cls, group: PermGroup, images: np.ndarray, name: str) -> PermRep:
        """A rep from generator images known to define a homomorphism (composed from valid reps by the
        constructors): no check, and the images of the other elements only on first use."""
        rep = cls.__new__(cls)
        images = np.array(images, dtype=np.int64)
        images.setflags(write=False)
        for attr, value in (("group", group), ("_perms", None), ("generator_images", images), ("signs", None)):
            object.__setattr__(rep, attr, value)
        object.__setattr__(rep, "name", name)
        return rep

    @property
    def perms(self) -> np.ndarray:
        """Read-only int array ``(group.order, size)``: the permutation of every element, in the order of
        ``group.elements``; computed from the generator images on first use, for groups within the
        enumeration limit (:class:`~eqlandscape.errors.GroupTooLargeError` beyond it)."""
        if self._perms is None:
            self.group.check_enumerable(f"the element images of the rep {self.name}")
            perms = extend_generator_images(self.group, self.generator_images[None])[0]
            perms.setflags(write=False)
            object.__setattr__(self, "_perms", perms)
        return self._perms

    def __setattr__(self, attr: str, value: object) -> NoReturn:
        raise AttributeError(f"PermRep is immutable: cannot set {attr!r} of {self.name!r}")

    def __delattr__(self, attr: str) -> NoReturn:
        raise AttributeError(f"PermRep is immutable: cannot delete {attr!r} of {self.name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        perms = None if self._perms is None else np.array(self._perms)
        return (_rebuild, (self.group, np.array(self.generator_images), perms, self.name, self.signs))

    def _as_signs(self, signs: np.ndarray) -> np.ndarray:
        arr = np.array(signs, dtype=np.int64)
        if arr.shape != self.perms.shape or not np.isin(arr, (-1, 1)).all():
            raise NotAHomomorphismError(
                f"{self.name}: signs must be +-1 of shape {self.perms.shape}, got {np.asarray(signs).tolist()}"
            )
        arr.setflags(write=False)
        return arr

    @classmethod
    def from_generator_images(
        cls, group: PermGroup, images: Sequence[Sequence[int]] | np.ndarray, name: str | None = None
    ) -> PermRep:
        """The rep that sends the ``k``-th generator of ``group`` (``group.generator_perms[k]``) to
        ``images[k]``; raises :class:`NotAHomomorphismError` if the images do not extend to a
        homomorphism. Within the enumeration limit the images of all elements are computed along the
        Cayley graph and checked; beyond it the check needs no elements: the images extend exactly
        when the group generated by the pairs ``(g_k, images[k])`` acting on ``degree + n`` points has
        the order of ``group`` (it is then the graph of the homomorphism; Schreier-Sims, sympy)."""
        imgs = as_permutations(images, what="generator image")
        n_gens = group.generator_perms.shape[0]
        if imgs.shape[0] != n_gens:
            raise NotAHomomorphismError(f"{group.name} has {n_gens} generators, got {imgs.shape[0]} images")
        if group.order <= perm_group.ENUMERATION_LIMIT:
            return cls(group, extend_generator_images(group, imgs[None])[0], name=name)
        graph = PermGroup(np.concatenate([group.generator_perms, group.degree + imgs], axis=1), name="graph")
        if graph.order != group.order:  # Schreier-Sims (PermGroup.order)
            raise NotAHomomorphismError(
                f"images {imgs.tolist()} of the generators of {group.name} are not a homomorphism"
            )
        return cls._from_valid_images(
            group, imgs, name if name is not None else f"<rep of {group.name} on {imgs.shape[1]} points>"
        )

    def _check_homomorphism(self) -> None:
        """``perms[x*s] == perms[x][perms[s]]`` for all ``x`` and generators ``s`` (this implies it for
        all pairs, every element being a product of generators), and ``perms[identity]`` is the identity;
        for a signed rep also ``signs[x*s] == signs[x][perms[s]] * signs[s]`` and ``signs[identity] == 1``."""
        if not np.array_equal(self.perms[0], np.arange(self.size)):
            raise NotAHomomorphismError(f"{self.name}: the identity acts as {self.perms[0].tolist()}, not trivially")
        if self.signs is not None and (self.signs[0] != 1).any():
            raise NotAHomomorphismError(
                f"{self.name}: the identity acts with signs {self.signs[0].tolist()}, not trivially"
            )
        G = self.group
        wrong = homomorphism_defects(G, self.perms[None], None if self.signs is None else self.signs[None])[0]
        bad = np.flatnonzero(wrong.any(axis=0))
        if bad.size:
            x = int(bad[0])
            s = G.generators[int(np.flatnonzero(wrong[:, x])[0])]
            raise NotAHomomorphismError(
                f"{self.name}: images are not a homomorphism: rho(g*h) != rho(g) rho(h) for "
                f"g={G.elements[x].tolist()}, h={G.elements[s].tolist()}"
            )

    # ------------------------------------------------------------------ queries
    @property
    def size(self) -> int:
        """Number of points ``n`` (the dimension of the representation)."""
        return int(self.generator_images.shape[1])

    def __len__(self) -> int:
        return self.size

    def matrix(self, g: int) -> np.ndarray:
        """``rho(g)`` for the element of index ``g``: ``rho(g)[perms[g][i], i] = 1``."""
        return self.matrices([g])[0]

    def matrices(self, elements: np.ndarray | None = None, dtype: type = np.float64) -> np.ndarray:
        """Dense matrices ``(m, n, n)`` of the given element indices (all elements by default)."""
        idx = np.arange(self.group.order) if elements is None else np.atleast_1d(np.asarray(elements))
        p = self.perms[idx]
        out = np.zeros((*p.shape, self.size), dtype=dtype)
        lead = np.arange(p.shape[0])[:, None]
        cols = np.arange(self.size)[None, :]
        out[lead, p, cols] = 1 if self.signs is None else self.signs[idx]
        return out

    @cached_property
    def character(self) -> np.ndarray:
        """``chi(g) = trace rho(g)``, shape ``(order,)``: the number of fixed points of ``perms[g]``
        (for a signed rep, the sum of their signs)."""
        fixed = self.perms == np.arange(self.size)
        return fixed.sum(axis=1) if self.signs is None else (fixed * self.signs).sum(axis=1)

    @cached_property
    def orbit_index(self) -> np.ndarray:
        """Orbit of each point (numbered by first occurrence), shape ``(size,)``."""
        return orbit_labels(self.generator_images, self.size)[1]

    @cached_property
    def orbits(self) -> list[np.ndarray]:
        """The orbits of ``G`` on the points, as sorted index arrays, by smallest point."""
        labels = self.orbit_index
        return np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1])

    def is_transitive(self) -> bool:
        return len(self.orbits) == 1

    def stabilizer(self, point: int) -> np.ndarray:
        """Sorted element indices of the stabilizer of ``point``."""
        return np.flatnonzero(self.perms[:, point] == point)

    def check_same_group(self, other: PermRep, what: str) -> None:
        if self.group != other.group:
            raise GroupMismatchError(
                f"{what} of reps over different groups: {self.name!r} of {self.group.name} "
                f"and {other.name!r} of {other.group.name}"
            )

    def check_same_generators(self, other: PermRep, what: str) -> None:
        """:meth:`check_same_group`, and the same generators: for operations that combine the reps'
        :attr:`generator_images`, which follow the generators (an equal group given by other
        generators raises :class:`GroupMismatchError` too)."""
        self.check_same_group(other, what)
        if not np.array_equal(self.group.generator_perms, other.group.generator_perms):
            raise GroupMismatchError(
                f"{what} of reps over {self.group.name} and {other.group.name}, the same group given by other "
                f"generators ({self.name!r}, {other.name!r}): build both reps from one PermGroup"
            )

    def check_unsigned(self, what: str) -> None:
        """Raise :class:`NotImplementedError` for a signed (monomial) rep, naming it and ``what``."""
        if self.signs is not None:
            raise NotImplementedError(f"{what} of the signed (monomial) rep {self.name!r} is not implemented")

    def check_size(self, size: int, what: str) -> None:
        if self.size != size:
            raise DegreeMismatchError(f"{what}: rep {self.name!r} has {self.size} points, expected {size}")

    # ------------------------------------------------------------------ decomposition, isomorphism
    @cached_property
    def _pieces(self) -> tuple[TransitivePiece, ...]:
        from eqlandscape.reps.decompose import decompose

        return tuple(decompose(self))

    def decompose(self) -> list[TransitivePiece]:
        """The orbits as transitive pieces, by smallest point, each with its points, the stabilizer of
        its first point, that stabilizer's subgroup class and the restricted rep
        (see :func:`eqlandscape.reps.decompose.decompose`)."""
        return list(self._pieces)

    def isomorphism_type(self) -> tuple[str, ...]:
        """Subgroup-class labels of the pieces with repetition, in the order of
        ``group.subgroup_classes``: equal exactly for isomorphic reps."""
        from eqlandscape.reps.decompose import isomorphism_type

        return isomorphism_type(self)

    def is_isomorphic(self, other: PermRep) -> bool:
        """Whether a bijection of points intertwines the two reps (not implied by equal characters)."""
        from eqlandscape.reps.decompose import is_isomorphic

        return is_isomorphic(self, other)

    def isomorphism(self, other: PermRep) -> np.ndarray | None:
        """A point bijection ``sigma`` with ``other.perms[g][sigma] == sigma[self.perms[g]]``, or ``None``."""
        from eqlandscape.reps.decompose import isomorphism

        return isomorphism(self, other)

    def canonical(self) -> PermRep:
        """The isomorphic direct sum of standard coset reps, named by its spec (``S3/1 + 2*S3/C2``)."""
        from eqlandscape.reps.decompose import canonical

        return canonical(self)

    # ------------------------------------------------------------------ algebra
    def __add__(self, other: object) -> PermRep:
        """Direct sum ``self + other`` (``self``'s points first)."""
        if not isinstance(other, PermRep):
            return NotImplemented
        from eqlandscape.reps.constructors import direct_sum

        return direct_sum(self, other)

    def __radd__(self, other: object) -> PermRep:
        """``0 + rep = rep``, so that ``sum(reps)`` works."""
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    def __mul__(self, other: object) -> PermRep:
        """Tensor product ``self * other`` (pairs ``(i, j)`` at point ``i * other.size + j``)."""
        if not isinstance(other, PermRep):
            return NotImplemented
        from eqlandscape.reps.constructors import tensor_product

        return tensor_product(self, other)

    def __rmul__(self, count: object) -> PermRep:
        """``k * rep``: ``k`` copies (direct sum). Only a multiplicity on the left, as in specs."""
        if not isinstance(count, int | np.integer) or isinstance(count, bool):
            return NotImplemented
        from eqlandscape.reps.constructors import copies

        return copies(self, int(count))

    def __pow__(self, exponent: object) -> PermRep:
        """Tensor power ``rep ** k``."""
        if not isinstance(exponent, int | np.integer) or isinstance(exponent, bool):
            return NotImplemented
        from eqlandscape.reps.constructors import tensor_power

        return tensor_power(self, int(exponent))

    def __eq__(self, other: object) -> bool:
        """Equal as homomorphisms (same group, same point images and signs); see ``is_isomorphic`` for
        isomorphism."""
        if not isinstance(other, PermRep):
            return NotImplemented
        if (self.signs is None) != (other.signs is None):
            return False
        same_signs = self.signs is None or np.array_equal(self.signs, other.signs)
        return (
            same_signs and self.group == other.group and np.array_equal(self.generator_images, other.generator_images)
        )

    def __hash__(self) -> int:
        signs = None if self.signs is None else self.signs.tobytes()
        return hash((self.group, self.generator_images.tobytes(), signs))

    def __repr__(self) -> str:
        return f"PermRep({self.name!r}, group={self.group.name}, size={self.size})"

    def __str__(self) -> str:
        return self.name


def extend_generator_images(group: PermGroup, images: np.ndarray) -> np.ndarray:
    """Images of every element for ``K`` candidate reps at once: ``images (K, n_generators, n)``, the
    permutations of ``group.generators[k]``, extended along the Cayley graph by ``rho(x*s) = rho(x) rho(s)``
    (breadth first from the identity); returns ``(K, order, n)``. Whether the result is a homomorphism
    is :func:`homomorphism_defects`' question."""
    K, _, n = images.shape
    perms = np.full((K, group.order, n), -1, dtype=np.int64)
    perms[:, 0] = np.arange(n)
    reached = np.zeros(group.order, dtype=bool)
    reached[0] = True
    frontier = np.array([0])
    while frontier.size:
        new = []
        for k, s in enumerate(group.generators):
            targets = group.table[frontier, s]  # x * s
            fresh = ~reached[targets]
            targets, sources = targets[fresh], frontier[fresh]
            targets, first = np.unique(targets, return_index=True)
            reached[targets] = True
            perms[:, targets] = np.take_along_axis(perms[:, sources[first]], images[:, k][:, None, :], axis=2)
            new.append(targets)
        frontier = np.unique(np.concatenate(new))
    return perms


def homomorphism_defects(group: PermGroup, perms: np.ndarray, signs: np.ndarray | None = None) -> np.ndarray:
    """For ``K`` candidate reps ``perms (K, order, n)`` (and signs of the same shape, or ``None``): bool
    ``(K, n_generators, order)``, true where ``rho(x*s) != rho(x) rho(s)`` for element ``x`` and generator
    ``s``. All false exactly for homomorphisms (every element is a product of generators), given
    ``rho(identity) = id``."""
    out = np.zeros((perms.shape[0], len(group.generators), group.order), dtype=bool)
    for k, s in enumerate(group.generators):
        lhs = perms[:, group.table[:, s]]
        rhs = np.take_along_axis(perms, np.broadcast_to(perms[:, s][:, None, :], perms.shape), axis=2)
        out[:, k] = (lhs != rhs).any(axis=2)
        if signs is not None:
            srhs = np.take_along_axis(signs, np.broadcast_to(perms[:, s][:, None, :], perms.shape), axis=2)
            out[:, k] |= (signs[:, group.table[:, s]] != srhs * signs[:, s][:, None, :]).any(axis=2)
    return out


def _rebuild(
    group: PermGroup, images: np.ndarray, perms: np.ndarray | None, name: str, signs: np.ndarray | None
) -> PermRep:
    """Unpickling: construct (and validate) the rep again."""
    if perms is None:
        return PermRep._from_valid_images(group, images, name)
    return PermRep(group, perms, name, signs=signs)
