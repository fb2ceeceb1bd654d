"""The population loss of one-hidden-layer ReLU teacher-student problems with Gaussian inputs, in closed form.

Student and teacher are named mappings without biases (:mod:`eqlandscape.landscape.functional`):
``W0 (n_h, n_0)`` and ``W1 (n_L, n_h)`` (the teacher may have another hidden width), computing
``f(x) = W1 relu(W0 x)``. For ``x ~ N(0, I_{n_0})`` (the ``gaussian`` inputs of
:mod:`eqlandscape.tasks`) the expected mean squared error over the input distribution is::

    L = (1/n_L) E ||f(x) - f*(x)||^2
      = (1/n_L) tr( W1 K(W0, W0) W1^T - 2 W1 K(W0, W0*) W1*^T + W1* K(W0*, W0*) W1*^T )

with the degree-1 arc-cosine kernel of the rows (Cho and Saul, 2009)::

    K(U, V)[i, j] = E[relu(u_i . x) relu(v_j . x)] = |u||v| (sin t + (pi - t) cos t) / (2 pi),

``t`` the angle between ``u = u_i`` and ``v = v_j``. Writing ``c = cos t``, the profile
``g(c) = sqrt(1 - c^2) + (pi - arccos c) c`` has the finite derivative ``g'(c) = pi - arccos c`` but
``g''(c) = 1 / sqrt(1 - c^2)`` is infinite at ``c = +-1`` (``t = 0`` or ``pi``), where ``grad c = 0``
(``c`` is extremal) and the kernel is still twice differentiable in ``u``. So ``g`` and ``arccos`` are
differentiated by their closed forms with ``1 - c^2`` clamped away from 0: gradients are exact
everywhere and Hessians exact at (anti)parallel pairs. The kernel is positively homogeneous in each
argument and not differentiable at ``u = 0``; norms are clamped there (at the smallest normal float),
so derivatives stay finite. The diagonal ``K(u, u) = |u|^2 / 2`` is used exactly. Loss, gradient and
Hessian come from autograd through this closed form (``torch.func`` transforms compose with it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from eqlandscape.errors import ConfigError
from eqlandscape.landscape.functional import check_weights, flatten, structure, unflatten

Tensor = torch.Tensor


def _safe_sine(c: Tensor) -> Tensor:
    """``sqrt(1 - c^2)``, the sine of the angle, clamped below by the machine epsilon."""
    return torch.sqrt(torch.clamp_min(1 - c * c, torch.finfo(c.dtype).eps ** 2))


class _Arccos(torch.autograd.Function):
    """``arccos c`` with the derivative ``-1 / sqrt(1 - c^2)`` clamped (finite at ``c = +-1``)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(c: Tensor) -> Tensor:
        return torch.acos(c)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (c,) = ctx.saved_tensors
        return -grad / _safe_sine(c)

    @staticmethod
    def jvp(ctx: Any, tangent: Tensor) -> Tensor:
        (c,) = ctx.saved_tensors
        return -tangent / _safe_sine(c)


class _Profile(torch.autograd.Function):
    """``g(c) = sqrt(1 - c^2) + (pi - arccos c) c`` on ``[-1, 1]`` with ``g'(c) = pi - arccos c``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(c: Tensor) -> Tensor:
        return torch.sqrt(torch.clamp_min(1 - c * c, 0)) + (math.pi - torch.acos(c)) * c

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (c,) = ctx.saved_tensors
        return grad * (math.pi - _Arccos.apply(c))

    @staticmethod
    def jvp(ctx: Any, tangent: Tensor) -> Tensor:
        (c,) = ctx.saved_tensors
        return tangent * (math.pi - _Arccos.apply(c))


def _norms(U: Tensor) -> Tensor:
    """Row norms ``(..., n)``, clamped at the smallest normal float so that derivatives stay finite at 0."""
    return torch.sqrt(torch.clamp_min((U * U).sum(dim=-1), torch.finfo(U.dtype).tiny))


def _kernel(U: Tensor, V: Tensor) -> Tensor:
    """The arc-cosine kernel of rows ``U (..., n, d)`` and ``V (..., m, d)`` (leading dimensions
    broadcast): ``(..., n, m)``, from elementwise products and sums over each model's own entries (no
    batched matrix product, so one model's value never depends on the others sharing the batch)."""
    nu, nv = _norms(U), _norms(V)
    scale = nu.unsqueeze(-1) * nv.unsqueeze(-2)
    dots = (U.unsqueeze(-2) * V.unsqueeze(-3)).sum(dim=-1)
    c = torch.clamp(dots / scale, -1.0, 1.0)
    return scale * _Profile.apply(c) / (2 * math.pi)


