"""The demo: does the hidden fixed-point plane ``a = b`` trap constrained training?

Problem (DESIGN.md section 4): ``S3`` on 3 points, reps ``natural -> natural -> trivial``, ReLU, no
biases; the teacher's hidden weight is ``W = a I + b (J - I)`` with ``a = 1``, ``b = -0.2`` and its
output weights are 1. The plane ``a = b`` (all hidden neurons identical) is the fixed-point subspace
of the hidden-neuron permutations inside the constrained space ``E``: gradient flow in the Euclidean
metric (``orthonormal`` coordinates, SGD) cannot cross it, so students that start on the side
``a < b`` cannot reach the teacher (``a > b``). Weight sharing (``orbit`` coordinates), Adam, free,
augmented and relaxed training change the metric or the space and may cross or go around it.

Each arm trains the same seeds (the same initial functions) with one strategy and optimizer. Every
student is classified by the side of the plane it started and ended on (``a>b``, ``a<b``, ``a=b``
within ``side_tol``), with students whose output ends identically near 0 in their own category
``dead`` (DESIGN.md section 4: the origin lies on every fixed-point subspace).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from eqlandscape import __version__
from eqlandscape.files import atomic_write
from eqlandscape.groups.notation import cycle_notation
from eqlandscape.tasks import demo_task
from eqlandscape.train import TrainConfig, TrainResult, plane_side, train
from eqlandscape.train.config import Config

SIDES = ("a>b", "a<b", "a=b")


class DemoConfig(Config):
    """Options of the demo (the defaults are the built-in demo). Every arm trains ``students``
    students with seeds ``seed .. seed + students - 1`` for ``steps`` full-batch steps. A student is
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
    success_tol: float = Field(1e-3, gt=0, allow_inf_nan=False)
    side_tol: float = Field(1e-3, ge=0, allow_inf_nan=False)
    dead_tol: float = Field(0.05, ge=0, allow_inf_nan=False)
    record_every: int = Field(25, ge=1)

    def arms(self) -> dict[str, TrainConfig]:
        """One training config per arm, keyed by a readable label."""
        sgd = {"name": "sgd", "lr": self.sgd_lr}
        adam = {"name": "adam", "lr": self.adam_lr}
        common = {
            "n_models": self.students,
            "first_seed": self.seed,
            "steps": self.steps,
            "record_every": self.record_every,
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
    """Per-student classification (``students``), the full results of each arm and the timing."""

    config: DemoConfig
    students: pd.DataFrame
    results: dict[str, TrainResult]
    seconds: dict[str, float]

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
        return out.reindex(pd.MultiIndex.from_product([list(self.results), SIDES])).dropna(subset=["students"]).astype(
            {"students": int}
        )

    def success_by_arm(self) -> pd.Series:
        return self.students.groupby("arm", sort=False)["success"].mean()

    def summary(self) -> dict[str, Any]:
        """A JSON-serializable record: config, version, timings, and the rate tables."""
        rates = self.rates().reset_index(names=["arm", "start_side"])
        return {
            "demo_config": self.config.model_dump(mode="json"),
            "arms": {label: r.metadata() for label, r in self.results.items()},
            "version": __version__,
            "seconds": self.seconds,
            "success_by_arm": self.success_by_arm().to_dict(),
            "rates": rates.to_dict(orient="records"),
        }


def teacher_relabelling(W: np.ndarray, w_out: np.ndarray, teacher: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which relabelling of the hidden neurons maps each student onto the teacher.

    For a one-hidden-layer ReLU network without biases and one output, neuron ``i`` contributes
    ``w_out[i] relu(W[i] x) = relu(w_out[i] W[i] x)`` when ``w_out[i] > 0`` (ReLU rescaling), so the
    function is fixed by the effective rows ``w_out[i] W[i]`` up to their order. For students
    ``W (K, n, n_in)``, ``w_out (K, n)`` and the teacher's effective rows ``teacher (n, n_in)`` this
    returns, over all ``n!`` orders ``sigma`` (student neuron ``sigma[j]`` plays teacher neuron ``j``),
    the best ``sigma`` (``(K, n)``) and its largest entrywise error (``(K,)``). A student that reaches
    the teacher with ``sigma`` other than the identity has found it under a relabelled (conjugate)
    hidden representation, the escape that Xie & Smidt describe.
    """
    n = W.shape[1]
    orders = np.array(list(itertools.permutations(range(n))))  # (n!, n)
    effective = W * w_out[:, :, None]  # (K, n, n_in)
    errors = np.abs(effective[:, orders] - teacher).max(axis=(-2, -1))  # (K, n!)
    best = errors.argmin(axis=1)
    return orders[best], errors[np.arange(len(best)), best]


def classify(result: TrainResult, side_tol: float, teacher: np.ndarray, match_tol: float = 0.05) -> pd.DataFrame:
    """One row per student: seed, final losses, success, dead, start side, end side (or ``dead``),
    the hidden relabelling (cycle notation, ``()`` for none) under which it matches the teacher's
    effective rows ``teacher`` to ``match_tol`` (empty when it matches under none), and
    ``relabelled``: it matches only under a relabelling other than the identity."""
    t = result.table
    start = plane_side(result.initial_weights[0], side_tol)
    end = plane_side(result.final_weights[0], side_tol)
    sigma, error = teacher_relabelling(result.final_weights[0], result.final_weights[1][:, 0, :], teacher)
    matches = error <= match_tol
    relabelling = np.array([cycle_notation(p) if m else "" for p, m in zip(sigma, matches, strict=True)])
    return pd.DataFrame(
        {
            "seed": t["seed"].to_numpy(),
            "train_loss": t["train_loss"].to_numpy(),
            "test_loss": t["test_loss"].to_numpy(),
            "success": t["success"].to_numpy(bool),
            "dead": t["dead"].to_numpy(bool),
            "diverged": t["diverged"].to_numpy(bool),
            "start_side": start,
            "end": np.where(t["dead"].to_numpy(bool), "dead", end),
            "relabelling": relabelling,
            "relabelled": matches & (sigma != np.arange(sigma.shape[1])).any(axis=1),
        }
    )


def run_demo(config: DemoConfig | None = None, progress: Callable[[str, float], None] | None = None) -> DemoResult:
    """Train every arm of the demo and classify its students. ``progress(label, seconds)`` is called
    after each arm."""
    config = config or DemoConfig()
    task = demo_task(config.n_train, config.n_test, seed=config.data_seed)
    W, w_out = (t.detach().numpy() for t in task.teacher.full())
    teacher = W * w_out[0][:, None]
    results, seconds, frames = {}, {}, []
    for label, train_config in config.arms().items():
        start = time.perf_counter()
        results[label] = result = train(task, train_config)
        seconds[label] = time.perf_counter() - start
        frames.append(classify(result, config.side_tol, teacher).assign(arm=label))
        if progress is not None:
            progress(label, seconds[label])
    students = pd.concat(frames, ignore_index=True)
    return DemoResult(config, students, results, seconds)


def write_outputs(result: DemoResult, out_dir: Path) -> dict[str, Path]:
    """Write ``students.csv`` (one row per student), ``summary.json`` (config, version, seeds,
    rates) and ``loss_curves.png`` into ``out_dir``; return their paths."""
    from eqlandscape.plots import demo_loss_curves

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "students": out_dir / "students.csv",
        "summary": out_dir / "summary.json",
        "figure": out_dir / "loss_curves.png",
    }
    atomic_write(paths["students"], lambda p: result.students.to_csv(p, index=False))
    atomic_write(paths["summary"], lambda p: p.write_text(json.dumps(result.summary(), indent=2, default=float)))
    atomic_write(paths["figure"], lambda p: demo_loss_curves(result).savefig(p, dpi=110, format="png"))
    return paths
