"""The weight space of an MLP and the permutations of its coordinates (docs/design.md section 4).

An MLP with layer reps ``rho_0 .. rho_L`` (:class:`~eqlandscape.nn.MLPArchitecture`) has tensors in
*flat order* ``W_0, b_0, W_1, b_1, ...`` with ``W_l`` of shape ``(n_{l+1}, n_l)`` and ``b_l`` of shape
``(n_{l+1},)``. In this subpackage the weights of ``K`` models are a list of float64 arrays in flat
order, each ``(K, *shape)`` (:func:`as_tensors` also takes one model without the leading ``K``, and
torch tensors).

**Layer permutations.** A tuple ``(pi_0, ..., pi_L)``, one permutation of each layer's neurons, acts
on the weights by ``W_l -> P_{l+1} W_l P_l^T`` and ``b_l -> P_{l+1} b_l`` with ``P = rho(pi)``
(``rho(pi)[pi[i], i] = 1``): entry ``(i, j)`` of ``W_l`` moves to ``(pi_{l+1}[i], pi_l[j])`` and entry
``i`` of ``b_l`` to ``pi_{l+1}[i]``. Two kinds matter:

* the group ``G`` acts by ``(rho_0(g), ..., rho_L(g))``; its fixed space is the constrained space
  ``E`` (the equivariant weights, :attr:`MLPArchitecture.bases`);
* a *hidden-neuron permutation* is the identity on the input and output layers; it leaves the
  network's function unchanged for every weight (a parameter symmetry of the free MLP).

Both act by permuting coordinates, so the fixed space of any set of them is the set of weights
constant on the orbits of the group they generate, computed per tensor from the generators alone
(:func:`joint_orbits`): an exact integer basis, like :func:`~eqlandscape.equivariant.equivariant_basis`.
Hidden layers are numbered as the reps: layer ``m`` (``1 <= m <= L-1``) has rep ``rho_m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eqlandscape.equivariant import OrbitBasis
from eqlandscape.errors import ConfigError, NeuronIndexError, WeightShapeError
from eqlandscape.groups import as_permutation, orbit_labels
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps.constructors import tensor_perms

LayerPerms = tuple[np.ndarray, ...]
"""One permutation per layer ``0..L`` (int arrays of the layers' widths)."""


def as_tensors(arch: MLPArchitecture, tensors: Sequence[Any], what: str = "weights") -> tuple[list[np.ndarray], bool]:
    """Weights in flat order as float64 arrays ``(K, *shape)``, and whether they came batched.

    Accepts NumPy arrays or torch tensors, all with a leading model dimension ``K`` or all without.
    Raises :class:`WeightShapeError` naming the tensor and its shape when they do not fit ``arch``.
    """
    shapes = arch.shapes
    if len(tensors) != len(shapes):
        names = ", ".join(arch.names)
        raise WeightShapeError(f"{what}: got {len(tensors)} tensors for the {len(shapes)} tensors ({names}) of {arch}")
    arrays = [np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, dtype=np.float64) for t in tensors]
    batched = arrays[0].ndim == len(shapes[0]) + 1
    names = arch.names
    for name, a, shape in zip(names, arrays, shapes, strict=True):
        want = (a.shape[0], *shape) if batched and a.ndim else shape
        if a.shape != want:
            expected = f"(K, {', '.join(map(str, shape))})" if batched else str(shape)
            raise WeightShapeError(f"{what}: {name} has shape {a.shape}, expected {expected} for {arch}")
    out = arrays if batched else [a[None] for a in arrays]
    if len({a.shape[0] for a in out}) != 1:
        raise WeightShapeError(f"{what}: tensors with different model counts {[a.shape[0] for a in out]}")
    return out, batched


def check_tol(tol: float, what: str = "tol") -> float:
    """``tol`` as a float, or :class:`ConfigError` unless it is a finite positive number."""
    if isinstance(tol, bool) or not isinstance(tol, int | float | np.floating) or not np.isfinite(tol) or tol <= 0:
        raise ConfigError(f"{what} must be a positive number, got {what}={tol!r}")
    return float(tol)


