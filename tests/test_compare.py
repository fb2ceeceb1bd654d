"""The comparison of strategies and the escape study, on tiny sizes.

Oracles: the side of the plane ``a = b`` from the weights' diagonal and off-diagonal means (as in
test_demo), the projection onto ``E`` as the Reynolds average over every group element, separate
training runs of one strategy, and a shorter run for the success after a given free phase."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from eqlandscape.cli import main
from eqlandscape.compare import (
    STRATEGIES,
    CompareConfig,
    EscapeConfig,
    ProblemConfig,
    compare,
    escape_study,
    parse_variant,
    resolve_strategies,
    wrong_side_seeds,
)
from eqlandscape.errors import ConfigError
from eqlandscape.train import TrainConfig, train
from eqlandscape.train.config import strategy_fields, strategy_names

TINY = {"students": 12, "steps": 90, "record_every": 30}


def plane_side(W: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Side of ``a = b`` for ``W (K, 3, 3)``: ``a`` the mean diagonal, ``b`` the mean off-diagonal entry."""
    a = np.trace(W, axis1=-2, axis2=-1) / 3
    b = (W.sum(axis=(-2, -1)) - 3 * a) / 6
    return np.where(np.abs(a - b) <= tol, "on", np.where(a > b, "+", "-"))


def reynolds(W: np.ndarray, rep_in, rep_out) -> np.ndarray:
    """``(1/|G|) sum_g rho_out(g)^T W rho_in(g)``: the projection onto the equivariant maps."""
    G = rep_in.group
    return sum(rep_out.matrix(g).T @ W @ rep_in.matrix(g) for g in range(G.order)) / G.order


@pytest.fixture(scope="module")
def comparison():
    return compare(CompareConfig(strategies=("constrained", "free", "relaxed"), epsilons=(0.0, 0.2), **TINY))


def test_default_strategies_skip_the_unregistered_and_unknown_names_are_errors() -> None:
    run, skipped = resolve_strategies(None)
    known = strategy_names()
    assert run == tuple(s for s in STRATEGIES if s in known) and set(run) | set(skipped) == set(STRATEGIES)
    assert not set(skipped) & set(known)
    with pytest.raises(ConfigError, match="'nosuch'"):
        resolve_strategies(("free", "nosuch"))


