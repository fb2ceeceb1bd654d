"""Basic permutation representations, the operations that combine them, and reps from textual specs.

All follow the conventions of :mod:`eqlandscape.reps.perm_rep`. Each constructed rep is named by its
spec (:mod:`eqlandscape.reps.spec`), so ``parse_rep(group, str(rep)) == rep`` for every rep built from
these constructors, coset reps of class representatives, and specs.
"""

from __future__ import annotations

from functools import reduce

import numpy as np

from eqlandscape.errors import GroupMismatchError, RepSpecError, UnknownSubgroupError
from eqlandscape.groups import perm_group
from eqlandscape.groups.catalog import group_from_name
from eqlandscape.groups.perm_group import PermGroup
from eqlandscape.reps.coset import coset_rep, coset_rep_from_generators, subgroup_from_name
from eqlandscape.reps.perm_rep import PermRep
from eqlandscape.reps.spec import (
    Atom,
    Copies,
    Node,
    Paren,
    Power,
    Product,
    Sum,
    check_count,
    copies_spec,
    coset_spec,
    parse_spec,
    power_spec,
    product_spec,
    sum_spec,
)


def trivial(group: PermGroup, copies: int = 1) -> PermRep:
    """Every element fixes each of ``copies`` points."""
    copies = check_count(copies, "the number of trivial copies")
    images = np.tile(np.arange(copies), (len(group.generator_perms), 1))
    return PermRep._from_valid_images(group, images, copies_spec(copies, "trivial"))


def natural(group: PermGroup) -> PermRep:
    """The group's own action on its ``degree`` points: ``perms[g] = group.elements[g]``."""
    return PermRep._from_valid_images(group, group.generator_perms, "natural")


def regular(group: PermGroup) -> PermRep:
    """Left multiplication on the group itself: point ``x`` goes to ``g*x`` (``|G|`` points, indexed
    like ``group.elements``)."""
    return PermRep(group, group.table.copy(), name="regular")


def direct_sum(*reps: PermRep) -> PermRep:
    """``rho_1 + ... + rho_k``: the disjoint union of the points, ``rho_1``'s first (point ``i`` of
    ``rho_j`` is point ``i + size_1 + ... + size_{j-1}``)."""
    if not reps:
        raise GroupMismatchError("direct_sum needs at least one rep")
    for r in reps:
        reps[0].check_same_generators(r, "direct sum")
        r.check_unsigned("direct sum")
    offsets = np.cumsum([0] + [r.size for r in reps[:-1]])
    images = np.concatenate([r.generator_images + off for r, off in zip(reps, offsets, strict=True)], axis=1)
    return PermRep._from_valid_images(reps[0].group, images, sum_spec(*(r.name for r in reps)))


def copies(rep: PermRep, count: int) -> PermRep:
    """``count*rep``: the direct sum of ``count`` copies of ``rep`` (copy ``c`` on points
    ``c*size .. (c+1)*size - 1``)."""
    count = check_count(count, "the number of copies")
    rep.check_unsigned("copies")
    n = rep.size
    images = rep.generator_images
    images = (images[:, None, :] + n * np.arange(count)[None, :, None]).reshape(images.shape[0], -1)
    return PermRep._from_valid_images(rep.group, images, copies_spec(count, rep.name))