def coefficient_names(arch: MLPArchitecture, bases: Sequence[OrbitBasis] | None = None) -> list[list[str]]:
    """Names of the orbit coefficients of ``E`` (or of other per-tensor ``bases``), per tensor in flat
    order: an orbit is named by its first entry in row-major order, e.g. ``W0[0,0]`` (for
    ``natural -> natural`` of ``S_n`` the diagonal) and ``W0[0,1]`` (the off-diagonal), ``b0[0]``."""
    out = []
    for name, basis in zip(arch.names, arch.bases if bases is None else bases, strict=True):
        first = np.unique(basis.orbit_index.reshape(-1), return_index=True)[1]
        entries = np.stack(np.unravel_index(first, basis.shape), axis=1)
        out.append([f"{name}[{','.join(str(int(i)) for i in e)}]" for e in entries])
    return out


def hidden_layers(arch: MLPArchitecture) -> range:
    """Indices ``1 .. L-1`` of the hidden layers."""
    return range(1, arch.n_layers)


def check_hidden_layer(arch: MLPArchitecture, layer: int) -> int:
    """``layer`` as an int, or :class:`NeuronIndexError` if it is not a hidden layer of ``arch``."""
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not 1 <= layer < arch.n_layers:
        raise NeuronIndexError(
            f"layer {layer!r} is not a hidden layer of {arch}; hidden layers are 1..{arch.n_layers - 1}"
        )
    return int(layer)


def group_perms(arch: MLPArchitecture) -> list[LayerPerms]:
    """The generators of ``G`` as layer permutations ``(rho_0(g), ..., rho_L(g))``."""
    n_gens = arch.rep_in.generator_images.shape[0]
    return [tuple(r.generator_images[k] for r in arch.reps) for k in range(n_gens)]


def hidden_perm(arch: MLPArchitecture, layer: int, perm: Sequence[int] | np.ndarray) -> LayerPerms:
    """The layer permutation that permutes hidden layer ``layer`` by ``perm`` and fixes the others.
    Raises :class:`NeuronIndexError` for a bad layer or a ``perm`` that is not a permutation of its
    neurons."""
    layer = check_hidden_layer(arch, layer)
    n = arch.widths[layer]
    try:
        p = as_permutation(perm, what=f"permutation of hidden layer {layer}")
    except ValueError as e:
        raise NeuronIndexError(str(e)) from None
    if p.shape != (n,):
        raise NeuronIndexError(f"{np.asarray(perm).tolist()} is not a permutation of the {n} neurons of layer {layer}")
    return tuple(p if m == layer else np.arange(w) for m, w in enumerate(arch.widths))


def swap(arch: MLPArchitecture, layer: int, i: int, j: int) -> LayerPerms:
    """The transposition of neurons ``i`` and ``j`` of hidden layer ``layer``."""
    n = arch.widths[check_hidden_layer(arch, layer)]
    for v in (i, j):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 0 <= v < n:
            raise NeuronIndexError(f"neuron {v!r} out of range: layer {layer} has neurons 0..{n - 1}")
    p = np.arange(n)
    p[[i, j]] = p[[j, i]]
    return hidden_perm(arch, layer, p)


def tensor_images(arch: MLPArchitecture, perms: LayerPerms) -> list[np.ndarray]:
    """Where a layer permutation sends the flat (row-major) entries of each tensor, in flat order."""
    out = []
    for layer in range(arch.n_layers):
        rows, cols = perms[layer + 1], perms[layer]
        out.append(tensor_perms(rows[None], cols[None])[0])
        if arch.bias:
            out.append(rows)
    return out


def joint_orbits(
    arch: MLPArchitecture, generators: Sequence[LayerPerms], tensors: Sequence[int] | None = None
) -> list[OrbitBasis]:
    """Orbit bases of the group generated by ``generators`` on the entries of each tensor (flat order;
    only the tensors with the given flat indices when ``tensors`` is set). The fixed space of the
    generators is spanned by these orbit indicators; orbits are numbered by first occurrence, so with
    the generators of ``G`` alone they are exactly :attr:`MLPArchitecture.bases`."""
    images = [tensor_images(arch, g) for g in generators]
    wanted = range(len(arch.shapes)) if tensors is None else tensors
    out = []
    for t in wanted:
        shape = arch.shapes[t]
        n = int(np.prod(shape))
        maps = np.stack([im[t] for im in images]) if images else np.arange(n)[None]
        _, labels = orbit_labels(maps, n)
        out.append(OrbitBasis(labels.reshape(shape), np.bincount(labels), label=f"{arch.names[t]} of {arch}"))
    return out
