"""Hidden symmetries of equivariant MLPs (docs/design.md sections 2 and 4).

* :mod:`~eqlandscape.symmetry.weight_space`: the weight space as permuted coordinates; joint orbits.
* :mod:`~eqlandscape.symmetry.neurons`: parameter symmetries of free MLPs (hidden permutations,
  ReLU rescalings), canonical form, alignment of two networks.
* :mod:`~eqlandscape.symmetry.fixed_points`: ``Fix(K)`` and ``E ∩ Fix(K)``: exact bases, projections,
  membership, defining equations.
* :mod:`~eqlandscape.symmetry.reduction`: coinciding neurons, merging them into a smaller MLP, the
  quotient hidden rep.
* :mod:`~eqlandscape.symmetry.barriers`: every orbit of neuron pairs of a constrained architecture,
  its codimension in ``E`` and verdict (barrier, none, degenerate), and the side of weights.
* :mod:`~eqlandscape.symmetry.discovery`: the hidden rep under which free weights are equivariant.
"""

from eqlandscape.symmetry.barriers import SIDES, VERDICTS, BarrierAnalysis, PairOrbit, analyze_barriers, pair_orbits
from eqlandscape.symmetry.discovery import RELATIONS, HiddenRepDiscovery, centralizer, discover_hidden_reps
from eqlandscape.symmetry.fixed_points import Equation, FixedPointSubspace, fixed_point_subspace
from eqlandscape.symmetry.neurons import (
    Alignment,
    align,
    canonical_form,
    cycle_type,
    normalize_rescaling,
    permute_hidden,
    rescale_hidden,
)
from eqlandscape.symmetry.reduction import ReducedMLP, dead_models, merge_neurons, neuron_clusters, quotient_rep
from eqlandscape.symmetry.weight_space import coefficient_names, hidden_perm, joint_orbits, swap

__all__ = [
    "RELATIONS",
    "SIDES",
    "VERDICTS",
    "Alignment",
    "BarrierAnalysis",
    "Equation",
    "FixedPointSubspace",
    "HiddenRepDiscovery",
    "PairOrbit",
    "ReducedMLP",
    "align",
    "analyze_barriers",
    "canonical_form",
    "centralizer",
    "coefficient_names",
    "cycle_type",
    "dead_models",
    "discover_hidden_reps",
    "fixed_point_subspace",
    "hidden_perm",
    "joint_orbits",
    "merge_neurons",
    "neuron_clusters",
    "normalize_rescaling",
    "pair_orbits",
    "permute_hidden",
    "quotient_rep",
    "rescale_hidden",
    "swap",
]
