"""Pure functions of an ensemble's full tensors: forward pass, MSE loss and its hand-written gradient.

Shapes. ``K`` models; layer ``l`` has ``W_l`` of shape ``(K, n_{l+1}, n_l)`` and ``b_l`` of shape
``(K, n_{l+1})``. The public functions take row batches as everywhere in the toolkit: a batch
shared by all models ``x`` of shape ``(B, n_0)``, or one batch per model ``(K, B, n_0)``; they
compute ``z_l = h_l @ W_l.T + b_l`` per model.

Internally (functions ending in ``_t``) batches are stored *samples last*: ``xt`` of shape
``(n_0, B)`` (shared) or ``(K, n_0, B)``, so that a layer is one matrix product
``z_l = W_l @ h_l + b_l`` with a long contiguous sample axis, which is what makes thousands of
small models fast on a CPU. A :class:`Workspace` keeps the large intermediate tensors from one
call to the next (a training loop calls with the same shapes every step), so that the loop
allocates no memory for them.

The loss of model ``k`` is the mean squared error over samples and outputs,
``L_k = (1/(B n_L)) sum_{b,i} (f_k(x_b)_i - y_{b,i})^2`` (as ``torch.nn.functional.mse_loss``).
Its gradient is computed by hand (backpropagation through the pointwise activation with the
same ATen backward kernels that autograd uses), with no autograd graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor
aten = torch.ops.aten


@dataclass(frozen=True)
class Activation:
    """A pointwise activation: ``forward(z, out) -> h`` (``out`` a buffer for ``h`` or ``None``) and
    ``backward_(g, z, h) -> g * act'(z)``, computed in place in ``g``."""

    name: str
    forward: Callable[[Tensor, Tensor | None], Tensor]
    backward_: Callable[[Tensor, Tensor, Tensor], Tensor]


ACTIVATION_FUNCTIONS: dict[str, Activation] = {
    "relu": Activation(
        "relu",
        lambda z, out: torch.clamp_min(z, 0, out=out),
        lambda g, z, h: aten.threshold_backward.grad_input(g, h, 0, grad_input=g),
    ),
    "tanh": Activation(
        "tanh",
        lambda z, out: torch.tanh(z, out=out),
        lambda g, z, h: aten.tanh_backward.grad_input(g, h, grad_input=g),
    ),
    "gelu": Activation(
        "gelu",
        lambda z, out: aten.gelu(z) if out is None else aten.gelu.out(z, out=out),
        lambda g, z, h: aten.gelu_backward.grad_input(g, z, grad_input=g),
    ),
    "identity": Activation("identity", lambda z, out: z, lambda g, z, h: g),
}


class Workspace:
    """Buffers for the large intermediate tensors, reused while their shapes stay the same."""

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        t = self._buffers.get(name)
        if t is None or t.shape != shape or t.dtype != like.dtype or t.device != like.device:
            t = torch.empty(shape, dtype=like.dtype, device=like.device)
            self._buffers[name] = t
        return t


