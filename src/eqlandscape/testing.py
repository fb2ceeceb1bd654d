"""Public test helpers (docs/design.md section 8): check a model's equivariance in your own tests.

>>> assert_equivariant(model, rep_in, rep_out)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from eqlandscape.reps import PermRep


def _act_on_rows(perms: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """``rho(g)`` applied to every row of ``x (..., B, n)`` for each permutation of ``perms (m, n)``:
    ``(rho(g) x)[p[i]] = x[i]``; shape ``(..., m, B, n)``."""
    inverse = torch.as_tensor(np.argsort(perms, axis=1), device=x.device)
    return x[..., inverse].movedim(-2, -3)


def _infer_dtype(model: object) -> torch.dtype:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.dtype
    dtype = getattr(model, "dtype", None)
    return dtype if isinstance(dtype, torch.dtype) else torch.get_default_dtype()


def assert_equivariant(
    model: Callable[[torch.Tensor], torch.Tensor],
    rep_in: PermRep,
    rep_out: PermRep,
    *,
    inputs: torch.Tensor | None = None,
    samples: int = 32,
    elements: Literal["all", "generators"] = "all",
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> None:
    """Assert ``model(rho_in(g) x) == rho_out(g) model(x)`` for the group elements ``g`` (all of them,
    or the generators, which suffice for exact equivariance), on row batches.

    ``model`` maps ``x (B, n_in)`` to ``(..., B, n_out)`` (a module, or an ensemble with its leading
    model dimension). ``inputs`` defaults to ``samples`` standard Gaussian rows (``seed``) in the
    model's dtype. Raises ``AssertionError`` naming the worst element and the error otherwise.
    """
    rep_in.check_same_group(rep_out, "assert_equivariant")
    if inputs is None:
        rng = np.random.default_rng(seed)
        inputs = torch.as_tensor(rng.standard_normal((samples, rep_in.size)), dtype=_infer_dtype(model))
    group = rep_in.group
    chosen = group.generators if elements == "generators" else np.arange(group.order)
    perms_in, perms_out = rep_in.perms[chosen], rep_out.perms[chosen]
    with torch.no_grad():
        base = model(inputs)
        moved_inputs = _act_on_rows(perms_in, inputs)  # (..., m, B, n_in): all elements in one call
        moved = model(moved_inputs.flatten(-3, -2)).unflatten(-2, moved_inputs.shape[-3:-1])
        expected = _act_on_rows(perms_out, base)
    gap = (moved - expected).abs().movedim(-3, 0).flatten(1)  # (m, everything else)
    bound = (atol + rtol * expected.abs()).movedim(-3, 0).flatten(1)
    failed = ~(gap <= bound).all(dim=1)
    if bool(failed.any()):
        errors = gap.nan_to_num(nan=float("inf")).amax(dim=1)
        worst = int(torch.where(failed, errors, -1.0).argmax())
        raise AssertionError(
            f"not equivariant {rep_in.name} -> {rep_out.name} under element "
            f"{group.elements[chosen[worst]].tolist()} of {group.name}: max |f(g x) - g f(x)| = "
            f"{float(errors[worst]):.3g} (atol={atol}, rtol={rtol})"
        )
