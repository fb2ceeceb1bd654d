"""Classifying a critical point by the eigenvalues of its Hessian (the second-order test).

With a tolerance ``tol > 0``, an eigenvalue ``lambda`` is *negative* when ``lambda < -tol``, *near zero*
when ``|lambda| <= tol`` and positive otherwise. The *index* is the number of negative eigenvalues. The
verdict:

* ``saddle``: index >= 1 (a direction of negative curvature leaves the point downhill; this includes
  local maxima);
* ``minimum``: index 0 and no near-zero eigenvalue (a strict local minimum);
* ``degenerate``: index 0 with near-zero eigenvalues (the second-order test cannot decide; flat
  directions such as the ReLU rescalings of docs/design.md section 4 make this the usual case for
  free ReLU networks, so restrict the Hessian to a subspace first when that is the question).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.landscape.functional import (
    Objective,
    augment,
    flatten,
    full_weights,
    loss,
    named,
    objective_loss,
    unflatten,
)
from eqlandscape.nn import MLPArchitecture
from eqlandscape.symmetry.weight_space import check_tol

Tensor = torch.Tensor

VERDICTS = ("minimum", "saddle", "degenerate")


@dataclass(frozen=True)
class CriticalPoint:
    """``index`` (eigenvalues ``< -tol``), ``zeros`` (``|lambda| <= tol``), ``verdict`` (one of
    :data:`VERDICTS`), the sorted ``eigenvalues`` and the ``tol`` used."""

    index: int
    zeros: int
    verdict: str
    eigenvalues: np.ndarray
    tol: float


def classify_critical_point(spectrum: Any, tol: float) -> CriticalPoint:
    """Classify by ``spectrum``: a symmetric Hessian ``(P, P)`` (2-dimensional) or its eigenvalues
    ``(P,)`` (1-dimensional), NumPy or torch. For ``K`` models, classify each ``H[k]``.

    Raises :class:`ConfigError` for a non-positive or non-finite ``tol``, a matrix that is not square
    and symmetric (relative asymmetry above ``1e-8``), or non-finite entries.
    """
    tol = check_tol(tol)
    a = np.asarray(spectrum.detach().cpu() if hasattr(spectrum, "detach") else spectrum, dtype=np.float64)
    if not np.isfinite(a).all() or a.size == 0:
        raise ConfigError(f"the spectrum of shape {a.shape} is empty or has non-finite entries")
    if a.ndim == 2:
        if a.shape[0] != a.shape[1]:
            raise ConfigError(f"a Hessian of shape {a.shape} is not square")
        asymmetry = np.abs(a - a.T).max()
        if asymmetry > 1e-8 * max(1.0, np.abs(a).max()):
            raise ConfigError(f"the Hessian is not symmetric (largest |H - H^T| entry {asymmetry:.3g})")
        eigenvalues = np.linalg.eigvalsh((a + a.T) / 2)
    elif a.ndim == 1:
        eigenvalues = np.sort(a)
    else:
        raise ConfigError(f"expected a Hessian (P, P) or eigenvalues (P,), got shape {a.shape}")
    index = int((eigenvalues < -tol).sum())
    zeros = int((np.abs(eigenvalues) <= tol).sum())
    verdict = "saddle" if index else ("degenerate" if zeros else "minimum")
    return CriticalPoint(index, zeros, verdict, eigenvalues, tol)


# ---------------------------------------------------------------------- refinement and critical points
@dataclass(frozen=True, eq=False)
class Refinement:
    """The result of :func:`refine` for ``K`` models.

    ``coords``: the refined points as named tensors ``(K, ...)`` (full tensors, or coordinates with
    ``params``); ``flat``: the same as one ``(K, d)`` float64 tensor (flat order); ``grad_norm``,
    ``loss``: ``(K,)`` at the refined points; ``converged``: ``(K,)`` gradient norm at most ``tol``;
    ``steps``: ``(K,)`` accepted steps; ``tol``: the tolerance on the gradient norm."""

    coords: dict[str, Tensor]
    flat: Tensor
    grad_norm: np.ndarray
    loss: np.ndarray
    converged: np.ndarray
    steps: np.ndarray
    tol: float


def _as_named(arch: MLPArchitecture, tensors: Any, params: Any) -> tuple[dict[str, Tensor], dict[str, Any] | None]:
    """Points and parametrizations as named mappings (flat-order sequences or mappings), float64."""
    bias = arch.bias
    coords = dict(tensors) if isinstance(tensors, Mapping) else named(list(tensors), bias)
    coords = {k: torch.as_tensor(v).detach().to(torch.float64).clone() for k, v in coords.items()}
    if params is not None and not isinstance(params, Mapping):
        params = named(list(params), bias)
    return coords, None if params is None else dict(params)


def _grad_and_loss(
    coords: Mapping[str, Tensor],
    x: Tensor | None,
    y: Tensor | None,
    activation: str,
    criterion: str,
    params: Any,
    objective: Objective | None = None,
) -> tuple[Tensor, Tensor]:
    """Flat gradients ``(K, d)`` and losses ``(K,)`` of ``K`` models (``torch.func.vmap`` over :func:`loss`
    on ``(x, y)``, or over the closed-form ``objective``)."""

    def one(c: Mapping[str, Tensor]) -> Tensor:
        if objective is not None:
            return objective_loss(objective, c, params)
        return loss(c, x, y, activation=activation, criterion=criterion, params=params)

    grads, values = torch.func.vmap(torch.func.grad_and_value(one))(dict(coords))
    return flatten(grads, batch_dims=1), values


def _data(x: Any, y: Any, objective: Objective | None) -> tuple[Tensor | None, Tensor | None]:
    """The train set as float64 tensors (integer labels kept), or ``(None, None)`` with an ``objective``;
    :class:`ConfigError` when neither is given."""
    if objective is not None:
        return None, None
    if x is None or y is None:
        raise ConfigError("give the train set (x, y) or a closed-form objective")
    x = torch.as_tensor(x).to(torch.float64)
    y = torch.as_tensor(y)
    return x, y.to(torch.float64) if y.is_floating_point() else y


def _hessian(
    coords: Mapping[str, Tensor],
    x: Tensor | None,
    y: Tensor | None,
    activation: str,
    criterion: str,
    params: Any,
    objective: Objective | None,
) -> Tensor:
    """Exact Hessians ``(K, d, d)``: :func:`~eqlandscape.landscape.hessian.hessian` on ``(x, y)`` or
    :func:`~eqlandscape.landscape.hessian.objective_hessian`."""
    from eqlandscape.landscape.hessian import hessian, objective_hessian

    if objective is not None:
        return objective_hessian(coords, objective, params=params)
    return hessian(coords, x, y, activation=activation, criterion=criterion, params=params)


def refine(
    arch: MLPArchitecture,
    tensors: Any,
    x: Any,
    y: Any,
    *,
    params: Any = None,
    tol: float = 1e-10,
    max_steps: int = 100,
    criterion: str = "mse",
    objective: Objective | None = None,
) -> Refinement:
    """Refine ``K`` points of the loss of ``arch`` on ``(x, y)`` to critical points by Levenberg-Marquardt
    steps on the gradient, batched over the models.

    ``tensors``: the points, flat-order tensors with a leading model dimension (full weights
    ``W0, b0, W1, ...``, or with ``params`` the coordinates ``(K, dim)`` of each tensor's
    parametrization, e.g. ``Ensemble.coords`` with ``Ensemble.params``: then the points stay in the
    parametrized space, e.g. ``E`` for orthonormal coordinates), or a mapping named ``W0, b0, ...``.

    Each step solves ``(H + mu I) d = -g`` with the exact Hessian ``H`` (:func:`hessian`, in the same
    coordinates), caps the step at a trust radius ``max(1, |theta|)``, and accepts it for a model when
    its gradient norm decreases (then ``mu`` shrinks by 3, else grows by 10). Pure Newton steps
    (``mu -> 0``) converge to the nearby critical point whatever its index, so saddles are found as
    well as minima. A model stops when its gradient norm is at most ``tol``; ``max_steps`` bounds the
    iterations. Computed in float64. With ``objective`` (a closed-form loss such as the population
    loss, :data:`~eqlandscape.landscape.functional.Objective`) ``x`` and ``y`` are ignored (pass ``None``).
    """
    tol = check_tol(tol)
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ConfigError(f"max_steps must be a non-negative integer, got max_steps={max_steps!r}")
    coords, params = _as_named(arch, tensors, params)
    activation = arch.activation
    x, y = _data(x, y, objective)
    theta = flatten(coords, batch_dims=1)
    K, d = theta.shape
    g, value = _grad_and_loss(coords, x, y, activation, criterion, params, objective)
    gnorm = g.norm(dim=1)
    mu = torch.full((K,), 1e-3, dtype=torch.float64)
    steps = torch.zeros(K, dtype=torch.int64)
    eye = torch.eye(d, dtype=torch.float64)
    for _ in range(max_steps):
        active = (gnorm > tol) & torch.isfinite(gnorm) & (mu < 1e12)
        if not bool(active.any()):
            break
        idx = torch.nonzero(active).reshape(-1)
        sub = unflatten(theta[idx], coords, batch_dims=1)
        H = _hessian(sub, x, y, activation, criterion, params, objective)
        H = (H + H.mT) / 2
        scale = H.abs().amax(dim=(1, 2)).clamp_min(1e-12)
        A = H + (mu[idx] * scale)[:, None, None] * eye
        step = -torch.linalg.lstsq(A, g[idx].unsqueeze(-1)).solution.squeeze(-1)
        radius = theta[idx].norm(dim=1).clamp_min(1.0)
        norm = step.norm(dim=1)
        step = step * torch.where(norm > radius, radius / norm.clamp_min(1e-300), torch.ones_like(norm))[:, None]
        trial = theta[idx] + step
        g_new, v_new = _grad_and_loss(
            unflatten(trial, coords, batch_dims=1), x, y, activation, criterion, params, objective
        )
        n_new = g_new.norm(dim=1)
        accept = torch.isfinite(n_new) & (n_new < gnorm[idx])
        acc = idx[accept]
        theta[acc], g[acc], value[acc], gnorm[acc] = trial[accept], g_new[accept], v_new[accept], n_new[accept]
        steps[acc] += 1
        mu[acc] = (mu[acc] / 3).clamp_min(1e-15)
        mu[idx[~accept]] *= 10
    out = unflatten(theta, coords, batch_dims=1)
    gn = gnorm.numpy().copy()
    return Refinement(out, theta, gn, value.detach().numpy().copy(), gn <= tol, steps.numpy(), tol)


@dataclass(frozen=True, eq=False)
class CriticalPointReport:
    """One refined point (:func:`critical_points`).

    ``loss``, ``grad_norm``, ``converged`` as in :class:`Refinement`; ``free_grad_norm``: the norm of the
    gradient of the free loss (full weights; 0 up to rounding at a critical point in ``E`` when the data
    are closed under ``G``, by symmetric criticality, and not in general otherwise); ``index``: index of the Hessian
    in the space the point was refined in (its coordinates); ``index_in_E``: index of the free Hessian
    restricted to ``E`` (orthonormal basis; equal to ``index`` for orthonormal coordinates of ``E``);
    ``free_eigenvalues``: the eigenvalues of the Hessian of the free loss (full weights, flat order),
    ascending; ``free_index``: how many are ``< -eig_tol``; ``near_zero``: how many have
    ``|lambda| <= eig_tol``; ``sides``: one entry per barrier (``+``, ``-``, ``on``, ``dead``);
    ``subspaces``: membership in ``E`` (key ``"E"``) and in each barrier's ``E ∩ Fix((i j))`` (keyed by
    its equation); ``weights``: the full weights in flat order, each ``(*shape)``."""

    loss: float
    grad_norm: float
    converged: bool
    free_grad_norm: float
    index: int
    index_in_E: int
    free_eigenvalues: np.ndarray
    free_index: int
    near_zero: int
    sides: tuple[str, ...]
    subspaces: dict[str, bool]
    weights: list[np.ndarray]
    eig_tol: float


def critical_points(
    arch: MLPArchitecture,
    tensors: Any,
    x: Any,
    y: Any,
    *,
    params: Any = None,
    tol: float = 1e-10,
    eig_tol: float = 1e-8,
    max_steps: int = 100,
    side_tol: float = 1e-6,
    criterion: str = "mse",
    refined: Refinement | None = None,
    objective: Objective | None = None,
) -> tuple[Refinement, list[CriticalPointReport]]:
    """Refine ``K`` points (:func:`refine`, same ``tensors``, ``params``, ``tol``, ``max_steps``) and
    classify each: by the index of the Hessian in its own coordinates (``index``), of the free Hessian
    restricted to ``E`` (``index_in_E``) and of the free Hessian in the full weights (``free_index``,
    ``near_zero``: eigenvalues ``< -eig_tol`` and ``|lambda| <= eig_tol``, an absolute tolerance), and
    say on which side of each barrier it lies and in which fixed-point subspaces (membership within
    ``side_tol`` relative to the weights' norm). Pass ``refined`` to classify points already refined.
    A point with non-finite weights (a diverged start) gets NaN eigenvalues and indices ``-1``. With
    ``objective`` (a closed-form loss, e.g. the population loss) every quantity is of it, not of ``(x, y)``.
    """
    from eqlandscape.landscape.hessian import coordinate_matrix, restrict
    from eqlandscape.symmetry import analyze_barriers, fixed_point_subspace

    eig_tol, side_tol = check_tol(eig_tol, "eig_tol"), check_tol(side_tol, "side_tol")
    if refined is None:
        refined = refine(
            arch,
            tensors,
            x,
            y,
            params=params,
            tol=tol,
            max_steps=max_steps,
            criterion=criterion,
            objective=objective,
        )
    _, params = _as_named(arch, refined.coords, params)
    x, y = _data(x, y, objective)
    full = {k: v.detach() for k, v in full_weights(refined.coords, params).items()}
    # once, in the full weights; the point's own coordinates restrict it
    H = _hessian(full, x, y, arch.activation, criterion, None, objective)
    H = (H + H.mT) / 2
    own = H if params is None else restrict(H, coordinate_matrix(params))
    free_grad, _ = _grad_and_loss(full, x, y, arch.activation, criterion, None, objective)
    E = fixed_point_subspace(arch, [])
    in_E = restrict(H, E.orthonormal())
    names = arch.names
    weights = [full[n].numpy() for n in names]
    barriers = analyze_barriers(arch)
    sides = barriers.sides(weights, side_tol)
    member = {"E": E.contains(weights, side_tol)}
    for b in barriers.barriers:
        perm = np.arange(arch.widths[b.layer])
        perm[list(b.pair)] = perm[list(b.pair[::-1])]
        member[b.equations[0].text] = fixed_point_subspace(arch, [(b.layer, perm)]).contains(weights, side_tol)
    nan = CriticalPoint(-1, -1, "degenerate", np.full(H.shape[-1], np.nan), eig_tol)

    finite = torch.isfinite(refined.flat).all(dim=1)

    reports = []
    for k in range(len(weights[0])):

        def classify(h: Tensor, k: int = k) -> CriticalPoint:
            ok = bool(finite[k]) and bool(torch.isfinite(h).all())
            return classify_critical_point(h, eig_tol) if ok else nan

        free = classify(H[k])
        reports.append(
            CriticalPointReport(
                loss=float(refined.loss[k]),
                grad_norm=float(refined.grad_norm[k]),
                converged=bool(refined.converged[k]),
                free_grad_norm=float(free_grad[k].norm()),
                index=classify(own[k]).index,
                index_in_E=classify(in_E[k]).index,
                free_eigenvalues=free.eigenvalues,
                free_index=free.index,
                near_zero=free.zeros,
                sides=tuple(str(s) for s in sides[k]),
                subspaces={key: bool(v[k]) for key, v in member.items()},
                weights=[w[k] for w in weights],
                eig_tol=eig_tol,
            )
        )
    return refined, reports


@dataclass(frozen=True)
class ConstrainedCriticalPoints:
    """What :func:`constrained_critical_points` returns: the train set closed under ``G`` (``x``, ``y``),
    the closed-form ``objective`` (``None`` for the train set), the refinement and one report per start."""

    x: Tensor
    y: Tensor
    objective: Objective | None
    refined: Refinement
    reports: list[CriticalPointReport]


def constrained_critical_points(
    task: Any,
    *,
    starts: int,
    steps: int,
    lr: float,
    seed: int = 0,
    tol: float = 1e-10,
    eig_tol: float = 1e-8,
    max_steps: int = 100,
    population: bool = False,
) -> ConstrainedCriticalPoints:
    """The end points of constrained training, refined and classified (:func:`critical_points`):
    ``starts`` students of the teacher-student ``task`` (orthonormal coordinates of ``E``, SGD with
    ``lr`` for ``steps`` steps, float64, seeds ``seed ..``) trained on its train set closed under ``G``
    (every sample transformed by every group element: the augmented risk is then the loss itself, and
    critical points in ``E`` are critical points of the free loss, by symmetric criticality; docs/design.md
    section 4), or with ``population`` on the task's expected loss
    (:meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`, ``G``-invariant), which is then the
    loss of every quantity."""
    import dataclasses

    from eqlandscape.train import TrainConfig, train

    arch = task.arch
    x, y = augment(task.x_train, task.y_train, arch.rep_in, arch.rep_out)
    objective = task.expected_loss if population else None
    config = TrainConfig(
        strategy={"name": "constrained", "parametrization": "orthonormal"},
        optimizer={"name": "sgd", "lr": lr},
        n_models=starts,
        first_seed=seed,
        steps=steps,
        dtype="float64",
    )
    ensemble = train(dataclasses.replace(task, x_train=x, y_train=y), config).ensemble
    refined, reports = critical_points(
        arch,
        ensemble.coords,
        x,
        y,
        params=ensemble.params,
        tol=tol,
        eig_tol=eig_tol,
        max_steps=max_steps,
        objective=objective,
    )
    return ConstrainedCriticalPoints(x, y, objective, refined, reports)


def balanced(arch: MLPArchitecture, weights: Sequence[np.ndarray], sweeps: int = 100) -> list[np.ndarray]:
    """One model's full weights (flat order) with every hidden neuron rescaled so that its incoming
    weights and bias have the norm of its outgoing weights: ``(w_in, b) -> c (w_in, b)``,
    ``w_out -> w_out / c``, ``c > 0``, which leaves a ReLU (or linear) network's function, loss and
    critical points unchanged. Neurons of one ``G``-orbit get the same ``c`` at a point of ``E``, so the
    result stays in ``E``. Sweeps over the layers until no scale moves by more than ``1e-14``;
    neurons with zero incoming or outgoing weights are left alone. The canonical representative of
    the rescaling orbit that :func:`deduplicate` compares."""
    weights_, biases = arch.split([np.array(w, dtype=np.float64) for w in weights])
    for _ in range(sweeps):
        moved = 0.0
        for m in range(1, arch.n_layers):
            incoming = weights_[m - 1] ** 2
            norm_in = np.sqrt(incoming.sum(axis=1) + (0.0 if biases is None else biases[m - 1] ** 2))
            norm_out = np.sqrt((weights_[m] ** 2).sum(axis=0))
            ok = (norm_in > 1e-300) & (norm_out > 1e-300)
            c = np.where(ok, np.sqrt(norm_out / np.where(ok, norm_in, 1.0)), 1.0)
            weights_[m - 1] = weights_[m - 1] * c[:, None]
            if biases is not None:
                biases[m - 1] = biases[m - 1] * c
            weights_[m] = weights_[m] / c[None, :]
            moved = max(moved, float(np.abs(c - 1).max(initial=0.0)))
        if moved <= 1e-14:
            break
    return arch.join(weights_, biases)


def deduplicate(
    reports: Sequence[CriticalPointReport],
    tol: float = 1e-6,
    *,
    arch: MLPArchitecture | None = None,
) -> list[tuple[CriticalPointReport, int]]:
    """The distinct critical points among ``reports`` and how many reports reached each: two are the
    same when their losses differ by at most ``tol * max(1, |loss|)`` and their full weights by at
    most ``tol * max(1, |weights|)`` in Euclidean norm. With ``arch`` (ReLU or identity activation) the
    weights are compared after :func:`balanced`, i.e. modulo the positive rescalings of hidden neurons,
    which turn one critical point into a continuum of critical points of the same loss and index
    (docs/design.md section 4); without, modulo nothing. The first report of each stands for it;
    sorted by loss."""
    rescale = arch is not None and arch.activation in ("relu", "identity")
    groups: list[list[Any]] = []
    for r in reports:
        w = np.concatenate([a.ravel() for a in (balanced(arch, r.weights) if rescale else r.weights)])
        for g in groups:
            same_loss = abs(g[0].loss - r.loss) <= tol * max(1.0, abs(r.loss))
            if same_loss and np.linalg.norm(g[1] - w) <= tol * max(1.0, np.linalg.norm(w)):
                g[2] += 1
                break
        else:
            groups.append([r, w, 1])
    return sorted(((g[0], g[2]) for g in groups), key=lambda item: item[0].loss)