def _buffer(ws: Workspace | None, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    return None if ws is None else ws.get(name, shape, like)


def _affine_t(W: Tensor, b: Tensor | None, h: Tensor, out: Tensor | None) -> Tensor:
    """``W @ h + b`` per model: ``W (K, o, i)``, ``b (K, o)``, ``h (i, B)`` or ``(K, i, B)`` -> ``(K, o, B)``."""
    K, o, i = W.shape
    B = h.shape[-1]
    if h.dim() == 2:
        flat_out = None if out is None else out.view(K * o, B)
        flat = W.reshape(K * o, i)
        z = torch.mm(flat, h, out=flat_out) if b is None else torch.addmm(b.reshape(K * o, 1), flat, h, out=flat_out)
        return z.view(K, o, B)
    return torch.bmm(W, h, out=out) if b is None else torch.baddbmm(b.unsqueeze(-1), W, h, out=out)


def _weight_grad_t(delta: Tensor, h: Tensor) -> Tensor:
    """``delta @ h^T`` per model: ``delta (K, o, B)``, ``h (i, B)`` or ``(K, i, B)`` -> ``(K, o, i)``."""
    K, o, B = delta.shape
    if h.dim() == 2:
        return (h @ delta.reshape(K * o, B).T).T.reshape(K, o, h.shape[0])
    return torch.bmm(delta, h.transpose(1, 2))


def _input_grad_t(W: Tensor, delta: Tensor, out: Tensor | None) -> Tensor:
    """``W^T @ delta`` per model: ``W (K, o, i)``, ``delta (K, o, B)`` -> ``(K, i, B)`` (for ``o = 1`` an
    outer product, faster as a broadcast product than as a batched matrix product)."""
    if W.shape[1] == 1:
        return torch.mul(W.transpose(1, 2), delta, out=out)
    return torch.bmm(W.transpose(1, 2), delta, out=out)


def forward_t(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    xt: Tensor,
    activation: str,
    workspace: Workspace | None = None,
) -> tuple[list[Tensor], list[Tensor]]:
    """Forward pass in the samples-last layout: returns the pre-activations ``z_0 .. z_{L-1}``
    (``z_{L-1}`` is the output, ``(K, n_L, B)``) and the hidden activations ``h_1 .. h_{L-1}``."""
    act = ACTIVATION_FUNCTIONS[activation]
    zs: list[Tensor] = []
    hs: list[Tensor] = []
    h = xt
    K, B = weights[0].shape[0], xt.shape[-1]
    for layer, W in enumerate(weights):
        shape = (K, W.shape[1], B)
        z = _affine_t(W, None if biases is None else biases[layer], h, _buffer(workspace, f"z{layer}", shape, W))
        zs.append(z)
        if layer < len(weights) - 1:
            h = act.forward(z, _buffer(workspace, f"h{layer}", shape, W))
            hs.append(h)
    return zs, hs


def _residual_and_loss_t(out: Tensor, yt: Tensor) -> tuple[Tensor, Tensor]:
    """The residual ``out - yt``, computed in place of ``out`` (a fresh tensor or a workspace buffer
    of :func:`forward_t`), and the per-model MSE ``(K,)``."""
    r = out.sub_(yt)
    flat = r.view(r.shape[0], -1)
    return r, torch.linalg.vecdot(flat, flat) / flat.shape[1]


def loss_t(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    xt: Tensor,
    yt: Tensor,
    activation: str,
    workspace: Workspace | None = None,
) -> Tensor:
    """Per-model MSE ``(K,)`` on ``xt`` (samples last) against targets ``(n_L, B)`` or ``(K, n_L, B)``."""
    return _residual_and_loss_t(forward_t(weights, biases, xt, activation, workspace)[0][-1], yt)[1]


def loss_and_grad_t(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    xt: Tensor,
    yt: Tensor,
    activation: str,
    workspace: Workspace | None = None,
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Per-model MSE loss ``(K,)`` and its gradients with respect to every ``W_l`` and ``b_l``
    (same shapes as the weights and biases), by backpropagation in the samples-last layout."""
    act = ACTIVATION_FUNCTIONS[activation]
    zs, hs = forward_t(weights, biases, xt, activation, workspace)
    delta, loss = _residual_and_loss_t(zs[-1], yt)
    delta.mul_(2.0 / (delta.shape[1] * delta.shape[2]))
    grad_w: list[Tensor] = []
    grad_b: list[Tensor] = []
    for layer in range(len(weights) - 1, -1, -1):
        grad_w.append(_weight_grad_t(delta, xt if layer == 0 else hs[layer - 1]))
        if biases is not None:
            grad_b.append(delta.sum(-1))
        if layer > 0:
            buffer = _buffer(workspace, f"d{layer}", tuple(zs[layer - 1].shape), delta)
            delta = act.backward_(_input_grad_t(weights[layer], delta, buffer), zs[layer - 1], hs[layer - 1])
    grad_w.reverse()
    grad_b.reverse()
    return loss, grad_w, (grad_b if biases is not None else None)


def as_samples_last(x: Tensor) -> Tensor:
    """A row batch ``(B, n)`` or ``(K, B, n)`` in the samples-last layout ``(n, B)`` / ``(K, n, B)``."""
    return x.transpose(-1, -2).contiguous()


def mlp_forward(weights: list[Tensor], biases: list[Tensor] | None, x: Tensor, activation: str) -> Tensor:
    """The outputs ``(K, B, n_L)`` of ``K`` models on a shared batch ``x (B, n_0)`` or per-model
    batches ``(K, B, n_0)``."""
    zs, _ = forward_t(weights, biases, as_samples_last(x), activation)
    return zs[-1].transpose(1, 2)


def mlp_loss_and_grad(
    weights: list[Tensor], biases: list[Tensor] | None, x: Tensor, y: Tensor, activation: str
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Row-batch front end of :func:`loss_and_grad_t`: ``x (B, n_0)`` or ``(K, B, n_0)``, targets
    ``y (B, n_L)`` or ``(K, B, n_L)``."""
    return loss_and_grad_t(weights, biases, as_samples_last(x), as_samples_last(y), activation)
