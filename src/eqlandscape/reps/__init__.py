"""Permutation representations: constructors, orbits, decomposition, isomorphism, specs."""

from eqlandscape.reps.constructors import direct_sum, natural, regular, tensor_product, trivial
from eqlandscape.reps.perm_rep import PermRep

__all__ = ["PermRep", "direct_sum", "natural", "regular", "tensor_product", "trivial"]
