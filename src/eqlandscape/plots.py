"""Matplotlib figures (non-interactive Agg backend; figures are returned, not shown)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from eqlandscape.train import TrainResult


def demo_loss_curves(
    results: dict[str, TrainResult], students: pd.DataFrame, teacher_side: str, barrier: str
) -> Figure:
    """One panel per side of the barriers that students started on (the teacher's side first): for
    every arm (``results``, in a colour of its own) the median and the interquartile band of the test
    loss of its live students against the training step (log scale); the share of dead students
    (output identically near 0, left out of the band) and the success rate in the legend; relaxed
    arms' switch to free training as a dotted line. ``students`` has one row per student with
    ``arm``, ``start_side``, ``success`` and ``dead``, in the order of each arm's table; ``barrier``
    names the barriers in the title."""
    sides = [teacher_side, *sorted(set(students["start_side"]) - {teacher_side})]
    sides = [s for s in sides if (students["start_side"] == s).any()]
    fig, axes = plt.subplots(1, len(sides), figsize=(6.4 * len(sides), 6.4), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, side in zip(axes.flat, sides, strict=True):
        switches = set()
        for k, (arm, res) in enumerate(results.items()):
            rows = students[students["arm"] == arm]
            started = (rows["start_side"] == side).to_numpy()
            if not started.any():
                continue
            dead = rows["dead"].to_numpy(bool) & started
            live = started & ~dead
            success = rows["success"].to_numpy()[started].mean()
            label = f"{arm}: success {success:.0%}, dead {dead.sum() / started.sum():.0%}"
            color = colors[k % len(colors)]
            if live.any():
                q1, median, q3 = np.nanquantile(res.curves("test_loss")[live], [0.25, 0.5, 0.75], axis=0)
                ax.fill_between(res.record_steps, q1, q3, color=color, alpha=0.15, linewidth=0)
                ax.plot(res.record_steps, median, color=color, label=label)
            else:
                ax.plot([], [], color=color, label=f"{label} (no live student)")
            switch = getattr(res.config.strategy, "switch_step", None)
            if switch is not None:
                switches.add(switch)
        for s in sorted(switches):
            ax.axvline(s, color="0.4", linestyle=":", linewidth=1, label=f"switch to free (step {s})")
        teacher = " (the teacher's side)" if side == teacher_side else ""
        ax.set_title(f"students that started on side {side}{teacher}", fontsize=10)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("test loss (MSE)")
        ax.tick_params(labelbottom=True, labelleft=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.suptitle(
        f"teacher-student, barrier {barrier or 'none'}: median and interquartile range of live students",
        fontsize=11,
    )
    fig.tight_layout()
    return fig
