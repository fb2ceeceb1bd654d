"""Teacher-student problems with ``G``-invariant data.

A teacher :class:`~eqlandscape.nn.EquivariantMLP` ``f*`` (given or random weights) labels inputs
drawn from a ``G``-invariant distribution: i.i.d. coordinates (standard Gaussian by default, or
uniform on ``[-sqrt 3, sqrt 3]``, unit variance), which every permutation rep leaves invariant.
Train labels are ``y = f*(x) + noise * eps`` with ``eps`` standard Gaussian; test labels are clean.
Students may have other hidden reps than the teacher, but the same input and output reps.

Data are row batches ``x (n, n_in)``, ``y (n, n_out)``, float64, drawn from ``seed`` in the order
train inputs, test inputs, label noise (so changing ``noise`` keeps the inputs).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.reps import PermRep, natural, trivial
from eqlandscape.tasks.protocol import check_student

INPUTS = ("gaussian", "uniform")


@dataclass(frozen=True, eq=False)
class TeacherStudentTask:
    """A teacher and its data. Attributes ``x_train (n_train, n_in)``, ``y_train (n_train, n_out)``,
    ``x_test``, ``y_test`` (float64 tensors), and the options they were drawn with."""

    teacher: EquivariantMLP
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    noise: float
    seed: int
    inputs: str

    @property
    def arch(self) -> MLPArchitecture:
        """The teacher's architecture (a natural default for the students)."""
        return self.teacher.arch

    @property
    def rep_in(self) -> PermRep:
        return self.arch.rep_in

    @property
    def rep_out(self) -> PermRep:
        return self.arch.rep_out

    @property
    def loss(self) -> str:
        """Teacher-student problems regress the teacher's outputs: mean squared error."""
        return "mse"

    def check_student(self, student: MLPArchitecture) -> None:
        """Raise :class:`ConfigError` unless the student maps the teacher's input rep to its output rep."""
        check_student(self, student, "teacher's")

    def describe(self) -> dict[str, Any]:
        """A JSON-serializable record of the task: teacher architecture and weights, data options."""
        return {
            "teacher": self.arch.describe(),
            "teacher_tensors": [t.detach().cpu().tolist() for t in self.teacher.full()],
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]),
            "noise": self.noise,
            "seed": self.seed,
            "inputs": self.inputs,
        }


def teacher_student(
    teacher: EquivariantMLP,
    n_train: int = 512,
    n_test: int = 512,
    *,
    noise: float = 0.0,
    seed: int = 0,
    inputs: str = "gaussian",
) -> TeacherStudentTask:
    """Draw the train and test sets of ``teacher`` (see the module docstring)."""
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ConfigError(f"noise must be a finite number >= 0, got {noise!r}")
    if inputs not in INPUTS:
        raise ConfigError(f"unknown input distribution {inputs!r}; expected one of {', '.join(INPUTS)}")
    rng = np.random.default_rng(seed)
    n_in = teacher.arch.rep_in.size

    def draw(n: int) -> np.ndarray:
        if inputs == "gaussian":
            return rng.standard_normal((n, n_in))
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), (n, n_in))

    x_train, x_test = (torch.as_tensor(draw(n)) for n in (n_train, n_test))
    teacher64 = copy.deepcopy(teacher).double().requires_grad_(False)
    with torch.no_grad():
        y_train, y_test = teacher64(x_train), teacher64(x_test)
    if noise:
        y_train = y_train + noise * torch.as_tensor(rng.standard_normal(tuple(y_train.shape)))
    return TeacherStudentTask(teacher64, x_train, y_train, x_test, y_test, float(noise), int(seed), inputs)


def plane_teacher(a: float = 1.0, b: float = -0.2, group: str = "S3") -> EquivariantMLP:
    """The teacher of the demo problem (docs/design.md section 4): reps ``natural -> natural -> trivial``
    of ``group`` (``S_n`` on ``n`` points), ReLU, no biases, ``W_0 = a I + b (J - I)`` and output
    weights 1. Its hidden layer lies off the plane ``a = b`` when ``a != b``."""
    G = group_from_name(group)
    nat = natural(G)
    n = nat.size
    W0 = a * np.eye(n) + b * (np.ones((n, n)) - np.eye(n))
    return EquivariantMLP.from_weights(
        (nat, nat, trivial(G)), [W0, np.ones((1, n))], activation="relu", dtype=torch.float64
    )


def demo_task(n_train: int = 512, n_test: int = 512, *, seed: int = 0) -> TeacherStudentTask:
    """The demo problem of issue 3: :func:`plane_teacher` with ``W_0 = I - 0.2 (J - I)`` on ``S3``,
    Gaussian inputs, no label noise."""
    return teacher_student(plane_teacher(), n_train, n_test, seed=seed)
