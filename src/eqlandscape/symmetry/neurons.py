"""Parameter symmetries of free MLPs: hidden-neuron permutations, positive rescalings, a canonical
form modulo both, and the alignment of two networks (docs/design.md section 4).

Weights are lists in flat order of float64 arrays ``(K, *shape)`` (:mod:`eqlandscape.symmetry.weight_space`).

* **Permutations.** :func:`permute_hidden` moves neuron ``i`` of hidden layer ``m`` to position
  ``perm[i]``: ``W_{m-1} -> P W_{m-1}``, ``b_{m-1} -> P b_{m-1}``, ``W_m -> W_m P^T`` with
  ``P = rho(perm)``. The function is unchanged for every activation.
* **Rescalings.** For a positively homogeneous activation (``relu``, ``identity``:
  ``act(c z) = c act(z)`` for ``c > 0``) :func:`rescale_hidden` multiplies neuron ``i``'s incoming
  weights and bias by ``c_i > 0`` and its outgoing weights by ``1 / c_i``; the function is unchanged.
  :func:`normalize_rescaling` fixes the gauge: every hidden neuron's incoming vector
  ``(W_{m-1}[i], b_{m-1}[i])`` gets norm 1 (zero neurons stay zero), layer by layer from the input.
* **Canonical form** (:func:`canonical_form`): the normalized weights with every hidden layer's
  neurons sorted lexicographically by their incoming vectors, layer by layer from the input: two
  networks related by hidden permutations and rescalings have the same canonical form (up to
  rounding; neurons with equal incoming vectors are then interchangeable, their outgoing weights
  may differ in order).
* **Alignment** (:func:`align`): the hidden permutations ``pi`` that bring ``b`` closest to ``a``,
  ``min ||a - pi . b||`` (Frobenius over all tensors), by weight matching as in Git Re-Basin
  (Ainsworth et al. 2023): each hidden layer in turn solves a linear assignment problem on the
  inner products of neuron signatures (incoming row, bias, outgoing column) with the other layers
  held fixed, until no layer changes; the first sweep, from the input, matches incoming vectors only
  (the outgoing ones refer to a layer not aligned yet), which recovers an exact permutation of the
  same network at any depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from eqlandscape.errors import ConfigError, NeuronIndexError, WeightShapeError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.symmetry.weight_space import as_tensors, check_hidden_layer, hidden_layers

HOMOGENEOUS = ("relu", "identity")
"""Activations with ``act(c z) = c act(z)`` for ``c > 0``: their neurons can be rescaled."""


def _slots(arch: MLPArchitecture, layer: int) -> tuple[int, int | None, int]:
    """Flat indices of ``W_{m-1}``, ``b_{m-1}`` (or ``None``) and ``W_m`` around hidden layer ``m``."""
    k = arch.per_layer
    return k * (layer - 1), (k * (layer - 1) + 1 if arch.bias else None), k * layer


def _batched_perms(perm: Any, K: int, n: int, layer: int) -> np.ndarray:
    p = np.asarray(perm)
    if p.ndim == 1:
        p = np.broadcast_to(p, (K, p.shape[0]))
    if p.shape != (K, n) or not np.issubdtype(p.dtype, np.integer):
        raise NeuronIndexError(f"permutations of layer {layer} must have shape ({n},) or ({K}, {n}), got {p.shape}")
    if not (np.sort(p, axis=1) == np.arange(n)).all():
        bad = int(np.flatnonzero(~(np.sort(p, axis=1) == np.arange(n)).all(axis=1))[0])
        raise NeuronIndexError(f"{p[bad].tolist()} is not a permutation of the {n} neurons of layer {layer}")
    return p


def permute_hidden(arch: MLPArchitecture, tensors: Sequence[Any], perms: Mapping[int, Any]) -> list[np.ndarray]:
    """Move neuron ``i`` of each hidden layer ``m`` in ``perms`` to ``perms[m][i]`` (one permutation
    ``(n,)`` for all models or one per model ``(K, n)``); returns new arrays ``(K, *shape)``."""
    out, _ = as_tensors(arch, tensors)
    out = list(out)
    K = out[0].shape[0]
    for layer, perm in perms.items():
        layer = check_hidden_layer(arch, layer)
        p = _batched_perms(perm, K, arch.widths[layer], layer)
        inv = np.argsort(p, axis=1)  # new position r holds old neuron inv[r]
        w_in, b_in, w_out = _slots(arch, layer)
        out[w_in] = np.take_along_axis(out[w_in], inv[:, :, None], axis=1)
        if b_in is not None:
            out[b_in] = np.take_along_axis(out[b_in], inv, axis=1)
        out[w_out] = np.take_along_axis(out[w_out], inv[:, None, :], axis=2)
    return out


def rescale_hidden(arch: MLPArchitecture, tensors: Sequence[Any], scales: Mapping[int, Any]) -> list[np.ndarray]:
    """Multiply neuron ``i`` of hidden layer ``m``'s incoming weights and bias by ``scales[m][..., i] > 0``
    and its outgoing weights by the inverse (``(n,)`` or ``(K, n)``). Raises :class:`ConfigError` for
    an activation that is not positively homogeneous or a non-positive scale."""
    if arch.activation not in HOMOGENEOUS:
        raise ConfigError(f"rescaling neurons changes the function of a {arch.activation!r} network")
    out, _ = as_tensors(arch, tensors)
    out = list(out)
    for layer, scale in scales.items():
        layer = check_hidden_layer(arch, layer)
        c = np.asarray(scale, dtype=np.float64)
        n = arch.widths[layer]
        if c.shape not in ((n,), (out[0].shape[0], n)):
            raise WeightShapeError(f"rescalings of layer {layer} must have shape ({n},) or (K, {n}), got {c.shape}")
        c = np.broadcast_to(c, (out[0].shape[0], n))
        if not (np.isfinite(c) & (c > 0)).all():
            raise ConfigError(
                f"rescalings of layer {layer} must be finite and positive, got {np.asarray(scale).tolist()}"
            )
        w_in, b_in, w_out = _slots(arch, layer)
        out[w_in] = out[w_in] * c[:, :, None]
        if b_in is not None:
            out[b_in] = out[b_in] * c
        out[w_out] = out[w_out] / c[:, None, :]
    return out


def incoming(arch: MLPArchitecture, tensors: Sequence[np.ndarray], layer: int) -> np.ndarray:
    """Incoming vectors ``(W_{m-1}[i], b_{m-1}[i])`` of hidden layer ``m``'s neurons, ``(K, n, n_{m-1} [+1])``."""
    w_in, b_in, _ = _slots(arch, layer)
    rows = tensors[w_in]
    return rows if b_in is None else np.concatenate([rows, tensors[b_in][:, :, None]], axis=2)


