"""Equivariant, augmented and nominal training from one equivariant point (:mod:`eqlandscape.dynamics`)
and ``eqlandscape dynamics``.

Oracles: the distance from ``E`` recomputed from the recorded weights with the Reynolds operator
``(1/|G|) sum_g rho_out(g)^T W rho_in(g)`` over the enumerated group (not the orbit labels); the
mean and spread per step recomputed with NumPy; the theory of Nordenfors et al. for which arms stay
in ``E`` (docs/design.md section 4).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from eqlandscape.cli import main
from eqlandscape.dynamics import ARMS, MASK_ARMS, dynamics
from eqlandscape.errors import ConfigError, EqlandscapeError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.plots import dynamics_figure
from eqlandscape.reps import natural, regular, trivial
from eqlandscape.tasks import digits_task, graph_task
from eqlandscape.train import TrainConfig


def _config(**update) -> TrainConfig:
    settings = {"strategy": "free", "optimizer": {"name": "adam", "lr": 0.05}, "n_models": 3, "steps": 6}
    return TrainConfig(**(settings | {"record_every": 3, "dtype": "float64", "record_weights": True} | update))


@pytest.fixture(scope="module")
def small_digits():
    task = digits_task("C4")
    task = replace(task, x_train=task.x_train[:60], y_train=task.y_train[:60], x_test=task.x_test[:60])
    task = replace(task, y_test=task.y_test[:60])
    G = task.group
    student = MLPArchitecture((natural(G), 2 * regular(G), trivial(G, 10)))
    # one BLAS thread: the random basis's QR and SVD on a busy 2-core machine run 20 times slower with more
    with threadpool_limits(1):
        return task, student, dynamics(task, student, _config())


def _rho(perm: np.ndarray) -> np.ndarray:
    """``rho(g)[p[i], i] = 1`` (docs/design.md section 3)."""
    R = np.zeros((perm.size, perm.size))
    R[perm, np.arange(perm.size)] = 1
    return R


def _reynolds_distance(student: MLPArchitecture, tensors: list[np.ndarray]) -> np.ndarray:
    """``||A - P_E A|| / ||A||`` per model and record step from tensors ``(K, R, *shape)`` in flat order,
    ``P_E`` the group average of every weight and bias."""
    off = total = 0.0
    names = student.names
    for t, name in zip(tensors, names, strict=True):
        layer = int(name[1:])
        rin, rout = student.reps[layer], student.reps[layer + 1]
        mats = [(_rho(pi), _rho(po)) for pi, po in zip(rin.perms, rout.perms, strict=True)]
        if name.startswith("W"):
            avg = sum(Ro.T @ t @ Ri for Ri, Ro in mats) / len(mats)
        else:
            avg = sum(t @ Ro for _, Ro in mats) / len(mats)  # (Ro^T b) as rows: b @ Ro
        gap = (t - avg).reshape(*t.shape[:2], -1)
        off = off + (gap**2).sum(-1)
        total = total + (t.reshape(*t.shape[:2], -1) ** 2).sum(-1)
    return np.sqrt(off / total)


def test_the_arms_start_together_and_stay_in_e_as_the_theory_says(small_digits) -> None:
    _, _, result = small_digits
    assert result.arms == ARMS + MASK_ARMS
    s = result.students
    assert len(s) == len(result.arms) * 3 * 3  # arms x students x record steps (0, 3, 6)
    at_start = s[s["step"] == 0]
    assert (at_start["dist_to_E"] <= 1e-14).all()
    final = s[s["step"] == 6].set_index(["arm", "seed"])["dist_to_E"]
    for arm in ("equivariant", "augmented", "augmented-local"):
        assert (final[arm] <= 1e-12).all(), arm
    for arm in ("nominal", "augmented-skewed", "augmented-random"):
        assert (final[arm] > 1e-4).all(), arm
    # the same initial point in the unmasked arms; the masked ones start at its projection onto L ∩ E
    first = result.results["equivariant"]
    for arm in ("augmented", "nominal"):
        for a, b in zip(first.initial_weights, result.results[arm].initial_weights, strict=True):
            assert np.array_equal(a, b)
    mask = np.asarray(result.results["augmented-local"].config.strategy.masks[0])
    local = result.results["augmented-local"].initial_weights[0]
    np.testing.assert_allclose(local, first.initial_weights[0] * mask, rtol=0, atol=1e-15)
    assert result.version and result.task["task"] == "digits"
    assert set(result.strategies) == set(result.arms) and result.strategies["equivariant"]["name"] == "constrained"


def test_distance_against_the_reynolds_operator(small_digits) -> None:
    _, student, result = small_digits
    for arm in ("nominal", "augmented-skewed", "augmented"):
        trained = result.results[arm]
        direct = _reynolds_distance(student, trained.weight_trajectories)
        table = result.students[result.students["arm"] == arm]
        recorded = table["dist_to_E"].to_numpy().reshape(direct.shape)
        np.testing.assert_allclose(recorded, direct, rtol=1e-9, atol=1e-14)


def test_steps_table_is_the_mean_and_spread_over_students(small_digits) -> None:
    _, _, result = small_digits
    steps, students = result.steps, result.students
    assert len(steps) == len(result.arms) * 3
    for row in steps.itertuples():
        values = students[(students["arm"] == row.arm) & (students["step"] == row.step)]
        dist, acc = values["dist_to_E"].to_numpy(), values["test_accuracy"].to_numpy()
        assert row.students == 3
        np.testing.assert_allclose(
            [row.dist_to_E_mean, row.dist_to_E_std, row.dist_to_E_min, row.dist_to_E_max],
            [dist.mean(), dist.std(), dist.min(), dist.max()],
            rtol=1e-12,
            atol=1e-300,
        )
        np.testing.assert_allclose([row.test_accuracy_mean, row.test_accuracy_std], [acc.mean(), acc.std()])
    figure = dynamics_figure(result)
    assert len(figure.axes) == 2


def _graph_student(task) -> MLPArchitecture:
    """A small network of the graphs task's shape: ``natural^2 -> 2*natural^2 -> 4*trivial -> trivial``."""
    G = task.rep_in.group
    return MLPArchitecture((task.rep_in, 2 * task.rep_in, trivial(G, 4), trivial(G)))


