"""The pieces of ``eqlandscape critical``: train constrained students from many starts, refine their
end points to critical points of the loss in ``E``, classify and deduplicate them."""

from __future__ import annotations

from typing import Any

import numpy as np

from eqlandscape.errors import ConfigError

GRAD_TOL = 1e-10
"""Gradient norm (in ``E``'s orthonormal coordinates) below which a refined point counts as critical."""
EIG_TOL = 1e-8
"""Eigenvalues with ``|lambda| <= EIG_TOL`` are near zero; below ``-EIG_TOL`` negative."""
DEDUP_TOL = 1e-6
"""Relative tolerance on loss and (balanced) weights for two refined points to be the same."""


def find_critical_points(
    group: str,
    reps: str,
    *,
    teacher_weights: str = "plane",
    bias: bool = False,
    starts: int = 64,
    steps: int = 2000,
    lr: float = 0.05,
    seed: int = 0,
    teacher_seed: int = 0,
    n_train: int = 256,
    max_newton: int = 100,
    population: bool = False,
) -> dict[str, Any]:
    """Train ``starts`` constrained students (orthonormal coordinates of ``E``, SGD, seeds ``seed ..``)
    on the teacher ``reps`` with the train set closed under ``G`` (every sample transformed by every
    group element, so that critical points in ``E`` are critical points of the free loss, by symmetric
    criticality), refine each end point within ``E`` (:func:`~eqlandscape.landscape.critical.refine`),
    classify (:func:`~eqlandscape.landscape.critical.critical_points`) and deduplicate modulo the
    rescaling of ReLU neurons. With ``population`` the training, the refinement and every quantity reported are of the
    expected loss over Gaussian inputs (:meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`,
    ``G``-invariant, so critical points in ``E`` are again critical for the free loss). Returns the
    JSON-serializable result of the command."""
    from eqlandscape.cli.tasks import make_task
    from eqlandscape.landscape.critical import constrained_critical_points, deduplicate
    from eqlandscape.symmetry import analyze_barriers

    if starts < 1:
        raise ConfigError(f"--starts must be at least 1, got {starts}")
    if steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {steps}")
    if n_train < 1:
        raise ConfigError(f"--n-train must be at least 1, got {n_train}")
    if not (np.isfinite(lr) and lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {lr}")
    task = make_task(
        group,
        reps,
        bias=bias,
        teacher_weights=teacher_weights,
        teacher_seed=teacher_seed,
        n_train=n_train,
        n_test=1,
        population=population,
    )
    arch = task.arch
    run = constrained_critical_points(
        task,
        starts=starts,
        steps=steps,
        lr=lr,
        seed=seed,
        tol=GRAD_TOL,
        eig_tol=EIG_TOL,
        max_steps=max_newton,
        population=population,
    )
    x, refined, reports = run.x, run.refined, run.reports
    barriers = analyze_barriers(arch)
    found = []
    for report, count in deduplicate([r for r in reports if r.converged], DEDUP_TOL, arch=arch):
        found.append(
            {
                "loss": report.loss,
                "sides": list(report.sides),
                "index_in_E": report.index_in_E,
                "free_eigenvalues": [float(v) for v in report.free_eigenvalues],
                "free_index": report.free_index,
                "near_zero": report.near_zero,
                "count": count,
                "grad_norm": report.grad_norm,
                "free_grad_norm": report.free_grad_norm,
                "subspaces": report.subspaces,
                "weights": [np.asarray(w).tolist() for w in report.weights],
            }
        )
    return {
        "group": group,
        "reps": [r.name for r in arch.reps],
        "bias": bias,
        "teacher_weights": teacher_weights,
        "population": population,
        "barriers": [b.equations[0].text for b in barriers.barriers],
        "starts": starts,
        "steps": steps,
        "samples": int(x.shape[0]),
        "refined": int(refined.converged.sum()),
        "not_converged": int((~refined.converged).sum()),
        "grad_tol": GRAD_TOL,
        "eig_tol": EIG_TOL,
        "dedup_tol": DEDUP_TOL,
        "critical_points": found,
    }
