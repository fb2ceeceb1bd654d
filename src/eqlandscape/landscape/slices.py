"""Loss slices and paths: the loss over a grid of points ``origin + a d_1 (+ b d_2)``, every grid point a
model of one batched evaluation (the trainer's kernel for the mean squared error, ``torch.func.vmap`` of
:func:`~eqlandscape.landscape.functional.loss` otherwise).

Weights are full tensors in flat order (``W0, b0, W1, ...``, :mod:`eqlandscape.symmetry.weight_space`);
a direction is a flat vector over all of them (row-major, in that order). Slices of interest:

* :func:`coefficient_slice`: two named orbit coefficients of ``E`` (``W0[0,0]``, ``W0[0,1]``: the
  diagonal ``a`` and off-diagonal ``b`` of ``natural -> natural``) with every other weight held at the
  origin, the axes being the coefficients' values (Xie & Smidt's Fig. 5);
* :func:`filter_normalized_directions`: random directions with every neuron's incoming weights
  rescaled to the norm of the origin's (Li et al. 2018), optionally projected onto ``E`` or ``E``-perp;
* :func:`line`: the straight path between two networks, optionally after aligning the second's hidden
  neurons with the first's (:func:`~eqlandscape.symmetry.align`).

The mean squared error along directions that move only the first layer of a one-hidden-layer ReLU network
(the coefficient slices among them) is computed exactly from its piecewise-quadratic structure
(:mod:`~eqlandscape.landscape.piecewise`); every other slice evaluates each grid point as a model.

A barrier ``c_a - c_b = 0`` of :mod:`eqlandscape.symmetry.barriers` is linear in the weights, so it
crosses a 2D slice along a line (:meth:`LossSlice.barrier_lines`); trajectories project onto the slice's
plane by least squares (:meth:`LossSlice.project`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor

from eqlandscape.errors import ConfigError
from eqlandscape.landscape.critical import _data
from eqlandscape.landscape.functional import Objective, check_data, loss
from eqlandscape.landscape.piecewise import slice_losses
from eqlandscape.nn import MLPArchitecture
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS, Workspace, as_samples_last, loss_t
from eqlandscape.symmetry import BarrierAnalysis, align, coefficient_names
from eqlandscape.symmetry.weight_space import as_tensors

CACHE_FLOATS = 2**18
"""Floats of one layer's activations per chunk of grid points (2 MiB in float64): the default chunk."""