def test_graphs_arms_at_small_n() -> None:
    """Graphs on ``S_4`` (small enough to enumerate for ``augmented``)."""
    task = graph_task(30, (2, 2))
    student = _graph_student(task)
    result = dynamics(task, student, _config(n_models=2, steps=4, record_every=2, record_weights=False))
    final = result.students[result.students["step"] == 4].set_index(["arm", "seed"])["dist_to_E"]
    assert result.arms == ARMS
    assert (result.students[result.students["step"] == 0]["dist_to_E"] <= 1e-14).all()
    assert (final["equivariant"] <= 1e-12).all() and (final["augmented"] <= 1e-12).all()
    assert (final["nominal"] > 1e-6).all()
    assert {"test_accuracy", "train_accuracy"} <= set(result.students.columns)


def test_graphs_on_s10_augment_with_sampled_elements(monkeypatch) -> None:
    """All of ``S_10`` (3,628,800 elements) cannot be listed: that arm fails before any arm trains;
    with ``samples`` random elements per step the augmented arm trains the full graphs network."""
    import eqlandscape.dynamics

    task = graph_task(20)
    student = MLPArchitecture(task.architecture_reps())

    def no_training(*args, **kwargs):
        raise AssertionError("an arm trained before the failing arm was checked")

    with monkeypatch.context() as m:
        m.setattr(eqlandscape.dynamics, "train", no_training)
        with pytest.raises(EqlandscapeError, match="3,628,800"):
            dynamics(task, student, _config(n_models=1, steps=1), ["equivariant", "augmented"])
    result = dynamics(task, student, _config(n_models=1, steps=2, record_every=1), ["augmented"], samples=2)
    assert result.results["augmented"].config.strategy.samples == 2
    assert np.isfinite(result.students["dist_to_E"]).all() and (result.students["step"] == 0).sum() == 1


@pytest.mark.parametrize(
    ("arms", "named"),
    [(["sideways"], "sideways"), (["nominal", "nominal"], "nominal"), (["augmented-local"], "digits"), ([], "no arms")],
)
def test_bad_arms(arms, named) -> None:
    task = graph_task(20, (2, 2))
    with pytest.raises(ConfigError, match=named):
        dynamics(task, _graph_student(task), _config(), arms)


def test_init_must_be_equivariant() -> None:
    task = graph_task(20, (2, 2))
    with pytest.raises(ConfigError, match="init"):
        dynamics(task, _graph_student(task), _config(init="free"))


def test_command_writes_table_figure_and_data(tmp_path, capsys) -> None:
    out = tmp_path / "dyn"
    argv = ["dynamics", "--task", "graphs", "--group", "S4", "--count", "30", "--students", "2", "--steps", "2"]
    argv += ["--student", "natural^2 -> 2*natural^2 -> 4*trivial -> trivial", "--record-every", "1"]
    argv += ["--arms", "equivariant,nominal", "--out", str(out), "--json"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["arms"] == ["equivariant", "nominal"] and payload["task"]["task"] == "graphs"
    assert len(payload["steps"]) == 2 * 3 and payload["config"]["n_models"] == 2 and payload["version"]
    assert {r["step"] for r in payload["steps"]} == {0, 1, 2}
    assert sorted(p.name for p in out.iterdir()) == ["dynamics.png", "students.csv", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == payload["steps"] and set(summary["seconds"]) == {"equivariant", "nominal"}
    csv = (out / "students.csv").read_text().splitlines()
    assert csv[0].split(",")[:3] == ["arm", "seed", "step"] and len(csv) == 1 + 2 * 2 * 3
    # every column and key is described in docs/outputs.md
    from test_readme import documented_names

    names = documented_names()
    used = set(csv[0].split(",")) | set(payload) | {k for row in payload["steps"] for k in row}
    assert used <= names, used - names
    # a second run into the same directory needs --force; the table on a terminal
    assert main(argv[:-1]) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv[:-3], "--students", "1"]) == 0
    assert "distance from E" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--task", "teacher"], "teacher"),
        (["--task", "digits", "--group", "S3"], "S3"),
        (["--task", "graphs", "--group", "S4", "--count", "20", "--arms", "equivariant,bogus"], "bogus"),
        (["--task", "digits", "--count", "20"], "--count"),
        (["--task", "graphs", "--group", "S4", "--count", "20", "--students", "0"], "n_models"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, named) -> None:
    assert main(["dynamics", *argv, "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err, err
