"""Large layers multiply by per-model BLAS calls (eqlandscape.nn.functional, BLAS_ENTRIES): the loss and
gradient agree with autograd of a plain batched network, and a model's bits depend on its own tensors
alone, whatever the batch, its order and where the gradient tensors lie in memory."""

from __future__ import annotations

import pytest
import torch

from eqlandscape.nn import functional as F

# 300 * 256 = 76,800 entries: the first layer goes to BLAS, the second (256 -> C) stays elementwise
WIDTHS = (300, 256, 3)
assert WIDTHS[0] * WIDTHS[1] >= F.BLAS_ENTRIES > WIDTHS[1] * WIDTHS[2]


def _problem(K: int, dtype: torch.dtype, loss: str, per_model: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n0, n1, n2 = WIDTHS
    out = 1 if loss == "bce" else n2
    weights = [
        torch.randn(K, n1, n0, generator=g, dtype=dtype) / n0**0.5,
        torch.randn(K, out, n1, generator=g, dtype=dtype) / n1**0.5,
    ]
    biases = [0.1 * torch.randn(K, n1, generator=g, dtype=dtype), 0.1 * torch.randn(K, out, generator=g, dtype=dtype)]
    B = 100  # not a multiple of 64: the non-exact activations' rows are padded (strided operands)
    x = torch.randn(*((K,) if per_model else ()), B, n0, generator=g, dtype=dtype)
    if loss == "mse":
        y = torch.randn(*x.shape[:-1], out, generator=g, dtype=dtype)
    elif loss == "bce":
        y = (torch.rand(*x.shape[:-1], 1, generator=g, dtype=dtype) > 0.5).to(dtype)
    else:
        y = torch.nn.functional.one_hot(torch.randint(out, x.shape[:-1], generator=g), out).to(dtype)
    return weights, biases, x, y


def _reference(weights, biases, x, y, activation: str, loss: str):
    """Autograd of the same network written with batched matrix products."""
    ws = [w.clone().requires_grad_() for w in weights]
    bs = [b.clone().requires_grad_() for b in biases]
    h = x if x.dim() == 3 else x.expand(ws[0].shape[0], *x.shape)
    act = {"relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu}[activation]
    for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
        h = h @ w.transpose(1, 2) + b[:, None]
        if layer == 0:
            h = act(h)
    y = y if y.dim() == 3 else y.expand_as(h)
    if loss == "mse":
        value = ((h - y) ** 2).mean((1, 2))
    elif loss == "bce":
        value = torch.nn.functional.binary_cross_entropy_with_logits(h, y, reduction="none").mean((1, 2))
    else:
        value = -(y * torch.log_softmax(h, -1)).sum(-1).mean(-1)
    value.sum().backward()
    return value.detach(), [w.grad for w in ws], [b.grad for b in bs]


@pytest.mark.parametrize("loss", F.LOSSES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("per_model", [False, True])
def test_large_layers_agree_with_autograd(loss: str, activation: str, per_model: bool) -> None:
    weights, biases, x, y = _problem(3, torch.float64, loss, per_model)
    value, grad_w, grad_b = F.mlp_loss_and_grad(weights, biases, x, y, activation, loss)
    ref_value, ref_w, ref_b = _reference(weights, biases, x, y, activation, loss)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=1e-13)
    for mine, theirs in zip(grad_w + grad_b, ref_w + ref_b, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)
    out = F.mlp_forward(weights, biases, x, activation)
    assert out.shape == (3, 100, weights[1].shape[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_models_bits_depend_on_its_own_tensors_alone(dtype: torch.dtype, activation: str) -> None:
    K = 5
    weights, biases, x, y = _problem(K, dtype, "mse", per_model=False, seed=1)
    value, grad_w, grad_b = F.mlp_loss_and_grad(weights, biases, x, y, activation)
    # model 2 alone, and the models in reversed order
    for picked in ([2], list(range(K))[::-1]):
        sub_w = [w[picked].clone() for w in weights]
        sub_b = [b[picked].clone() for b in biases]
        v, gw, gb = F.mlp_loss_and_grad(sub_w, sub_b, x, y, activation)
        assert torch.equal(v, value[picked])
        for mine, whole in zip(gw + gb, grad_w + grad_b, strict=True):
            assert torch.equal(mine, whole[picked])
    # weights and gradients as views at an odd offset of larger tensors (off the 64-byte boundary),
    # as the trainer binds them: the same bits
    shifted_w = [torch.empty(w.numel() + 1, dtype=dtype)[1:].view(w.shape).copy_(w) for w in weights]
    grads = [torch.empty(w.numel() + 3, dtype=dtype)[3:].view(w.shape) for w in weights]
    grads_b = [torch.empty_like(b) for b in biases]
    plan = F.Backprop(shifted_w, biases, grads, grads_b, activation, x.shape[0])
    v = plan(F.as_samples_last(x), F.as_samples_last(y))
    assert torch.equal(v, value)
    for mine, whole in zip(grads, grad_w, strict=True):
        assert torch.equal(mine, whole)


def test_the_path_is_a_function_of_the_layer_shape() -> None:
    big = torch.zeros(1, 256, 256)
    assert F.by_blas(big) and F.by_blas(torch.zeros(7, 256, 256))
    assert not F.by_blas(torch.zeros(1, 255, 256))
