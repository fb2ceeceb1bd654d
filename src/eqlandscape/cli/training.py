"""``eqlandscape train``: the run, its table and its files.

The strategy options of ``train`` are generated from the strategies' config schemas
(:func:`strategy_options`): one ``--field-name`` per field of any registered strategy config
(:mod:`eqlandscape.train.strategies`), its help naming the strategies that have it and their
defaults; the value is validated by the config (a bad one is a ``ConfigError`` naming it), and an
option given for a strategy without that field is an error naming the option.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
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
from eqlandscape.cli.tasks import default_student_spec, make_data_task, make_task
from eqlandscape.errors import ConfigError
from eqlandscape.files import check_output_dir, write_result_dir
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import parse_rep_chain
from eqlandscape.symmetry.annotate import annotate
from eqlandscape.tasks.transforms import symmetrize
from eqlandscape.train import TrainConfig, TrainProgress, TrainResult, train
from eqlandscape.train.config import strategy_config_classes, strategy_fields, strategy_names


def run_training(
    group: str,
    teacher_spec: str,
    student_spec: str | None,
    config: TrainConfig,
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    task: str = "teacher",
    count: int | None = None,
    train_fraction: float | None = None,
    closed: bool = False,
    **task_options: Any,
) -> TrainResult:
    """Train ``config.n_models`` students of ``student_spec`` on ``task``: ``teacher`` (the task
    :func:`make_task` builds from ``task_options``; default student: the teacher's reps), ``graphs``
    or ``digits`` (:func:`make_data_task` from ``count``, ``train_fraction`` and ``data_seed``; default
    student :func:`default_student_spec`, reps parsed over the task's group); ``closed``: the train set
    closed under ``G`` first (:func:`~eqlandscape.tasks.transforms.symmetrize`); ``progress`` as for
    :func:`~eqlandscape.train.train`."""
    if closed and task_options.get("population"):
        raise ConfigError("--symmetrize closes a train set under G; --population trains on no train set")
    activation, bias = task_options.get("activation", "relu"), task_options.get("bias", True)
    if task == "teacher":
        if count is not None or train_fraction is not None:
            flag = "--count" if count is not None else "--train-fraction"
            raise ConfigError(f"{flag} applies to --task graphs or digits, not teacher")
        made = make_task(group, teacher_spec, **task_options)
        made = symmetrize(made) if closed else made
        reps = None if student_spec is None else parse_rep_chain(group, student_spec)
        student = None if reps is None else MLPArchitecture(reps, activation, bias)
        return train(made, config, student, progress=progress)
    data = make_data_task(
        task, group, count=count, train_fraction=train_fraction, data_seed=task_options.get("data_seed")
    )
    reps = default_student_spec(data) if student_spec is None else parse_rep_chain(data.rep_in.group, student_spec)
    data = symmetrize(data) if closed else data
    return train(data, config, MLPArchitecture(reps, activation, bias), progress=progress)


def students_table(result: TrainResult) -> pd.DataFrame:
    """One row per student: the scalar columns of the run's table (``test_loss`` also as
    ``final_test_loss``) and the symmetry annotation (:func:`~eqlandscape.symmetry.annotate.annotate`),
    except for the graphs task, whose network (``32*natural^2`` hidden neurons of ``S_n``) is beyond
    the barrier analysis."""
    t = result.table
    scalars = t[[c for c in t.columns if not c.endswith("_curve")]].assign(final_test_loss=t["test_loss"])
    if result.task.get("task") == "graphs":
        return scalars
    return pd.concat([scalars, annotate(result)], axis=1)


def write_train_result(result: TrainResult, table: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """``students.csv`` (``table``: one row per student) and ``summary.json`` (config, task, student,
    version) as the directory ``out_dir``, replacing an earlier one as a whole."""
    paths = write_result_dir(
        out_dir,
        {
            "students.csv": lambda p: table.to_csv(p, index=False),
            "summary.json": lambda p: p.write_text(json.dumps(result.metadata(), indent=2, default=float)),
        },
    )
    return {"students": paths["students.csv"], "summary": paths["summary.json"]}


def train_summary(result: TrainResult, seconds: float) -> dict[str, Any]:
    """Aggregate numbers of a run: success rate, losses, counts of dead/diverged students, time."""
    t = result.table
    return {
        "students": len(t),
        "success_rate": float(t["success"].mean()),
        "median_test_loss": float(t["test_loss"].median()),
        "dead": int(t["dead"].sum()),
        "diverged": int(t["diverged"].sum()),
        "converged": int(t["converged"].sum()),
        "seconds": seconds,
        "us_per_student_step": 1e6 * seconds / (len(t) * result.config.steps),
    }


def _cli_type(annotation: Any) -> str | None:
    """The metavar of a config field's type on the command line, or ``None`` for a type the
    command line does not give (lists: ``augmented``'s masks)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is Literal:
        return "[" + "|".join(str(a) for a in typing.get_args(annotation)) + "]"
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return {int: "INTEGER", float: "FLOAT", bool: "BOOLEAN", str: "TEXT"}.get(annotation)


def _typed(value: str, metavar: str | None) -> Any:
    """A strategy option's text as its field's type (metavar ``INTEGER``, ``FLOAT``), so that the config's
    error shows the number; text that is not one stays text, and the config names it."""
    convert = {"INTEGER": int, "FLOAT": float}.get(metavar)
    if convert is None:
        return value
    try:
        return convert(value)
    except ValueError:
        return value


def strategy_options() -> dict[str, tuple[str, str]]:
    """Every command-line field of the registered strategy configs: name -> (metavar, help), the
    help naming the strategies that have the field and their defaults."""
    found: dict[str, list[tuple[str, Any, str | None, str]]] = {}
    for strategy, cls in strategy_config_classes().items():
        for name, info in cls.model_fields.items():
            metavar = _cli_type(info.annotation)
            if name != "name" and metavar is not None:
                found.setdefault(name, []).append((strategy, info.default, info.description, metavar))
    options = {}
    for name, owners in found.items():
        by_default: dict[str, list[str]] = {}
        for strategy, default, _, _ in owners:
            by_default.setdefault("none" if default is None else str(default), []).append(strategy)
        defaults = "; ".join(f"{', '.join(names)} [{d}]" for d, names in by_default.items())
        options[name] = (owners[0][3], f"{owners[0][2] or name} ({defaults}).")
    return options


def train_command(
    group_name: Annotated[
        str,
        typer.Argument(
            metavar="GROUP", help="Group name, e.g. S3; graphs: S<n> for n nodes (S10); digits: C4 or D4 on the pixels."
        ),
    ],
    task: Annotated[
        str,
        typer.Option(
            help="teacher (a random equivariant teacher), graphs (connectivity of block-model graphs, "
            "binary cross-entropy) or digits (8x8 digits, cross-entropy)."
        ),
    ] = "teacher",
    teacher: Annotated[
        str | None, typer.Option(help="teacher: teacher reps 'rho_0 -> ... -> rho_L' [natural -> natural -> trivial].")
    ] = None,
    student: Annotated[
        str | None,
        typer.Option(
            help="Student reps (default: teacher, the teacher's; graphs, natural^2 -> 32*natural^2 -> "
            "64*trivial -> 32*trivial -> trivial; digits, natural -> 4*regular -> 10*trivial)."
        ),
    ] = None,
    count: Annotated[int | None, typer.Option(help="graphs: number of graphs [1000].")] = None,
    train_fraction: Annotated[
        float | None, typer.Option(help="graphs, digits: share of the data used for training [0.8].")
    ] = None,
    strategy: Annotated[
        str, typer.Option(help=f"{', '.join(strategy_names())}; their options follow --json.")
    ] = "constrained",
    optimizer: Annotated[str, typer.Option(help="sgd or adam.")] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.01,
    students: Annotated[int, typer.Option(help="Number of students K, trained at once.")] = 256,
    steps: Annotated[int, typer.Option(help="Step budget.")] = 1000,
    seed: Annotated[int, typer.Option(help="First student seed.")] = 0,
    teacher_seed: Annotated[int | None, typer.Option(help="teacher: seed of the random teacher's weights [0].")] = None,
    teacher_weights: Annotated[
        str | None,
        typer.Option(
            help="teacher: random (default), or plane: W = a I + b (J - I), output weights 1 "
            "(natural -> natural -> trivial)."
        ),
    ] = None,
    teacher_a: Annotated[float | None, typer.Option(help="plane teacher: diagonal weight a [1.0].")] = None,
    teacher_b: Annotated[float | None, typer.Option(help="plane teacher: off-diagonal weight b [-0.2].")] = None,
    data_seed: Annotated[
        int | None, typer.Option(help="Seed of the data (default: teacher, the teacher seed; graphs, digits, 0).")
    ] = None,
    activation: Annotated[str, typer.Option(help="relu, tanh, gelu or identity.")] = "relu",
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = True,
    n_train: Annotated[int | None, typer.Option(help="teacher: training samples [512].")] = None,
    n_test: Annotated[int | None, typer.Option(help="teacher: test samples [512].")] = None,
    noise: Annotated[float | None, typer.Option(help="teacher: label noise (standard deviation) [0.0].")] = None,
    population: Annotated[
        bool,
        typer.Option(
            "--population",
            help="teacher: train on the expected loss over Gaussian inputs (closed form; one-hidden-layer "
            "ReLU teacher and student without biases), not the train set.",
        ),
    ] = False,
    closed: Annotated[
        bool,
        typer.Option(
            "--symmetrize",
            help="Close the train set under G: every sample in all |G| transformed copies (x and y alike), "
            "so that only the optimizer and rounding can break the symmetry.",
        ),
    ] = False,
    dtype: DtypeOption = "float32",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    out: Annotated[str | None, typer.Option(help="Directory for students.csv and summary.json.")] = None,
    force: ForceFlag = False,
    threads: ThreadsOption = None,
    quiet_: QuietFlag = False,
    json_: JsonFlag = False,
    **strategy_values: Any,
):
    """Train K students at once with one strategy, on a random equivariant teacher's data (--task teacher),
    on graph connectivity (graphs) or on digits (digits)."""
    out_dir = None if out is None else check_output_dir(out, force=force)
    # an option given for a strategy that has no such field is an error, not silently ignored
    given = {k: v for k, v in strategy_values.items() if v is not None}
    fields = strategy_fields(strategy)
    field_types = strategy_config_classes()[strategy].model_fields  # the value's type: this strategy's field
    for name, value in given.items():
        if name not in fields:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} {value} does not apply to --strategy {strategy} (its options: {', '.join(fields) or 'none'})"
            )
    if task not in ("teacher", "graphs", "digits"):
        raise ConfigError(f"unknown task {task!r}; expected one of teacher, graphs, digits")
    # options of the teacher task given for another task, and of the data tasks given for the teacher
    teacher_only = {
        "teacher": teacher,
        "teacher_seed": teacher_seed,
        "teacher_weights": teacher_weights,
        "teacher_a": teacher_a,
        "teacher_b": teacher_b,
        "n_train": n_train,
        "n_test": n_test,
        "noise": noise,
    }
    data_only = {"count": count, "train_fraction": train_fraction}
    if population and task != "teacher":
        raise ConfigError(f"--population applies to --task teacher, not --task {task}")
    wrong = teacher_only if task != "teacher" else data_only
    for name, value in wrong.items():
        if value is not None:
            flag = "--" + name.replace("_", "-")
            applies = "--task teacher" if task != "teacher" else "--task graphs or digits"
            raise ConfigError(f"{flag} {value} applies to {applies}, not --task {task}")
    if task == "digits" and count is not None:
        raise ConfigError(f"--count {count} applies to --task graphs, not --task digits")
    teacher_weights = teacher_weights or "random"
    if teacher_weights != "plane" and (teacher_a is not None or teacher_b is not None):
        raise ConfigError(f"--teacher-a/--teacher-b apply to --teacher-weights plane, not {teacher_weights!r}")
    config = TrainConfig(
        strategy={"name": strategy, **{k: _typed(v, _cli_type(field_types[k].annotation)) for k, v in given.items()}},
        optimizer={"name": optimizer, "lr": lr},
        n_models=students,
        first_seed=seed,
        steps=steps,
        dtype=dtype,
        device=device,
        workers=threads,
    )
    start = time.perf_counter()
    teacher_options: dict[str, Any] = (
        {}
        if task != "teacher"
        else {
            "teacher_seed": 0 if teacher_seed is None else teacher_seed,
            "n_train": 512 if n_train is None else n_train,
            "n_test": 512 if n_test is None else n_test,
            "noise": 0.0 if noise is None else noise,
            "teacher_weights": teacher_weights,
            "teacher_a": 1.0 if teacher_a is None else teacher_a,
            "teacher_b": -0.2 if teacher_b is None else teacher_b,
            "population": population,
        }
    )
    with TrainingBar.for_stdout(quiet_ or json_) as bar:
        result = run_training(
            group_name,
            teacher or "natural -> natural -> trivial",
            student,
            config,
            progress=functools.partial(bar.update, f"{group_name} {strategy}"),
            task=task,
            count=count,
            train_fraction=train_fraction,
            closed=closed,
            activation=activation,
            bias=bias,
            **teacher_options,
            data_seed=data_seed,
        )
    summary = train_summary(result, time.perf_counter() - start)
    table = students_table(result)
    files = {} if out_dir is None else {k: str(v) for k, v in write_train_result(result, table, out_dir).items()}
    if json_:
        students_json = json.loads(table.to_json(orient="records"))
        _print_json({"summary": summary, "files": files, "students": students_json, **result.metadata()})
        return
    console.print(
        f"[bold]{group_name}[/bold] {strategy} ({result.table['parametrization'].iloc[0]}), {optimizer} lr {lr}: "
        f"{summary['students']} students, {steps} steps in {summary['seconds']:.1f} s "
        f"({summary['us_per_student_step']:.2f} us per student-step)"
    )
    console.print(
        f"success {summary['success_rate']:.1%}, median test loss {summary['median_test_loss']:.3g}, "
        f"dead {summary['dead']}, diverged {summary['diverged']}"
    )
    if "train_accuracy" in table.columns:
        console.print(
            f"median accuracy: train {table['train_accuracy'].median():.1%}, test {table['test_accuracy'].median():.1%}"
        )
    if "relation" in table.columns:
        ended = table.groupby(["relation", "hidden_rep"]).size().rename("students").reset_index()
        console.print(_table("final hidden reps", ["relation", "hidden rep", "students"], ended.to_numpy().tolist()))
    if files:
        console.print(f"wrote {', '.join(files.values())}")
    else:
        console.print("nothing was saved; pass --out DIR to write students.csv and summary.json")


def _with_strategy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with one ``--field-name`` option (text, validated by the strategy's config) per
    field of :func:`strategy_options`, in the signature that typer reads."""
    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for name, (metavar, help_) in strategy_options().items():
        option = typer.Option(help=help_, metavar=metavar, rich_help_panel="Strategy options")
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, option]
            )
        )
    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return command


app.command("train")(_with_strategy_options(train_command))