def tensor_perms(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Point images of the tensor product of the rows of ``p`` and ``q`` (same number of rows): pair
    ``(i, j)`` is point ``i * q.shape[1] + j``. Also numbers the entries ``W[i_out, i_in]`` of a weight
    matrix row-major (:func:`eqlandscape.equivariant.equivariant_basis`)."""
    return (p[:, :, None] * q.shape[1] + q[:, None, :]).reshape(p.shape[0], -1)


def tensor_product(*reps: PermRep) -> PermRep:
    """``rho_1 (x) ... (x) rho_k``: the action on tuples of points, ``g.(i, j) = (g.i, g.j)``, the pair
    ``(i, j)`` being point ``i * size_2 + j`` (row-major; so the product is associative on points)."""
    if not reps:
        raise GroupMismatchError("tensor_product needs at least one rep")
    for r in reps:
        reps[0].check_same_generators(r, "tensor product")
        r.check_unsigned("tensor product")
    images = reduce(tensor_perms, (r.generator_images for r in reps))
    return PermRep._from_valid_images(reps[0].group, images, product_spec(*(r.name for r in reps)))


def tensor_power(rep: PermRep, exponent: int) -> PermRep:
    """``rep^exponent``: the tensor product of ``exponent`` copies of ``rep`` (``size**exponent`` points)."""
    exponent = check_count(exponent, "the exponent of a tensor power")
    rep.check_unsigned("tensor power")
    images = reduce(tensor_perms, [rep.generator_images] * exponent)
    return PermRep._from_valid_images(rep.group, images, power_spec(rep.name, exponent))


def parse_rep(group: PermGroup | str, spec: str) -> PermRep:
    """The rep of ``group`` (a group or a catalog name) described by ``spec``, in the grammar of
    :mod:`eqlandscape.reps.spec`: e.g. ``natural``, ``regular``, ``2*trivial + S3/C2``, ``natural^2``,
    ``natural + natural^2``, ``natural*regular``, ``(natural + trivial)^2``.

    ``<group>/<label>`` is :func:`coset_rep` of the representative of the subgroup class ``label``;
    beyond the enumeration limit, where subgroup classes are not computed, ``label`` is a catalog group
    acting on the first points (``S10/S9``, ``S10/S5xS5``: :func:`eqlandscape.reps.coset.subgroup_from_name`).
    Raises :class:`RepSpecError` for a malformed spec or an unknown atom (naming the token) and
    :class:`UnknownSubgroupError` for a subgroup label the group does not have. The result is named by
    its spec, normalized (``(natural)`` prints as ``natural``, ``G/C2`` as ``S3/C2``).
    """
    if isinstance(group, str):
        group = group_from_name(group)
    return _evaluate(group, parse_spec(spec), spec)


def parse_rep_chain(group: PermGroup | str, spec: str) -> tuple[PermRep, ...]:
    """The reps of an MLP's layers, input first, from ``"natural -> 2*trivial + S3/C2 -> trivial"``: each
    part :func:`parse_rep` of ``group``. :class:`RepSpecError` when there are fewer than two parts or an
    empty one."""
    parts = [p.strip() for p in spec.split("->")]
    if len(parts) < 2 or not all(parts):
        raise RepSpecError(f"an MLP needs reps 'rho_0 -> ... -> rho_L' (at least two), got {spec!r}")
    if isinstance(group, str):
        group = group_from_name(group)
    return tuple(parse_rep(group, p) for p in parts)


def _evaluate(group: PermGroup, node: Node, spec: str) -> PermRep:
    match node:
        case Atom():
            return _atom(group, node, spec)
        case Paren(inner=inner):
            return _evaluate(group, inner, spec)
        case Power(base=base, exponent=k):
            return tensor_power(_evaluate(group, base, spec), k)
        case Product(factors=factors):
            return tensor_product(*(_evaluate(group, f, spec) for f in factors))
        case Copies(count=k, inner=inner):
            return copies(_evaluate(group, inner, spec), k)
        case Sum(terms=terms):
            return direct_sum(*(_evaluate(group, t, spec) for t in terms))
    raise TypeError(f"not a spec node: {node!r}")  # pragma: no cover - the parser builds only the above


_BASIC = {"trivial": trivial, "natural": natural, "regular": regular}


def _atom(group: PermGroup, atom: Atom, spec: str) -> PermRep:
    if atom.text in _BASIC:
        return _BASIC[atom.text](group)
    if atom.label is None:
        raise RepSpecError(
            f"unknown rep {atom.text!r} at position {atom.pos} in rep spec {spec!r}: expected trivial, "
            f"natural, regular or a coset rep {coset_spec(group.name, '<label>')}"
        )
    if atom.group not in (group.name, "G"):
        raise RepSpecError(
            f"coset rep {atom.text!r} at position {atom.pos} in rep spec {spec!r} names group "
            f"{atom.group!r}, but the rep is of {group.name} "
            f"(write {coset_spec(group.name, atom.label)} or G/{atom.label})"
        )
    if group.order > perm_group.ENUMERATION_LIMIT:  # no subgroup classes: the label names a catalog group
        try:
            H = subgroup_from_name(group, atom.label)
        except UnknownSubgroupError as err:
            raise UnknownSubgroupError(f"{err} (in rep spec {spec!r})") from None
        return coset_rep_from_generators(group, H, coset_spec(group.name, atom.label))
    try:
        cls = group.subgroup_class(atom.label)
    except UnknownSubgroupError as err:
        raise UnknownSubgroupError(f"{err} (in rep spec {spec!r})") from None
    return coset_rep(group, cls)
