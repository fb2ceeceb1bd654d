"""An activation registered without a hand-written backward trains through the functional core
(eqlandscape.train.trainer, autograd one model at a time): the same trajectory as a plain autograd
loop, the same per-seed determinism, and constrained students stay in E."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS, Backprop, register_activation
from eqlandscape.reps import parse_rep_chain
from eqlandscape.tasks import teacher_student
from eqlandscape.train import TrainConfig, train


@pytest.fixture
def softplus():
    register_activation("softplus_test", torch.nn.functional.softplus)
    yield "softplus_test"
    del ACTIVATION_FUNCTIONS["softplus_test"]


def _task():
    teacher = EquivariantMLP(parse_rep_chain("S3", "natural -> 2*natural -> trivial"), "tanh", True, seed=1)
    return teacher_student(teacher, n_train=40, n_test=20, seed=2)


def _config(strategy="free", **kw):
    options = dict(optimizer={"name": "sgd", "lr": 0.05}, steps=15, record_every=5, dtype="float64", n_models=3)
    return TrainConfig(strategy=strategy, **{**options, **kw})


def test_matches_a_plain_autograd_loop(softplus) -> None:
    task = _task()
    arch = MLPArchitecture(task.arch.reps, softplus, True)
    result = train(task, _config(), arch)
    with pytest.raises(ValueError, match="hand-written backward"):
        Backprop([torch.zeros(1, 2, 3)], None, [torch.zeros(1, 2, 3)], None, softplus, 4)
    x, y = task.x_train, task.y_train
    for k in range(3):
        pairs = zip(result.initial_weights, result.initial_biases, strict=True)
        tensors = [torch.tensor(t[k], requires_grad=True) for pair in pairs for t in pair]
        for _ in range(15):
            h = x
            for layer in range(arch.n_layers):
                W, b = tensors[2 * layer], tensors[2 * layer + 1]
                h = h @ W.T + b
                h = torch.nn.functional.softplus(h) if layer < arch.n_layers - 1 else h
            loss = ((h - y) ** 2).mean()
            grads = torch.autograd.grad(loss, tensors)
            with torch.no_grad():
                for t, g in zip(tensors, grads, strict=True):
                    t -= 0.05 * g
        for mine, theirs in zip(result.final_weights + result.final_biases, tensors[::2] + tensors[1::2], strict=True):
            np.testing.assert_allclose(mine[k], theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("strategy", ["free", "constrained"])
def test_a_student_depends_on_its_seed_only(softplus, strategy) -> None:
    task = _task()
    arch = MLPArchitecture(task.arch.reps, softplus, True)
    batch = train(task, _config(strategy, first_seed=10), arch)
    alone = train(task, _config(strategy, first_seed=11, n_models=1), arch)
    for whole, one in zip(
        batch.final_weights + batch.final_biases, alone.final_weights + alone.final_biases, strict=True
    ):
        assert np.array_equal(whole[1], one[0])
    if strategy == "constrained":
        assert (batch.table["dist_to_E"] < 1e-12).all()
