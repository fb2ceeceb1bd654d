"""The compare command: relaxations side by side on one problem, and the escape study (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from eqlandscape.cli.app import (
    DtypeOption,
    ForceFlag,
    JsonFlag,
    QuietFlag,
    ThreadsOption,
    _print_json,
    _table,
    app,
    console,
)
from eqlandscape.cli.progress import TrainingBar
from eqlandscape.errors import ConfigError
from eqlandscape.files import check_output_dir, write_result_dir

STUDIES = ("escape",)


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _save(out_dir: Path | None, stem: str, table: Any, plot: Any, summary: dict[str, Any]) -> dict[str, str]:
    """Write ``<stem>.csv``, ``<stem>.png`` (the figure ``plot()`` draws) and summary.json into ``out_dir``;
    the paths written, or none without ``--out``."""
    if out_dir is None:
        return {}
    figure = plot()
    files = {
        f"{stem}.csv": lambda p: table.to_csv(p, index=False),
        f"{stem}.png": lambda p: figure.savefig(p, dpi=110, format="png"),
        "summary.json": lambda p: p.write_text(json.dumps(summary, indent=2, default=float)),
    }
    return {k: str(v) for k, v in write_result_dir(out_dir, files).items()}


@app.command("compare")
def compare_command(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S3.")] = "S3",
    reps: Annotated[str, typer.Option(help="Layer reps 'rho_0 -> ... -> rho_L'.")] = "natural -> natural -> trivial",
    strategies: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated strategies [constrained,free,augmented,relaxed,penalty,ace,ace-resilient,rpp,"
            "scheduled: those not registered are skipped with a note]."
        ),
    ] = None,
    teacher_weights: Annotated[
        str, typer.Option(help="plane (W = I - 0.2 (J - I), natural -> natural -> trivial) or random.")
    ] = "plane",
    epsilon: Annotated[
        str, typer.Option(help="Comma-separated epsilons: teachers W_eq + epsilon V with V free (rows per epsilon).")
    ] = "0",
    students: Annotated[
        int | None, typer.Option(help="Students per strategy [128]; escape: wrong-side students [12].")
    ] = None,
    steps: Annotated[int, typer.Option(help="Full-batch steps per student.")] = 3000,
    seed: Annotated[int, typer.Option(help="First student seed.")] = 0,
    optimizer: Annotated[
        str, typer.Option(help="sgd or adam (every strategy); escape: the optimizer whose --lr is given.")
    ] = "sgd",
    lr: Annotated[float | None, typer.Option(help="Learning rate [0.05; escape: sgd 0.05, adam 0.01].")] = None,
    switch_step: Annotated[
        int | None,
        typer.Option(help="Switch to free training, for strategies that have one [steps // 3; escape 1000]."),
    ] = None,
    teacher_seed: Annotated[int, typer.Option(help="Seed of a random teacher and of the free part V.")] = 0,
    bias: Annotated[bool, typer.Option(help="random teacher: biases in every layer.")] = False,
    n_train: Annotated[int, typer.Option(help="Training samples.")] = 512,
    data_seed: Annotated[int, typer.Option(help="Seed of the data.")] = 12345,
    symmetrize: Annotated[
        bool, typer.Option(help="Close the train set under G (every sample in all |G| copies).")
    ] = False,
    label_noise: Annotated[float, typer.Option(help="Standard deviation of Gaussian noise on the train labels.")] = 0.0,
    study: Annotated[
        str | None, typer.Option(help="escape: relaxed training from the wrong side of the barrier, over a grid.")
    ] = None,
    free_steps: Annotated[str, typer.Option(help="escape: free-phase lengths.")] = "1000,2000,4000,8000,16000",
    n_trains: Annotated[
        str, typer.Option(help="escape: train-set sizes (symmetrize: ceil(n / |G|) points, closed under G).")
    ] = "64,512,4096",
    data_seeds: Annotated[str, typer.Option(help="escape: data seeds.")] = "0,1,2",
    variants: Annotated[
        str | None,
        typer.Option(
            help="escape: sample, or '+'-joined switches symmetrize, noise, adam, restart, keep, warmup "
            "[symmetrize,sample,symmetrize+noise,symmetrize+adam,adam; adam+keep, adam+warmup where relaxed has "
            "optimizer_state]."
        ),
    ] = None,
    dtype: DtypeOption = "float32",
    out: Annotated[str | None, typer.Option(help="Directory for the table (CSV), the figure and summary.json.")] = None,
    force: ForceFlag = False,
    threads: ThreadsOption = None,
    quiet_: QuietFlag = False,
    json_: JsonFlag = False,
):
    """Train every strategy on one problem from the same seeds; or (--study escape) relaxed students from
    the wrong side of the barrier against the free-phase length, the sample and the symmetry breakers."""
    from eqlandscape.compare import CompareConfig, EscapeConfig, ProblemConfig

    out_dir = None if out is None else check_output_dir(out, force=force)
    if optimizer not in ("sgd", "adam"):
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected sgd or adam")
    if study is not None and study not in STUDIES:
        raise ConfigError(f"unknown study {study!r}; expected one of {', '.join(STUDIES)}")
    problem = {
        "group": group_name,
        "reps": reps,
        "teacher_weights": teacher_weights,
        "teacher_seed": teacher_seed,
        "bias": bias,
        "n_train": n_train,
        "data_seed": data_seed,
    }
    quiet = console if not json_ else None
    with TrainingBar.for_stdout(quiet_ or json_) as bar:

        def done(label: str, seconds: float) -> None:
            if quiet is not None:
                quiet.print(f"  trained {label:<44} {seconds:6.1f} s")

        if study is None:
            given = {"--free-steps": free_steps != "1000,2000,4000,8000,16000", "--variants": variants is not None}
            given |= {"--n-trains": n_trains != "64,512,4096", "--data-seeds": data_seeds != "0,1,2"}
            wrong = [flag for flag, on in given.items() if on]
            if wrong:
                raise ConfigError(f"{wrong[0]} applies to --study escape")
            config = CompareConfig(
                problem=ProblemConfig(**problem, symmetrize=symmetrize, label_noise=label_noise),
                strategies=None if strategies is None else _names(strategies),
                epsilons=_floats(epsilon, "--epsilon"),
                students=128 if students is None else students,
                steps=steps,
                seed=seed,
                optimizer=optimizer,
                **({} if lr is None else {"lr": lr}),
                switch_step=switch_step,
                dtype=dtype,
                workers=threads,
            )
            _compare(config, out_dir, json_, done, bar.update)
            return
        for flag, value, default in (("--strategies", strategies, None), ("--epsilon", epsilon, "0")):
            if value != default:
                raise ConfigError(f"{flag} does not apply to --study escape")
        if symmetrize or label_noise:
            raise ConfigError("--study escape switches symmetrize and label noise on in its --variants")
        config = EscapeConfig(
            problem=ProblemConfig(**problem),
            students=12 if students is None else students,
            seed=seed,
            switch_step=1000 if switch_step is None else switch_step,
            free_steps=_ints(free_steps, "--free-steps"),
            n_trains=_ints(n_trains, "--n-trains"),
            data_seeds=_ints(data_seeds, "--data-seeds"),
            variants=None if variants is None else _names(variants),
            **({} if lr is None else {f"{optimizer}_lr": lr}),  # the other optimizer's: EscapeConfig's default
            dtype=dtype,
            workers=threads,
        )
        _escape(config, out_dir, json_, done, bar.update)


def _compare(config: Any, out_dir: Path | None, json_: bool, done: Any, on_step: Any) -> None:
    from eqlandscape.compare import compare
    from eqlandscape.plots import compare_success

    result = compare(config, progress=done, on_step=on_step)
    table = result.table()
    summary = result.summary()
    files = _save(out_dir, "compare", table, lambda: compare_success(table, table["barrier"].iloc[0]), summary)
    if json_:
        _print_json(summary | {"files": files})
        return
    for name in result.skipped:
        console.print(f"note: strategy {name} is not registered yet; skipped")
    columns = ["epsilon", "strategy", "start_side", "students", "success", "final_loss", "dist_to_E"]
    columns += ["equiv_error", "hidden_rep", "free_phase"]
    rows = [
        [
            f"{r.epsilon:g}",
            r.strategy,
            r.start_side,
            r.students,
            f"{r.success:.0%}",
            f"{r.final_loss:.2e}",
            f"{r.dist_to_E:.2e}",
            f"{r.equiv_error:.2e}",
            f"{r.hidden_rep} ({r.hidden_rep_share:.0%})",
            "" if np.isnan(r.free_phase) else int(r.free_phase),
        ]
        for r in table.itertuples()
    ]
    barrier = table["barrier"].iloc[0]
    console.print(
        _table(
            f"{config.problem.group} {config.problem.reps}: success by the side of {barrier} each student started "
            f"on (teacher: {table['teacher_side'].iloc[0]}); medians of the final test loss, distance to E and "
            "equivariance error; the most common final hidden rep",
            columns,
            rows,
        )
    )
    terms = table[(table["start_side"] == "all") & (table["strategy_terms"] != "")]
    if len(terms):
        console.print(
            _table(
                "the strategies' own quantities at the end, medians over all students (loss dropped: the test loss "
                "with the free part dropped)",
                ["epsilon", "strategy", "loss dropped", "quantities"],
                [
                    [f"{r.epsilon:g}", r.strategy, f"{r.final_loss_dropped:.2e}", r.strategy_terms]
                    for r in terms.itertuples()
                ],
            )
        )
    console.print(f"wrote {', '.join(files.values())}" if files else "nothing was saved; pass --out DIR")


def _escape(config: Any, out_dir: Path | None, json_: bool, done: Any, on_step: Any) -> None:
    from eqlandscape.compare import escape_study
    from eqlandscape.plots import escape_success

    study = escape_study(config, progress=done, on_step=on_step)
    rows, summary = study["rows"], study["summary"]
    files = _save(out_dir, "escape", rows, lambda: escape_success(rows, summary["barrier"]), summary)
    if json_:
        _print_json(summary | {"files": files})
        return
    per = rows.groupby(["variant", "n_train", "free_steps"], sort=False)["success"].agg(["mean", "min", "max"])
    console.print(
        _table(
            f"relaxed students from the wrong side of {summary['barrier']} (teacher: {summary['teacher_side']}), "
            f"{len(summary['seeds'])} per run: success, mean (lowest, highest) over data seeds "
            f"{', '.join(map(str, config.data_seeds))}",
            ["variant", "n_train", "free steps", "success"],
            [[v, n, f, f"{r['mean']:.0%} ({r['min']:.0%}, {r['max']:.0%})"] for (v, n, f), r in per.iterrows()],
        )
    )
    console.print(f"wrote {', '.join(files.values())}" if files else "nothing was saved; pass --out DIR")
