"""Matrix-free Hessian spectra of one (large) model: Hessian-vector products, Lanczos, Hutchinson, SLQ.

A model is a named mapping of single-model tensors as in :mod:`eqlandscape.landscape.functional`
(full tensors, or coordinates with ``params``); its Hessian ``H (P, P)`` acts on the flat vector
(``W0, b0, W1, ...``, row-major). It is never formed here:

* :func:`hvp`: ``H v`` by forward-over-reverse differentiation of :func:`~eqlandscape.landscape.loss`
  (``torch.func.jvp`` of ``torch.func.grad``), about the cost of two gradients.
* :func:`hessian_operator`: ``H`` (or ``basis H basis^T`` on a subspace with orthonormal basis rows,
  docs/design.md section 4) as a ``scipy.sparse.linalg.LinearOperator`` on float64 NumPy vectors,
  each product one backward pass through the retained graph of the gradient (reverse-over-reverse).
  For the augmented risk pass :func:`~eqlandscape.landscape.augment` ed data.
* :func:`extreme_eigenvalues`: the largest and/or smallest eigenvalues and their eigenvectors by the
  implicitly restarted Lanczos method of ARPACK (``scipy.sparse.linalg.eigsh``).
* :func:`spectrum_ends`: the largest eigenvalues (ARPACK) and the smallest Ritz values of a Lanczos
  run (robust to a large null space, where ARPACK's smallest do not converge).
* :func:`hutchinson_trace`: ``tr H = E[v^T H v]`` for Rademacher ``v``, with its standard error.
* :func:`spectral_density`: stochastic Lanczos quadrature. ``m`` Lanczos steps from a unit vector
  ``v`` give a tridiagonal ``T = Q diag(theta) Q^T``; the nodes ``theta_i`` with weights ``Q[0, i]^2``
  are the ``m``-point Gauss quadrature of the spectral measure ``sum_j (v . u_j)^2 delta(lambda_j)``,
  exact for polynomials of degree ``< 2m``: ``sum_i w_i theta_i^p = v^T H^p v``. Averaged over random
  ``v`` it estimates the normalized density ``(1/P) sum_j delta(lambda - lambda_j)``.

Randomness comes from ``numpy.random.default_rng(seed)``; results are reproducible for a seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.landscape.functional import (
    Objective,
    check_data,
    check_weights,
    flatten,
    full_weights,
    get_activation,
    get_criterion,
    loss,
    objective_loss,
    unflatten,
)
from eqlandscape.landscape.hessian import basis_matrix
from eqlandscape.nn.parametrization import Parametrization

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator

Tensor = torch.Tensor
WHICH = {"largest": "LA", "smallest": "SA", "both": "BE"}


def _prepared(
    coords: Mapping[str, Tensor],
    x: Tensor,
    y: Tensor,
    activation: str,
    criterion: str,
    params: Mapping[str, Parametrization] | None,
    objective: Objective | None = None,
) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """The flat point ``theta (P,)`` and the loss (on ``(x, y)``, or the closed-form ``objective``) as a
    function of the flat vector, after checking the model and the data."""
    get_criterion(criterion)
    get_activation(activation)
    widths = check_weights(full_weights(coords, params), batch_dims=0)
    theta = flatten(coords).detach()
    if objective is not None:
        return theta, lambda t: objective_loss(objective, unflatten(t, coords), params)
    x = torch.as_tensor(x, dtype=theta.dtype, device=theta.device)
    check_data(x, y, widths, criterion)
    if y.is_floating_point():
        y = y.to(theta.dtype)

    def flat_loss(t: Tensor) -> Tensor:
        return loss(unflatten(t, coords), x, y, activation=activation, criterion=criterion, params=params)

    return theta, flat_loss


def hvp(
    coords: Mapping[str, Tensor],
    x: Tensor,
    y: Tensor,
    vector: Tensor,
    *,
    activation: str = "relu",
    criterion: str = "mse",
    params: Mapping[str, Parametrization] | None = None,
    objective: Objective | None = None,
) -> Tensor:
    """``H v (P,)`` for one model ``coords`` (no leading model dimension) on ``(x, y)`` (or of the
    closed-form ``objective``) and a flat ``vector (P,)``; :class:`ConfigError` for a vector of the
    wrong shape."""
    theta, flat_loss = _prepared(coords, x, y, activation, criterion, params, objective)
    v = torch.as_tensor(vector, dtype=theta.dtype, device=theta.device)
    if tuple(v.shape) != tuple(theta.shape):
        raise ConfigError(f"vector has shape {tuple(v.shape)}, expected {tuple(theta.shape)} (the flat model)")
    return torch.func.jvp(torch.func.grad(flat_loss), (theta,), (v,))[1]


def hessian_operator(
    coords: Mapping[str, Tensor],
    x: Tensor,
    y: Tensor,
    *,
    activation: str = "relu",
    criterion: str = "mse",
    params: Mapping[str, Parametrization] | None = None,
    basis: Any = None,
    objective: Objective | None = None,
) -> LinearOperator:
    """The Hessian of one model as a symmetric ``LinearOperator`` ``(P, P)`` on float64 vectors; with
    ``basis`` (orthonormal rows ``(r, P)``) the restriction ``basis H basis^T (r, r)``. The gradient's
    autograd graph is built once and kept, so each ``matvec`` is one backward pass through it (the
    products of :func:`hvp` without recomputing the gradient); of the closed-form ``objective`` when
    given (``x``, ``y`` ignored). :class:`ConfigError` for a basis of the wrong shape."""
    from scipy.sparse.linalg import LinearOperator

    theta, flat_loss = _prepared(coords, x, y, activation, criterion, params, objective)
    theta.requires_grad_(True)
    (grad,) = torch.autograd.grad(flat_loss(theta), theta, create_graph=True)

    def product(v: Tensor) -> Tensor:
        (out,) = torch.autograd.grad(grad, theta, v, retain_graph=True, allow_unused=True)
        return torch.zeros_like(v) if out is None else out

    P = theta.shape[0]
    b = None if basis is None else basis_matrix(basis, P, theta, "basis")

    def matvec(v: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(-1), dtype=theta.dtype, device=theta.device)
        if b is None:
            return product(t).detach().cpu().double().numpy()
        return (b @ product(t @ b)).detach().cpu().double().numpy()

    n = P if b is None else b.shape[0]
    return LinearOperator((n, n), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def _check_operator(operator: Any) -> int:
    shape = getattr(operator, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != shape[1] or shape[0] < 1:
        raise ConfigError(f"expected a square linear operator, got shape {shape}")
    return int(shape[0])


def _check_positive(value: Any, what: str, integer: bool = False) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value) or value <= 0:
        kind = "integer" if integer else "number"
        raise ConfigError(f"{what} must be a positive {kind}, got {what}={value!r}")


def extreme_eigenvalues(
    operator: LinearOperator,
    k: int = 6,
    *,
    which: str = "largest",
    tol: float = 1e-10,
    seed: int = 0,
    maxiter: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` extreme eigenvalues (ascending, ``(k,)``) and eigenvectors (columns, ``(n, k)``) of a
    symmetric operator ``(n, n)`` by Lanczos (ARPACK's ``eigsh``): ``which`` is ``"largest"``,
    ``"smallest"`` or ``"both"`` (``k`` from the two ends, one more from the top when ``k`` is odd).
    ``tol``: relative accuracy of the Ritz values (ARPACK's criterion
    ``||H v - theta v|| <= tol |theta|``). Needs ``1 <= k < n``. ARPACK calls the BLAS between
    products, whose idle threads compete with torch's for the cores (several times slower on 2 cores,
    benchmarks/README.md; minutes instead of a second on 2 busy cores): the BLAS runs on one thread
    here (``threadpoolctl``)."""
    from scipy.sparse.linalg import eigsh
    from threadpoolctl import threadpool_limits

    n = _check_operator(operator)
    _check_positive(k, "k", integer=True)
    _check_positive(tol, "tol")
    if k >= n:
        raise ConfigError(f"k={k} eigenvalues of an operator of size {n}: Lanczos needs k < {n}")
    if which not in WHICH:
        raise ConfigError(f"unknown which={which!r}; expected one of {', '.join(WHICH)}")
    v0 = np.random.default_rng(seed).standard_normal(n)
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = eigsh(operator, k=k, which=WHICH[which], tol=tol, v0=v0, maxiter=maxiter)
    order = np.argsort(values)
    return values[order], vectors[:, order]


