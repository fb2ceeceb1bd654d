"""Stability of equivariant stationary points (eqlandscape.landscape.stability) and ``eqlandscape stability``.

Oracles written here: the group's action on the flat weights built from the reps' permutations
(``W_l -> rho_{l+1}(g) W_l rho_l(g)^T``), the Hessian of a hand-written forward pass by
``torch.autograd.functional.hessian`` in orthonormal coordinates of ``E`` and ``E``-perp, and the
population loss in NumPy (tests/test_population_task.py) for the negative curvature out of ``E``.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlandscape.cli import main
from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.landscape import augment, orthogonal_complement, refine
from eqlandscape.landscape.stability import (
    free_hessian,
    require_in_E,
    search,
    stability,
    subspace_basis,
)
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import parse_rep
from eqlandscape.symmetry import fixed_point_subspace
from eqlandscape.tasks import plane_teacher, teacher_student
from test_population_task import _np_loss

F64 = torch.float64
PROBLEMS = [
    ("S3", "natural -> natural -> trivial", False),
    ("C4", "natural -> regular -> natural", True),
    ("D4", "natural -> natural -> trivial", True),
    ("S3", "natural -> 2*natural -> natural", False),
    ("C3", "natural -> regular -> trivial", True),
]


def _action(arch: MLPArchitecture, element: int) -> np.ndarray:
    """The permutation matrix ``(P, P)`` of group element ``element`` on the flat weights."""
    blocks = []
    for t, shape in enumerate(arch.shapes):
        layer = t // (2 if arch.bias else 1)
        p_out = np.asarray(arch.reps[layer + 1].perms[element])
        idx = np.arange(int(np.prod(shape))).reshape(shape)
        moved = np.empty_like(idx)
        if len(shape) == 2:
            p_in = np.asarray(arch.reps[layer].perms[element])
            moved[np.ix_(p_out, p_in)] = idx  # (rho W rho^T)[p(i), p(j)] = W[i, j]
        else:
            moved[p_out] = idx
        blocks.append(moved.reshape(-1))
    offsets = np.cumsum([0] + [b.size for b in blocks[:-1]])
    perm = np.concatenate([b + o for b, o in zip(blocks, offsets, strict=True)])
    return np.eye(perm.size)[perm]


def _hand_loss(arch: MLPArchitecture, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The MSE of an MLP written out layer by layer from a flat weight vector."""
    h, offset = x, 0
    for layer in range(arch.n_layers):
        n_in, n_out = arch.widths[layer], arch.widths[layer + 1]
        W = flat[offset : offset + n_out * n_in].reshape(n_out, n_in)
        offset += n_out * n_in
        h = h @ W.T
        if arch.bias:
            h = h + flat[offset : offset + n_out]
            offset += n_out
        if layer < arch.n_layers - 1:
            h = torch.tanh(h) if arch.activation == "tanh" else torch.relu(h)
    return ((h - y) ** 2).mean()


@settings(max_examples=8, deadline=None)
@given(problem=st.sampled_from(PROBLEMS), seed=st.integers(0, 1000))
def test_augmented_hessian_commutes_with_G_and_its_E_block_is_the_constrained_hessian(problem, seed) -> None:
    """At points of E with a train set closed under G (tanh: every term of the Hessian is present), the
    augmented Hessian commutes with every group element and does not couple E with E-perp; its E
    block is autograd's Hessian of the loss in orthonormal coordinates of E, and so is its E-perp
    block's spectrum."""
    name, spec, bias = problem
    G = group_from_name(name)
    reps = tuple(parse_rep(G, s.strip()) for s in spec.split("->"))
    arch = MLPArchitecture(reps, "tanh", bias)
    E = fixed_point_subspace(arch, [])
    point = [w[0] for w in E.random_point(1, seed)]
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.standard_normal((6, arch.widths[0])))
    y = torch.as_tensor(rng.standard_normal((6, arch.widths[-1])))
    H = free_hessian(arch, point, x, y, augmented=True).numpy()
    for element in range(len(reps[0].perms)):
        P = _action(arch, element)
        np.testing.assert_allclose(P @ H @ P.T, H, atol=1e-11 * max(1.0, np.abs(H).max()))
    result = stability(arch, point, x, y, tol=1e-8)
    assert result.coupling < 1e-11
    xa, ya = augment(x, y, arch.rep_in, arch.rep_out)
    w0 = torch.as_tensor(np.concatenate([w.ravel() for w in point]))
    B = E.orthonormal()
    for basis, eigenvalues in ((B, result.eigenvalues_E), (orthogonal_complement(B), result.eigenvalues_perp)):
        b = torch.as_tensor(basis)
        h = torch.autograd.functional.hessian(
            lambda t, b=b: _hand_loss(arch, w0 + t @ b, xa, ya), torch.zeros(len(b), dtype=F64)
        )
        np.testing.assert_allclose(eigenvalues, np.linalg.eigvalsh(h.numpy()), atol=1e-10)


