"""Loss slices: Xie & Smidt's Fig. 5, paths between networks, projections, directions.

Oracles: the loss evaluated point by point with a forward pass written here in NumPy, the teacher's
own coefficients, and the plane ``a = b`` from the diagonal and off-diagonal means."""

from __future__ import annotations

import numpy as np
import pytest

from eqlandscape.errors import ConfigError
from eqlandscape.landscape import (
    coefficient_directions,
    coefficient_slice,
    filter_normalized_directions,
    line,
    loss_slice,
    plot_slice,
)
from eqlandscape.symmetry import analyze_barriers, permute_hidden
from eqlandscape.tasks import demo_task


@pytest.fixture(scope="module")
def demo():
    task = demo_task(n_train=128, n_test=16)
    teacher = [t.detach().numpy() for t in task.teacher.full()]
    return task, task.arch, teacher


def _numpy_loss(W0: np.ndarray, W1: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float((((np.maximum(x @ W0.T, 0) @ W1.T) - y) ** 2).mean())


def test_fig5_slice_has_zero_loss_at_the_teacher_and_the_barrier_on_a_equals_b(demo) -> None:
    task, arch, teacher = demo
    axis = np.round(np.linspace(-1.5, 1.5, 31), 10)  # contains 1.0 and -0.2
    s = coefficient_slice(arch, teacher, ["W0[0,0]", "W0[0,1]"], task.x_train, task.y_train, [axis, axis])
    i, j = int(np.argmin(abs(axis - 1.0))), int(np.argmin(abs(axis + 0.2)))
    assert s.loss[i, j] < 1e-20 and s.loss[i, j] == s.loss.min()
    x, y = task.x_train.numpy(), task.y_train.numpy()
    rng = np.random.default_rng(0)
    for _ in range(5):
        p, q = rng.integers(0, 31, size=2)
        W0 = axis[p] * np.eye(3) + axis[q] * (np.ones((3, 3)) - np.eye(3))
        assert s.loss[p, q] == pytest.approx(_numpy_loss(W0, teacher[1], x, y), rel=1e-12)
    ((text, c),) = s.barrier_lines(analyze_barriers(arch))
    assert text == "W0[0,0] = W0[0,1]"
    np.testing.assert_allclose(c / c[1], [0.0, 1.0, -1.0], atol=1e-12)  # the line a = b
    fig = plot_slice(s, s.barrier_lines(analyze_barriers(arch)))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "W0[0,0]" and ax.get_ylabel() == "W0[0,1]"
    assert any("barrier" in t.get_text() for t in ax.get_legend().get_texts())
    assert len(fig.axes) == 2  # the plot and its colour bar


def test_projection_recovers_slice_coordinates(demo) -> None:
    task, arch, teacher = demo
    d = filter_normalized_directions(arch, teacher, 2, seed=1)
    s = loss_slice(arch, teacher, d, task.x_train, task.y_train, [np.linspace(-1, 1, 3)] * 2)
    coords = np.random.default_rng(2).standard_normal((4, 7, 2))
    flat = s.origin + coords @ d
    sizes = [int(np.prod(sh)) for sh in arch.shapes]
    parts = np.split(flat, np.cumsum(sizes)[:-1], axis=-1)
    tensors = [p.reshape(4, 7, *sh) for p, sh in zip(parts, arch.shapes, strict=True)]
    np.testing.assert_allclose(s.project(tensors), coords, atol=1e-10)


def test_filter_normalized_directions(demo) -> None:
    _, arch, teacher = demo
    for space in ("all", "E", "E-perp"):
        d = filter_normalized_directions(arch, teacher, 3, seed=4, space=space)
        W0 = d[:, :9].reshape(3, 3, 3)
        np.testing.assert_allclose(
            np.linalg.norm(W0, axis=2), np.broadcast_to(np.linalg.norm(teacher[0], axis=1), (3, 3))
        )
        if space == "E":
            np.testing.assert_allclose(W0, arch.bases[0].project(W0), atol=1e-12)


def test_line_between_a_network_and_its_relabelled_copy(demo) -> None:
    task, arch, teacher = demo
    student = [t + 0.3 * np.random.default_rng(5).standard_normal(t.shape) for t in teacher]
    moved = permute_hidden(arch, [t[None] for t in student], {1: [2, 0, 1]})
    x, y = task.x_train, task.y_train
    plain = line(arch, student, [t[0] for t in moved], x, y, points=11)
    assert plain.loss[0] == pytest.approx(_numpy_loss(student[0], student[1], x.numpy(), y.numpy()), rel=1e-12)
    assert plain.loss[-1] == pytest.approx(plain.loss[0], rel=1e-12)  # the same function
    aligned = line(arch, student, [t[0] for t in moved], x, y, points=11, aligned=True)
    np.testing.assert_allclose(aligned.loss, plain.loss[0], rtol=1e-12)  # aligned: the same point all along
    assert plain.loss.max() > plain.loss[0] * (1 + 1e-6)  # unaligned: a barrier between the copies


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"axes": [[0.0]]}, "[0.0]"),
        ({"directions": np.zeros((1, 5))}, "(1, 5)"),
        ({"axes": [[0.0, 1.0], [0.0, np.nan]]}, "nan"),
    ],
)
def test_slice_bad_input(demo, kwargs, needle) -> None:
    task, arch, teacher = demo
    args = {"directions": np.zeros((1, 12)), "axes": [[0.0, 1.0]]} | kwargs
    if len(args["axes"]) == 2 and "directions" not in kwargs:
        args["directions"] = np.zeros((2, 12))
    with pytest.raises(ConfigError, match=__import__("re").escape(needle)):
        loss_slice(arch, teacher, args["directions"], task.x_train, task.y_train, args["axes"])
    with pytest.raises(ConfigError, match="W0\\[9,9\\]"):
        coefficient_directions(arch, ["W0[9,9]"])


def test_slice_command_writes_the_figure_and_the_grid(tmp_path, capsys) -> None:
    import json

    from eqlandscape.cli import main

    out = tmp_path / "slice"
    argv = ["slice", "S3", "--points", "21", "--n-train", "64", "--out", str(out), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels"] == ["W0[0,0]", "W0[0,1]"] and summary["extent"] == [-1.5, 1.5, -1.5, 1.5]
    assert [b["equation"] for b in summary["barriers"]] == ["W0[0,0] = W0[0,1]"]
    grid = json.loads((out / "slice.json").read_text())
    assert np.asarray(grid["loss"]).shape == (21, 21) and min(map(min, grid["loss"])) == summary["min_loss"]
    assert (out / "slice.png").read_bytes()[:4] == b"\x89PNG"
    for bad, needle in (
        (["--points", "1"], "[-1.5]"),
        (["--coefficients", "W0[0,0]"], "W0[0,0]"),
        (["--low", "2"], "2.0"),
    ):
        assert main(["slice", "S3", "--out", str(tmp_path / "other"), *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0]
