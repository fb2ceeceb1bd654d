"""Public test helpers (DESIGN.md section 8): check a model's equivariance in your own tests.

>>> assert_equivariant(model, rep_in, rep_out)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from eqlandscape.reps import PermRep


def _act_on_rows(perm: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """``rho(g)`` applied to every row of ``x (..., n)``: ``(rho(g) x)[p[i]] = x[i]``."""
    return x[..., torch.as_tensor(np.argsort(perm), device=x.device)]


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
    with torch.no_grad():
        base = model(inputs)
        for g in chosen:
            moved = model(_act_on_rows(rep_in.perms[g], inputs))
            expected = _act_on_rows(rep_out.perms[g], base)
            gap = (moved - expected).abs()
            bound = atol + rtol * expected.abs()
            if not bool((gap <= bound).all()):
                raise AssertionError(
                    f"not equivariant {rep_in.name} -> {rep_out.name} under element {group.elements[g].tolist()} "
                    f"of {group.name}: max |f(g x) - g f(x)| = {float(gap.max()):.3g} "
                    f"(atol={atol}, rtol={rtol})"
                )
