"""The strategies of issue 15 (``ace``, ``ace-resilient``, ``rpp``, ``scheduled``, ``relaxed`` with
``optimizer_state``) and protocol v2, each against an independent computation written here:
autograd of the stated objective (with ``P_E`` as the group average of ``rho_out(g) W rho_in(g)^T``),
the constrained run, a ``torch.optim`` loop, the schedules' formulas.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from eqlandscape.cli import main
from eqlandscape.cli.training import run_training
from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.reps import natural, regular, trivial
from eqlandscape.tasks import demo_task, teacher_student
from eqlandscape.train import TrainConfig, strategy_names, train
from eqlandscape.train.config import strategy_config
from eqlandscape.train.strategies import build_strategy
from eqlandscape.train.strategies.scheduled import theta
from eqlandscape.train.trainer import _Chunk, _prepare

F64 = torch.float64
NEW = ("ace", "ace-resilient", "rpp", "scheduled")


@pytest.fixture(scope="module")
def task():
    return demo_task(n_train=64, n_test=64)


@pytest.fixture(scope="module")
def closed(task):
    """The demo's train set closed under ``S3``: all ``|G|`` transformed copies of every sample
    (the output rep is trivial, so the labels repeat)."""
    rows = [np.argsort(p) for p in task.arch.rep_in.perms]  # (rho(g) x)[p[i]] = x[i]
    x = torch.cat([task.x_train[:, r] for r in rows])
    y = torch.cat([task.y_train for _ in rows])
    return replace(task, x_train=x, y_train=y)


def _config(**options) -> TrainConfig:
    base = {"n_models": 4, "steps": 40, "record_every": 1, "dtype": "float64"}
    return TrainConfig(**{**base, **options})


def _same(a, b, what: str) -> None:
    assert np.array_equal(np.asarray(a), np.asarray(b)), what


# ---------------------------------------------------------------------- every gradient is autograd's
def _group_average(arch: MLPArchitecture, t: int, W: torch.Tensor) -> torch.Tensor:
    """``P_E W``: the average of ``rho_out(g) W rho_in(g)^T`` (weights) or ``rho_out(g) b`` (biases)."""
    layer, is_bias = divmod(t, arch.per_layer)
    out = torch.as_tensor(arch.reps[layer + 1].matrices(), dtype=W.dtype)
    if is_bias:
        return torch.einsum("gij,kj->ki", out, W) / out.shape[0]
    inp = torch.as_tensor(arch.reps[layer].matrices(), dtype=W.dtype)
    return torch.einsum("gij,kjl,gml->kim", out, W, inp) / out.shape[0]


def _split(like: list[torch.Tensor], flat: torch.Tensor) -> list[torch.Tensor]:
    """A flat extra ``(K, N)`` as tensors shaped like ``like`` (flat order)."""
    sizes = [t[0].numel() for t in like]
    return [part.reshape(t.shape) for part, t in zip(flat.split(sizes, dim=1), like, strict=True)]


def _stated_objective(name, cfg, arch, full, extra, lam, step, steps):
    """The model tensors and the extra loss ``(K,)`` of strategy ``name`` as its docs state them."""
    K = full[0].shape[0]
    zero = full[0].new_zeros(K)

    def sq(t):
        return t.reshape(K, -1).pow(2).sum(1)

    def gap(t, W):
        return W - _group_average(arch, t, W)

    if name == "penalty":
        return full, sum(sq(gap(t, W)) for t, W in enumerate(full)) * (cfg.gamma / 2)
    if name in ("ace", "ace-resilient"):
        gamma, V = extra["gamma"], _split(full, extra["V"])
        model = [W + gamma[:, t // arch.per_layer].reshape(K, *[1] * (W.dim() - 1)) * V[t] for t, W in enumerate(full)]
        if name == "ace":
            return model, (lam * gamma).sum(1)
        u = extra["u"]
        return model, (lam * (gamma.abs() - u)).sum(1) + cfg.rho / 2 * (u * u).sum(1)
    if name == "rpp":
        model = [W + f for W, f in zip(full, _split(full, extra["free"]), strict=True)]
        eq = sum(sq(W) for W in full)
        free = sq(extra["free"])
        return model, cfg.prior_eq * eq + cfg.prior_free * free
    if name == "scheduled":
        T = cfg.theta_steps or steps
        th = {"constant": 1.0, "linear": 1 - step / T, "triangular": 1 - abs(2 * step / T - 1)}[cfg.theta_schedule]
        th *= cfg.theta_max
        V = _split(full, extra["V"])
        model = [W + th * v for W, v in zip(full, V, strict=True)]
        penalty = sum(sq(gap(t, v)) * (cfg.equiv_weight / 2) + sq(v) * (cfg.norm_weight / 2) for t, v in enumerate(V))
        return model, penalty
    return full, zero


def _mse(arch: MLPArchitecture, model: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``mean((f(x) - y)^2)`` per model, ``x (N, n_0)``: a plain forward pass."""
    weights, biases = arch.split(model)
    h = x.expand(model[0].shape[0], *x.shape)
    for layer, W in enumerate(weights):
        h = torch.einsum("kni,koi->kno", h, W)
        if biases is not None:
            h = h + biases[layer][:, None, :]
        if layer < len(weights) - 1:
            h = torch.relu(h)
    return (h - y).pow(2).flatten(1).mean(1)


