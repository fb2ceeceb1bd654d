"""``eqlandscape hessian``: spectra restricted to subspaces, Lanczos against exact, and the bad input of
the landscape commands (one line on stderr, exit code 2).

Oracles written here: ``torch.autograd.functional.hessian`` of the demo's loss written out by hand, and
orthonormal bases of ``E``, ``E ∩ Fix((0 1))`` and a layer's block written from the plane parametrization
``W0 = a I + b (J - I)``, ``W1 = c 1^T``.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from eqlandscape.cli import main
from eqlandscape.cli.tasks import make_task
from test_readme import documented_names

F64 = torch.float64


def _run(argv: list[str]) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


def _bases() -> dict[str, np.ndarray]:
    eye, J = np.eye(3), np.ones((3, 3))
    a = np.concatenate([eye.ravel(), np.zeros(3)]) / np.sqrt(3)
    b = np.concatenate([(J - eye).ravel(), np.zeros(3)]) / np.sqrt(6)
    c = np.concatenate([np.zeros(9), np.ones(3)]) / np.sqrt(3)
    E = np.stack([a, b, c])
    _, _, vt = np.linalg.svd(E)
    diag = np.concatenate([J.ravel(), np.zeros(3)]) / 3  # a = b: W0 = a J
    return {"E": E, "E-perp": vt[3:], "E-fix": np.stack([diag, c]), "layer": np.eye(12)[:9]}


def test_hessian_spectra_on_subspaces(tmp_path: Path) -> None:
    argv = ["hessian", "S3", "--n-train", "64", "--space", "all,E,E-perp,E-fix,layer", "--fix", "1:(0 1)"]
    r = _run([*argv, "--layer", "0", "--out", str(tmp_path / "h"), "--json"])
    task = make_task("S3", "natural -> natural -> trivial", teacher_weights="plane", bias=False, n_train=64, n_test=1)
    x, y = task.x_train, task.y_train
    teacher = torch.cat([t.detach().reshape(-1) for t in task.teacher.full()])

    def hand(v: torch.Tensor) -> torch.Tensor:
        return ((torch.relu(x @ v[:9].reshape(3, 3).T) @ v[9:].reshape(1, 3).T - y) ** 2).mean()

    H = torch.autograd.functional.hessian(hand, teacher).numpy()
    assert r["method"] == "exact" and r["loss"] < 1e-20 and r["distance_to_E"] == 0.0
    np.testing.assert_allclose(r["spaces"]["all"]["eigenvalues"], np.linalg.eigvalsh(H), atol=1e-12)
    for name, B in _bases().items():
        space = r["spaces"][name]
        assert space["dim"] == B.shape[0] and space["exact"]
        np.testing.assert_allclose(space["eigenvalues"], np.linalg.eigvalsh(B @ H @ B.T), atol=1e-12)
        assert space["index"] == 0 and space["min"] == space["eigenvalues"][0]
    assert (tmp_path / "h" / "hessian.png").stat().st_size > 0
    assert json.loads((tmp_path / "h" / "hessian.json").read_text())["spaces"].keys() == r["spaces"].keys()
    names = documented_names()
    assert set(r) <= names, set(r) - names
    assert set(r["spaces"]["E"]) <= names, set(r["spaces"]["E"]) - names


def test_lanczos_extremes_match_the_exact_spectrum_of_the_expected_loss(tmp_path: Path) -> None:
    """At the spurious constrained minimum from ``critical --population --json`` (``--weights``, ``--index``):
    the Lanczos ends of the expected loss's Hessian agree with the exact spectrum, and the point is a
    saddle of the free problem with no negative eigenvalue in E."""
    critical = _run(["critical", "S3", "--population", "--starts", "8", "--steps", "600", "--json"])
    index = next(k for k, p in enumerate(critical["critical_points"]) if p["sides"] == ["-"])
    (tmp_path / "c.json").write_text(json.dumps(critical))
    common = ["hessian", "S3", "--population", "--weights", str(tmp_path / "c.json"), "--index", str(index)]
    exact = _run([*common, "--out", str(tmp_path / "e"), "--json"])
    lanczos = _run(
        [*common, "--method", "lanczos", "--top", "3", "--space", "all", "--out", str(tmp_path / "l"), "--json"]
    )
    values = np.array(exact["spaces"]["all"]["eigenvalues"])
    computed = np.array(lanczos["spaces"]["all"]["eigenvalues"])
    assert len(computed) == 6 and not lanczos["spaces"]["all"]["exact"]
    np.testing.assert_allclose(computed[3:], values[-3:], atol=1e-9)  # the largest: ARPACK
    # the smallest: Ritz values, the first the smallest eigenvalue, each above its eigenvalue (interlacing)
    assert computed[0] == pytest.approx(values[0], abs=1e-9) and np.all(computed[:3] >= values[:3] - 1e-9)
    assert lanczos["spaces"]["all"]["index"] == exact["spaces"]["all"]["index"] == 1
    assert exact["spaces"]["all"]["verdict"] == "saddle" and exact["spaces"]["E"]["index"] == 0
    assert exact["spaces"]["E-perp"]["index"] == exact["spaces"]["all"]["index"] >= 1
    assert exact["loss"] == pytest.approx(critical["critical_points"][index]["loss"], rel=1e-10)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["hessian", "S3", "--space", "bogus"], "unknown space 'bogus'"),
        (["hessian", "S3", "--space", "layer", "--layer", "5"], "layer=5"),
        (["hessian", "S3", "--space", "E-fix"], "E-fix needs"),
        (["hessian", "S3", "--space", "E-fix", "--fix", "1:(0 7)"], "(0 7)"),
        (["hessian", "S3", "--fix", "0:(0 1)"], "--fix layer 0"),
        (["hessian", "S3", "--eig-tol", "0"], "--eig-tol"),
        (["hessian", "S3", "--method", "newton"], "'newton'"),
        (["hessian", "S3", "--weights", "WEIGHTS_OFF_E", "--space", "E"], "distance to E is"),
        (["hessian", "S3", "--weights", "WEIGHTS_SHAPE"], "shapes"),
        (["slice", "S3", "--points", "1"], "at least 2"),
        (["slice", "S3", "--coefficients", "W0[0,0],W0[7,7]"], "W0[7,7]"),
        (["slice", "S3", "--teacher", "natural -> natural -> natural -> trivial"], "--teacher-weights plane"),
        (["slice", "S3", "--population", "--teacher-weights", "random"], "unsupported: biases"),
    ],
)
def test_landscape_bad_input(argv: list[str], needle: str, tmp_path: Path, capsys) -> None:
    files = {
        "WEIGHTS_OFF_E": [np.arange(9.0).reshape(3, 3).tolist(), [[1.0, 1.0, 1.0]]],
        "WEIGHTS_SHAPE": [np.zeros((2, 3)).tolist(), [[1.0, 1.0]]],
    }
    for key, weights in files.items():
        (tmp_path / f"{key}.json").write_text(json.dumps(weights))
    argv = [str(tmp_path / f"{a}.json") if a in files else a for a in argv]
    code = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and needle in err, err
