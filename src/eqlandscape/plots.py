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

    from eqlandscape.dynamics import DynamicsResult
    from eqlandscape.train import TrainResult


def demo_loss_curves(
    results: dict[str, list[TrainResult]], students: pd.DataFrame, teacher_side: str, barrier: str
) -> Figure:
    """One panel per side of the barriers that students started on (the teacher's side first): for
    every arm (``results``: its runs, one per data sample, in a colour of its own) the median and the
    interquartile band of the test loss of its live students against the training step (log scale);
    the share of dead students (output identically near 0, left out of the band) and the success rate
    in the legend, with its range over the data samples (``students["data_seed"]``) when there are
    several; relaxed
    arms' switch to free training as a dotted line. ``students`` has one row per student with
    ``arm``, ``start_side``, ``success`` and ``dead``, in the order of each arm's tables; ``barrier``
    names the barriers in the title."""
    sides = [teacher_side, *sorted(set(students["start_side"]) - {teacher_side})]
    sides = [s for s in sides if (students["start_side"] == s).any()]
    fig, axes = plt.subplots(1, len(sides), figsize=(6.4 * len(sides), 6.4), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    losses = {arm: np.concatenate([r.curves("test_loss") for r in runs]) for arm, runs in results.items()}
    for ax, side in zip(axes.flat, sides, strict=True):
        switches = set()
        for k, (arm, runs) in enumerate(results.items()):
            rows = students[students["arm"] == arm]
            started = (rows["start_side"] == side).to_numpy()
            if not started.any():
                continue
            dead = rows["dead"].to_numpy(bool) & started
            live = started & ~dead
            success = rows["success"].to_numpy()[started].mean()
            label = f"{arm}: success {success:.0%}"
            if "data_seed" in rows and rows["data_seed"].nunique() > 1:
                per = rows[started].groupby("data_seed")["success"].mean()
                label += f" ({per.min():.0%}-{per.max():.0%} over samples)"
            label += f", dead {dead.sum() / started.sum():.0%}"
            color = colors[k % len(colors)]
            if live.any():
                q1, median, q3 = np.nanquantile(losses[arm][live], [0.25, 0.5, 0.75], axis=0)
                ax.fill_between(runs[0].record_steps, q1, q3, color=color, alpha=0.15, linewidth=0)
                ax.plot(runs[0].record_steps, median, color=color, label=label)
            else:
                ax.plot([], [], color=color, label=f"{label} (no live student)")
            switch = getattr(runs[0].config.strategy, "switch_step", None)
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


def compare_success(table: pd.DataFrame, barrier: str) -> Figure:
    """One panel per ``epsilon`` of a comparison's rows (:meth:`eqlandscape.compare.Comparison.table`,
    the first barrier ``barrier``): the success rate of every strategy as bars, one per starting side
    (``+``, ``-``, ...) and one for all students; the final median test loss over all students as a
    label on the ``all`` bar."""
    rows = table[table["barrier"] == barrier]
    epsilons = list(dict.fromkeys(rows["epsilon"]))
    strategies = list(dict.fromkeys(rows["strategy"]))
    sides = list(dict.fromkeys(rows["start_side"]))
    sides = [s for s in sides if s != "all"] + ["all"]
    fig, axes = plt.subplots(
        1, len(epsilons), figsize=(max(6.4, 1.1 * len(strategies) + 2) * len(epsilons), 4.8), squeeze=False
    )
    colors = plt.get_cmap("tab10").colors
    width = 0.8 / len(sides)
    for ax, epsilon in zip(axes.flat, epsilons, strict=True):
        mine = rows[rows["epsilon"] == epsilon]
        for k, side in enumerate(sides):
            part = mine[mine["start_side"] == side].set_index("strategy").reindex(strategies)
            x = np.arange(len(strategies)) + (k - (len(sides) - 1) / 2) * width
            n = part["students"].fillna(0).astype(int)
            bars = ax.bar(x, part["success"].fillna(0), width, color=colors[k % len(colors)], label=f"start {side}")
            if side == "all":
                for bar, loss, count in zip(bars, part["final_loss"], n, strict=True):
                    ax.annotate(
                        f"n={count}\n{loss:.1e}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=6,
                    )
        ax.set_xticks(np.arange(len(strategies)), strategies, rotation=30, ha="right")
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("success rate")
        ax.set_title(f"epsilon = {epsilon:g}: success by the side of {barrier} a student started on", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("strategies compared on one problem (labels: students and median final test loss)", fontsize=10)
    fig.tight_layout()
    return fig


def escape_success(rows: pd.DataFrame, barrier: str) -> Figure:
    """One panel per variant of the escape study (:func:`eqlandscape.compare.escape_study`): success
    of the wrong-side students against the free-phase length (log scale), one line per train-set size:
    the mean over data samples, the band from the lowest to the highest sample."""
    variants = list(dict.fromkeys(rows["variant"]))
    sizes = sorted(set(rows["n_train"]))
    cols = min(len(variants), 4)
    nrows = -(-len(variants) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.6 * nrows), squeeze=False, sharey=True)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(sizes)))
    for ax, variant in zip(axes.flat, variants, strict=False):
        mine = rows[rows["variant"] == variant]
        for color, n in zip(colors, sizes, strict=True):
            per = mine[mine["n_train"] == n].groupby("free_steps")["success"].agg(["mean", "min", "max"])
            ax.fill_between(per.index, per["min"], per["max"], color=color, alpha=0.2, linewidth=0)
            ax.plot(per.index, per["mean"], marker="o", color=color, label=f"n_train {n}")
        ax.set_xscale("log", base=2)
        steps = sorted(set(mine["free_steps"]))
        ax.set_xticks(steps, [f"{s:,}" for s in steps])
        ax.minorticks_off()
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(variant, fontsize=9)
        ax.set_xlabel("free steps after the switch")
        ax.set_ylabel("success (wrong-side students)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(variants) :]:
        ax.set_visible(False)
    fig.suptitle(f"relaxed students from the wrong side of {barrier}: mean and range over data samples", fontsize=10)
    fig.tight_layout()
    return fig


def dynamics_figure(result: DynamicsResult) -> Figure:
    """A matplotlib figure: per arm, the mean distance from ``E`` over the record steps with its
    min-max band (log scale; exact zeros drawn at the axis floor), and the mean test accuracy (or
    test loss for a regression task)."""
    steps = result.steps
    accuracy = "test_accuracy_mean" in steps.columns
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    floor = 1e-17
    for arm in result.arms:
        rows = steps[steps["arm"] == arm]
        x = rows["step"].to_numpy()
        (line,) = left.plot(x, np.maximum(rows["dist_to_E_mean"].to_numpy(), floor), label=arm)
        left.fill_between(
            x,
            np.maximum(rows["dist_to_E_min"].to_numpy(), floor),
            np.maximum(rows["dist_to_E_max"].to_numpy(), floor),
            color=line.get_color(),
            alpha=0.2,
        )
        right.plot(x, rows["test_accuracy_mean" if accuracy else "test_loss_mean"].to_numpy(), label=arm)
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("||A - P_E A|| / ||A||  (mean, min-max)")
    left.set_title("distance from E")
    right.set_xlabel("step")
    right.set_ylabel("test accuracy (mean)" if accuracy else "test loss (mean)")
    right.set_title(result.task.get("task", "task"))
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig
