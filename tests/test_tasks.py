"""Tests of eqlandscape.tasks: teacher-student data, the demo teacher, students that fit or not."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.reps import natural, regular, trivial
from eqlandscape.tasks import demo_task, plane_teacher, teacher_student
from eqlandscape.testing import assert_equivariant


def test_demo_teacher_and_labels() -> None:
    task = demo_task(n_train=64, n_test=32, seed=3)
    W0, w1 = task.teacher.weights()
    expected = np.eye(3) - 0.2 * (np.ones((3, 3)) - np.eye(3))
    assert np.allclose(W0.detach().numpy(), expected) and np.allclose(w1.detach().numpy(), 1)
    assert task.teacher.biases() is None and task.arch.activation == "relu"
    assert task.x_train.shape == (64, 3) and task.y_train.shape == (64, 1) and task.x_test.shape == (32, 3)
    with torch.no_grad():
        direct = torch.relu(task.x_test @ torch.as_tensor(expected).T).sum(1, keepdim=True)
    torch.testing.assert_close(task.y_test, direct)
    assert_equivariant(task.teacher, task.arch.rep_in, task.arch.rep_out, atol=1e-12)
    again = demo_task(n_train=64, n_test=32, seed=3)
    assert torch.equal(again.x_train, task.x_train) and torch.equal(again.y_test, task.y_test)
    assert not torch.equal(demo_task(n_train=64, n_test=32, seed=4).x_train, task.x_train)


def test_label_noise_only_on_train_labels_and_inputs_kept() -> None:
    teacher = plane_teacher(1.0, 0.5, group="S4")
    clean = teacher_student(teacher, 100, 50, seed=1)
    noisy = teacher_student(teacher, 100, 50, noise=0.1, seed=1, inputs="gaussian")
    assert torch.equal(clean.x_train, noisy.x_train) and torch.equal(clean.y_test, noisy.y_test)
    residual = (noisy.y_train - clean.y_train).numpy()
    assert 0.07 < residual.std() < 0.13
    uniform = teacher_student(teacher, 2000, 1, inputs="uniform")
    x = uniform.x_train.numpy()
    assert np.abs(x).max() <= np.sqrt(3) and abs(x.var() - 1) < 0.05
    assert noisy.describe()["noise"] == 0.1 and len(noisy.describe()["teacher_tensors"]) == 2


def test_random_teacher_and_a_student_with_another_hidden_rep() -> None:
    G = group_from_name("C4")
    teacher = EquivariantMLP((natural(G), natural(G), trivial(G)), seed=7)
    task = teacher_student(teacher, 16, 16)
    assert task.y_train.dtype == torch.float64 and task.y_train.shape == (16, 1)
    with torch.no_grad():  # the labels are the given teacher's outputs (float32 teacher, float64 data)
        torch.testing.assert_close(task.y_test, teacher(task.x_test.float()).double(), rtol=1e-5, atol=1e-6)
    student = MLPArchitecture((natural(G), regular(G), trivial(G)))
    task.check_student(student)  # fits: same input and output reps


def test_students_that_do_not_fit() -> None:
    task = demo_task(8, 8)
    G = group_from_name("S3")
    with pytest.raises(ConfigError, match=r"input rep 'regular'.*teacher's input rep 'natural'"):
        task.check_student(MLPArchitecture((regular(G), natural(G), trivial(G))))
    with pytest.raises(ConfigError, match=r"output rep 'natural'.*teacher's output rep 'trivial'"):
        task.check_student(MLPArchitecture((natural(G), natural(G), natural(G))))
    H = group_from_name("C3")
    with pytest.raises(ConfigError, match="of C3"):
        task.check_student(MLPArchitecture((natural(H), natural(H), trivial(H))))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_test": -1}, "n_test"),
        ({"noise": -0.5}, "noise"),
        ({"inputs": "cauchy"}, "'cauchy'"),
    ],
)
def test_bad_task_options(options: dict, match: str) -> None:
    args = {"n_train": 8, "n_test": 8, **options}
    with pytest.raises(ConfigError, match=match):
        teacher_student(plane_teacher(), args.pop("n_train"), args.pop("n_test"), **args)


# ---------------------------------------------------------------------- graphs and digits
def test_graph_labels_agree_with_scipy_connected_components() -> None:
    from scipy.sparse.csgraph import connected_components

    from eqlandscape.tasks import connected, sbm_graphs

    A = sbm_graphs(300, (3, 4, 5), 0.4, 0.08, seed=1)
    expected = np.array([connected_components(a, directed=False)[0] == 1 for a in A])
    np.testing.assert_array_equal(connected(A), expected)
    assert 0 < expected.mean() < 1
    assert (A == A.transpose(0, 2, 1)).all() and (np.diagonal(A, axis1=1, axis2=2) == 0).all()


def test_graph_task_is_invariant_under_node_relabelling() -> None:
    from eqlandscape.tasks import connected, graph_task

    task = graph_task(200, seed=3)
    rep = task.rep_in
    assert rep.size == 100 and task.rep_out.size == 1 and task.loss == "bce"
    A = task.x_train.numpy().reshape(-1, 10, 10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.permutation(10)
        moved = A[:, np.argsort(p)][:, :, np.argsort(p)]  # node i becomes node p[i]
        np.testing.assert_array_equal(connected(moved), task.y_train.numpy()[:, 0] > 0)
    # the flattened adjacency carries natural^2: relabelling by a generator is its image on pairs
    for g, img in zip(rep.group.generator_perms, rep.generator_images, strict=True):
        moved = np.empty_like(A.reshape(len(A), -1))
        moved[:, img] = A.reshape(len(A), -1)
        np.testing.assert_array_equal(moved.reshape(A.shape), A[:, np.argsort(g)][:, :, np.argsort(g)])


def test_digits_rotation_is_numpy_rot90_and_masks_are_compatible_or_not() -> None:
    from eqlandscape.equivariant import equivariant_basis, is_compatible
    from eqlandscape.reps import natural, regular
    from eqlandscape.tasks import digits_masks, digits_task, pixel_group

    image = np.zeros((8, 8))
    image[0, 1:4] = 1  # an asymmetric "7"
    image[1:7, 3] = 1
    image[2, 5] = 2
    C4 = pixel_group("C4")
    rot = C4.generator_perms[0]
    moved = np.empty(64)
    moved[rot] = image.reshape(-1)  # (rho(p) x)[p[i]] = x[i]
    np.testing.assert_array_equal(moved.reshape(8, 8), np.rot90(image))
    D4 = pixel_group("D4")
    assert (C4.order, D4.order) == (4, 8)
    task = digits_task("D4", seed=2)
    assert task.x_train.shape == (1438, 64) and task.y_train.shape == (1438, 10) and task.loss == "cross_entropy"
    assert float(task.x_train.max()) <= 1 and (task.y_train.sum(1) == 1).all()
    for G in (C4, D4):
        H = regular(G)
        masks = digits_masks(G, H)
        B = equivariant_basis(natural(G), H)
        assert is_compatible(B, masks["local"]) and not is_compatible(B, masks["skewed"])


@pytest.mark.parametrize(
    ("factory", "kwargs", "needle"),
    [
        ("graph_task", {"count": 0}, "0"),
        ("graph_task", {"count": 10, "p_in": 1.5}, "p_in=1.5"),
        ("graph_task", {"count": 10, "blocks": (0, 3)}, "(0, 3)"),
        ("digits_task", {"group": "C8"}, "C8"),
        ("digits_task", {"train_fraction": 1.0}, "1.0"),
        ("digits_task", {"train_fraction": 1e-5}, "train_fraction=1e-05 leave an empty train"),
        ("graph_task", {"count": 3, "train_fraction": 0.1}, "train_fraction=0.1 leave an empty train"),
    ],
)
def test_task_bad_input(factory, kwargs, needle) -> None:
    import eqlandscape.tasks

    with pytest.raises(ConfigError, match=re.escape(needle)):
        getattr(eqlandscape.tasks, factory)(**kwargs)
