"""The ``eqlandscape`` command (typer); output with rich, or JSON with ``--json``.

Bad input (any :class:`~eqlandscape.errors.EqlandscapeError`, or a usage error) prints one line
on stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from eqlandscape import __version__
from eqlandscape.cli.progress import TrainingBar
from eqlandscape.cli.summaries import basis_summary, group_summary
from eqlandscape.errors import EqlandscapeError
from eqlandscape.files import check_output_dir
from eqlandscape.groups import group_from_name

app = typer.Typer(
    name="eqlandscape",
    help="Loss landscapes and optimization dynamics of equivariant networks over permutation reps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags without a type placeholder
)
console = Console() if sys.stdout.isatty() else Console(width=140)  # wide tables stay whole in pipes and files
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
QuietFlag = Annotated[
    bool, typer.Option("--quiet", help="No progress bar (there is none when stdout is not a terminal).")
]
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="Chunks of students trained at once, each on one thread [default: the cores PyTorch uses]. "
        "A student's numbers do not depend on it.",
    ),
]
ForceFlag = Annotated[bool, typer.Option("--force", help="Replace the results of an earlier run in --out.")]
DtypeOption = Annotated[str, typer.Option("--dtype", help="float32 or float64.")]
DEMO_DIR = Path("eqlandscape-demo")


class Interrupted(Exception):
    """Ctrl-C after some results were saved: its message says what was kept (exit status 130)."""


def _print_json(payload: dict[str, Any] | list[Any]) -> None:
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
    if "not_computed" in s:
        console.print(f"not computed: {', '.join(s['not_computed']).replace('_', ' ')} ({s['reason']})")
        return
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
    burnside = "not computed (too many elements)" if s["burnside_dim"] is None else s["burnside_dim"]
    console.print(f"dimension {s['dim']} (orbits of index pairs); Burnside's count {burnside}")
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
    from eqlandscape.nn import MLPArchitecture
    from eqlandscape.reps import parse_rep_chain
    from eqlandscape.symmetry import analyze_barriers

    rows = analyze_barriers(MLPArchitecture(parse_rep_chain(group_name, reps), "relu", bias)).rows()
    if json_:
        _print_json(rows)
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
        _print_json(rows)
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
    data_seeds: Annotated[
        int,
        typer.Option(
            help="Data samples: each arm's students split into this many groups, each trained on its own "
            "train set (data seeds 12345, 12346, ...); success shown as mean and range over the samples."
        ),
    ] = 4,
    out: Annotated[
        str | None,
        typer.Option(help="Directory for students.csv, summary.json, loss_curves.png [default: eqlandscape-demo]."),
    ] = None,
    force: ForceFlag = False,
    threads: ThreadsOption = None,
    quiet_: QuietFlag = False,
    json_: JsonFlag = False,
):
    """Train students of the S3 teacher under each strategy and report who crosses the barrier a = b."""
    from eqlandscape.demo import DemoConfig, escapes, run_demo, write_outputs

    config = DemoConfig(students=students, steps=steps, seed=seed, data_seeds=data_seeds, workers=threads)
    quiet = Console(stderr=True, quiet=json_)
    # the default directory is the demo's own: rerunning README's first command replaces it
    out_dir = check_output_dir(DEMO_DIR if out is None else out, force=force or out is None)
    if out is None and any(out_dir.glob("*")):
        quiet.print(f"replacing the results of an earlier demo in {out_dir}/")
    quiet.print(
        f"demo: S3, natural -> natural -> trivial, ReLU, teacher W = I - 0.2 (J - I); {students} students "
        f"per arm, {steps} full-batch steps, split over {data_seeds} data sample(s) of {config.n_train} points"
    )
    with TrainingBar.for_stdout(quiet_ or json_) as bar:
        result = run_demo(
            config, progress=lambda label, sec: quiet.print(f"  trained {label:<30} {sec:6.1f} s"), on_step=bar.update
        )
    paths = write_outputs(result, out_dir)
    if result.partial:
        raise Interrupted(f"interrupted; kept the {len(result.results)} finished arm(s) in {out_dir}/ (partial)")
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
    if data_seeds > 1:
        spread = result.spread()
        console.print(
            _table(
                f"success over the {data_seeds} data samples (each with its own students), by start side: "
                "mean (lowest, highest)",
                ["arm", "start", "samples", "success"],
                [
                    [r.arm, r.start_side, r.samples, f"{r.mean:.0%} ({r.lowest:.0%}, {r.highest:.0%})"]
                    for r in spread.itertuples()
                ],
            )
        )
    console.print(
        f"the sample: from the wrong side of the barrier, whether free and relaxed students reach the teacher "
        f"depends on the data sample at {config.n_train} points and {steps - config.switch_step} free steps "
        f"(the range above{'' if data_seeds > 1 else ': one sample here, pass --data-seeds'}); it stops "
        "depending on it only with larger samples and longer free phases than this demo trains "
        "(eqlandscape compare S3 --study escape; README)."
    )
    for arm, rate in result.success_by_arm().items():
        console.print(f"  {arm:<30} success {rate:6.1%}   ({result.seconds[arm]:.1f} s)")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")


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


INTERRUPTED = 130
"""The shell's exit status for a run stopped by SIGINT (Ctrl-C)."""


def _interrupted(err: Console, message: str = "interrupted; nothing was saved") -> int:
    """Ctrl-C: one line on stderr and the status 130."""
    err.print(f"error: {message}", markup=False)
    return INTERRUPTED


def _usage_message(e: typer.TyperException, args: list[str]) -> str:
    """A usage error's message; a rep spec that starts with ``-`` (a negative multiplicity, say) is
    taken by the parser for an option, so say what it is instead of 'No such option: -2'."""
    name = getattr(e, "option_name", None)
    if name and re.match(r"-\d", name):
        token = next((a for a in args if a.startswith(name)), name)
        return f"{token!r} is not an option, and not a rep spec: multiplicities in rep specs are positive integers"
    message = e.format_message() if hasattr(e, "format_message") else str(e)
    opts = getattr(getattr(e, "param", None), "opts", ())
    given = [value for option, value in itertools.pairwise(args) if option in opts]
    return f"{message} (got {given[-1]!r})" if given else message


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; bad input gives one line on stderr and exit code 2, Ctrl-C code 130."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        commands = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback is not None]
        err.print(f"error: no command given; one of {', '.join(commands)} (eqlandscape --help)", markup=False)
        return 2
    try:
        # typer returns 130 for a KeyboardInterrupt in a command (standalone_mode=False)
        if app(args=args, standalone_mode=False) == INTERRUPTED:
            return _interrupted(err)
    except Interrupted as e:
        return _interrupted(err, str(e))
    except EqlandscapeError as e:
        err.print(f"error: {e}", markup=False)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except KeyboardInterrupt:  # outside a command's body
        return _interrupted(err)
    except typer.Abort:
        err.print("error: aborted", markup=False)
        return 2
    except typer.TyperException as e:  # usage errors: missing or malformed arguments and options
        err.print(f"error: {_usage_message(e, args)}", markup=False)
        return 2
    except MemoryError:
        err.print(f"error: out of memory running {' '.join(args)!r}; try a smaller size", markup=False)
        return 2
    return 0
