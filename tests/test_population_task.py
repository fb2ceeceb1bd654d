"""The population option of teacher-student tasks: ``TeacherStudentTask.expected_loss`` and the landscape
quantities of the expected loss (slices, Hessians, critical points, ``--population`` on the commands).

Oracles written here: the arc-cosine kernel in NumPy (``np.arccos``, matrix products), a Monte Carlo
sample, central finite differences of the NumPy closed form, and single-model evaluations against
batched ones.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from eqlandscape.cli import main
from eqlandscape.cli.tasks import make_task
from eqlandscape.errors import ConfigError
from eqlandscape.landscape import coefficient_slice, critical_points, objective_hessian, refine, restrict
from eqlandscape.nn import EquivariantMLP
from eqlandscape.symmetry import fixed_point_subspace
from eqlandscape.tasks import plane_teacher, teacher_student

F64 = torch.float64


def _np_kernel(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    nu, nv = np.linalg.norm(U, axis=1), np.linalg.norm(V, axis=1)
    c = np.clip(U @ V.T / np.outer(nu, nv), -1, 1)
    t = np.arccos(c)
    return np.outer(nu, nv) * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi)


def _np_loss(W0: np.ndarray, W1: np.ndarray, T0: np.ndarray, T1: np.ndarray) -> float:
    """(1/n_out) E ||W1 relu(W0 x) - T1 relu(T0 x)||^2, written with matrix products."""
    own = np.trace(W1 @ _np_kernel(W0, W0) @ W1.T)
    cross = np.trace(W1 @ _np_kernel(W0, T0) @ T1.T)
    target = np.trace(T1 @ _np_kernel(T0, T0) @ T1.T)
    return float((own - 2 * cross + target) / W1.shape[0])


@pytest.fixture(scope="module")
def task():
    """The demo problem (plane teacher on S3) with the population option."""
    return teacher_student(plane_teacher(), 32, 8, population=True)


def _teacher(task) -> tuple[np.ndarray, np.ndarray]:
    W0, W1 = (t.detach().numpy() for t in task.teacher.full())
    return W0, W1


def test_expected_loss_is_the_closed_form_per_model_and_independent_of_the_batch(task) -> None:
    rng = np.random.default_rng(0)
    W0, W1 = rng.standard_normal((7, 5, 3)), rng.standard_normal((7, 1, 5))
    values = task.expected_loss([torch.as_tensor(W0), torch.as_tensor(W1)])
    T0, T1 = _teacher(task)
    assert values.shape == (7,)
    expected = [_np_loss(a, b, T0, T1) for a, b in zip(W0, W1, strict=True)]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-12)
    for k in range(7):  # the same bits alone as in the batch
        alone = task.expected_loss([torch.as_tensor(W0[k : k + 1]), torch.as_tensor(W1[k : k + 1])])
        assert torch.equal(alone, values[k : k + 1])
    assert float(task.expected_loss([torch.as_tensor(T0[None]), torch.as_tensor(T1[None])])[0]) < 1e-14


def test_expected_loss_matches_monte_carlo_with_label_noise() -> None:
    noisy = teacher_student(plane_teacher(), 8, 8, noise=0.3, population=True)
    rng = np.random.default_rng(1)
    W0, W1 = rng.standard_normal((4, 3)), rng.standard_normal((1, 4))
    T0, T1 = _teacher(noisy)
    x = rng.standard_normal((400_000, 3))
    y = np.maximum(x @ T0.T, 0) @ T1.T + 0.3 * rng.standard_normal((x.shape[0], 1))
    errors = ((np.maximum(x @ W0.T, 0) @ W1.T - y) ** 2).mean(axis=1)
    mean, stderr = errors.mean(), errors.std() / np.sqrt(errors.size)
    value = float(noisy.expected_loss([torch.as_tensor(W0[None]), torch.as_tensor(W1[None])])[0])
    assert abs(value - mean) < 4 * stderr
    assert noisy.describe()["population"] is True


def test_expected_loss_is_differentiable_and_matches_finite_differences(task) -> None:
    rng = np.random.default_rng(2)
    W0, W1 = rng.standard_normal((3, 3)), rng.standard_normal((1, 3))
    T0, T1 = _teacher(task)
    theta = torch.as_tensor(np.concatenate([W0.ravel(), W1.ravel()]), dtype=F64).requires_grad_(True)
    value = task.expected_loss([theta[:9].reshape(1, 3, 3), theta[9:].reshape(1, 1, 3)])[0]
    (grad,) = torch.autograd.grad(value, theta)
    eps, fd = 1e-6, np.empty(12)
    base = theta.detach().numpy()
    for i in range(12):
        e = np.zeros(12)
        e[i] = eps
        plus, minus = base + e, base - e
        fd[i] = (
            _np_loss(plus[:9].reshape(3, 3), plus[9:].reshape(1, 3), T0, T1)
            - _np_loss(minus[:9].reshape(3, 3), minus[9:].reshape(1, 3), T0, T1)
        ) / (2 * eps)
    np.testing.assert_allclose(grad.numpy(), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: teacher_student(plane_teacher(), 8, 8, inputs="uniform", population=True), "inputs 'uniform'"),
        (
            lambda: make_task("S3", "natural -> natural -> trivial", bias=True, population=True),
            "biases",
        ),
        (
            lambda: make_task("S3", "natural -> natural -> natural -> trivial", bias=False, population=True),
            "3 layers",
        ),
        (
            lambda: teacher_student(
                EquivariantMLP(plane_teacher().arch.reps, "tanh", False, seed=0), 8, 8, population=True
            ),
            "activation 'tanh'",
        ),
    ],
)
def test_unsupported_population_settings_raise(build, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build()


def test_expected_loss_refuses_students_with_biases(task) -> None:
    tensors = [torch.zeros(2, 3, 3, dtype=F64), torch.zeros(2, 3, dtype=F64)] * 2
    with pytest.raises(ConfigError, match="biases"):
        task.expected_loss(tensors)


def test_population_slice_is_the_closed_form_on_the_grid(task) -> None:
    arch = task.arch
    T0, T1 = _teacher(task)
    axis = np.linspace(-1.5, 1.5, 6)  # avoids W0 = 0, where the NumPy oracle divides by 0
    origin = [T0[None], T1[None]]
    s = coefficient_slice(arch, origin, ["W0[0,0]", "W0[0,1]"], None, None, [axis, axis], objective=task.expected_loss)
    eye, ones = np.eye(3), np.ones((3, 3))
    for i, a in enumerate(axis):
        for j, b in enumerate(axis):
            W0 = a * eye + b * (ones - eye)
            assert s.loss[i, j] == pytest.approx(_np_loss(W0, T1, T0, T1), rel=1e-10, abs=1e-14)


def _np_fd_hessian(theta: np.ndarray, T0: np.ndarray, T1: np.ndarray, h: int, eps: float = 1e-4) -> np.ndarray:
    """Central second differences of the NumPy closed form (W0 (h, 3), W1 (1, h))."""

    def f(v: np.ndarray) -> float:
        return _np_loss(v[: 3 * h].reshape(h, 3), v[3 * h :].reshape(1, h), T0, T1)

    P = theta.size
    H = np.empty((P, P))
    for i in range(P):
        for j in range(P):
            ei, ej = np.eye(P)[i] * eps, np.eye(P)[j] * eps
            H[i, j] = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)) / (4 * eps**2)
    return H


def test_population_hessian_matches_finite_differences_and_restricts(task) -> None:
    rng = np.random.default_rng(3)
    T0, T1 = _teacher(task)
    W0, W1 = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 1, 3))
    H = objective_hessian({"W0": torch.as_tensor(W0), "W1": torch.as_tensor(W1)}, task.expected_loss)
    assert H.shape == (2, 12, 12)
    for k in range(2):
        fd = _np_fd_hessian(np.concatenate([W0[k].ravel(), W1[k].ravel()]), T0, T1, 3)
        np.testing.assert_allclose(H[k].numpy(), fd, atol=2e-6 * np.abs(fd).max())
    E = fixed_point_subspace(task.arch, []).orthonormal()
    inside = objective_hessian({"W0": torch.as_tensor(W0), "W1": torch.as_tensor(W1)}, task.expected_loss, basis=E)
    torch.testing.assert_close(inside, restrict(H, E), rtol=1e-12, atol=1e-12)


def test_population_critical_point_is_critical_for_the_closed_form(task) -> None:
    """Refining from the wrong side of a = b (within E) reaches a critical point of the expected loss:
    its NumPy gradient by finite differences vanishes and its free spectrum is that of the NumPy
    Hessian by finite differences."""
    arch = task.arch
    params = arch.parametrizations("orthonormal")
    eye, ones = np.eye(3), np.ones((3, 3))
    W0 = (-0.4 * eye + 0.7 * (ones - eye))[None]
    W1 = np.ones((1, 1, 3))
    coords = [torch.as_tensor(W.reshape(1, -1) @ p.pinv) for W, p in zip((W0, W1), params, strict=True)]
    refined = refine(arch, coords, None, None, params=params, objective=task.expected_loss)
    assert refined.converged.all()
    _, (report,) = critical_points(arch, None, None, None, params=params, refined=refined, objective=task.expected_loss)
    T0, T1 = _teacher(task)
    theta = np.concatenate([w.ravel() for w in report.weights])
    assert report.sides == ("-",) and report.loss == pytest.approx(_np_loss(*report.weights, T0, T1), rel=1e-12)
    fd = _np_fd_hessian(theta, T0, T1, 3)
    np.testing.assert_allclose(report.free_eigenvalues, np.linalg.eigvalsh((fd + fd.T) / 2), atol=1e-5)
    assert report.index_in_E == 0


def test_critical_population_json() -> None:
    """``eqlandscape critical S3 --population``: the teacher (loss ~ 0, free index 0) and the spurious
    constrained minimum on the other side of a = b, which the expected loss shows to be a saddle of the
    free problem (index 0 in E, free index >= 1)."""
    out = io.StringIO()
    argv = ["critical", "S3", "--population", "--starts", "8", "--steps", "800", "--json"]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    r = json.loads(out.getvalue())
    assert r["population"] is True
    points = r["critical_points"]
    assert points[0]["loss"] < 1e-12 and points[0]["sides"] == ["+"] and points[0]["free_index"] == 0
    spurious = [p for p in points if p["sides"] == ["-"]]
    assert spurious and spurious[0]["index_in_E"] == 0 and spurious[0]["free_index"] >= 1


def test_slice_population_command(tmp_path) -> None:
    out = io.StringIO()
    argv = ["slice", "S3", "--population", "--points", "5", "--out", str(tmp_path / "s"), "--json"]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    r = json.loads(out.getvalue())
    assert r["population"] is True
    data = json.loads((tmp_path / "s" / "slice.json").read_text())
    assert np.min(data["loss"]) >= 0 and data["population"] is True
