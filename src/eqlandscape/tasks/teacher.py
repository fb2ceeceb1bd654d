"""Teacher-student problems with ``G``-invariant data.

A teacher :class:`~eqlandscape.nn.EquivariantMLP` ``f*`` (given or random weights) labels inputs
drawn from a ``G``-invariant distribution: i.i.d. coordinates (standard Gaussian by default, or
uniform on ``[-sqrt 3, sqrt 3]``, unit variance), which every permutation rep leaves invariant.
Train labels are ``y = f*(x) + noise * eps`` with ``eps`` standard Gaussian; test labels are clean.
Students may have other hidden reps than the teacher, but the same input and output reps.

Data are row batches ``x (n, n_in)``, ``y (n, n_out)``, float64, drawn from ``seed`` in the order
train inputs, test inputs, label noise (so changing ``noise`` keeps the inputs).

**Population option.** With ``population=True`` the landscape is the expected loss over the input
distribution instead of the finite train set (:meth:`TeacherStudentTask.expected_loss`, the closed form
of :mod:`eqlandscape.landscape.population`): for one-hidden-layer ReLU teachers and students without
biases and standard Gaussian inputs (docs/design.md section 4, the demo's setting). The finite train
and test sets are still drawn (the test set measures what a student learned, as before).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
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
    population: bool = False

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
            "population": self.population,
        }

    @cached_property
    def _population_weights(self) -> dict[str, torch.Tensor]:
        """The teacher's ``W0, W1`` for :meth:`expected_loss`, checked and converted once."""
        return _population_teacher(self.teacher, self.inputs)

    def expected_loss(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """The expected mean squared error ``(K,)`` over ``x ~ N(0, I)`` of ``K`` students given by their
        full weights in flat order (``W0 (K, n_h, n_in)``, ``W1 (K, n_out, n_h)``), against the labels
        ``f*(x) + noise * eps``::

            L = (1/n_out) E ||W1 relu(W0 x) - f*(x)||^2 + noise^2

        in closed form (:func:`~eqlandscape.landscape.population.batched_population_loss`, the
        arc-cosine kernel), differentiable in the weights. Each student's value is computed from its
        own entries only (elementwise operations and sums), so it does not depend on the other students
        of the batch. The students are taken to be ReLU networks without biases; :class:`ConfigError`
        names what is unsupported: a teacher that is not a one-hidden-layer ReLU network without biases,
        inputs other than ``gaussian``, students with biases or other depths."""
        from eqlandscape.landscape.population import batched_population_loss

        teacher = self._population_weights
        names = ("W0", "W1")
        if len(tensors) != 2:
            what = "biases" if len(tensors) == 4 else f"{len(tensors)} tensors"
            raise ConfigError(
                f"the expected loss needs a one-hidden-layer student without biases (tensors W0, W1); got {what}"
            )
        students = {n: torch.as_tensor(t) for n, t in zip(names, tensors, strict=True)}
        return batched_population_loss(students, teacher) + self.noise**2


def teacher_student(
    teacher: EquivariantMLP,
    n_train: int = 512,
    n_test: int = 512,
    *,
    noise: float = 0.0,
    seed: int = 0,
    inputs: str = "gaussian",
    population: bool = False,
) -> TeacherStudentTask:
    """Draw the train and test sets of ``teacher`` (see the module docstring); with ``population`` the
    task's landscape is the expected loss (:meth:`TeacherStudentTask.expected_loss`), and a teacher or
    input distribution it does not cover raises :class:`ConfigError` here."""
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ConfigError(f"noise must be a finite number >= 0, got {noise!r}")
    if inputs not in INPUTS:
        raise ConfigError(f"unknown input distribution {inputs!r}; expected one of {', '.join(INPUTS)}")
    if population:
        _population_teacher(teacher, inputs)
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
    return TeacherStudentTask(
        teacher64, x_train, y_train, x_test, y_test, float(noise), int(seed), inputs, bool(population)
    )


def _population_teacher(teacher: EquivariantMLP, inputs: str) -> dict[str, torch.Tensor]:
    """The teacher's ``{"W0", "W1"}`` (float64, detached) when the population loss covers the setting;
    else :class:`ConfigError` naming what is unsupported."""
    arch = teacher.arch
    unsupported = []
    if arch.n_layers != 2:
        unsupported.append(f"{arch.n_layers} layers (one hidden layer needed)")
    if arch.activation != "relu":
        unsupported.append(f"activation {arch.activation!r} (relu needed)")
    if arch.bias:
        unsupported.append("biases")
    if inputs != "gaussian":
        unsupported.append(f"inputs {inputs!r} (gaussian needed)")
    if unsupported:
        raise ConfigError(
            "the population loss covers one-hidden-layer ReLU teachers without biases on Gaussian inputs; "
            f"unsupported: {', '.join(unsupported)}"
        )
    W0, W1 = (t.detach().to(torch.float64) for t in teacher.full())
    return {"W0": W0, "W1": W1}


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
