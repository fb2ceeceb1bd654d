"""Transitive permutation reps: the action of ``G`` on the left cosets ``G/H`` of a subgroup.

Every transitive permutation rep of ``G`` is isomorphic to some ``G/H`` (``H`` the stabilizer of a
point), and ``G/H`` and ``G/K`` are isomorphic exactly when ``H`` and ``K`` are conjugate; so the
transitive reps up to isomorphism correspond one to one to the subgroup classes of ``G``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eqlandscape.groups.perm_group import PermGroup
from eqlandscape.groups.subgroups import Subgroup, SubgroupClass
from eqlandscape.reps.perm_rep import PermRep
from eqlandscape.reps.spec import coset_spec


def coset_rep(group: PermGroup, subgroup: Subgroup | SubgroupClass | Sequence[int] | np.ndarray) -> PermRep:
    """The transitive rep ``G/H`` on the left cosets ``xH``, with ``g . xH = (g x) H``.

    Points are the cosets numbered by their smallest element index, so point ``0`` is the coset ``H``
    itself and the stabilizer of point ``0`` is exactly ``H``; there are ``|G|/|H|`` points. The stabilizer
    of the coset ``xH`` is ``x H x^-1``.

    ``subgroup`` is a :class:`Subgroup`, a :class:`SubgroupClass` (its representative is used) or an array
    of element indices forming a subgroup (else :class:`UnknownSubgroupError`; a subgroup of another
    group raises :class:`GroupMismatchError`). The rep's name is the spec ``<group>/<label>`` when ``H`` is
    its class's representative (what :func:`eqlandscape.reps.parse_rep` builds); for another conjugate
    the name says so and is not a spec (the rep differs from the spec's by a relabelling of points).
    """
    if isinstance(subgroup, SubgroupClass):
        subgroup = subgroup.representative
    cls = group.class_of_subgroup(subgroup)  # validates: same group, a subgroup
    H = (
        subgroup.elements
        if isinstance(subgroup, Subgroup)
        else np.unique(np.asarray(subgroup, dtype=np.int64))
    )
    members = group.table[:, H]  # row x: the coset x H
    smallest = members.min(axis=1)
    representatives, coset_of = np.unique(smallest, return_inverse=True)  # representatives[0] == 0
    perms = coset_of[group.table[:, representatives]]  # perms[g, c] = coset of g * x_c
    atom = coset_spec(group.name, cls.label)
    if np.array_equal(H, cls.representative.elements):
        name = atom
    else:
        name = f"<{atom} on the conjugate subgroup H = {H.tolist()}>"
    return PermRep(group, perms, name=name)


def transitive_reps(group: PermGroup) -> list[PermRep]:
    """One transitive rep ``G/H`` per subgroup class (in the order of ``group.subgroup_classes``):
    every transitive permutation rep of ``group`` is isomorphic to exactly one of them."""
    return [coset_rep(group, cls) for cls in group.subgroup_classes]
