"""Per-seed determinism of the ensemble trainer: a student's trajectory is a function of its seed,
the config and the data only, bit for bit, whatever the number of other students, their order,
the chunk size and the number of threads, and when restarted from its recorded initial weights.

Compared bit for bit (the bytes of the arrays): initial and final weights, every recorded curve,
the flags and the output RMS of seeds 0..9, trained alone, inside a run of 512 students, in reverse
order, with chunk sizes 1, 7 and the default, with 1 and 2 threads, and restarted from the
recorded initial weights. The kernels are checked row by row as well: a model's numbers must not
depend on how many models share the batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from eqlandscape.equivariant import equivariant_basis
from eqlandscape.groups import group_from_name
from eqlandscape.nn import KINDS, MLPArchitecture, make_parametrization
from eqlandscape.nn.functional import loss_and_grad_t, loss_t
from eqlandscape.reps import natural, regular
from eqlandscape.tasks import demo_task, teacher_student
from eqlandscape.train import TrainConfig, train
from eqlandscape.train.results import CURVES
from eqlandscape.train.trainer import _train

SEEDS = np.arange(10)
STRATEGIES = {
    "orthonormal": {"name": "constrained", "parametrization": "orthonormal"},
    "orbit": {"name": "constrained", "parametrization": "orbit"},
    "projected": {"name": "constrained", "parametrization": "projected"},
    "free": "free",
    "augmented": "augmented",
    "augmented-sampled": {"name": "augmented", "samples": 2},
    "augmented-random": {"name": "augmented", "basis": "random"},
    "relaxed": {"name": "relaxed", "switch_step": 12},
    "penalty": {"name": "penalty", "gamma": 0.5},
    "relaxed-keep": {"name": "relaxed", "switch_step": 12, "optimizer_state": "keep"},
    "ace": {"name": "ace", "dual_lr": 0.3},
    "ace-resilient": {"name": "ace-resilient", "dual_optimizer": "adam", "dual_lr": 0.05, "rho": 2.0},
    "rpp": {"name": "rpp", "prior_eq": 0.01, "prior_free": 0.1},
    "scheduled": {"name": "scheduled", "theta_schedule": "triangular", "theta_steps": 20},
}
OPTIMIZERS = {"sgd": {"name": "sgd", "lr": 0.05, "momentum": 0.5}, "adam": {"name": "adam", "lr": 0.02}}


@pytest.fixture(scope="module")
def task():
    return demo_task(n_train=100, n_test=40)  # 100 samples: not a multiple of the vector width


@contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _students(result, rows: np.ndarray | slice) -> dict[str, np.ndarray]:
    """Everything the run recorded about the students ``rows``."""
    table = result.table
    out = {f"initial/{t}": w[rows] for t, w in enumerate(result.initial_weights)}
    out.update({f"final/{t}": w[rows] for t, w in enumerate(result.final_weights)})
    if result.final_biases is not None:
        out.update({f"final_bias/{t}": b[rows] for t, b in enumerate(result.final_biases)})
    curves = [c.removesuffix("_curve") for c in table.columns if c.endswith("_curve")]  # the strategy's too
    assert set(CURVES) <= set(curves)
    out.update({name: result.curves(name)[rows] for name in curves})
    out.update({name: table[name].to_numpy()[rows] for name in ("converged", "diverged", "steps_taken", "output_rms")})
    out["seed"] = table.seed.to_numpy()[rows]
    if result.weight_trajectories is not None:
        out.update({f"trajectory/{t}": w[rows] for t, w in enumerate(result.weight_trajectories)})
    return out


def _assert_bitwise(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], what: str) -> None:
    for name, want in expected.items():
        have = got[name]
        assert have.dtype == want.dtype and have.shape == want.shape, (what, name)
        assert np.ascontiguousarray(have).tobytes() == np.ascontiguousarray(want).tobytes(), (
            f"{what}: {name} differs for students {np.flatnonzero((have != want).reshape(len(have), -1).any(1))}"
        )


def _alone(task, config: TrainConfig, student=None, initial=None) -> dict[str, np.ndarray]:
    """Seeds 0..9 each trained in a run of its own, stacked."""
    parts = []
    for seed in SEEDS:
        own = [t[seed : seed + 1] for t in initial] if initial is not None else None
        one = config.model_copy(update={"n_models": 1, "first_seed": int(seed)})
        parts.append(_students(train(task, one, student, initial=own), slice(0, 1)))
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _check_everything(task, config: TrainConfig, student=None, large: int = 512) -> None:
    """Seeds 0..9: alone, in a run of ``large`` students, reversed, chunk sizes 1, 7 and the
    default with 1 and 2 threads, and restarted from the recorded initial weights (in the run of
    ``large``): all bitwise identical."""
    ten = config.model_copy(update={"n_models": 10, "first_seed": 0})
    reference = _students(train(task, ten, student), slice(None))
    _assert_bitwise(_alone(task, ten, student), reference, "alone")
    many = train(task, config.model_copy(update={"n_models": large}), student)
    _assert_bitwise(_students(many, slice(0, 10)), reference, f"in a run of {large}")
    reverse = _train(task, ten, student, None, SEEDS[::-1])
    _assert_bitwise(_students(reverse, slice(None, None, -1)), reference, "reverse order")
    for chunk in (1, 7, None):
        for threads in (1, 2):
            with _threads(threads):
                run = train(task, ten.model_copy(update={"chunk_size": chunk}), student)
            _assert_bitwise(_students(run, slice(None)), reference, f"chunk size {chunk}, {threads} threads")
    initial = (student or task.arch).join(many.initial_weights, many.initial_biases)
    restarted = train(task, config.model_copy(update={"n_models": large}), student, initial=initial)
    _assert_bitwise(_students(restarted, slice(0, 10)), reference, "restarted from the recorded initial weights")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_student_depends_on_its_seed_only(task, strategy, optimizer, dtype) -> None:
    config = TrainConfig(
        strategy=STRATEGIES[strategy],
        optimizer=OPTIMIZERS[optimizer],
        steps=24,
        record_every=5,
        dtype=dtype,
        batch_size=32 if strategy in ("free", "augmented-sampled") else None,
    )
    _check_everything(task, config)


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_smooth_activations_with_biases_and_minibatches(activation) -> None:
    """``tanh`` and ``gelu`` kernels differ between their vectorized body and scalar tail: every
    row of samples must take the same path."""
    G = group_from_name("S3")
    task = teacher_student(demo_task().teacher, 90, 30, seed=1)
    student = MLPArchitecture((natural(G), regular(G), natural(G), task.arch.rep_out), activation, True)
    for strategy in ("free", {"name": "constrained", "parametrization": "orthonormal"}):
        config = TrainConfig(
            strategy=strategy, optimizer="adam", steps=12, record_every=4, dtype="float64", batch_size=30
        )
        _check_everything(task, config, student)


@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classification_losses_depend_on_the_seed_only(loss, dtype) -> None:
    """The ``bce`` and ``cross_entropy`` kernels (``exp``, ``log1p``, ``log``: non-exact) and the
    accuracy: bitwise alone, in a larger run, reversed, by chunk size and thread count, restarted."""
    from dataclasses import replace

    from eqlandscape.tasks import digits_task, graph_task

    if loss == "bce":
        task = graph_task(125, (2, 3))  # 100 train graphs: not a multiple of the vector width
        G = task.rep_in.group
        student = MLPArchitecture((task.rep_in, natural(G), task.rep_out), "tanh", True)
    else:
        digits = digits_task("C4")
        task = replace(
            digits,
            x_train=digits.x_train[:90],
            y_train=digits.y_train[:90],
            x_test=digits.x_test[:30],
            y_test=digits.y_test[:30],
        )
        G = task.group
        student = MLPArchitecture((task.rep_in, regular(G), task.rep_out), "gelu", True)
    for strategy in ("free", "constrained"):
        config = TrainConfig(
            strategy=strategy,
            optimizer="adam",
            steps=12,
            record_every=4,
            dtype=dtype,
            batch_size=30 if strategy == "free" else None,
        )
        _check_everything(task, config, student, large=64)
        result = train(task, config.model_copy(update={"n_models": 3}), student)
        assert result.curves("train_accuracy").shape == result.curves("train_loss").shape
        acc = result.curves("test_accuracy")
        np.testing.assert_array_equal(acc[:, -1], result.table["test_accuracy"].to_numpy())  # ends at the column


@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("samples", [64, 100])
@pytest.mark.parametrize("shared", [True, False])
def test_classification_loss_rows_do_not_depend_on_the_batch(loss, dtype, samples, shared) -> None:
    gen = torch.Generator().manual_seed(0)
    K = 70
    widths = (3, 12, 4)

    weights = [torch.randn(K, o, i, generator=gen, dtype=dtype) * 3 for i, o in itertools.pairwise(widths)]
    biases = [torch.randn(K, o, generator=gen, dtype=dtype) for o in widths[1:]]
    x = torch.randn(*(() if shared else (K,)), 3, samples, generator=gen, dtype=dtype)
    if loss == "bce":
        y = (torch.rand(*x.shape[:-2], 4, samples, generator=gen) > 0.5).to(dtype)
    else:
        y = torch.nn.functional.one_hot(torch.randint(0, 4, (*x.shape[:-2], samples), generator=gen), 4)
        y = y.transpose(-1, -2).to(dtype).contiguous()

    def f(*tensors: torch.Tensor) -> torch.Tensor:
        ws, bs = list(tensors[:2]), list(tensors[2:4])
        xt, yt = (x, y) if shared else tensors[4:]
        value, gw, gb = loss_and_grad_t(ws, bs, xt, yt, "tanh", loss=loss)
        assert gb is not None
        parts = [value[:, None], loss_t(ws, bs, xt, yt, "tanh", loss=loss)[:, None], *(g.flatten(1) for g in gw + gb)]
        return torch.cat(parts, dim=1)

    batch = weights + biases + ([] if shared else [x, y])
    with _threads(1):
        _rowwise(f, batch)


@pytest.mark.parametrize(
    ("strategy", "optimizer", "loss_tol", "student", "scale"),
    [
        # student 3's loss overflows at once
        ("constrained", {"name": "adam", "lr": 0.1}, 0.05, 3, 1e20),
        # student 5's first update overflows (undone); the others stop before and after the switch
        ({"name": "relaxed", "switch_step": 30}, {"name": "sgd", "lr": 0.05, "momentum": 0.9}, 0.01, 5, 1e9),
        # per-model dual state: a stopped student's lambda stays as it was
        ({"name": "ace-resilient", "dual_optimizer": "adam"}, {"name": "adam", "lr": 0.05}, 0.1, 2, 1e20),
    ],
)
def test_stopped_students_do_not_change_the_others(task, strategy, optimizer, loss_tol, student, scale) -> None:
    """Students that converge (``loss_tol``) or diverge at different steps: their records, and the
    others', do not depend on who shares their chunk or on whether the chunk stops early."""
    config = TrainConfig(strategy=strategy, optimizer=optimizer, steps=60, record_every=7, loss_tol=loss_tol)
    initial = [t.copy() for t in task.arch.init_full(np.arange(64))]
    for t in initial:
        t[student] *= scale
    ten = config.model_copy(update={"n_models": 10})
    reference = _students(train(task, ten, initial=[t[:10] for t in initial]), slice(None))
    converged = reference["converged"]
    assert reference["diverged"][student] and np.isfinite(reference["final/0"]).all()
    assert converged.any() and not converged.all() and len(set(reference["steps_taken"][converged])) > 1
    _assert_bitwise(_alone(task, config, initial=initial), reference, "alone")
    many = train(task, config.model_copy(update={"n_models": 64}), initial=initial)
    _assert_bitwise(_students(many, slice(0, 10)), reference, "in a run of 64")
    for chunk in (1, 3):
        with _threads(1):
            run = train(task, ten.model_copy(update={"chunk_size": chunk}), initial=[t[:10] for t in initial])
        _assert_bitwise(_students(run, slice(None)), reference, f"chunk size {chunk}")


