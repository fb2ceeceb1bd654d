"""The pieces of ``eqlandscape train``: architectures from text, the run, and its files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from eqlandscape.errors import ConfigError, RepSpecError
from eqlandscape.files import write_result_dir
from eqlandscape.groups import group_from_name
from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.reps import PermRep, parse_rep
from eqlandscape.symmetry.annotate import annotate
from eqlandscape.tasks import TeacherStudentTask, plane_teacher, teacher_student
from eqlandscape.train import TrainConfig, TrainProgress, TrainResult, train
from eqlandscape.train.config import MAX_SEED

TEACHER_WEIGHTS = ("random", "plane")
PLANE_REPS = "natural -> natural -> trivial"


def rep_chain(group_name: str, spec: str) -> tuple[PermRep, ...]:
    """The reps of an MLP's layers from ``"natural -> 2*trivial + S3/C2 -> trivial"``."""
    group = group_from_name(group_name)
    parts = [p.strip() for p in spec.split("->")]
    if len(parts) < 2 or not all(parts):
        raise RepSpecError(f"an MLP needs reps 'rho_0 -> ... -> rho_L' (at least two), got {spec!r}")
    return tuple(parse_rep(group, p) for p in parts)


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
) -> TeacherStudentTask:
    """A teacher with reps ``teacher_spec`` and its data drawn with ``data_seed`` (default
    ``teacher_seed``).

    ``teacher_weights="random"``: a random equivariant teacher seeded by ``teacher_seed`` (with
    ``activation`` and ``bias``). ``"plane"``: the demo's teacher for any group, reps
    ``natural -> natural -> trivial``, ReLU, no biases, ``W_0 = a I + b (J - I)`` and output weights 1
    (:func:`~eqlandscape.tasks.plane_teacher`)."""
    for name, value in (("--teacher-seed", teacher_seed), ("--data-seed", data_seed)):
        if value is not None and not 0 <= value <= MAX_SEED:
            raise ConfigError(f"{name} {value} is out of range: seeds are integers 0 .. 2^63 - 1")
    if teacher_weights not in TEACHER_WEIGHTS:
        raise ConfigError(f"unknown teacher weights {teacher_weights!r}; expected one of {', '.join(TEACHER_WEIGHTS)}")
    teacher_reps = rep_chain(group, teacher_spec)
    if teacher_weights == "plane":
        if [r.name for r in teacher_reps] != [p.strip() for p in PLANE_REPS.split("->")]:
            raise ConfigError(f"--teacher-weights plane needs the teacher reps {PLANE_REPS!r}, got {teacher_spec!r}")
        teacher = plane_teacher(teacher_a, teacher_b, group=group)
    else:
        teacher = EquivariantMLP(teacher_reps, activation, bias, seed=teacher_seed)
    seed = teacher_seed if data_seed is None else data_seed
    return teacher_student(teacher, n_train, n_test, noise=noise, seed=seed)


def run_training(
    group: str,
    teacher_spec: str,
    student_spec: str | None,
    config: TrainConfig,
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    **task_options: Any,
) -> TrainResult:
    """Train ``config.n_models`` students of ``student_spec`` (default: the teacher's reps) on the task
    :func:`make_task` builds from ``task_options``; ``progress`` as for :func:`~eqlandscape.train.train`."""
    task = make_task(group, teacher_spec, **task_options)
    activation, bias = task_options.get("activation", "relu"), task_options.get("bias", True)
    student = None if student_spec is None else MLPArchitecture(rep_chain(group, student_spec), activation, bias)
    return train(task, config, student, progress=progress)


def students_table(result: TrainResult) -> pd.DataFrame:
    """One row per student: the scalar columns of the run's table (``test_loss`` also as
    ``final_test_loss``) and the symmetry annotation (:func:`~eqlandscape.symmetry.annotate.annotate`)."""
    t = result.table
    scalars = t[[c for c in t.columns if not c.endswith("_curve")]].assign(final_test_loss=t["test_loss"])
    return pd.concat([scalars, annotate(result)], axis=1)


def write_train_result(result: TrainResult, table: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """``students.csv`` (``table``: one row per student) and ``summary.json`` (config, task, student,
    version) as the directory ``out_dir``, replacing an earlier one as a whole."""
    paths = write_result_dir(
        out_dir,
        {
            "students.csv": lambda p: table.to_csv(p, index=False),
            "summary.json": lambda p: p.write_text(json.dumps(result.metadata(), indent=2, default=float)),
        },
    )
    return {"students": paths["students.csv"], "summary": paths["summary.json"]}


def train_summary(result: TrainResult, seconds: float) -> dict[str, Any]:
    """Aggregate numbers of a run: success rate, losses, counts of dead/diverged students, time."""
    t = result.table
    return {
        "students": len(t),
        "success_rate": float(t["success"].mean()),
        "median_test_loss": float(t["test_loss"].median()),
        "dead": int(t["dead"].sum()),
        "diverged": int(t["diverged"].sum()),
        "converged": int(t["converged"].sum()),
        "seconds": seconds,
        "us_per_student_step": 1e6 * seconds / (len(t) * result.config.steps),
    }
