"""Bases of equivariant linear maps and biases between permutation reps, and projections onto them."""

from eqlandscape.equivariant.basis import OrbitBasis, bias_basis, burnside_dim, equivariant_basis

__all__ = ["OrbitBasis", "bias_basis", "burnside_dim", "equivariant_basis"]