@pytest.mark.parametrize("strategy", ["constrained", "relaxed", {"name": "augmented", "basis": "random"}])
def test_restarting_from_the_recorded_initial_weights_reproduces_the_run(task, strategy) -> None:
    """Free initial weights are projected onto the starting space once; the recorded (projected)
    ones are kept as they are, so the restart is the same run, trajectories included."""
    config = TrainConfig(
        strategy=strategy, optimizer="adam", n_models=6, steps=20, record_every=1, init="free", record_weights=True
    )
    first = train(task, config)
    again = train(task, config, initial=task.arch.join(first.initial_weights, first.initial_biases))
    _assert_bitwise(_students(again, slice(None)), _students(first, slice(None)), "restart")


def test_the_thread_count_is_restored(task) -> None:
    with _threads(2):
        train(task, TrainConfig(strategy="free", n_models=3, steps=2))
        assert torch.get_num_threads() == 2


# ---------------------------------------------------------------------- the kernels, row by row
def _rowwise(f, batch: list[torch.Tensor]) -> None:
    """``f`` on the first ``K`` rows of ``batch``, for several ``K``: row ``k`` never changes."""
    full = f(*batch)
    for K in (1, 2, 7, 33):
        part = f(*[t[:K].clone() for t in batch])
        assert torch.equal(part, full[:K]), K
    one = torch.cat([f(*[t[k : k + 1].clone() for t in batch]) for k in range(5)])
    assert torch.equal(one, full[:5])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("samples", [64, 100])
