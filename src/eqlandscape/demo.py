"""The demo: does a hidden fixed-point subspace trap constrained training?

Problem (docs/design.md section 4): ``S3`` on 3 points, reps ``natural -> natural -> trivial``, ReLU, no
biases; the teacher's hidden weight is ``W = a I + b (J - I)`` with ``a = 1``, ``b = -0.2`` and its
output weights are 1. The architecture has one barrier (:func:`~eqlandscape.symmetry.analyze_barriers`),
the plane ``a = b`` (all hidden neurons identical; ``a = W0[0,0]``, ``b = W0[0,1]``): gradient flow in
the Euclidean metric (``orthonormal`` coordinates, SGD) cannot cross it, so students that start on the
side ``-`` (``a < b``) cannot reach the teacher (side ``+``). Weight sharing (``orbit`` coordinates),
Adam, free, augmented and relaxed training change the metric or the space and may cross or go around it.

Each arm trains the same seeds (the same initial functions) with one strategy and optimizer. Every
student is annotated by :func:`~eqlandscape.symmetry.annotate.annotate`: the side of the barrier it
started and ended on (``+``, ``-``, ``on`` within ``side_tol``), students whose output ends identically
near 0 in their own category ``dead`` (docs/design.md section 4: the origin lies on every fixed-point
subspace), the hidden rep it ended in and its relation to the start rep, and the cycle type of the
permutation aligning its hidden neurons with the teacher's.

The data sample matters (docs/design.md section 4, escaping: the finite sample is what breaks the
symmetry for SGD): from the wrong side, whether relaxed SGD students reach the teacher depends on the
train set at the demo's size and budget. Each arm's students are therefore split over several data
samples, each group with its own train set, and :meth:`DemoResult.spread` gives the success per arm
and start side as the mean and range over the samples.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from eqlandscape import __version__
from eqlandscape.files import write_result_dir
from eqlandscape.symmetry import BarrierAnalysis, analyze_barriers
from eqlandscape.symmetry.annotate import annotate, teacher_sides
from eqlandscape.tasks import demo_task
from eqlandscape.train import TrainConfig, TrainProgress, TrainResult, train
from eqlandscape.train.config import Config

SIDES = ("+", "-", "on")


class DemoConfig(Config):
    """Options of the demo (the defaults are the built-in demo). Every arm trains ``students``
    students with seeds ``seed .. seed + students - 1`` for ``steps`` full-batch steps, split into
    ``data_seeds`` consecutive groups (:meth:`samples`): group ``j`` trains on its own data sample,
    drawn with the seed ``data_seed + j``. A student is
    ``dead`` when the RMS of its output on the test set is at most ``dead_tol`` times the RMS label
    (its loss is then within ``dead_tol^2`` of the loss of the zero function)."""

    students: int = Field(512, ge=1)
    steps: int = Field(3000, ge=1)
    sgd_lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    adam_lr: float = Field(0.01, gt=0, allow_inf_nan=False)
    switch_step: int = Field(1000, ge=0)
    n_train: int = Field(512, ge=1)
    n_test: int = Field(512, ge=1)
    seed: int = Field(0, ge=0)
    data_seed: int = Field(12345, ge=0)
    data_seeds: int = Field(4, ge=1)
    success_tol: float = Field(1e-3, gt=0, allow_inf_nan=False)
    side_tol: float = Field(1e-3, ge=0, allow_inf_nan=False)
    dead_tol: float = Field(0.05, ge=0, allow_inf_nan=False)
    record_every: int = Field(25, ge=1)
    workers: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _enough_students(self) -> DemoConfig:
        if self.data_seeds > self.students:
            raise ValueError(f"data_seeds={self.data_seeds} needs at least as many students, got {self.students}")
        return self

    def samples(self) -> list[tuple[int, int, int]]:
        """``(data_seed, first_seed, students)`` of each data sample: the seeds ``seed ..`` split into
        ``data_seeds`` consecutive groups as even as possible (the first groups one larger)."""
        sizes = [len(part) for part in np.array_split(np.arange(self.students), self.data_seeds)]
        firsts = self.seed + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return [(self.data_seed + j, int(f), n) for j, (f, n) in enumerate(zip(firsts, sizes, strict=True))]

    def arms(self, students: int | None = None, first_seed: int | None = None) -> dict[str, TrainConfig]:
        """One training config per arm, keyed by a readable label (``students`` students from
        ``first_seed`` on; by default all of them)."""
        sgd = {"name": "sgd", "lr": self.sgd_lr}
        adam = {"name": "adam", "lr": self.adam_lr}
        common = {
            "n_models": self.students if students is None else students,
            "first_seed": self.seed if first_seed is None else first_seed,
            "steps": self.steps,
            "record_every": self.record_every,
            "workers": self.workers,
            "success_tol": self.success_tol,
            "dead_tol": self.dead_tol,
        }
        orthonormal = {"name": "constrained", "parametrization": "orthonormal"}
        orbit = {"name": "constrained", "parametrization": "orbit"}
        relaxed = {"name": "relaxed", "parametrization": "orthonormal", "switch_step": self.switch_step}
        specs: dict[str, tuple[dict[str, Any] | str, dict[str, Any]]] = {
            "constrained orthonormal SGD": (orthonormal, sgd),
            "constrained orthonormal Adam": (orthonormal, adam),
            "constrained orbit SGD": (orbit, sgd),
            "constrained orbit Adam": (orbit, adam),
            "free SGD": ("free", sgd),
            "free Adam": ("free", adam),
            "augmented SGD": ("augmented", sgd),
            "relaxed SGD": (relaxed, sgd),
            "relaxed Adam": (relaxed, adam),
        }
        return {label: TrainConfig(strategy=s, optimizer=o, **common) for label, (s, o) in specs.items()}


@dataclass(frozen=True, eq=False)
class DemoResult:
    """Per-student classification (``students``, with the ``data_seed`` of each student's sample),
    the results of each arm (one :class:`TrainResult` per data sample, in the order of
    :meth:`DemoConfig.samples`), the timing, the barrier analysis of the architecture, the side the
    teacher lies on, and ``partial``: the run was interrupted and holds only the arms that had
    finished."""

    config: DemoConfig
    students: pd.DataFrame
    results: dict[str, list[TrainResult]]
    seconds: dict[str, float]
    barriers: BarrierAnalysis
    teacher_side: str
    partial: bool = False

    def rates(self) -> pd.DataFrame:
        """Per arm and starting side: number of students, success rate, the share that reached the
        teacher under a relabelled hidden representation, and where they ended."""
        df = self.students
        ended = pd.crosstab([df["arm"], df["start_side"]], df["end"], normalize="index")
        ended = ended.reindex(columns=[*SIDES, "dead"], fill_value=0.0)
        out = (
            df.assign(relabelled=df["success"] & df["relabelled"])
            .groupby(["arm", "start_side"], sort=False)
            .agg(students=("seed", "size"), success=("success", "mean"), relabelled=("relabelled", "mean"))
        )
        out = out.join(ended.add_prefix("ended "))
        return (
            out.reindex(pd.MultiIndex.from_product([list(self.results), SIDES]))
            .dropna(subset=["students"])
            .astype({"students": int})
        )

    @property
    def barrier_text(self) -> str:
        """The barriers' equations, ``"; "``-joined (``W0[0,0] = W0[0,1]`` for the demo)."""
        return "; ".join(p.equations[0].text for p in self.barriers.barriers)

    def success_by_arm(self) -> pd.Series:
        return self.students.groupby("arm", sort=False)["success"].mean()

    def sample_rates(self) -> pd.DataFrame:
        """Per arm, starting side and data sample: ``students`` and ``success`` rate."""
        df = self.students
        return (
            df.groupby(["arm", "start_side", "data_seed"], sort=False)
            .agg(students=("seed", "size"), success=("success", "mean"))
            .reset_index()
        )

    def spread(self) -> pd.DataFrame:
        """Per arm and starting side: the success rate over the data samples, ``mean``, ``lowest`` and
        ``highest`` (each sample's rate over its own students who started on that side), and the
        number of ``samples`` that had such students."""
        per = self.sample_rates().groupby(["arm", "start_side"], sort=False)["success"]
        out = per.agg(mean="mean", lowest="min", highest="max", samples="size").reset_index()
        order = {s: k for k, s in enumerate(SIDES)}
        arms = {a: k for k, a in enumerate(self.results)}
        keys = out["arm"].map(arms) * len(SIDES) + out["start_side"].map(order).fillna(len(SIDES))
        return out.iloc[np.argsort(keys.to_numpy(), kind="stable")].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """A JSON-serializable record: config, version, timings, and the rate tables."""
        rates = self.rates().reset_index(names=["arm", "start_side"])
        return {
            "demo_config": self.config.model_dump(mode="json"),
            "partial": self.partial,
            "arms_finished": list(self.results),
            "arms": {
                label: runs[0].metadata() | {"data_seeds": [r.task["seed"] for r in runs]}
                for label, runs in self.results.items()
            },
            "data_seeds": [d for d, _, _ in self.config.samples()],
            "version": __version__,
            "seconds": self.seconds,
            "success_by_arm": self.success_by_arm().to_dict(),
            "rates": rates.to_dict(orient="records"),
            "barriers": [p.as_dict() for p in self.barriers.barriers],
            "teacher_side": self.teacher_side,
            "escapes": escapes(self.students, self.teacher_side).to_dict(orient="records"),
            "success_by_sample": self.sample_rates().to_dict(orient="records"),
            "spread": self.spread().to_dict(orient="records"),
        }


def classify(result: TrainResult, side_tol: float) -> pd.DataFrame:
    """One row per student: seed, final losses, success, dead, diverged, the barrier sides it started
    and ended on (``start_side``; ``end``, or ``dead``; comma-joined when there are several barriers),
    the final ``hidden_rep``, its ``relation`` to the start rep and ``relabelling``, the
    ``teacher_cycle_type`` of the permutation aligning it with the teacher, and ``relabelled``: it
    reached the teacher under a conjugate hidden rep (a relabelling outside the rep's centralizer)."""
    t = result.table
    notes = annotate(result, side_tol=side_tol)
    dead = t["dead"].to_numpy(bool)
    success = t["success"].to_numpy(bool)
    return pd.DataFrame(
        {
            "seed": t["seed"].to_numpy(),
            "train_loss": t["train_loss"].to_numpy(),
            "test_loss": t["test_loss"].to_numpy(),
            "success": success,
            "dead": dead,
            "diverged": t["diverged"].to_numpy(bool),
            "start_side": [",".join(s) for s in notes["sides_start"]],
            "end": np.where(dead, "dead", [",".join(s) for s in notes["sides_end"]]),
            "hidden_rep": notes["hidden_rep"].to_numpy(),
            "relation": notes["relation"].to_numpy(),
            "relabelling": notes["relabelling"].to_numpy(),
            "teacher_cycle_type": [str(c) for c in notes["teacher_cycle_type"]],
            "relabelled": success & (notes["relation"].to_numpy() == "conjugate"),
        }
    )


def escapes(students: pd.DataFrame, teacher_side: str) -> pd.DataFrame:
    """Per arm, the students that reached the teacher from another side than the teacher's, counted
    by the hidden rep, relation and teacher cycle type they ended in."""
    escaped = students[students["success"] & (students["start_side"] != teacher_side)]
    keys = ["arm", "hidden_rep", "relation", "teacher_cycle_type"]
    return escaped.groupby(keys, sort=False).size().rename("students").reset_index()


def _sample_progress(
    on_step: Callable[[str, TrainProgress], None], label: str, sample: int, samples: int, progress: TrainProgress
) -> None:
    """An arm's progress over all its samples: sample ``sample`` of ``samples`` is at ``progress``."""
    on_step(label, dataclasses.replace(progress, fraction=(sample + progress.fraction) / samples))


def run_demo(
    config: DemoConfig | None = None,
    progress: Callable[[str, float], None] | None = None,
    on_step: Callable[[str, TrainProgress], None] | None = None,
) -> DemoResult:
    """Train every arm of the demo and classify its students. ``progress(label, seconds)`` is called
    after each arm, ``on_step(label, progress)`` while an arm trains (a :class:`~eqlandscape.train.TrainProgress`).
    An interrupt (``KeyboardInterrupt``) after at least one arm has finished ends the
    run early with the finished arms (``partial=True``); before that, it propagates."""
    config = config or DemoConfig()
    samples = config.samples()
    tasks = [demo_task(config.n_train, config.n_test, seed=data_seed) for data_seed, _, _ in samples]
    arm_configs = [config.arms(count, first) for _, first, count in samples]  # per sample, per arm
    results: dict[str, list[TrainResult]] = {}
    seconds, frames = {}, []
    partial = False
    try:
        for label in arm_configs[0]:
            start = time.perf_counter()
            runs, classified = [], []
            for j, (task, (data_seed, _, _)) in enumerate(zip(tasks, samples, strict=True)):
                report = None if on_step is None else functools.partial(_sample_progress, on_step, label, j, len(tasks))
                result = train(task, arm_configs[j][label], progress=report)
                runs.append(result)
                classified.append(classify(result, config.side_tol).assign(arm=label, data_seed=data_seed))
            results[label], seconds[label] = runs, time.perf_counter() - start
            frames.extend(classified)
            if progress is not None:
                progress(label, seconds[label])
    except KeyboardInterrupt:
        if not results:
            raise
        partial = True
    students = pd.concat(frames, ignore_index=True)
    analysis = analyze_barriers(tasks[0].arch)
    teacher_side = ",".join(teacher_sides(tasks[0].teacher, config.side_tol, analysis))
    return DemoResult(config, students, results, seconds, analysis, teacher_side, partial)


def write_outputs(result: DemoResult, out_dir: Path) -> dict[str, Path]:
    """Write ``students.csv`` (one row per student), ``summary.json`` (config, version, seeds,
    rates) and ``loss_curves.png`` as the directory ``out_dir``, replacing an earlier one as a whole
    (:func:`~eqlandscape.files.write_result_dir`); return their paths (keys ``students``, ``summary``,
    ``figure``)."""
    from eqlandscape.plots import demo_loss_curves

    figure = demo_loss_curves(result.results, result.students, result.teacher_side, result.barrier_text)
    paths = write_result_dir(
        out_dir,
        {
            "students.csv": lambda p: result.students.to_csv(p, index=False),
            "summary.json": lambda p: p.write_text(json.dumps(result.summary(), indent=2, default=float)),
            "loss_curves.png": lambda p: figure.savefig(p, dpi=110, format="png"),
        },
    )
    return {"students": paths["students.csv"], "summary": paths["summary.json"], "figure": paths["loss_curves.png"]}
