"""Permutation representations ``rho: G -> S_n`` of a finite permutation group.

Conventions (DESIGN.md section 3):

* ``perms[g]`` is the permutation of the ``n`` points by which the group element with index
  ``g`` acts, ``perms[g][i]`` the image of point ``i``.
* ``rho(g)`` is the ``n x n`` matrix with ``rho(g)[perms[g][i], i] = 1``, so that
  ``rho(g*h) = rho(g) @ rho(h)`` and ``(rho(g) x)[perms[g][i]] = x[i]``.
* A representation is validated as a homomorphism on construction:
  ``perms[g*h] = perms[g][perms[h]]``.

Extension point (DESIGN.md section 7): a ``signs`` array of the same shape as ``perms``
(entries +-1) turns a permutation rep into a monomial rep ``rho(g)[perms[g][i], i] = signs[g][i]``.
Only ``signs=None`` (plain permutation reps) is constructed today; code that consumes reps
reads the signs through :attr:`PermRep.signs` so that it can join later.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from eqlandscape.errors import DegreeMismatchError, GroupMismatchError, NotAHomomorphismError
from eqlandscape.groups.perm_group import PermGroup, as_permutations, orbit_labels


class PermRep:
    """A permutation representation of ``group`` on ``size`` points.

    Parameters
    ----------
    group : the acting group.
    perms : int array ``(group.order, size)``: one permutation of the points per group element,
        in the order of ``group.elements``.
    name : the textual spec that prints this rep (e.g. ``"natural"``, ``"2*trivial + S3/C2"``).
    """

    __slots__ = ("__dict__", "group", "name", "perms", "signs")

    def __init__(self, group: PermGroup, perms: Sequence[Sequence[int]] | np.ndarray, name: str | None = None):
        arr = as_permutations(perms, what="image")
        if arr.shape[0] != group.order:
            raise NotAHomomorphismError(
                f"a rep of {group.name} needs {group.order} images (one per element), got {arr.shape[0]}"
            )
        self.group = group
        self.perms = arr
        self.perms.setflags(write=False)
        self.signs: np.ndarray | None = None
        self.name = name if name is not None else f"<rep of {group.name} on {self.size} points>"
        self._check_homomorphism()

    @classmethod
    def from_generator_images(
        cls, group: PermGroup, images: Sequence[Sequence[int]] | np.ndarray, name: str | None = None
    ) -> PermRep:
        """The rep that sends ``group.generators[k]`` to ``images[k]``, extended to all elements
        along the Cayley graph; raises :class:`NotAHomomorphismError` if the images do not extend."""
        imgs = as_permutations(images, what="generator image")
        if imgs.shape[0] != len(group.generators):
            raise NotAHomomorphismError(
                f"{group.name} has {len(group.generators)} generators, got {imgs.shape[0]} images"
            )
        n = imgs.shape[1]
        perms = np.full((group.order, n), -1, dtype=np.int64)
        perms[0] = np.arange(n)
        frontier = np.array([0])
        while frontier.size:
            new = []
            for s, img in zip(group.generators, imgs, strict=True):
                targets = group.table[frontier, s]  # x * s
                fresh = perms[targets, 0] < 0
                targets, sources = targets[fresh], frontier[fresh]
                targets, first = np.unique(targets, return_index=True)
                perms[targets] = perms[sources[first]][:, img]  # rho(x*s) = rho(x) rho(s)
                new.append(targets)
            frontier = np.unique(np.concatenate(new))
        return cls(group, perms, name=name)

    def _check_homomorphism(self) -> None:
        """``perms[x*s] == perms[x][perms[s]]`` for all ``x`` and generators ``s`` (this implies it for
        all pairs, every element being a product of generators), and ``perms[identity]`` is the identity."""
        if not np.array_equal(self.perms[0], np.arange(self.size)):
            raise NotAHomomorphismError(f"{self.name}: the identity acts as {self.perms[0].tolist()}, not trivially")
        G = self.group
        for s in G.generators:
            lhs = self.perms[G.table[:, s]]
            rhs = self.perms[:, self.perms[s]]
            bad = np.flatnonzero((lhs != rhs).any(axis=1))
            if bad.size:
                x = int(bad[0])
                raise NotAHomomorphismError(
                    f"{self.name}: images are not a homomorphism: rho(g*h) != rho(g) rho(h) for "
                    f"g={G.elements[x].tolist()}, h={G.elements[s].tolist()}"
                )

    # ------------------------------------------------------------------ queries
    @property
    def size(self) -> int:
        """Number of points ``n`` (the dimension of the representation)."""
        return int(self.perms.shape[1])

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
        """``chi(g)`` = number of fixed points of ``perms[g]``, shape ``(order,)``."""
        return (self.perms == np.arange(self.size)).sum(axis=1)

    @cached_property
    def orbit_index(self) -> np.ndarray:
        """Orbit of each point (numbered by first occurrence), shape ``(size,)``."""
        return orbit_labels(self.perms[self.group.generators], self.size)[1]

    @cached_property
    def orbits(self) -> list[np.ndarray]:
        """The orbits of ``G`` on the points, as sorted index arrays, by smallest point."""
        labels = self.orbit_index
        return [np.flatnonzero(labels == k) for k in range(int(labels.max()) + 1)]

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

    def check_size(self, size: int, what: str) -> None:
        if self.size != size:
            raise DegreeMismatchError(f"{what}: rep {self.name!r} has {self.size} points, expected {size}")

    def __eq__(self, other: object) -> bool:
        """Equal as homomorphisms (same group, same point images); see ``is_isomorphic`` for isomorphism."""
        if not isinstance(other, PermRep):
            return NotImplemented
        return self.group == other.group and np.array_equal(self.perms, other.perms)

    def __hash__(self) -> int:
        return hash((self.group, self.perms.tobytes()))

    def __repr__(self) -> str:
        return f"PermRep({self.name!r}, group={self.group.name}, size={self.size})"

    def __str__(self) -> str:
        return self.name
