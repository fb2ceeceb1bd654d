"""What a task offers the trainer and the analyses."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import PermRep


class Task(Protocol):
    """Train and test sets as row batches ``x (n, n_in)``, ``y (n, n_out)`` (float64 tensors; the
    inputs carry ``rep_in``, the labels ``rep_out``, and the data are invariant under ``G``), the
    loss (one of :data:`eqlandscape.tasks.LOSSES`), and :meth:`describe` (a JSON-serializable record)."""

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


def check_student(task: Task, student: MLPArchitecture, owner: str) -> None:
    """Raise :class:`ConfigError` unless ``student`` maps the task's input rep to its output rep (``owner``
    names the task in the message, e.g. ``"teacher's"``). Rep equality compares the groups too."""
    for what, mine, theirs in (("input", task.rep_in, student.rep_in), ("output", task.rep_out, student.rep_out)):
        if mine != theirs:
            raise ConfigError(
                f"the student's {what} rep {theirs.name!r} of {theirs.group.name} does not match the "
                f"{owner} {what} rep {mine.name!r} of {mine.group.name}"
            )


def split(x: np.ndarray, y: np.ndarray, train_fraction: float, what: str = "samples") -> list[torch.Tensor]:
    """``[x_train, y_train, x_test, y_test]``: the first ``round(train_fraction * n)`` rows for training,
    the rest for testing. Raises :class:`ConfigError` naming ``train_fraction`` unless it lies strictly
    between 0 and 1 and leaves both sets non-empty."""
    if not 0 < train_fraction < 1:
        raise ConfigError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction!r}")
    n = len(x)
    n_train = round(train_fraction * n)
    if not 0 < n_train < n:
        raise ConfigError(f"{n} {what} with train_fraction={train_fraction} leave an empty train or test set")
    return [torch.as_tensor(a) for a in (x[:n_train], y[:n_train], x[n_train:], y[n_train:])]
