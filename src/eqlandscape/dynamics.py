"""Equivariant, augmented and nominal training from one equivariant point: the distance of the weights
from ``E`` over training (Nordenfors et al.'s experiment; docs/design.md sections 4 and 6).

Every seed's student starts from the same point ``A_0 in E`` in every arm: its equivariant
initialization (:meth:`~eqlandscape.nn.MLPArchitecture.init_full` with ``init="equivariant"``),
passed to the trainer as ``initial``. The arms (:data:`ARMS`, :data:`MASK_ARMS`):

* ``equivariant``: gradient descent in ``E`` in orthonormal coordinates (``constrained``), the flow
  ``dA/dt = -P_E grad R(A)``;
* ``augmented``: all weights free, the loss averaged over the group (``augmented``),
  ``dA/dt = -grad R_aug(A)``; for ``A in E``, ``grad R_aug(A) = P_E grad R(A)``, so this arm stays
  in ``E`` up to rounding;
* ``nominal``: all weights free on the plain data (``free``), ``dA/dt = -grad R(A)``, which leaves
  ``E`` as soon as the data are not closed under the group;

and for the digits task the admissible subspaces of their image experiment, augmented training
with the first layer's weights restricted to a sparsity pattern ``L``
(:func:`~eqlandscape.tasks.digits_masks`), each arm starting from the projection of ``A_0`` onto
``L ∩ E`` (the orbits of the first layer inside the mask):

* ``augmented-local``: ``L`` the rotation-invariant local support, compatible with ``G`` (the
  projections onto ``L`` and ``E`` commute): stays in ``E``;
* ``augmented-skewed``: ``L`` the skewed support, incompatible: leaves ``E``;
* ``augmented-random``: ``L`` the local support in a random non-orthonormal basis (gradient descent
  preconditioned by its Gram matrix, which does not commute with the group): leaves ``E``.

The distance is the trainer's ``dist_to_E`` (:mod:`eqlandscape.train.metrics`): ``||A - P_E A|| /
||A||`` over all weights and biases of a student, ``P_E`` the orbit averaging of each tensor;
``test_accuracy`` the share of test samples classified right. :func:`dynamics` returns the
per-student curves (one row per arm, student and record step) and their mean and spread per arm and
record step as plain tables.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import eqlandscape
from eqlandscape.equivariant import admissible_equivariant_basis
from eqlandscape.errors import ConfigError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.tasks import DigitsTask, Task, digits_masks
from eqlandscape.train import TrainConfig, TrainResult, train
from eqlandscape.train.strategies import build_strategy

ARMS = ("equivariant", "augmented", "nominal")
"""The three arms of every task."""
MASK_ARMS = ("augmented-local", "augmented-skewed", "augmented-random")
"""The admissible-subspace arms of the digits task."""
_MASK_OF_ARM = {"augmented-local": "local", "augmented-skewed": "skewed", "augmented-random": "local"}
METRICS = ("dist_to_E", "equiv_error", "train_loss", "test_loss", "train_accuracy", "test_accuracy")
"""The per-student columns of :attr:`DynamicsResult.students` (the accuracies for classification tasks)."""


def default_arms(task: Task) -> tuple[str, ...]:
    """:data:`ARMS`, and :data:`MASK_ARMS` for a digits task."""
    return ARMS + MASK_ARMS if isinstance(task, DigitsTask) else ARMS


def arm_strategy(arm: str, samples: int | None = None) -> dict[str, Any]:
    """The strategy config (as a dict) of ``arm``, without the masks (:func:`arm_masks`); the augmented
    arms average over ``samples`` random group elements per model and step (``None``: all of ``G``)."""
    if arm == "equivariant":
        return {"name": "constrained", "parametrization": "orthonormal"}
    if arm == "nominal":
        return {"name": "free"}
    if arm == "augmented" or arm in MASK_ARMS:
        basis = "random" if arm == "augmented-random" else "orthonormal"
        return {"name": "augmented", "basis": basis, "samples": samples}
    raise ConfigError(f"unknown arm {arm!r}; expected one of {', '.join(ARMS + MASK_ARMS)}")


def arm_masks(arm: str, task: Task, student: MLPArchitecture) -> list[np.ndarray | None] | None:
    """The weight masks of ``arm`` (one per layer; the first layer's from
    :func:`~eqlandscape.tasks.digits_masks` on the student's first hidden rep), or ``None``.
    Raises :class:`ConfigError` for a mask arm on a task other than digits."""
    if arm not in MASK_ARMS:
        return None
    if not isinstance(task, DigitsTask):
        raise ConfigError(f"the arm {arm!r} applies to the digits task only")
    mask = digits_masks(task.group, student.reps[1])[_MASK_OF_ARM[arm]]
    return [mask] + [None] * (student.n_layers - 1)


@dataclass(frozen=True, eq=False)
class DynamicsResult:
    """What :func:`dynamics` returns.

    Attributes
    ----------
    arms : the arms, in the order trained.
    students : one row per arm, student and record step: ``arm``, ``seed``, ``step`` and the
        metrics of :data:`METRICS` that the task records.
    steps : one row per arm and record step: ``arm``, ``step``, ``students`` and, over the students,
        ``dist_to_E_mean``, ``dist_to_E_std`` (population standard deviation), ``dist_to_E_min``,
        ``dist_to_E_max``, ``test_loss_mean``, and for classification ``test_accuracy_mean``,
        ``test_accuracy_std``.
    results : the :class:`~eqlandscape.train.TrainResult` of each arm.
    strategies : each arm's strategy config (JSON).
    seconds : each arm's training time.
    config : the run's settings (its strategy replaced by each arm's).
    task, student : JSON descriptions; version : ``eqlandscape.__version__``.
    """

    arms: tuple[str, ...]
    students: pd.DataFrame
    steps: pd.DataFrame
    results: dict[str, TrainResult]
    strategies: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    config: TrainConfig
    task: dict[str, Any]
    student: dict[str, Any]
    version: str

    def metadata(self) -> dict[str, Any]:
        """Settings, arms' strategies and times, task, student and version as one JSON-serializable dict."""
        return {
            "config": self.config.model_dump(mode="json"),
            "arms": list(self.arms),
            "strategies": self.strategies,
            "seconds": self.seconds,
            "task": self.task,
            "student": self.student,
            "version": self.version,
        }


