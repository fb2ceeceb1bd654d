"""Transitive permutation reps: the action of ``G`` on the left cosets ``G/H`` of a subgroup.

Every transitive permutation rep of ``G`` is isomorphic to some ``G/H`` (``H`` the stabilizer of a
point), and ``G/H`` and ``G/K`` are isomorphic exactly when ``H`` and ``K`` are conjugate; so the
transitive reps up to isomorphism correspond one to one to the subgroup classes of ``G``.

Two paths (docs/design.md section 9). A subgroup given by element indices (a :class:`Subgroup` or a
:class:`SubgroupClass`) uses the multiplication table, within the enumeration limit. A subgroup given
by generators (a :class:`PermGroup` on the same points, or an ``(m, degree)`` array of permutations)
never lists ``G``: the cosets are found as the orbit of the coset ``H`` under ``G``'s generators, each
coset ``xH`` named by its canonical representative (the lexicographically smallest ``x h``, read off
``H``'s stabilizer chain, :meth:`eqlandscape.groups.chain.StabilizerChain.canonical_coset_reps`). That
path lists the ``|G:H|`` cosets, at most :data:`COSET_LIMIT` of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eqlandscape.errors import (
    ConfigError,
    DegreeMismatchError,
    GroupTooLargeError,
    UnknownGroupError,
    UnknownSubgroupError,
)
from eqlandscape.groups.catalog import group_from_name
from eqlandscape.groups.notation import cycle_notation
from eqlandscape.groups.perm_group import PermGroup, as_permutations, perm_keys
from eqlandscape.groups.subgroups import Subgroup, SubgroupClass
from eqlandscape.reps.perm_rep import PermRep
from eqlandscape.reps.spec import coset_spec

COSET_LIMIT = 100_000
"""Largest index ``|G:H|`` (number of points) of a coset rep built from ``H``'s generators. Change it
with :func:`set_coset_limit`."""


def set_coset_limit(limit: int) -> int:
    """Set :data:`COSET_LIMIT` (a positive integer); returns the previous limit."""
    global COSET_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise GroupTooLargeError(f"the coset limit must be a positive integer, got {limit!r}")
    previous, COSET_LIMIT = COSET_LIMIT, limit
    return previous


def coset_rep(
    group: PermGroup,
    subgroup: Subgroup | SubgroupClass | PermGroup | Sequence[int] | np.ndarray,
    name: str | None = None,
) -> PermRep:
    """The transitive rep ``G/H`` on the left cosets ``xH``, with ``g . xH = (g x) H``; point ``0`` is
    the coset ``H`` itself, so its stabilizer is exactly ``H``, and the stabilizer of ``xH`` is
    ``x H x^-1``; there are ``|G|/|H|`` points.

    ``subgroup`` is one of:

    * a :class:`Subgroup`, a :class:`SubgroupClass` (its representative is used) or a 1-d array of
      element indices forming a subgroup (else :class:`UnknownSubgroupError`; a subgroup of another
      group raises :class:`GroupMismatchError`): the enumerating path, within the enumeration limit.
      Points are the cosets numbered by their smallest element index. The rep's name is the spec
      ``<group>/<label>`` when ``H`` is its class's representative (what :func:`eqlandscape.reps.parse_rep`
      builds); for another conjugate the name says so and is not a spec.
    * a :class:`PermGroup` on the group's points, or a 2-d array ``(m, degree)`` of its generators:
      :func:`coset_rep_from_generators`, for groups of any order.

    ``name`` overrides the rep's name (for the generator path; default: a description of ``H``).
    """
    if isinstance(subgroup, PermGroup) or (
        not isinstance(subgroup, Subgroup | SubgroupClass) and np.ndim(np.asarray(subgroup, dtype=object)) == 2
    ):
        return coset_rep_from_generators(group, subgroup, name)
    if isinstance(subgroup, SubgroupClass):
        subgroup = subgroup.representative
    cls = group.class_of_subgroup(subgroup)  # validates: same group, a subgroup
    H = subgroup.elements if isinstance(subgroup, Subgroup) else np.unique(np.asarray(subgroup, dtype=np.int64))
    members = group.table[:, H]  # row x: the coset x H
    smallest = members.min(axis=1)
    representatives, coset_of = np.unique(smallest, return_inverse=True)  # representatives[0] == 0
    perms = coset_of[group.table[:, representatives]]  # perms[g, c] = coset of g * x_c
    atom = coset_spec(group.name, cls.label)
    if name is None:
        name = (
            atom
            if np.array_equal(H, cls.representative.elements)
            else f"<{atom} on the conjugate subgroup H = {H.tolist()}>"
        )
    return PermRep(group, perms, name=name)


def coset_rep_from_generators(
    group: PermGroup, subgroup: PermGroup | Sequence[Sequence[int]] | np.ndarray, name: str | None = None
) -> PermRep:
    """``G/H`` for ``H`` given by generators (a :class:`PermGroup` on ``group``'s points or an
    ``(m, degree)`` array), without listing ``G``.

    Each generator of ``H`` must be an element of ``G`` (membership by ``G``'s stabilizer chain; else
    :class:`ConfigError` naming the first that is not). ``|H|`` comes from its catalog formula or
    Schreier-Sims; an index ``|G:H|`` past :data:`COSET_LIMIT` raises :class:`GroupTooLargeError`
    naming the index, the operation and the limit. Then, breadth first from the coset ``H`` (point
    ``0``), each new coset ``s x H`` (``s`` a generator of ``G``, ``x`` the canonical representative of a
    known coset) is canonicalized through ``H``'s stabilizer chain and looked up; points are numbered
    in the order found. The rep is defined by the generators' images ``perm_s[c] =`` the coset of
    ``s x_c``, a homomorphism by construction (no element of ``G`` is listed).
    """
    if isinstance(subgroup, PermGroup):
        H = subgroup
    else:
        H = PermGroup(as_permutations(subgroup, what="subgroup generator"), name="H")
    if H.degree != group.degree:
        raise DegreeMismatchError(
            f"subgroup {H.name} acts on {H.degree} points, but {group.name} acts on {group.degree}: "
            "give H's generators as permutations of the group's points"
        )
    inside = group.contains(H.generator_perms)
    if not inside.all():
        k = int(np.flatnonzero(~inside)[0])
        g = H.generator_perms[k]
        raise ConfigError(
            f"generator {k} of the subgroup {H.name}, {cycle_notation(g)} = {g.tolist()}, is not an element "
            f"of {group.name}: H is not a subgroup"
        )
    index = group.order // H.order
    label = name if name is not None else f"<{group.name}/{H.name}: the cosets of a subgroup of order {H.order}>"
    if index > COSET_LIMIT:
        raise GroupTooLargeError(
            f"the coset rep {label} of {group.name} (order {group.order}) over {H.name} (order {H.order}) has "
            f"|G:H| = {index} points, more than the limit of {COSET_LIMIT} (eqlandscape.reps.set_coset_limit)"
        )
    chain = H.chain
    gens = group.generator_perms
    reps = [np.arange(group.degree, dtype=np.int64)]
    known = {perm_keys(reps[0][None])[0]: 0}
    images = np.empty((gens.shape[0], index), dtype=np.int64)
    frontier = np.array([0])
    while frontier.size:
        block = np.stack([reps[c] for c in frontier])
        found = []
        for k, s in enumerate(gens):
            canonical = chain.canonical_coset_reps(s[block])  # s * x for each coset representative x
            for c, key, rep in zip(frontier, perm_keys(canonical), canonical, strict=True):
                point = known.get(key)
                if point is None:
                    point = known[key] = len(reps)
                    reps.append(rep)
                    found.append(point)
                images[k, c] = point
        frontier = np.array(found, dtype=np.int64)
    return PermRep._from_valid_images(group, images, label)


def subgroup_from_name(group: PermGroup, label: str) -> PermGroup:
    """The subgroup of a spec atom ``<group>/<label>`` beyond the enumeration limit (where subgroup
    classes are not computed): ``label`` is a catalog name (``S9``, ``S5xS5``, ``A7``, ``C5``, ...) or
    ``1``, and the named group acts on the first of ``group``'s points (``S10/S9``: the stabilizer of
    point 9; ``S10/S5xS5``: ``S5`` on points ``0..4`` times ``S5`` on ``5..9``), fixing the rest."""
    if label == "1":
        return PermGroup([np.arange(group.degree)], name="1", order=1)
    try:
        named = group_from_name(label)
    except UnknownGroupError as err:
        raise UnknownSubgroupError(
            f"unknown subgroup {label!r} of {group.name}: beyond the enumeration limit a coset rep's subgroup is "
            f"a catalog group acting on the first points ({coset_spec(group.name, 'S5xS5')}, ...) or 1 ({err})"
        ) from None
    if named.degree > group.degree:
        raise UnknownSubgroupError(
            f"subgroup {label!r} acts on {named.degree} points, more than the {group.degree} points of {group.name}"
        )
    gens = np.tile(np.arange(group.degree), (named.generator_perms.shape[0], 1))
    gens[:, : named.degree] = named.generator_perms
    return PermGroup(gens, name=label, order=named.order)


def transitive_reps(group: PermGroup) -> list[PermRep]:
    """One transitive rep ``G/H`` per subgroup class (in the order of ``group.subgroup_classes``):
    every transitive permutation rep of ``group`` is isomorphic to exactly one of them."""
    return [coset_rep(group, cls) for cls in group.subgroup_classes]
