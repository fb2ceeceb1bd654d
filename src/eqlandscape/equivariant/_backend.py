"""Array-type dispatch shared by the basis classes: NumPy arrays or PyTorch tensors.

PyTorch is never imported here. A tensor can only exist once ``torch`` has been imported by
its caller, so the dispatch looks the module up in ``sys.modules``; NumPy-only users never
pay for importing PyTorch (docs/design.md section 8).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from eqlandscape.errors import DegreeMismatchError


def torch_module(x: object) -> Any | None:
    """The ``torch`` module if ``x`` is a ``torch.Tensor``, else ``None``."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return torch
    return None


def leading_shape(
    shape: tuple[int, ...], trailing: tuple[int, ...], what: str, label: str
) -> tuple[int, ...]:
    """The leading (batch) part of ``shape``, after checking that it ends in ``trailing``."""
    k = len(trailing)
    if len(shape) < k or tuple(shape[len(shape) - k :]) != trailing:
        where = f" of {label}" if label else ""
        raise DegreeMismatchError(
            f"{what} of shape {tuple(shape)} does not end in the shape {trailing}{where}"
        )
    return tuple(shape[: len(shape) - k])


def float_dtype(dtype: np.dtype) -> np.dtype:
    """``dtype`` if it is floating or complex, else ``float64`` (averages of integers are not integers)."""
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


class TorchIndexCache:
    """Per-device copies of constant integer index arrays, and per-(device, dtype) copies of
    constant float arrays, made on first use."""

    def __init__(self) -> None:
        self._store: dict[tuple[str, Any, Any], Any] = {}

    def get(self, torch: Any, name: str, array: np.ndarray, like: Any) -> Any:
        """``array`` as a tensor on ``like``'s device; float arrays also take ``like``'s dtype."""
        floating = np.issubdtype(array.dtype, np.floating)
        dtype = like.dtype if floating else torch.long
        key = (name, like.device, dtype)
        tensor = self._store.get(key)
        if tensor is None:
            tensor = torch.from_numpy(np.array(array)).to(device=like.device, dtype=dtype)
            self._store[key] = tensor
        return tensor


def as_float_tensor(torch: Any, x: Any) -> Any:
    """``x`` itself if it is a floating or complex tensor, else ``x`` cast to the default dtype."""
    return x if (x.is_floating_point() or x.is_complex()) else x.to(torch.get_default_dtype())
