"""Exact Hessians of small models, batched over an ensemble, and restricted to subspaces.

Notation as in :mod:`eqlandscape.landscape.functional` (docs/design.md section 3): ``K`` models with
full tensors ``W_l (K, n_{l+1}, n_l)`` and ``b_l (K, n_{l+1})``, a shared row batch ``x (B, n_0)``,
``z_l = h_l W_l^T + b_l``, ``h_{l+1} = act(z_l)``, ``f = z_{L-1}``, and the loss
``L = sum_b ell(f_b, y_b)`` (a mean: ``ell`` carries the ``1/B``). The Hessian is reported on the flat
vector (``W0, b0, W1, ...`` row-major, ``P`` entries), or on the coordinates of a parametrization.

**The structure used.** Differentiating twice through the network (``W_l`` enters linearly, so
``d^2 W_l = 0``) gives, for directions ``u, v`` of the parameters::

    H(u, v) = sum_b (J_b u)^T ell''_b (J_b v)                                   Gauss-Newton
            + sum_{l>=1} sum_b delta_l[b] . (du W_l dv h_l[b] + dv W_l du h_l[b])  bilinear, cross-layer
            + sum_{l<L-1} sum_b (dL/dh_{l+1}[b] * act''(z_l[b])) . (du z_l[b] * dv z_l[b])

with ``J_b = df_b / dtheta``, ``delta_l = dL/dz_l`` (backpropagated residuals) and ``d h``, ``d z`` the
directional derivatives. The derivative of ``z_m`` with respect to layer ``m``'s own tensors is the
Kronecker product ``I (x) [h_m, 1]``, so every Jacobian of a later quantity ``q`` is
``dq/dz_m (x) [h_m, 1]``; the Hessian is built from these factors and never from a Jacobian of all
parameters at once. The bilinear terms couple only a layer's weights with earlier layers (for one
hidden layer: the block ``(W_1, (W_0, b_0))``, diagonal in the hidden neuron); the last sum vanishes
for ReLU and the identity, whose second derivative is 0 (detected from the values, not the name), so a
ReLU Hessian is the Gauss-Newton term plus the cross-layer terms. Cost per model
``O(B n_L P^2)``, dominated by one matrix product ``J^T (ell'' J)``. ReLU is not differentiable at
0; there its derivative is taken as autograd takes it for :func:`~eqlandscape.landscape.loss`
(``clamp_min``: 1 at ``z = 0``), a set of weights of measure zero.

**Coordinates and subspaces.** With ``params`` the model is given by coordinates ``theta`` with
``W.flat = theta Phi`` (``Phi`` block diagonal over the tensors, ``(d, P)``); the loss is a function of
``theta`` through a linear map, so its Hessian is ``Phi H Phi^T``. A subspace with orthonormal basis
rows ``basis (r, P)`` (``E``, ``E``-perp, ``E ∩ Fix(K)`` from
``eqlandscape.symmetry.fixed_point_subspace(...).orthonormal()``, one tensor's entries from
:func:`block_basis`) gets the restricted Hessian ``basis H basis^T (r, r)``: the second derivative of
``t -> L(theta + t basis)`` (docs/design.md section 4 for the subspaces). For the augmented risk
(:func:`augmented_hessian`) at a point of ``E``, the Hessian commutes with ``G`` acting on the weights,
so it maps ``E`` and ``E``-perp to themselves; its ``E`` block is the Hessian of the constrained model
in ``orthonormal`` coordinates. ``G`` acts on the weights by ``W_l -> rho_{l+1}(g) W_l rho_l(g)^T`` and
``b_l -> rho_{l+1}(g) b_l`` (rows by the output rep from the left, columns by the input rep; docs/design.md
section 3), a permutation of the flat vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.linalg
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.landscape.functional import (
    Criterion,
    Objective,
    augment,
    check_data,
    check_weights,
    flatten,
    full_weights,
    get_activation,
    get_criterion,
    objective_loss,
    structure,
    unflatten,
)
from eqlandscape.nn.parametrization import Parametrization
from eqlandscape.reps import PermRep

Tensor = torch.Tensor

CHUNK_FLOATS = 2**24
"""Working memory per chunk of models in floats (128 MiB in float64), for the default chunk size."""


# ---------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Layout:
    """Positions in the flat vector of ``size`` entries. ``aug[l]`` ``(n_{l+1}, n_l + bias)``: the flat
    position of entry ``(o, k)`` of ``[W_l, b_l]`` (column ``n_l`` is the bias); ``weight[l]`` the start
    of ``W_l``."""

    widths: tuple[int, ...]
    size: int
    aug: tuple[Tensor, ...]
    weight: tuple[int, ...]


def _layout(widths: tuple[int, ...], bias: bool, device: torch.device) -> _Layout:
    aug, weight = [], []
    offset = 0
    for n_in, n_out in pairwise(widths):
        pos = offset + torch.arange(n_out * n_in, device=device).reshape(n_out, n_in)
        weight.append(offset)
        offset += n_out * n_in
        if bias:
            pos = torch.cat([pos, offset + torch.arange(n_out, device=device)[:, None]], dim=1)
            offset += n_out
        aug.append(pos)
    return _Layout(widths, offset, tuple(aug), tuple(weight))


def _per_model_floats(layout: _Layout, samples: int) -> int:
    """A bound on the floats one model occupies while its Hessian is computed (for the chunk size):
    the Hessian, ``J`` and ``ell'' J``, the activations, and the factors of the other terms (dense
    Jacobians of hidden layers only with two hidden layers or more)."""
    P, widths = layout.size, layout.widths
    floats = P * P + 2 * samples * widths[-1] * P + samples * (P + 4 * sum(widths))
    if len(widths) > 3:
        floats += 2 * samples * max(widths) * P
    return floats


# ---------------------------------------------------------------------- the structured Hessian
def _activation_derivatives(activation: str, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``act(z)``, ``act'(z)``, ``act''(z)`` of a pointwise activation, by nested forward-mode derivatives
    (exact for every activation of the registry)."""
    act = get_activation(activation)
    ones = torch.ones_like(z)

    def first(t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.func.jvp(act, (t,), (ones,))

    (h, d1), (_, d2) = torch.func.jvp(first, (z,), (ones,))
    return h, d1, d2


def _hat(h: Tensor, bias: bool) -> Tensor:
    """``[h, 1]`` along the last dimension (``h`` itself without biases)."""
    return torch.cat([h, h.new_ones(*h.shape[:-1], 1)], dim=-1) if bias else h


def _kron(C: Tensor, hh: Tensor) -> Tensor:
    """Jacobian of a quantity ``q`` with respect to ``[W_m, b_m]`` from ``C = dq/dz_m (k, B, r, n)`` and
    ``hh = [h_m, 1] (k, B, c)`` (or shared ``(B, c)``): ``(k, B, r, n c)``, entry ``(o, k)`` at ``o c + k``."""
    return (C.unsqueeze(-1) * hh.unsqueeze(-2).unsqueeze(-2)).flatten(-2)


def _add_sym(H: Tensor, rows: Tensor, cols: Tensor, vals: Tensor) -> None:
    """``H[rows, cols] += vals`` and ``H[cols, rows] += vals`` for every model (off-diagonal blocks)."""
    H[:, rows, cols] += vals
    H[:, cols, rows] += vals


def _structured_hessian(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    x: Tensor,
    y: Tensor,
    activation: str,
    crit: Criterion,
    layout: _Layout,
    result: Tensor | None,
) -> Tensor:
    """The exact Hessians ``(k, P, P)`` (flat order) of ``k`` models, by the decomposition of the module
    docstring; written into ``result`` when given."""
    L, bias = len(weights), biases is not None
    k, B, n_L = weights[0].shape[0], x.shape[0], layout.widths[-1]
    # forward: h_l, [h_l, 1], act'(z_l), act''(z_l)
    hs, hh, d1, d2 = [x], [_hat(x, bias)], [], []
    for layer, W in enumerate(weights):
        z = torch.matmul(hs[-1], W.mT)
        if bias:
            z = z + biases[layer].unsqueeze(-2)
        if layer < L - 1:
            h, a1, a2 = _activation_derivatives(activation, z)
            hs.append(h)
            hh.append(_hat(h, bias))
            d1.append(a1)
            d2.append(a2)
    out = z
    # C[(l, m)] = dz_l/dz_m (k, B, n_{l+1}, n_{m+1}) for l > m
    C: dict[tuple[int, int], Tensor] = {}
    for m in range(L - 1):
        C[(m + 1, m)] = weights[m + 1].unsqueeze(1) * d1[m].unsqueeze(-2)
        for layer in range(m + 2, L):
            C[(layer, m)] = weights[layer].unsqueeze(1) @ (d1[layer - 1].unsqueeze(-1) * C[(layer - 1, m)])
    # backward: delta_l = dL/dz_l (k, B, n_{l+1})
    delta = [crit.output_grad(out, y)]
    for layer in range(L - 1, 0, -1):
        delta.insert(0, (delta[0] @ weights[layer]) * d1[layer - 1])

    # Gauss-Newton: J^T ell'' J with J = df/dtheta (k, B, n_L, P)
    J = out.new_empty(k, B, n_L, layout.size)
    for m in range(L):
        dz = torch.eye(n_L, dtype=out.dtype, device=out.device) if m == L - 1 else C[(L - 1, m)]
        start, n_out, n_in = layout.weight[m], layout.widths[m + 1], layout.widths[m]
        J[..., start : start + n_out * n_in] = _kron(dz, hs[m])
        if bias:
            J[..., start + n_out * n_in : start + n_out * (n_in + 1)] = dz
    D = crit.output_hessian(out, y)
    DJ = J * D if n_L == 1 else D @ J
    H = torch.bmm(J.view(k, B * n_L, -1).mT, DJ.reshape(k, B * n_L, -1), out=result)

    # bilinear terms: H[(W_l)_{oi}, [W_m, b_m]_{pc}] += sum_b delta_l[b, o] dh_l[b, i] / d[W_m, b_m]_{pc}
    for layer in range(1, L):
        n_out, n_in = layout.widths[layer + 1], layout.widths[layer]
        entries = torch.arange(n_out * n_in, device=out.device)
        rows = (layout.weight[layer] + entries)[:, None]
        # m = l - 1: dh_l/dz_{l-1} = diag(act'(z_{l-1})), so the block is diagonal in the neuron i
        R = (delta[layer].unsqueeze(-1) * d1[layer - 1].unsqueeze(-2)).flatten(-2)
        cols = layout.aug[layer - 1][entries % n_in]
        _add_sym(H, rows, cols, R.mT @ hh[layer - 1])
        for m in range(layer - 1):
            dh = _kron(d1[layer - 1].unsqueeze(-1) * C[(layer - 1, m)], hh[m])  # (k, B, n_in, Q)
            vals = (delta[layer].mT @ dh.flatten(-2)).reshape(k, n_out * n_in, -1)
            _add_sym(H, rows, layout.aug[m].reshape(1, -1), vals)

    # second-derivative terms of the activation: sum_b w[b, i] dz_l[b, i]^2, w = dL/dh_{l+1} * act''(z_l)
    for layer in range(L - 1):
        if not bool(d2[layer].any()):
            continue
        w = (delta[layer + 1] @ weights[layer + 1]) * d2[layer]  # (k, B, n_{l+1})
        U = (w.unsqueeze(-1) * hh[layer].unsqueeze(-2)).permute(0, 2, 3, 1)  # (k, n_{l+1}, c_l, B)
        own = layout.aug[layer]
        shared = hh[layer] if hh[layer].dim() == 2 else hh[layer].unsqueeze(1)
        H[:, own[:, :, None], own[:, None, :]] += U @ shared  # own block, diagonal in the neuron
        if layer == 0:
            continue
        Jz = torch.cat([_kron(C[(layer, m)], hh[m]) for m in range(layer)], dim=-1)  # (k, B, n_{l+1}, Q)
        before = torch.cat([layout.aug[m].reshape(-1) for m in range(layer)])
        H[:, before[:, None], before[None, :]] += Jz.flatten(1, 2).mT @ (w.unsqueeze(-1) * Jz).flatten(1, 2)
        _add_sym(H, own[:, :, None], before[None, None, :], U @ Jz.transpose(1, 2))
    return H


# ---------------------------------------------------------------------- public API
def basis_matrix(basis: Any, size: int, like: Tensor, what: str) -> Tensor:
    """A basis ``(r, size)`` as a tensor of ``like``'s dtype and device; :class:`ConfigError` otherwise."""
    b = torch.as_tensor(np.asarray(basis) if not isinstance(basis, Tensor) else basis)
    if b.dim() != 2 or b.shape[1] != size or b.shape[0] < 1:
        raise ConfigError(f"{what} has shape {tuple(b.shape)}, expected (r, {size}) with r >= 1")
    return b.to(dtype=like.dtype, device=like.device)


def coordinate_matrix(params: Mapping[str, Parametrization]) -> np.ndarray:
    """``Phi (d, P)``: the block-diagonal matrix of the coordinate maps of ``params`` (named as the
    tensors) in flat order, ``W.flat = theta @ Phi`` for the flat coordinates ``theta (d,)``; the
    identity block for a ``free`` tensor."""
    names, _, _ = structure(params)
    blocks = [np.eye(params[n].numel) if params[n].is_identity else np.asarray(params[n].phi) for n in names]
    return scipy.linalg.block_diag(*blocks)


def hessian(
    coords: Mapping[str, Tensor],
    x: Tensor,
    y: Tensor,
    *,
    activation: str = "relu",
    criterion: str = "mse",
    params: Mapping[str, Parametrization] | None = None,
    basis: Any = None,
    chunk: int | None = None,
) -> Tensor:
    """Exact Hessians of the loss of ``K`` models (module docstring for the method).

    Parameters
    ----------
    coords : named tensors with a leading model dimension: full tensors ``W_l (K, n_{l+1}, n_l)``,
        ``b_l (K, n_{l+1})``, or with ``params`` coordinates ``(K, dim)``.
    x, y : a shared row batch ``x (B, n_0)`` and its targets (:func:`~eqlandscape.landscape.loss`).
    activation, criterion : the pointwise activation and the loss (:data:`LOSSES`).
    params : the parametrization of each tensor; the Hessian is then in the coordinates (``Phi H Phi^T``).
    basis : orthonormal rows ``(r, d)`` of a subspace of the flat vector (of the coordinates with
        ``params``); the Hessian is then restricted, ``basis H basis^T``.
    chunk : models per batched step (default: as many as fit in :data:`CHUNK_FLOATS` floats).

    Returns ``(K, P, P)`` (``(K, d, d)`` with ``params``, ``(K, r, r)`` with ``basis``), symmetric up to
    rounding, in the dtype of ``coords``. Batched and one-at-a-time results agree to rounding.
    Raises :class:`ConfigError` for tensors, data or bases of the wrong shape.
    """
    crit = get_criterion(criterion)
    get_activation(activation)
    _, _, bias = structure(coords)
    full = full_weights(coords, params)
    widths = check_weights(full, batch_dims=1)
    dtype = full["W0"].dtype
    if not dtype.is_floating_point:
        raise ConfigError(f"weights of dtype {dtype}; expected a floating dtype")
    x = torch.as_tensor(x, dtype=dtype, device=full["W0"].device)
    check_data(x, y, widths, criterion)
    if y.is_floating_point():
        y = y.to(dtype)
    layout = _layout(widths, bias, full["W0"].device)
    phi = None if params is None else torch.as_tensor(coordinate_matrix(params), dtype=dtype, device=x.device)
    size = layout.size if phi is None else phi.shape[0]
    restrict_to = None if basis is None else basis_matrix(basis, size, full["W0"], "basis")
    K = full["W0"].shape[0]
    if chunk is None:
        chunk = max(1, CHUNK_FLOATS // _per_model_floats(layout, x.shape[0]))
    elif isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"chunk must be a positive integer, got chunk={chunk!r}")
    r = size if restrict_to is None else restrict_to.shape[0]
    result = full["W0"].new_empty(K, r, r)
    Ws = [full[f"W{layer}"].detach() for layer in range(len(widths) - 1)]
    bs = [full[f"b{layer}"].detach() for layer in range(len(widths) - 1)] if bias else None
    direct = phi is None and restrict_to is None
    for start in range(0, K, chunk):
        part = slice(start, min(K, start + chunk))
        H = _structured_hessian(
            [W[part] for W in Ws],
            None if bs is None else [b[part] for b in bs],
            x,
            y,
            activation,
            crit,
            layout,
            result[part] if direct else None,
        )
        if phi is not None:
            H = phi @ H @ phi.T
        if restrict_to is not None:
            H = restrict_to @ H @ restrict_to.T
        if not direct:
            result[part] = H
    return result


def objective_hessian(
    coords: Mapping[str, Tensor],
    objective: Objective,
    *,
    params: Mapping[str, Parametrization] | None = None,
    basis: Any = None,
) -> Tensor:
    """Exact Hessians ``(K, P, P)`` of a closed-form loss (:data:`~eqlandscape.landscape.functional.Objective`,
    e.g. the population loss) at ``K`` models, by ``torch.func.vmap`` of ``torch.func.hessian`` (autograd
    through the closed form); ``coords``, ``params`` and ``basis`` as for :func:`hessian`."""
    names, _, _ = structure(coords)
    full = full_weights(coords, params)
    check_weights(full, batch_dims=1)
    flat = flatten(coords, batch_dims=1).detach()
    like = {n: coords[n][0] for n in names}
    restrict_to = None if basis is None else basis_matrix(basis, flat.shape[-1], flat, "basis")

    def one(theta: Tensor) -> Tensor:
        return objective_loss(objective, unflatten(theta, like), params)

    H = torch.func.vmap(torch.func.hessian(one))(flat)
    return H if restrict_to is None else restrict_to @ H @ restrict_to.T


def augmented_hessian(
    coords: Mapping[str, Tensor],
    x: Tensor,
    y: Tensor,
    rep_in: PermRep,
    rep_out: PermRep,
    **options: Any,
) -> Tensor:
    """Exact Hessians of the augmented risk ``(1/|G|) sum_g L(rho_in(g) x, rho_out(g) y)`` over all of
    ``G``: :func:`hessian` on :func:`~eqlandscape.landscape.augment` ed data (``|G| B`` samples); the
    same options (``activation``, ``criterion``, ``params``, ``basis``, ``chunk``)."""
    x_aug, y_aug = augment(torch.as_tensor(x), y, rep_in, rep_out)
    return hessian(coords, x_aug, y_aug, **options)


def restrict(H: Tensor, basis: Any) -> Tensor:
    """``basis H basis^T``: Hessians ``(..., P, P)`` restricted to the subspace spanned by the orthonormal
    rows of ``basis (r, P)`` (NumPy or torch): ``(..., r, r)``. :class:`ConfigError` for a basis of the
    wrong shape."""
    if H.dim() < 2 or H.shape[-1] != H.shape[-2]:
        raise ConfigError(f"Hessians of shape {tuple(H.shape)} are not square matrices (..., P, P)")
    b = basis_matrix(basis, H.shape[-1], H, "basis")
    return b @ H @ b.T


def block_basis(coords: Mapping[str, Tensor], names: list[str], batch_dims: int = 0) -> np.ndarray:
    """Rows ``(m, P)`` selecting the entries of the tensors ``names`` (e.g. ``["W0", "b0"]``, one layer's
    block) in the flat vector of ``coords`` (``batch_dims`` leading dimensions ignored): the standard
    basis vectors of those entries, in flat order."""
    all_names, _, _ = structure(coords)
    unknown = [n for n in names if n not in all_names]
    if unknown or not names:
        raise ConfigError(f"tensor names {names} must be a non-empty subset of {all_names}")
    sizes = [int(np.prod(coords[n].shape[batch_dims:], dtype=np.int64)) for n in all_names]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    picked = np.concatenate([np.arange(starts[i], starts[i + 1]) for i, n in enumerate(all_names) if n in names])
    out = np.zeros((picked.size, starts[-1]))
    out[np.arange(picked.size), picked] = 1.0
    return out


def orthogonal_complement(basis: Any, tol: float = 1e-10) -> np.ndarray:
    """Orthonormal rows ``(P - r, P)`` spanning the orthogonal complement of the row space of
    ``basis (r, P)`` (e.g. ``E``-perp from a basis of ``E``). :class:`ConfigError` if the rows are
    linearly dependent (a singular value below ``tol`` times the largest)."""
    b = np.asarray(basis.detach().cpu() if isinstance(basis, Tensor) else basis, dtype=np.float64)
    if b.ndim != 2 or b.shape[0] < 1 or b.shape[0] > b.shape[1]:
        raise ConfigError(f"basis has shape {b.shape}, expected (r, P) with 1 <= r <= P")
    s = np.linalg.svd(b, compute_uv=False)
    if s[-1] <= tol * s[0]:
        raise ConfigError(f"the {b.shape[0]} basis rows are linearly dependent (singular value {s[-1]:.3g})")
    q, _ = np.linalg.qr(b.T, mode="complete")
    return np.ascontiguousarray(q[:, b.shape[0] :].T)
