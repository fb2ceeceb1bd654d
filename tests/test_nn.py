"""Tests of eqlandscape.nn: parametrizations, initialization, modules, ensembles, hand-written backward.

Oracles: dense ``rho(g)`` matrices (equivariance), autograd through ``torch.nn.Module`` s (the
hand-written gradient), the orbit bases of ``eqlandscape.equivariant`` (projections).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eqlandscape.equivariant import equivariant_basis
from eqlandscape.errors import ConfigError, GroupMismatchError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import (
    KINDS,
    Ensemble,
    EquivariantLinear,
    EquivariantMLP,
    MLPArchitecture,
    make_parametrization,
    mlp_forward,
    mlp_loss_and_grad,
    rng,
)
from eqlandscape.nn.functional import Workspace, as_samples_last, loss_t
from eqlandscape.reps import direct_sum, natural, regular, trivial
from eqlandscape.testing import assert_equivariant

F64 = torch.float64
GROUPS = ("C3", "S3", "C4", "D4", "K4", "S4")


def _reps(group: str, hidden: str = "natural") -> tuple:
    G = group_from_name(group)
    nat, tri = natural(G), trivial(G)
    hid = {"natural": nat, "regular": regular(G), "sum": direct_sum(nat, tri)}[hidden]
    return nat, hid, tri


def _s3_arch(bias: bool = False, activation: str = "relu") -> MLPArchitecture:
    nat, _, tri = _reps("S3")
    return MLPArchitecture((nat, nat, tri), activation, bias)


# ---------------------------------------------------------------------- parametrizations
@pytest.mark.parametrize("kind", KINDS)
def test_parametrization_is_linear_with_adjoint_pullback(kind: str) -> None:
    """``pullback`` is the adjoint of ``to_full``: <to_full(t), G> = <t, pullback(G)>."""
    nat, hid, _ = _reps("S3", "regular")
    p = make_parametrization(kind, equivariant_basis(nat, hid), basis_seed=3)
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(5, p.dim, generator=gen, dtype=F64)
    G = torch.randn(5, *p.shape, generator=gen, dtype=F64)
    lhs = (p.to_full(theta) * G).sum(dim=(1, 2))
    rhs = (theta * p.pullback(G)).sum(dim=1)
    torch.testing.assert_close(lhs, rhs)
    # from_full inverts to_full on the image
    torch.testing.assert_close(p.to_full(p.from_full(p.to_full(theta))), p.to_full(theta))


def test_metric_of_each_parametrization() -> None:
    """GD in coordinates moves W by -lr Phi^T Phi g: the projection onto E for ``orthonormal``,
    orbit sizes times the orbit sums for ``orbit``, non-orthonormal for ``random``."""
    nat, _, _ = _reps("S3")
    basis = equivariant_basis(nat, nat)
    g = torch.randn(3, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    ortho = make_parametrization("orthonormal", basis)
    torch.testing.assert_close(ortho.to_full(ortho.pullback(g)), torch.as_tensor(basis.project(g.numpy())))
    orbit = make_parametrization("orbit", basis)
    step = orbit.to_full(orbit.pullback(g))  # = size_o * mean_o(g) on each orbit
    sizes = torch.as_tensor(basis.sizes[basis.orbit_index], dtype=F64)
    torch.testing.assert_close(step, sizes * torch.as_tensor(basis.project(g.numpy())))
    assert sorted(basis.sizes.tolist()) == [3, 6]  # diagonal and off-diagonal orbits of S3 on pi_3 -> pi_3
    rand = make_parametrization("random", basis, basis_seed=0)
    gram = torch.as_tensor(rand.phi @ rand.phi.T)
    assert not torch.allclose(gram, torch.eye(9, dtype=F64), atol=1e-2)


def test_masked_parametrization_restricts_to_the_pattern() -> None:
    nat, _, _ = _reps("S3")
    basis = equivariant_basis(nat, nat)
    mask = np.eye(3, dtype=bool)
    for kind in ("free", "random"):
        p = make_parametrization(kind, basis, mask=mask, basis_seed=1)
        assert p.dim == 3
        W = p.to_full(torch.randn(4, p.dim, dtype=F64))
        assert torch.all(W[:, ~torch.as_tensor(mask)] == 0)
    with pytest.raises(ConfigError, match="orthonormal"):
        make_parametrization("orthonormal", basis, mask=mask)
    with pytest.raises(ConfigError, match="'fancy'"):
        make_parametrization("fancy", basis)


# ---------------------------------------------------------------------- initialization
def test_seed_alone_determines_the_weights() -> None:
    nat, hid, tri = _reps("S3", "regular")
    a = EquivariantMLP((nat, hid, tri), seed=5, dtype=F64)
    b = EquivariantMLP((nat, hid, tri), seed=5, dtype=F64)
    c = EquivariantMLP((nat, hid, tri), seed=6, dtype=F64)
    for x, y, z in zip(a.full(), b.full(), c.full(), strict=True):
        assert torch.equal(x, y)
        assert not torch.equal(x, z) or not x.any()
    # the same initial function in every parametrization, and layer 0 equals a lone layer
    for kind in KINDS:
        other = EquivariantMLP((nat, hid, tri), parametrization=kind, seed=5, dtype=F64)
        for x, y in zip(a.full(), other.full(), strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=1e-14)
    lone = EquivariantLinear(nat, hid, seed=5, dtype=F64)
    torch.testing.assert_close(lone.weight, a.layers[0].weight, rtol=0, atol=0)


def test_counter_rng_does_not_depend_on_the_other_seeds() -> None:
    seeds = np.array([3, 17, 2**40, 0])
    together = rng.normal(seeds, "x", (4, 5))
    for k, s in enumerate(seeds):
        assert np.array_equal(rng.normal([s], "x", (4, 5))[0], together[k])
    assert not np.array_equal(rng.normal(seeds, "y", (4, 5)), together)
    perms = rng.permutations(seeds, "p", 50)
    assert all(np.array_equal(np.sort(p), np.arange(50)) for p in perms)


def test_init_rule_variance_is_one_over_fan_in() -> None:
    """Every entry has variance scale^2 / n_in; entries of one orbit are equal (equivariant init)."""
    nat, hid, tri = _reps("S4", "regular")
    arch = MLPArchitecture((nat, hid, tri), bias=True)
    seeds = np.arange(4000)
    for init in ("equivariant", "free"):
        W0, b0, W1, b1 = arch.init_full(seeds, init, scale=2.0)
        assert np.allclose(W0.var(axis=0).mean(), 4.0 / 4, rtol=0.1)
        assert np.allclose(W1.var(axis=0).mean(), 4.0 / 24, rtol=0.1)
        assert not b0.any() and not b1.any()
    W0 = arch.init_full(seeds[:3], "equivariant")[0]
    assert np.allclose(arch.bases[0].project(W0), W0)


# ---------------------------------------------------------------------- modules
_GROUP = st.sampled_from(GROUPS)
_HIDDEN = st.sampled_from(["natural", "regular", "sum"])
_ACT = st.sampled_from(["relu", "tanh", "gelu", "identity"])
_CONSTRAINED = st.sampled_from(["orbit", "orthonormal", "projected"])


@given(group=_GROUP, hidden=_HIDDEN, activation=_ACT, kind=_CONSTRAINED, bias=st.booleans(), seed=st.integers(0, 99))
def test_equivariant_mlp_is_equivariant(group, hidden, activation, kind, bias, seed) -> None:
    nat, hid, tri = _reps(group, hidden)
    reps = (nat, hid, hid, nat) if seed % 2 else (nat, hid, tri)
    model = EquivariantMLP(reps, activation, bias, kind, seed=seed, dtype=F64)
    with torch.no_grad():  # random biases too
        for layer in model.layers:
            if layer.bias_coords is not None:
                layer.bias_coords.normal_()
    assert_equivariant(model, reps[0], reps[-1], atol=1e-10)


def test_assert_equivariant_fails_on_a_perturbed_model() -> None:
    nat, hid, tri = _reps("D4", "regular")
    model = EquivariantMLP((nat, hid, tri), seed=1, dtype=F64)
    free = model.to_free()
    assert_equivariant(free, nat, tri)
    with torch.no_grad():
        free.layers[0].weight_coords[3] += 1e-3
    with pytest.raises(AssertionError, match="not equivariant") as failure:
        assert_equivariant(free, nat, tri)
    # it names the worst element: the largest error over the dense rho(g) matrices
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((32, 4)))
    with torch.no_grad():
        worst = max(
            float((free(x @ torch.as_tensor(R_in).T) - free(x) @ torch.as_tensor(R_out).T).abs().max())
            for R_in, R_out in zip(nat.matrices(), tri.matrices(), strict=True)
        )
    assert f"= {worst:.3g} " in str(failure.value)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(free, nat, tri, elements="generators")
    with pytest.raises(GroupMismatchError):
        assert_equivariant(free, nat, trivial(group_from_name("C3")))


@pytest.mark.parametrize("kind", ["orbit", "orthonormal", "projected"])
def test_to_free_preserves_the_function_and_project_goes_back(kind: str) -> None:
    nat, hid, tri = _reps("S3", "regular")
    model = EquivariantMLP((nat, hid, tri), "tanh", True, kind, seed=3, dtype=F64)
    free = model.to_free()
    assert all(p.kind == "free" for p in free.parametrizations)
    x = torch.randn(10, 3, dtype=F64)
    assert torch.equal(free(x), model(x))
    for a, b in zip(model.full(), free.full(), strict=True):
        assert torch.equal(a, b)
    # perturb the free model off E; projecting back averages every tensor over its orbits
    with torch.no_grad():
        free.layers[0].weight_coords.add_(torch.randn_like(free.layers[0].weight_coords))
    back = free.project(kind)
    for basis, t, p in zip(model.arch.bases, free.full(), back.full(), strict=True):
        torch.testing.assert_close(p, basis.project(t.detach()))
    assert_equivariant(back, nat, tri, atol=1e-10)


def test_explicit_teacher_weights() -> None:
    nat, _, tri = _reps("S3")
    a, b = 1.0, -0.2
    W0 = a * np.eye(3) + b * (np.ones((3, 3)) - np.eye(3))
    for kind in ("orbit", "orthonormal"):
        teacher = EquivariantMLP.from_weights((nat, nat, tri), [W0, np.ones((1, 3))], parametrization=kind, dtype=F64)
        torch.testing.assert_close(teacher.weights()[0], torch.as_tensor(W0), rtol=0, atol=1e-15)
        assert teacher.biases() is None
    coords = EquivariantMLP.from_weights((nat, nat, tri), [W0, np.ones((1, 3))], parametrization="orbit")
    assert sorted(coords.layers[0].weight_coords.tolist()) == pytest.approx([b, a])
    with pytest.raises(ConfigError, match="natural -> natural"):
        EquivariantMLP.from_weights((nat, nat, tri), [np.arange(9.0).reshape(3, 3), np.ones((1, 3))])


def test_bad_model_options() -> None:
    nat, _, tri = _reps("S3")
    with pytest.raises(ConfigError, match="'swish'"):
        MLPArchitecture((nat, tri), "swish")
    with pytest.raises(ConfigError, match="at least"):
        MLPArchitecture((nat,))
    with pytest.raises(GroupMismatchError):
        MLPArchitecture((nat, trivial(group_from_name("C3"))))
    with pytest.raises(ConfigError, match="'sparse'"):
        EquivariantMLP((nat, tri), parametrization="sparse")
    with pytest.raises(ConfigError, match="K=0"):
        Ensemble.init(_s3_arch(), [])
    with pytest.raises(ConfigError, match="'uniform'"):
        _s3_arch().init_full([0], init="uniform")


# ---------------------------------------------------------------------- ensembles
@pytest.mark.parametrize("kind", KINDS)
def test_ensemble_slices_are_the_seeded_modules(kind: str) -> None:
    nat, hid, tri = _reps("S3", "sum")
    arch = MLPArchitecture((nat, hid, tri), "gelu", True)
    seeds = [4, 9, 1]
    ens = Ensemble.init(arch, seeds, kind)
    x = torch.randn(7, 3, dtype=F64)
    xs = torch.randn(3, 7, 3, dtype=F64)
    shared, per_model = ens(x), ens(xs)
    for k, s in enumerate(seeds):
        module = EquivariantMLP((nat, hid, tri), "gelu", True, ens.params, seed=s, dtype=F64)
        for a, b in zip(module.coordinates(), ens.module(k).coordinates(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-15)
        torch.testing.assert_close(shared[k], module(x))
        torch.testing.assert_close(per_model[k], module(xs[k]))
    # back to an ensemble: an exact copy; separately built modules stack too
    again = Ensemble.from_modules([ens.module(k) for k in range(3)])
    for a, b in zip(again.coords, ens.coords, strict=True):
        assert torch.equal(a, b)
    modules = [EquivariantMLP((nat, hid, tri), "gelu", True, kind, seed=s, dtype=F64) for s in seeds]
    torch.testing.assert_close(Ensemble.from_modules(modules)(x), shared)
    with pytest.raises(ConfigError, match="cannot be stacked"):
        Ensemble.from_modules([modules[0], EquivariantMLP((nat, hid, tri), "relu", True, kind, dtype=F64)])
    sub = ens[[2, 0]]
    assert sub.K == 2 and sub.seeds.tolist() == [1, 4]
    assert torch.equal(sub.coords[0][1], ens.coords[0][0])


def test_ensemble_conversions_keep_the_function() -> None:
    ens = Ensemble.init(_s3_arch(bias=True), range(4), "orbit")
    x = torch.randn(6, 3, dtype=F64)
    free = ens.to_free()
    assert torch.equal(free(x), ens(x))
    back = free.reparametrize("orthonormal")
    torch.testing.assert_close(back(x), ens(x))
    assert ens.to(torch.float32).dtype == torch.float32
    full = Ensemble.from_full(ens.arch, ens.full(), "projected")
    torch.testing.assert_close(full(x), ens(x))
    with pytest.raises(ConfigError, match="tensor 0"):
        Ensemble.from_full(ens.arch, [torch.randn(4, 3, 3), *ens.full()[1:]], "orbit")


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "identity"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shared", [True, False])
def test_hand_written_backward_equals_autograd(activation: str, bias: bool, shared: bool) -> None:
    """Loss and gradients (full tensors and coordinates) against autograd of the modules, for a
    3-layer model with an output of width > 1 (shared and per-model batches)."""
    nat, hid, _ = _reps("S3", "regular")
    arch = MLPArchitecture((nat, hid, nat, nat), activation, bias)
    K, B = 3, 11
    ens = Ensemble.init(arch, range(K), "orbit")
    with torch.no_grad():
        for c in ens.coords:
            c.add_(0.1 * torch.randn_like(c))
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(B, 3, dtype=F64, generator=gen) if shared else torch.randn(K, B, 3, dtype=F64, generator=gen)
    y = torch.randn(*x.shape[:-1], 3, dtype=F64, generator=gen)
    loss, grads = ens.loss_and_grad(x, y)
    weights, biases = arch.split(ens.full())
    loss_full, gw, gb = mlp_loss_and_grad(weights, biases, x, y, activation)
    torch.testing.assert_close(loss, loss_full)
    # the loss alone (no gradient), with and without a workspace, is the same loss
    xt, yt = as_samples_last(x), as_samples_last(y)
    torch.testing.assert_close(loss_t(weights, biases, xt, yt, activation), loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(loss_t(weights, biases, xt, yt, activation, Workspace()), loss, rtol=1e-12, atol=0)
    outputs = mlp_forward(weights, biases, x, activation)
    for k in range(K):
        module = ens.module(k)
        xk, yk = (x, y) if shared else (x[k], y[k])
        ref = torch.nn.functional.mse_loss(module(xk), yk)
        ref.backward()
        torch.testing.assert_close(loss[k], ref)
        torch.testing.assert_close(outputs[k], module(xk))
        for g, c in zip(grads, module.coordinates(), strict=True):
            torch.testing.assert_close(g[k], c.grad, rtol=1e-10, atol=1e-12)
        full = [t.detach().requires_grad_() for t in module.full()]
        w_k, b_k = arch.split(full)
        h = xk
        for layer, W in enumerate(w_k):
            h = h @ W.T + (b_k[layer] if b_k is not None else 0)
            if layer < len(w_k) - 1:
                h = {"relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu}.get(
                    activation, lambda t: t
                )(h)
        torch.nn.functional.mse_loss(h, yk).backward()
        for g, t in zip(arch.join(gw, gb), full, strict=True):
            torch.testing.assert_close(g[k], t.grad, rtol=1e-10, atol=1e-12)
