"""The ``eqlandscape`` command (typer); output with rich, or JSON with ``--json``.

Bad input (any :class:`~eqlandscape.errors.EqlandscapeError`, or a usage error) prints one line
on stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from eqlandscape import __version__
from eqlandscape.cli.summaries import basis_summary, group_summary
from eqlandscape.errors import EqlandscapeError
from eqlandscape.groups import group_from_name

app = typer.Typer(
    name="eqlandscape",
    help="Loss landscapes and optimization dynamics of equivariant networks over permutation reps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console() if sys.stdout.isatty() else Console(width=140)  # wide tables stay whole in pipes and files
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(v) for v in r])
    return table


@app.command()
def group(
    name: Annotated[str, typer.Argument(help="Group name: C4, D4, S3, A4, K4, S3xC2, ...")],
    json_: JsonFlag = False,
):
    """Order, conjugacy classes, subgroup classes and transitive permutation reps of a group."""
    s = group_summary(group_from_name(name))
    if json_:
        _print_json(s)
        return
    abelian = "abelian" if s["abelian"] else "non-abelian"
    console.print(
        f"[bold]{s['group']}[/bold]: order {s['order']}, acting on {s['degree']} points, {abelian}; "
        f"generators {' '.join(s['generators'])}"
    )
    console.print(
        _table(
            f"{len(s['conjugacy_classes'])} conjugacy classes",
            ["size", "element order", "representative"],
            [[c["size"], c["element_order"], c["representative"]] for c in s["conjugacy_classes"]],
        )
    )
    console.print(
        _table(
            f"{s['subgroups']} subgroups in {len(s['subgroup_classes'])} conjugacy classes",
            ["label", "order", "index", "conjugates", "normal", "generators"],
            [
                [
                    c["label"],
                    c["order"],
                    c["index"],
                    c["conjugates"],
                    "yes" if c["normal"] else "",
                    " ".join(c["generators"]),
                ]
                for c in s["subgroup_classes"]
            ],
        )
    )
    console.print(
        _table(
            f"{len(s['transitive_reps'])} transitive p-reps G/H",
            ["spec", "degree"],
            [[t["spec"], t["degree"]] for t in s["transitive_reps"]],
        )
    )


@app.command()
def basis(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S4.")],
    rep_in: Annotated[str, typer.Argument(help="Input rep spec, e.g. 'natural' or '2*trivial + S4/C2'.")],
    rep_out: Annotated[str, typer.Argument(help="Output rep spec.")],
    json_: JsonFlag = False,
):
    """Dimension and orbit sizes of the equivariant maps REP_IN -> REP_OUT."""
    s = basis_summary(group_name, rep_in, rep_out)
    if json_:
        _print_json(s)
        return
    console.print(
        f"[bold]{s['group']}[/bold]: equivariant maps {s['rep_in']} -> {s['rep_out']} "
        f"(matrices {s['shape'][0]} x {s['shape'][1]})"
    )
    console.print(f"dimension {s['dim']} (orbits of index pairs); Burnside's count {s['burnside_dim']}")
    console.print(f"orbit sizes: {s['orbit_sizes']}")
    console.print(f"equivariant biases: dimension {s['bias_dim']}, orbit sizes {s['bias_orbit_sizes']}")


def _print_barrier_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        console.print(
            f"[bold]{row['group']}[/bold] hidden layer {row['layer']}: {row['hidden']} ({row['neurons']} neurons), "
            f"dim E = {row['dim_E']}; {row['barriers']} barrier(s), {row['degenerate']} degenerate pair orbit(s)"
        )
        pairs = [
            [
                f"({p['pair'][0]}, {p['pair'][1]})",
                p["size"],
                p["dim"],
                p["codimension"],
                p["verdict"],
                "; ".join(p["equations"]) if p["verdict"] == "barrier" else (p["reduced_to"] or ""),
            ]
            for p in row["pairs"]
        ]
        console.print(
            _table(
                "orbits of neuron pairs: dim and codimension of E ∩ Fix(swap) in E",
                ["pair", "orbit size", "dim", "codim", "verdict", "barrier equation / reduced hidden rep"],
                pairs,
            )
        )


@app.command()
def barriers(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S4.")],
    reps: Annotated[str, typer.Option(help="Layer reps 'rho_0 -> ... -> rho_L'.")] = "natural -> natural -> trivial",
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = False,
    json_: JsonFlag = False,
):
    """Hidden fixed-point subspaces of an architecture: barriers, degenerate pairs, their equations."""
    from eqlandscape.cli.training import rep_chain
    from eqlandscape.nn import MLPArchitecture
    from eqlandscape.symmetry import analyze_barriers

    rows = analyze_barriers(MLPArchitecture(rep_chain(group_name, reps), "relu", bias)).rows()
    if json_:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        console.print(f"{reps} has no hidden layer: no hidden symmetries")
    _print_barrier_rows(rows)


@app.command()
def atlas(
    max_order: Annotated[int, typer.Option(help="Largest group order.")] = 12,
    input_rep: Annotated[str, typer.Option("--input", help="Input rep spec.")] = "natural",
    output_rep: Annotated[str, typer.Option("--output", help="Output rep spec.")] = "trivial",
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = False,
    json_: JsonFlag = False,
):
    """Barriers of INPUT -> G/H -> OUTPUT for every catalog group up to an order and every G/H."""
    from eqlandscape.symmetry.atlas import atlas as build_atlas

    quiet = Console(stderr=True, quiet=json_)
    with quiet.status("atlas") as status:
        rows = build_atlas(
            max_order,
            input_rep=input_rep,
            output_rep=output_rep,
            bias=bias,
            progress=lambda name: status.update(f"atlas: {name}"),
        )
    if json_:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    console.print(
        _table(
            f"{input_rep} -> G/H -> {output_rep} ({'bias' if bias else 'no bias'}): {len(rows)} architectures",
            ["group", "hidden", "neurons", "dim E", "codimensions", "barriers", "degenerate"],
            [
                [r["group"], r["hidden"], r["neurons"], r["dim_E"], r["codimensions"], r["barriers"], r["degenerate"]]
                for r in rows
            ],
        )
    )


@app.command()
def demo(
    students: Annotated[int, typer.Option(help="Students per arm.")] = 512,
    steps: Annotated[int, typer.Option(help="Full-batch training steps per student.")] = 3000,
    seed: Annotated[int, typer.Option(help="First student seed (seeds seed .. seed + students - 1).")] = 0,
    out: Annotated[Path, typer.Option(help="Directory for students.csv, summary.json, loss_curves.png.")] = Path(
        "eqlandscape-demo"
    ),
    json_: JsonFlag = False,
):
    """Train students of the S3 teacher under each strategy and report who crosses the barrier a = b."""
    from eqlandscape.demo import DemoConfig, escapes, run_demo, write_outputs

    config = DemoConfig(students=students, steps=steps, seed=seed)
    quiet = Console(stderr=True, quiet=json_)
    quiet.print(
        f"demo: S3, natural -> natural -> trivial, ReLU, teacher W = I - 0.2 (J - I); {students} students "
        f"per arm, {steps} full-batch steps"
    )
    result = run_demo(config, progress=lambda label, sec: quiet.print(f"  trained {label:<30} {sec:6.1f} s"))
    paths = write_outputs(result, out)
    if json_:
        _print_json(result.summary() | {"files": {k: str(v) for k, v in paths.items()}})
        return
    rates = result.rates()
    ends = ("+", "-", "on", "dead")
    arms = rates.index.get_level_values(0)
    shown = [arm if k == 0 or arms[k - 1] != arm else "" for k, arm in enumerate(arms)]  # arm once per group
    rows = [
        [label, side, int(r["students"]), f"{r['success']:.0%}", f"{r['relabelled']:.0%}"]
        + [f"{r[f'ended {e}']:.0%}" for e in ends]
        for label, ((_, side), r) in zip(shown, rates.iterrows(), strict=True)
    ]
    barrier = result.barrier_text
    console.print(
        _table(
            f"success by arm and by the side of the barrier {barrier} each student started on "
            f"(+: left side larger; teacher: {result.teacher_side})",
            ["arm", "start", "n", "success", "relabelled", *[f"end {e}" for e in ends]],
            rows,
        )
    )
    console.print(
        "relabelled: reached the teacher under a conjugate hidden rep (its hidden neurons relabelled);\n"
        "end: side of the barrier of P_E(W) in the student's own labels, or dead (output ~ 0)."
    )
    escaped = escapes(result.students, result.teacher_side)
    if len(escaped):
        console.print(
            _table(
                f"students that reached the teacher from a side other than {result.teacher_side}: where they ended",
                ["arm", "hidden rep", "relation", "teacher cycle type", "n"],
                escaped.to_numpy().tolist(),
            )
        )
    for arm, rate in result.success_by_arm().items():
        console.print(f"  {arm:<30} success {rate:6.1%}   ({result.seconds[arm]:.1f} s)")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")


@app.command("train")
def train_command(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S3.")],
    teacher: Annotated[str, typer.Option(help="Teacher reps 'rho_0 -> ... -> rho_L'.")] = (
        "natural -> natural -> trivial"
    ),
    student: Annotated[str | None, typer.Option(help="Student reps (default: the teacher's).")] = None,
    strategy: Annotated[str, typer.Option(help="constrained, free, augmented, relaxed or penalty.")] = "constrained",
    parametrization: Annotated[str, typer.Option(help="orthonormal, orbit or projected (constrained, relaxed).")] = (
        "orthonormal"
    ),
    switch_step: Annotated[int, typer.Option(help="relaxed: step of the switch to free training.")] = 1000,
    gamma: Annotated[float, typer.Option(help="penalty: weight of (gamma/2)||A - P_E A||^2.")] = 1.0,
    samples: Annotated[int | None, typer.Option(help="augmented: group elements per step (default: all).")] = None,
    optimizer: Annotated[str, typer.Option(help="sgd or adam.")] = "adam",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.01,
    students: Annotated[int, typer.Option(help="Number of students K, trained at once.")] = 256,
    steps: Annotated[int, typer.Option(help="Step budget.")] = 1000,
    seed: Annotated[int, typer.Option(help="First student seed.")] = 0,
    teacher_seed: Annotated[int, typer.Option(help="Seed of the random teacher's weights.")] = 0,
    teacher_weights: Annotated[
        str,
        typer.Option(help="random, or plane: W = a I + b (J - I), output weights 1 (natural -> natural -> trivial)."),
    ] = "random",
    teacher_a: Annotated[float, typer.Option(help="plane teacher: diagonal weight a.")] = 1.0,
    teacher_b: Annotated[float, typer.Option(help="plane teacher: off-diagonal weight b.")] = -0.2,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the data (default: the teacher seed).")] = None,
    activation: Annotated[str, typer.Option(help="relu, tanh, gelu or identity.")] = "relu",
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = True,
    n_train: Annotated[int, typer.Option(help="Training samples.")] = 512,
    n_test: Annotated[int, typer.Option(help="Test samples.")] = 512,
    noise: Annotated[float, typer.Option(help="Label noise (standard deviation).")] = 0.0,
    dtype: Annotated[str, typer.Option(help="float32 or float64.")] = "float32",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    out: Annotated[Path | None, typer.Option(help="Directory for students.csv and summary.json.")] = None,
    json_: JsonFlag = False,
):
    """Train K students of a random equivariant teacher at once with one strategy."""
    from eqlandscape.cli.training import run_training, students_table, train_summary, write_train_result
    from eqlandscape.train import TrainConfig

    options = {
        "constrained": {"parametrization": parametrization},
        "relaxed": {"parametrization": parametrization, "switch_step": switch_step},
        "penalty": {"gamma": gamma},
        "augmented": {"samples": samples},
    }
    config = TrainConfig(
        strategy={"name": strategy, **options.get(strategy, {})},
        optimizer={"name": optimizer, "lr": lr},
        n_models=students,
        first_seed=seed,
        steps=steps,
        dtype=dtype,
        device=device,
    )
    start = time.perf_counter()
    result = run_training(
        group_name,
        teacher,
        student,
        config,
        activation=activation,
        bias=bias,
        teacher_seed=teacher_seed,
        n_train=n_train,
        n_test=n_test,
        noise=noise,
        teacher_weights=teacher_weights,
        teacher_a=teacher_a,
        teacher_b=teacher_b,
        data_seed=data_seed,
    )
    summary = train_summary(result, time.perf_counter() - start)
    table = students_table(result)
    files = {} if out is None else {k: str(v) for k, v in write_train_result(result, table, out).items()}
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
    ended = table.groupby(["relation", "hidden_rep"]).size().rename("students").reset_index()
    console.print(_table("final hidden reps", ["relation", "hidden rep", "students"], ended.to_numpy().tolist()))
    if files:
        console.print(f"wrote {', '.join(files.values())}")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"eqlandscape {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """eqlandscape: exact equivariant bases, ensembles of teacher-student runs, and their landscapes."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; bad input gives one line on stderr and exit code 2."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app(args=argv, standalone_mode=False)
    except EqlandscapeError as e:
        err.print(f"error: {e}", markup=False)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        err.print("error: aborted", markup=False)
        return 2
    except typer.TyperException as e:  # usage errors: missing or malformed arguments and options
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        err.print(f"error: {message}", markup=False)
        return 2
    return 0