def spectrum_ends(
    operator: LinearOperator, k: int = 10, *, tol: float = 1e-8, seed: int = 0, steps: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of the spectrum of a symmetric operator: the ``k`` smallest Ritz values of ``steps``
    Lanczos steps (default ``max(4k, 80)``, full reorthogonalization, :func:`lanczos_tridiagonal` from a
    seeded random start) and the ``k`` largest eigenvalues by ARPACK (:func:`extreme_eigenvalues`),
    each ascending.

    The small end is not asked of ARPACK: its relative criterion (``tol |theta|``) cannot be met by
    Ritz values near 0, and a Krylov space holds one vector of a repeated eigenvalue, so on a Hessian
    with a large null space (a Gauss-Newton Hessian of few samples) ``"smallest"`` runs for minutes
    without converging. By Cauchy interlacing the ``i``-th smallest Ritz value is at least the ``i``-th
    smallest eigenvalue, and the smallest converge first: a negative Ritz value is a direction of
    negative curvature (``v^T H v < 0``), so their count is a lower bound on the index; a repeated
    eigenvalue shows as one Ritz value. Needs ``1 <= k < n``."""
    n = _check_operator(operator)
    _check_positive(k, "k", integer=True)
    if k >= n:
        raise ConfigError(f"k={k} eigenvalues of an operator of size {n}: Lanczos needs k < {n}")
    m = min(n, max(4 * k, 80) if steps is None else steps)
    _check_positive(m, "steps", integer=True)
    start = np.random.default_rng(seed).standard_normal(n)
    alpha, beta = lanczos_tridiagonal(operator, start, m)
    ritz = np.linalg.eigvalsh(_tridiagonal(alpha, beta))
    top, _ = extreme_eigenvalues(operator, k, which="largest", tol=tol, seed=seed + 1)
    return ritz[:k], top


def hutchinson_trace(operator: LinearOperator, samples: int = 100, *, seed: int = 0) -> tuple[float, float]:
    """Hutchinson's estimate of ``tr H`` from ``samples`` Rademacher probes ``v`` (``E[v^T H v] = tr H``):
    ``(mean, standard error of the mean)``. Exact for a diagonal ``H``. Needs ``samples >= 2``."""
    n = _check_operator(operator)
    _check_positive(samples, "samples", integer=True)
    if samples < 2:
        raise ConfigError(f"samples={samples}: the standard error needs at least 2 probes")
    rng = np.random.default_rng(seed)
    quad = np.empty(samples)
    for i in range(samples):
        v = rng.integers(0, 2, n) * 2.0 - 1.0
        quad[i] = v @ operator.matvec(v).reshape(-1)
    return float(quad.mean()), float(quad.std(ddof=1) / np.sqrt(samples))


def lanczos_tridiagonal(operator: LinearOperator, start: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` Lanczos steps from ``start`` (normalized) with full reorthogonalization: the diagonal
    ``alpha (m,)`` and off-diagonal ``beta (m - 1,)`` of ``T = V H V^T`` for the orthonormal Krylov
    basis ``V (m, n)``; ``m < steps`` when the Krylov space is invariant sooner."""
    n = _check_operator(operator)
    v = np.asarray(start, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(v)
    if v.shape != (n,) or not norm > 0 or not np.isfinite(norm):
        raise ConfigError(f"start vector of shape {v.shape} and norm {norm}: expected a nonzero finite ({n},)")
    m = min(int(steps), n)
    V = np.zeros((m, n))
    alpha, beta = [], []
    V[0] = v / norm
    for j in range(m):
        w = operator.matvec(V[j]).reshape(-1).astype(np.float64)
        alpha.append(float(V[j] @ w))
        for _ in range(2):  # full reorthogonalization, twice is enough
            w -= V[: j + 1].T @ (V[: j + 1] @ w)
        b = float(np.linalg.norm(w))
        if j == m - 1 or b <= 1e-12 * max(abs(a) for a in (*alpha, *beta, 1e-300)):
            break
        beta.append(b)
        V[j + 1] = w / b
    return np.asarray(alpha), np.asarray(beta)


def _tridiagonal(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The symmetric tridiagonal ``T`` of :func:`lanczos_tridiagonal`'s ``alpha`` and ``beta``."""
    return np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)


@dataclass(frozen=True)
class SpectralDensity:
    """Gauss quadratures of the spectral measure, one per probe: ``nodes (probes, m)`` and
    ``weights (probes, m)`` (each row sums to 1; rows of probes whose Krylov space closed early are
    padded with zero weights), for an operator of size ``size``."""

    nodes: np.ndarray
    weights: np.ndarray
    size: int

    def density(self, grid: np.ndarray, width: float) -> np.ndarray:
        """The normalized density ``(1/P) sum_j delta(lambda - lambda_j)`` smoothed by a Gaussian of
        standard deviation ``width``, on ``grid (g,)``: the probe average of ``sum_i w_i N(grid; theta_i,
        width^2)``; it integrates to 1 (times ``size`` it counts eigenvalues)."""
        _check_positive(width, "width")
        g = np.asarray(grid, dtype=np.float64)[:, None, None]
        kernel = np.exp(-0.5 * ((g - self.nodes[None]) / width) ** 2) / (width * np.sqrt(2 * np.pi))
        return (kernel * self.weights[None]).sum(axis=2).mean(axis=1)

    def moment(self, power: int) -> float:
        """The estimate of ``(1/P) tr H^power``: the probe average of ``sum_i w_i theta_i^power``."""
        return float((self.weights * self.nodes**power).sum(axis=1).mean())


def spectral_density(
    operator: LinearOperator, *, steps: int = 64, probes: int | np.ndarray = 8, seed: int = 0
) -> SpectralDensity:
    """Stochastic Lanczos quadrature (module docstring): ``steps`` Lanczos steps from each of ``probes``
    random Rademacher vectors (or from the rows of an explicit array ``(probes, n)``)."""
    n = _check_operator(operator)
    _check_positive(steps, "steps", integer=True)
    if isinstance(probes, np.ndarray):
        starts = probes
        if starts.ndim != 2 or starts.shape[1] != n:
            raise ConfigError(f"probes of shape {starts.shape}, expected (probes, {n})")
    else:
        _check_positive(probes, "probes", integer=True)
        starts = np.random.default_rng(seed).integers(0, 2, (int(probes), n)) * 2.0 - 1.0
    m = min(int(steps), n)
    nodes, weights = np.zeros((len(starts), m)), np.zeros((len(starts), m))
    for i, start in enumerate(starts):
        alpha, beta = lanczos_tridiagonal(operator, start, m)
        theta, Q = np.linalg.eigh(_tridiagonal(alpha, beta))
        nodes[i, : alpha.size], weights[i, : alpha.size] = theta, Q[0] ** 2
    return SpectralDensity(nodes, weights, n)