@pytest.mark.parametrize(
    "strategy",
    [
        "constrained",
        "free",
        {"name": "penalty", "gamma": 0.7},
        {"name": "ace", "dual_lr": 0.3},
        {"name": "ace-resilient", "rho": 2.0},
        {"name": "ace", "parametrization": "orbit"},
        {"name": "rpp", "prior_eq": 0.3, "prior_free": 0.9, "parametrization": "projected"},
        {
            "name": "scheduled",
            "theta_schedule": "triangular",
            "theta_max": 0.8,
            "equiv_weight": 0.6,
            "norm_weight": 0.2,
        },
        {"name": "scheduled", "theta_schedule": "linear", "theta_steps": 7},
    ],
)
def test_the_gradient_is_autograd_of_the_stated_objective(strategy) -> None:
    """The coordinate gradient the trainer steps with (loss, composition and extra terms, pulled
    back) is autograd's gradient of ``mse(model(coordinates)) + extra(coordinates)``, and the
    recorded extra loss is the stated one; at a random point (every extra term active)."""
    G = group_from_name("S3")
    teacher = demo_task().teacher
    task = teacher_student(teacher, 40, 20, seed=3)
    arch = MLPArchitecture((natural(G), regular(G), trivial(G)), "relu", True)
    config = TrainConfig(strategy=strategy, n_models=3, steps=10, dtype="float64")
    run, out = _prepare(task, config, arch, None, config.seeds)
    chunk = _Chunk(run, slice(0, 3), out)
    s, name, cfg = chunk.state, config.strategy.name, config.strategy
    gen = torch.Generator().manual_seed(5)
    s.theta.add_(torch.randn(s.theta.shape, generator=gen, dtype=F64) * 0.3)
    if "u" in s.extra:
        s.extra["u"].abs_()
    lam = None
    if name.startswith("ace"):
        lam = torch.randn(3, arch.n_layers, generator=gen, dtype=F64)
        chunk.strategy.lam = lam.abs() if name == "ace-resilient" else lam
        lam = chunk.strategy.lam
    step = 4
    chunk.refresh(step)
    loss = chunk.loss_and_grads(step)

    coords = [c.detach().clone().requires_grad_() for c in s.coords]
    extra = {k: v.detach().clone().requires_grad_() for k, v in s.extra.items()}
    full = []
    for p, c, W0 in zip(s.params, coords, s.full, strict=True):
        if p.is_identity:
            full.append(c.reshape(W0.shape))
        else:  # W = W0 + (c - c0) phi, linear in c with the dense phi
            phi = torch.tensor(np.array(p.phi), dtype=F64)
            full.append(W0.detach() + ((c - c.detach()) @ phi).reshape(W0.shape))
    model, penalty = _stated_objective(name, cfg, arch, full, extra, lam, step, config.steps)
    reference = _mse(arch, model, task.x_train.to(F64), task.y_train.to(F64))
    (reference.sum() + penalty.sum()).backward()

    torch.testing.assert_close(loss, reference.detach(), rtol=1e-12, atol=1e-14)
    if chunk.penalty is not None:
        torch.testing.assert_close(chunk.penalty, penalty.detach(), rtol=1e-12, atol=1e-14)
    for t, (c, g) in enumerate(zip(coords, s.grads, strict=True)):
        torch.testing.assert_close(g, c.grad, rtol=1e-10, atol=1e-12, msg=f"tensor {t}")
    for key, v in extra.items():
        torch.testing.assert_close(s.extra_grads[key], v.grad, rtol=1e-10, atol=1e-12, msg=key)


