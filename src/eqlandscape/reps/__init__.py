"""Permutation representations: constructors, coset reps ``G/H``, orbits, decomposition into
transitive pieces, isomorphism, textual specs and the rep algebra (``+``, ``k*``, ``*``, ``**``, ``>>``)."""

from eqlandscape.reps.constructors import (
    copies,
    direct_sum,
    natural,
    parse_rep,
    regular,
    tensor_power,
    tensor_product,
    trivial,
)
from eqlandscape.reps.coset import coset_rep, transitive_reps
from eqlandscape.reps.decompose import (
    TransitivePiece,
    canonical,
    is_isomorphic,
    isomorphism,
    isomorphism_type,
)
from eqlandscape.reps.perm_rep import PermRep

__all__ = [
    "PermRep",
    "TransitivePiece",
    "canonical",
    "copies",
    "coset_rep",
    "direct_sum",
    "is_isomorphic",
    "isomorphism",
    "isomorphism_type",
    "natural",
    "parse_rep",
    "regular",
    "tensor_power",
    "tensor_product",
    "transitive_reps",
    "trivial",
]
