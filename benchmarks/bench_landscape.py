"""Landscape benchmarks: exact batched Hessians, and Lanczos for the top of a large Hessian (docs/design.md
section 6: each baseline is measured in the same run and the ratio printed).

(1) Exact Hessians of ``--models`` (1,000) free ``8 -> 32 -> 1`` ReLU MLPs with biases (321 parameters),
    ``--samples`` (256) shared Gaussian samples, MSE, float64. Ours: ``eqlandscape.landscape.hessian``
    (Gauss-Newton term plus cross-layer terms, batched; the median of ``--repeats`` runs). Baselines:
    (a) a per-model loop of ``torch.autograd.functional.hessian`` of an ``nn.Sequential`` loss, timed on
    ``--loop-models`` models and extrapolated; (b) ``torch.func.vmap(torch.func.hessian(loss))`` over chunks
    of ``--vmap-chunk`` models, timed on ``--vmap-models`` models and extrapolated. The Hessians of the
    timed models are compared (largest relative difference printed).
(2) The 10 largest eigenvalues of the Hessian of one free ``64 -> --width -> 256 -> 1`` ReLU MLP (about
    100,000 parameters at the default width 300) on ``--eig-samples`` (1,024) samples. Ours:
    ``extreme_eigenvalues(hessian_operator(...), 10)`` (ARPACK's Lanczos). Baseline: power iteration
    with deflation, PyHessian's ``hessian.eigenvalues`` written out here (a retained double-backward graph
    for the Hessian-vector products, Gram-Schmidt against the eigenvectors found so far, stop when the
    Rayleigh quotient changes by less than ``tol`` relative, at most ``--power-iters`` iterations per
    eigenvalue). Both run to the same ``--tol``; prints products, times, the ratio, and the largest
    relative error of each method's eigenvalues against a reference (Lanczos at tolerance 1e-12, untimed).

(3) 101 x 101 loss slices of the demo problem (``S3``, ``natural -> natural -> trivial``, 512 samples):
    (a) the loss over the coefficients ``W0[0,0]``, ``W0[0,1]`` with the other weights at the teacher's
    (Fig. 5). Ours: ``coefficient_slice``, which moves the first layer only and so takes the exact
    piecewise-quadratic evaluation (``landscape/piecewise.py``); (b) along two random filter-normalized
    directions in both layers, where every grid point is a model of one batched evaluation. Baseline:
    loss-landscapes' ``planar_interpolation`` loop written out (an ``nn.Sequential`` whose parameters are
    stepped in place along the directions, serpentine, and the loss evaluated with ``.item()`` at each
    point), timed on the first ``--slice-loop-points`` points of its path and extrapolated.

    python benchmarks/bench_landscape.py            # about a minute on 2 idle cores
    python benchmarks/bench_landscape.py --quick    # a smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import os
import time
from itertools import pairwise

# One BLAS thread for NumPy/SciPy (ARPACK's few vector operations between products): otherwise its idle
# threads spin against torch's threads for the cores, and that, not the method, dominates Lanczos' time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch
from torch import nn

from eqlandscape.landscape import (
    coefficient_slice,
    extreme_eigenvalues,
    filter_normalized_directions,
    flatten,
    hessian,
    hessian_operator,
    loss,
    loss_slice,
    unflatten,
)
from eqlandscape.tasks import demo_task

F64 = torch.float64


def _mlp(widths: tuple[int, ...], K: int, seed: int) -> dict[str, torch.Tensor]:
    """Free MLPs: ``W_l`` with entries ``N(0, 2 / fan_in)``, biases ``N(0, 0.1^2)``, a leading ``K``."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for layer, (n_in, n_out) in enumerate(pairwise(widths)):
        out[f"W{layer}"] = torch.randn(K, n_out, n_in, generator=gen, dtype=F64) * (2 / n_in) ** 0.5
        out[f"b{layer}"] = 0.1 * torch.randn(K, n_out, generator=gen, dtype=F64)
    return out


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# ---------------------------------------------------------------------- (1) batched exact Hessians
def bench_hessians(args: argparse.Namespace) -> list[tuple[str, float, str]]:
    widths = (8, 32, 1)
    models = _mlp(widths, args.models, seed=0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(args.samples, widths[0], generator=gen, dtype=F64)
    y = torch.randn(args.samples, 1, generator=gen, dtype=F64)
    P = flatten(models, 1).shape[1]
    print(
        f"(1) exact Hessians: {args.models} ReLU MLPs {' -> '.join(map(str, widths))} with biases, P = {P}, "
        f"{args.samples} samples, float64"
    )

    hessian({k: v[:2] for k, v in models.items()}, x, y)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = hessian(models, x, y)
        times.append(time.perf_counter() - start)
    t_ours = float(np.median(times)) / args.models

    module = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1)).double()
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for p in module.parameters()]
    sizes = [p.numel() for p in module.parameters()]

    def module_loss(theta: torch.Tensor) -> torch.Tensor:
        tensors = (t.reshape(s) for t, s in zip(theta.split(sizes), shapes, strict=True))
        out = torch.func.functional_call(module, dict(zip(names, tensors, strict=True)), (x,))
        return nn.functional.mse_loss(out, y)

    flat = flatten(models, 1)  # the flat order W0, b0, W1, b1 is the module's parameter order
    n_loop = min(args.loop_models, args.models)
    torch.autograd.functional.hessian(module_loss, flat[0])  # warm-up
    start = time.perf_counter()
    loop = [torch.autograd.functional.hessian(module_loss, flat[k]) for k in range(n_loop)]
    t_loop = (time.perf_counter() - start) / n_loop
    err_loop = max(_rel(ours[k], h) for k, h in enumerate(loop))

    one = {k: v[0] for k, v in models.items()}
    vmapped = torch.func.vmap(torch.func.hessian(lambda t: loss(unflatten(t, one), x, y)))
    n_vmap = min(args.vmap_models, args.models)
    vmapped(flat[:2])  # warm-up
    start = time.perf_counter()
    chunks = [vmapped(flat[s : min(n_vmap, s + args.vmap_chunk)]) for s in range(0, n_vmap, args.vmap_chunk)]
    t_vmap = (time.perf_counter() - start) / n_vmap
    err_vmap = _rel(ours[:n_vmap], torch.cat(chunks))

    print(f"    ours (batched)                 {t_ours * 1e3:9.3f} ms/model   total {t_ours * args.models:7.2f} s")
    print(
        f"    autograd.functional loop       {t_loop * 1e3:9.3f} ms/model   (on {n_loop} models)   "
        f"ratio {t_loop / t_ours:7.1f}x   max rel. diff {err_loop:.1e}"
    )
    print(
        f"    vmap(hessian), chunks of {args.vmap_chunk:<4d}  {t_vmap * 1e3:9.3f} ms/model   (on {n_vmap} models)  "
        f"ratio {t_vmap / t_ours:7.1f}x   max rel. diff {err_vmap:.1e}"
    )
    return [
        ("hessians vs autograd loop", t_loop / t_ours, f"{t_ours * args.models:.2f} s for {args.models} models"),
        ("hessians vs vmap(hessian)", t_vmap / t_ours, "target >= 3x"),
    ]


