"""Annotate the students of a training run with their hidden symmetries.

For every student of a :class:`~eqlandscape.train.TrainResult`: the side of every barrier of its
architecture (:mod:`eqlandscape.symmetry.barriers`) at the start and at the end, the hidden rep its
final weights are equivariant under and its relation to the rep it started with
(:mod:`eqlandscape.symmetry.discovery`), its distinct hidden neurons, and, when the teacher has the
student's shapes, the distance to the teacher modulo hidden permutations and rescalings and the cycle
type of the aligning permutation (:func:`~eqlandscape.symmetry.neurons.align`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eqlandscape.symmetry.barriers import BarrierAnalysis, analyze_barriers
from eqlandscape.symmetry.discovery import discover_hidden_reps
from eqlandscape.symmetry.neurons import align, cycle_type
from eqlandscape.symmetry.reduction import dead_models
from eqlandscape.symmetry.weight_space import check_tol
from eqlandscape.train import TrainResult

COLUMNS = (
    "sides_start",
    "sides_end",
    "hidden_rep",
    "relation",
    "relabelling",
    "distinct_neurons",
    "teacher_distance",
    "teacher_cycle_type",
)


def _join(values: list[np.ndarray]) -> np.ndarray:
    """Per-layer string columns joined with ``"; "`` (one hidden layer: the column itself)."""
    if len(values) == 1:
        return values[0]
    return np.array(["; ".join(str(v) for v in row) for row in zip(*values, strict=True)], dtype=object)


def teacher_sides(teacher: Any, side_tol: float, analysis: BarrierAnalysis | None = None) -> list[str]:
    """The side (``+``, ``-`` or ``on`` within ``side_tol``) of every barrier of the teacher's
    architecture (``analysis``, by default :func:`~eqlandscape.symmetry.barriers.analyze_barriers` of
    ``teacher.arch``) on which the teacher network ``teacher`` lies; ``[]`` without barriers."""
    analysis = analyze_barriers(teacher.arch) if analysis is None else analysis
    return list(analysis.sides([t.detach() for t in teacher.full()], side_tol, np.zeros(1, bool))[0])


def annotate(result: TrainResult, *, side_tol: float = 1e-3, rep_tol: float = 0.05) -> pd.DataFrame:
    """One row per student, in the order of ``result.table``, with the columns :data:`COLUMNS`:

    * ``sides_start``, ``sides_end``: lists with one entry per barrier (``+``, ``-``, ``on`` within
      ``side_tol`` or ``dead``); a student is dead at the end when the table says so, at the start when
      its output is identically near 0 (:func:`~eqlandscape.symmetry.reduction.dead_models`);
    * ``hidden_rep``, ``relation``, ``relabelling``: the final hidden rep (relative residual ``rep_tol``),
      per hidden layer joined by ``"; "`` for deeper students;
    * ``distinct_neurons``: the number of clusters of coinciding hidden neurons (all hidden layers);
    * ``teacher_distance`` and ``teacher_cycle_type`` (the cycle type of the permutation that aligns the
      student's hidden neurons with the teacher's, over all hidden layers; ``[]`` for the identity):
      ``NaN`` and ``None`` when the teacher's tensors do not have the student's shapes.
    """
    side_tol, rep_tol = check_tol(side_tol, "side_tol"), check_tol(rep_tol, "rep_tol")
    arch = result.ensemble.arch
    initial = arch.join(result.initial_weights, result.initial_biases)
    final = arch.join(result.final_weights, result.final_biases)
    dead_end = result.table["dead"].to_numpy(bool)
    analysis = analyze_barriers(arch)
    start = analysis.sides(initial, side_tol, dead_models(arch, initial))
    end = analysis.sides(final, side_tol, dead_end)
    found = discover_hidden_reps(arch, final, tol=rep_tol, dead=dead_end)
    K = len(result.table)
    out: dict[str, Any] = {
        "sides_start": [list(r) for r in start],
        "sides_end": [list(r) for r in end],
        "hidden_rep": _join([d.hidden_rep for d in found]),
        "relation": _join([d.relation for d in found]),
        "relabelling": _join([d.relabelling for d in found]),
        "distinct_neurons": sum((d.clusters.max(axis=1) + 1 for d in found), np.zeros(K, dtype=np.int64)),
    }
    teacher = [np.asarray(t, dtype=np.float64) for t in result.task.get("teacher_tensors", [])]
    if [t.shape for t in teacher] == list(arch.shapes):
        aligned = align(arch, final, teacher)
        out["teacher_distance"] = aligned.distance
        out["teacher_cycle_type"] = [
            sorted((c for m in sorted(aligned.perms) for c in cycle_type(aligned.perms[m][k])), reverse=True)
            for k in range(K)
        ]
    else:
        out["teacher_distance"] = np.full(K, np.nan)
        out["teacher_cycle_type"] = [None] * K
    return pd.DataFrame(out, index=result.table.index)
