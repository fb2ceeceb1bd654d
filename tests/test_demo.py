"""The demo on a small budget: its classification, its outputs and its command.

Oracles: the plane ``a = b`` computed from the weights' diagonal and off-diagonal means, and a brute
force over all ``3!`` orders of the hidden neurons for the relabelling under which a student matches
the teacher (the demo's classification before it was rebuilt on :mod:`eqlandscape.symmetry`)."""

from __future__ import annotations

import itertools
import json

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from eqlandscape.cli import main
from eqlandscape.demo import DemoConfig, run_demo, write_outputs
from eqlandscape.errors import ConfigError
from eqlandscape.tasks import demo_task, plane_teacher


def plane_side(W: np.ndarray, tol: float) -> np.ndarray:
    """Side of ``a = b`` for ``W (K, 3, 3)``, ``a`` the mean diagonal and ``b`` the mean off-diagonal
    entry (the coordinates of ``P_E W = a I + b (J - I)``): ``+`` for ``a > b``."""
    a = np.trace(W, axis1=-2, axis2=-1) / 3
    b = (W.sum(axis=(-2, -1)) - 3 * a) / 6
    return np.where(np.abs(a - b) <= tol, "on", np.where(a > b, "+", "-"))


def teacher_relabelling(W: np.ndarray, w_out: np.ndarray, teacher: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brute force over the ``n!`` orders ``sigma`` (student neuron ``sigma[j]`` plays teacher neuron ``j``):
    the best one and its largest entrywise error on the effective rows ``w_out[i] W[i]`` (ReLU
    rescaling, positive output weights)."""
    orders = np.array(list(itertools.permutations(range(W.shape[1]))))
    effective = W * w_out[:, :, None]
    errors = np.abs(effective[:, orders] - teacher).max(axis=(-2, -1))
    best = errors.argmin(axis=1)
    return orders[best], errors[np.arange(len(best)), best]


def initial_W0(runs) -> np.ndarray:
    """The initial hidden weights of an arm's students, over all its data samples, ``(K, 3, 3)``."""
    return np.concatenate([r.initial_weights[0] for r in runs])


def final(runs, layer: int) -> np.ndarray:
    return np.concatenate([r.final_weights[layer] for r in runs])


@pytest.fixture(scope="module")
def small_demo():
    return run_demo(DemoConfig(students=24, steps=200, switch_step=100, record_every=50))


def test_every_student_is_classified_once(small_demo) -> None:
    df = small_demo.students
    assert len(df) == 24 * len(small_demo.results)
    assert set(df["start_side"]) <= {"+", "-", "on"}
    assert set(df["end"]) <= {"+", "-", "on", "dead"}
    assert small_demo.teacher_side == "+"
    assert [p.equations[0].text for p in small_demo.barriers.barriers] == ["W0[0,0] = W0[0,1]"]
    for arm, runs in small_demo.results.items():
        rows = df[df["arm"] == arm]
        np.testing.assert_array_equal(rows["seed"], np.arange(24))
        np.testing.assert_array_equal(rows["start_side"], plane_side(initial_W0(runs), 1e-3))
        alive = ~rows["dead"].to_numpy()
        np.testing.assert_array_equal(rows["end"][alive], plane_side(final(runs, 0), 1e-3)[alive])


def test_same_seeds_start_on_the_same_side_in_every_arm(small_demo) -> None:
    sides = small_demo.students.pivot(index="seed", columns="arm", values="start_side")
    assert (sides.nunique(axis=1) == 1).all()


def test_orthonormal_sgd_students_never_change_side(small_demo) -> None:
    """Euclidean gradient flow cannot cross the invariant plane a = b (students that end dead excepted)."""
    df = small_demo.students
    rows = df[(df["arm"] == "constrained orthonormal SGD") & (df["end"] != "dead")]
    assert len(rows) > 0
    assert (rows["start_side"] == rows["end"]).all()


def test_rates_are_fractions(small_demo) -> None:
    rates = small_demo.rates()
    ended = rates[[c for c in rates.columns if c.startswith("ended ")]]
    np.testing.assert_allclose(ended.sum(axis=1), 1.0)
    assert rates["students"].sum() == len(small_demo.students)
    assert ((rates["success"] >= 0) & (rates["success"] <= 1)).all()
    df = small_demo.students
    for (arm, side), row in rates.iterrows():  # each rate is its students' share, recomputed here
        mine = df[(df["arm"] == arm) & (df["start_side"] == side)]
        assert row["students"] == len(mine) and row["success"] == pytest.approx(mine["success"].mean())


def test_outputs_carry_config_seed_and_version(small_demo, tmp_path) -> None:
    from test_readme import documented_names

    paths = write_outputs(small_demo, tmp_path)
    summary = json.loads(paths["summary"].read_text())
    names = documented_names()
    assert set(summary) <= names and set(small_demo.students.columns) <= names
    assert summary["demo_config"]["students"] == 24 and summary["version"]
    assert all(arm["config"]["first_seed"] == 0 for arm in summary["arms"].values())
    table = pd.read_csv(paths["students"])
    assert len(table) == len(small_demo.students)
    assert paths["figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_demo_command_json(capsys, tmp_path) -> None:
    argv = ["demo", "--students", "4", "--steps", "20", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["success_by_arm"]) == set(DemoConfig().arms())
    assert (tmp_path / "loss_curves.png").exists()


@pytest.mark.parametrize("argv", [["--students", "0"], ["--steps", "-3"]])
def test_demo_bad_input_exit_2(capsys, tmp_path, argv) -> None:
    assert main(["demo", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert argv[1] in err[0]


def test_demo_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="sgd_lr"):
        DemoConfig(sgd_lr=0.0)


@pytest.fixture(scope="module")
def brute_force_matches(small_demo):
    """Per arm, the brute-force best order of each student's hidden neurons against the teacher and its error."""
    W, w_out = (t.detach().numpy() for t in plane_teacher().full())
    rows = W * w_out[0][:, None]
    return {
        arm: teacher_relabelling(final(runs, 0), final(runs, 1)[:, 0, :], rows)
        for arm, runs in small_demo.results.items()
    }


def test_relabelled_agrees_with_a_brute_force_match_to_the_teacher(small_demo, brute_force_matches) -> None:
    """For S3 on natural hidden neurons (trivial centralizer), reaching the teacher under a conjugate
    hidden rep is the same as matching its effective rows only under a non-identity order."""
    df = small_demo.students
    for arm, (sigma, error) in brute_force_matches.items():
        old = (error <= 0.05) & (sigma != np.arange(3)).any(axis=1)
        mine = df[df["arm"] == arm]
        np.testing.assert_array_equal(mine["relabelled"].to_numpy(), mine["success"].to_numpy() & old, err_msg=arm)


def test_teacher_cycle_type_is_the_cycle_type_of_the_brute_force_match(small_demo, brute_force_matches) -> None:
    df = small_demo.students
    for arm, (sigma, _) in brute_force_matches.items():
        mine = df[(df["arm"] == arm)]
        fixed = (sigma == np.arange(3)).sum(axis=1)
        expected = np.array(["[]" if f == 3 else "[2]" if f == 1 else "[3]" for f in fixed])
        ok = mine["success"].to_numpy()
        np.testing.assert_array_equal(mine["teacher_cycle_type"].to_numpy()[ok], expected[ok], err_msg=arm)


def test_successful_constrained_students_match_the_teacher_without_relabelling(small_demo) -> None:
    df = small_demo.students
    rows = df[df["arm"].str.startswith("constrained") & df["success"]]
    assert len(rows) > 0 and (rows["relabelling"] == "()").all()


def test_relabelled_share_counts_successes_under_a_non_identity_relabelling(small_demo) -> None:
    df = small_demo.students
    independent = df["success"] & (df["relation"] == "conjugate")
    rates = small_demo.rates()
    for (arm, side), r in rates.iterrows():
        sel = (df["arm"] == arm) & (df["start_side"] == side)
        assert r["relabelled"] == pytest.approx(independent[sel].mean())


def test_loss_figure_axes_and_artists(small_demo) -> None:
    """One panel per start side, every arm in its own colour with its dead share in the legend,
    labelled log axes, no empty panel."""
    from eqlandscape.plots import demo_loss_curves

    fig = demo_loss_curves(small_demo.results, small_demo.students, small_demo.teacher_side, "W0[0,0] = W0[0,1]")
    fig.canvas.draw()
    sides = set(small_demo.students["start_side"])
    assert len(fig.axes) == len(sides)
    assert small_demo.teacher_side in fig.axes[0].get_title()
    for ax in fig.axes:
        assert ax.get_yscale() == "log" and ax.get_xlabel() == "step" and ax.get_ylabel()
        assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        arms = [lab for lab in labels if "dead" in lab]
        assert len(arms) == len(small_demo.results)  # every arm started on each side here
        medians = [line for line in ax.get_lines() if "dead" in line.get_label()]
        colours = {tuple(np.round(matplotlib.colors.to_rgba(line.get_color()), 3)) for line in medians}
        assert len(colours) == len(medians)
        assert any(line.get_xydata().size for line in medians)  # not an empty panel


def test_each_data_sample_has_its_own_students(small_demo) -> None:
    """The 24 seeds split into 4 consecutive groups of 6, group j trained on the sample of data seed
    12345 + j (its own train set), the same split in every arm."""
    df = small_demo.students
    expected = np.repeat(12345 + np.arange(4), 6)
    for arm, runs in small_demo.results.items():
        np.testing.assert_array_equal(df[df["arm"] == arm]["data_seed"], expected)
        assert [r.task["seed"] for r in runs] == [12345, 12346, 12347, 12348]
        assert [r.table["seed"].tolist() for r in runs] == [list(range(6 * j, 6 * j + 6)) for j in range(4)]
    firsts = [r.x_train[0].tolist() for r in [demo_task(512, 1, seed=12345 + j) for j in range(4)]]
    assert len({tuple(f) for f in firsts}) == 4  # four different samples


def test_spread_is_the_range_of_the_per_sample_rates(small_demo) -> None:
    df = small_demo.students
    spread = small_demo.spread()
    for r in spread.itertuples():
        rows = df[(df["arm"] == r.arm) & (df["start_side"] == r.start_side)]
        per = [g["success"].mean() for _, g in rows.groupby("data_seed")]
        assert r.samples == len(per)
        assert (r.mean, r.lowest, r.highest) == pytest.approx((np.mean(per), min(per), max(per)))
    summary = small_demo.summary()
    assert summary["data_seeds"] == [12345, 12346, 12347, 12348]
    assert len(summary["spread"]) == len(spread)
    assert all(a["data_seeds"] == summary["data_seeds"] for a in summary["arms"].values())


def test_samples_split_and_bad_data_seeds() -> None:
    assert DemoConfig(students=10, data_seeds=4, seed=3).samples() == [
        (12345, 3, 3),
        (12346, 6, 3),
        (12347, 9, 2),
        (12348, 11, 2),
    ]
    assert DemoConfig(students=5, data_seeds=1).samples() == [(12345, 0, 5)]
    with pytest.raises(ConfigError, match="data_seeds=6"):
        DemoConfig(students=5, data_seeds=6)