# ---------------------------------------------------------------------- ace
@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.05, "momentum": 0.5}, {"name": "adam", "lr": 0.02}])
def test_ace_with_gamma_held_at_0_is_the_constrained_model(task, optimizer) -> None:
    """``gamma_l = 0`` held: the free part never enters (``0 * V``) and gets no gradient, so the run
    is the constrained one bit for bit."""
    ace = train(task, _config(strategy={"name": "ace", "gamma_init": 0.0, "gamma_fixed": True}, optimizer=optimizer))
    constrained = train(task, _config(strategy="constrained", optimizer=optimizer))
    for metric in ("train_loss", "test_loss", "dist_to_E", "equiv_error"):
        _same(ace.curves(metric), constrained.curves(metric), metric)
    for a, b in zip(ace.final_weights, constrained.final_weights, strict=True):
        _same(a, b, "final weights")
    _same(ace.curves("test_loss_dropped"), constrained.curves("test_loss"), "dropped")
    assert (ace.curves("gamma_0") == 0).all() and (ace.curves("lambda_1") == 0).all()


def test_the_dual_grows_while_gamma_is_nonzero(task) -> None:
    """``lambda_l`` integrates ``gamma_l``: ``lambda(t+1) - lambda(t) = dual_lr gamma(t+1)`` (the
    dual step after the primal one); resilient: ``max(0, lambda + dual_lr (|gamma| - u)) - lambda``."""
    dual_lr = 0.2
    result = train(task, _config(strategy={"name": "ace", "dual_lr": dual_lr}, optimizer="sgd", steps=60))
    for layer in range(2):
        lam, gamma = result.curves(f"lambda_{layer}"), result.curves(f"gamma_{layer}")
        np.testing.assert_allclose(np.diff(lam, axis=1), dual_lr * gamma[:, 1:], rtol=1e-9, atol=1e-15)
        assert (np.diff(lam, axis=1)[gamma[:, 1:] > 0] > 0).all() and (gamma[:, 1:] > 0).any()
        v = result.curves(f"v_norm_{layer}")
        np.testing.assert_allclose(result.curves(f"gamma_v_norm_{layer}"), np.abs(gamma) * v, rtol=1e-12)
    res = train(task, _config(strategy={"name": "ace-resilient", "dual_lr": dual_lr}, optimizer="sgd", steps=60))
    lam, gamma, u = res.curves("lambda_0"), res.curves("gamma_0"), res.curves("u_0")
    expected = np.maximum(0, lam[:, :-1] + dual_lr * (np.abs(gamma[:, 1:]) - u[:, 1:]))
    np.testing.assert_allclose(lam[:, 1:], expected, rtol=1e-9, atol=1e-15)
    assert (u >= 0).all() and (lam >= 0).all() and (lam > 0).any()


def test_resilient_ace_on_exactly_symmetric_data_drives_gamma_to_0(closed) -> None:
    """On the train set closed under ``G`` the constraint costs nothing: ``|gamma_l|`` ends below
    1e-3 for every student (whichever minimum of the constrained landscape it ends in)."""
    config = _config(
        strategy={"name": "ace-resilient", "dual_lr": 1.0, "rho": 10.0},
        optimizer={"name": "sgd", "lr": 0.05},
        n_models=6,
        steps=2000,
        record_every=500,
    )
    result = train(closed, config)
    for layer in range(2):
        assert np.abs(result.table[f"gamma_{layer}"]).max() < 1e-3
    # the free part is gone from the function: as trained and dropped, the same test loss
    np.testing.assert_allclose(result.table["test_loss"], result.table["test_loss_dropped"], rtol=1e-3, atol=1e-12)


