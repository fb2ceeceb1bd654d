"""The coordinates of a chunk's students in one training phase (docs/design.md sections 4 and 5).

:class:`Phase` holds what the optimizer updates, ``theta (K, D)``, and the full weight tensors
``W = A + phi(theta)`` of the ``K`` students computed from it, in persistent buffers: the trainer refreshes
the full tensors before each forward pass (:meth:`Phase.refresh`) and pulls the full-space gradient back
to the coordinates after it (:meth:`Phase.pull_back`); strategies read and write its views
(:class:`~eqlandscape.train.strategies.Strategy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from eqlandscape.nn import Parametrization
from eqlandscape.train.config import OptimizerConfig
from eqlandscape.train.optim import ALIGN, Optimizer

Tensor = torch.Tensor


class Phase:
    """The state of a chunk's students in one phase.

    The coordinates of all tensors are one tensor ``theta (K, D)`` (what the optimizer updates,
    ``D`` padded to a multiple of :data:`~eqlandscape.train.optim.ALIGN`), their gradient
    ``grad (K, D)``; per tensor (flat order) its parametrization, its full tensor and the loss's
    gradient in the full space, all persistent (views kept from step to step): views of ``theta``
    and ``grad`` for identity coordinates, else buffers that :meth:`refresh` and :meth:`pull_back`
    recompute, ``W = A + phi(theta)`` with the anchors ``A``. The tensors whose ``phi`` has one
    entry per column (``orbit``, ``orthonormal``, masked ``free``) are done together: their
    coordinates come first in ``theta``, their full tensors are views of one buffer, and a refresh
    or a pullback of all of them is a gather, a multiply and (pullback) a sum."""

    def __init__(
        self,
        params: tuple[Parametrization, ...],
        full: list[Tensor],
        optimizer: OptimizerConfig,
        extras: dict[str, tuple[int, ...]] | None = None,
        extra_init: dict[str, Tensor] | None = None,
    ) -> None:
        self.params = params
        K = full[0].shape[0]
        like = full[0]
        extras = extras or {}
        maps = [None if p.is_identity else p.gather_maps() for p in params]
        sparse = [t for t, m in enumerate(maps) if m is not None]
        order = sparse + [t for t, p in enumerate(params) if t not in sparse]  # coordinates in theta
        offsets = dict(zip(order, np.cumsum([0] + [params[t].dim for t in order]).tolist(), strict=False))
        base = sum(p.dim for p in params)
        sizes = [math.prod(shape) for shape in extras.values()]
        width = -(-(base + sum(sizes)) // ALIGN) * ALIGN  # padded: no scalar tail in the optimizer's kernels
        self.theta = like.new_zeros((K, width))
        self.grad = like.new_zeros((K, width))
        self.offsets = [offsets[t] for t in range(len(params))]
        self.coords = [self.theta[:, offsets[t] : offsets[t] + p.dim] for t, p in enumerate(params)]
        self.grads = [self.grad[:, offsets[t] : offsets[t] + p.dim] for t, p in enumerate(params)]
        # the strategy's own coordinates, after the base ones: views (K, *shape) of theta and grad
        self.extra: dict[str, Tensor] = {}
        self.extra_grads: dict[str, Tensor] = {}
        self.extra_flat_grads: list[Tensor] = []
        at = base
        for (name, shape), size in zip(extras.items(), sizes, strict=True):
            self.extra[name] = self.theta[:, at : at + size].view(K, *shape)
            self.extra_flat_grads.append(self.grad[:, at : at + size])
            self.extra_grads[name] = self.extra_flat_grads[-1].view(K, *shape)
            self.extra[name].copy_((extra_init or {})[name])
            at += size
        # the gathered tensors: full tensors and their gradients as views of (K, n_sparse) buffers
        n_sparse = self.n_sparse = sum(params[t].numel for t in sparse)
        self.sparse_full = like.new_empty((K, n_sparse))
        self.sparse_grads = like.new_empty((K, n_sparse))
        self.sparse_anchor = like.new_empty((K, n_sparse))
        self.sparse_gathered = like.new_empty((K, n_sparse))
        self.sparse_dim = sum(params[t].dim for t in sparse)
        row = np.zeros(n_sparse, dtype=np.int64)
        value = np.zeros(n_sparse)
        member_lists: list[np.ndarray] = []  # per gathered tensor: (d_t, width_t) entries, their phi
        phi_lists: list[np.ndarray] = []
        self.anchors: list[Tensor | None] = [None] * len(params)  # the dense ones
        self.full: list[Tensor] = [like] * len(params)
        self.full_grads: list[Tensor] = [like] * len(params)
        # when every tensor is dense (``projected``), their full tensors and gradients are views
        # of one buffer each in flat order, like the gathered ones
        all_dense = all(not p.is_identity and m is None for p, m in zip(params, maps, strict=True))
        numel = sum(p.numel for p in params)
        dense_full = like.new_empty((K, numel)) if all_dense else None
        dense_grads = like.new_empty((K, numel)) if all_dense else None
        dense_at = 0
        at = 0
        for t, (p, m, f, c, g) in enumerate(zip(params, maps, full, self.coords, self.grads, strict=True)):
            if p.is_identity:
                c.copy_(p.from_full(f))
                self.full[t], self.full_grads[t] = c.view(K, *p.shape), g.view(K, *p.shape)
                continue
            # ``+ 0`` turns -0 into +0, so that ``A + phi(0)`` is ``A`` bit for bit
            anchor = p.onto(f).add_(0.0)
            if m is None:
                self.anchors[t] = anchor
                if dense_full is not None and dense_grads is not None:
                    span = slice(dense_at, dense_at + p.numel)
                    self.full[t] = dense_full[:, span].view(K, *p.shape)
                    self.full_grads[t] = dense_grads[:, span].view(K, *p.shape)
                    dense_at += p.numel
                else:
                    self.full[t] = torch.empty_like(anchor)
                    self.full_grads[t] = torch.empty_like(anchor)
                continue
            n, d = p.numel, p.dim
            self.sparse_anchor[:, at : at + n] = anchor.reshape(K, n)
            self.full[t] = self.sparse_full[:, at : at + n].view(K, *p.shape)
            self.full_grads[t] = self.sparse_grads[:, at : at + n].view(K, *p.shape)
            row[at : at + n] = offsets[t] + m["row"] if d else 0  # no coordinates: value 0
            value[at : at + n] = m["value"]
            member_lists.append(at + m["members"])
            phi_lists.append(m["member_phi"])
            at += n
        self.sparse_row = torch.as_tensor(row, device=like.device)
        self.sparse_value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
        self.sparse_coordinate_grads = self.grad[:, : self.sparse_dim]
        self.buckets = _member_buckets(member_lists, phi_lists, K, like)
        # all full tensors (and their gradients) as one (K, N) tensor in flat order, where the
        # layout has it: every tensor gathered, every one dense, or every one identity coordinates
        self.full_flat: Tensor | None = None
        self.full_grads_flat: Tensor | None = None
        if len(sparse) == len(params):
            self.full_flat, self.full_grads_flat = self.sparse_full, self.sparse_grads
        elif dense_full is not None:
            self.full_flat, self.full_grads_flat = dense_full, dense_grads
        elif all(p.is_identity for p in params):
            self.full_flat, self.full_grads_flat = self.theta[:, :numel], self.grad[:, :numel]
        # the model tensors the loss is evaluated at: the base tensors, or the strategy's
        # composition W + D(extras) (Strategy.compose) in a (K, N) buffer of its own; the base
        # tensors' gradient is the model's (dW/dW_base = I), the same buffers
        starts = np.cumsum([0] + [p.numel for p in params]).tolist()

        def flat_views(flat: Tensor) -> list[Tensor]:
            return [flat[:, a : a + p.numel].view(K, *p.shape) for a, p in zip(starts, params, strict=False)]

        # a mixed layout keeps flat copies: refresh fills full_flat, pull_back reads full_grads_flat
        self.flat_copies = bool(extras) and self.full_flat is None
        if self.flat_copies:
            self.full_flat, self.full_grads_flat = like.new_empty((K, numel)), like.new_empty((K, numel))
        self.model, self.model_grads = self.full, self.full_grads
        self.model_flat, self.model_grads_flat = self.full_flat, self.full_grads_flat
        if extras:
            self.model_flat = like.new_empty((K, numel))
            self.model = flat_views(self.model_flat)
            if self.flat_copies:
                self.model_grads = flat_views(self.full_grads_flat)
        self.optimizer = Optimizer(optimizer, [self.theta])
        self.previous = self.theta.clone()
        self.refresh()

    def views(self, t: Tensor) -> list[Tensor]:
        """Per tensor (flat order), the view of its coordinates in ``t``, a tensor laid out like ``theta``."""
        return [t[:, at : at + p.dim] for at, p in zip(self.offsets, self.params, strict=True)]

    def all_grads(self) -> list[Tensor]:
        """The coordinate gradients ``(K, dim)`` of the base tensors and of the strategy's extras."""
        return self.grads + self.extra_flat_grads

    def refresh(self) -> None:
        """Recompute the full tensors of anchored coordinates: ``W = A + phi(theta)``."""
        if self.n_sparse:
            torch.index_select(self.theta, 1, self.sparse_row, out=self.sparse_gathered)
            torch.addcmul(self.sparse_anchor, self.sparse_gathered, self.sparse_value, out=self.sparse_full)
        for p, c, a, f in zip(self.params, self.coords, self.anchors, self.full, strict=True):
            if a is not None:
                p.to_full(c, a, out=f)
        if self.flat_copies:
            torch.cat([f.reshape(f.shape[0], -1) for f in self.full], 1, out=self.full_flat)

    def pull_back(self) -> None:
        """The coordinate gradient of anchored coordinates from their full-space gradient."""
        if self.flat_copies:
            for g, flat in zip(self.full_grads, self.model_grads, strict=True):
                g.copy_(flat)
        for b in self.buckets:
            torch.index_select(self.sparse_grads, 1, b.members, out=b.products_flat)
            b.products.mul_(b.phi)
            if b.coordinates is None:  # every coordinate, in order
                torch.sum(b.products, -1, out=self.sparse_coordinate_grads)
            else:
                self.sparse_coordinate_grads.index_copy_(1, b.coordinates, torch.sum(b.products, -1, out=b.sums))
        for p, a, fg, g in zip(self.params, self.anchors, self.full_grads, self.grads, strict=True):
            if a is not None:
                p.pullback(fg, out=g)