def test_constrained_stationary_point_of_the_demo_with_a_closed_train_set() -> None:
    """At a refined constrained critical point of the demo (train set closed under S3, ReLU), the
    augmented Hessian does not couple E and E-perp, and the spectrum of its E block is that of
    autograd's Hessian of the loss in the parametrization's orthonormal coordinates (another basis)."""
    task = teacher_student(plane_teacher(), 64, 4)
    arch = task.arch
    x, y = augment(task.x_train, task.y_train, arch.rep_in, arch.rep_out)
    params = arch.parametrizations("orthonormal")
    start = [torch.as_tensor(W.reshape(1, -1) @ p.pinv) for W, p in zip(_plane(-0.3, 0.6), params, strict=True)]
    refined = refine(arch, start, x, y, params=params, tol=1e-11)
    assert refined.converged.all()
    theta = [refined.coords[n][0] for n in arch.names]
    point = [p.to_full(t[None])[0].numpy() for p, t in zip(params, theta, strict=True)]
    result = stability(arch, point, x, y)
    assert result.coupling < 1e-12 and result.constrained == "stable"
    sizes = [p.dim for p in params]

    def constrained(t: torch.Tensor) -> torch.Tensor:
        parts = torch.split(t, sizes)
        flat = torch.cat([p.to_full(c[None])[0].reshape(-1) for p, c in zip(params, parts, strict=True)])
        return _hand_loss(arch, flat, x, y)

    h = torch.autograd.functional.hessian(constrained, torch.cat(theta))
    np.testing.assert_allclose(result.eigenvalues_E, np.linalg.eigvalsh(h.numpy()), atol=1e-10)
    # on a closed train set the augmented risk is the loss: augmenting again changes no eigenvalue
    as_closed = stability(arch, point, x, y, closed=True)
    np.testing.assert_allclose(as_closed.eigenvalues_E, result.eigenvalues_E, atol=1e-10)
    np.testing.assert_allclose(as_closed.eigenvalues_perp, result.eigenvalues_perp, atol=1e-10)


def _plane(a: float, b: float) -> list[np.ndarray]:
    eye, ones = np.eye(3), np.ones((3, 3))
    return [(a * eye + b * (ones - eye))[None], np.ones((1, 1, 3))]


@pytest.fixture(scope="module")
def population_points():
    task = teacher_student(plane_teacher(), 256, 4, population=True)
    return task, search([task], starts=6, steps=600, population=True)


def test_spurious_population_point_is_stable_constrained_and_a_saddle_augmented(population_points) -> None:
    """The demo's spurious constrained minimum (side -) of the expected loss: index 0 in E, a negative
    eigenvalue on E-perp; the escape direction lies in E-perp and the NumPy closed form curves down
    along it by that eigenvalue (second differences)."""
    task, points = population_points
    arch = task.arch
    teacher = next(p for p in points if p.sides == ("+",))
    assert teacher.loss < 1e-12 and teacher.stability.augmented == "stable"
    spurious = next(p for p in points if p.sides == ("-",))
    assert spurious.symmetry_breaking and spurious.stability.index_E == 0 and spurious.stability.index_perp >= 1
    v = spurious.stability.escape
    E = fixed_point_subspace(arch, []).orthonormal()
    assert np.linalg.norm(E @ v) < 1e-10 and np.linalg.norm(v) == pytest.approx(1.0)
    T0, T1 = (t.detach().numpy() for t in task.teacher.full())
    w = np.concatenate([a.ravel() for a in spurious.weights])

    def f(flat: np.ndarray) -> float:
        return _np_loss(flat[:9].reshape(3, 3), flat[9:].reshape(1, 3), T0, T1)

    t = 1e-3
    curvature = (f(w + t * v) + f(w - t * v) - 2 * f(w)) / t**2
    assert curvature == pytest.approx(spurious.stability.eigenvalues_perp[0], rel=1e-4)
    assert curvature < -0.01


def test_bad_input() -> None:
    task = teacher_student(plane_teacher(), 16, 4)
    arch = task.arch
    off = [np.arange(9.0).reshape(3, 3), np.ones((1, 3))]
    with pytest.raises(ConfigError, match="not in E: its distance to E is"):
        require_in_E(arch, off)
    with pytest.raises(ConfigError, match="not in E"):
        stability(arch, off, task.x_train, task.y_train)
    teacher = [t.detach().numpy() for t in task.teacher.full()]
    for tol in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="tol must be a positive number"):
            stability(arch, teacher, task.x_train, task.y_train, tol=tol)
    with pytest.raises(ConfigError, match="do not fit"):
        stability(arch, [np.zeros((2, 3)), np.ones((1, 3))], task.x_train, task.y_train)
    with pytest.raises(ConfigError, match="unknown space 'F'"):
        subspace_basis(arch, "F")
    with pytest.raises(ConfigError, match="layer=2"):
        subspace_basis(arch, "layer", layer=2)
    with pytest.raises(ConfigError, match="E-fix needs"):
        subspace_basis(arch, "E-fix")


def test_stability_command_finds_the_saddle_and_augmented_training_leaves_E() -> None:
    out = io.StringIO()
    argv = ["stability", "S3", "--population", "--starts", "6", "--steps", "600", "--escape-steps", "1500", "--json"]
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    r = json.loads(out.getvalue())
    from test_readme import documented_names

    names = documented_names()
    assert set(r) <= names, set(r) - names
    found = r["points"][r["found"]]
    assert set(found) <= names, set(found) - names
    assert found["sides"] == ["-"] and found["constrained"] == "stable" and found["augmented"] == "saddle"
    assert found["symmetry_breaking"] and found["eigenvalues_perp"][0] < -0.01
    escape = r["escape"]
    assert set(escape) <= names, set(escape) - names
    assert escape["left_E"][0] and escape["dist_to_E_end"][0] > 0.1  # along the escape direction
    assert escape["loss_end"][0] < escape["loss_start"][0]


@pytest.mark.parametrize(
    "argv",
    [
        ["stability", "S3", "--teacher-seeds", "a"],
        ["stability", "S3", "--escape-scale", "0"],
        ["stability", "S3", "--eig-tol", "-1"],
        ["stability", "S3", "--starts", "0"],
    ],
)
def test_stability_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
