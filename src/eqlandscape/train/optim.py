"""Batched optimizers: one update for all ``K`` models, state per model, hyperparameters shared.

Parameters are a list of coordinate tensors ``(K, dim)``; the update is elementwise, so every
model is updated as a single-model ``torch.optim`` run would update it, by the formulas of
``torch.optim.SGD`` and ``torch.optim.Adam`` (no weight decay, no Nesterov, no AMSGrad):

* SGD: ``buf = g`` at the first step, then ``buf = momentum * buf + g``; ``p -= lr * buf``
  (``buf = g`` without momentum).
* Adam, step ``t`` from 1: ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
  ``p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.

SGD uses ``torch._foreach_*`` kernels (one dispatch for all tensors of the list); Adam uses
PyTorch's fused Adam kernel (``torch._fused_adam_``, the kernel of ``torch.optim.Adam(fused=True)``):
the same formula in one pass, equal to the single-tensor implementation up to rounding in the last
bit (about 1e-16 relative in float64).

Per-entry determinism: an entry's update must not depend on where it lies in its tensor (that is,
on the other models). The kernels loop over a tensor in vectors and finish with a scalar tail,
and a fused one may round differently in the two: ``_fused_adam_`` computes its tail with
double-precision coefficients (measured: other bits for the last entries of a ``(K, 3)`` tensor),
an ``add`` with ``alpha`` may use a fused multiply-add in one of them only. A tensor whose number
of entries is a multiple of :data:`ALIGN` has no tail on any CPU, so every entry takes the same
path: the trainer keeps the coordinates of a chunk in one ``(K, D)`` tensor with ``D`` a multiple
of :data:`ALIGN`, and runs the optimizer on one intra-op thread (threads split a tensor at
arbitrary positions).
"""

from __future__ import annotations

import torch

from eqlandscape.train.config import OptimizerConfig

Tensor = torch.Tensor


ALIGN = 64
"""A multiple of every vector width (in entries) of PyTorch's CPU kernels: a tensor of ``n * ALIGN``
entries has no scalar tail."""


class Optimizer:
    """SGD or Adam over a list of tensors ``(K, dim)`` (:class:`OptimizerConfig`)."""

    def __init__(self, config: OptimizerConfig, params: list[Tensor]) -> None:
        if not all(p.is_contiguous() for p in params):
            raise ValueError("the optimizer updates contiguous parameter tensors in place; got a non-contiguous one")
        self.config = config
        self.t = 0
        use_buffers = config.name == "adam" or config.momentum > 0
        self.m = [torch.zeros_like(p) for p in params] if use_buffers else []
        self.v = [torch.zeros_like(p) for p in params] if config.name == "adam" else []
        self.steps = [torch.zeros((), dtype=p.dtype, device=p.device) for p in params] if self.v else []

    def step(self, params: list[Tensor], grads: list[Tensor], lr: float) -> None:
        """Update ``params`` in place with learning rate ``lr``."""
        self.t += 1
        if self.config.name == "adam":
            self._adam(params, grads, lr)
        elif self.m:
            if self.t == 1:
                torch._foreach_copy_(self.m, grads)
            else:
                torch._foreach_mul_(self.m, self.config.momentum)
                torch._foreach_add_(self.m, grads)
            torch._foreach_add_(params, self.m, alpha=-lr)
        else:
            torch._foreach_add_(params, grads, alpha=-lr)

    def _adam(self, params: list[Tensor], grads: list[Tensor], lr: float) -> None:
        beta1, beta2 = self.config.betas
        for step in self.steps:
            step.fill_(self.t)
        torch._fused_adam_(  # the fused kernel reads its tensors as contiguous memory
            params,
            [g.contiguous() for g in grads],
            self.m,
            self.v,
            [],
            self.steps,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=self.config.eps,
            amsgrad=False,
            maximize=False,
        )