# ---------------------------------------------------------------------- (2) top eigenvalues of a large model
class _PowerIteration:
    """PyHessian's ``hessian.eigenvalues``: Hessian-vector products through a retained double-backward graph;
    for each eigenvalue, power iteration from a random vector, Gram-Schmidt against the eigenvectors found
    so far, stopped when ``|lambda - lambda_prev| / (|lambda_prev| + 1e-6) < tol``."""

    def __init__(self, flat_loss, theta: torch.Tensor) -> None:
        self.theta = theta.detach().clone().requires_grad_(True)
        (self.grad,) = torch.autograd.grad(flat_loss(self.theta), self.theta, create_graph=True)
        self.products = 0

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        self.products += 1
        return torch.autograd.grad(self.grad, self.theta, v, retain_graph=True)[0]

    def eigenvalues(self, top_n: int, tol: float, max_iter: int, seed: int) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)
        values: list[float] = []
        vectors: list[torch.Tensor] = []
        for _ in range(top_n):
            v = torch.randn(self.theta.shape, generator=gen, dtype=self.theta.dtype)
            v = v / v.norm()
            value = None
            for _ in range(max_iter):
                for u in vectors:
                    v = v - (v @ u) * u
                v = v / v.norm()
                Hv = self.hvp(v)
                estimate = float(v @ Hv)
                v = Hv / Hv.norm()
                if value is not None and abs(value - estimate) / (abs(value) + 1e-6) < tol:
                    value = estimate
                    break
                value = estimate
            values.append(value)
            vectors.append(v)
        return np.sort(np.asarray(values))