@dataclass
class _Bucket:
    """The gathered coordinates whose members (the entries ``phi`` maps them to) number at most
    ``width`` (a power of two) and more than half of it: their positions among the gathered
    coordinates (``None``: all of them, in order), their members padded to ``width`` with entry 0 at
    weight 0 (``members`` flat, ``phi`` ``(d_b, width)``), and buffers for the products ``(K, d_b, width)``
    and their sums ``(K, d_b)``."""

    coordinates: Tensor | None
    members: Tensor
    phi: Tensor
    products: Tensor
    products_flat: Tensor
    sums: Tensor


def _member_buckets(member_lists: list[np.ndarray], phi_lists: list[np.ndarray], K: int, like: Tensor) -> list[_Bucket]:
    """The pullback's gathers grouped by member count (:class:`_Bucket`), so that no coordinate is
    padded to more than twice its count: a layer of ``S_10`` whose orbits have 10 to 5,040 entries
    would otherwise pad every coordinate of the network to 5,040. The buckets depend on the
    architecture alone, so a model's sums (each over a row of ``width`` products, in a fixed order)
    do not depend on ``K``."""
    counts = [np.count_nonzero(f, axis=1) for f in phi_lists]  # members per coordinate
    widths = [1 << np.ceil(np.log2(np.maximum(c, 1))).astype(np.int64) for c in counts]
    total = sum(c.size for c in counts)
    buckets = []
    for width in np.unique(np.concatenate(widths)) if total else []:
        w = int(width)
        positions, members, phi = [], [], []
        at = 0
        for m, f, ws in zip(member_lists, phi_lists, widths, strict=True):
            rows = np.flatnonzero(ws == width)
            positions.append(at + rows)
            kept = min(w, m.shape[1])  # a tensor's rows are padded to its widest; ours to ``w``
            padded_m = np.zeros((rows.size, w), dtype=np.int64)
            padded_f = np.zeros((rows.size, w))
            padded_m[:, :kept], padded_f[:, :kept] = m[rows, :kept], f[rows, :kept]
            members.append(padded_m)
            phi.append(padded_f)
            at += m.shape[0]
        rows = np.concatenate(positions)
        products = like.new_empty((K, rows.size, w))
        buckets.append(
            _Bucket(
                coordinates=None if rows.size == total else torch.as_tensor(rows, device=like.device),
                members=torch.as_tensor(np.concatenate(members).reshape(-1), device=like.device),
                phi=torch.as_tensor(np.concatenate(phi), dtype=like.dtype, device=like.device),
                products=products,
                products_flat=products.view(K, -1),
                sums=like.new_empty((K, rows.size)),
            )
        )
    return buckets