@pytest.mark.parametrize("shared", [True, False])
def test_loss_and_gradient_rows_do_not_depend_on_the_batch(dtype, activation, samples, shared) -> None:
    gen = torch.Generator().manual_seed(0)
    K = 70
    widths = (3, 12, 5, 2)  # a wide layer (12 inputs) takes the per-input path of the weight gradient

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=dtype)

    weights = [randn(K, o, i) for i, o in itertools.pairwise(widths)]
    biases = [randn(K, o) for o in widths[1:]]
    x = randn(3, samples) if shared else randn(K, 3, samples)
    y = randn(2, samples) if shared else randn(K, 2, samples)

    def f(*tensors: torch.Tensor) -> torch.Tensor:
        ws, bs = list(tensors[:3]), list(tensors[3:6])
        xt, yt = (x, y) if shared else tensors[6:]
        loss, gw, gb = loss_and_grad_t(ws, bs, xt, yt, activation)
        assert gb is not None
        parts = [loss[:, None], loss_t(ws, bs, xt, yt, activation)[:, None], *(g.flatten(1) for g in gw + gb)]
        return torch.cat(parts, dim=1)

    batch = weights + biases + ([] if shared else [x, y])
    with _threads(1):
        _rowwise(f, batch)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_parametrization_rows_do_not_depend_on_the_batch(dtype, kind) -> None:
    G = group_from_name("S3")
    p = make_parametrization(kind, equivariant_basis(regular(G), natural(G)), basis_seed=2)
    gen = torch.Generator().manual_seed(1)
    theta = torch.randn(40, p.dim, generator=gen, dtype=dtype)
    full = torch.randn(40, *p.shape, generator=gen, dtype=dtype)
    with _threads(1):
        _rowwise(p.to_full, [theta])
        _rowwise(p.to_full, [theta, full])
        _rowwise(p.pullback, [full])
        _rowwise(p.from_full, [full])
        _rowwise(p.onto, [full])
    # onto keeps tensors of the space bit for bit and puts the others in it exactly
    inside = p.onto(full)
    assert p.contains(inside).all() if kind != "free" else p.contains(full).all()
    assert torch.equal(p.onto(inside), inside)
