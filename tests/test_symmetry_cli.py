"""The symmetry analyses on the command line and in results: ``barriers``, ``atlas``, ``train --json``
students, and :func:`~eqlandscape.symmetry.annotate.annotate`.

Oracles: Burnside's count from characters (``dim E``), the group orders of the catalog families, the
plane ``a = b`` from diagonal and off-diagonal means, and evaluation of the trained students."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from eqlandscape.cli import main
from eqlandscape.equivariant import burnside_dim
from eqlandscape.groups import group_from_name
from eqlandscape.reps import parse_rep
from eqlandscape.symmetry.annotate import annotate
from eqlandscape.symmetry.atlas import ROW_KEYS, atlas, catalog_names
from eqlandscape.tasks import demo_task
from eqlandscape.train import TrainConfig, train


def _json(capsys, argv: list[str]):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_barriers_json_has_the_issue_keys(capsys) -> None:
    rows = _json(capsys, ["barriers", "S4", "--reps", "natural -> S4/C2 -> trivial", "--json"])
    assert len(rows) == 1
    row = rows[0]
    assert set(ROW_KEYS) - {"stabilizer"} <= set(row) and "pairs" in row
    G = group_from_name("S4")
    nat, hidden, triv = (parse_rep(G, s) for s in ("natural", "S4/C2", "trivial"))
    assert row["dim_E"] == burnside_dim(nat, hidden) + burnside_dim(hidden, triv)
    assert row["neurons"] == 12 and len(row["codimensions"]) == len(row["pairs"])
    assert row["barriers"] == sum(c == 1 for c in row["codimensions"])
    assert sum(p["size"] for p in row["pairs"]) == 12 * 11 // 2
    for p in row["pairs"]:
        assert (p["verdict"] == "barrier") == (p["codimension"] == 1) == (len(p["equations"]) == 1)


def test_barriers_of_the_demo_architecture(capsys) -> None:
    rows = _json(capsys, ["barriers", "S3", "--json"])
    (pair,) = rows[0]["pairs"]
    assert pair["verdict"] == "barrier" and pair["equations"] == ["W0[0,0] = W0[0,1]"]
    assert main(["barriers", "S3", "--reps", "natural -> natural -> natural -> trivial", "--bias"]) == 0
    out = capsys.readouterr().out
    assert "hidden layer 1" in out and "hidden layer 2" in out


def test_catalog_names_cover_the_families_up_to_an_order() -> None:
    names = catalog_names(12)
    orders = {n: group_from_name(n).order for n in names}
    assert all(o <= 12 for o in orders.values())
    assert {"C2", "C12", "D3", "D6", "S3", "A4", "K4", "C2xC2", "C2xS3", "C3xC4", "C2xC6"} <= set(names)
    assert "S4" not in names and "D7" not in names
    assert len(names) == len(set(names))
    assert list(orders.values()) == sorted(orders.values())


def test_atlas_rows_one_per_transitive_rep_and_burnside_dims() -> None:
    rows = atlas(6, bias=True)
    expected = sum(len(group_from_name(n).subgroup_classes) for n in catalog_names(6))
    assert len(rows) == expected
    for r in rows[:: max(1, len(rows) // 12)]:
        G = group_from_name(r["group"])
        nat, hidden, triv = (parse_rep(G, s) for s in ("natural", r["hidden"], "trivial"))
        bias_dim = len(hidden.orbits) + 1
        assert r["dim_E"] == burnside_dim(nat, hidden) + burnside_dim(hidden, triv) + bias_dim
        assert r["neurons"] == G.order // G.subgroup_class(r["stabilizer"]).order
        assert len(r["codimensions"]) >= (1 if r["neurons"] > 1 else 0)
        assert r["barriers"] == r["codimensions"].count(1) and r["degenerate"] == r["codimensions"].count(0)


def test_atlas_command_json(capsys) -> None:
    rows = _json(capsys, ["atlas", "--max-order", "4", "--json"])
    assert [list(r) for r in rows[:1]] == [list(ROW_KEYS)]
    assert {r["group"] for r in rows} == {"C2", "C3", "C4", "K4", "C2xC2"}
    c2 = next(r for r in rows if r["group"] == "C2" and r["neurons"] == 2)
    assert c2["barriers"] == 1  # two neurons swapped by C2: the plane where they coincide


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["barriers", "S3", "--reps", "natural -> nat"], "nat"),
        (["barriers", "Q8"], "Q8"),
        (["atlas", "--max-order", "0"], "max_order=0"),
        (["atlas", "--max-order", "3", "--input", "S3/C9"], "C9"),
        (["train", "S3", "--teacher-weights", "planar", "--students", "2", "--steps", "2"], "planar"),
        (
            ["train", "S3", "--teacher-weights", "plane", "--teacher", "natural -> regular -> trivial"],
            "natural -> regular -> trivial",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_value(capsys, argv, needle) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]


def test_train_json_students_with_the_plane_teacher_on_another_group(capsys, tmp_path) -> None:
    argv = ["train", "S4", "--teacher-weights", "plane", "--teacher-a", "1", "--teacher-b", "-0.3", "--no-bias"]
    argv += ["--strategy", "relaxed", "--switch-step", "100", "--students", "6", "--steps", "300"]
    argv += ["--data-seed", "7", "--dtype", "float64", "--out", str(tmp_path), "--json"]
    payload = _json(capsys, argv)
    students = payload["students"]
    assert len(students) == 6
    keys = {"seed", "success", "final_test_loss", "dead", "sides_start", "sides_end", "hidden_rep", "relation"}
    assert keys | {"relabelling", "teacher_cycle_type"} <= set(students[0])
    assert [s["seed"] for s in students] == list(range(6))
    assert payload["task"]["seed"] == 7
    W0 = np.asarray(payload["task"]["teacher_tensors"][0])
    np.testing.assert_allclose(W0, np.eye(4) - 0.3 * (np.ones((4, 4)) - np.eye(4)))
    for s in students:
        assert len(s["sides_start"]) == len(s["sides_end"]) == 1  # S4 natural hidden: one barrier
        assert s["sides_start"][0] in {"+", "-", "on", "dead"}
        assert s["relation"] in {"identical", "conjugate", "other", "none", "dead"}
    table = pd.read_csv(tmp_path / "students.csv")
    assert list(table["relation"].fillna("")) == [s["relation"] for s in students]


def test_annotate_sides_agree_with_the_plane_and_successes_match_the_teacher() -> None:
    config = TrainConfig(
        strategy={"name": "relaxed", "switch_step": 150},
        optimizer={"name": "adam", "lr": 0.01},
        n_models=12,
        steps=500,
        dtype="float64",
    )
    result = train(demo_task(), config)
    notes = annotate(result)
    for key, W in (("sides_start", result.initial_weights[0]), ("sides_end", result.final_weights[0])):
        a = np.trace(W, axis1=-2, axis2=-1) / 3
        b = (W.sum(axis=(-2, -1)) - 3 * a) / 6
        side = np.where(np.abs(a - b) <= 1e-3, "on", np.where(a > b, "+", "-"))
        dead = result.table["dead"].to_numpy() if key == "sides_end" else np.zeros(len(a), bool)
        expected = np.where(dead, "dead", side)
        np.testing.assert_array_equal([s[0] for s in notes[key]], expected)
    ok = result.table["success"].to_numpy()
    assert ok.any()
    # a student at the teacher is equivariant under a conjugate of the start rep, close to the teacher
    assert set(notes["relation"][ok]) <= {"identical", "conjugate"}
    assert (notes["teacher_distance"][ok] < 1e-2).all()
    assert (notes["relation"][ok] == "identical").to_numpy().tolist() == [
        c == [] for c in notes["teacher_cycle_type"][ok]
    ]
    assert all(math.isfinite(d) for d in notes["teacher_distance"])
