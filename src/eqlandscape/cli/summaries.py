"""Plain-data summaries of groups and bases: what the CLI prints as tables and as ``--json``.

Each function returns only JSON-serializable values (ints, strings, lists, dicts), so the
``--json`` output and the Python API can be compared directly.
"""

from __future__ import annotations

from typing import Any

from eqlandscape.equivariant import bias_basis, burnside_dim, equivariant_basis
from eqlandscape.groups import PermGroup, group_from_name, perm_group
from eqlandscape.groups.notation import cycle_notation
from eqlandscape.reps import parse_rep

LISTED_FACTS = ("conjugacy_classes", "subgroups", "subgroup_classes", "transitive_reps")


def group_summary(group: PermGroup) -> dict[str, Any]:
    """Order, degree, generators, conjugacy classes, subgroup classes and the transitive p-reps
    ``G/H``. A group beyond the enumeration limit gets its order, degree and generators (none of
    which needs its elements), and ``not_computed``: the facts left out and why."""
    basics = {
        "group": group.name,
        "order": group.order,
        "degree": group.degree,
        "abelian": bool(group.is_abelian),
        "generators": [cycle_notation(g) for g in group.generator_perms],
    }
    limit = perm_group.ENUMERATION_LIMIT
    if group.order > limit:
        reason = f"they need the {group.order} elements, more than the enumeration limit of {limit}"
        return basics | {"not_computed": list(LISTED_FACTS), "reason": reason}
    classes = [
        {
            "size": len(c),
            "element_order": int(group.element_orders[c[0]]),
            "representative": cycle_notation(group.elements[c[0]]),
        }
        for c in group.conjugacy_classes
    ]
    subgroup_classes = [
        {
            "label": sc.label,
            "order": sc.order,
            "index": sc.index,
            "conjugates": sc.size,
            "normal": bool(sc.is_normal),
            "generators": [cycle_notation(group.elements[g]) for g in sc.representative.generators],
        }
        for sc in group.subgroup_classes
    ]
    transitive = [
        {"spec": f"{group.name}/{sc.label}", "degree": sc.index, "stabilizer": sc.label}
        for sc in group.subgroup_classes
    ]
    return basics | {
        "conjugacy_classes": classes,
        "subgroups": int(sum(sc.size for sc in group.subgroup_classes)),
        "subgroup_classes": subgroup_classes,
        "transitive_reps": transitive,
    }


def basis_summary(group_name: str, rep_in_spec: str, rep_out_spec: str) -> dict[str, Any]:
    """Dimension (orbit count and Burnside's count; the latter ``None`` beyond the enumeration limit,
    where the characters would need every element) and orbit sizes of the equivariant maps
    ``rho_in -> rho_out``, and of the equivariant biases of ``rho_out``."""
    group = group_from_name(group_name)
    rep_in, rep_out = parse_rep(group, rep_in_spec), parse_rep(group, rep_out_spec)
    basis = equivariant_basis(rep_in, rep_out)
    bias = bias_basis(rep_out)
    return {
        "group": group.name,
        "rep_in": str(rep_in),
        "rep_out": str(rep_out),
        "shape": [rep_out.size, rep_in.size],
        "dim": basis.dim,
        "burnside_dim": burnside_dim(rep_in, rep_out) if group.order <= perm_group.ENUMERATION_LIMIT else None,
        "orbit_sizes": [int(s) for s in basis.sizes],
        "bias_dim": bias.dim,
        "bias_orbit_sizes": [int(s) for s in bias.sizes],
    }
