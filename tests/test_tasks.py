"""Tests of eqlandscape.tasks: teacher-student data, the demo teacher, students that fit or not."""

from __future__ import annotations

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
