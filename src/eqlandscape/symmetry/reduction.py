"""Coinciding neurons, the smaller MLP they reduce to, and the reduction of a hidden rep.

Two hidden neurons *coincide* when their incoming vectors ``(W_{m-1}[i], b_{m-1}[i])`` are equal (for
``relu``/``identity`` networks: equal after :func:`~eqlandscape.symmetry.neurons.normalize_rescaling`,
i.e. positive multiples of each other). Such neurons compute the same activation, so only the sum
of their (rescaled) outgoing weights matters: the layer merges into one neuron per cluster and the
network into a smaller MLP computing the same function (:func:`merge_neurons`; the zero neurons,
which output ``act(0) = 0`` for every activation here, merge into one).

For weights in ``E`` the clusters are permuted by ``G`` (if ``i ~ j`` then ``g i ~ g j``), so they
form a block system of the hidden rep and ``G`` acts on the clusters: the *quotient rep*
(:func:`quotient_rep`). A transitive block ``G/H`` whose neurons coincide in such a pattern is really
``G/K'`` with ``H < K'`` the stabilizer of a cluster (Xie & Smidt, Fig. 4); blocks that share
clusters merge into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import NeuronIndexError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.nn.functional import mlp_forward
from eqlandscape.reps import PermRep
from eqlandscape.symmetry.neurons import _slots, incoming, normalize_rescaling
from eqlandscape.symmetry.weight_space import as_tensors, check_hidden_layer, check_tol, hidden_layers


def components(adjacent: np.ndarray) -> np.ndarray:
    """Connected components of a batch of symmetric boolean adjacency matrices ``(K, n, n)``: labels
    ``(K, n)`` numbered by first occurrence. Min-label propagation, all models at once: every node
    ends labelled by the smallest node of its component, and those roots in increasing order are the
    components in order of first occurrence."""
    K, n, _ = adjacent.shape
    label = np.broadcast_to(np.arange(n), (K, n)).copy()
    while True:
        new = np.minimum(np.where(adjacent, label[:, None, :], n).min(axis=2), label)
        if np.array_equal(new, label):
            break
        label = new
    rank = np.cumsum(label == np.arange(n), axis=1) - 1
    return np.take_along_axis(rank, label, axis=1)


def neuron_clusters(arch: MLPArchitecture, tensors: Sequence[Any], layer: int, tol: float = 1e-6) -> np.ndarray:
    """Clusters of coinciding neurons of hidden layer ``layer``: labels ``(K, n)`` numbered by first
    occurrence. Neurons ``i`` and ``j`` are joined when their (normalized) incoming vectors differ by at
    most ``tol`` times the largest incoming norm of the layer (in max norm), and clusters are the
    connected components of that relation."""
    tol = check_tol(tol)
    layer = check_hidden_layer(arch, layer)
    norm = normalize_rescaling(arch, tensors)
    v = incoming(arch, norm, layer)
    scale = np.abs(v).max(axis=(1, 2), keepdims=True)
    gap = np.zeros((v.shape[0], v.shape[1], v.shape[1]))
    for c in range(v.shape[2]):  # max norm, one coordinate at a time (memory K n^2)
        np.maximum(gap, np.abs(v[:, :, None, c] - v[:, None, :, c]), out=gap)
    return components(gap <= tol * np.where(scale > 0, scale, 1.0))


def quotient_rep(rep: PermRep, labels: np.ndarray) -> PermRep | None:
    """``G`` acting on the clusters ``labels`` (``(n,)``, numbered ``0..c-1``) of ``rep``'s points, or
    ``None`` when the clusters are not permuted by ``G`` (not a block system)."""
    labels = np.asarray(labels)
    if labels.shape != (rep.size,):
        raise NeuronIndexError(f"cluster labels of shape {labels.shape} for a rep on {rep.size} points")
    first = np.unique(labels, return_index=True)[1]
    G = rep.group
    images = []
    for g in rep.generator_images:
        image = labels[g[first]]  # cluster of the image of each cluster's first point
        if not np.array_equal(labels[g], image[labels]):
            return None
        images.append(image)
    quotient = PermRep.from_generator_images(G, np.array(images))
    return PermRep(G, quotient.perms, name=quotient.canonical().name)


@dataclass(frozen=True, eq=False)
class ReducedMLP:
    """A free MLP with merged neurons (one model): its ``widths``, tensors in flat order (no model
    dimension), ``activation`` and ``bias``; ``clusters[m]`` the cluster of each original neuron of
    hidden layer ``m``; ``hidden_reps[m]`` the quotient rep of ``G`` on the clusters (``None`` when
    the clusters are not a block system of the original hidden rep)."""

    widths: tuple[int, ...]
    tensors: list[np.ndarray]
    activation: str
    bias: bool
    clusters: dict[int, np.ndarray]
    hidden_reps: dict[int, PermRep | None]

    def __call__(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Outputs ``(B, n_L)`` on row batches ``x (B, n_0)``."""
        k = 2 if self.bias else 1
        ts = [torch.as_tensor(t)[None] for t in self.tensors]
        weights, biases = ts[::k], (ts[1::k] if self.bias else None)
        return mlp_forward(weights, biases, torch.as_tensor(np.asarray(x, dtype=np.float64)), self.activation)[
            0
        ].numpy()

    def reductions(self, arch: MLPArchitecture) -> dict[int, list[tuple[str, str]]]:
        """Per hidden layer, ``(H, K')`` class labels for each transitive block ``G/H`` of ``arch``'s rep
        and the block ``G/K'`` of the quotient it maps onto (``H == K'`` when nothing merged)."""
        out = {}
        for m, rep in self.hidden_reps.items():
            if rep is None:
                continue
            pieces = {int(p): piece.label for piece in rep.decompose() for p in piece.points}
            out[m] = [
                (piece.label, pieces[int(self.clusters[m][piece.points[0]])]) for piece in arch.reps[m].decompose()
            ]
        return out