class _Counted:
    """A linear operator that counts its products."""

    def __init__(self, op) -> None:
        self.op, self.products, self.shape, self.dtype = op, 0, op.shape, op.dtype

    def matvec(self, v: np.ndarray) -> np.ndarray:
        self.products += 1
        return self.op.matvec(v)


def bench_eigenvalues(args: argparse.Namespace) -> list[tuple[str, float, str]]:
    from scipy.sparse.linalg import LinearOperator

    widths = (64, args.width, 256, 1)
    model = {k: v[0] for k, v in _mlp(widths, 1, seed=2).items()}
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(args.eig_samples, widths[0], generator=gen, dtype=F64)
    teacher = {k: v[0] for k, v in _mlp((64, 16, 1), 1, seed=4).items()}
    y = (torch.relu(x @ teacher["W0"].T + teacher["b0"]) @ teacher["W1"].T).detach()
    theta = flatten(model)
    print(
        f"\n(2) top {args.top} Hessian eigenvalues of one ReLU MLP {' -> '.join(map(str, widths))} with biases, "
        f"P = {theta.numel():,}, {args.eig_samples} samples, tol {args.tol:g}"
    )

    hessian_operator(model, x, y).matvec(np.ones(theta.numel()))  # warm-up: the first double backward
    start = time.perf_counter()
    counted = _Counted(hessian_operator(model, x, y))
    op = LinearOperator(counted.shape, matvec=counted.matvec, dtype=counted.dtype)
    ours, _ = extreme_eigenvalues(op, args.top, which="largest", tol=args.tol)
    t_ours = time.perf_counter() - start

    start = time.perf_counter()
    power = _PowerIteration(lambda t: loss(unflatten(t, model), x, y), theta)
    theirs = power.eigenvalues(args.top, args.tol, args.power_iters, seed=0)
    t_power = time.perf_counter() - start

    reference, _ = extreme_eigenvalues(hessian_operator(model, x, y), args.top, which="largest", tol=1e-12)
    err_ours, err_power = (float(np.max(np.abs(v - reference) / np.abs(reference))) for v in (ours, theirs))
    products = counted.products
    print(
        f"    Lanczos (eigsh)                {t_ours:8.2f} s   {products:5d} products   max rel. error {err_ours:.1e}"
    )
    print(
        f"    power iteration + deflation    {t_power:8.2f} s   {power.products:5d} products   "
        f"max rel. error {err_power:.1e}   ratio {t_power / t_ours:6.1f}x"
    )
    print(f"    eigenvalues (Lanczos, tol 1e-12) {np.array2string(reference[::-1], precision=4, max_line_width=200)}")
    note = f"{t_ours:.1f} s; rel. errors {err_ours:.0e} (Lanczos), {err_power:.0e} (power)"
    return [("top eigenvalues vs power iteration", t_power / t_ours, note)]


def _planar_loop(model: nn.Sequential, x, y, origin, directions, axis: np.ndarray, count: int):
    """loss-landscapes' ``planar_interpolation``: the module's parameters (``[W0, W1]``) are moved in place by
    one grid step along the second direction before each evaluation (back along it on every other row)
    and by one step along the first at the end of each row, and each point's loss is evaluated with
    ``.item()``. ``origin`` and ``directions`` are flat vectors; the first ``count`` points of the path are
    timed. Seconds per point, the points ``(i, j)`` and their losses."""
    sizes = [p.numel() for p in model.parameters()]

    def split(v: torch.Tensor) -> list[torch.Tensor]:
        return [t.reshape(p.shape) for t, p in zip(v.split(sizes), model.parameters(), strict=True)]

    step = float(axis[1] - axis[0])
    d1, d2 = (split(torch.as_tensor(d) * step) for d in directions)
    points, values = [], []
    with torch.no_grad():
        for p, t in zip(
            model.parameters(),
            split(torch.as_tensor(origin + axis[0] * directions[0] + axis[0] * directions[1])),
            strict=True,
        ):
            p.copy_(t)
        start = time.perf_counter()
        i = 0
        while len(points) < count:
            columns = range(axis.size) if i % 2 == 0 else range(axis.size - 1, -1, -1)
            for n_done, j in enumerate(columns):
                if n_done:
                    for p, d in zip(model.parameters(), d2, strict=True):
                        p.add_(d) if i % 2 == 0 else p.sub_(d)
                values.append(nn.functional.mse_loss(model(x), y).item())
                points.append((i, j))
            for p, d in zip(model.parameters(), d1, strict=True):
                p.add_(d)
            i += 1
        seconds = (time.perf_counter() - start) / len(points)
    return seconds, np.array(points), values


