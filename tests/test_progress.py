"""Progress of a training run: the trainer's reports and the command line's bar."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from eqlandscape.cli import main
from eqlandscape.cli.progress import TrainingBar
from eqlandscape.tasks import demo_task
from eqlandscape.train import TrainConfig, TrainProgress, train


def test_reports_reach_the_end_and_change_nothing() -> None:
    config = TrainConfig(
        strategy="constrained", optimizer="adam", n_models=40, steps=300, loss_tol=1e-4, chunk_size=7, workers=2
    )
    task = demo_task(n_train=128, n_test=32)
    seen: list[TrainProgress] = []
    with_bar = train(task, config, progress=seen.append)
    without = train(task, config)
    fractions = [p.fraction for p in seen]
    assert seen and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)
    last = seen[-1]
    table = with_bar.table
    assert last.training == 0
    assert (last.converged, last.diverged) == (int(table["converged"].sum()), int(table["diverged"].sum()))
    for a, b in zip(with_bar.final_weights, without.final_weights, strict=True):
        assert np.array_equal(a, b)


def test_training_bar_draws_on_a_terminal_only(capsys) -> None:
    out = io.StringIO()
    with TrainingBar(True, Console(file=out, force_terminal=True, width=120)) as bar:
        bar.update("constrained SGD", TrainProgress(0.5, 3, 2, 1))
    assert "constrained SGD" in out.getvalue() and "converged 2" in out.getvalue()
    off = io.StringIO()
    with TrainingBar(False, Console(file=off, force_terminal=True)) as bar:
        bar.update("x", TrainProgress(1.0, 0, 0, 0))
    assert off.getvalue() == ""
    # under pytest stdout is not a terminal: no bar, with or without --quiet
    assert main(["train", "S3", "--students", "4", "--steps", "20"]) == 0
    assert main(["train", "S3", "--students", "4", "--steps", "20", "--quiet", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "training 4" not in captured.err + captured.out
