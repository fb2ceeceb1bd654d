"""Landscape commands: ``slice``, ``critical``, ``hessian`` and ``stability``."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from eqlandscape import __version__
from eqlandscape.cli.app import ForceFlag, JsonFlag, _print_json, _table, app, console
from eqlandscape.errors import ConfigError
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


EXACT_LIMIT = 3000
"""Parameters up to which ``hessian --method auto`` forms the exact Hessian; above, Lanczos."""
METHODS = ("auto", "exact", "lanczos")
LANCZOS_TOL = 1e-8
"""Relative tolerance of the Lanczos eigenvalues of ``hessian`` (:func:`~eqlandscape.landscape.spectrum_ends`)."""


def parse_fix(text: str) -> list[tuple[int, list[int] | str]]:
    """``--fix "1:(0 1);1:(0 1 2)"``: generators of ``K``, each a hidden layer and a permutation of its
    neurons in cycle notation, as ``(layer, cycles)`` pairs (:func:`fix_generators` makes permutations)."""
    out: list[tuple[int, list[int] | str]] = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        match = re.fullmatch(r"(\d+)\s*:\s*((?:\(\s*\d+(?:[\s,]+\d+)*\s*\)\s*)+)", part)
        if match is None:
            raise ConfigError(f"--fix needs generators 'LAYER:(i j ...)' separated by ';', got {part!r}")
        out.append((int(match.group(1)), match.group(2)))
    if not out:
        raise ConfigError(f"--fix needs at least one generator 'LAYER:(i j ...)', got {text!r}")
    return out


def fix_generators(widths: tuple[int, ...], parsed: list[tuple[int, Any]]) -> list[tuple[int, list[int]]]:
    """The parsed ``--fix`` generators as ``(layer, perm)``, ``perm`` mapping neuron ``c_k`` to ``c_{k+1}``
    along each cycle; :class:`ConfigError` for a layer that is not hidden or a neuron out of range."""
    gens = []
    for layer, cycles in parsed:
        if not 0 < layer < len(widths) - 1:
            raise ConfigError(f"--fix layer {layer} is not a hidden layer (hidden layers are 1 .. {len(widths) - 2})")
        perm = list(range(widths[layer]))
        for cycle in re.findall(r"\(([^)]*)\)", cycles):
            points = [int(v) for v in re.split(r"[\s,]+", cycle.strip())]
            if max(points) >= widths[layer] or len(set(points)) != len(points):
                raise ConfigError(
                    f"--fix cycle ({cycle}) must list distinct neurons 0 .. {widths[layer] - 1} of layer {layer}"
                )
            for a, b in zip(points, points[1:] + points[:1], strict=True):
                perm[a] = b
        gens.append((layer, perm))
    return gens


def load_point(path: str, index: int) -> list[Any]:
    """One model's full weights (flat order, nested lists) from a JSON file: a list of tensors, an object
    with ``weights`` (a critical point), or the output of ``critical --json`` (its critical point
    ``index``)."""
    from pathlib import Path

    file = Path(path)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"--weights {path!r} is not a readable JSON file: {e}") from None
    if isinstance(data, dict) and "critical_points" in data:
        points = data["critical_points"]
        if not 0 <= index < len(points):
            raise ConfigError(f"--index {index}: {path!r} has {len(points)} critical points (0 .. {len(points) - 1})")
        data = points[index]
    if isinstance(data, dict):
        data = data.get("weights")
    if not isinstance(data, list) or not data:
        raise ConfigError(f"--weights {path!r} holds no weights: expected tensors or an object with 'weights'")
    return data


def _value_and_grad_norm(arch: Any, point: list[Any], x: Any, y: Any, objective: Any) -> tuple[float, float]:
    """The loss and the norm of its gradient in the full weights at one model."""
    import torch

    from eqlandscape.landscape.critical import _grad_and_loss
    from eqlandscape.landscape.functional import named

    coords = named([torch.as_tensor(w, dtype=torch.float64)[None] for w in point], arch.bias)
    grad, value = _grad_and_loss(coords, x, y, arch.activation, "mse", None, objective)
    return float(value[0]), float(grad[0].norm())


@app.command("hessian")
def hessian_command(
    group_name: Annotated[str, typer.Argument(metavar="GROUP", help="Group name, e.g. S3.")],
    reps: Annotated[str, typer.Option(help="Layer reps 'rho_0 -> ... -> rho_L'.")] = "natural -> natural -> trivial",
    teacher_weights: Annotated[str, typer.Option(help="plane (W = a I + b (J - I)) or random.")] = "plane",
    teacher_seed: Annotated[int, typer.Option(help="Seed of the random teacher's weights.")] = 0,
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = False,
    n_train: Annotated[int, typer.Option(help="Samples the loss is averaged over.")] = 512,
    data_seed: Annotated[int | None, typer.Option(help="Seed of the data (default: the teacher seed).")] = None,
    population: PopulationFlag = False,
    weights: Annotated[
        str | None,
        typer.Option(help="JSON file of the point (default: the teacher): weights, or the output of critical --json."),
    ] = None,
    index: Annotated[int, typer.Option(help="Which critical point of a critical --json file.")] = 0,
    space: Annotated[str, typer.Option(help="Subspaces, comma-separated: all, E, E-perp, E-fix, layer.")] = (
        "all,E,E-perp"
    ),
    fix: Annotated[
        str | None, typer.Option(help="Generators of K for E-fix: 'LAYER:(i j ...)' separated by ';'.")
    ] = None,
    layer: Annotated[int | None, typer.Option(help="The layer (0 .. L-1) of the space 'layer'.")] = None,
    augmented: Annotated[
        bool, typer.Option("--augmented", help="The Hessian of the augmented risk (data moved by all of G).")
    ] = False,
    method: Annotated[str, typer.Option(help=f"exact, lanczos, or auto (exact up to {EXACT_LIMIT} weights).")] = "auto",
    top: Annotated[int, typer.Option(help="Lanczos: eigenvalues computed at each end of the spectrum.")] = 10,
    probes: Annotated[int, typer.Option(help="Lanczos: random probes of the spectral density.")] = 8,
    lanczos_steps: Annotated[int, typer.Option(help="Lanczos: steps per probe of the spectral density.")] = 64,
    eig_tol: Annotated[float, typer.Option(help="Eigenvalues with |lambda| <= eig_tol count as near zero.")] = 1e-8,
    out: Annotated[str, typer.Option(help="Directory for hessian.json and hessian.png.")] = ("eqlandscape-hessian"),
    force: ForceFlag = False,
    json_: JsonFlag = False,
):
    """The Hessian spectrum of a model (the teacher, or a given point) restricted to subspaces."""
    import numpy as np
    import torch

    from eqlandscape.cli.tasks import make_task
    from eqlandscape.files import write_result_dir
    from eqlandscape.landscape import (
        classify_critical_point,
        hessian_operator,
        named,
        plot_spectra,
        restrict,
        spectral_density,
        spectrum_ends,
    )
    from eqlandscape.landscape.functional import augment
    from eqlandscape.landscape.stability import distance_to_E, free_hessian, require_in_E, subspace_basis

    out_dir = check_output_dir(out, force=force)
    if method not in METHODS:
        raise ConfigError(f"unknown --method {method!r}; expected one of {', '.join(METHODS)}")
    if not (np.isfinite(eig_tol) and eig_tol > 0):
        raise ConfigError(f"--eig-tol must be a positive number, got {eig_tol}")
    for name, value in (("--top", top), ("--probes", probes), ("--lanczos-steps", lanczos_steps)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    spaces = [s.strip() for s in space.split(",") if s.strip()]
    if not spaces or len(set(spaces)) != len(spaces):
        raise ConfigError(f"--space needs distinct subspaces, comma-separated, got {space!r}")
    parsed_fix = parse_fix(fix) if fix is not None else []
    task = make_task(
        group_name,
        reps,
        bias=bias,
        teacher_weights=teacher_weights,
        teacher_seed=teacher_seed,
        n_train=n_train,
        n_test=1,
        data_seed=data_seed,
        population=population,
    )
    arch = task.arch
    generators = fix_generators(arch.widths, parsed_fix)
    bases = {s: subspace_basis(arch, s, fix=generators, layer=layer) for s in spaces}
    if weights is None:
        point = [t.detach().numpy() for t in task.teacher.full()]
    else:
        point = [np.asarray(w, dtype=np.float64) for w in load_point(weights, index)]
        shapes = [w.shape for w in point]
        if shapes != [tuple(s) for s in arch.shapes]:
            raise ConfigError(f"--weights {weights!r} has tensors of shapes {shapes}; {arch} needs {list(arch.shapes)}")
    if any(s in ("E", "E-perp", "E-fix") for s in spaces):
        require_in_E(arch, point, what=f"point of --weights {weights!r}" if weights else "teacher")
    objective = task.expected_loss if population else None
    x, y = task.x_train, task.y_train
    if augmented and objective is None:
        x, y = augment(x, y, arch.rep_in, arch.rep_out)
    value, grad_norm = _value_and_grad_norm(arch, point, x, y, objective)
    size = sum(int(np.prod(s)) for s in arch.shapes)
    exact = method == "exact" or (method == "auto" and size <= EXACT_LIMIT)
    H = free_hessian(arch, point, x, y, objective=objective) if exact else None
    coords = None if exact else named([torch.as_tensor(w) for w in point], arch.bias)
    results, panels = {}, []
    for name, basis in bases.items():
        dim = size if basis is None else basis.shape[0]
        whole, density = exact, None
        if exact:
            block = H if basis is None else restrict(H, basis)
        else:
            operator = hessian_operator(coords, x, y, activation=arch.activation, basis=basis, objective=objective)
            whole = 2 * top >= dim  # a space this small is formed from its dim products
            if whole:
                block = torch.as_tensor(np.stack([operator.matvec(e) for e in np.eye(dim)]))
        if whole:
            verdict = classify_critical_point((block + block.T) / 2, eig_tol)
            eigenvalues = verdict.eigenvalues
        else:
            low, high = spectrum_ends(operator, top, tol=LANCZOS_TOL)
            eigenvalues = np.concatenate([low, high])
            verdict = classify_critical_point(eigenvalues, eig_tol)
            density = spectral_density(operator, steps=lanczos_steps, probes=probes)
        results[name] = {
            "dim": int(dim),
            "exact": whole,
            "eigenvalues": [float(v) for v in eigenvalues],
            "index": verdict.index,
            "near_zero": verdict.zeros,
            # Lanczos certifies a negative direction, never the absence of one
            "verdict": verdict.verdict if whole or verdict.index else "unknown",
            "min": float(eigenvalues[0]),
            "max": float(eigenvalues[-1]),
        }
        panels.append((f"{name} ({dim} dims)", None if density is not None else eigenvalues, density))
    summary = {
        "group": group_name,
        "reps": [r.name for r in arch.reps],
        "bias": bias,
        "teacher_weights": teacher_weights,
        "teacher_seed": teacher_seed,
        "data_seed": teacher_seed if data_seed is None else data_seed,
        "population": population,
        "augmented": augmented,
        "point": "teacher" if weights is None else weights,
        "parameters": size,
        "samples": None if population else int(x.shape[0]),
        "loss": value,
        "grad_norm": grad_norm,
        "distance_to_E": distance_to_E(arch, point),
        "method": "exact" if exact else "lanczos",
        "eig_tol": eig_tol,
        "spaces": results,
        "version": __version__,
    }
    loss_name = "expected loss" if population else ("augmented risk" if augmented else "train loss")
    figure = plot_spectra(panels, title=f"{group_name}: Hessian of the {loss_name} at the {summary['point']}")
    paths = write_result_dir(
        out_dir,
        {
            "hessian.json": lambda p: p.write_text(json.dumps(summary)),
            "hessian.png": lambda p: figure.savefig(p, dpi=110, format="png"),
        },
    )
    if json_:
        _print_json(summary | {"files": list(map(str, paths.values()))})
        return
    rows = [
        [name, r["dim"], r["index"], r["near_zero"], r["verdict"], f"{r['min']:.4g}", f"{r['max']:.4g}"]
        for name, r in results.items()
    ]
    console.print(
        _table(
            f"{group_name} {' -> '.join(summary['reps'])} at the {summary['point']}: loss {value:.4g}, "
            f"gradient norm {grad_norm:.3g} ({loss_name}; {summary['method']})",
            ["space", "dim", "index", "near zero", "verdict", "min eigenvalue", "max eigenvalue"],
            rows,
        )
    )
    console.print(f"wrote {', '.join(map(str, paths.values()))}")


@app.command("stability")
def stability_command(
    group_names: Annotated[list[str], typer.Argument(metavar="GROUP...", help="Groups to search, e.g. S3 C3.")],
    reps: Annotated[
        list[str] | None, typer.Option(help="Layer reps 'rho_0 -> ... -> rho_L' (repeat the option for several).")
    ] = None,
    teacher_weights: Annotated[str, typer.Option(help="plane (W = a I + b (J - I)) or random.")] = "plane",
    teacher_seeds: Annotated[str, typer.Option(help="Teacher (and data) seeds, comma-separated.")] = "0",
    bias: Annotated[bool, typer.Option(help="Biases in every layer.")] = False,
    n_train: Annotated[int, typer.Option(help="Samples of each train set (closed under G for the search).")] = 512,
    population: PopulationFlag = False,
    starts: Annotated[int, typer.Option(help="Constrained students per problem.")] = 8,
    steps: Annotated[int, typer.Option(help="SGD steps per constrained student before the refinement.")] = 800,
    seed: Annotated[int, typer.Option(help="First student seed.")] = 0,
    escape_scale: Annotated[float, typer.Option(help="Size of the perturbation the escape run starts from.")] = 1e-2,
    escape_steps: Annotated[int, typer.Option(help="Augmented SGD steps of the escape run (0: no run).")] = 2000,
    escape_lr: Annotated[float, typer.Option(help="Learning rate of the escape run.")] = 0.1,
    eig_tol: Annotated[float, typer.Option(help="Eigenvalues with |lambda| <= eig_tol count as near zero.")] = 1e-8,
    json_: JsonFlag = False,
):
    """Equivariant stationary points stable for constrained training and saddles for augmented training."""
    import itertools

    import numpy as np
    import torch

    from eqlandscape.cli.tasks import make_task
    from eqlandscape.landscape.stability import escape_run, search

    seeds = [s.strip() for s in teacher_seeds.split(",") if s.strip()]
    if not seeds or not all(s.isdigit() for s in seeds):
        raise ConfigError(f"--teacher-seeds needs non-negative integers, comma-separated, got {teacher_seeds!r}")
    for name, value in (("--starts", starts), ("--steps", steps), ("--n-train", n_train)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if escape_steps < 0:
        raise ConfigError(f"--escape-steps must be at least 0, got {escape_steps}")
    for name, value in (("--escape-scale", escape_scale), ("--escape-lr", escape_lr), ("--eig-tol", eig_tol)):
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number, got {value}")
    reps = reps or ["natural -> natural -> trivial"]
    problems = list(itertools.product(group_names, reps, map(int, seeds)))
    tasks = [
        make_task(
            g, r, bias=bias, teacher_weights=teacher_weights, teacher_seed=s, n_train=n_train, population=population
        )
        for g, r, s in problems
    ]
    points, owners = [], []
    for (g, r, s), task in zip(problems, tasks, strict=True):
        found = search([task], starts=starts, steps=steps, seed=seed, population=population, tol=eig_tol)
        points += found
        owners += [(g, r, s, task)] * len(found)
    rows = []
    for p, (g, _, s, task) in zip(points, owners, strict=True):
        st = p.stability
        rows.append(
            {
                "group": g,
                "reps": [rep.name for rep in task.arch.reps],
                "teacher_seed": s,
                "loss": p.loss,
                "sides": list(p.sides),
                "count": p.count,
                **st.as_dict(),
                "symmetry_breaking": p.symmetry_breaking,
                "weights": [w.tolist() for w in p.weights],
            }
        )
    breaking = [k for k, p in enumerate(points) if p.symmetry_breaking]
    found = min(breaking, key=lambda k: points[k].stability.eigenvalues_perp[0]) if breaking else None
    escape = None
    if found is not None and escape_steps:
        task = owners[found][3]  # with --population, trained on the expected loss
        result = escape_run(task, points[found], scale=escape_scale, steps=escape_steps, lr=escape_lr, seed=seed)
        dist, train_loss = result.curves("dist_to_E"), result.curves("train_loss")
        if population:  # the loss it was trained on (the recorded train_loss is the train set's)
            arch = task.arch
            ends = [
                arch.join(result.initial_weights, result.initial_biases),
                arch.join(result.final_weights, result.final_biases),
            ]
            with torch.no_grad():
                train_loss = np.stack([task.expected_loss([torch.as_tensor(t) for t in w]).numpy() for w in ends], 1)
        escape = {
            "point": found,
            "scale": escape_scale,
            "steps": escape_steps,
            "lr": escape_lr,
            "directions": ["escape"] + ["random"] * (dist.shape[0] - 1),
            "dist_to_E_start": dist[:, 0].tolist(),
            "dist_to_E_end": dist[:, -1].tolist(),
            "loss_start": train_loss[:, 0].tolist(),
            "loss_end": train_loss[:, -1].tolist(),
            "left_E": (dist[:, -1] > 10 * dist[:, 0]).tolist(),
        }
    summary = {
        "groups": group_names,
        "reps": reps,
        "teacher_weights": teacher_weights,
        "teacher_seeds": list(map(int, seeds)),
        "bias": bias,
        "n_train": n_train,
        "population": population,
        "starts": starts,
        "steps": steps,
        "eig_tol": eig_tol,
        "points": rows,
        "found": found,
        "escape": escape,
        "version": __version__,
    }
    if json_:
        _print_json(summary)
        return
    table_rows = [
        [
            k,
            r["group"],
            " -> ".join(r["reps"]),
            r["teacher_seed"],
            f"{r['loss']:.4g}",
            " ".join(r["sides"]) or "-",
            r["constrained"],
            r["augmented"],
            f"{r['eigenvalues_perp'][0]:.3g}" if r["eigenvalues_perp"] else "-",
        ]
        for k, r in enumerate(rows)
    ]
    console.print(
        _table(
            "stationary points of constrained training "
            f"({'expected loss' if population else 'train set closed under G'})",
            ["#", "group", "reps", "seed", "loss", "sides", "constrained", "augmented", "lowest on E-perp"],
            table_rows,
        )
    )
    if found is None:
        console.print("no point is stable for constrained training and a saddle for augmented training")
    elif escape is not None:
        left = sum(escape["left_E"])
        moves = zip(escape["dist_to_E_start"], escape["dist_to_E_end"], strict=True)
        console.print(
            f"point {found}: augmented SGD from {escape['scale']:g} away left E in {left} of {len(escape['left_E'])} "
            f"runs (relative distance to E {', '.join(f'{a:.2g} -> {b:.2g}' for a, b in moves)})"
        )