# ---------------------------------------------------------------------- rpp
def test_rpp_with_a_very_strong_free_prior_is_the_constrained_model(task) -> None:
    """With ``prior_free = 1 / (2 lr)`` (SGD) the free part is reset to ``-lr G`` every step: the
    run follows the constrained one up to ``O(lr)``, while a weak prior lets the free part grow."""
    sgd = {"name": "sgd", "lr": 0.01}
    options = {"optimizer": sgd, "steps": 300, "record_every": 300}
    constrained = train(task, _config(strategy="constrained", **options))
    strong = train(task, _config(strategy={"name": "rpp", "prior_free": 50.0, "prior_eq": 0.0}, **options))
    weak = train(task, _config(strategy={"name": "rpp", "prior_free": 0.0, "prior_eq": 0.0}, **options))

    def gap(run):
        return max(np.abs(a - b).max() for a, b in zip(run.final_weights, constrained.final_weights, strict=True))

    assert gap(strong) < 0.05 * gap(weak)
    assert (strong.table["dist_to_E"] < 1e-2).all() and (strong.table["free_norm"] < 1e-2).all()


def test_rpp_starts_from_a_small_free_part(task) -> None:
    result = train(task, _config(strategy="rpp", steps=1))
    ratio = result.curves("free_norm")[:, 0] / result.curves("eq_norm")[:, 0]
    assert (ratio > 1e-4).all() and (ratio < 1e-2).all()  # 1e-3 times the equivariant init's scale


# ---------------------------------------------------------------------- scheduled
def test_schedules_have_the_stated_shape() -> None:
    T = 100
    steps = np.arange(0, 151)
    constant = [theta("constant", 0.5, T, t) for t in steps]
    linear = np.array([theta("linear", 0.5, T, t) for t in steps])
    tri = np.array([theta("triangular", 0.5, T, t) for t in steps])
    assert set(constant) == {0.5}
    assert linear[0] == 0.5 and linear[50] == 0.25 and (linear[100:] == 0).all() and (np.diff(linear) <= 0).all()
    assert tri[0] == 0 and tri[50] == 0.5 and tri[25] == tri[75] == 0.25 and (tri[100:] == 0).all()
    assert (np.diff(tri[:51]) > 0).all() and (np.diff(tri[50:101]) < 0).all()


def test_the_recorded_theta_follows_the_schedule(task) -> None:
    config = _config(strategy={"name": "scheduled", "theta_schedule": "triangular", "theta_max": 2.0}, steps=20)
    result = train(task, config)
    expected = 2.0 * (1 - np.abs(np.asarray(result.record_steps) / 10 - 1))  # up to 2 at T/2, back to 0 at T
    np.testing.assert_array_equal(result.curves("theta"), np.tile(expected, (4, 1)))
    # theta reaches 0 at the end: the model as trained is its equivariant part
    _same(result.table["test_loss"], result.table["test_loss_dropped"], "theta(T) = 0")


@pytest.mark.parametrize("schedule", ["constant", "linear", "triangular"])
def test_scheduled_at_theta_0_is_the_constrained_model(task, schedule) -> None:
    strategy = {"name": "scheduled", "theta_schedule": schedule, "theta_max": 0.0}
    scheduled = train(task, _config(strategy=strategy, optimizer="adam"))
    constrained = train(task, _config(strategy="constrained", optimizer="adam"))
    for metric in ("train_loss", "test_loss", "dist_to_E"):
        _same(scheduled.curves(metric), constrained.curves(metric), metric)
    for a, b in zip(scheduled.final_weights, constrained.final_weights, strict=True):
        _same(a, b, "final weights")


# ---------------------------------------------------------------------- what breaks the symmetry
@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.05, "momentum": 0.9}, {"name": "adam", "lr": 0.01}])
def test_free_training_from_E_on_a_closed_train_set_stays_in_E(closed, optimizer) -> None:
    """SGD and Adam commute with permutations of the coordinates, and on a train set closed under
    ``G`` the gradient at an equivariant point is equivariant: nothing breaks the symmetry."""
    result = train(closed, _config(strategy="free", optimizer=optimizer, steps=1000, record_every=50))
    assert result.curves("dist_to_E").max() < 1e-10
    assert result.table["train_loss"].median() < result.curves("train_loss")[:, 0].min()  # it trained