def _flat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Flat order tensors ``(K, *shape)`` -> vectors ``(K, P)``."""
    return np.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=1)


def _unflat(arch: MLPArchitecture, vectors: Any) -> list[Any]:
    """Vectors ``(K, P)`` -> flat order tensors ``(K, *shape)`` (NumPy arrays or torch tensors)."""
    sizes = [math.prod(s) for s in arch.shapes]
    if isinstance(vectors, torch.Tensor):
        parts = vectors.split(sizes, dim=1)
    else:
        parts = np.split(vectors, np.cumsum(sizes)[:-1], axis=1)
    return [p.reshape(vectors.shape[0], *s) for p, s in zip(parts, arch.shapes, strict=True)]


@dataclass(frozen=True, eq=False)
class LossSlice:
    """The loss on a 1D or 2D grid.

    Attributes
    ----------
    arch : the architecture; ``origin`` the flat weight vector ``(P,)`` at grid coordinates 0.
    directions : ``(k, P)``, ``k`` = 1 or 2.
    axes : the grid values along each direction (each ``(n_i,)``).
    loss : ``(n_1,)`` or ``(n_1, n_2)``, ``loss[i, j]`` at ``origin + axes[0][i] d_1 + axes[1][j] d_2``.
    labels : axis labels.
    """

    arch: MLPArchitecture
    origin: np.ndarray
    directions: np.ndarray
    axes: tuple[np.ndarray, ...]
    loss: np.ndarray
    labels: tuple[str, ...]

    def barrier_lines(self, analysis: BarrierAnalysis) -> list[tuple[str, np.ndarray]]:
        """For each barrier, its equation and ``(c_0, c_1, c_2)`` with the barrier at
        ``c_0 + c_1 a + c_2 b = 0`` in slice coordinates (those that do not cross the plane, ``c_1 = c_2
        = 0``, are left out)."""
        points = np.concatenate([self.origin[None], self.origin[None] + self.directions])
        values = analysis.values(_unflat(self.arch, points))  # (1 + k, n_barriers)
        out = []
        for b, pair in enumerate(analysis.barriers):
            c = np.concatenate([[values[0, b]], values[1:, b] - values[0, b]])
            if np.abs(c[1:]).max() > 1e-12 * max(1.0, np.abs(c).max()):
                out.append((pair.equations[0].text, c))
        return out

    def project(self, tensors: Sequence[Any]) -> np.ndarray:
        """Slice coordinates ``(..., k)`` of weights (flat order tensors ``(K, *shape)``, or trajectories
        ``(K, R, *shape)``): the least-squares solution of ``w - origin = sum_i a_i d_i``."""
        arrays = [np.asarray(t, dtype=np.float64) for t in tensors]
        lead = arrays[0].shape[: arrays[0].ndim - len(self.arch.shapes[0])]
        flat = np.concatenate([a.reshape(*lead, -1) for a in arrays], axis=-1) - self.origin
        coef, *_ = np.linalg.lstsq(self.directions.T, flat.reshape(-1, flat.shape[-1]).T, rcond=None)
        return coef.T.reshape(*lead, len(self.directions))

    def as_dict(self) -> dict[str, Any]:
        """The grid data, JSON-serializable."""
        return {"labels": list(self.labels), "axes": [a.tolist() for a in self.axes], "loss": self.loss.tolist()}


def _piecewise(
    arch: MLPArchitecture,
    o: np.ndarray,
    d: np.ndarray,
    x: Tensor,
    y: Tensor,
    axes: tuple[np.ndarray, ...],
) -> np.ndarray | None:
    """The mean squared error on the grid by :func:`~eqlandscape.landscape.piecewise.slice_losses`, when it
    applies and is the cheaper: one hidden layer of ``H`` units, a piecewise-linear
    activation, directions that move the first layer only, finite numbers, and ``10 H`` below the grid's
    columns times ``n_0 + n_2`` (its cost per row grows as ``H^2``, a direct evaluation's per grid point as
    ``H (n_0 + n_2)``; measured once on 101 x 101 grids with ``n_0 = 3``, ``n_2 = 1``: 2x faster at
    ``H = 12``, 3.7x at 16, 1.3x at 32, 4x slower at 64); ``None`` otherwise."""
    slopes = ACTIVATION_FUNCTIONS[arch.activation].slopes
    first = sum(int(np.prod(s)) for s in arch.shapes[: arch.per_layer])
    n_in, H, n_out = arch.widths if arch.n_layers == 2 else (0, 0, 0)
    if (
        arch.n_layers != 2
        or slopes is None
        or 10 * H >= axes[-1].size * (n_in + n_out)
        or np.any(d[:, first:])
        or not (
            np.isfinite(o).all() and np.isfinite(d).all() and bool(torch.isfinite(x).all() & torch.isfinite(y).all())
        )
    ):
        return None
    tensors = [torch.as_tensor(t) for t in _unflat(arch, np.concatenate([o[None], d]))]  # (1 + k, *shape)
    (W, V), biases = arch.split(tensors)
    b, c = biases if biases is not None else (W.new_zeros(W.shape[:2]), V.new_zeros(V.shape[:2]))
    if len(axes) == 1:  # one row, a = 0
        rows, row_direction, columns = np.zeros(1), (torch.zeros_like(W[0]), torch.zeros_like(b[0])), axes[0]
    else:
        rows, row_direction, columns = axes[0], (W[1], b[1]), axes[1]
    values = slice_losses(
        (W[0], b[0]), (V[0], c[0]), row_direction, (W[-1], b[-1]), x, y, rows, columns, arch.activation
    )
    return values[0] if len(axes) == 1 else values


def _check_axes(axes: Sequence[Any]) -> tuple[np.ndarray, ...]:
    out = []
    for k, a in enumerate(axes):
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 1 or a.size < 2 or not np.isfinite(a).all():
            raise ConfigError(f"axis {k} of a slice needs at least 2 finite grid values, got {a.tolist()}")
        out.append(a)
    return tuple(out)


def loss_slice(
    arch: MLPArchitecture,
    origin: Sequence[Any],
    directions: np.ndarray,
    x: torch.Tensor,
    y: torch.Tensor,
    axes: Sequence[Any],
    *,
    criterion: str = "mse",
    labels: Sequence[str] | None = None,
    chunk: int | None = None,
    objective: Objective | None = None,
) -> LossSlice:
    """The loss on the grid ``origin + a d_1 (+ b d_2)`` for ``a`` in ``axes[0]`` (and ``b`` in ``axes[1]``):
    ``origin`` is one model (flat order tensors), ``directions`` ``(k, P)`` flat vectors (``k`` = 1 or 2),
    ``(x, y)`` a row batch, or ``objective`` a closed-form loss (e.g. the population loss,
    :data:`~eqlandscape.landscape.functional.Objective`; then ``x`` and ``y`` are ignored). The grid
    points are evaluated ``chunk`` at a time as one batch of models (default: as many as keep one
    layer's activations within :data:`CACHE_FLOATS`, so that the elementwise passes stay in cache). The mean
    squared error on a train set, along directions that move only the first layer of a network with one
    hidden layer and a piecewise-linear activation, is computed row by row from its piecewise-quadratic
    structure instead (:mod:`~eqlandscape.landscape.piecewise`; docs/design.md section 4), the same values
    to a relative ``1e-9``."""
    arrays, _ = as_tensors(arch, origin, "origin")
    if arrays[0].shape[0] != 1:
        raise ConfigError(f"a slice has one origin, got {arrays[0].shape[0]} models")
    o = _flat(arrays)[0]
    d = np.asarray(directions, dtype=np.float64)
    axes = _check_axes(axes)
    if d.ndim != 2 or d.shape != (len(axes), o.size) or len(axes) not in (1, 2):
        raise ConfigError(f"directions of shape {d.shape} for {len(axes)} axes: expected ({len(axes)}, {o.size})")
    labels = tuple(labels) if labels is not None else tuple(f"direction {k + 1}" for k in range(len(axes)))
    if objective is None:
        x, y = _data(x, y, None)  # float64; integer class labels stay labels
        check_data(x, y, arch.widths, criterion)
        if criterion == "mse":
            values = _piecewise(arch, o, d, x, y, axes)
            if values is not None:
                return LossSlice(arch, o, d, axes, values, labels)
        xt, yt = as_samples_last(x), as_samples_last(y)
    values = np.empty(tuple(a.size for a in axes))
    # the grid coordinates (points, k)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    if chunk is None:
        samples = 1 if objective is not None else x.shape[0]
        chunk = min(4096, max(16, CACHE_FLOATS // (samples * max(arch.widths))))
    elif isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"chunk must be a positive integer, got chunk={chunk!r}")
    flat = values.reshape(-1)
    origin_t, d_t, grid_t = torch.as_tensor(o), torch.as_tensor(d), torch.as_tensor(grid)
    batched = torch.func.vmap(partial(loss, activation=arch.activation, criterion=criterion), in_dims=(0, None, None))
    workspace = Workspace()  # the kernel's buffers, reused from chunk to chunk
    for start in range(0, grid.shape[0], chunk):
        # origin + coordinates @ directions by torch: a NumPy product here would wake OpenBLAS's threads,
        # which then spin against torch's for the cores (5x slower on two cores).
        tensors = _unflat(arch, torch.addmm(origin_t, grid_t[start : start + chunk], d_t))
        with torch.no_grad():
            if objective is not None:
                batch = objective(tensors)
            elif criterion == "mse":  # the trainer's batched kernel: each point's loss, in one pass
                weights, biases = arch.split(tensors)
                batch = loss_t(weights, biases, xt, yt, arch.activation, workspace)
            else:
                batch = batched(dict(zip(arch.names, tensors, strict=True)), x, y)
        flat[start : start + chunk] = batch.numpy()
    return LossSlice(arch, o, d, axes, values, labels)


def coefficient_directions(arch: MLPArchitecture, names: Sequence[str]) -> np.ndarray:
    """The orbit indicators of the named orbit coefficients of ``E`` (:func:`~eqlandscape.symmetry.coefficient_names`)
    as flat vectors ``(len(names), P)``: moving by ``a`` along one raises that coefficient by ``a``."""
    table = {n: (t, o) for t, per in enumerate(coefficient_names(arch)) for o, n in enumerate(per)}
    sizes = [math.prod(s) for s in arch.shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros((len(names), sum(sizes)))
    for k, name in enumerate(names):
        if name not in table:
            raise ConfigError(f"unknown coefficient {name!r}; the coefficients of E are {', '.join(table)}")
        t, o = table[name]
        out[k, offsets[t] : offsets[t] + sizes[t]] = arch.bases[t].orbit_index.reshape(-1) == o
    return out


def coefficient_slice(
    arch: MLPArchitecture,
    origin: Sequence[Any],
    names: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    axes: Sequence[Any],
    *,
    criterion: str = "mse",
    objective: Objective | None = None,
) -> LossSlice:
    """The loss (on ``(x, y)``, or the closed-form ``objective``) over the values of the named orbit
    coefficients (Xie & Smidt's Fig. 5: ``W0[0,0]`` and ``W0[0,1]``, the diagonal and off-diagonal of
    ``natural -> natural``), every other weight at ``origin`` (which should lie in ``E`` for the picture
    to be the one of the paper). The axes are the coefficients' values: the origin's own values of them
    are replaced."""
    d = coefficient_directions(arch, names)
    arrays, _ = as_tensors(arch, origin, "origin")
    o = _flat(arrays)[0]
    current = (d @ o) / (d**2).sum(axis=1)  # orbit means: the coefficients at the origin
    base = _unflat(arch, (o - current @ d)[None])
    return loss_slice(arch, base, d, x, y, axes, criterion=criterion, labels=tuple(names), objective=objective)


def filter_normalized_directions(
    arch: MLPArchitecture, origin: Sequence[Any], count: int = 2, *, seed: int = 0, space: str = "all"
) -> np.ndarray:
    """``count`` random directions ``(count, P)`` (Gaussian, seeded), each weight matrix's rows (a neuron's
    incoming weights) rescaled to the norms of the origin's rows and the biases set to 0 (Li et al. 2018,
    filter normalization); ``space`` ``"E"`` or ``"E-perp"`` projects each tensor first."""
    if space not in ("all", "E", "E-perp"):
        raise ConfigError(f"unknown space {space!r}; expected all, E or E-perp")
    arrays, _ = as_tensors(arch, origin, "origin")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        parts = []
        for basis, o in zip(arch.bases, arrays, strict=True):
            r = rng.standard_normal(o.shape[1:])
            if space != "all":
                p = basis.project(r)
                r = p if space == "E" else r - p
            if o.ndim == 3:  # a weight matrix: row norms as the origin's
                norms = np.linalg.norm(r, axis=1, keepdims=True)
                r = r / np.where(norms > 0, norms, 1) * np.linalg.norm(o[0], axis=1, keepdims=True)
            else:
                r = np.zeros_like(r)
            parts.append(r.reshape(-1))
        out.append(np.concatenate(parts))
    return np.stack(out)


def line(
    arch: MLPArchitecture,
    a: Sequence[Any],
    b: Sequence[Any],
    x: torch.Tensor,
    y: torch.Tensor,
    points: int = 51,
    *,
    aligned: bool = False,
    criterion: str = "mse",
    objective: Objective | None = None,
) -> LossSlice:
    """The loss along ``(1 - t) a + t b``, ``t`` in ``[0, 1]`` (``points`` values); with ``aligned``, ``b``'s
    hidden neurons are first permuted to match ``a``'s (:func:`~eqlandscape.symmetry.align`, without
    rescaling, so ``b`` keeps its weights and its function)."""
    A, _ = as_tensors(arch, a, "a")
    B, _ = as_tensors(arch, b, "b")
    if aligned:
        B = align(arch, A, B, rescale=False).aligned
    o, e = _flat(A)[0], _flat(B)[0]
    t = np.linspace(0.0, 1.0, int(points))
    return loss_slice(arch, A, (e - o)[None], x, y, [t], criterion=criterion, labels=("t",), objective=objective)
