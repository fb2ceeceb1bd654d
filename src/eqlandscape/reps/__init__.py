"""Permutation representations: constructors, coset reps ``G/H``, orbits, decomposition into
transitive pieces, isomorphism, textual specs, the rep algebra (``+``, ``k*``, ``*``, ``**``) and
uniformly random elements as their images in several reps."""

from eqlandscape.reps.constructors import (
    copies,
    direct_sum,
    natural,
    parse_rep,
    parse_rep_chain,
    regular,
    tensor_power,
    tensor_product,
    trivial,
)
from eqlandscape.reps.coset import coset_rep, coset_rep_from_generators, set_coset_limit, transitive_reps
from eqlandscape.reps.decompose import (
    TransitivePiece,
    canonical,
    is_isomorphic,
    isomorphism,
    isomorphism_type,
)
from eqlandscape.reps.perm_rep import PermRep
from eqlandscape.reps.sampling import random_elements

__all__ = [
    "PermRep",
    "TransitivePiece",
    "canonical",
    "copies",
    "coset_rep",
    "coset_rep_from_generators",
    "direct_sum",
    "is_isomorphic",
    "isomorphism",
    "isomorphism_type",
    "natural",
    "parse_rep",
    "parse_rep_chain",
    "random_elements",
    "regular",
    "set_coset_limit",
    "tensor_power",
    "tensor_product",
    "transitive_reps",
    "trivial",
]