# ---------------------------------------------------------------------- relaxed: the optimizer state
def _relaxed_reference(task, config: TrainConfig, seed: int) -> list[list[torch.Tensor]]:
    """One model trained with ``torch.optim``: constrained, then at the switch a free model of the
    same tensors with a new optimizer, its state (``keep``) mapped from the old one by the dense
    pseudo-inverse: ``m_W = m_c pinv(phi)^T``, ``v_W = v_c (pinv(phi)^T)^2``; ``warmup``: the
    learning rate of the new optimizer rising linearly over ``warmup_steps``."""
    cfg, arch = config.strategy, task.arch
    opt_cfg = config.optimizer

    def make(params):
        if opt_cfg.name == "adam":
            return torch.optim.Adam(params, lr=opt_cfg.lr, betas=opt_cfg.betas, eps=opt_cfg.eps)
        return torch.optim.SGD(params, lr=opt_cfg.lr, momentum=opt_cfg.momentum)

    model = EquivariantMLP(arch.reps, arch.activation, arch.bias, cfg.parametrization, seed=seed, dtype=F64)
    opt = make(model.parameters())
    trajectory = []
    for step in range(config.steps + 1):
        if step == cfg.switch_step:
            free = EquivariantMLP(
                arch.reps, arch.activation, arch.bias, "free", initial=[t.detach() for t in model.full()], dtype=F64
            )
            new = make(free.parameters())
            if cfg.optimizer_state == "keep":
                for p, old_c, new_c in zip(
                    model.parametrizations, model.coordinates(), free.coordinates(), strict=True
                ):
                    P = torch.tensor(np.linalg.pinv(np.array(p.phi)).T, dtype=F64)  # (dim, N)
                    state = opt.state[old_c]
                    if opt_cfg.name == "adam":
                        new.state[new_c] = {
                            "step": state["step"].clone(),
                            "exp_avg": (state["exp_avg"] @ P).reshape(new_c.shape),
                            "exp_avg_sq": (state["exp_avg_sq"] @ P.pow(2)).reshape(new_c.shape),
                        }
                    else:
                        new.state[new_c] = {"momentum_buffer": (state["momentum_buffer"] @ P).reshape(new_c.shape)}
            model, opt = free, new
        trajectory.append([t.detach().clone() for t in model.full()])
        if step == config.steps:
            break
        if cfg.optimizer_state == "warmup" and step >= cfg.switch_step:
            for group in opt.param_groups:
                group["lr"] = opt_cfg.lr * min(1.0, (step - cfg.switch_step + 1) / cfg.warmup_steps)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(task.x_train), task.y_train).backward()
        opt.step()
    return trajectory


@pytest.mark.parametrize("state", ["restart", "keep", "warmup"])
@pytest.mark.parametrize(
    ("parametrization", "optimizer"),
    [("orthonormal", {"name": "adam", "lr": 0.02}), ("orbit", {"name": "sgd", "lr": 0.02, "momentum": 0.9})],
)
def test_relaxed_optimizer_state_against_torch_optim(task, state, parametrization, optimizer) -> None:
    strategy = {"name": "relaxed", "switch_step": 15, "optimizer_state": state, "parametrization": parametrization}
    strategy["warmup_steps"] = 6
    config = _config(strategy=strategy, optimizer=optimizer, steps=30, n_models=3, record_weights=True)
    result = train(task, config)
    for k, seed in enumerate(config.seeds):
        for step, tensors in enumerate(_relaxed_reference(task, config, int(seed))):
            for t, ref in enumerate(tensors):
                np.testing.assert_allclose(result.weight_trajectories[t][k, step], ref.numpy(), rtol=0, atol=1e-9)