def dynamics(
    task: Task,
    student: MLPArchitecture,
    config: TrainConfig,
    arms: Sequence[str] | None = None,
    samples: int | None = None,
) -> DynamicsResult:
    """Train ``config.n_models`` students (seeds ``config.seeds``) of ``student`` on ``task`` in each of
    ``arms`` (default :func:`default_arms`) from the same equivariant initial point per seed, with the
    settings of ``config`` (optimizer, steps, batch size, record steps, dtype; its ``strategy`` is
    replaced by each arm's, its ``init`` must be ``"equivariant"``). Every arm's config and runtime
    strategy are built before any training, so that an arm that cannot run fails first. Raises
    :class:`ConfigError` for an unknown or repeated arm, a mask arm on a task other than digits, or
    ``init="free"``. The augmented arms average over all of ``G`` (``samples=None``) or over ``samples``
    uniformly random elements per model and step (needed where the group is too large to list,
    ``S_10``: all of ``G`` is refused there with an error naming its order)."""
    arms = default_arms(task) if arms is None else tuple(arms)
    if not arms:
        raise ConfigError("no arms to train; expected some of " + ", ".join(ARMS + MASK_ARMS))
    repeated = sorted({a for a in arms if arms.count(a) > 1})
    if repeated:
        raise ConfigError(f"arm {repeated[0]!r} is given twice")
    if config.init != "equivariant":
        raise ConfigError(f"the arms start from one equivariant point: init must be 'equivariant', got {config.init!r}")
    start = student.init_full(config.seeds, "equivariant", config.init_scale)
    plans = []
    for arm in arms:
        strategy = arm_strategy(arm, samples)
        masks = arm_masks(arm, task, student)
        initial = start
        if masks is not None:
            strategy["masks"] = [None if m is None else m.tolist() for m in masks]
            # the projection of the equivariant point onto L ∩ E: the first layer's orbits inside the mask
            inside = admissible_equivariant_basis(student.bases[0], masks[0])
            initial = [inside.project(start[0]), *start[1:]]
        arm_config = TrainConfig(**{**config.model_dump(), "strategy": strategy})
        # the runtime strategy of one student, so that an arm that cannot run fails before any training
        build_strategy(arm_config.strategy, student, arm_config.seeds[:1], arm_config.steps)
        plans.append((arm, arm_config, initial))
    results: dict[str, TrainResult] = {}
    seconds: dict[str, float] = {}
    for arm, arm_config, initial in plans:
        began = time.perf_counter()
        results[arm] = train(task, arm_config, student, initial=initial)
        seconds[arm] = time.perf_counter() - began
    students = _students_table(results)
    return DynamicsResult(
        arms=arms,
        students=students,
        steps=steps_table(students),
        results=results,
        strategies={arm: c.strategy.model_dump(mode="json", exclude={"masks"}) for arm, c, _ in plans},
        seconds=seconds,
        config=config,
        task=task.describe(),
        student=student.describe(),
        version=eqlandscape.__version__,
    )


def _students_table(results: dict[str, TrainResult]) -> pd.DataFrame:
    """One row per arm, student and record step (the curves of each arm's table, unrolled)."""
    frames = []
    for arm, result in results.items():
        steps = np.asarray(result.record_steps)
        seeds = result.table["seed"].to_numpy()
        columns: dict[str, Any] = {
            "arm": arm,
            "seed": np.repeat(seeds, steps.size),
            "step": np.tile(steps, seeds.size),
        }
        for metric in METRICS:
            if f"{metric}_curve" in result.table.columns:
                columns[metric] = result.curves(metric).reshape(-1)
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)


def steps_table(students: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over the students per arm and record step (:attr:`DynamicsResult.steps`)."""
    grouped = students.groupby(["arm", "step"], sort=False)
    table = grouped.size().rename("students").to_frame()
    dist = grouped["dist_to_E"]
    table["dist_to_E_mean"] = dist.mean()
    table["dist_to_E_std"] = dist.std(ddof=0)
    table["dist_to_E_min"] = dist.min()
    table["dist_to_E_max"] = dist.max()
    table["test_loss_mean"] = grouped["test_loss"].mean()
    if "test_accuracy" in students.columns:
        table["test_accuracy_mean"] = grouped["test_accuracy"].mean()
        table["test_accuracy_std"] = grouped["test_accuracy"].std(ddof=0)
    return table.reset_index()
