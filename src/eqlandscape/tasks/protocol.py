"""What a task offers the trainer and the analyses."""

from __future__ import annotations

from typing import Any, Protocol

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
