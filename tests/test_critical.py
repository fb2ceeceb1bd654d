"""Tests of the refinement and classification of critical points (eqlandscape.landscape.critical) and of
``eqlandscape critical``.

Oracles written here: least squares (``torch.linalg.lstsq``) for a linear model's minimum; the origin of
a deep linear network as a known saddle; a hand-written ReLU forward pass with ``torch.autograd`` on
the demo problem's data closed under ``S3`` (all six permutations of every sample).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json

import numpy as np
import pytest
import torch

from eqlandscape.cli import main
from eqlandscape.cli.critical import GRAD_TOL
from eqlandscape.cli.tasks import make_task
from eqlandscape.groups import group_from_name
from eqlandscape.landscape.critical import balanced, critical_points, deduplicate, refine
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import natural

F64 = torch.float64


def _data(n_in: int = 3, n_out: int = 3, samples: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(samples, n_in, generator=g, dtype=F64), torch.randn(samples, n_out, generator=g, dtype=F64)


def _linear_arch(layers: int) -> MLPArchitecture:
    nat = natural(group_from_name("S3"))
    return MLPArchitecture((nat,) * (layers + 1), "identity", False)


def test_refine_quadratic_converges_to_least_squares() -> None:
    """A linear model's loss is quadratic: refinement from K random points reaches the least-squares
    solution, a strict minimum (index 0, no near-zero eigenvalue)."""
    x, y = _data()
    w_star = torch.linalg.lstsq(x, y).solution.T
    start = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    refined, reports = critical_points(_linear_arch(1), [start], x, y, tol=1e-12)
    assert refined.converged.all() and (refined.grad_norm <= 1e-12).all()
    assert torch.allclose(refined.coords["W0"], w_star.expand(4, 3, 3), atol=1e-10)
    for r in reports:
        assert (r.free_index, r.near_zero, r.index, r.index_in_E) == (0, 0, 0, 0)
        assert np.all(np.diff(r.free_eigenvalues) >= 0)
    assert [count for _, count in deduplicate(reports)] == [4]


def test_refine_finds_the_saddle_of_a_deep_linear_network() -> None:
    """Near the origin of a two-layer linear network (targets != 0) refinement converges to the origin,
    a saddle (free index >= 1); a point at the least-squares solution is classified as a degenerate
    minimum (the GL(n) symmetry W0 -> A W0, W1 -> W1 A^-1 makes flat directions)."""
    x, y = _data()
    arch = _linear_arch(2)
    g = torch.Generator().manual_seed(2)
    near = [1e-3 * torch.randn(3, 3, 3, generator=g, dtype=F64) for _ in range(2)]
    refined, reports = critical_points(arch, near, x, y, tol=1e-12)
    assert refined.converged.all()
    assert float(refined.flat.abs().max()) < 1e-10
    assert all(r.free_index >= 1 for r in reports)
    w_star = torch.linalg.lstsq(x, y).solution.T
    _, (minimum,) = critical_points(arch, [torch.eye(3, dtype=F64)[None], w_star[None]], x, y, max_steps=0)
    assert minimum.free_index == 0 and minimum.near_zero == 9 and minimum.grad_norm < 1e-12


def test_refine_stays_in_the_parametrized_space() -> None:
    """Refining orthonormal coordinates of E keeps the point in E (and on its side of the barrier)."""
    task = make_task("S3", "natural -> natural -> trivial", teacher_weights="plane", bias=False, n_train=64)
    arch = task.arch
    params = arch.parametrizations("orthonormal")
    eye, ones = np.eye(3), np.ones((3, 3))
    W0 = np.stack([1.1 * eye - 0.25 * (ones - eye), -0.6 * eye + 0.6 * (ones - eye)])  # a > b, a < b
    W1 = np.stack([0.9 * np.ones((1, 3)), np.ones((1, 3))])
    coords = [torch.as_tensor(W.reshape(2, -1) @ p.pinv) for W, p in zip((W0, W1), params, strict=True)]
    refined = refine(arch, coords, task.x_train, task.y_train, params=params)
    assert refined.flat.shape == (2, 3) and refined.converged.all()
    _, reports = critical_points(arch, None, task.x_train, task.y_train, params=params, refined=refined)
    assert all(r.subspaces["E"] for r in reports)
    assert [r.sides for r in reports] == [("+",), ("-",)]
    w = balanced(arch, reports[0].weights)
    assert np.isclose(np.linalg.norm(w[0][0]), np.linalg.norm(w[1][:, 0]))


@pytest.fixture(scope="module")
def demo_json() -> dict:
    """``eqlandscape critical S3 --teacher-weights plane --no-bias --json`` with 12 starts, run once."""
    out = io.StringIO()
    argv = ["critical", "S3", "--teacher-weights", "plane", "--no-bias", "--starts", "12", "--steps", "1000", "--json"]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


def _hand_loss(W0: torch.Tensor, W1: torch.Tensor) -> torch.Tensor:
    """The demo problem's loss, written out: the plane teacher W = I - 0.2 (J - I) with output weights 1,
    its train set (256 samples, seed 0) permuted by all six elements of S3, ReLU, mean squared error."""
    task = make_task("S3", "natural -> natural -> trivial", teacher_weights="plane", bias=False, n_train=256)
    x = torch.cat([task.x_train[:, list(p)] for p in itertools.permutations(range(3))])
    teacher = torch.eye(3, dtype=F64) - 0.2 * (torch.ones(3, 3, dtype=F64) - torch.eye(3, dtype=F64))
    y = torch.relu(x @ teacher.T).sum(dim=1, keepdim=True)
    return ((torch.relu(x @ W0.T) @ W1.T - y) ** 2).mean()


def test_demo_problem_critical_points(demo_json: dict) -> None:
    """The teacher is found (loss < 1e-12, free index 0, side +); the spurious constrained minimum on the
    other side of a = b is found; every point has gradient norm below the tolerance by autograd on a
    hand-written forward pass, and the loss the command reports."""
    points = demo_json["critical_points"]
    assert demo_json["barriers"] == ["W0[0,0] = W0[0,1]"]
    assert demo_json["reps"] == ["natural", "natural", "trivial"] and demo_json["group"] == "S3"
    teacher = points[0]
    assert teacher["loss"] < 1e-12 and teacher["free_index"] == 0 and teacher["sides"] == ["+"]
    assert teacher["index_in_E"] == 0
    spurious = [p for p in points if p["sides"] == ["-"]]
    assert spurious and spurious[0]["loss"] > 1e-3 and spurious[0]["index_in_E"] == 0
    assert sum(p["count"] for p in points) + demo_json["not_converged"] == 12
    for p in points:
        W0, W1 = (torch.tensor(w, dtype=F64, requires_grad=True) for w in p["weights"])
        value = _hand_loss(W0, W1)
        grads = torch.autograd.grad(value, (W0, W1))
        norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
        assert norm <= GRAD_TOL, (p["loss"], norm)
        assert abs(value.item() - p["loss"]) <= 1e-12 * max(1.0, p["loss"])


def test_critical_json_keys(demo_json: dict) -> None:
    from test_readme import documented_names

    names = documented_names()
    assert set(demo_json) <= names, set(demo_json) - names
    for p in demo_json["critical_points"]:
        for key in ("loss", "sides", "index_in_E", "free_eigenvalues", "free_index", "near_zero", "count"):
            assert key in p
        eig = np.array(p["free_eigenvalues"])
        assert eig.shape == (12,) and np.all(np.diff(eig) >= 0)
        assert p["free_index"] == int((eig < -demo_json["eig_tol"]).sum())
        assert p["near_zero"] == int((np.abs(eig) <= demo_json["eig_tol"]).sum())
        assert len(p["sides"]) == len(demo_json["barriers"]) and p["count"] >= 1
        assert set(p) <= names, set(p) - names
        if p["sides"] != ["dead"]:  # away from the ReLU kink at 0: the spectrum of autograd's Hessian
            flat = torch.cat([torch.tensor(w, dtype=F64).reshape(-1) for w in p["weights"]])
            H = torch.autograd.functional.hessian(lambda v: _hand_loss(v[:9].reshape(3, 3), v[9:].reshape(1, 3)), flat)
            np.testing.assert_allclose(eig, np.linalg.eigvalsh(H.numpy()), atol=1e-8)


def test_critical_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["critical", "S3", "--starts", "4", "--steps", "300"]) == 0
    out = capsys.readouterr().out
    assert "distinct critical points from 4 starts" in out and "free index" in out and "W0[0,0] = W0[0,1]" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["critical", "S3", "--starts", "0"],
        ["critical", "S3", "--reps", "natural -> bogus -> trivial"],
        ["critical", "S3", "--reps", "natural"],
        ["critical", "S3", "--steps", "0"],
    ],
)
def test_critical_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_non_finite_start_is_reported_not_raised() -> None:
    x, y = _data()
    start = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    start[1, 0, 0] = float("nan")
    refined, reports = critical_points(_linear_arch(1), [start], x, y)
    assert refined.converged.tolist() == [True, False]
    assert reports[1].free_index == -1 and np.isnan(reports[1].free_eigenvalues).all()
    assert [count for _, count in deduplicate([r for r in reports if r.converged])] == [1]


@pytest.mark.parametrize(
    ("option", "value"), [("eig_tol", 0.0), ("side_tol", -1e-6), ("tol", 0.0), ("eig_tol", np.nan)]
)
def test_non_positive_tolerances_are_refused(option: str, value: float) -> None:
    from eqlandscape.errors import ConfigError

    x, y = _data()
    start = torch.zeros(1, 3, 3, dtype=F64)
    with pytest.raises(ConfigError, match=f"{option}={value}"):
        critical_points(_linear_arch(1), [start], x, y, **{option: value})