def _worst(loss: np.ndarray, points: np.ndarray, values: list[float]) -> float:
    """The largest difference between the slice and the loop's losses, relative to the loss or, near an
    exact zero (the teacher), to 1e-12 of the slice's largest."""
    floor = 1e-12 * float(loss.max())
    return max(abs(v - loss[i, j]) / max(v, floor) for (i, j), v in zip(points, values, strict=True))


def _median_time(f, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):  # the first run warms up; the median of the others
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def bench_slice(args: argparse.Namespace) -> list[tuple[str, float, str]]:
    """(3): 101 x 101 slices, batched against loss-landscapes' loop of nn.Module evaluations: the Fig. 5
    coefficient slice (first-layer directions: the exact piecewise-quadratic evaluation) and a slice along
    random filter-normalized directions in both layers (every grid point a model of one batched evaluation)."""
    task = demo_task()
    teacher = [t.detach() for t in task.teacher.full()]
    x, y = task.x_train, task.y_train
    axis = np.linspace(-1.5, 1.5, 101)
    model = nn.Sequential(nn.Linear(3, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False)).double()
    model.requires_grad_(False)
    rows = []
    names = ["W0[0,0]", "W0[0,1]"]
    d = filter_normalized_directions(task.arch, teacher, 2, seed=0)
    cases = (
        (
            "Fig. 5 coefficients (exact, piecewise quadratic)",
            "slice 101x101 vs nn.Module loop",
            "target: at least 100x",
            lambda: coefficient_slice(task.arch, teacher, names, x, y, [axis, axis]),
        ),
        (
            "random filter-normalized directions (batched models)",
            "slice 101x101 (random dirs) vs loop",
            "both layers move: batched path",
            lambda: loss_slice(task.arch, teacher, d, x, y, [axis, axis]),
        ),
    )
    print("\n(3) 101 x 101 slices of the demo problem (512 samples)")
    for label, row, note, run in cases:
        t_ours = _median_time(run, args.repeats)
        s = run()
        t_point, points, values = _planar_loop(model, x, y, s.origin, s.directions, axis, args.slice_loop_points)
        worst = _worst(s.loss, points, values)
        t_loop = t_point * axis.size**2
        print(
            f"    {label}: ours {t_ours * 1e3:.1f} ms (median of {args.repeats}); loss-landscapes' loop "
            f"{t_loop:.2f} s ({t_point * 1e6:.0f} us a point, {len(points)} points); ratio {t_loop / t_ours:.1f}x; "
            f"largest relative difference {worst:.1e}"
        )
        rows.append((row, t_loop / t_ours, note))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000, help="models of (1)")
    parser.add_argument("--samples", type=int, default=256, help="samples of (1)")
    parser.add_argument("--loop-models", type=int, default=5, help="models timed in the autograd loop")
    parser.add_argument("--vmap-models", type=int, default=100, help="models timed with vmap(hessian)")
    parser.add_argument("--vmap-chunk", type=int, default=25, help="models per vmap call")
    parser.add_argument("--repeats", type=int, default=3, help="ours in (1): the median of this many runs")
    parser.add_argument("--width", type=int, default=300, help="first hidden width of (2)")
    parser.add_argument("--eig-samples", type=int, default=1024, help="samples of (2)")
    parser.add_argument("--top", type=int, default=10, help="eigenvalues of (2)")
    parser.add_argument("--tol", type=float, default=1e-4, help="tolerance of both eigenvalue methods")
    parser.add_argument("--power-iters", type=int, default=1000, help="power iterations per eigenvalue, at most")
    parser.add_argument("--skip-eigenvalues", action="store_true", help="skip (2)")
    parser.add_argument("--slice-loop-points", type=int, default=1000, help="grid points timed in the loop of (3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 models, an 8,000-parameter (2)")
    args = parser.parse_args()
    if args.quick:
        args.models, args.loop_models, args.vmap_models, args.width, args.eig_samples = 100, 2, 25, 24, 256
    rows = bench_hessians(args)
    if not args.skip_eigenvalues:
        rows += bench_eigenvalues(args)
    rows += bench_slice(args)
    blas = os.environ["OPENBLAS_NUM_THREADS"]
    print(f"\nsummary (torch threads: {torch.get_num_threads()}, OPENBLAS_NUM_THREADS={blas})")
    for name, ratio, note in rows:
        print(f"    {name:38s} {ratio:8.1f}x   {note}")


if __name__ == "__main__":
    main()
