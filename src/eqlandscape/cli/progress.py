"""A progress bar for training runs: on a terminal only, one line per arm (rich)."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn

from eqlandscape.train import TrainProgress


class TrainingBar:
    """``with TrainingBar(enabled) as bar: train(..., progress=partial(bar.update, label))``: a bar per
    label with the share of student-steps done, the students still training, converged and
    diverged, and the time left. Disabled, it shows nothing (use ``TrainingBar.for_stdout(quiet)``
    to enable it exactly when standard output is a terminal)."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("{task.description:<30}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
        )
        self.tasks: dict[str, TaskID] = {}

    @classmethod
    def for_stdout(cls, quiet: bool) -> TrainingBar:
        return cls(enabled=not quiet and sys.stdout.isatty())

    def __enter__(self) -> TrainingBar:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            self.progress.stop()

    def update(self, label: str, state: TrainProgress) -> None:
        """Show ``state`` on the bar of ``label`` (created on first use)."""
        if not self.enabled:
            return
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=1.0, counts="")
        counts = f"training {state.training}, converged {state.converged}, diverged {state.diverged}"
        self.progress.update(self.tasks[label], completed=state.fraction, counts=counts)
