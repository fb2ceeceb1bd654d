"""Decomposition of permutation reps into transitive pieces, and their isomorphism.

A permutation rep is the disjoint union of its orbits; the orbit of a point ``p`` with stabilizer
``H = Stab(p)`` is isomorphic to ``G/H`` via ``g . p -> g H``, and the stabilizers of the points of one
orbit form the conjugacy class of ``H``. Transitive reps are isomorphic exactly when their stabilizers
are conjugate, so a permutation rep is determined up to isomorphism by the multiset of the subgroup
classes of its pieces (:func:`isomorphism_type`). Equal characters do *not* imply isomorphism: in the
Klein four group ``K4/1 + 2*K4/K4`` and ``K4/C2 + K4/C2' + K4/C2''`` (say) have the same character.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from eqlandscape.groups.subgroups import Subgroup, SubgroupClass, small_generating_set
from eqlandscape.reps.constructors import copies, direct_sum
from eqlandscape.reps.coset import coset_rep
from eqlandscape.reps.perm_rep import PermRep


@dataclass(frozen=True, eq=False)
class TransitivePiece:
    """One orbit of a permutation rep, as a transitive rep of its own.

    Attributes
    ----------
    points : sorted int array of the orbit's points in the parent rep.
    stabilizer : the stabilizer of ``points[0]`` (a :class:`Subgroup` of the group).
    subgroup_class : the conjugacy class of ``stabilizer``; the piece is isomorphic to ``G/label``.
    rep : the restriction to the orbit: its point ``k`` is the parent's point ``points[k]``.
    """

    points: np.ndarray
    stabilizer: Subgroup
    subgroup_class: SubgroupClass
    rep: PermRep

    @property
    def label(self) -> str:
        return self.subgroup_class.label

    @property
    def size(self) -> int:
        return int(self.points.shape[0])


def restrict(rep: PermRep, points: np.ndarray) -> PermRep:
    """The restriction of ``rep`` to an invariant set of ``points`` (a union of orbits), point ``k`` of
    the result being ``points[k]``: ``perms'[g][k] = position of perms[g][points[k]] in points``."""
    local = np.full(rep.size, -1, dtype=np.int64)
    local[points] = np.arange(len(points))
    perms = local[rep.perms[:, points]]
    return PermRep(rep.group, perms, name=f"<restriction of {rep.name} to {len(points)} points>")


def stabilizer_subgroup(rep: PermRep, point: int) -> Subgroup:
    """The stabilizer of ``point`` as a :class:`Subgroup` (with a small generating set)."""
    elements = rep.stabilizer(point)
    return Subgroup(group=rep.group, elements=elements, generators=small_generating_set(rep.group, elements))


def decompose(rep: PermRep) -> list[TransitivePiece]:
    """The orbits of ``rep`` as transitive pieces, ordered by smallest point."""
    rep.check_unsigned("decomposition")
    group = rep.group
    pieces = []
    for points in rep.orbits:
        stabilizer = stabilizer_subgroup(rep, int(points[0]))
        pieces.append(
            TransitivePiece(points, stabilizer, group.class_of_subgroup(stabilizer), restrict(rep, points))
        )
    return pieces


def _class_position(rep: PermRep) -> dict[str, int]:
    return {cls.label: k for k, cls in enumerate(rep.group.subgroup_classes)}


def isomorphism_type(rep: PermRep) -> tuple[str, ...]:
    """The subgroup-class labels of the pieces of ``rep``, with repetition, in the order of
    ``group.subgroup_classes``: a complete invariant of permutation reps up to isomorphism."""
    position = _class_position(rep)
    return tuple(sorted((piece.label for piece in rep.decompose()), key=position.__getitem__))


def is_isomorphic(a: PermRep, b: PermRep) -> bool:
    """Whether there is a bijection of points intertwining ``a`` and ``b`` (compares the multisets of
    stabilizer classes; different characters rule it out early). Raises :class:`GroupMismatchError`
    for reps of different groups."""
    a.check_same_group(b, "isomorphism test")
    a.check_unsigned("isomorphism test")
    b.check_unsigned("isomorphism test")
    if a.size != b.size or not np.array_equal(a.character, b.character):
        return False
    return a.isomorphism_type() == b.isomorphism_type()


def isomorphism(a: PermRep, b: PermRep) -> np.ndarray | None:
    """A point bijection ``sigma`` (``a``'s point ``i`` to ``b``'s point ``sigma[i]``) with
    ``b.perms[g][sigma] == sigma[a.perms[g]]`` for every ``g``, or ``None`` when ``a`` and ``b`` are not
    isomorphic.

    For each orbit of ``a`` with first point ``p`` and ``H = Stab(p)``, it takes an unused orbit of ``b``
    of the same size with a point ``q`` fixed by ``H`` (then ``Stab(q) = H``, the orders being equal) and
    sets ``sigma(g p) = g q``. Orbits are matched greedily, which is exact because "has a point with
    stabilizer ``H``" depends only on the conjugacy class of ``H``. Needs no subgroup classes.
    """
    a.check_same_group(b, "isomorphism")
    a.check_unsigned("isomorphism")
    b.check_unsigned("isomorphism")
    if a.size != b.size:
        return None
    sigma = np.full(a.size, -1, dtype=np.int64)
    unused = list(b.orbits)
    for orbit in a.orbits:
        p = int(orbit[0])
        H = a.stabilizer(p)
        for k, other in enumerate(unused):
            if other.size != orbit.size:
                continue
            fixed = np.flatnonzero((b.perms[np.ix_(H, other)] == other).all(axis=0))
            if fixed.size:
                q = int(other[fixed[0]])
                del unused[k]
                break
        else:
            return None
        sigma[a.perms[:, p]] = b.perms[:, q]
    return sigma


def canonical(rep: PermRep) -> PermRep:
    """The standard rep isomorphic to ``rep``: the direct sum of the coset reps ``G/H`` of the class
    representatives of its pieces, in the order of :func:`isomorphism_type`, named by its spec
    (e.g. ``S3/1 + 2*S3/C2``)."""
    group = rep.group
    counts = Counter(rep.isomorphism_type())
    return direct_sum(
        *(copies(coset_rep(group, group.subgroup_class(label)), n) for label, n in counts.items())
    )
