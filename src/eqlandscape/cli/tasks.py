"""Tasks from the command line: architectures from text, the teacher and data tasks of ``--task``."""

from __future__ import annotations

import re

from eqlandscape.errors import ConfigError
from eqlandscape.nn import EquivariantMLP
from eqlandscape.reps import PermRep, parse_rep_chain
from eqlandscape.tasks import (
    GraphTask,
    Task,
    TeacherStudentTask,
    digits_task,
    graph_task,
    plane_teacher,
    teacher_student,
)
from eqlandscape.tasks.digits import PIXEL_GROUPS
from eqlandscape.train.config import MAX_SEED

TEACHER_WEIGHTS = ("random", "plane")
PLANE_REPS = "natural -> natural -> trivial"
TASKS = ("teacher", "graphs", "digits")
DIGITS_STUDENT = "natural -> 4*regular -> 10*trivial"
"""The default digits student: the pixels, 4 regular blocks (4 |G| neurons: 16 for C4, 32 for D4), 10 class logits."""


def graph_nodes(group: str) -> int:
    """The number of nodes of ``--task graphs`` from its group ``S<n>`` (``n >= 2``)."""
    match = re.fullmatch(r"S(\d+)", group.strip())
    if match is None or int(match.group(1)) < 2:
        raise ConfigError(f"--task graphs needs the group S<n> of the graphs' n nodes (S10, say), got {group!r}")
    return int(match.group(1))


def _check_seed(name: str, value: int | None) -> None:
    """:class:`ConfigError` for a seed option outside ``0 .. MAX_SEED`` (``None``: the default, accepted)."""
    if value is not None and not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{name} {value} is out of range: seeds are integers 0 .. 2^63 - 1")


def make_data_task(
    task: str,
    group: str,
    *,
    count: int | None = None,
    train_fraction: float | None = None,
    data_seed: int | None = None,
) -> Task:
    """The task ``graphs`` (``S<n>``: ``count`` graphs, default 1,000, of ``n`` nodes in two blocks of
    ``n // 2`` and ``n - n // 2``) or ``digits`` (``group`` ``C4`` or ``D4`` acting on the pixels), split
    with ``train_fraction`` (default 0.8) and drawn or shuffled with ``data_seed`` (default 0)."""
    _check_seed("--data-seed", data_seed)
    fraction = 0.8 if train_fraction is None else train_fraction
    seed = 0 if data_seed is None else data_seed
    if task == "graphs":
        n = graph_nodes(group)
        return graph_task(1000 if count is None else count, (n // 2, n - n // 2), train_fraction=fraction, seed=seed)
    if task == "digits":
        if group.strip() not in PIXEL_GROUPS:
            raise ConfigError(f"--task digits needs the pixel group C4 or D4, got {group!r}")
        if count is not None:
            raise ConfigError(f"--count {count} applies to --task graphs, not digits")
        return digits_task(group.strip(), train_fraction=fraction, seed=seed)
    raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def default_student_spec(task: Task) -> tuple[PermRep, ...]:
    """The default student reps of a graphs or digits task."""
    if isinstance(task, GraphTask):
        return task.architecture_reps()
    return parse_rep_chain(task.rep_in.group, DIGITS_STUDENT)


def make_task(
    group: str,
    teacher_spec: str,
    *,
    activation: str = "relu",
    bias: bool = True,
    teacher_seed: int = 0,
    n_train: int = 512,
    n_test: int = 512,
    noise: float = 0.0,
    teacher_weights: str = "random",
    teacher_a: float = 1.0,
    teacher_b: float = -0.2,
    data_seed: int | None = None,
    population: bool = False,
) -> TeacherStudentTask:
    """A teacher with reps ``teacher_spec`` and its data drawn with ``data_seed`` (default
    ``teacher_seed``); with ``population`` (``--population``) the landscape is the expected loss over
    Gaussian inputs (:meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`).

    ``teacher_weights="random"``: a random equivariant teacher seeded by ``teacher_seed`` (with
    ``activation`` and ``bias``). ``"plane"``: the demo's teacher for any group, reps
    ``natural -> natural -> trivial``, ReLU, no biases, ``W_0 = a I + b (J - I)`` and output weights 1
    (:func:`~eqlandscape.tasks.plane_teacher`)."""
    _check_seed("--teacher-seed", teacher_seed)
    _check_seed("--data-seed", data_seed)
    if teacher_weights not in TEACHER_WEIGHTS:
        raise ConfigError(f"unknown teacher weights {teacher_weights!r}; expected one of {', '.join(TEACHER_WEIGHTS)}")
    teacher_reps = parse_rep_chain(group, teacher_spec)
    if teacher_weights == "plane":
        if [r.name for r in teacher_reps] != [p.strip() for p in PLANE_REPS.split("->")]:
            raise ConfigError(f"--teacher-weights plane needs the teacher reps {PLANE_REPS!r}, got {teacher_spec!r}")
        teacher = plane_teacher(teacher_a, teacher_b, group=group)
    else:
        teacher = EquivariantMLP(teacher_reps, activation, bias, seed=teacher_seed)
    seed = teacher_seed if data_seed is None else data_seed
    return teacher_student(teacher, n_train, n_test, noise=noise, seed=seed, population=population)