def outgoing(arch: MLPArchitecture, tensors: Sequence[np.ndarray], layer: int) -> np.ndarray:
    """Outgoing vectors ``W_m[:, i]`` of hidden layer ``m``'s neurons, ``(K, n, n_{m+1})``."""
    return np.swapaxes(tensors[_slots(arch, layer)[2]], 1, 2)


def normalize_rescaling(arch: MLPArchitecture, tensors: Sequence[Any]) -> list[np.ndarray]:
    """The same functions with every hidden neuron's incoming vector of norm 1 (zero neurons kept),
    layer by layer from the input; the weights unchanged for an activation without rescalings."""
    out, _ = as_tensors(arch, tensors)
    if arch.activation not in HOMOGENEOUS:
        return list(out)
    for layer in hidden_layers(arch):
        norm = np.linalg.norm(incoming(arch, out, layer), axis=2)
        out = rescale_hidden(arch, out, {layer: np.where(norm > 0, 1 / np.where(norm > 0, norm, 1), 1.0)})
    return out


def batched_lexsort(keys: np.ndarray) -> np.ndarray:
    """Per model, the order that sorts the rows of ``keys (K, n, d)`` lexicographically (column 0 first):
    stable argsorts from the last column to the first, all models at once."""
    K, n, d = keys.shape
    order = np.broadcast_to(np.arange(n), (K, n)).copy()
    for c in range(d - 1, -1, -1):
        col = np.take_along_axis(keys[:, :, c], order, axis=1)
        order = np.take_along_axis(order, np.argsort(col, axis=1, kind="stable"), axis=1)
    return order


def canonical_form(arch: MLPArchitecture, tensors: Sequence[Any]) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """The canonical form modulo hidden permutations and (for ``relu``/``identity``) rescalings, and
    the permutation of each hidden layer (``(K, n)``, neuron ``i`` moved to ``perm[i]``) applied after
    the normalization."""
    out = normalize_rescaling(arch, tensors)
    perms = {}
    for layer in hidden_layers(arch):
        order = batched_lexsort(incoming(arch, out, layer))
        perms[layer] = np.argsort(order, axis=1)
        out = permute_hidden(arch, out, {layer: perms[layer]})
    return out, perms