def test_rows_count_every_student_once_per_side(comparison) -> None:
    table = comparison.table()
    assert set(table["epsilon"]) == {0.0, 0.2} and set(table["strategy"]) == {"constrained", "free", "relaxed"}
    for (_, _), rows in table.groupby(["epsilon", "strategy"]):
        everyone = rows[rows["start_side"] == "all"]
        assert len(everyone) == 1 and int(everyone["students"].iloc[0]) == TINY["students"]
        assert rows[rows["start_side"] != "all"]["students"].sum() == TINY["students"]
    assert table["teacher_side"].eq("+").all()
    relaxed = table[table["strategy"] == "relaxed"]["free_phase"]
    assert (relaxed == TINY["steps"] - TINY["steps"] // 3).all()
    assert table[table["strategy"] != "relaxed"]["free_phase"].isna().all()


def test_same_seeds_same_start_and_rates_agree_with_separate_runs(comparison) -> None:
    config = comparison.config
    task = config.problem.task(0.0)
    students = comparison.students[comparison.students["epsilon"] == 0.0]
    table = comparison.table()
    for name in ("constrained", "free", "relaxed"):
        alone = train(task, config.train_config(name))
        sides = plane_side(alone.initial_weights[0])
        mine = students[students["strategy"] == name]
        np.testing.assert_array_equal(mine["start_side"], sides)
        np.testing.assert_array_equal(mine["success"], alone.table["success"])
        for side in set(sides):
            row = table[(table["epsilon"] == 0.0) & (table["strategy"] == name) & (table["start_side"] == side)]
            assert row["success"].iloc[0] == pytest.approx(alone.table["success"][sides == side].mean())
            assert row["final_loss"].iloc[0] == pytest.approx(alone.table["test_loss"][sides == side].median())
    starts = students.pivot_table(index="seed", columns="strategy", values="start_side", aggfunc="first")
    assert (starts.nunique(axis=1) == 1).all()


@pytest.mark.parametrize("weights", ["plane", "random"])
def test_partly_symmetric_teacher_is_the_equivariant_one_plus_epsilon_free(weights) -> None:
    problem = ProblemConfig(teacher_weights=weights, bias=weights == "random")
    base = [t.detach().numpy() for t in problem.teacher(0.0).full()]
    arch = problem.teacher(0.0).arch
    for W, rep_in, rep_out in zip(base[:: arch.per_layer], arch.reps[:-1], arch.reps[1:], strict=True):
        np.testing.assert_allclose(reynolds(W, rep_in, rep_out), W, atol=1e-12)
    gaps = []
    for epsilon in (0.1, 0.3):
        full = [t.detach().numpy() for t in problem.teacher(epsilon).full()]
        free = [v[0] for v in arch.init_full([0], "free")]
        for f, b, v in zip(full, base, free, strict=True):
            np.testing.assert_allclose(f, b + epsilon * v, atol=1e-12)
        W, rep_in, rep_out = full[0], arch.reps[0], arch.reps[1]
        gaps.append(np.linalg.norm(W - reynolds(W, rep_in, rep_out)))
    assert gaps[0] > 0 and gaps[1] == pytest.approx(3 * gaps[0])


def test_problem_switches_and_bad_input() -> None:
    task = ProblemConfig(n_train=10, symmetrize=True, label_noise=0.1).task()
    assert task.x_train.shape == (60, 3) and [t["transform"] for t in task.describe()["transforms"]] == [
        "symmetrize",
        "label_noise",
    ]
    with pytest.raises(ConfigError, match=r"epsilon=-0\.5"):
        CompareConfig(epsilons=(0.0, -0.5))
    with pytest.raises(ConfigError, match="label_noise=-1"):
        ProblemConfig(label_noise=-1)
    with pytest.raises(ConfigError, match="plane"):
        ProblemConfig(reps="natural -> regular -> trivial").teacher()


def test_escape_students_start_on_the_wrong_side_and_success_matches_a_shorter_run() -> None:
    config = EscapeConfig(
        students=6, switch_step=20, free_steps=(20, 60), n_trains=(16, 48), data_seeds=(0, 3), variants=("sample",)
    )
    task = config.problem.task(0.0, n_train=16, data_seed=3)
    seeds, initial = wrong_side_seeds(config, task.arch, "+")
    assert (plane_side(initial[0]) == "-").all() and len(seeds) == 6
    all_sides = plane_side(task.arch.init_full(np.arange(seeds.max() + 1))[0])
    np.testing.assert_array_equal(np.flatnonzero(all_sides == "-")[:6], seeds)
    study = escape_study(config)
    rows = study["rows"]
    assert len(rows) == 2 * 2 * 2 and set(rows["variant"]) == {"sample"}
    assert study["summary"]["seeds"] == seeds.tolist() and study["summary"]["version"]
    for free in (20, 60):  # the success after `free` free steps is that of a run that stops there
        short = TrainConfig(
            strategy={"name": "relaxed", "switch_step": 20},
            optimizer={"name": "sgd", "lr": config.sgd_lr},
            n_models=6,
            steps=20 + free,
            dead_tol=config.dead_tol,
        )
        alone = train(task, short, initial=[torch.as_tensor(t) for t in initial])
        row = rows[(rows["n_train"] == 16) & (rows["data_seed"] == 3) & (rows["free_steps"] == free)]
        assert row["success"].iloc[0] == pytest.approx(alone.table["success"].mean())
    last = rows[rows["free_steps"] == 60]
    assert last["dead"].notna().all() and rows[rows["free_steps"] == 20]["dead"].isna().all()


def test_variants() -> None:
    assert parse_variant("sample") == {"symmetrize": False, "noise": False, "optimizer": "sgd", "optimizer_state": None}
    assert parse_variant("symmetrize+noise+adam")["optimizer"] == "adam"
    with pytest.raises(ConfigError, match="'kick'"):
        parse_variant("noise+kick")
    if "optimizer_state" not in strategy_fields("relaxed"):
        with pytest.raises(ConfigError, match="optimizer_state"):
            parse_variant("adam+keep")
    else:
        assert parse_variant("adam+keep")["optimizer_state"] == "keep"
    with pytest.raises(ConfigError, match="n_trains"):
        EscapeConfig(n_trains=())


def _documented() -> set[str]:
    from test_readme import documented_names

    return documented_names()


def test_compare_command_writes_table_figure_and_summary(capsys, tmp_path) -> None:
    argv = ["compare", "S3", "--strategies", "constrained,relaxed", "--epsilon", "0,0.1", "--students", "6"]
    assert main([*argv, "--steps", "30", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    names = _documented()
    assert set(summary) <= names and set(summary["rows"][0]) <= names
    assert summary["compare_config"]["students"] == 6 and summary["version"] and summary["seeds"] == [0, 5]
    table = pd.read_csv(tmp_path / "compare.csv")
    assert set(table.columns) <= names and len(table) == len(summary["rows"])
    assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", "S3", "--strategies", "free", "--students", "4", "--steps", "10"]) == 0
    assert "success by the side" in capsys.readouterr().out


def test_escape_command_json(capsys, tmp_path) -> None:
    argv = ["compare", "S3", "--study", "escape", "--students", "3", "--switch-step", "10", "--free-steps", "10,20"]
    argv += ["--n-trains", "16", "--data-seeds", "0", "--variants", "sample,symmetrize", "--out", str(tmp_path)]
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    names = _documented()
    assert set(summary) <= names and set(summary["rows"][0]) <= names
    assert len(summary["rows"]) == 2 * 2 and summary["teacher_side"] == "+"
    # a symmetrize variant closes ceil(16 / 6) = 3 drawn points under S3: 18 samples
    assert {(r["variant"], r["samples"]) for r in summary["rows"]} == {("sample", 16), ("symmetrize", 18)}
    assert set(pd.read_csv(tmp_path / "escape.csv").columns) <= names
    assert (tmp_path / "escape.png").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--epsilon", "-0.1"], "epsilon=-0.1"),
        (["--epsilon", "x"], "'x'"),
        (["--strategies", "free,nosuch"], "'nosuch'"),
        (["--study", "nosuch"], "'nosuch'"),
        (["--free-steps", "10"], "--free-steps"),
        (["--study", "escape", "--epsilon", "0.1"], "--epsilon"),
        (["--study", "escape", "--variants", "kick"], "'kick'"),
        (["--label-noise", "-1"], "label_noise=-1"),
        (["--study", "escape", "--optimizer", "rmsprop"], "'rmsprop'"),
    ],
)
def test_bad_input_exit_2(capsys, argv, needle) -> None:
    assert main(["compare", "S3", "--students", "2", "--steps", "2", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]


def test_figures_have_a_panel_per_epsilon_and_per_variant(comparison) -> None:
    from eqlandscape.plots import compare_success, escape_success

    table = comparison.table()
    fig = compare_success(table, table["barrier"].iloc[0])
    assert len(fig.axes) == 2 and all(ax.get_ylabel() == "success rate" for ax in fig.axes)
    for ax, epsilon in zip(fig.axes, (0.0, 0.2), strict=True):
        mine = table[table["epsilon"] == epsilon]
        assert f"{epsilon:g}" in ax.get_title()
        heights = [p.get_height() for p in ax.patches]
        assert len(heights) == len(mine)  # one bar per strategy and start side (and all)
        assert sorted(heights) == pytest.approx(sorted(mine["success"]))
    rows = pd.DataFrame(
        {
            "variant": ["a", "a", "b", "b"] * 2,
            "n_train": [16] * 8,
            "data_seed": [0] * 4 + [1] * 4,
            "free_steps": [10, 20] * 4,
            "success": [0.0, 0.5, 0.0, 0.0, 0.25, 1.0, 0.0, 0.0],
        }
    )
    fig = escape_success(rows, "W0[0,0] = W0[0,1]")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["a", "b"] and shown[0].get_xscale() == "log"
    mean = shown[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(mean, [0.125, 0.75])


def test_strategy_terms_are_the_medians_of_the_strategys_own_columns() -> None:
    """ACE's per-layer gamma, lambda and norms (and any strategy's extra scalar columns) end up in
    ``strategy_terms`` as medians; ``final_loss_dropped`` is the median of ``test_loss_dropped``."""
    config = CompareConfig(strategies=("ace", "relaxed"), students=6, steps=40, record_every=20)
    table = compare(config).table()
    relaxed = table[table["strategy"] == "relaxed"]
    assert (relaxed["strategy_terms"] == "").all() and relaxed["final_loss_dropped"].isna().all()
    alone = train(config.problem.task(0.0), config.train_config("ace")).table
    row = table[(table["strategy"] == "ace") & (table["start_side"] == "all")].iloc[0]
    terms = dict(item.split("=") for item in row["strategy_terms"].split(", "))
    assert float(terms["gamma_0"]) == pytest.approx(float(f"{alone['gamma_0'].median():.3g}"))
    assert row["final_loss_dropped"] == pytest.approx(alone["test_loss_dropped"].median())


@pytest.mark.parametrize(
    ("argv", "sgd_lr", "adam_lr"),
    [([], 0.05, 0.01), (["--optimizer", "adam"], 0.05, 0.01), (["--optimizer", "adam", "--lr", "0.02"], 0.05, 0.02)],
)
def test_escape_learning_rates_default_per_optimizer(monkeypatch, argv, sgd_lr, adam_lr) -> None:
    import eqlandscape.cli.compare as cli_compare

    seen = []
    monkeypatch.setattr(cli_compare, "_escape", lambda config, *args: seen.append(config))
    assert main(["compare", "S3", "--study", "escape", *argv]) == 0
    assert (seen[0].sgd_lr, seen[0].adam_lr) == (sgd_lr, adam_lr)
