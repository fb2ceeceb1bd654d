"""``eqlandscape train``: its JSON agrees with the Python API; bad input exits 2 naming the value."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eqlandscape.cli import main
from eqlandscape.cli.training import run_training
from eqlandscape.errors import RepSpecError
from eqlandscape.reps import parse_rep_chain
from eqlandscape.train import TrainConfig

ARGV = ["train", "S3", "--students", "6", "--steps", "40", "--strategy", "relaxed", "--switch-step", "20"]


def test_json_agrees_with_the_python_api(capsys, tmp_path) -> None:
    assert main([*ARGV, "--dtype", "float64", "--out", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["strategy"] == {
        "name": "relaxed",
        "parametrization": "orthonormal",
        "switch_step": 20,
        "optimizer_state": "restart",
        "warmup_steps": 100,
    }
    config = TrainConfig(
        strategy={"name": "relaxed", "switch_step": 20}, optimizer="adam", n_models=6, steps=40, dtype="float64"
    )
    result = run_training(
        "S3",
        "natural -> natural -> trivial",
        None,
        config,
        activation="relu",
        bias=True,
        teacher_seed=0,
        n_train=512,
        n_test=512,
        noise=0.0,
    )
    table = pd.read_csv(tmp_path / "students.csv")
    np.testing.assert_allclose(table["test_loss"], result.table["test_loss"], rtol=1e-12)
    assert payload["summary"]["success_rate"] == pytest.approx(result.table["success"].mean())
    assert json.loads((tmp_path / "summary.json").read_text())["version"] == payload["version"]


def test_student_with_another_hidden_rep(capsys) -> None:
    argv = ["train", "S4", "--student", "natural -> S4/C3 + trivial -> trivial", "--students", "4", "--steps", "10"]
    assert main(argv) == 0
    assert "4 students, 10 steps" in capsys.readouterr().out


def test_parse_rep_chain_needs_two_reps() -> None:
    with pytest.raises(RepSpecError, match="natural"):
        parse_rep_chain("S3", "natural")
    assert [r.size for r in parse_rep_chain("S3", "natural -> regular -> trivial")] == [3, 6, 1]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--student", "natural -> natural -> 2*trivial"], "2*trivial"),
        (["--strategy", "annealed"], "annealed"),
        (["--optimizer", "rmsprop"], "rmsprop"),
        (["--students", "0"], "n_models=0"),
        (["--lr", "-1"], "lr=-1"),
        (["--steps", "0"], "steps=0"),
        (["--teacher", "natural -> nat"], "nat"),
    ],
)
def test_bad_input_exits_2_naming_the_value(capsys, extra, needle) -> None:
    assert main(["train", "S3", "--students", "2", "--steps", "2", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]


def test_symmetrize_closes_the_train_set_under_the_group(capsys) -> None:
    """``--symmetrize``: every train sample in all |G| = 6 copies, recorded in the task; free SGD
    started in E on the closed set stays in E (only rounding breaks the symmetry, float64)."""
    args = ["train", "S3", "--teacher-weights", "plane", "--no-bias", "--strategy", "free", "--optimizer", "sgd"]
    args += ["--lr", "0.05", "--students", "3", "--steps", "100", "--n-train", "32", "--dtype", "float64"]
    assert main([*args, "--symmetrize", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"]["n_train"] == 6 * 32
    assert out["task"]["transforms"] == [{"transform": "symmetrize", "group_order": 6, "n_train_before": 32}]
    assert max(s["dist_to_E"] for s in out["students"]) < 1e-10
    assert main([*args, "--symmetrize", "--population"]) == 2
    assert "--population" in capsys.readouterr().err
