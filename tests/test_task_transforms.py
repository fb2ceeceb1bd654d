"""Task transforms: the train set closed under ``G`` and label noise.

Oracles: every transformed copy ``rho(g) x`` computed with the rep's matrices (``rep.matrix(g) @ x``),
the set's invariance under each generator checked by sorting rows, and the symmetry of free training
on a closed set (docs/design.md section 4, escaping) measured by the trainer's distance to ``E``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import EquivariantMLP
from eqlandscape.reps import natural, parse_rep, trivial
from eqlandscape.tasks import TeacherStudentTask, demo_task, digits_task, teacher_student
from eqlandscape.tasks.transforms import SYMMETRIZE_LIMIT, symmetrize, with_label_noise
from eqlandscape.train import TrainConfig, train

GROUPS = ["C2", "C3", "C4", "K4", "S3", "D4", "A4", "C5", "S3xC2"]


@st.composite
def tasks(draw: st.DrawFn) -> TeacherStudentTask:
    """A random teacher ``natural -> hidden -> out`` over a catalog group, and a few samples."""
    G = group_from_name(draw(st.sampled_from(GROUPS)))
    hidden = draw(st.sampled_from(["natural", "regular", "2*trivial + natural"]))
    out = draw(st.sampled_from(["trivial", "natural"]))
    reps = (natural(G), parse_rep(G, hidden), parse_rep(G, out))
    teacher = EquivariantMLP(reps, seed=draw(st.integers(0, 100)), dtype=torch.float64)
    return teacher_student(teacher, draw(st.integers(1, 6)), 2, seed=draw(st.integers(0, 100)))


def sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


@settings(max_examples=30, deadline=None)
@given(task=tasks())
def test_every_copy_is_present_and_the_set_is_invariant(task) -> None:
    closed = symmetrize(task)
    G = task.rep_in.group
    n = task.x_train.shape[0]
    x, y = closed.x_train.numpy(), closed.y_train.numpy()
    assert x.shape == (G.order * n, task.rep_in.size) and y.shape == (G.order * n, task.rep_out.size)
    x0, y0 = task.x_train.numpy(), task.y_train.numpy()
    for g in range(G.order):  # row g n + b is (rho_in(g) x_b, rho_out(g) y_b), by the matrices
        np.testing.assert_array_equal(x[g * n : (g + 1) * n], x0 @ task.rep_in.matrix(g).T)
        np.testing.assert_array_equal(y[g * n : (g + 1) * n], y0 @ task.rep_out.matrix(g).T)
    joint = np.concatenate([x, y], axis=1)
    for k in range(len(task.rep_in.generator_images)):
        P_in = np.eye(task.rep_in.size)[:, np.argsort(task.rep_in.generator_images[k])].T
        P_out = np.eye(task.rep_out.size)[:, np.argsort(task.rep_out.generator_images[k])].T
        moved = np.concatenate([x @ P_in.T, y @ P_out.T], axis=1)
        np.testing.assert_array_equal(sorted_rows(moved), sorted_rows(joint), err_msg=f"generator {k}")
    # the test set and everything else are kept
    assert torch.equal(closed.x_test, task.x_test) and torch.equal(closed.y_test, task.y_test)


def test_generator_matrix_convention() -> None:
    """The generator matrices of the invariance test are ``rho(g)[p[i], i] = 1``, the rep's own
    :meth:`matrix` of each generator."""
    G = group_from_name("S3")
    V = natural(G)
    for k, p in enumerate(V.generator_images):
        P = np.eye(3)[:, np.argsort(p)].T
        expected = np.zeros((3, 3))
        expected[p, np.arange(3)] = 1
        np.testing.assert_array_equal(P, expected)
        np.testing.assert_array_equal(V.matrix(G.generators[k]), expected)


def test_kind_description_and_training_are_kept() -> None:
    task = demo_task(8, 4, seed=2)
    closed = with_label_noise(symmetrize(task), 0.1, seed=5)
    assert isinstance(closed, TeacherStudentTask) and closed.teacher is task.teacher
    d = closed.describe()
    assert d["n_train"] == 48 and d["teacher_tensors"] == task.describe()["teacher_tensors"]
    assert d["transforms"] == [
        {"transform": "symmetrize", "group_order": 6, "n_train_before": 8},
        {"transform": "label_noise", "sigma": 0.1, "seed": 5},
    ]
    assert "transforms" not in task.describe()
    result = train(closed, TrainConfig(strategy="free", n_models=2, steps=3))  # the teacher's student by default
    assert result.task["transforms"][0]["transform"] == "symmetrize"
    data = digits_task("C4")
    closed_digits = symmetrize(dataclasses.replace(data, x_train=data.x_train[:10], y_train=data.y_train[:10]))
    assert closed_digits.x_train.shape == (40, 64) and closed_digits.describe()["task"] == "digits"
    # the rotation moves the pixels of an image as numpy's rot90 does
    image = data.x_train[3].reshape(8, 8).numpy()
    rotated = closed_digits.x_train[10 + 3].reshape(8, 8).numpy()
    assert any(np.array_equal(rotated, np.rot90(image, k)) for k in (1, 3))


def test_symmetrize_refuses_too_many_samples_naming_the_order() -> None:
    G = group_from_name("S10")
    teacher = EquivariantMLP((natural(G), natural(G), trivial(G)), dtype=torch.float64)
    task = teacher_student(teacher, 2, 1)
    assert G.order * 2 > SYMMETRIZE_LIMIT
    with pytest.raises(ConfigError, match=r"\|G\| = 3628800 .*limit 1048576"):
        symmetrize(task)


def test_label_noise_is_seeded_gaussian_on_train_labels_only() -> None:
    task = demo_task(4000, 16, seed=1)
    noisy = with_label_noise(task, 0.3, seed=7)
    assert torch.equal(noisy.x_train, task.x_train) and torch.equal(noisy.y_test, task.y_test)
    residual = (noisy.y_train - task.y_train).numpy().ravel()
    assert abs(residual.std() - 0.3) < 0.02 and abs(residual.mean()) < 0.02
    assert torch.equal(with_label_noise(task, 0.3, seed=7).y_train, noisy.y_train)
    assert not torch.equal(with_label_noise(task, 0.3, seed=8).y_train, noisy.y_train)
    assert torch.equal(with_label_noise(task, 0.0, seed=7).y_train, task.y_train)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"sigma": -1.0}, "sigma=-1.0"), ({"sigma": float("nan")}, "sigma=nan"), ({"sigma": 0.1, "seed": -2}, "seed=-2")],
)
def test_label_noise_bad_input(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        with_label_noise(demo_task(4, 4), **kwargs)


def test_label_noise_refuses_classification() -> None:
    with pytest.raises(ConfigError, match="cross_entropy"):
        with_label_noise(digits_task("C4"), 0.1)


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.05), ("adam", 0.01)])
def test_free_training_from_E_on_a_closed_set_stays_in_E(optimizer, lr) -> None:
    """docs/design.md section 4: on a train set closed under G, free SGD and Adam started in E stay in E
    (float64, 1,000 steps, the demo problem); on the finite sample they leave it (those that do not die).
    (Rounding is a source too: with the hidden rep ``regular`` of S3, Adam moved one student in 16 to a
    distance of 1e-6 in our runs, SGD none.)"""
    task = demo_task(32, 16, seed=4)
    config = TrainConfig(
        strategy="free", optimizer={"name": optimizer, "lr": lr}, n_models=8, steps=1000, dtype="float64"
    )
    closed = train(symmetrize(task), config)
    assert (closed.table["dist_to_E"] < 1e-10).all()
    assert (closed.table["equiv_error"] < 1e-10).all()
    sample = train(task, config)
    assert sample.table["dist_to_E"].max() > 1e-3  # the finite sample breaks the symmetry
