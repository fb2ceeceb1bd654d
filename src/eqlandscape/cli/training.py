"""The pieces of ``eqlandscape train``: architectures from text, the run, and its files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eqlandscape.errors import RepSpecError
from eqlandscape.files import atomic_write
from eqlandscape.groups import group_from_name
from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.reps import PermRep, parse_rep
from eqlandscape.tasks import teacher_student
from eqlandscape.train import TrainConfig, TrainResult, train

SCALAR_COLUMNS = ("seed", "train_loss", "test_loss", "success", "dead", "diverged", "converged", "steps_taken")


def rep_chain(group_name: str, spec: str) -> tuple[PermRep, ...]:
    """The reps of an MLP's layers from ``"natural -> 2*trivial + S3/C2 -> trivial"``."""
    group = group_from_name(group_name)
    parts = [p.strip() for p in spec.split("->")]
    if len(parts) < 2 or not all(parts):
        raise RepSpecError(f"an MLP needs reps 'rho_0 -> ... -> rho_L' (at least two), got {spec!r}")
    return tuple(parse_rep(group, p) for p in parts)


def run_training(
    group: str,
    teacher_spec: str,
    student_spec: str | None,
    config: TrainConfig,
    *,
    activation: str,
    bias: bool,
    teacher_seed: int,
    n_train: int,
    n_test: int,
    noise: float,
) -> TrainResult:
    """Train ``config.n_models`` students of ``student_spec`` (default: the teacher's reps) on a
    random teacher with reps ``teacher_spec`` (seeded by ``teacher_seed``) and data of the same seed."""
    teacher_reps = rep_chain(group, teacher_spec)
    teacher = EquivariantMLP(teacher_reps, activation, bias, seed=teacher_seed)
    task = teacher_student(teacher, n_train, n_test, noise=noise, seed=teacher_seed)
    student = None if student_spec is None else MLPArchitecture(rep_chain(group, student_spec), activation, bias)
    return train(task, config, student)


def write_train_result(result: TrainResult, out_dir: Path) -> dict[str, Path]:
    """``students.csv`` (one row per student, scalar columns) and ``summary.json`` (config, task,
    student, version) in ``out_dir``, written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"students": out_dir / "students.csv", "summary": out_dir / "summary.json"}
    table = result.table[[c for c in result.table.columns if not c.endswith("_curve")]]
    atomic_write(paths["students"], lambda p: table.to_csv(p, index=False))
    atomic_write(paths["summary"], lambda p: p.write_text(json.dumps(result.metadata(), indent=2, default=float)))
    return paths


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
