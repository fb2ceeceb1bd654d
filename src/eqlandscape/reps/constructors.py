"""Basic permutation representations and the operations that combine them.

All follow the conventions of :mod:`eqlandscape.reps.perm_rep`.
"""

from __future__ import annotations

import numpy as np

from eqlandscape.errors import GroupMismatchError
from eqlandscape.groups.perm_group import PermGroup
from eqlandscape.reps.perm_rep import PermRep


def trivial(group: PermGroup, copies: int = 1) -> PermRep:
    """Every element fixes each of ``copies`` points."""
    name = "trivial" if copies == 1 else f"{copies}*trivial"
    return PermRep(group, np.tile(np.arange(copies), (group.order, 1)), name=name)


def natural(group: PermGroup) -> PermRep:
    """The group's own action on its ``degree`` points: ``perms[g] = group.elements[g]``."""
    return PermRep(group, group.elements.copy(), name="natural")


def regular(group: PermGroup) -> PermRep:
    """Left multiplication on the group itself: point ``x`` goes to ``g*x`` (``|G|`` points, indexed
    like ``group.elements``)."""
    return PermRep(group, group.table.copy(), name="regular")


def direct_sum(*reps: PermRep) -> PermRep:
    """``rho_1 + ... + rho_k``: the disjoint union of the points, ``rho_1``'s first."""
    if not reps:
        raise GroupMismatchError("direct_sum needs at least one rep")
    for r in reps[1:]:
        reps[0].check_same_group(r, "direct sum")
    offsets = np.cumsum([0] + [r.size for r in reps[:-1]])
    perms = np.concatenate([r.perms + off for r, off in zip(reps, offsets, strict=True)], axis=1)
    return PermRep(reps[0].group, perms, name=" + ".join(r.name for r in reps))


def tensor_product(a: PermRep, b: PermRep) -> PermRep:
    """``a (x) b``: the action on pairs ``(i, j)``, point ``i * b.size + j`` (row-major)."""
    a.check_same_group(b, "tensor product")
    perms = (a.perms[:, :, None] * b.size + b.perms[:, None, :]).reshape(a.group.order, -1)
    return PermRep(a.group, perms, name=f"({a.name}) (x) ({b.name})")
