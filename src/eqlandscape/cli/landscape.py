"""Landscape commands: ``slice``, ``critical`` (and ``hessian``)."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from eqlandscape import __version__
from eqlandscape.cli.app import ForceFlag, JsonFlag, _print_json, _table, app, console
from eqlandscape.files import check_output_dir

PopulationFlag = Annotated[
    bool,
    typer.Option(
        "--population",
        help="The expected loss over Gaussian inputs (closed form) instead of the finite train set; "
        "one-hidden-layer ReLU teachers without biases.",
    ),
]


@app.command("slice")
def slice_command(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S3.")],
    teacher: Annotated[str, typer.Option(help="Teacher reps 'rho_0 -> ... -> rho_L'.")] = (
        "natural -> natural -> trivial"
    ),
    teacher_weights: Annotated[str, typer.Option(help="plane (W = a I + b (J - I)) or random.")] = "plane",
    teacher_seed: Annotated[int, typer.Option(help="Seed of the random teacher's weights.")] = 0,
    coefficients: Annotated[
        str, typer.Option(help="Two orbit coefficients of E, e.g. 'W0[0,0],W0[0,1]' (eqlandscape barriers names them).")
    ] = "W0[0,0],W0[0,1]",
    low: Annotated[float, typer.Option(help="Smallest coefficient value on both axes.")] = -1.5,
    high: Annotated[float, typer.Option(help="Largest coefficient value on both axes.")] = 1.5,
    points: Annotated[int, typer.Option(help="Grid points per axis.")] = 101,
    n_train: Annotated[int, typer.Option(help="Samples the loss is averaged over.")] = 512,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the data (default: the teacher seed).")] = None,
    population: PopulationFlag = False,
    out: Annotated[str, typer.Option(help="Directory for slice.png and slice.json.")] = "eqlandscape-slice",
    force: ForceFlag = False,
    json_: JsonFlag = False,
):
    """The loss over two orbit coefficients of E, other weights at the teacher's, with the barriers."""
    import numpy as np

    from eqlandscape.cli.tasks import make_task
    from eqlandscape.errors import ConfigError
    from eqlandscape.files import write_result_dir
    from eqlandscape.landscape import coefficient_slice, plot_slice
    from eqlandscape.symmetry import analyze_barriers

    out_dir = check_output_dir(out, force=force)
    names = re.findall(r"[Wb]\d+\[[\d,]+\]", coefficients.replace(" ", ""))
    if len(names) != 2 or re.sub(r"[Wb]\d+\[[\d,]+\]|[,;\s]", "", coefficients):
        raise ConfigError(f"--coefficients needs two coefficient names such as 'W0[0,0],W0[0,1]', got {coefficients!r}")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ConfigError(f"--low {low} must be a finite number below --high {high}")
    task = make_task(
        group_name,
        teacher,
        teacher_weights=teacher_weights,
        teacher_seed=teacher_seed,
        n_train=n_train,
        n_test=1,
        data_seed=data_seed,
        population=population,
    )
    axis = np.linspace(low, high, points) if points >= 2 else np.array([low])
    origin = [t.detach() for t in task.teacher.full()]
    objective = task.expected_loss if population else None
    result = coefficient_slice(task.arch, origin, names, task.x_train, task.y_train, [axis, axis], objective=objective)
    lines = result.barrier_lines(analyze_barriers(task.arch))
    summary = result.as_dict() | {
        "group": group_name,
        "reps": [r.name for r in task.arch.reps],
        "extent": [low, high, low, high],
        "barriers": [{"equation": text, "line": c.tolist()} for text, c in lines],
        "min_loss": float(result.loss.min()),
        "population": population,
        "version": __version__,
    }
    figure = plot_slice(result, lines, title=f"{group_name}: loss over {names[0]}, {names[1]}")
    paths = write_result_dir(
        out_dir,
        {
            "slice.json": lambda p: p.write_text(json.dumps(summary)),
            "slice.png": lambda p: figure.savefig(p, dpi=110, format="png"),
        },
    )
    if json_:
        _print_json(
            {k: v for k, v in summary.items() if k not in ("axes", "loss")} | {"files": list(map(str, paths.values()))}
        )
        return
    console.print(
        f"loss over {names[0]} x {names[1]} in [{low}, {high}]^2 ({points} x {points}), min {result.loss.min():.3g}; "
        f"barriers: {'; '.join(t for t, _ in lines) or 'none crosses'}"
    )
    console.print(f"wrote {', '.join(map(str, paths.values()))}")


@app.command("critical")
def critical_command(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S3.")],
    reps: Annotated[str, typer.Option(help="Layer reps 'rho_0 -> ... -> rho_L'.")] = "natural -> natural -> trivial",
    teacher_weights: Annotated[str, typer.Option(help="plane (W = a I + b (J - I)) or random.")] = "plane",
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = False,
    starts: Annotated[int, typer.Option(help="Constrained students (starts) trained and refined.")] = 64,
    steps: Annotated[int, typer.Option(help="SGD steps per student before the Newton refinement.")] = 2000,
    seed: Annotated[int, typer.Option(help="First student seed.")] = 0,
    population: PopulationFlag = False,
    json_: JsonFlag = False,
):
    """Critical points of constrained training: train students in E, refine to critical points, classify."""
    from eqlandscape.cli.critical import find_critical_points

    r = find_critical_points(
        group_name,
        reps,
        teacher_weights=teacher_weights,
        bias=bias,
        starts=starts,
        steps=steps,
        seed=seed,
        population=population,
    )
    if json_:
        _print_json(r)
        return
    barriers = ", ".join(r["barriers"]) or "none"

    def lowest(values: list[float]) -> str:
        return " ".join(f"{v:.3g}" for v in values[:4]) + (" ..." if len(values) > 4 else "")

    rows = [
        [
            f"{c['loss']:.6g}",
            " ".join(c["sides"]) or "-",
            c["index_in_E"],
            c["free_index"],
            c["near_zero"],
            lowest(c["free_eigenvalues"]),
            c["count"],
        ]
        for c in r["critical_points"]
    ]
    console.print(
        _table(
            f"{group_name} {' -> '.join(r['reps'])}: {len(rows)} distinct critical points from {starts} starts"
            f"{' of the expected loss' if population else ''} "
            f"(barriers: {barriers}; |lambda| <= {r['eig_tol']:g} near zero)",
            ["loss", "sides", "index in E", "free index", "near zero", "lowest free eigenvalues", "count"],
            rows,
        )
    )
    if r["not_converged"]:
        console.print(f"{r['not_converged']} start(s) did not refine to gradient norm <= {r['grad_tol']:g}")
