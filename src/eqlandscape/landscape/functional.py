"""The loss of one model as a pure function of its coordinates (docs/design.md sections 3, 4 and 8).

**Models as named mappings.** A model is a mapping ``coords`` from tensor names to tensors:
``"W0", "b0", "W1", "b1", ...`` (the tensors of :class:`~eqlandscape.nn.MLPArchitecture`, all biases
or none), ``W_l`` of shape ``(n_{l+1}, n_l)`` and ``b_l`` of shape ``(n_{l+1},)``. With ``params`` (a
mapping from the same names to :class:`~eqlandscape.nn.Parametrization` objects) the tensors are
coordinates ``theta`` of shape ``(dim,)`` instead, and the model's weights are
``W.flat = theta @ phi`` (:mod:`eqlandscape.nn.parametrization`). :func:`named` turns flat-order lists
(``Ensemble.coords``, ``Ensemble.params``, ``EquivariantMLP.full()``) into such mappings.

**The flat vector.** Derivatives of many tensors are reported on one vector of ``P`` entries: the
tensors in flat order ``W0, b0, W1, ...``, each flattened row-major (:func:`flatten`, :func:`unflatten`).
With ``params`` the vector holds the coordinates, so Hessians come out in the parametrization's
coordinates.

**The loss.** For a row batch ``x (B, n_0)``::

    h_0 = x,   z_l = h_l @ W_l.T + b_l,   h_{l+1} = act(z_l) (l < L-1),   f(x) = z_{L-1}  (B, n_L)

and :func:`loss` is ``criterion(f(x), y)``, a mean over samples, for one of :data:`LOSSES`. The
functions here are single-model and pure (no workspace, no leading model dimension, no in-place
operations), so ``torch.func.grad``, ``hessian``, ``jvp`` and ``vmap`` compose with them; for ``K``
models, ``torch.func.vmap(loss, in_dims=(0, None, None))`` over coordinates with a leading ``K``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from eqlandscape.errors import ConfigError
from eqlandscape.nn.architecture import tensor_names
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS
from eqlandscape.nn.parametrization import Parametrization
from eqlandscape.reps import PermRep
from eqlandscape.tasks.transforms import group_images

Tensor = torch.Tensor
T = TypeVar("T")


# ---------------------------------------------------------------------- criteria
def _mse(out: Tensor, y: Tensor) -> Tensor:
    return ((out - y) ** 2).mean(dim=(-2, -1))


def _mse_grad(out: Tensor, y: Tensor) -> Tensor:
    return (out - y) * (2.0 / (out.shape[-2] * out.shape[-1]))


def _mse_hessian(out: Tensor, y: Tensor) -> Tensor:
    n = out.shape[-1]
    eye = torch.eye(n, dtype=out.dtype, device=out.device) * (2.0 / (out.shape[-2] * n))
    return eye.expand(*out.shape, n)


def _bce(out: Tensor, y: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(dim=(-2, -1))


def _bce_grad(out: Tensor, y: Tensor) -> Tensor:
    return (torch.sigmoid(out) - y) / (out.shape[-2] * out.shape[-1])


def _bce_hessian(out: Tensor, y: Tensor) -> Tensor:
    s = torch.sigmoid(out)
    return torch.diag_embed(s * (1 - s) / (out.shape[-2] * out.shape[-1]))


def _class_weights(out: Tensor, y: Tensor) -> Tensor:
    """Targets of cross-entropy as weights ``q (..., B, C)``: one-hot rows for integer labels ``(..., B)``,
    else the given probabilities."""
    if y.dtype in (torch.int64, torch.int32):
        return F.one_hot(y.long(), out.shape[-1]).to(out.dtype)
    return y


def _cross_entropy(out: Tensor, y: Tensor) -> Tensor:
    logp = torch.log_softmax(out, dim=-1)
    if y.dtype in (torch.int64, torch.int32):
        return -logp.gather(-1, y.long().unsqueeze(-1)).squeeze(-1).mean(dim=-1)
    return -(y * logp).sum(dim=-1).mean(dim=-1)


def _cross_entropy_grad(out: Tensor, y: Tensor) -> Tensor:
    q = _class_weights(out, y)
    p = torch.softmax(out, dim=-1)
    return (p * q.sum(dim=-1, keepdim=True) - q) / out.shape[-2]


def _cross_entropy_hessian(out: Tensor, y: Tensor) -> Tensor:
    q = _class_weights(out, y)
    p = torch.softmax(out, dim=-1)
    mass = q.sum(dim=-1)[..., None, None] / out.shape[-2]
    return (torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)) * mass


@dataclass(frozen=True)
class Criterion:
    """A loss of the outputs ``out (..., B, n_L)`` against targets ``y``, a mean over the samples.

    ``value(out, y) -> (...)``; ``output_grad(out, y) -> (..., B, n_L)``, its gradient in ``out``;
    ``output_hessian(out, y) -> (..., B, n_L, n_L)``, its Hessian in each sample's output row (the
    loss is a sum over samples, so the Hessian in ``out`` is block diagonal over samples).
    ``labels``: whether integer class labels ``(..., B)`` are accepted as targets.
    """

    name: str
    value: Callable[[Tensor, Tensor], Tensor]
    output_grad: Callable[[Tensor, Tensor], Tensor]
    output_hessian: Callable[[Tensor, Tensor], Tensor]
    labels: bool = False


LOSSES: dict[str, Criterion] = {
    # (1/(B n_L)) sum (f - y)^2, as torch.nn.functional.mse_loss and the trainer's kernel.
    "mse": Criterion("mse", _mse, _mse_grad, _mse_hessian),
    # (1/(B n_L)) sum [log(1 + e^f) - y f]: binary cross-entropy with logits, targets in [0, 1].
    "bce": Criterion("bce", _bce, _bce_grad, _bce_hessian),
    # (1/B) sum_b [logsumexp(f_b) - q_b . f_b]: cross-entropy over the n_L classes, targets integer
    # labels (B,) or class probabilities q (B, n_L), as torch.nn.functional.cross_entropy.
    "cross_entropy": Criterion(
        "cross_entropy", _cross_entropy, _cross_entropy_grad, _cross_entropy_hessian, labels=True
    ),
}


def get_criterion(criterion: str) -> Criterion:
    """The entry ``criterion`` of :data:`LOSSES`, or :class:`ConfigError` naming it."""
    if criterion not in LOSSES:
        raise ConfigError(f"unknown criterion {criterion!r}; expected one of {', '.join(LOSSES)}")
    return LOSSES[criterion]


def get_activation(activation: str) -> Callable[[Tensor], Tensor]:
    """The pointwise activation ``activation`` of :data:`~eqlandscape.nn.functional.ACTIVATION_FUNCTIONS`
    as a pure function, or :class:`ConfigError` naming it."""
    if activation not in ACTIVATION_FUNCTIONS:
        raise ConfigError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATION_FUNCTIONS)}")
    forward = ACTIVATION_FUNCTIONS[activation].forward
    return lambda z: forward(z, None)


# ---------------------------------------------------------------------- named mappings
def named(tensors: Sequence[T], bias: bool) -> dict[str, T]:
    """Flat-order items (tensors, coordinates or parametrizations: ``W0, b0, W1, ...``) as a mapping
    keyed by :func:`tensor_names`."""
    per_layer = 2 if bias else 1
    if len(tensors) % per_layer or not tensors:
        raise ConfigError(f"{len(tensors)} tensors do not make whole layers of an MLP with bias={bias}")
    return dict(zip(tensor_names(len(tensors) // per_layer, bias), tensors, strict=True))


def structure(coords: Mapping[str, object]) -> tuple[list[str], int, bool]:
    """``(names in flat order, number of layers, bias)`` of a named mapping; :class:`ConfigError`
    naming the keys unless they are exactly ``W0 .. W{L-1}`` and either no ``b`` or ``b0 .. b{L-1}``."""
    keys = list(coords)
    n_layers = sum(1 for k in keys if k.startswith("W"))
    bias = "b0" in coords
    names = tensor_names(n_layers, bias)
    if n_layers < 1 or sorted(keys) != sorted(names):
        raise ConfigError(f"model tensors must be named W0, b0, W1, ... (all biases or none), got keys {sorted(keys)}")
    return names, n_layers, bias


def full_weights(
    coords: Mapping[str, Tensor], params: Mapping[str, Parametrization] | None = None
) -> dict[str, Tensor]:
    """The full tensors of a model: ``coords`` itself without ``params``, else ``to_full`` of each
    coordinate tensor (``(..., dim) -> (..., *shape)``, differentiable). :class:`ConfigError` when
    ``params`` lacks a name or a coordinate tensor has the wrong size."""
    names, _, _ = structure(coords)
    if params is None:
        return {n: coords[n] for n in names}
    out = {}
    for n in names:
        if n not in params:
            raise ConfigError(f"no parametrization for tensor {n!r}; params has {sorted(params)}")
        if coords[n].shape[-1:] != (params[n].dim,):
            raise ConfigError(
                f"coordinates {n} have shape {tuple(coords[n].shape)}, expected (..., {params[n].dim}) "
                f"for its {params[n].kind!r} parametrization"
            )
        out[n] = params[n].to_full(coords[n])
    return out


def check_weights(weights: Mapping[str, Tensor], batch_dims: int) -> tuple[int, ...]:
    """Check that full tensors chain into an MLP (``W_l (n_{l+1}, n_l)``, ``b_l (n_{l+1},)``, after
    ``batch_dims`` leading dimensions shared by all); return the widths ``(n_0, ..., n_L)``.
    :class:`ConfigError` names the first tensor that does not fit."""
    _, n_layers, bias = structure(weights)
    first = weights["W0"]
    lead = tuple(first.shape[:batch_dims])
    widths = [int(first.shape[-1])] if first.dim() == batch_dims + 2 else []
    for layer in range(n_layers):
        W = weights[f"W{layer}"]
        if W.dim() != batch_dims + 2 or tuple(W.shape[:batch_dims]) != lead or W.shape[-1] != widths[-1]:
            known = (*lead, "n_out", widths[-1]) if widths else (*(["K"] * batch_dims), "n_out", "n_in")
            expected = ", ".join(map(str, known))
            raise ConfigError(f"W{layer} has shape {tuple(W.shape)}, expected ({expected})")
        widths.append(int(W.shape[-2]))
        if bias:
            b = weights[f"b{layer}"]
            if tuple(b.shape) != (*lead, widths[-1]):
                raise ConfigError(f"b{layer} has shape {tuple(b.shape)}, expected {(*lead, widths[-1])}")
    return tuple(widths)


def flatten(coords: Mapping[str, Tensor], batch_dims: int = 0) -> Tensor:
    """The flat vector ``(..., P)`` of a model (see the module docstring): each tensor flattened after
    its ``batch_dims`` leading dimensions, concatenated in flat order."""
    names, _, _ = structure(coords)
    return torch.cat([coords[n].reshape(*coords[n].shape[:batch_dims], -1) for n in names], dim=-1)


def unflatten(vector: Tensor, like: Mapping[str, Tensor], batch_dims: int = 0) -> dict[str, Tensor]:
    """The inverse of :func:`flatten`: ``vector (..., P)`` cut into tensors shaped like those of ``like``
    (whose first ``batch_dims`` dimensions are replaced by ``vector``'s leading ones)."""
    names, _, _ = structure(like)
    shapes = [tuple(like[n].shape[batch_dims:]) for n in names]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    if vector.shape[-1] != sum(sizes):
        raise ConfigError(f"a vector of {vector.shape[-1]} entries for a model of {sum(sizes)} parameters")
    lead = tuple(vector.shape[:-1])
    parts = torch.split(vector, sizes, dim=-1)
    return {n: p.reshape(*lead, *s) for n, p, s in zip(names, parts, shapes, strict=True)}


# ---------------------------------------------------------------------- the single-model functions
def forward(
    coords: Mapping[str, Tensor],
    x: Tensor,
    *,
    activation: str = "relu",
    params: Mapping[str, Parametrization] | None = None,
) -> Tensor:
    """The outputs ``f(x) (B, n_L)`` of one model on a row batch ``x (B, n_0)`` (module docstring)."""
    act = get_activation(activation)
    weights = full_weights(coords, params)
    _, n_layers, bias = structure(weights)
    if weights["W0"].dim() != 2:
        raise ConfigError(
            f"W0 has shape {tuple(weights['W0'].shape)}: forward and loss take one model; "
            "map them over models with torch.func.vmap"
        )
    check_weights(weights, batch_dims=0)
    h = x
    for layer in range(n_layers):
        z = h @ weights[f"W{layer}"].mT
        if bias:
            z = z + weights[f"b{layer}"]
        h = act(z) if layer < n_layers - 1 else z
    return h


def loss(
    coords: Mapping[str, Tensor],
    x: Tensor,
    y: Tensor,
    *,
    activation: str = "relu",
    criterion: str = "mse",
    params: Mapping[str, Parametrization] | None = None,
) -> Tensor:
    """The loss (a 0-dimensional tensor) of one model on ``(x, y)``: ``criterion(forward(coords, x), y)``.

    ``x (B, n_0)``; ``y (B, n_L)`` (``mse``, ``bce``, probabilities for ``cross_entropy``) or integer
    labels ``(B,)`` (``cross_entropy``). A pure function of ``coords``: differentiate it with
    ``torch.func.grad(loss)(coords, x, y, activation=...)``.
    """
    return get_criterion(criterion).value(forward(coords, x, activation=activation, params=params), y)


Objective = Callable[[Sequence[Tensor]], Tensor]
"""A loss given in closed form instead of by data: full tensors in flat order, each with a leading model
dimension ``(K, *shape)``, to the ``K`` losses ``(K,)``, differentiable, each model's value depending on
its own tensors only (e.g. :meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`, the population
loss). The landscape functions take one as ``objective=`` in place of a train set."""


def objective_loss(
    objective: Objective, coords: Mapping[str, Tensor], params: Mapping[str, Parametrization] | None = None
) -> Tensor:
    """One model's value (0-dimensional) of a batched ``objective`` at ``coords`` (single-model full
    tensors, or coordinates with ``params``): a pure function of ``coords`` like :func:`loss`, so
    ``torch.func`` transforms compose with it."""
    names, _, _ = structure(coords)
    full = full_weights(coords, params)
    return objective([full[n].unsqueeze(0) for n in names])[0]


# ---------------------------------------------------------------------- data
def check_data(x: Tensor, y: Tensor, widths: tuple[int, ...], criterion: str) -> None:
    """:class:`ConfigError` unless ``x (B, n_0)`` and the targets ``y`` fit a model of ``widths`` and
    the criterion."""
    crit = get_criterion(criterion)
    if x.dim() != 2 or x.shape[1] != widths[0]:
        raise ConfigError(f"x has shape {tuple(x.shape)}, expected (B, {widths[0]}) (one shared row batch)")
    B = x.shape[0]
    if crit.labels and y.dim() == 1 and y.dtype in (torch.int64, torch.int32):
        if y.shape[0] != B or (B and (int(y.min()) < 0 or int(y.max()) >= widths[-1])):
            raise ConfigError(f"labels y of shape {tuple(y.shape)} must be ({B},) with values in 0..{widths[-1] - 1}")
        return
    if tuple(y.shape) != (B, widths[-1]) or not y.is_floating_point():
        raise ConfigError(
            f"targets y have shape {tuple(y.shape)} and dtype {y.dtype}, expected float ({B}, {widths[-1]})"
        )


def augment(x: Tensor, y: Tensor, rep_in: PermRep, rep_out: PermRep) -> tuple[Tensor, Tensor]:
    """The samples transformed by every group element (docs/design.md section 4, augmentation):
    ``x_aug (|G| B, n_0)`` with rows ``rho_in(g) x_b`` (element-major: row ``g B + b``), and the targets
    ``rho_out(g) y_b`` (:func:`~eqlandscape.tasks.transforms.group_images`), or ``perms[g][y_b]`` for
    integer class labels ``y (B,)``.

    The loss is a mean over samples, so the loss on ``(x_aug, y_aug)`` is the augmented risk
    ``(1/|G|) sum_g L(rho_in(g) x, rho_out(g) y)`` exactly, and so are its derivatives.
    """
    rep_in.check_same_group(rep_out, "augmentation")
    rep_in.check_unsigned("augmentation")
    rep_out.check_unsigned("augmentation")
    if x.dim() != 2 or x.shape[1] != rep_in.size:
        raise ConfigError(f"x has shape {tuple(x.shape)}, expected (B, {rep_in.size}) for the input rep {rep_in}")
    x_aug = group_images(x, rep_in)
    if y.dim() == 1 and not y.is_floating_point():
        images = torch.as_tensor(np.array(rep_out.perms), device=y.device)[:, y.long()]
        return x_aug, images.reshape(-1).to(y.dtype)
    if y.dim() != 2 or y.shape[1] != rep_out.size:
        raise ConfigError(f"y has shape {tuple(y.shape)}, expected (B, {rep_out.size}) for the output rep {rep_out}")
    return x_aug, group_images(y, rep_out)
