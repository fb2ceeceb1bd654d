"""What the trainer records about an ensemble: distance to ``E`` and equivariance error.

* :func:`distance_to_equivariant`: ``||A - P_E A|| / ||A||`` with ``A`` all weights and biases of a
  model (Frobenius norms summed over layers), ``P_E`` the orbit averaging of each tensor. Exactly 0
  for a constrained model; 0 for the zero model.
* :class:`EquivarianceProbe`: the equivariance error of the function, on probe inputs ``X``: the largest over the
  generators ``g`` of ``||f(rho_in(g) X) - rho_out(g) f(X)|| / ||f(X)||`` (not divided when ``f(X) = 0``).
  Generators suffice: a function equivariant under the generators is equivariant under ``G``.
"""

from __future__ import annotations

import numpy as np
import torch

from eqlandscape.nn import MLPArchitecture
from eqlandscape.nn.functional import Workspace, forward_t

Tensor = torch.Tensor


def distance_to_equivariant(arch: MLPArchitecture, full: list[Tensor]) -> Tensor:
    """Relative distance ``(K,)`` of each model's tensors (flat order, each ``(K, *shape)``) to ``E``."""
    off = full[0].new_zeros(full[0].shape[0])
    total = full[0].new_zeros(full[0].shape[0])
    for basis, t in zip(arch.bases, full, strict=True):
        flat = t.reshape(t.shape[0], -1)
        gap = (t - basis.project(t)).reshape(t.shape[0], -1)
        off = off + torch.linalg.vecdot(gap, gap)
        total = total + torch.linalg.vecdot(flat, flat)
    return torch.where(total > 0, off.sqrt() / total.sqrt(), 0.0)


class EquivarianceProbe:
    """Fixed Gaussian probe inputs ``X`` (``count`` rows, seed 0) and their images under the
    generators, stacked once so that :meth:`error` is one forward pass."""

    def __init__(self, arch: MLPArchitecture, dtype: torch.dtype, device: torch.device, count: int = 64) -> None:
        self.arch = arch
        self.count = count
        X = np.random.default_rng(0).standard_normal((arch.rep_in.size, count))  # samples last
        # the generators' images (no element list: the group may be too large to enumerate, S_10 say)
        # (rho(g) x)[p[i]] = x[i]: row j of the image is row p^{-1}[j].
        images = [X] + [X[np.argsort(p)] for p in arch.rep_in.generator_images]
        self.inputs = torch.as_tensor(np.concatenate(images, axis=1), dtype=dtype, device=device)
        self.out_rows = [torch.as_tensor(np.argsort(p), device=device) for p in arch.rep_out.generator_images]

    def error(self, full: list[Tensor], workspace: Workspace | None = None) -> Tensor:
        """Relative equivariance error ``(K,)`` of each model (tensors in flat order)."""
        m = self.count
        weights, biases = self.arch.split(full)
        out = forward_t(weights, biases, self.inputs, self.arch.activation, workspace)[0][-1]  # (K, n_L, (1 + gens) m)
        base = out[:, :, :m]
        scale = base.reshape(base.shape[0], -1).norm(dim=1)
        worst = torch.zeros_like(scale)
        for j, rows in enumerate(self.out_rows, start=1):
            gap = out[:, :, j * m : (j + 1) * m] - base.index_select(1, rows)
            worst = torch.maximum(worst, gap.reshape(base.shape[0], -1).norm(dim=1))
        return torch.where(scale > 0, worst / scale, worst)
