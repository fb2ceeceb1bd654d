"""Pure functions of an ensemble's full tensors: forward pass, loss (MSE, binary cross-entropy with
logits, cross-entropy) and its hand-written gradient.

Shapes. ``K`` models; layer ``l`` has ``W_l`` of shape ``(K, n_{l+1}, n_l)`` and ``b_l`` of shape
``(K, n_{l+1})``. The public functions take row batches as everywhere in the toolkit: a batch
shared by all models ``x`` of shape ``(B, n_0)``, or one batch per model ``(K, B, n_0)``; they
compute ``z_l = h_l @ W_l.T + b_l`` per model.

Internally (functions ending in ``_t``) batches are stored *samples last*: ``xt`` of shape
``(n_0, B)`` (shared) or ``(K, n_0, B)``, so that every operation runs along a long contiguous
sample axis, which is what makes thousands of small models fast on a CPU. A :class:`Workspace`
keeps the large intermediate tensors from one call to the next, so that a loop allocates no memory
for them; :class:`Backprop` is the training loop's form of :func:`loss_and_grad_t`, with all
buffers and views made once.

**Per-model determinism.** The numbers of model ``k`` depend on its own tensors and batch only,
bit for bit, whatever the number ``K`` of models, their order, and the model's place in the batch.
Matrix products are therefore not left to BLAS (``mm``, ``bmm``, ``einsum``): their kernels, and
with them the order of the sums, change with the shapes (``K`` included; measured: ``mm`` of
``(K o, 3) @ (3, 512)`` gives other bits for ``K o < 4`` in float32 and for ``K o`` not a multiple of
4 in float64). Every contraction is a sequence of elementwise operations in a fixed order:
``z = W @ h`` is ``sum_j W[:, :, j] * h[j]`` (a multiply, then ``addcmul`` for ``j = 1, 2, ...``); a
weight gradient is the products ``delta * h[j]`` summed over the sample axis. The elementwise
operations broadcast a per-model or a per-sample operand, so PyTorch runs them row by row (one
row: one model, one unit, all samples), every row alike; a sum over the last axis takes an order
that depends on the row's length alone.

A layer with at least :data:`BLAS_ENTRIES` weight entries (``o * i``: a hidden layer of
``32*natural^2`` of ``S_10``, say) is too large for elementwise products (each model's products
would pass ``o * i * B`` entries through memory): its products go to BLAS, **one model at a time**,
``torch.mm`` of that model's matrices, whose shapes and strides are the same for every model, at
an address on a 64-byte boundary (an operand elsewhere is first copied to a buffer with the same
strides that is: measured, ``mm`` in float64 gives other bits for operands off a 16-byte
boundary). Which path a layer takes depends on its shape alone, never on ``K``. Two things are left
to the caller:

* tensors laid out with the model axis first (contiguous): the path of a reduction depends on the
  strides (a sum over rows whose stride is not 1 groups the rows by four, and a model's result
  then depends on its position);
* one intra-op thread: PyTorch splits a tensor between threads at positions that depend on its
  size, which moves the vectorized body and scalar tail within the row that is cut, and the two
  round differently for ``tanh`` and ``gelu`` (measured: ``gelu`` in float32, ``K = 201``,
  ``B = 100``: the model whose row straddles the split gets other bits with 2 threads). The
  trainer runs these functions on one intra-op thread (:mod:`eqlandscape.train.trainer`).

The loss of model ``k`` is by default the mean squared error over samples and outputs,
``L_k = (1/(B n_L)) sum_{b,i} (f_k(x_b)_i - y_{b,i})^2`` (as ``torch.nn.functional.mse_loss``);
``bce`` and ``cross_entropy`` are the other choices (:func:`output_loss_`: their non-exact kernels,
``exp``, ``log1p``, ``log``, write into row-laid-out buffers, and sums over classes are sequences of
elementwise operations). Its gradient is computed by hand (backpropagation through the pointwise activation with the
same ATen backward kernels that autograd uses), with no autograd graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor
aten = torch.ops.aten


@dataclass(frozen=True)
class Activation:
    """A pointwise activation: ``forward(z, out) -> h`` (``out`` a buffer for ``h`` or ``None``) and
    ``backward_(g, z, h) -> g * act'(z)``, computed in place in ``g``, or ``None``: then the trainer
    differentiates the model by autograd through the functional core
    (:mod:`eqlandscape.landscape.functional`; :func:`register_activation`). ``exact``: both are exact
    (a selection of their inputs), so their vectorized and scalar kernels agree bit for bit; the
    others (``tanh``, ``gelu``) differ between the two in the last bit, and :func:`forward_t` lays
    their inputs out so that every row of samples takes the same path (:func:`_rows`).
    ``in_place``: the backward reads ``h`` only, so ``h`` may overwrite ``z`` (``out`` is ``z``).
    ``slopes``: ``(s_-, s_+)`` when the activation is ``s_- z`` for ``z < 0`` and ``s_+ z`` for ``z > 0``
    (continuous, piecewise linear, its one kink at 0), which loss slices exploit
    (:mod:`eqlandscape.landscape.piecewise`); ``None`` otherwise.
    The ATen backward kernels are called through ``OpOverload._op`` (the C++ function: the Python
    wrapper costs a microsecond per call in the training loop)."""

    name: str
    forward: Callable[[Tensor, Tensor | None], Tensor]
    backward_: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None
    exact: bool = False
    in_place: bool = False
    slopes: tuple[float, float] | None = None


ACTIVATION_FUNCTIONS: dict[str, Activation] = {
    "relu": Activation(
        "relu",
        lambda z, out: torch.clamp_min(z, 0, out=out),
        lambda g, z, h: aten.threshold_backward.grad_input._op(g, h, 0, grad_input=g),
        exact=True,
        in_place=True,
        slopes=(0.0, 1.0),
    ),
    "tanh": Activation(
        "tanh",
        lambda z, out: torch.tanh(z, out=out),
        lambda g, z, h: aten.tanh_backward.grad_input._op(g, h, grad_input=g),
        in_place=True,
    ),
    "gelu": Activation(
        "gelu",
        lambda z, out: aten.gelu(z) if out is None else aten.gelu.out(z, out=out),
        lambda g, z, h: aten.gelu_backward.grad_input._op(g, z, grad_input=g),
    ),
    "identity": Activation(
        "identity",
        lambda z, out: z if out is None or out is z else out.copy_(z),
        lambda g, z, h: g,
        exact=True,
        in_place=True,
        slopes=(1.0, 1.0),
    ),
}


def register_activation(
    name: str, forward: Callable[[Tensor], Tensor], *, slopes: tuple[float, float] | None = None
) -> None:
    """Make the pointwise activation ``forward`` (a differentiable function of a tensor) known as
    ``name`` to every model, the trainer and the landscape functions. It has no hand-written
    backward: the trainer computes its gradients by autograd through the functional core, one model
    at a time (slower than the fast kernel, the same per-seed determinism). ``slopes``: declare it
    piecewise linear, ``s_- z`` below 0 and ``s_+ z`` above (:attr:`Activation.slopes`), for the exact
    loss slices. :class:`ValueError` for a name already taken."""
    if name in ACTIVATION_FUNCTIONS:
        raise ValueError(f"an activation named {name!r} exists already")
    ACTIVATION_FUNCTIONS[name] = Activation(
        name, lambda z, out: forward(z) if out is None else out.copy_(forward(z)), slopes=slopes
    )


class Workspace:
    """Buffers for the large intermediate tensors, reused from call to call.

    :meth:`get` gives a contiguous tensor of any shape as a view of the start of one flat buffer per name
    (on a 64-byte boundary, where the allocator puts every fresh tensor), grown when asked for more; the
    views of a buffer it replaces are dropped, so that one buffer a name is kept."""

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}
        self._flat: dict[str, Tensor] = {}
        self._views: dict[str, dict[tuple[int, ...], Tensor]] = {}

    def get(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        views = self._views.setdefault(name, {})
        t = views.get(shape)
        if t is None or t.dtype != like.dtype or t.device != like.device:
            size = math.prod(shape)
            flat = self._flat.get(name)
            if flat is None or flat.numel() < size or flat.dtype != like.dtype or flat.device != like.device:
                flat = self._flat[name] = torch.empty(size, dtype=like.dtype, device=like.device)
                views.clear()
            t = views[shape] = flat[:size].view(shape)
        return t

    def get_strided(self, name: str, like: Tensor) -> Tensor:
        """A buffer with ``like``'s shape, strides, dtype and device, starting on a 64-byte boundary
        (where the allocator puts every fresh tensor)."""
        t = self._buffers.get(name)
        if t is None or t.shape != like.shape or t.stride() != like.stride() or t.dtype != like.dtype:
            t = torch.empty_strided(like.shape, like.stride(), dtype=like.dtype, device=like.device)
            self._buffers[name] = t
        return t


def _buffer(ws: Workspace | None, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    return None if ws is None else ws.get(name, shape, like)


def _contiguous(ws: Workspace | None, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """A contiguous ``shape`` tensor: the workspace's buffer ``name``, or a new one without a workspace."""
    t = _buffer(ws, name, shape, like)
    return like.new_empty(shape) if t is None else t


