"""Results of a training run: a table with one row per model, the weights, the config and the version.

:class:`TrainResult` carries everything needed to reproduce and analyse a run:

* ``table`` (pandas): one row per model with ``seed``, ``strategy``, ``parametrization``,
  ``optimizer``, ``lr``, the final ``train_loss`` and ``test_loss`` (the task's loss, ``task.loss``:
  MSE, binary cross-entropy with logits or cross-entropy, on the train and test sets, without
  augmentation or penalty terms); for a classification task (loss ``bce`` or ``cross_entropy``) also
  ``train_accuracy`` and ``test_accuracy`` (:func:`eqlandscape.nn.functional.loss_and_accuracy_t`:
  the share of samples classified right; an output tie counts as wrong); ``success`` (not diverged,
  and: for ``mse`` the final test loss at most ``success_tol``; for a classification task the final
  test accuracy at least ``1 - success_tol``, a tolerance on the error rate, since a cross-entropy
  has no scale-free target value), ``converged`` (reached ``loss_tol`` and stopped), ``diverged``
  (its loss became NaN/inf: frozen at its last finite parameters), ``steps_taken`` (updates
  applied), ``output_rms`` (RMS output on the test set), ``dead`` (``output_rms`` at most ``dead_tol``
  times the RMS test label), ``dist_to_E`` and ``equiv_error`` at the end
  (:mod:`eqlandscape.train.metrics`), and the recorded trajectories as arrays ``(R,)`` in columns
  ``train_loss_curve``, ``test_loss_curve``, ``grad_norm_curve`` (norm of the coordinate gradient of
  the objective that the step used), ``dist_to_E_curve``, ``equiv_error_curve`` (and for
  classification ``train_accuracy_curve``, ``test_accuracy_curve``), recorded at ``record_steps``.
* full-space tensors of every model at the start and at the end: ``initial_weights`` /
  ``final_weights`` (lists over layers of ``(K, n_out, n_in)``) and ``initial_biases`` /
  ``final_biases`` (``(K, n_out)``, ``None`` without biases); with ``record_weights`` also
  ``weight_trajectories`` (flat order, each ``(K, R, *shape)``). For a strategy with a free part
  (``ace``, ``rpp``, ``scheduled``) the initial tensors are the equivariant part (the free part
  comes from the seed, so that they restart the run) and the final ones the model as trained.
* the strategy's own records (:mod:`eqlandscape.train.strategies`), final value and curve:
  ``penalty`` (its extra loss), ``test_loss_dropped`` (the test loss without the free part) and
  e.g. ``gamma_<l>``, ``lambda_<l>`` (ACE), described in docs/outputs.md.
* ``ensemble``: the final models (their final parametrization), ``config`` (the
  :class:`TrainConfig`), ``task`` and ``student`` (JSON-serializable descriptions) and
  ``version`` (``eqlandscape.__version__``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eqlandscape.nn import Ensemble
from eqlandscape.train.config import TrainConfig

CURVES = ("train_loss", "test_loss", "grad_norm", "dist_to_E", "equiv_error")
ACCURACY_CURVES = ("train_accuracy", "test_accuracy")
"""Recorded as well for a classification task (loss ``bce`` or ``cross_entropy``)."""


@dataclass(frozen=True, eq=False)
class TrainResult:
    """See the module docstring."""

    table: pd.DataFrame
    record_steps: np.ndarray
    initial_weights: list[np.ndarray]
    initial_biases: list[np.ndarray] | None
    final_weights: list[np.ndarray]
    final_biases: list[np.ndarray] | None
    weight_trajectories: list[np.ndarray] | None
    ensemble: Ensemble
    config: TrainConfig
    task: dict[str, Any]
    student: dict[str, Any]
    version: str

    def curves(self, metric: str) -> np.ndarray:
        """The recorded trajectory of ``metric`` (one of :data:`CURVES`, of :data:`ACCURACY_CURVES`
        for a classification task, or one the strategy adds) of every model, ``(K, R)``."""
        recorded = [c.removesuffix("_curve") for c in self.table.columns if c.endswith("_curve")]
        if metric not in recorded:
            raise KeyError(f"unknown metric {metric!r}; recorded: {', '.join(recorded)}")
        return np.stack(self.table[f"{metric}_curve"].to_numpy())

    def metadata(self) -> dict[str, Any]:
        """Config, task, student and version as one JSON-serializable dict."""
        return {
            "config": self.config.model_dump(mode="json"),
            "task": self.task,
            "student": self.student,
            "version": self.version,
        }
