"""Training on any task of the protocol :class:`eqlandscape.tasks.Task`: the losses of the kernel
(``mse``, ``bce``, ``cross_entropy``) against ``torch.nn.functional`` and autograd, a classification run
that fits a small train set, and ``eqlandscape train --task graphs|digits`` on the command line."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from eqlandscape.cli import main
from eqlandscape.errors import ConfigError
from eqlandscape.nn import MLPArchitecture
from eqlandscape.nn.functional import (
    Workspace,
    as_samples_last,
    loss_and_accuracy_t,
    loss_t,
    mlp_loss_and_grad,
)
from eqlandscape.reps import natural, regular, trivial
from eqlandscape.tasks import digits_task, graph_task
from eqlandscape.train import TrainConfig, train

REFERENCE = {
    "mse": lambda f, y: F.mse_loss(f, y),
    "bce": lambda f, y: F.binary_cross_entropy_with_logits(f, y),
    "cross_entropy": lambda f, y: F.cross_entropy(f, y),  # y: class probabilities
}


def _labels(loss: str, B: int, n: int, gen: torch.Generator) -> torch.Tensor:
    if loss == "bce":
        return (torch.rand(B, n, generator=gen) > 0.5).double()
    if loss == "cross_entropy":
        return F.one_hot(torch.randint(0, n, (B,), generator=gen), n).double()
    return torch.randn(B, n, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize(("loss", "n_out"), [("mse", 2), ("bce", 1), ("bce", 3), ("cross_entropy", 4)])
@pytest.mark.parametrize("scale", [1.0, 40.0])  # large logits: the stable forms do not overflow
def test_losses_equal_torch_and_gradients_equal_autograd(loss, n_out, scale) -> None:
    gen = torch.Generator().manual_seed(3)
    K, B = 5, 37
    weights = [
        torch.randn(K, 6, 3, generator=gen, dtype=torch.float64),
        scale * torch.randn(K, n_out, 6, generator=gen, dtype=torch.float64),
    ]
    biases = [
        torch.randn(K, 6, generator=gen, dtype=torch.float64),
        torch.randn(K, n_out, generator=gen, dtype=torch.float64),
    ]
    x = torch.randn(B, 3, generator=gen, dtype=torch.float64)
    y = _labels(loss, B, n_out, gen)
    value, grad_w, grad_b = mlp_loss_and_grad(weights, biases, x, y, "tanh", loss=loss)
    params = [t.clone().requires_grad_(True) for t in weights + biases]
    W0, W1, b0, b1 = params
    h = torch.tanh(torch.einsum("koi,bi->kbo", W0, x) + b0[:, None])
    f = torch.einsum("koi,kbi->kbo", W1, h) + b1[:, None]
    reference = torch.stack([REFERENCE[loss](f[k], y) for k in range(K)])
    assert torch.isfinite(value).all()
    torch.testing.assert_close(value, reference.detach(), rtol=1e-12, atol=1e-12)
    reference.sum().backward()
    assert grad_b is not None
    for mine, p in zip(grad_w + grad_b, params, strict=True):
        torch.testing.assert_close(mine, p.grad, rtol=1e-10, atol=1e-12)
    xt, yt = as_samples_last(x), as_samples_last(y)
    for ws in (None, Workspace()):
        assert torch.equal(loss_t(weights, biases, xt, yt, "tanh", ws, loss=loss), value)
    if loss != "mse":
        same, accuracy = loss_and_accuracy_t(weights, biases, xt, yt, "tanh", Workspace(), loss)
        assert torch.equal(same, value)
        if loss == "bce":
            expected = ((f.detach() > 0) == (y > 0.5)).double().mean(dim=(1, 2))
        else:
            expected = (f.detach().argmax(-1) == y.argmax(-1)).double().mean(-1)
        torch.testing.assert_close(accuracy, expected)


def test_unknown_loss_is_refused() -> None:
    w = [torch.randn(2, 1, 3)]
    with pytest.raises(ValueError, match="hinge"):
        mlp_loss_and_grad(w, None, torch.randn(4, 3), torch.randn(4, 1), "relu", loss="hinge")


def test_a_classifier_fits_forty_digits() -> None:
    task = digits_task("C4")
    small = replace(task, x_train=task.x_train[:40], y_train=task.y_train[:40])
    G = task.group
    student = MLPArchitecture((natural(G), 4 * regular(G), trivial(G, 10)))
    config = TrainConfig(
        strategy="free", optimizer={"name": "adam", "lr": 0.02}, n_models=4, steps=300, record_every=50
    )
    result = train(small, config, student)
    table = result.table
    assert (table["train_accuracy"] == 1.0).all()
    assert (table["test_accuracy"] > 0.5).all() and (table["train_loss"] < 0.01).all()
    assert result.curves("test_accuracy").shape == (4, 7)
    assert result.task["task"] == "digits"
    # success for classification: test accuracy at least 1 - success_tol
    loose = train(small, config.model_copy(update={"success_tol": 0.5}), student)
    assert loose.table["success"].to_numpy().tolist() == (loose.table["test_accuracy"] >= 0.5).tolist()


def test_a_data_task_needs_a_fitting_student() -> None:
    task = graph_task(40, (2, 2))
    config = TrainConfig(strategy="free", steps=2)
    with pytest.raises(ConfigError, match="graphs task has no default student"):
        train(task, config)
    G = task.rep_in.group
    with pytest.raises(ConfigError, match="input rep"):
        train(task, config, MLPArchitecture((natural(G), natural(G), trivial(G))))
    result = train(
        task, config.model_copy(update={"n_models": 2}), MLPArchitecture((task.rep_in, natural(G), trivial(G)))
    )
    assert {"train_accuracy", "test_accuracy"} <= set(result.table.columns)


def _train_json(capsys, *argv: str) -> dict:
    assert main(["train", *argv, "--students", "2", "--steps", "4", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_graphs_and_digits_train_from_the_command_line(capsys) -> None:
    graphs = _train_json(
        capsys, "S6", "--task", "graphs", "--count", "50", "--strategy", "free", "--train-fraction", "0.6"
    )
    assert graphs["task"]["task"] == "graphs" and graphs["task"]["n_train"] == 30
    assert graphs["student"]["reps"] == ["natural^2", "32*natural^2", "64*trivial", "32*trivial", "trivial"]
    digits = _train_json(capsys, "D4", "--task", "digits", "--student", "natural -> 2*regular -> 10*trivial")
    for run in (graphs, digits):
        assert len(run["students"]) == 2
        for s in run["students"]:
            assert 0 <= s["train_accuracy"] <= 1 and 0 <= s["test_accuracy"] <= 1
    assert digits["task"]["task"] == "digits"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["S3", "--task", "foo"], "foo"),
        (["S3xC2", "--task", "graphs"], "S3xC2"),
        (["A4", "--task", "digits"], "A4"),
        (["C4", "--task", "digits", "--noise", "0.1"], "--noise"),
        (["C4", "--task", "digits", "--teacher-seed", "3"], "--teacher-seed"),
        (["C4", "--task", "digits", "--count", "30"], "--count"),
        (["S3", "--count", "30"], "--count"),
        (["S3", "--train-fraction", "0.5"], "--train-fraction"),
        (["S4", "--task", "graphs", "--train-fraction", "1.5"], "1.5"),
    ],
)
def test_bad_task_options_exit_2_with_one_line(capsys, argv, named) -> None:
    assert main(["train", *argv, "--students", "1", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err, err


def test_constrained_training_of_the_graph_network_of_s10() -> None:
    """The graphs task's network on ``S_10`` in orthonormal coordinates of ``E`` (its layers' dense
    ``phi`` would hold 154 and 839 million floats; the gather form needs none): it trains and stays
    in ``E``, and its function is invariant under the generators."""
    task = graph_task(20)
    student = MLPArchitecture(task.architecture_reps())
    config = TrainConfig(strategy={"name": "constrained", "parametrization": "orthonormal"}, steps=2, dtype="float64")
    result = train(task, config, student)
    row = result.table.iloc[0]
    assert row["parametrization"] == "orthonormal" and row["steps_taken"] == 2
    assert row["dist_to_E"] < 1e-12 and row["equiv_error"] < 1e-12
    assert result.curves("train_loss").shape == (1, 2) and torch.isfinite(torch.as_tensor(row["train_loss"]))