def arccos_kernel(U: Tensor, V: Tensor) -> Tensor:
    """``K (n, m)``: ``K[i, j] = E[relu(U[i] . x) relu(V[j] . x)]`` for ``x ~ N(0, I_d)``, rows
    ``U (n, d)`` and ``V (m, d)`` (module docstring for the formula and its derivatives)."""
    if U.dim() != 2 or V.dim() != 2 or U.shape[1] != V.shape[1]:
        raise ConfigError(f"kernel rows of shapes {tuple(U.shape)} and {tuple(V.shape)}: expected (n, d) and (m, d)")
    return _kernel(U, V)


def _gram(U: Tensor) -> Tensor:
    """``_kernel(U, U)`` ``(..., n, n)`` with the exact diagonal ``|u|^2 / 2``."""
    eye = torch.eye(U.shape[-2], dtype=U.dtype, device=U.device)
    return _kernel(U, U) * (1 - eye) + eye * ((U * U).sum(dim=-1) / 2).unsqueeze(-1)


def _quadratic(A: Tensor, K: Tensor, B: Tensor) -> Tensor:
    """``tr(A K B^T) = sum_{o,i,j} A[o,i] K[i,j] B[o,j]`` for ``A (..., o, n)``, ``K (..., n, m)``,
    ``B (..., o, m)``: ``(...)``, elementwise products and sums."""
    return ((A.unsqueeze(-1) * B.unsqueeze(-2)).sum(dim=-3) * K).sum(dim=(-2, -1))


def _check(model: Mapping[str, Tensor], what: str, batch_dims: int = 0) -> tuple[int, ...]:
    names, _, _ = structure(model)
    if names != ["W0", "W1"]:
        raise ConfigError(f"the {what} must be a one-hidden-layer model without biases (W0, W1), got {names}")
    return check_weights(model, batch_dims=batch_dims)


def batched_population_loss(students: Mapping[str, Tensor], teacher: Mapping[str, Tensor]) -> Tensor:
    """:func:`population_loss` of ``K`` students at once: ``students`` with a leading model dimension
    (``W0 (K, n_h, n_0)``, ``W1 (K, n_L, n_h)``), the teacher without; returns ``(K,)``. Every value is
    computed from its own model's entries by elementwise operations and sums, so it does not depend on
    the other models of the batch. :class:`ConfigError` unless both are ``W0, W1`` models with the same
    input and output widths."""
    s, t = _check(students, "student", batch_dims=1), _check(teacher, "teacher")
    if (s[0], s[-1]) != (t[0], t[-1]):
        raise ConfigError(f"student widths {s} and teacher widths {t} differ in input or output")
    W0, W1 = students["W0"], students["W1"]
    T0, T1 = (teacher[n].to(device=W0.device, dtype=W0.dtype) for n in ("W0", "W1"))
    own = _quadratic(W1, _gram(W0), W1)
    cross = _quadratic(W1, _kernel(W0, T0), T1)
    target = _quadratic(T1, _gram(T0), T1)
    return (own - 2 * cross + target) / W1.shape[-2]


def population_loss(student: Mapping[str, Tensor], teacher: Mapping[str, Tensor]) -> Tensor:
    """``L = (1/n_L) E ||f(x) - f*(x)||^2`` for ``x ~ N(0, I)`` (0-dimensional, differentiable in the
    student). :class:`ConfigError` unless both are ``W0, W1`` models with the same input and output
    widths."""
    _check(student, "student")
    return batched_population_loss({n: t.unsqueeze(0) for n, t in student.items()}, teacher)[0]


def population_gradient(student: Mapping[str, Tensor], teacher: Mapping[str, Tensor]) -> Tensor:
    """The gradient ``(P,)`` of :func:`population_loss` on the student's flat vector (``W0`` then ``W1``,
    row-major)."""
    theta = flatten(student).detach()
    return torch.func.grad(lambda t: population_loss(unflatten(t, student), teacher))(theta)


def population_hessian(student: Mapping[str, Tensor], teacher: Mapping[str, Tensor]) -> Tensor:
    """The Hessian ``(P, P)`` of :func:`population_loss` on the student's flat vector."""
    theta = flatten(student).detach()
    return torch.func.hessian(lambda t: population_loss(unflatten(t, student), teacher))(theta)
