"""Tests of eqlandscape.train: the ensemble trainer against single-model torch.optim runs, the
strategies (constrained, free, augmented, relaxed, penalty), masking of converged and diverged
models, reproducibility, the results and bad configurations.

The demo problem (docs/design.md section 4): ``S3``, ``natural -> natural -> trivial``, ReLU, no biases,
teacher ``W_0 = I - 0.2 (J - I)``, output weights 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import eqlandscape
from eqlandscape.equivariant import equivariant_basis, is_compatible
from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import Ensemble, EquivariantMLP, MLPArchitecture, rng
from eqlandscape.reps import natural, random_elements, regular, trivial
from eqlandscape.tasks import demo_task, teacher_student
from eqlandscape.train import (
    ScheduleConfig,
    TrainConfig,
    strategy_names,
    train,
)
from eqlandscape.train.config import strategy_config
from eqlandscape.train.metrics import EquivarianceProbe, distance_to_equivariant
from eqlandscape.train.strategies import build_strategy

F64 = torch.float64


@pytest.fixture(scope="module")
def task():
    return demo_task(n_train=128, n_test=128)


def _config(**options) -> TrainConfig:
    base = {"strategy": "constrained", "n_models": 4, "steps": 30, "record_every": 1, "dtype": "float64"}
    return TrainConfig(**{**base, **options})


# ---------------------------------------------------------------------- against torch.optim
def _reference(task, config: TrainConfig, kind: str, seed: int) -> list[list[torch.Tensor]]:
    """One ``torch.nn.Module`` trained with ``torch.optim`` the usual way; full tensors per step."""
    arch = task.arch
    model = EquivariantMLP(arch.reps, arch.activation, arch.bias, kind, seed=seed, dtype=F64)
    opt_cfg = config.optimizer
    if opt_cfg.name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=opt_cfg.lr, betas=opt_cfg.betas, eps=opt_cfg.eps)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=opt_cfg.lr, momentum=opt_cfg.momentum)
    n, size = task.x_train.shape[0], config.batch_size
    trajectory = []
    for step in range(config.steps + 1):
        trajectory.append([t.detach().clone() for t in model.full()])
        if step == config.steps:
            break
        x, y = task.x_train, task.y_train
        if size is not None:
            epoch, position = divmod(step, n // size)
            order = rng.permutations([seed], f"minibatch/{epoch}", n)[0][position * size : (position + 1) * size]
            x, y = x[order], y[order]
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return trajectory


@pytest.mark.parametrize(
    ("strategy", "kind", "optimizer", "batch_size"),
    [
        ({"name": "constrained", "parametrization": "orthonormal"}, "orthonormal", {"name": "sgd", "lr": 0.05}, None),
        ({"name": "constrained", "parametrization": "orbit"}, "orbit", {"name": "adam", "lr": 0.02}, None),
        ("free", "free", {"name": "sgd", "lr": 0.05, "momentum": 0.9}, None),
        ("free", "free", {"name": "adam", "lr": 0.02}, 32),
    ],
)
def test_ensemble_equals_separate_single_model_runs(task, strategy, kind, optimizer, batch_size) -> None:
    config = _config(
        strategy=strategy,
        optimizer=optimizer,
        batch_size=batch_size,
        n_models=5,
        first_seed=11,
        chunk_size=2,
        record_weights=True,
    )
    result = train(task, config)
    for k, seed in enumerate(config.seeds):
        reference = _reference(task, config, kind, int(seed))
        for step, tensors in enumerate(reference):
            for t, ref in enumerate(tensors):
                np.testing.assert_allclose(result.weight_trajectories[t][k, step], ref.numpy(), rtol=0, atol=1e-6)
    assert (result.table.steps_taken == config.steps).all()


def test_results_do_not_depend_on_chunking_or_threads(task) -> None:
    options = {"strategy": {"name": "augmented", "samples": 2}, "optimizer": "adam", "batch_size": 64, "n_models": 6}
    one = train(task, _config(**options, chunk_size=1, workers=1))
    many = train(task, _config(**options, chunk_size=4, workers=2))
    np.testing.assert_allclose(one.curves("train_loss"), many.curves("train_loss"), rtol=1e-10)
    np.testing.assert_allclose(one.final_weights[0], many.final_weights[0], rtol=1e-10, atol=1e-12)


def test_same_seed_gives_identical_numbers_twice(task) -> None:
    config = _config(strategy="free", optimizer="adam", dtype="float32", batch_size=32, n_models=6)
    a, b = train(task, config), train(task, config)
    for metric in ("train_loss", "test_loss", "grad_norm", "dist_to_E", "equiv_error"):
        assert np.array_equal(a.curves(metric), b.curves(metric))
    assert all(np.array_equal(x, y) for x, y in zip(a.final_weights, b.final_weights, strict=True))


# ---------------------------------------------------------------------- strategies
@pytest.mark.parametrize("kind", ["orbit", "orthonormal", "projected"])
def test_constrained_models_stay_exactly_equivariant(kind) -> None:
    G = group_from_name("S3")
    teacher = EquivariantMLP((natural(G), regular(G), natural(G)), "tanh", True, seed=1, dtype=F64)
    task = teacher_student(teacher, 64, 64)
    student = MLPArchitecture((natural(G), natural(G), regular(G), natural(G)), "gelu", True)
    result = train(
        task,
        _config(strategy={"name": "constrained", "parametrization": kind}, optimizer="adam", record_every=5),
        student,
    )
    assert result.curves("dist_to_E").max() < 1e-6
    assert result.curves("equiv_error").max() < 1e-6
    assert result.curves("train_loss")[:, -1].mean() < result.curves("train_loss")[:, 0].mean()


def test_relaxed_does_not_change_the_function_at_the_switch(task) -> None:
    switch = 10
    options = {"optimizer": "adam", "record_weights": True, "steps": 20}
    relaxed = train(task, _config(strategy={"name": "relaxed", "switch_step": switch}, **options))
    constrained = train(task, _config(strategy="constrained", **options))
    for t in range(2):  # identical weights up to and at the switch
        assert np.array_equal(
            relaxed.weight_trajectories[t][:, : switch + 1], constrained.weight_trajectories[t][:, : switch + 1]
        )
    assert np.array_equal(
        relaxed.curves("train_loss")[:, : switch + 1], constrained.curves("train_loss")[:, : switch + 1]
    )
    dist = relaxed.curves("dist_to_E")
    assert dist[:, switch].max() < 1e-12 and dist[:, -1].min() > 1e-4  # free from the switch on
    assert relaxed.ensemble.params[0].kind == "free"
    assert set(relaxed.table.parametrization) == {"orthonormal->free"}


def test_a_chunk_that_stops_before_the_switch_ends_in_the_last_phase(task) -> None:
    """Students started at the teacher (loss 0) stop at step 0, before the switch; their chunk ends
    free like the chunk that trains through the switch, and the ensemble holds both."""
    teacher = [t.detach().numpy() for t in task.teacher.full()]
    seeded = task.arch.init_full(np.arange(4))
    initial = [np.concatenate([np.stack([t, t]), s[2:]]) for t, s in zip(teacher, seeded, strict=True)]
    config = _config(strategy={"name": "relaxed", "switch_step": 5}, steps=10, chunk_size=2, loss_tol=1e-12)
    result = train(task, config, initial=initial)
    assert list(result.table.converged) == [True, True, False, False]
    assert [p.kind for p in result.ensemble.params] == ["free", "free"]
    np.testing.assert_allclose(result.ensemble.weights()[0][:2].numpy(), teacher[0][None].repeat(2, 0), atol=1e-12)
    np.testing.assert_allclose(result.ensemble.weights()[1].numpy(), result.final_weights[1])


def test_metrics_against_dense_matrices() -> None:
    """``dist_to_E`` against the Reynolds operator ``(1/|G|) sum_g rho_out(g)^T A rho_in(g)`` and the
    equivariance error against ``f(rho_in(g) X) - rho_out(g) f(X)`` of single modules: nonzero for
    free weights, zero for equivariant ones."""
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), regular(G), natural(G)), "tanh", True)
    probe = EquivarianceProbe(arch, F64, torch.device("cpu"))
    X = probe.inputs[:, : probe.count].T  # rows
    for init in ("free", "equivariant"):
        ensemble = Ensemble.init(arch, [0, 1, 2], "free", init=init)
        ensemble.coords[1] += 0.3  # biases too (the seeded ones are 0)
        full = ensemble.full()
        off = np.zeros(3)
        total = np.zeros(3)
        for t, tensor in enumerate(full):
            A = tensor.numpy()
            layer, is_bias = divmod(t, arch.per_layer)
            rho_out = arch.reps[layer + 1].matrices()
            if is_bias:
                P = np.einsum("gji,kj->ki", rho_out, A) / G.order
            else:
                P = np.einsum("gji,kjl,glm->kim", rho_out, A, arch.reps[layer].matrices()) / G.order
            off += ((A - P) ** 2).reshape(3, -1).sum(1)
            total += (A**2).reshape(3, -1).sum(1)
        np.testing.assert_allclose(distance_to_equivariant(arch, full).numpy(), np.sqrt(off / total), atol=1e-12)
        rho_in, rho_out = arch.rep_in.matrices(), arch.rep_out.matrices()
        expected = []
        for k in range(3):
            f = ensemble.module(k)
            with torch.no_grad():
                fx = f(X)
                gaps = [f(X @ torch.as_tensor(rho_in[g]).T) - fx @ torch.as_tensor(rho_out[g]).T for g in G.generators]
            expected.append(max(float(gap.norm()) for gap in gaps) / float(fx.norm()))
        got = probe.error(full).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
        assert (got > 0.05).all() if init == "free" else (got < 1e-12).all()


def test_augmented_exact_stays_in_E_with_an_orthonormal_basis(task) -> None:
    result = train(
        task,
        _config(strategy="augmented", optimizer={"name": "sgd", "lr": 0.05}, steps=100, record_every=10, n_models=8),
    )
    assert result.curves("dist_to_E").max() < 1e-6
    assert result.table.parametrization.iloc[0] == "free"


def test_augmented_leaves_E_with_a_random_basis(task) -> None:
    result = train(
        task,
        _config(
            strategy={"name": "augmented", "basis": "random"},
            optimizer={"name": "sgd", "lr": 0.05},
            steps=100,
            record_every=10,
            n_models=8,
        ),
    )
    dist = result.curves("dist_to_E")
    assert dist[:, 0].max() < 1e-12 and np.median(dist[:, -1]) > 1e-3


def test_augmented_with_masks_stays_in_E_only_when_compatible(task) -> None:
    """Start in ``E ∩ L`` (``W_0 = a I``, output weights 1): a diagonal mask is a union of orbits and
    keeps training in ``E``; dropping one off-diagonal entry is not, and training leaves ``E``."""
    basis = equivariant_basis(task.arch.reps[0], task.arch.reps[1])
    diagonal = np.eye(3, dtype=bool)
    skew = np.ones((3, 3), dtype=bool)
    skew[0, 1] = False
    assert is_compatible(basis, diagonal) and not is_compatible(basis, skew)
    K = 4
    initial = [np.stack([a * np.eye(3) for a in (0.5, 0.8, 1.2, 1.5)]), np.ones((K, 1, 3))]
    sgd = {"name": "sgd", "lr": 0.05}
    for mask, stays in ((diagonal, True), (skew, False)):
        strategy = {"name": "augmented", "masks": [mask.tolist(), None]}
        result = train(
            task, _config(strategy=strategy, optimizer=sgd, steps=100, record_every=10, n_models=K), initial=initial
        )
        dist = result.curves("dist_to_E")
        assert dist[:, 0].max() < 1e-12
        assert (dist.max() < 1e-6) == stays, dist[:, -1]
        assert not result.final_weights[0][:, ~mask].any()


@pytest.mark.parametrize("samples", [None, 3])
@pytest.mark.parametrize("per_model", [False, True])
def test_augmented_batches_are_transformed_copies(samples, per_model) -> None:
    """Each copy of the batch is ``(rho_in(g) x, rho_out(g) y)`` with the dense matrices ``rho(g)``."""
    G = group_from_name("D4")
    arch = MLPArchitecture((natural(G), regular(G), natural(G)))
    seeds = np.array([3, 8])
    strategy = build_strategy(strategy_config({"name": "augmented", "samples": samples}), arch, seeds)
    K, B = 2, 5
    xt = torch.randn(K, 4, B, dtype=F64) if per_model else torch.randn(4, B, dtype=F64)
    yt = xt.flip(-2)  # any targets in the output rep
    x_aug, y_aug = strategy.batch(xt, yt, step=7)
    if samples is None:
        elements = np.tile(np.arange(G.order), (K, 1))
    else:  # the elements of random_elements (images in the input rep, found among natural(G)'s)
        drawn = random_elements([natural(G)], seeds, "augment/7", samples)[0]
        index = {tuple(p): i for i, p in enumerate(natural(G).perms)}
        elements = np.array([[index[tuple(p)] for p in row] for row in drawn])
    rho = torch.as_tensor(natural(G).matrices())
    for k in range(K):
        xk, yk = (xt[k], yt[k]) if per_model else (xt, yt)
        got_x = x_aug[k] if per_model or samples is not None else x_aug
        got_y = y_aug[k] if per_model or samples is not None else y_aug
        for j, g in enumerate(elements[k]):
            torch.testing.assert_close(got_x[:, j * B : (j + 1) * B], rho[g] @ xk)
            torch.testing.assert_close(got_y[:, j * B : (j + 1) * B], rho[g] @ yk)


def test_penalty_pulls_towards_E(task) -> None:
    sgd = {"name": "sgd", "lr": 0.02}
    options = {"optimizer": sgd, "steps": 60, "record_every": 60, "n_models": 6, "init": "free"}
    weak = train(task, _config(strategy={"name": "penalty", "gamma": 0.0}, **options))
    strong = train(task, _config(strategy={"name": "penalty", "gamma": 20.0}, **options))
    assert (strong.curves("dist_to_E")[:, -1] < 0.1 * weak.curves("dist_to_E")[:, -1]).all()


def test_orthonormal_sgd_never_crosses_the_plane_but_orbit_sgd_does() -> None:
    """docs/design.md section 4: the plane ``a = b`` of ``E`` is invariant under the Euclidean gradient flow
    (``orthonormal`` coordinates), checked at every step of full-batch SGD for the students that stay
    away from the origin (students driven to ``W = 0`` may pass from one side to the other there, and
    end dead). With ``orbit`` coordinates (metric weighted by the orbit sizes 3 and 6) some students
    cross the plane far from the origin: with this setup 2 of the 64 students do."""
    task = demo_task()
    crossed = {}
    for kind in ("orthonormal", "orbit"):
        config = TrainConfig(
            strategy={"name": "constrained", "parametrization": kind},
            optimizer={"name": "sgd", "lr": 0.05},
            n_models=64,
            steps=1000,
            record_every=1,
            record_weights=True,
            dtype="float64",
        )
        W = train(task, config).weight_trajectories[0]  # (K, steps + 1, 3, 3)
        a = np.trace(W, axis1=-2, axis2=-1) / 3  # mean diagonal and off-diagonal entry: P_E W = a I + b (J - I)
        b = (W.sum(axis=(-2, -1)) - 3 * a) / 6
        away = np.sqrt(a**2 + 2 * b**2).min(axis=1) > 0.1  # |P_E W_0| = sqrt(3 a^2 + 6 b^2) / sqrt 3
        side = np.sign(a - b)
        crossed[kind] = int(((side[:, 1:] * side[:, :-1] <= 0).any(axis=1) & away).sum())
        assert away.sum() > 40
    assert crossed["orthonormal"] == 0
    assert crossed["orbit"] >= 1


# ---------------------------------------------------------------------- masking
def test_a_diverging_model_leaves_the_others_untouched(task) -> None:
    config = _config(strategy="free", optimizer={"name": "sgd", "lr": 0.05}, n_models=6, steps=20)
    initial = [t.copy() for t in task.arch.init_full(config.seeds)]
    clean = train(task, config, initial=initial)
    initial[0][3] *= 1e160  # model 3: its loss overflows to inf
    broken = train(task, config, initial=initial)
    row = broken.table.iloc[3]
    assert row.diverged and row.steps_taken == 0 and not row.success
    assert np.isfinite(broken.final_weights[0][3]).all()
    assert np.array_equal(broken.final_weights[0][3], initial[0][3])  # frozen at its last finite parameters
    others = [0, 1, 2, 4, 5]
    for metric in ("train_loss", "grad_norm", "dist_to_E"):
        assert np.array_equal(broken.curves(metric)[others], clean.curves(metric)[others])
    for t in range(2):
        assert np.array_equal(broken.final_weights[t][others], clean.final_weights[t][others])
    assert not broken.table.diverged.iloc[others].any()


def test_a_huge_step_diverges_and_freezes_before_the_overflow(task) -> None:
    """With a huge learning rate the update overflows; the model keeps the last finite parameters."""
    config = _config(strategy="free", optimizer={"name": "sgd", "lr": 1e300}, n_models=3, steps=5)
    result = train(task, config)
    assert result.table.diverged.all()
    assert all(np.isfinite(W).all() for W in result.final_weights)
    assert (result.table.steps_taken < 5).all()


def test_converged_models_stop_updating(task) -> None:
    config = _config(
        strategy="constrained",
        optimizer={"name": "adam", "lr": 0.05},
        n_models=8,
        steps=200,
        record_every=10,
        loss_tol=0.05,
        record_weights=True,
    )
    result = train(task, config)
    table = result.table
    assert table.converged.any() and (table.steps_taken[table.converged] < 200).all()
    assert (table.steps_taken[~table.converged & ~table.diverged] == 200).all()
    for k in np.flatnonzero(table.converged):
        stop = table.steps_taken.iloc[k]
        later = result.record_steps > stop
        frozen = result.weight_trajectories[0][k, later]
        assert (frozen == result.final_weights[0][k]).all()
        assert result.curves("train_loss")[k, -1] <= 0.05


def test_a_chunk_whose_models_all_stopped_records_its_final_state(task) -> None:
    config = _config(strategy="free", optimizer="adam", n_models=3, steps=50, record_every=10, loss_tol=100.0)
    result = train(task, config)
    assert result.table.converged.all() and (result.table.steps_taken == 0).all()
    curves = result.curves("train_loss")
    assert curves.shape == (3, 6) and (curves == curves[:, :1]).all()
    np.testing.assert_array_equal(result.final_weights[0], result.initial_weights[0])


# ---------------------------------------------------------------------- results and options
def test_result_table_and_metadata(task) -> None:
    config = _config(
        strategy={"name": "constrained", "parametrization": "orbit"},
        optimizer="sgd",
        n_models=3,
        steps=12,
        record_every=5,
        first_seed=40,
    )
    result = train(task, config)
    table = result.table
    assert list(table.seed) == [40, 41, 42]
    assert set(table.strategy) == {"constrained"} and set(table.parametrization) == {"orbit"}
    assert set(table.optimizer) == {"sgd"}
    assert list(result.record_steps) == [0, 5, 10, 12]
    assert table.train_loss_curve.iloc[0].shape == (4,)
    assert result.initial_weights[0].shape == (3, 3, 3) and result.final_weights[1].shape == (3, 1, 3)
    assert result.initial_biases is None and result.weight_trajectories is None
    assert result.version == eqlandscape.__version__
    meta = result.metadata()
    assert TrainConfig.from_json(result.config.model_dump_json()) == config
    assert meta["config"]["strategy"] == {"name": "constrained", "parametrization": "orbit"}
    assert meta["student"]["reps"] == ["natural", "natural", "trivial"]
    np.testing.assert_allclose(result.ensemble.weights()[0].numpy(), result.final_weights[0])
    assert {"success", "dead", "diverged", "converged", "output_rms", "test_loss"} <= set(table.columns)


@pytest.mark.parametrize("strategy", ["free", "constrained"])
def test_initial_weights_are_the_seeded_ones(task, strategy) -> None:
    config = _config(strategy=strategy, optimizer="adam", n_models=3, steps=5, first_seed=7)
    result = train(task, config)
    for kept, seeded in zip(result.initial_weights, task.arch.init_full(config.seeds), strict=True):
        np.testing.assert_allclose(kept, seeded, rtol=0, atol=1e-15)
    assert not np.allclose(result.initial_weights[0], result.final_weights[0])


def test_dead_students_are_flagged() -> None:
    """Students whose output weights start negative can be driven to output nothing (docs/design.md
    section 4): flagged dead, their test loss is the mean squared label, and they never succeed."""
    task = demo_task()
    result = train(
        task,
        TrainConfig(
            strategy="constrained", optimizer={"name": "sgd", "lr": 0.05}, n_models=32, steps=3000, record_every=1000
        ),
    )
    table = result.table
    dead = table.dead.to_numpy()
    assert dead.any() and not dead.all()
    assert (result.initial_weights[1][dead] < 0).all()
    assert (table.output_rms[dead] < 1e-4).all() and (table.output_rms[~dead] > 0.1).all()
    mean_square = float(task.y_test.pow(2).mean())
    np.testing.assert_allclose(table.test_loss[dead], mean_square, rtol=1e-3)
    assert not table.success[dead].any()


def test_schedules() -> None:
    cosine = ScheduleConfig(name="cosine", min_lr=0.1)
    assert cosine.lr(1.0, 0, 100) == 1.0 and cosine.lr(1.0, 100, 100) == pytest.approx(0.1)
    assert cosine.lr(1.0, 50, 100) == pytest.approx(0.55)
    step = ScheduleConfig(name="step", step_size=10, gamma=0.5)
    assert step.lr(1.0, 9, 100) == 1.0 and step.lr(1.0, 25, 100) == 0.25
    assert ScheduleConfig().lr(0.3, 77, 100) == 0.3


def test_a_schedule_changes_the_run(task) -> None:
    constant = train(task, _config(strategy="free", optimizer="sgd", steps=20))
    decayed = train(
        task, _config(strategy="free", optimizer="sgd", steps=20, schedule={"name": "step", "step_size": 5})
    )
    assert np.array_equal(constant.curves("train_loss")[:, :6], decayed.curves("train_loss")[:, :6])
    assert not np.array_equal(constant.final_weights[0], decayed.final_weights[0])


def test_float32_runs(task) -> None:
    result = train(task, _config(dtype="float32", optimizer="adam", n_models=3))
    assert result.ensemble.dtype == torch.float32
    assert result.curves("dist_to_E").max() < 1e-6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_cuda_matches_cpu(task) -> None:
    options = {"strategy": {"name": "augmented", "samples": 2}, "optimizer": "adam", "batch_size": 32}
    cpu = train(task, _config(**options))
    gpu = train(task, _config(**options, device="cuda"))
    np.testing.assert_allclose(gpu.curves("train_loss"), cpu.curves("train_loss"), rtol=1e-8)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"steps": 0}, "steps=0"),
        ({"steps": -3}, "steps=-3"),
        ({"optimizer": {"name": "sgd", "lr": 0.0}}, "lr=0.0"),
        ({"optimizer": {"name": "adam", "lr": -1e-3}}, "lr=-0.001"),
        ({"optimizer": {"name": "adam", "lr": float("inf")}}, "lr=inf"),
        ({"optimizer": "rmsprop"}, "'rmsprop'"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "momentum=0.9"),
        ({"strategy": "dropout"}, "'dropout'"),
        ({"strategy": {"name": "relaxed", "switch_step": -1}}, "switch_step=-1"),
        ({"strategy": {"name": "constrained", "parametrization": "free"}}, "'free'"),
        ({"n_models": 0}, "n_models=0"),
        ({"schedule": "linear"}, "'linear'"),
        ({"dtype": "float16"}, "'float16'"),
        ({"color": "red"}, "color"),
    ],
)
def test_bad_configs_name_the_value(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**{"strategy": "free", **options})


def test_bad_runs(task) -> None:
    G = group_from_name("S3")
    with pytest.raises(ConfigError, match="input rep 'regular'"):
        train(task, _config(), MLPArchitecture((regular(G), natural(G), trivial(G))))
    with pytest.raises(ConfigError, match="do not fit"):
        train(task, _config(n_models=2), initial=[np.zeros((3, 3, 3)), np.zeros((3, 1, 3))])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="'cuda'"):
            train(task, _config(device="cuda"))
    assert set(strategy_names()) >= {"constrained", "free", "augmented", "relaxed", "penalty"}


def test_augmented_on_a_group_too_large_to_list() -> None:
    """``samples`` elements per step need no list of the group (S10, 3,628,800 elements): every copy
    is a permutation of the batch by one element's images in the input and output reps; all of G is
    refused with a message naming the order."""
    G = group_from_name("S10")
    arch = MLPArchitecture((natural(G), trivial(G)))
    seeds = np.array([5, 6, 7])
    with pytest.raises(ConfigError, match="3,628,800"):
        build_strategy(strategy_config({"name": "augmented"}), arch, seeds)
    strategy = build_strategy(strategy_config({"name": "augmented", "samples": 4}), arch, seeds)
    xt = torch.arange(10 * 3, dtype=F64).reshape(10, 3)  # 3 samples with distinct entries
    x_aug, y_aug = strategy.batch(xt, torch.ones(1, 3, dtype=F64), step=0)
    assert x_aug.shape == (3, 10, 12) and y_aug.shape == (3, 1, 12)
    drawn = random_elements([natural(G)], seeds, "augment/0", 4)[0]
    for k in range(3):
        for j in range(4):
            copy = x_aug[k, :, 3 * j : 3 * (j + 1)]
            assert torch.equal(copy[torch.as_tensor(drawn[k, j])], xt)  # (rho(g) x)[p[i]] = x[i]
