"""Stability of equivariant stationary points: constrained against augmented training (docs/design.md
section 4; the question of Nordenfors, Ohlsson and Flinth).

At a point ``W`` of ``E`` (the equivariant weights) that is stationary for the augmented risk
``R(W) = (1/|G|) sum_g L(rho_in(g) x, rho_out(g) y)`` (or for a ``G``-invariant loss: the loss on a train
set closed under ``G``, or the population loss over a ``G``-invariant input distribution, which equal
their augmented risks), the Hessian ``H`` of ``R`` commutes with ``G`` acting on the weights
(:mod:`eqlandscape.landscape.hessian`), so it maps ``E`` and ``E``-perp to themselves: with orthonormal
bases ``B_E (r, P)`` and ``B_perp (P - r, P)``, ``B_E H B_perp^T = 0`` and the spectrum of ``H`` is the
union of the spectra of the blocks ``H_E = B_E H B_E^T`` and ``H_perp = B_perp H B_perp^T``.

* ``H_E`` is the Hessian of the constrained problem in orthonormal coordinates of ``E``: constrained
  training (gradient descent inside ``E``) sees only it. The point is *stable* for constrained training
  when ``H_E`` has no eigenvalue below ``-tol`` (its index in ``E`` is 0), a *saddle* otherwise.
* Augmented training moves in all of the weights: the point is *stable* for it when neither block has
  an eigenvalue below ``-tol`` and a *saddle* otherwise. A point stable for constrained training and a
  saddle for augmented training is one that augmented training leaves along ``E``-perp: a negative
  direction of ``H_perp``, breaking the symmetry.

Near-zero eigenvalues (``|lambda| <= tol``) are counted, not judged: ReLU rescalings make flat directions
(docs/design.md section 4), inside ``E`` as well as out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.landscape.critical import _data, classify_critical_point
from eqlandscape.landscape.functional import Objective, augment, named
from eqlandscape.landscape.hessian import hessian, objective_hessian, orthogonal_complement, restrict
from eqlandscape.landscape.slices import _flat, _unflat
from eqlandscape.nn import MLPArchitecture
from eqlandscape.symmetry.weight_space import check_tol

STABILITY = ("stable", "saddle")


def _weights(arch: MLPArchitecture, weights: Sequence[Any]) -> list[np.ndarray]:
    """One model's full weights in flat order as float64 arrays of the architecture's shapes."""
    arrays = [np.asarray(w, dtype=np.float64) for w in weights]
    shapes = [a.shape for a in arrays]
    if shapes != [tuple(s) for s in arch.shapes]:
        raise ConfigError(f"weights of shapes {shapes} do not fit {arch} (shapes {list(arch.shapes)})")
    if not all(np.isfinite(a).all() for a in arrays):
        raise ConfigError("the weights have non-finite entries")
    return arrays


def distance_to_E(arch: MLPArchitecture, weights: Sequence[Any]) -> float:
    """The Euclidean distance of one model's full weights (flat order) to ``E``."""
    from eqlandscape.symmetry import fixed_point_subspace

    arrays = _weights(arch, weights)
    return float(fixed_point_subspace(arch, []).distance([a[None] for a in arrays])[0])


def require_in_E(arch: MLPArchitecture, weights: Sequence[Any], tol: float = 1e-6, what: str = "point") -> None:
    """:class:`ConfigError` saying how far off ``E`` the weights are, unless their distance to ``E`` is at
    most ``tol`` times ``max(1, |weights|)`` (an ``E``-restricted quantity is asked for)."""
    tol = check_tol(tol)
    arrays = _weights(arch, weights)
    distance = distance_to_E(arch, arrays)
    norm = float(np.sqrt(sum((a**2).sum() for a in arrays)))
    if distance > tol * max(1.0, norm):
        raise ConfigError(
            f"the {what} is not in E: its distance to E is {distance:.3g} (its weights' norm {norm:.3g}), "
            f"above the tolerance {tol:g} x max(1, norm)"
        )


