"""The dynamics command: distance from E over training on the graph and digit tasks (issue 16)."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from eqlandscape.cli.app import DtypeOption, ForceFlag, JsonFlag, ThreadsOption, _print_json, _table, app, console


def _number(value: Any) -> Any:
    """A JSON-ready scalar: floats as floats (NaN as ``None``), numpy integers as ints."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):  # numpy's float64 too
        return None if math.isnan(value) else float(value)
    return int(value)


@app.command("dynamics")
def dynamics_command(
    task: Annotated[str, typer.Option(help="graphs (connectivity of block-model graphs, S_n) or digits (8x8 digits).")],
    group_name: Annotated[
        str | None,
        typer.Option("--group", help="graphs: S<n> for graphs of n nodes [S10]; digits: C4 or D4 on the pixels [C4]."),
    ] = None,
    count: Annotated[int | None, typer.Option(help="graphs: number of graphs [1000].")] = None,
    train_fraction: Annotated[float | None, typer.Option(help="Share of the data used for training [0.8].")] = None,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the data [0].")] = None,
    student: Annotated[
        str | None,
        typer.Option(
            help="Student reps (default: graphs, natural^2 -> 32*natural^2 -> 64*trivial -> 32*trivial -> trivial; "
            "digits, natural -> 4*regular -> 10*trivial)."
        ),
    ] = None,
    arms: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated arms: equivariant, augmented, nominal; digits also augmented-local, "
            "augmented-skewed, augmented-random [all of the task's]."
        ),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            help="Augmented arms: random group elements per model and step [graphs: 1; digits: all of G]. "
            "All of S_n cannot be listed past n = 7."
        ),
    ] = None,
    students: Annotated[int, typer.Option(help="Students per arm (seeds --seed, --seed + 1, ...).")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the first student.")] = 0,
    steps: Annotated[int, typer.Option(help="Full-batch steps.")] = 50,
    optimizer: Annotated[str, typer.Option(help="sgd or adam.")] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.01,
    record_every: Annotated[int, typer.Option(help="Record the metrics every this many steps.")] = 5,
    dtype: DtypeOption = "float32",
    threads: ThreadsOption = None,
    out: Annotated[
        str | None, typer.Option(help="Directory for students.csv, summary.json and dynamics.png [none].")
    ] = None,
    force: ForceFlag = False,
    json_: JsonFlag = False,
):
    """Equivariant, augmented and nominal training from one equivariant point per seed: the distance of
    the weights from E and the test accuracy over training (mean and spread over the students)."""
    from eqlandscape.cli.tasks import default_student_spec, make_data_task
    from eqlandscape.dynamics import dynamics
    from eqlandscape.errors import ConfigError
    from eqlandscape.files import check_output_dir, write_result_dir
    from eqlandscape.nn import MLPArchitecture
    from eqlandscape.reps import parse_rep_chain
    from eqlandscape.train import TrainConfig

    if task not in ("graphs", "digits"):
        raise ConfigError(f"unknown task {task!r} for dynamics; expected graphs or digits")
    out_dir = None if out is None else check_output_dir(out, force=force)
    group = group_name if group_name is not None else ("S10" if task == "graphs" else "C4")
    data = make_data_task(task, group, count=count, train_fraction=train_fraction, data_seed=data_seed)
    reps = default_student_spec(data) if student is None else parse_rep_chain(data.rep_in.group, student)
    config = TrainConfig(
        strategy="free",  # replaced by each arm's
        optimizer={"name": optimizer, "lr": lr},
        n_models=students,
        first_seed=seed,
        steps=steps,
        record_every=record_every,
        dtype=dtype,
        workers=threads,
    )
    chosen = None if arms is None else [a.strip() for a in arms.split(",")]
    if samples is None and task == "graphs":
        samples = 1
    result = dynamics(data, MLPArchitecture(reps), config, chosen, samples)
    table = result.steps
    rows = [{k: _number(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
    metadata = result.metadata() | {"steps": rows}
    paths: dict[str, Any] = {}
    if out_dir is not None:
        from eqlandscape.plots import dynamics_figure

        figure = dynamics_figure(result)
        paths = write_result_dir(
            out_dir,
            {
                "students.csv": lambda p: result.students.to_csv(p, index=False),
                "summary.json": lambda p: p.write_text(json.dumps(metadata, indent=2)),
                "dynamics.png": lambda p: figure.savefig(p, dpi=110, format="png"),
            },
        )
    if json_:
        _print_json(metadata | {"files": [str(p) for p in paths.values()]})
        return
    accuracy = "test_accuracy_mean" in table.columns
    columns = ["arm", "step", "dist to E (mean)", "(std)", "(max)"] + (
        ["test acc (mean)", "(std)"] if accuracy else ["test loss (mean)"]
    )
    printed = []
    for row in rows:
        line = [row["arm"], row["step"], f"{row['dist_to_E_mean']:.3g}", f"{row['dist_to_E_std']:.2g}"]
        line.append(f"{row['dist_to_E_max']:.3g}")
        if accuracy:
            line += [f"{row['test_accuracy_mean']:.3f}", f"{row['test_accuracy_std']:.3f}"]
        else:
            line.append(f"{row['test_loss_mean']:.4g}")
        printed.append(line)
    title = (
        f"{result.task.get('task')} ({data.rep_in.group.name}): distance from E over training, "
        f"{students} students per arm, {optimizer} lr {lr}"
    )
    console.print(_table(title, columns, printed))
    console.print("seconds per arm: " + ", ".join(f"{a} {s:.1f}" for a, s in result.seconds.items()))
    if paths:
        console.print(f"wrote {', '.join(map(str, paths.values()))}")