def merge_neurons(arch: MLPArchitecture, tensors: Sequence[Any], tol: float = 1e-6) -> list[ReducedMLP]:
    """For each model, the smaller MLP with the coinciding neurons of every hidden layer merged
    (:func:`neuron_clusters`): one neuron per cluster with the (normalized) incoming vector of its
    first member and the sum of the members' outgoing weights. It computes the same function up to
    the differences within clusters (exactly, for exact coincidences)."""
    norm = normalize_rescaling(arch, tensors)
    K = norm[0].shape[0]
    clusters = {m: neuron_clusters(arch, norm, m, tol) for m in hidden_layers(arch)}
    out = []
    for k in range(K):
        ts = [t[k] for t in norm]
        labels, reps = {}, {}
        for m in hidden_layers(arch):
            lab = clusters[m][k]
            first = np.unique(lab, return_index=True)[1]
            w_in, b_in, w_out = _slots(arch, m)
            ts[w_in] = ts[w_in][first]
            if b_in is not None:
                ts[b_in] = ts[b_in][first]
            merged = np.zeros((ts[w_out].shape[0], first.size))
            np.add.at(merged.T, lab, ts[w_out].T)
            ts[w_out] = merged
            labels[m], reps[m] = lab, quotient_rep(arch.reps[m], lab)
        widths = (*tuple(ts[arch.per_layer * layer].shape[1] for layer in range(arch.n_layers)), arch.widths[-1])
        out.append(ReducedMLP(widths, ts, arch.activation, arch.bias, labels, reps))
    return out


def dead_models(arch: MLPArchitecture, tensors: Sequence[Any], atol: float = 1e-8, samples: int = 256) -> np.ndarray:
    """``(K,)``: the models whose output is identically near 0, i.e. whose RMS output on ``samples``
    standard Gaussian probe inputs (seed 0) is at most ``atol``."""
    atol = check_tol(atol, "atol")
    arrays, _ = as_tensors(arch, tensors)
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((samples, arch.widths[0])))
    weights, biases = arch.split([torch.as_tensor(t) for t in arrays])
    out = mlp_forward(weights, biases, x, arch.activation).numpy()
    return np.sqrt((out**2).reshape(out.shape[0], -1).mean(axis=1)) <= atol