def free_hessian(
    arch: MLPArchitecture,
    weights: Sequence[Any],
    x: Any = None,
    y: Any = None,
    *,
    criterion: str = "mse",
    augmented: bool = False,
    objective: Objective | None = None,
) -> torch.Tensor:
    """The exact Hessian ``(P, P)`` (float64, flat order) of one model's loss in its full weights: on
    ``(x, y)``, on ``(x, y)`` augmented over all of ``G`` (``augmented``: the Hessian of the augmented
    risk), or of a closed-form ``objective`` (``augmented`` then changes nothing when the objective is
    ``G``-invariant, as the population loss is)."""
    arrays = _weights(arch, weights)
    coords = named([torch.as_tensor(a)[None] for a in arrays], arch.bias)
    if objective is not None:
        return objective_hessian(coords, objective)[0]
    x, y = _data(x, y, None)
    if augmented:
        x, y = augment(x, y, arch.rep_in, arch.rep_out)
    return hessian(coords, x, y, activation=arch.activation, criterion=criterion)[0]


@dataclass(frozen=True, eq=False)
class Stability:
    """The verdicts at an equivariant stationary point (module docstring).

    ``eigenvalues_E``, ``eigenvalues_perp``: the spectra (ascending) of the augmented Hessian on ``E`` and
    on ``E``-perp; ``index_E``, ``index_perp``: their eigenvalues ``< -tol``; ``near_zero_E``,
    ``near_zero_perp``: with ``|lambda| <= tol``; ``constrained``, ``augmented``: one of
    :data:`STABILITY`; ``coupling``: the largest entry of ``|B_E H B_perp^T|`` relative to the largest of
    ``|H|`` (0 up to rounding when ``H`` commutes with ``G``); ``escape``: a unit vector of the full
    weights (flat order) along the most negative direction of ``H_perp`` (``None`` when ``index_perp``
    is 0); ``tol``."""

    eigenvalues_E: np.ndarray
    eigenvalues_perp: np.ndarray
    index_E: int
    index_perp: int
    near_zero_E: int
    near_zero_perp: int
    constrained: str
    augmented: str
    coupling: float
    tol: float
    escape: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serializable (without ``escape``)."""
        return {
            "eigenvalues_E": self.eigenvalues_E.tolist(),
            "eigenvalues_perp": self.eigenvalues_perp.tolist(),
            "index_E": self.index_E,
            "index_perp": self.index_perp,
            "near_zero_E": self.near_zero_E,
            "near_zero_perp": self.near_zero_perp,
            "constrained": self.constrained,
            "augmented": self.augmented,
            "coupling": self.coupling,
            "tol": self.tol,
        }


def stability(
    arch: MLPArchitecture,
    weights: Sequence[Any],
    x: Any = None,
    y: Any = None,
    *,
    criterion: str = "mse",
    objective: Objective | None = None,
    tol: float = 1e-8,
    in_E_tol: float = 1e-6,
    closed: bool = False,
) -> Stability:
    """Stability of one model at a point of ``E`` (full weights, flat order) for constrained and for
    augmented training: the augmented Hessian (:func:`free_hessian` with ``augmented=True``, or of a
    ``G``-invariant ``objective``) split into its ``E`` and ``E``-perp blocks (module docstring).
    ``closed``: ``(x, y)`` is closed under ``G`` already, so the augmented risk is its loss (not augmented
    again: the same Hessian from ``|G|`` times fewer rows).
    :class:`ConfigError` when the point is not in ``E`` (within ``in_E_tol``, saying how far off it is)
    or ``tol`` is not positive. The point should be stationary (refine it first,
    :func:`~eqlandscape.landscape.critical.refine`): the verdicts are those of the second-order test."""
    from eqlandscape.symmetry import fixed_point_subspace

    tol = check_tol(tol)
    require_in_E(arch, weights, in_E_tol)
    H = free_hessian(arch, weights, x, y, criterion=criterion, augmented=not closed, objective=objective)
    H = (H + H.T) / 2
    E = fixed_point_subspace(arch, []).orthonormal()
    perp = orthogonal_complement(E) if E.shape[0] < H.shape[0] else np.zeros((0, H.shape[0]))
    block_E = restrict(H, E).numpy()
    on_E = classify_critical_point(block_E, tol)
    if perp.shape[0]:
        block_perp = restrict(H, perp).numpy()
        values, vectors = np.linalg.eigh((block_perp + block_perp.T) / 2)
        on_perp = classify_critical_point(values, tol)
        coupling = float(np.abs(E @ H.numpy() @ perp.T).max() / max(float(H.abs().max()), 1e-300))
        escape = perp.T @ vectors[:, 0] if on_perp.index else None
    else:
        on_perp = None
        coupling, escape = 0.0, None
    index_perp = 0 if on_perp is None else on_perp.index
    return Stability(
        eigenvalues_E=on_E.eigenvalues,
        eigenvalues_perp=np.empty(0) if on_perp is None else on_perp.eigenvalues,
        index_E=on_E.index,
        index_perp=index_perp,
        near_zero_E=on_E.zeros,
        near_zero_perp=0 if on_perp is None else on_perp.zeros,
        constrained="saddle" if on_E.index else "stable",
        augmented="saddle" if on_E.index or index_perp else "stable",
        coupling=coupling,
        tol=tol,
        escape=escape,
    )


# ---------------------------------------------------------------------- search and escape
@dataclass(frozen=True, eq=False)
class StationaryPoint:
    """One distinct critical point of constrained training on one problem (:func:`search`): the
    ``problem`` (the task's record, :meth:`~eqlandscape.tasks.TeacherStudentTask.describe`, without the
    teacher's tensors), its ``loss``, ``sides`` of the barriers, ``count`` of starts that reached it, full
    ``weights`` (flat order) and :class:`Stability`."""

    problem: dict[str, Any]
    loss: float
    sides: tuple[str, ...]
    count: int
    weights: list[np.ndarray]
    stability: Stability

    @property
    def symmetry_breaking(self) -> bool:
        """Stable for constrained training and a saddle for augmented training."""
        return self.stability.constrained == "stable" and self.stability.augmented == "saddle"


def search(
    tasks: Sequence[Any],
    *,
    starts: int = 16,
    steps: int = 1000,
    lr: float = 0.05,
    seed: int = 0,
    population: bool = False,
    tol: float = 1e-8,
    grad_tol: float = 1e-10,
    dedup_tol: float = 1e-6,
) -> list[StationaryPoint]:
    """The stationary points of constrained training on each teacher-student ``task`` and their
    :func:`stability`: ``starts`` constrained students (orthonormal coordinates of ``E``, SGD with ``lr``
    for ``steps`` steps, seeds ``seed ..``) on the train set closed under ``G`` (so that the augmented
    risk is the loss itself and critical points in ``E`` are critical for the free loss), refined within
    ``E`` to gradient norm ``grad_tol`` and deduplicated (relative tolerance ``dedup_tol``, modulo ReLU
    rescalings, :func:`~eqlandscape.landscape.critical.deduplicate`); with ``population`` the
    training, the refinement and the Hessians are of the task's expected loss
    (:meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`). Points that did not converge are left
    out. :attr:`StationaryPoint.symmetry_breaking` marks those stable for constrained training and
    saddles for augmented training."""
    from eqlandscape.landscape.critical import constrained_critical_points, deduplicate

    found = []
    for task in tasks:
        arch = task.arch
        run = constrained_critical_points(
            task, starts=starts, steps=steps, lr=lr, seed=seed, tol=grad_tol, eig_tol=tol, population=population
        )
        x, y, objective, reports = run.x, run.y, run.objective, run.reports
        problem = {k: v for k, v in task.describe().items() if k != "teacher_tensors"}
        for report, count in deduplicate([r for r in reports if r.converged], dedup_tol, arch=arch):
            verdict = stability(arch, report.weights, x, y, objective=objective, tol=tol, closed=True)
            found.append(StationaryPoint(problem, report.loss, report.sides, count, report.weights, verdict))
    return found


def escape_run(
    task: Any,
    point: StationaryPoint,
    *,
    scale: float = 1e-3,
    steps: int = 2000,
    lr: float = 0.05,
    n_models: int = 4,
    seed: int = 0,
) -> Any:
    """Augmented training (strategy ``augmented`` over all of ``G``, SGD, full batch, float64) of
    ``n_models`` students started at ``point`` moved by ``scale`` times a unit vector: the first along
    :attr:`Stability.escape` (the most negative direction out of ``E``), the others random unit vectors
    of the full weights (seeded by ``seed``). Returns the :class:`~eqlandscape.train.TrainResult`; its
    ``dist_to_E`` curves show whether augmented training leaves ``E``. :class:`ConfigError` for a
    non-positive ``scale``."""
    from eqlandscape.train import TrainConfig, train

    check_tol(scale, "scale")
    arch = task.arch
    flat = _flat([np.asarray(w)[None] for w in point.weights])[0]
    rng = np.random.default_rng(seed)
    moves = rng.standard_normal((n_models, flat.size))
    if point.stability.escape is not None:
        moves[0] = point.stability.escape
    moves /= np.linalg.norm(moves, axis=1, keepdims=True)
    starts = flat[None] + scale * moves
    initial = _unflat(arch, starts)
    config = TrainConfig(
        strategy={"name": "augmented"},
        optimizer={"name": "sgd", "lr": lr},
        n_models=n_models,
        first_seed=seed,
        steps=steps,
        dtype="float64",
    )
    return train(task, config, arch, initial=initial)


# ---------------------------------------------------------------------- named subspaces
SPACES = ("all", "E", "E-perp", "E-fix", "layer")
"""The subspaces of the full weights a Hessian is restricted to by :func:`subspace_basis`."""


def subspace_basis(
    arch: MLPArchitecture, space: str, *, fix: Sequence[Any] = (), layer: int | None = None
) -> np.ndarray | None:
    """Orthonormal rows ``(r, P)`` spanning a subspace of the full weights (flat order): ``"all"``
    (``None``: no restriction), ``"E"``, ``"E-perp"``, ``"E-fix"`` (``E ∩ Fix(K)`` for ``K`` generated by
    the hidden-neuron permutations ``fix``, each ``(hidden layer, perm)``,
    :func:`~eqlandscape.symmetry.fixed_point_subspace`) or ``"layer"`` (the entries of ``W_layer`` and
    ``b_layer``, ``layer`` in ``0 .. L-1``). :class:`ConfigError` names an unknown space, a missing or
    out-of-range ``layer``, a missing ``fix`` and an empty subspace."""
    from eqlandscape.landscape.hessian import block_basis
    from eqlandscape.symmetry import fixed_point_subspace

    if space not in SPACES:
        raise ConfigError(f"unknown space {space!r}; expected one of {', '.join(SPACES)}")
    if space == "all":
        return None
    if space == "layer":
        if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not 0 <= layer < arch.n_layers:
            raise ConfigError(f"the layer block needs a layer 0 .. {arch.n_layers - 1}, got layer={layer!r}")
        zeros = named([np.zeros(s) for s in arch.shapes], arch.bias)
        names = [f"W{layer}", f"b{layer}"] if arch.bias else [f"W{layer}"]
        return block_basis({k: torch.as_tensor(v) for k, v in zeros.items()}, names)
    if space == "E-fix" and not len(fix):
        raise ConfigError("E-fix needs the generators of K: hidden-neuron permutations (layer, perm)")
    basis = fixed_point_subspace(arch, list(fix) if space == "E-fix" else []).orthonormal()
    if space == "E-perp":
        if basis.shape[0] == basis.shape[1]:
            raise ConfigError(f"E-perp is empty: E is all of the {basis.shape[1]} weights of {arch}")
        return orthogonal_complement(basis)
    if basis.shape[0] == 0:
        raise ConfigError(f"the subspace {space} of {arch} is {{0}}")
    return basis
