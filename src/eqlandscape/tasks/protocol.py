"""What a task offers the trainer and the analyses."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from eqlandscape.reps import PermRep

LOSSES = ("mse", "bce", "cross_entropy")
"""Mean squared error; binary cross-entropy with logits (``n_out = 1``, labels 0/1); cross-entropy over
``C`` classes (the output rep ``C*trivial``, labels one-hot rows)."""


class Task(Protocol):
    """Train and test sets as row batches ``x (n, n_in)``, ``y (n, n_out)`` (float64 tensors; the
    inputs carry ``rep_in``, the labels ``rep_out``, and the data are invariant under ``G``), the
    loss (one of :data:`LOSSES`), and :meth:`describe` (a JSON-serializable record)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def rep_in(self) -> PermRep: ...

    @property
    def rep_out(self) -> PermRep: ...

    @property
    def loss(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...
