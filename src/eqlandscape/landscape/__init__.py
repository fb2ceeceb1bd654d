"""Loss landscapes of MLPs over permutation reps: losses as pure functions, Hessians, spectra, population
losses and critical points (docs/design.md sections 3, 4 and 8).

* :mod:`~eqlandscape.landscape.functional`: ``loss(coords, x, y)`` of one model's named tensors (full
  or coordinates), composable with ``torch.func``; the losses (:data:`LOSSES`); flat vectors;
  augmentation over all of ``G``.
* :mod:`~eqlandscape.landscape.hessian`: exact Hessians of ``K`` small models at once, in full or
  parametrization coordinates, restricted to subspaces (``E``, ``E``-perp, ``E ∩ Fix(K)``, blocks),
  and of the augmented risk.
* :mod:`~eqlandscape.landscape.spectrum`: matrix-free tools for one large model (Hessian-vector
  products, Lanczos eigenvalues, Hutchinson traces, stochastic Lanczos quadrature).
* :mod:`~eqlandscape.landscape.population`: closed-form population loss of one-hidden-layer ReLU
  teacher-student problems with Gaussian inputs, for one model or ``K`` at once; every landscape
  function takes such a closed-form loss as ``objective=`` (:data:`Objective`) in place of a train set.
* :mod:`~eqlandscape.landscape.critical`: index and verdict of a critical point; refinement of points to
  critical points (damped Newton), in full weights or in a parametrization's coordinates (``E``), and their
  classification (index in ``E``, free spectrum, sides of the barriers); deduplication.
* :mod:`~eqlandscape.landscape.stability`: constrained against augmented training at equivariant
  stationary points (the augmented Hessian on ``E`` and ``E``-perp), the search for symmetry-breaking
  saddles and the run that leaves ``E``; orthonormal bases of named subspaces.
* :mod:`~eqlandscape.landscape.slices`: the loss on 1D and 2D grids (coefficients of ``E``, filter-normalized
  random directions, the line between two networks), barrier lines and projected trajectories;
  :mod:`~eqlandscape.landscape.piecewise`: the exact row-by-row evaluation of slices of one-hidden-layer
  piecewise-linear networks along first-layer directions.
* :func:`plot_spectrum`, :func:`plot_spectra`, :func:`plot_slice` (:mod:`~eqlandscape.landscape.plot`,
  imported on first use: matplotlib).
"""

from typing import Any

from eqlandscape.landscape.critical import (
    VERDICTS,
    CriticalPoint,
    CriticalPointReport,
    Refinement,
    balanced,
    classify_critical_point,
    critical_points,
    deduplicate,
    refine,
)
from eqlandscape.landscape.functional import (
    LOSSES,
    Criterion,
    Objective,
    augment,
    flatten,
    forward,
    full_weights,
    loss,
    named,
    objective_loss,
    tensor_names,
    unflatten,
)
from eqlandscape.landscape.hessian import (
    augmented_hessian,
    block_basis,
    coordinate_matrix,
    hessian,
    objective_hessian,
    orthogonal_complement,
    restrict,
)
from eqlandscape.landscape.population import (
    arccos_kernel,
    batched_population_loss,
    population_gradient,
    population_hessian,
    population_loss,
)
from eqlandscape.landscape.slices import (
    LossSlice,
    coefficient_directions,
    coefficient_slice,
    filter_normalized_directions,
    line,
    loss_slice,
)
from eqlandscape.landscape.spectrum import (
    SpectralDensity,
    extreme_eigenvalues,
    hessian_operator,
    hutchinson_trace,
    hvp,
    lanczos_tridiagonal,
    spectral_density,
    spectrum_ends,
)
from eqlandscape.landscape.stability import (
    SPACES,
    Stability,
    StationaryPoint,
    escape_run,
    free_hessian,
    require_in_E,
    stability,
    subspace_basis,
)


def __getattr__(name: str) -> Any:
    if name in ("plot_spectrum", "plot_spectra", "plot_slice"):
        from eqlandscape.landscape import plot

        return getattr(plot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LOSSES",
    "SPACES",
    "VERDICTS",
    "Criterion",
    "CriticalPoint",
    "CriticalPointReport",
    "LossSlice",
    "Objective",
    "Refinement",
    "SpectralDensity",
    "Stability",
    "StationaryPoint",
    "arccos_kernel",
    "augment",
    "augmented_hessian",
    "balanced",
    "batched_population_loss",
    "block_basis",
    "classify_critical_point",
    "coefficient_directions",
    "coefficient_slice",
    "coordinate_matrix",
    "critical_points",
    "deduplicate",
    "escape_run",
    "extreme_eigenvalues",
    "filter_normalized_directions",
    "flatten",
    "forward",
    "free_hessian",
    "full_weights",
    "hessian",
    "hessian_operator",
    "hutchinson_trace",
    "hvp",
    "lanczos_tridiagonal",
    "line",
    "loss",
    "loss_slice",
    "named",
    "objective_hessian",
    "objective_loss",
    "orthogonal_complement",
    "plot_slice",
    "plot_spectra",
    "plot_spectrum",
    "population_gradient",
    "population_hessian",
    "population_loss",
    "refine",
    "require_in_E",
    "restrict",
    "spectral_density",
    "spectrum_ends",
    "stability",
    "subspace_basis",
    "tensor_names",
    "unflatten",
]