_ALIGN = 64  # a multiple of twice the widest vector of any dtype: the vectorized loops' step


def _rows(ws: Workspace | None, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """A ``(..., B)`` tensor for the input of a non-exact activation, laid out so that PyTorch's
    elementwise kernels run over it row by row, each row alike. Over a contiguous tensor they run
    one flat loop whose scalar tail holds the last ``numel % step`` entries: those of the last
    models, whichever they are. With ``B`` a multiple of :data:`_ALIGN` there is no tail; otherwise
    the rows are spaced wider than ``B`` (a strided view), so that the kernels loop over each row
    separately, with the tail at the same sample positions in every row."""
    B = shape[-1]
    if B % _ALIGN == 0:
        return _contiguous(ws, name, shape, like)
    return _contiguous(ws, name, (*shape[:-1], (B // 16 + 1) * 16), like)[..., :B]


def _columns(W: Tensor) -> tuple[Tensor, ...]:
    """The columns ``W[:, :, j:j+1]`` of ``W (K, o, i)``: ``i`` views ``(K, o, 1)``."""
    return W.unsqueeze(-1).unbind(2)


def _input_rows(h: Tensor) -> tuple[Tensor, ...]:
    """The rows of a layer's input, broadcastable against ``(K, o, B)``: ``h (i, B)`` -> ``i`` views
    ``(B,)``; ``h (K, i, B)`` -> ``i`` views ``(K, 1, B)``."""
    return h.unbind(0) if h.dim() == 2 else h.unsqueeze(1).unbind(2)


def _affine(columns: tuple[Tensor, ...], b: Tensor | None, rows: tuple[Tensor, ...], out: Tensor) -> Tensor:
    """``out = W @ h + b`` per model, as ``sum_j W[:, :, j] * h[j]`` in the order ``j = 0, 1, ...``
    (a multiply, then ``addcmul``), then ``+ b`` (``b`` as ``(K, o, 1)``)."""
    torch.mul(columns[0], rows[0], out=out)
    for column, row in zip(columns[1:], rows[1:], strict=True):
        out.addcmul_(column, row)
    if b is not None:
        out.add_(b)
    return out


BLAS_ENTRIES = 1 << 16
"""A layer with at least this many weight entries (``o * i``) multiplies by BLAS, one model at a
time (the module docstring); below, by elementwise operations. The per-model Python loop costs a
few microseconds a model, negligible beside such a layer's products."""
_BOUNDARY = 64  # bytes: where every fresh tensor starts


def by_blas(W: Tensor) -> bool:
    """Whether the layer with weights ``W (K, o, i)`` multiplies by per-model BLAS calls."""
    return W.shape[1] * W.shape[2] >= BLAS_ENTRIES


def _on_boundary(t: Tensor, ws: Workspace, name: str) -> Tensor:
    """``t`` itself if its data start on a 64-byte boundary, else a copy with the same strides that does."""
    if t.data_ptr() % _BOUNDARY == 0:
        return t
    return ws.get_strided(name, t).copy_(t)


def _model_mm(a: Tensor, b: Tensor, out: Tensor, ws: Workspace) -> None:
    """``out = a @ b`` for one model's matrices by ``torch.mm``, every operand on a 64-byte boundary."""
    a, b = _on_boundary(a, ws, "mm_a"), _on_boundary(b, ws, "mm_b")
    if out.data_ptr() % _BOUNDARY == 0 and out.is_contiguous():
        torch.mm(a, b, out=out)
    else:
        out.copy_(torch.mm(a, b, out=ws.get("mm_out", tuple(out.shape), out)))


def _affine_blas(W: Tensor, b: Tensor | None, h: Tensor, out: Tensor, ws: Workspace) -> Tensor:
    """``out = W @ h + b`` per model by :func:`_model_mm` (``h``: ``(i, B)`` shared or ``(K, i, B)``)."""
    for k in range(W.shape[0]):
        _model_mm(W[k], h if h.dim() == 2 else h[k], out[k], ws)
    if b is not None:
        out.add_(b)
    return out


_PRODUCT_WIDTH = 8
"""A weight gradient forms the products of all inputs at once (one multiply, one sum) up to this
many inputs, and one input at a time (two operations per input, a smaller buffer) above."""


def _hidden_buffer(ws: Workspace | None, name: str, shape: tuple[int, ...], like: Tensor, exact: bool) -> Tensor:
    """The buffer of a hidden pre-activation: laid out by :func:`_rows` for a non-exact activation."""
    return _contiguous(ws, name, shape, like) if exact else _rows(ws, name, shape, like)


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
    last = len(weights) - 1
    for layer, W in enumerate(weights):
        shape = (K, W.shape[1], B)
        if layer < last:
            out = _hidden_buffer(workspace, f"z{layer}", shape, W, act.exact)
        else:
            out = _contiguous(workspace, f"z{layer}", shape, W)
        b = None if biases is None else biases[layer].unsqueeze(-1)
        if by_blas(W):
            z = _affine_blas(W, b, h, out, Workspace() if workspace is None else workspace)
        else:
            z = _affine(_columns(W), b, _input_rows(h), out)
        zs.append(z)
        if layer < last:
            h = act.forward(z, _buffer(workspace, f"h{layer}", shape, W))
            hs.append(h)
    return zs, hs


def _residual_and_loss_t(out: Tensor, yt: Tensor, squares: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The residual ``out - yt``, computed in place of ``out`` (a fresh tensor or a workspace buffer
    of :func:`forward_t`), and the per-model MSE ``(K,)``: the squares (in ``squares``, a buffer of
    ``out``'s shape, if given) summed over outputs and samples, divided by their number."""
    r = out.sub_(yt)
    flat = r.view(r.shape[0], -1)
    sq = torch.mul(flat, flat, out=None if squares is None else squares.view(flat.shape))
    return r, sq.sum(-1).div_(flat.shape[1])


LOSSES = ("mse", "bce", "cross_entropy")
"""The losses of the kernels (:func:`output_loss_`): mean squared error; binary cross-entropy with logits
(``n_out = 1``, labels 0/1); cross-entropy over ``C`` classes (output ``C*trivial``, one-hot label rows)."""


def _check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    return loss


def _bce_(out: Tensor, yt: Tensor, ws: Workspace | None) -> Tensor:
    """Binary cross-entropy with logits ``f``: ``softplus(f) - y f = max(f, 0) - y f + log1p(e^{-|f|})``
    per entry, its mean over outputs and samples per model; the gradient ``(sigmoid(f) - y) / (n B)``
    (with ``sigmoid(f) = r`` for ``f >= 0`` and ``e r`` else, ``e = e^{-|f|}``, ``r = 1 / (1 + e)``) in place
    of ``out``. The two non-exact kernels (``exp``, ``log1p``) write into :func:`_rows` buffers."""
    K, n, B = out.shape
    shape = (K, n, B)
    e = _rows(ws, "loss_e", shape, out)
    g = _rows(ws, "loss_g", shape, out)
    terms = _contiguous(ws, "loss_terms", shape, out)
    mask = ws.get("loss_mask", shape, out.new_empty(0, dtype=torch.bool)) if ws is not None else None
    torch.abs(out, out=e).neg_()
    torch.exp(e, out=e)
    torch.clamp_min(out, 0, out=terms)
    terms.sub_(torch.mul(yt, out, out=g))
    terms.add_(torch.log1p(e, out=g))
    loss = terms.view(K, -1).sum(-1).div_(n * B)
    torch.add(e, 1, out=g).reciprocal_()  # r
    e.mul_(g)  # e r
    mask = torch.ge(out, 0, out=mask) if mask is not None else torch.ge(out, 0)
    torch.where(mask, g, e, out=out)
    out.sub_(yt).mul_(1.0 / (n * B))
    return loss


def _cross_entropy_(out: Tensor, yt: Tensor, ws: Workspace | None) -> Tensor:
    """Cross-entropy over the ``C`` classes (axis 1) with class probabilities ``q`` (``yt``):
    ``(1/B) sum_b [lse_b sum_c q_cb - sum_c q_cb f_cb]`` per model, ``lse_b = m_b + log sum_c e^{f_cb - m_b}``,
    ``m_b = max_c f_cb``; the gradient ``(softmax_cb sum_c q_cb - q_cb) / B`` in place of ``out``. Sums
    and maxima over the classes are sequences of elementwise operations (class 0, 1, ...); ``exp`` and
    ``log`` write into :func:`_rows` buffers."""
    K, C, B = out.shape
    m = _rows(ws, "loss_max", (K, 1, B), out)
    e = _rows(ws, "loss_exp", (K, C, B), out)
    total = _rows(ws, "loss_sum", (K, 1, B), out)
    lse = _rows(ws, "loss_lse", (K, 1, B), out)
    q_shape = (*yt.shape[:-2], 1, B)
    q_sum = _contiguous(ws, "loss_qsum" + str(len(q_shape)), q_shape, out)
    products = _contiguous(ws, "loss_products", (K, C, B), out)
    terms = _contiguous(ws, "loss_terms", (K, 1, B), out)
    m.copy_(out[:, 0:1])
    for c in range(1, C):
        torch.maximum(m, out[:, c : c + 1], out=m)
    torch.sub(out, m, out=e)
    torch.exp(e, out=e)
    total.copy_(e[:, 0:1])
    for c in range(1, C):
        total.add_(e[:, c : c + 1])
    torch.log(total, out=lse).add_(m)
    q_sum.copy_(yt[..., 0:1, :])
    for c in range(1, C):
        q_sum.add_(yt[..., c : c + 1, :])
    torch.mul(lse, q_sum, out=terms)
    torch.mul(yt, out, out=products)
    for c in range(C):
        terms.sub_(products[:, c : c + 1])
    loss = terms.view(K, B).sum(-1).div_(B)
    e.div_(total)  # softmax
    torch.mul(e, q_sum, out=out)
    out.sub_(yt).mul_(1.0 / B)
    return loss


def output_loss_(loss: str, out: Tensor, yt: Tensor, workspace: Workspace | None = None) -> Tensor:
    """The per-model loss ``(K,)`` of the outputs ``out (K, n_L, B)`` (samples last, contiguous)
    against ``yt`` (``(n_L, B)`` or ``(K, n_L, B)``), and its gradient with respect to ``out`` written in
    place of ``out``. ``mse``: ``(1/(B n_L)) sum (f - y)^2``, gradient ``2 (f - y) / (B n_L)``; ``bce``:
    binary cross-entropy with logits, a mean over samples and outputs (targets in ``[0, 1]``);
    ``cross_entropy``: over the ``n_L`` classes with class probabilities as targets, a mean over the
    samples (as :func:`torch.nn.functional.cross_entropy`). Elementwise operations and sums over the
    last axis of contiguous tensors only: a model's numbers do not depend on the others."""
    _check_loss(loss)
    if loss == "bce":
        return _bce_(out, yt, workspace)
    if loss == "cross_entropy":
        return _cross_entropy_(out, yt, workspace)
    n = out.shape[1] * out.shape[2]
    r, value = _residual_and_loss_t(out, yt, _buffer(workspace, "squares", tuple(out.shape), out))
    r.mul_(2.0 / n)
    return value


def _correct(loss: str, out: Tensor, yt: Tensor) -> Tensor:
    """Per-model accuracy ``(K,)`` of the outputs ``out (K, n_L, B)``: ``bce``, the share of entries with
    ``f > 0`` exactly where ``y > 1/2``; ``cross_entropy``, the share of samples whose target's largest
    class (the first, for ties in the target) has the largest output, strictly above every other
    class (a tie counts as wrong, so a constant output scores 0)."""
    K, C, B = out.shape
    if loss == "bce":
        hits = torch.eq(out > 0, yt > 0.5)
        return hits.view(K, -1).sum(-1).to(out.dtype).div_(C * B)
    label = yt.argmax(dim=-2, keepdim=True)  # (1, B) or (K, 1, B): the data, not the model
    if label.dim() == 2:
        label = label.unsqueeze(0).expand(K, 1, B)
    picked = torch.gather(out, 1, label)
    others = torch.full_like(picked, -math.inf)
    hot = torch.zeros(K, C, B, dtype=torch.bool, device=out.device).scatter_(1, label, True)
    masked = torch.where(hot, -math.inf, out)
    for c in range(C):
        torch.maximum(others, masked[:, c : c + 1], out=others)
    return (picked > others).view(K, B).sum(-1).to(out.dtype).div_(B)


def _mse_(out: Tensor, flat: Tensor, yt: Tensor, squares: Tensor, count: Tensor) -> Tensor:
    """:func:`_residual_and_loss_t` with the views made beforehand: ``flat`` is ``out`` as
    ``(K, n)``, ``squares`` a ``(K, n)`` buffer, ``count`` the 0-dimensional tensor ``n`` (same bits)."""
    out.sub_(yt)
    return torch.mul(flat, flat, out=squares).sum(-1).div_(count)


def loss_t(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    xt: Tensor,
    yt: Tensor,
    activation: str,
    workspace: Workspace | None = None,
    loss: str = "mse",
) -> Tensor:
    """Per-model loss ``(K,)`` (``loss``: one of :data:`LOSSES`, :func:`output_loss_`) on ``xt``
    (samples last) against targets ``(n_L, B)`` or ``(K, n_L, B)``."""
    return output_loss_(loss, forward_t(weights, biases, xt, activation, workspace)[0][-1], yt, workspace)


def loss_and_accuracy_t(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    xt: Tensor,
    yt: Tensor,
    activation: str,
    workspace: Workspace | None = None,
    loss: str = "bce",
) -> tuple[Tensor, Tensor]:
    """:func:`loss_t` of a classification loss (``bce`` or ``cross_entropy``) and the per-model
    accuracy ``(K,)`` (:func:`_correct`), from one forward pass."""
    if _check_loss(loss) == "mse":
        raise ValueError("accuracy needs a classification loss (bce or cross_entropy), not mse")
    out = forward_t(weights, biases, xt, activation, workspace)[0][-1]
    accuracy = _correct(loss, out, yt)
    return output_loss_(loss, out, yt, workspace), accuracy


class Backprop:
    """Per-model loss (:func:`output_loss_`) and its gradient by backpropagation in the samples-last layout, bound to
    ``K`` models' weight and bias tensors, gradient tensors (each may be a view of a larger tensor)
    and a number of samples: :meth:`__call__` ``(xt, yt)`` computes the loss ``(K,)`` at the current values
    of the weights and writes the gradient. All buffers and views are made here, once (the caller
    updates the weights in place), so that a training step is a fixed sequence of operations on
    preallocated tensors; the operations are those of :func:`forward_t`, in the same order.

    Memory traffic, not arithmetic, bounds these elementwise kernels, so the buffers are kept few:
    an activation whose backward needs only its output (``relu``, ``tanh``) overwrites its input;
    the products of a weight gradient and the gradient passed to the layer below share one of two
    buffers, which alternate from layer to layer."""

    def __init__(
        self,
        weights: list[Tensor],
        biases: list[Tensor] | None,
        grad_w: list[Tensor],
        grad_b: list[Tensor] | None,
        activation: str,
        samples: int,
        loss: str = "mse",
    ) -> None:
        act = self.act = ACTIVATION_FUNCTIONS[activation]
        if act.backward_ is None:
            raise ValueError(f"the activation {activation!r} has no hand-written backward (use autograd)")
        self.loss = _check_loss(loss)
        self.loss_workspace = Workspace()
        L = len(weights)
        K, B = weights[0].shape[0], samples
        widths = [W.shape[2] for W in weights] + [weights[-1].shape[1]]
        like = weights[0]
        self.weights = weights
        self.blas = [by_blas(W) for W in weights]  # layers multiplied by per-model BLAS calls
        self.mm_workspace = Workspace()
        # per-column views for the elementwise layers only (a BLAS layer of S_10 has thousands of columns)
        self.columns = [() if blas else _columns(W) for W, blas in zip(weights, self.blas, strict=True)]
        self.rows_t = [() if blas else W.unsqueeze(-1).unbind(1) for W, blas in zip(weights, self.blas, strict=True)]
        self.bias_columns = None if biases is None else [b.unsqueeze(-1) for b in biases]
        self.grad_w, self.grad_b = grad_w, grad_b
        self.grad_w_columns = [() if blas else g.unbind(2) for g, blas in zip(grad_w, self.blas, strict=True)]
        # z[l]: pre-activations (the output for the last layer); h[l]: activations (z[l] itself
        # when the activation can work in place)
        self.z = [_hidden_buffer(None, "", (K, o, B), like, act.exact) for o in widths[1:-1]]
        self.z.append(like.new_empty((K, widths[-1], B)))
        self.h = [z if act.in_place else torch.empty_like(z) for z in self.z[:-1]]
        self.h_rows = [_input_rows(h) for h in self.h]
        self.h_products = [h.unsqueeze(1) for h in self.h]  # (K, 1, i, B)
        # two buffers, alternating by layer: layer l's products, then the gradient for layer l - 1
        self.all_inputs = [i <= _PRODUCT_WIDTH for i in widths[:-1]]
        sizes = [0, 0]
        for layer in range(L):
            o, i = widths[layer + 1], widths[layer]
            products = 0 if self.blas[layer] else K * o * B * (i if self.all_inputs[layer] else 1)
            sizes[layer % 2] = max(sizes[layer % 2], products, K * i * B if layer else 0)
        sizes[(L - 1) % 2] = max(sizes[(L - 1) % 2], K * widths[-1] * B)  # the squares of the loss
        arenas = [like.new_empty(n) for n in sizes]
        self.squares = arenas[(L - 1) % 2][: K * widths[-1] * B].view(K, widths[-1] * B)
        self.flat_output = self.z[-1].view(K, widths[-1] * B)
        self.count = like.new_tensor(float(widths[-1] * B))
        self.products = []
        for layer in range(L):
            o, i = widths[layer + 1], widths[layer]
            shape = (0,) if self.blas[layer] else (K, o, i, B) if self.all_inputs[layer] else (K, o, B)
            self.products.append(arenas[layer % 2][: math.prod(shape)].view(shape))
        # deltas[l]: the gradient with respect to z[l]; the last is the output buffer (the residual
        # is computed in place), deltas[l - 1] shares layer l's buffer
        self.deltas = [arenas[(layer + 1) % 2][: K * o * B].view(K, o, B) for layer, o in enumerate(widths[1:-1])]
        self.deltas.append(self.z[-1])
        self.delta_rows = [d.unsqueeze(1).unbind(2) for d in self.deltas]
        self.delta_products = [d.unsqueeze(2) for d in self.deltas]
        self.scale = like.new_tensor(2.0 / (widths[-1] * B))  # a tensor: no conversion per call
        self._xt: Tensor | None = None
        self._x_rows: tuple[Tensor, ...] = ()
        self._x_products: Tensor | None = None

    def __call__(self, xt: Tensor, yt: Tensor) -> Tensor:
        """The loss ``(K,)`` on ``xt`` (``(n_0, B)`` or ``(K, n_0, B)``) against ``yt``; the gradient
        into the bound gradient tensors."""
        if xt is not self._xt:
            self._xt, self._x_rows = xt, _input_rows(xt)
            self._x_products = xt if xt.dim() == 2 else xt.unsqueeze(1)
        act, L, ws = self.act, len(self.z), self.mm_workspace
        rows = self._x_rows
        for layer in range(L):
            b = None if self.bias_columns is None else self.bias_columns[layer]
            if self.blas[layer]:
                z = _affine_blas(self.weights[layer], b, self._input(layer), self.z[layer], ws)
            else:
                z = _affine(self.columns[layer], b, rows, self.z[layer])
            if layer < L - 1:
                act.forward(z, self.h[layer])
                rows = self.h_rows[layer]
        if self.loss == "mse":
            loss = _mse_(self.z[-1], self.flat_output, yt, self.squares, self.count)
            self.z[-1].mul_(self.scale)
        else:
            loss = output_loss_(self.loss, self.z[-1], yt, self.loss_workspace)
        for layer in range(L - 1, -1, -1):
            delta = self.deltas[layer]
            products = self.products[layer]
            if self.blas[layer]:
                inputs, grad_w = self._input(layer), self.grad_w[layer]
                for k in range(delta.shape[0]):
                    _model_mm(delta[k], (inputs if inputs.dim() == 2 else inputs[k]).t(), grad_w[k], ws)
            elif self.all_inputs[layer]:
                inputs = self._x_products if layer == 0 else self.h_products[layer - 1]
                torch.sum(torch.mul(self.delta_products[layer], inputs, out=products), -1, out=self.grad_w[layer])
            else:
                inputs_rows = self._x_rows if layer == 0 else self.h_rows[layer - 1]
                for row, column in zip(inputs_rows, self.grad_w_columns[layer], strict=True):
                    torch.sum(torch.mul(delta, row, out=products), -1, out=column)
            if self.grad_b is not None:
                torch.sum(delta, -1, out=self.grad_b[layer])
            if layer > 0:
                below = self.deltas[layer - 1]
                if self.blas[layer]:
                    W = self.weights[layer]
                    for k in range(delta.shape[0]):
                        _model_mm(W[k].t(), delta[k], below[k], ws)
                else:
                    rows_t, deltas = self.rows_t[layer], self.delta_rows[layer]
                    torch.mul(rows_t[0], deltas[0], out=below)
                    for row, d in zip(rows_t[1:], deltas[1:], strict=True):
                        below.addcmul_(row, d)
                act.backward_(below, self.z[layer - 1], self.h[layer - 1])
        return loss

    def _input(self, layer: int) -> Tensor:
        """The input of ``layer``: the batch (``(n_0, B)`` or ``(K, n_0, B)``) or ``h[layer - 1]``."""
        return self._xt if layer == 0 else self.h[layer - 1]  # type: ignore[return-value]


def loss_and_grad_t(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    xt: Tensor,
    yt: Tensor,
    activation: str,
    workspace: Workspace | None = None,
    loss: str = "mse",
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Per-model loss ``(K,)`` (``loss``: one of :data:`LOSSES`) and its gradients with respect to
    every ``W_l`` and ``b_l`` (same shapes as the weights and biases, new tensors), by backpropagation
    in the samples-last layout (a :class:`Backprop` for this call; ``workspace`` is accepted for
    symmetry with :func:`loss_t` and not needed)."""
    grad_w = [W.new_empty(W.shape) for W in weights]
    grad_b = None if biases is None else [b.new_empty(b.shape) for b in biases]
    plan = Backprop(weights, biases, grad_w, grad_b, activation, xt.shape[-1], loss)
    return plan(xt, yt), grad_w, grad_b


def as_samples_last(x: Tensor) -> Tensor:
    """A row batch ``(B, n)`` or ``(K, B, n)`` in the samples-last layout ``(n, B)`` / ``(K, n, B)``."""
    return x.transpose(-1, -2).contiguous()


def mlp_forward(weights: list[Tensor], biases: list[Tensor] | None, x: Tensor, activation: str) -> Tensor:
    """The outputs ``(K, B, n_L)`` of ``K`` models on a shared batch ``x (B, n_0)`` or per-model
    batches ``(K, B, n_0)``."""
    zs, _ = forward_t(weights, biases, as_samples_last(x), activation)
    return zs[-1].transpose(1, 2)


def mlp_loss_and_grad(
    weights: list[Tensor],
    biases: list[Tensor] | None,
    x: Tensor,
    y: Tensor,
    activation: str,
    loss: str = "mse",
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Row-batch front end of :func:`loss_and_grad_t`: ``x (B, n_0)`` or ``(K, B, n_0)``, targets
    ``y (B, n_L)`` or ``(K, B, n_L)``."""
    return loss_and_grad_t(weights, biases, as_samples_last(x), as_samples_last(y), activation, loss=loss)
