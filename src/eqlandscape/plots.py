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

OTHER_COLORS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:gray")


def demo_loss_curves(
    results: dict[str, TrainResult], students: pd.DataFrame, teacher_side: str, barrier: str
) -> Figure:
    """One panel per arm (``results``): the median test loss over the students that started on each
    side of the barriers (``students``: one row per student with ``arm``, ``start_side`` and ``success``;
    the teacher's side in blue), with the 10-90% band, against the training step (log scale); relaxed
    arms mark the step where training switches from constrained to free. ``barrier`` names the
    barriers in the title."""
    arms = list(results)
    cols = min(4, len(arms))
    rows = -(-len(arms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), sharex=True, sharey=True, squeeze=False)
    others = sorted(set(students["start_side"]) - {teacher_side})
    styles = {teacher_side: ("tab:blue", f"started {teacher_side} (teacher's side)")}
    styles |= {side: (OTHER_COLORS[k % len(OTHER_COLORS)], f"started {side}") for k, side in enumerate(others)}
    for ax, arm in zip(axes.flat, arms, strict=False):
        res = results[arm]
        curves = np.maximum(res.curves("test_loss"), 1e-12)
        steps = res.record_steps
        side = students.loc[students["arm"] == arm, "start_side"].to_numpy()
        for key, (color, label) in styles.items():
            sel = curves[side == key]
            if not len(sel):
                continue
            lo, med, hi = np.nanquantile(sel, [0.1, 0.5, 0.9], axis=0)
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2, linewidth=0)
            ax.plot(steps, med, color=color, label=f"{label} ({len(sel)})")
        switch = getattr(res.config.strategy, "switch_step", None)
        if switch is not None:
            ax.axvline(switch, color="0.4", linestyle=":", linewidth=1, label="switch to free")
        rate = students.loc[students["arm"] == arm, "success"].mean()
        ax.set_title(f"{arm}\nsuccess {rate:.0%}", fontsize=9)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(arms) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("test loss (MSE)")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"teacher-student, barrier {barrier or 'none'}: median and 10-90% band of the test loss", fontsize=10)
    fig.tight_layout()
    return fig
