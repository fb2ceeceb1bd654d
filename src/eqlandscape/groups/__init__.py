"""Finite permutation groups: closure, multiplication table, conjugacy classes, subgroups, catalog."""

from eqlandscape.groups.catalog import (
    alternating,
    cyclic,
    dihedral,
    direct_product,
    group_from_name,
    klein_four,
    symmetric,
)
from eqlandscape.groups.perm_group import (
    PermGroup,
    as_permutation,
    as_permutations,
    compose,
    orbit_labels,
    set_enumeration_limit,
)
from eqlandscape.groups.subgroups import Subgroup, SubgroupClass

__all__ = [
    "PermGroup",
    "Subgroup",
    "SubgroupClass",
    "alternating",
    "as_permutation",
    "as_permutations",
    "compose",
    "cyclic",
    "dihedral",
    "direct_product",
    "group_from_name",
    "klein_four",
    "orbit_labels",
    "set_enumeration_limit",
    "symmetric",
]