def test_relaxed_warmup_scales_the_learning_rate() -> None:
    arch = demo_task().arch
    config = strategy_config({"name": "relaxed", "switch_step": 10, "optimizer_state": "warmup", "warmup_steps": 4})
    strategy = build_strategy(config, arch)
    assert [strategy.lr_scale(t) for t in range(8, 16)] == [1.0, 1.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    keep = build_strategy(strategy_config({"name": "relaxed", "optimizer_state": "keep"}), arch)
    assert {keep.lr_scale(t) for t in range(3000)} == {1.0}


def test_adam_keep_and_warmup_soften_the_kick_at_the_switch(task) -> None:
    """Restarted Adam moves every free coordinate by about ``lr`` on its first free step, the
    directions off ``E`` included, whatever their gradient; with the state kept (or the learning
    rate warmed up) the first free step leaves ``E`` far less."""
    options = {"optimizer": {"name": "adam", "lr": 0.01}, "steps": 41, "n_models": 8}
    left = {}
    for state in ("restart", "keep", "warmup"):
        strategy = {"name": "relaxed", "switch_step": 40, "optimizer_state": state, "warmup_steps": 20}
        left[state] = np.median(train(task, _config(strategy=strategy, **options)).curves("dist_to_E")[:, 41])
    assert left["keep"] < 0.2 * left["restart"] and left["warmup"] < 0.2 * left["restart"]


# ---------------------------------------------------------------------- registry, CLI, bad input
def test_every_strategy_registers_once_with_its_options() -> None:
    assert set(strategy_names()) >= {"constrained", "free", "augmented", "relaxed", "penalty", *NEW}
    for name in NEW:
        assert strategy_config(name).name == name
    assert strategy_config({"name": "ace-resilient", "rho": 3}).rho == 3.0


@pytest.mark.parametrize(
    ("strategy", "match"),
    [
        ({"name": "ace", "dual_lr": -0.1}, "dual_lr=-0.1"),
        ({"name": "ace-resilient", "rho": -1}, "rho=-1"),
        ({"name": "ace", "rho": 1}, "rho"),
        ({"name": "ace", "dual_optimizer": "rmsprop"}, "'rmsprop'"),
        ({"name": "rpp", "prior_eq": -1e-3}, "prior_eq=-0.001"),
        ({"name": "rpp", "prior_free": -2}, "prior_free=-2"),
        ({"name": "scheduled", "theta_steps": -5}, "theta_steps=-5"),
        ({"name": "scheduled", "theta_steps": 0}, "theta_steps=0"),
        ({"name": "scheduled", "theta_schedule": "cosine"}, "'cosine'"),
        ({"name": "scheduled", "norm_weight": -1}, "norm_weight=-1"),
        ({"name": "relaxed", "optimizer_state": "reset"}, "'reset'"),
        ({"name": "relaxed", "warmup_steps": 0}, "warmup_steps=0"),
        ({"name": "annealed"}, "'annealed'"),
    ],
)
def test_bad_strategy_options_name_the_value(strategy, match) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig(strategy=strategy)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--strategy", "ace", "--dual-lr", "-1"], "dual_lr=-1.0"),
        (["--strategy", "ace", "--rho", "2"], "--rho 2 does not apply to --strategy ace"),
        (["--strategy", "scheduled", "--theta-schedule", "cosine"], "'cosine'"),
        (["--strategy", "rpp", "--prior-free", "-1"], "prior_free=-1.0"),
        (["--strategy", "relaxed", "--optimizer-state", "reset"], "'reset'"),
    ],
)
def test_cli_bad_strategy_options_exit_2_in_one_line(capsys, extra, needle) -> None:
    assert main(["train", "S3", "--students", "2", "--steps", "2", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0]


def test_cli_options_come_from_the_config_schema(capsys) -> None:
    argv = ["train", "S3", "--students", "3", "--steps", "20", "--strategy", "ace-resilient"]
    assert main([*argv, "--rho", "2.5", "--dual-optimizer", "adam", "--dtype", "float64", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["strategy"]["rho"] == 2.5 and payload["config"]["strategy"]["dual_optimizer"] == "adam"
    config = TrainConfig(
        strategy={"name": "ace-resilient", "rho": 2.5, "dual_optimizer": "adam"},
        n_models=3,
        steps=20,
        dtype="float64",
    )
    student = payload["students"][0]
    assert {"gamma_0", "lambda_1", "u_0", "penalty", "test_loss_dropped"} <= set(student)
    options = {"teacher_seed": 0, "n_train": 512, "n_test": 512, "noise": 0.0}
    result = run_training("S3", "natural -> natural -> trivial", None, config, activation="relu", bias=True, **options)
    np.testing.assert_allclose([s["gamma_1"] for s in payload["students"]], result.table["gamma_1"], rtol=1e-9)


# ---------------------------------------------------------------------- population (expected loss)
@pytest.fixture(scope="module")
def population():
    return teacher_student(demo_task().teacher, 64, 64, seed=0, population=True)


@pytest.mark.parametrize("strategy", ["constrained", "free", {"name": "ace", "dual_lr": 0.1}])
def test_a_population_task_trains_on_its_expected_loss(population, strategy) -> None:
    """One SGD step moves the model tensors by ``-lr`` times autograd's gradient of
    ``task.expected_loss`` (free coordinates: the tensors themselves); a student's numbers do not
    depend on the others (alone and in a run of 16, bit for bit)."""
    lr = 0.05
    config = _config(strategy=strategy, optimizer={"name": "sgd", "lr": lr}, steps=1, record_weights=True)
    result = train(population, config)
    if strategy == "free":
        start = [torch.tensor(w[:, 0], requires_grad=True) for w in result.weight_trajectories]
        grads = torch.autograd.grad(population.expected_loss(start).sum(), start)
        for t, (w, g) in enumerate(zip(start, grads, strict=True)):
            np.testing.assert_allclose(
                result.weight_trajectories[t][:, 1], (w - lr * g).detach(), rtol=1e-12, atol=1e-15
            )
    many = train(population, config.model_copy(update={"n_models": 16, "steps": 20}))
    few = train(population, config.model_copy(update={"n_models": 4, "steps": 20}))
    for a, b in zip(few.final_weights, many.final_weights, strict=True):
        _same(a, b[:4], "alone and in a larger run")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--population"], "biases"),  # the default random teacher has biases
        (["--population", "--task", "digits"], "--population applies to --task teacher"),
    ],
)
def test_cli_population_refuses_what_it_does_not_cover(capsys, extra, needle) -> None:
    assert main(["train", "S3", "--students", "2", "--steps", "2", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_cli_population_flag(capsys) -> None:
    argv = ["train", "S3", "--teacher-weights", "plane", "--no-bias", "--population", "--students", "3"]
    assert main([*argv, "--steps", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"]["population"] is True


@pytest.mark.parametrize("group", ["C4", "D4", "S4", "A4", "C2xC3"])
def test_the_flat_projection_is_the_group_average(group) -> None:
    """``FlatLayout.project`` (orbit means over all tensors at once) against the Reynolds average
    over the listed group elements, on several groups and reps; rows do not depend on the batch."""
    from eqlandscape.train.strategies.base import FlatLayout

    G = group_from_name(group)
    arch = MLPArchitecture((natural(G), regular(G), natural(G), trivial(G)), "relu", True)
    x = torch.randn(7, sum(int(np.prod(s)) for s in arch.shapes), generator=torch.Generator().manual_seed(1), dtype=F64)
    layout = FlatLayout(arch, x)
    like = [torch.as_tensor(t) for t in arch.init_full(np.arange(7))]
    got, parts = _split(like, layout.project(x)), _split(like, x)
    for t, (g, w) in enumerate(zip(got, parts, strict=True)):
        torch.testing.assert_close(g, _group_average(arch, t, w), rtol=1e-12, atol=1e-14)
    assert torch.equal(layout.project(x[:3].clone()), layout.project(x)[:3])


@pytest.mark.parametrize("strategy", [*NEW, "penalty"])
def test_every_column_a_strategy_adds_is_documented(tmp_path, capsys, strategy) -> None:
    from test_readme import documented_names

    out = tmp_path / strategy
    assert main(["train", "S3", "--strategy", strategy, "--students", "2", "--steps", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    columns = (out / "students.csv").read_text().splitlines()[0].split(",")
    assert set(columns) <= documented_names(), set(columns) - documented_names()
