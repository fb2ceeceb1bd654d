"""The demo on a small budget: its classification, its outputs and its command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eqlandscape.cli import main
from eqlandscape.demo import DemoConfig, run_demo, teacher_relabelling, write_outputs
from eqlandscape.errors import ConfigError
from eqlandscape.train import plane_side


@pytest.fixture(scope="module")
def small_demo():
    return run_demo(DemoConfig(students=24, steps=200, switch_step=100, record_every=50))


def test_every_student_is_classified_once(small_demo) -> None:
    df = small_demo.students
    assert len(df) == 24 * len(small_demo.results)
    assert set(df["start_side"]) <= {"a>b", "a<b", "a=b"}
    assert set(df["end"]) <= {"a>b", "a<b", "a=b", "dead"}
    for arm, res in small_demo.results.items():
        rows = df[df["arm"] == arm]
        np.testing.assert_array_equal(rows["seed"], np.arange(24))
        np.testing.assert_array_equal(rows["start_side"], plane_side(res.initial_weights[0], 1e-3))
        alive = ~rows["dead"].to_numpy()
        np.testing.assert_array_equal(rows["end"][alive], plane_side(res.final_weights[0], 1e-3)[alive])


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


def test_outputs_carry_config_seed_and_version(small_demo, tmp_path) -> None:
    paths = write_outputs(small_demo, tmp_path)
    summary = json.loads(paths["summary"].read_text())
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


def test_teacher_relabelling_recovers_a_known_permutation() -> None:
    rng = np.random.default_rng(0)
    teacher = rng.standard_normal((3, 3))
    sigma = np.array([[2, 0, 1], [0, 1, 2], [1, 0, 2]])  # student neuron sigma[j] plays teacher neuron j
    scale = rng.uniform(0.5, 2.0, (3, 3))  # ReLU rescaling of each student neuron
    W = np.empty((3, 3, 3))
    for k in range(3):
        W[k][sigma[k]] = teacher * scale[k][sigma[k]][:, None]
    w_out = 1.0 / scale
    found, error = teacher_relabelling(W, w_out, teacher)
    np.testing.assert_array_equal(found, sigma)
    np.testing.assert_allclose(error, 0.0, atol=1e-12)


def test_successful_constrained_students_match_the_teacher_without_relabelling(small_demo) -> None:
    df = small_demo.students
    rows = df[df["arm"].str.startswith("constrained") & df["success"]]
    assert len(rows) > 0 and (rows["relabelling"] == "()").all()


def test_relabelled_share_counts_successes_under_a_non_identity_relabelling(small_demo) -> None:
    df = small_demo.students
    independent = df["success"] & ~df["relabelling"].isin(["", "()"])
    rates = small_demo.rates()
    for (arm, side), r in rates.iterrows():
        sel = (df["arm"] == arm) & (df["start_side"] == side)
        assert r["relabelled"] == pytest.approx(independent[sel].mean())