def assign(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignments of a batch of square cost matrices ``(K, n, n)``: ``col (K, n)`` with row
    ``i`` assigned to column ``col[i]``. Where the row-wise minima already form a permutation they are
    optimal (their sum bounds every assignment's cost from below) and are used as they are; the other
    models go through :func:`scipy.optimize.linear_sum_assignment`."""
    col = cost.argmin(axis=2)
    is_perm = (np.sort(col, axis=1) == np.arange(cost.shape[1])).all(axis=1)
    for k in np.flatnonzero(~is_perm):
        col[k] = linear_sum_assignment(cost[k])[1]
    return col


@dataclass(frozen=True, eq=False)
class Alignment:
    """Result of :func:`align`: ``perms[m]`` (``(K, n_m)``, ``b``'s neuron ``i`` moved to ``perms[m][i]``),
    the moved weights ``aligned`` (``pi . b``, normalized when ``rescale``) and ``distance`` ``(K,)``,
    the Frobenius distance ``||a - pi . b||`` over all tensors."""

    perms: dict[int, np.ndarray]
    aligned: list[np.ndarray]
    distance: np.ndarray


def align(
    arch: MLPArchitecture, a: Sequence[Any], b: Sequence[Any], *, rescale: bool = True, max_sweeps: int = 50
) -> Alignment:
    """Hidden permutations ``pi`` that bring ``b`` closest to ``a`` (see the module docstring); ``a`` and
    ``b`` are ``K`` models each, or one of them a single model (broadcast). With ``rescale`` (and a
    rescalable activation) both are first normalized (:func:`normalize_rescaling`), so the distance is
    modulo rescalings too."""
    A, _ = as_tensors(arch, a, "first weights")
    B, _ = as_tensors(arch, b, "second weights")
    K = max(A[0].shape[0], B[0].shape[0])
    if {A[0].shape[0], B[0].shape[0]} - {1, K}:
        raise ConfigError(f"cannot align {A[0].shape[0]} models with {B[0].shape[0]} models")
    A = [np.broadcast_to(t, (K, *t.shape[1:])) for t in A]
    B = [np.broadcast_to(t, (K, *t.shape[1:])) for t in B]
    if rescale:
        A, B = normalize_rescaling(arch, A), normalize_rescaling(arch, B)
    perms = {m: np.broadcast_to(np.arange(arch.widths[m]), (K, arch.widths[m])).copy() for m in hidden_layers(arch)}
    moved = list(B)
    for sweep in range(max_sweeps):
        changed = False
        for m in hidden_layers(arch):
            # the first sweep goes from the input with incoming vectors only (the outgoing ones refer to
            # the next layer, not aligned yet): exact for networks related by a permutation
            last = m == arch.n_layers - 1
            parts = (incoming, outgoing) if sweep or last else (incoming,)
            sig_a = np.concatenate([f(arch, A, m) for f in parts], axis=2)
            sig_b = np.concatenate([f(arch, moved, m) for f in parts], axis=2)
            col = assign(-np.einsum("kid,kjd->kij", sig_a, sig_b))  # a's neuron i takes b's neuron col[i]
            q = np.argsort(col, axis=1)  # b's neuron j moves to q[j]
            if (q != np.arange(q.shape[1])).any():
                changed = True
                moved = permute_hidden(arch, moved, {m: q})
                perms[m] = np.take_along_axis(q, perms[m], axis=1)
        if not changed:
            break
    distance = np.sqrt(sum(((x - y) ** 2).reshape(K, -1).sum(axis=1) for x, y in zip(A, moved, strict=True)))
    return Alignment(perms, moved, distance)


def cycle_type(perm: np.ndarray) -> list[int]:
    """Lengths of the non-trivial cycles of ``perm``, longest first: ``[3]`` for a 3-cycle, ``[2, 2]``
    for a double transposition, ``[]`` for the identity."""
    perm = np.asarray(perm)
    seen = np.zeros(perm.shape[0], dtype=bool)
    lengths = []
    for start in range(perm.shape[0]):
        length, i = 0, start
        while not seen[i]:
            seen[i] = True
            i = int(perm[i])
            length += 1
        if length > 1:
            lengths.append(length)
    return sorted(lengths, reverse=True)
