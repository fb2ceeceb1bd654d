"""Bases of equivariant linear maps and biases between permutation reps, the projections onto
them, and their compatibility with an admissible (sparsity) subspace.

``basis``: exact orbit bases (:func:`equivariant_basis`, :func:`bias_basis`), Burnside's count,
random non-orthonormal bases. ``compatibility``: admissible masks, when their projection commutes
with the equivariant projection, and the basis of their intersection.
"""

from eqlandscape.equivariant.basis import (
    LinearBasis,
    OrbitBasis,
    bias_basis,
    burnside_dim,
    clear_basis_cache,
    equivariant_basis,
    random_basis,
)
from eqlandscape.equivariant.compatibility import (
    AdmissibleBasis,
    admissible_equivariant_basis,
    check_mask,
    commutator_norm,
    is_compatible,
    orbit_union_mask,
)

__all__ = [
    "AdmissibleBasis",
    "LinearBasis",
    "OrbitBasis",
    "admissible_equivariant_basis",
    "bias_basis",
    "burnside_dim",
    "check_mask",
    "clear_basis_cache",
    "commutator_norm",
    "equivariant_basis",
    "is_compatible",
    "orbit_union_mask",
    "random_basis",
]
