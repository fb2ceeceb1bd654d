"""Tests of eqlandscape.landscape: the functional loss, exact and restricted Hessians, matrix-free spectra,
the closed-form population loss and the classification of critical points.

Oracles, all written here: the trainer's hand-written kernel (``loss_and_grad_t``); a plain
``torch.nn.functional`` network with ``torch.nn`` losses and autograd; central finite differences of
autograd gradients; ``torch.autograd.functional.hessian`` of ``EquivariantMLP`` modules in their own
coordinates; dense ``rho(g)`` matrices acting on inputs and on the flattened weights; dense NumPy
eigendecompositions; a Monte Carlo estimate with its standard error.
"""

from __future__ import annotations

from functools import partial
from itertools import pairwise

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from scipy.sparse.linalg import aslinearoperator
from torch import nn

from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.landscape import (
    LOSSES,
    arccos_kernel,
    augment,
    augmented_hessian,
    block_basis,
    classify_critical_point,
    extreme_eigenvalues,
    flatten,
    hessian,
    hessian_operator,
    hutchinson_trace,
    hvp,
    loss,
    named,
    orthogonal_complement,
    plot_spectrum,
    population_gradient,
    population_hessian,
    population_loss,
    restrict,
    spectral_density,
    unflatten,
)
from eqlandscape.nn import KINDS, EquivariantMLP, MLPArchitecture
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS, as_samples_last, loss_and_grad_t
from eqlandscape.reps import natural, regular, trivial
from eqlandscape.symmetry import fixed_point_subspace, swap

# torch emits this when forward-mode AD first loads its decompositions; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

F64 = torch.float64
ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "identity": nn.Identity}
ARCHS = (((3, 5, 2), True), ((3, 4, 3, 2), False), ((2, 3, 4, 3), True))  # (widths, bias)


# ---------------------------------------------------------------------- helpers and oracles
def _model(widths: tuple[int, ...], bias: bool, K: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random full tensors (leading ``K`` when given), entries of scale ``1/sqrt(fan_in)``."""
    gen = torch.Generator().manual_seed(seed)
    lead = () if K is None else (K,)
    out = {}
    for layer, (n_in, n_out) in enumerate(pairwise(widths)):
        out[f"W{layer}"] = torch.randn(*lead, n_out, n_in, generator=gen, dtype=F64) / n_in**0.5
        if bias:
            out[f"b{layer}"] = 0.3 * torch.randn(*lead, n_out, generator=gen, dtype=F64)
    return out


def _data(criterion: str, n_in: int, n_out: int, B: int = 24, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, n_in, generator=gen, dtype=F64)
    if criterion == "cross_entropy":
        return x, torch.randint(0, n_out, (B,), generator=gen)
    if criterion == "bce":
        return x, torch.rand(B, n_out, generator=gen, dtype=F64)
    return x, torch.randn(B, n_out, generator=gen, dtype=F64)


def _reference_loss(
    weights: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, activation: str, criterion: str
) -> torch.Tensor:
    """The loss of one model by ``torch.nn`` building blocks."""
    act = ACTIVATION_MODULES[activation]()
    n_layers = sum(1 for k in weights if k.startswith("W"))
    h = x
    for layer in range(n_layers):
        h = nn.functional.linear(h, weights[f"W{layer}"], weights.get(f"b{layer}"))
        if layer < n_layers - 1:
            h = act(h)
    criteria = {"mse": nn.MSELoss(), "bce": nn.BCEWithLogitsLoss(), "cross_entropy": nn.CrossEntropyLoss()}
    return criteria[criterion](h, y)


def _reference_grad(flat: torch.Tensor, like: dict, x, y, activation: str, criterion: str) -> torch.Tensor:
    theta = flat.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_reference_loss(unflatten(theta, like), x, y, activation, criterion), theta)
    return grad


def _finite_difference_hessian(grad, theta: torch.Tensor, step: float = 1e-6) -> torch.Tensor:
    """Central differences of the gradient along every coordinate, symmetrized."""
    cols = [(grad(theta + step * e) - grad(theta - step * e)) / (2 * step) for e in torch.eye(theta.numel(), dtype=F64)]
    H = torch.stack(cols, dim=1)
    return (H + H.T) / 2


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _perm_matrix(p: np.ndarray) -> np.ndarray:
    """``rho(p)[p[i], i] = 1``."""
    m = np.zeros((p.size, p.size))
    m[p, np.arange(p.size)] = 1.0
    return m


def _weight_action(arch: MLPArchitecture, g: int) -> np.ndarray:
    """``G`` on the flat weights: ``W_l -> R_{l+1} W_l R_l^T``, ``b_l -> R_{l+1} b_l`` (``R = rho(g)``);
    row-major ``vec(A W B^T) = (A kron B) vec(W)``."""
    mats = [_perm_matrix(np.asarray(r.perms[g])) for r in arch.reps]
    blocks = []
    for layer in range(arch.n_layers):
        blocks.append(np.kron(mats[layer + 1], mats[layer]))
        if arch.bias:
            blocks.append(mats[layer + 1])
    size = sum(b.shape[0] for b in blocks)
    out, at = np.zeros((size, size)), 0
    for b in blocks:
        out[at : at + b.shape[0], at : at + b.shape[0]] = b
        at += b.shape[0]
    return out


def _module_hessian(module: EquivariantMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Hessian of the MSE of an ``EquivariantMLP`` in its own coordinates (autograd, no landscape code)."""
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    sizes = [p.numel() for _, p in module.named_parameters()]

    def f(theta: torch.Tensor) -> torch.Tensor:
        parts = dict(zip(names, (t.reshape(s) for t, s in zip(theta.split(sizes), shapes, strict=True)), strict=True))
        return nn.functional.mse_loss(torch.func.functional_call(module, parts, (x,)), y)

    theta = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    return torch.autograd.functional.hessian(f, theta)


def _equivariant_setup(activation: str):
    """``S3``, ``natural -> regular -> trivial`` with biases, a random point of ``E`` (full tensors) and
    inputs with ``G``-invariant targets (a symmetric function of ``x``)."""
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), regular(G), trivial(G)), activation, True)
    point = [torch.as_tensor(t[0]) for t in arch.init_full([5])]
    point[1] = point[1] + 0.2  # a nonzero equivariant (constant) bias
    point[3] = point[3] - 0.1
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(10, 3, generator=gen, dtype=F64)
    y = torch.relu(x).sum(dim=1, keepdim=True) - x.abs().max(dim=1, keepdim=True).values
    return arch, point, x, y


# ---------------------------------------------------------------------- the functional core
@pytest.mark.parametrize("activation", list(ACTIVATION_FUNCTIONS))
@pytest.mark.parametrize(("widths", "bias"), ARCHS)
def test_loss_and_gradient_equal_the_trainer_kernel(activation: str, widths: tuple[int, ...], bias: bool) -> None:
    """vmap(loss) and vmap(grad(loss)) equal the hand-written batched MSE kernel of the trainer."""
    K = 4
    coords = _model(widths, bias, K)
    x, y = _data("mse", widths[0], widths[-1])
    value = torch.func.vmap(loss, in_dims=(0, None, None))(coords, x, y, activation=activation)
    grads = torch.func.vmap(torch.func.grad(loss), in_dims=(0, None, None))(coords, x, y, activation=activation)
    weights = [coords[f"W{i}"] for i in range(len(widths) - 1)]
    biases = [coords[f"b{i}"] for i in range(len(widths) - 1)] if bias else None
    ref, grad_w, grad_b = loss_and_grad_t(weights, biases, as_samples_last(x), as_samples_last(y), activation)
    torch.testing.assert_close(value, ref, rtol=1e-12, atol=1e-14)
    for i, g in enumerate(grad_w):
        torch.testing.assert_close(grads[f"W{i}"], g, rtol=1e-10, atol=1e-13)
    for i, g in enumerate(grad_b or []):
        torch.testing.assert_close(grads[f"b{i}"], g, rtol=1e-10, atol=1e-13)


def test_reference_network_covers_every_activation() -> None:
    assert set(ACTIVATION_MODULES) == set(ACTIVATION_FUNCTIONS)


@pytest.mark.parametrize("criterion", [*LOSSES, "cross_entropy_probabilities"])
@pytest.mark.parametrize("activation", list(ACTIVATION_FUNCTIONS))
def test_loss_and_gradient_equal_a_torch_module(criterion: str, activation: str) -> None:
    """``loss`` and its gradient equal an ``nn.Sequential`` with the ``torch.nn`` loss, by autograd."""
    widths = (3, 5, 4)
    coords = _model(widths, True)
    name = "cross_entropy" if criterion.startswith("cross_entropy") else criterion
    x, y = _data(name, 3, 4)
    if criterion == "cross_entropy_probabilities":
        y = torch.softmax(torch.randn(x.shape[0], 4, generator=torch.Generator().manual_seed(9), dtype=F64), dim=1)
    module = nn.Sequential(nn.Linear(3, 5), ACTIVATION_MODULES[activation](), nn.Linear(5, 4)).double()
    with torch.no_grad():
        for i, layer in enumerate((module[0], module[2])):
            layer.weight.copy_(coords[f"W{i}"])
            layer.bias.copy_(coords[f"b{i}"])
    criteria = {"mse": nn.MSELoss(), "bce": nn.BCEWithLogitsLoss(), "cross_entropy": nn.CrossEntropyLoss()}
    ref = criteria[name](module(x), y)
    ref.backward()
    value, grads = (
        loss(coords, x, y, activation=activation, criterion=name),
        torch.func.grad(loss)(coords, x, y, activation=activation, criterion=name),
    )
    torch.testing.assert_close(value, ref.detach(), rtol=1e-12, atol=1e-14)
    for i, layer in enumerate((module[0], module[2])):
        torch.testing.assert_close(grads[f"W{i}"], layer.weight.grad, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(grads[f"b{i}"], layer.bias.grad, rtol=1e-10, atol=1e-13)


def test_torch_func_transforms_compose_with_the_loss() -> None:
    """grad, jvp, hessian and vmap of ``loss`` on a named mapping agree with each other and with a loop."""
    coords = _model((3, 4, 2), True)
    x, y = _data("mse", 3, 2)
    grad = torch.func.grad(loss)(coords, x, y, activation="tanh")
    direction = {k: torch.randn_like(v) for k, v in coords.items()}
    _, slope = torch.func.jvp(lambda c: loss(c, x, y, activation="tanh"), (coords,), (direction,))
    torch.testing.assert_close(slope, sum((grad[k] * direction[k]).sum() for k in coords))
    nested = torch.func.hessian(partial(loss, activation="tanh"))(coords, x, y)  # dict of dicts
    rows = [torch.cat([nested[a][b].reshape(coords[a].numel(), -1) for b in coords], dim=1) for a in coords]
    ours = hessian({k: v[None] for k, v in coords.items()}, x, y, activation="tanh")[0]
    torch.testing.assert_close(torch.cat(rows), ours, rtol=1e-10, atol=1e-12)
    stacked = _model((3, 4, 2), True, K=3, seed=4)
    batched = torch.func.vmap(torch.func.grad(loss), in_dims=(0, None, None))(stacked, x, y)
    for k in range(3):
        one = torch.func.grad(loss)({n: t[k] for n, t in stacked.items()}, x, y)
        torch.testing.assert_close(flatten(one), flatten(batched, 1)[k])


# ---------------------------------------------------------------------- exact Hessians
@pytest.mark.parametrize("criterion", list(LOSSES))
@pytest.mark.parametrize("activation", list(ACTIVATION_FUNCTIONS))
@pytest.mark.parametrize(("widths", "bias"), ARCHS)
def test_hessian_matches_finite_differences(criterion: str, activation: str, widths: tuple, bias: bool) -> None:
    """Relative error below 1e-5 against central differences of a ``torch.nn`` autograd gradient."""
    coords = _model(widths, bias, K=2, seed=2)
    x, y = _data(criterion, widths[0], widths[-1])
    H = hessian(coords, x, y, activation=activation, criterion=criterion)
    assert H.shape == (2, flatten(coords, 1).shape[1], flatten(coords, 1).shape[1])
    for k in range(2):
        one = {n: t[k] for n, t in coords.items()}
        fd = _finite_difference_hessian(
            lambda t, one=one: _reference_grad(t, one, x, y, activation, criterion), flatten(one)
        )
        assert _rel_err(H[k], fd) < 1e-5
        torch.testing.assert_close(H[k], H[k].T, rtol=0, atol=1e-12 * float(H[k].abs().max()))


def test_batched_hessians_equal_one_at_a_time() -> None:
    coords = _model((4, 6, 3, 2), True, K=5, seed=7)
    x, y = _data("cross_entropy", 4, 2)
    together = hessian(coords, x, y, activation="gelu", criterion="cross_entropy", chunk=2)
    for k in range(5):
        alone = hessian(
            {n: t[k : k + 1] for n, t in coords.items()}, x, y, activation="gelu", criterion="cross_entropy"
        )
        torch.testing.assert_close(together[k], alone[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_hessian_in_parametrization_coordinates(kind: str) -> None:
    """With ``params`` the Hessian is the one of the module in its own coordinates (autograd oracle)."""
    G = group_from_name("S3")
    reps = (natural(G), regular(G), trivial(G))
    modules = [EquivariantMLP(reps, "tanh", True, kind, seed=s, dtype=F64) for s in (0, 1)]
    for m in modules:
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.1 * torch.randn_like(p))
    x, y = _data("mse", 3, 1)
    coords = named([torch.stack(cs) for cs in zip(*(m.coordinates() for m in modules), strict=True)], True)
    params = named(list(modules[0].parametrizations), True)
    H = hessian({k: v.detach() for k, v in coords.items()}, x, y, activation="tanh", params=params)
    for k, m in enumerate(modules):
        torch.testing.assert_close(H[k], _module_hessian(m, x, y), rtol=1e-9, atol=1e-12)


def test_restricted_hessians_are_projections_of_the_full_one() -> None:
    """``basis H basis^T`` for E, E-perp, E ∩ Fix((0 1)) and one layer's block; each equals the second
    derivative along the subspace, ``d^2/dt^2 L(theta + t basis)`` (autograd on the reference network)."""
    arch, point, x, y = _equivariant_setup("relu")
    coords = {k: v[None] for k, v in named(point, True).items()}
    H = hessian(coords, x, y)[0]
    E = fixed_point_subspace(arch, []).orthonormal()
    fix = fixed_point_subspace(arch, [swap(arch, 1, 0, 1)]).orthonormal()
    layer = block_basis(coords, ["W1", "b1"], batch_dims=1)
    theta = flatten(named(point, True))
    for basis in (E, orthogonal_complement(E), fix, layer):
        B = torch.as_tensor(basis)
        restricted = hessian(coords, x, y, basis=basis)[0]
        torch.testing.assert_close(restricted, B @ H @ B.T, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(restrict(H, basis), restricted, rtol=1e-10, atol=1e-12)
        along = torch.autograd.functional.hessian(
            lambda t, B=B: _reference_loss(unflatten(theta + t @ B, named(point, True)), x, y, "relu", "mse"),
            torch.zeros(B.shape[0], dtype=F64),
        )
        torch.testing.assert_close(restricted, along, rtol=1e-9, atol=1e-12)
    n1 = arch.widths[1] * arch.widths[0] + arch.widths[1]  # W0 and b0 come first
    torch.testing.assert_close(restrict(H, layer), H[n1:, n1:])
    assert (
        np.allclose(orthogonal_complement(E) @ E.T, 0) and orthogonal_complement(E).shape[0] == H.shape[0] - E.shape[0]
    )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_augmented_hessian_at_an_equivariant_point(activation: str) -> None:
    """On data closed under G (all rho_in(g) x stacked), at a point of E: the augmented Hessian equals the
    average of per-element Hessians, commutes with G on the weights, keeps E and E-perp apart, and its
    E block is the Hessian of the constrained model in orthonormal coordinates."""
    arch, point, x0, y0 = _equivariant_setup(activation)
    mats = arch.rep_in.matrices()
    x = torch.cat([x0 @ torch.as_tensor(m).T for m in mats])  # rows rho_in(g) x_b
    y = y0.repeat(len(mats), 1)  # trivial output rep
    coords = {k: v[None] for k, v in named(point, True).items()}
    H_aug = augmented_hessian(coords, x, y, arch.rep_in, arch.rep_out, activation=activation)[0]
    per_element = [hessian(coords, x @ torch.as_tensor(m).T, y, activation=activation)[0] for m in mats]
    torch.testing.assert_close(H_aug, torch.stack(per_element).mean(0), rtol=1e-10, atol=1e-12)
    plain = hessian(coords, x, y, activation=activation)[0]  # the data are closed: the same risk
    torch.testing.assert_close(H_aug, plain, rtol=1e-10, atol=1e-12)
    for g in range(arch.rep_in.group.order):
        T = torch.as_tensor(_weight_action(arch, g))
        torch.testing.assert_close(T @ H_aug @ T.T, H_aug, rtol=1e-10, atol=1e-12)
    E = torch.as_tensor(fixed_point_subspace(arch, []).orthonormal())
    perp = torch.as_tensor(orthogonal_complement(E))
    assert float((E @ H_aug @ perp.T).abs().max()) < 1e-10 * float(H_aug.abs().max())
    module = EquivariantMLP(arch.reps, activation, True, "orthonormal", initial=point, dtype=F64)
    torch.testing.assert_close(E @ H_aug @ E.T, _module_hessian(module, x, y), rtol=1e-9, atol=1e-12)


def test_augment_transforms_inputs_and_labels() -> None:
    G = group_from_name("C4")
    nat = natural(G)
    x = torch.arange(8, dtype=F64).reshape(2, 4)
    labels = torch.tensor([0, 3])
    x_aug, y_aug = augment(x, labels, nat, nat)
    mats = nat.matrices()
    for g in range(G.order):
        for b in range(2):
            torch.testing.assert_close(x_aug[g * 2 + b], torch.as_tensor(mats[g]) @ x[b])
            assert int(y_aug[g * 2 + b]) == int(np.argmax(mats[g][:, int(labels[b])]))  # rho(g) e_y = e_{p[y]}


# ---------------------------------------------------------------------- matrix-free spectra
def _medium_problem():
    coords = _model((6, 12, 2), True, seed=11)
    x, y = _data("mse", 6, 2, B=40)
    H = hessian({k: v[None] for k, v in coords.items()}, x, y, activation="tanh")[0]
    return coords, x, y, H


def test_hvp_and_operators_match_the_exact_hessian() -> None:
    coords, x, y, H = _medium_problem()
    v = torch.randn(H.shape[0], dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(hvp(coords, x, y, v, activation="tanh"), H @ v, rtol=1e-10, atol=1e-12)
    op = hessian_operator(coords, x, y, activation="tanh")
    np.testing.assert_allclose(op.matvec(v.numpy()), (H @ v).numpy(), rtol=1e-10, atol=1e-12)
    basis = block_basis(coords, ["W1"])
    sub = hessian_operator(coords, x, y, activation="tanh", basis=basis)
    w = np.arange(basis.shape[0], dtype=np.float64)
    np.testing.assert_allclose(sub.matvec(w), restrict(H, basis).numpy() @ w, rtol=1e-10, atol=1e-12)


def test_lanczos_extreme_eigenvalues_match_dense_ones() -> None:
    coords, x, y, H = _medium_problem()
    exact = np.linalg.eigvalsh(H.numpy())
    op = hessian_operator(coords, x, y, activation="tanh")
    top, vectors = extreme_eigenvalues(op, 4, which="largest")
    np.testing.assert_allclose(top, exact[-4:], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(H.numpy() @ vectors, vectors * top, atol=1e-7)
    bottom, _ = extreme_eigenvalues(op, 3, which="smallest")
    np.testing.assert_allclose(bottom, exact[:3], rtol=1e-8, atol=1e-10)
    both, _ = extreme_eigenvalues(op, 4, which="both")
    np.testing.assert_allclose(both, np.concatenate([exact[:2], exact[-2:]]), rtol=1e-8, atol=1e-10)


def test_hutchinson_trace() -> None:
    diagonal = np.linspace(-1.0, 3.0, 50)
    estimate, error = hutchinson_trace(aslinearoperator(np.diag(diagonal)), samples=5)
    assert estimate == pytest.approx(diagonal.sum(), abs=1e-12) and error == pytest.approx(0.0, abs=1e-12)
    coords, x, y, H = _medium_problem()
    estimate, error = hutchinson_trace(hessian_operator(coords, x, y, activation="tanh"), samples=200, seed=1)
    assert 0 < error and abs(estimate - float(torch.trace(H))) < 4 * error


def test_stochastic_lanczos_quadrature() -> None:
    """Gauss quadrature: sum_i w_i theta_i^p = v^T H^p v / |v|^2 for p < 2m; with m = P the nodes are the
    eigenvalues; the smoothed density integrates to 1."""
    coords, x, y, H = _medium_problem()
    Hn = H.numpy()
    op = hessian_operator(coords, x, y, activation="tanh")
    start = np.random.default_rng(0).standard_normal((1, Hn.shape[0]))
    m = 10
    sld = spectral_density(op, steps=m, probes=start)
    v = start[0] / np.linalg.norm(start[0])
    for p in range(2 * m):
        exact = v @ np.linalg.matrix_power(Hn, p) @ v
        assert sld.moment(p) == pytest.approx(exact, rel=1e-6, abs=1e-9 * np.abs(Hn).max() ** p)
    full = spectral_density(aslinearoperator(np.diag(np.arange(1.0, 9.0))), steps=8, probes=3)
    np.testing.assert_allclose(np.sort(full.nodes, axis=1), np.tile(np.arange(1.0, 9.0), (3, 1)), atol=1e-10)
    np.testing.assert_allclose(full.weights.sum(axis=1), 1.0)
    grid = np.linspace(-5, 15, 4001)
    assert np.trapezoid(full.density(grid, 0.3), grid) == pytest.approx(1.0, abs=1e-6)


def test_plot_spectrum_returns_a_figure() -> None:
    coords, x, y, H = _medium_problem()
    sld = spectral_density(hessian_operator(coords, x, y, activation="tanh"), steps=12, probes=2)
    fig = plot_spectrum(torch.linalg.eigvalsh(H), sld)
    assert isinstance(fig, Figure)
    assert [line.get_label()[:3] for line in fig.axes[0].lines if line.get_label()[0] != "_"] == ["SLQ"]
    assert fig.axes[0].get_yscale() == "log"
    import matplotlib.pyplot as plt

    plt.close(fig)


# ---------------------------------------------------------------------- population loss
def _teacher_student(seed: int = 0) -> tuple[dict, dict]:
    gen = torch.Generator().manual_seed(seed)
    student = {"W0": torch.randn(4, 3, generator=gen, dtype=F64), "W1": torch.randn(2, 4, generator=gen, dtype=F64)}
    teacher = {"W0": torch.randn(3, 3, generator=gen, dtype=F64), "W1": torch.randn(2, 3, generator=gen, dtype=F64)}
    return student, teacher


def test_population_loss_matches_monte_carlo() -> None:
    student, teacher = _teacher_student()
    x = torch.randn(10**6, 3, generator=torch.Generator().manual_seed(5), dtype=F64)

    def f(m: dict) -> torch.Tensor:
        return torch.relu(x @ m["W0"].T) @ m["W1"].T

    errors = ((f(student) - f(teacher)) ** 2).mean(dim=1)  # mean over outputs, one value per sample
    mean, stderr = float(errors.mean()), float(errors.std() / np.sqrt(errors.numel()))
    assert abs(float(population_loss(student, teacher)) - mean) < 4 * stderr
    kernel = arccos_kernel(student["W0"], teacher["W0"])
    mc = (torch.relu(x @ student["W0"].T).T @ torch.relu(x @ teacher["W0"].T)) / x.shape[0]
    torch.testing.assert_close(kernel, mc, rtol=0, atol=0.02)
    u = student["W0"][:1]
    assert float(arccos_kernel(u, u)) == pytest.approx(float(u @ u.T) / 2)
    assert float(arccos_kernel(u, -u)) == pytest.approx(0.0, abs=1e-12)


def _fd_population(student: dict, teacher: dict, step: float) -> tuple[torch.Tensor, torch.Tensor]:
    theta = flatten(student)
    eye = torch.eye(theta.numel(), dtype=F64)
    value = [
        (
            population_loss(unflatten(theta + step * e, student), teacher)
            - population_loss(unflatten(theta - step * e, student), teacher)
        )
        / (2 * step)
        for e in eye
    ]
    grads = [
        (
            population_gradient(unflatten(theta + step * e, student), teacher)
            - population_gradient(unflatten(theta - step * e, student), teacher)
        )
        / (2 * step)
        for e in eye
    ]
    return torch.stack(value), torch.stack(grads, dim=1)


def test_population_derivatives_match_finite_differences() -> None:
    student, teacher = _teacher_student()
    fd_grad, fd_hess = _fd_population(student, teacher, 1e-5)
    assert _rel_err(population_gradient(student, teacher), fd_grad) < 1e-8
    assert _rel_err(population_hessian(student, teacher), fd_hess) < 1e-6
    # at the teacher (t = 0 for matched neurons): zero loss and gradient, a finite PSD Hessian
    at_teacher = {k: v.clone() for k, v in teacher.items()}
    assert float(population_loss(at_teacher, teacher)) == pytest.approx(0.0, abs=1e-12)
    assert float(population_gradient(at_teacher, teacher).abs().max()) < 1e-12
    H = population_hessian(at_teacher, teacher)
    assert _rel_err(H, _fd_population(at_teacher, teacher, 1e-7)[1]) < 1e-5
    assert float(torch.linalg.eigvalsh(H).min()) > -1e-10
    # an antiparallel pair (t = pi) and a dead neuron (u = 0) keep the derivatives finite
    anti = {"W0": torch.cat([-teacher["W0"][:1], student["W0"][1:]]), "W1": student["W1"]}
    assert _rel_err(population_hessian(anti, teacher), _fd_population(anti, teacher, 1e-6)[1]) < 1e-5
    dead = {"W0": torch.cat([torch.zeros(1, 3, dtype=F64), student["W0"][1:]]), "W1": student["W1"]}
    assert population_gradient(dead, teacher).isfinite().all() and population_hessian(dead, teacher).isfinite().all()


# ---------------------------------------------------------------------- critical points
def test_classify_constructed_saddle_and_minimum() -> None:
    """A deep linear network at the origin (target != 0) is a saddle; a linear model is a strict minimum;
    the population loss at the teacher is a degenerate minimum (ReLU rescalings are flat)."""
    x, y = _data("mse", 3, 2)
    origin = {"W0": torch.zeros(1, 4, 3, dtype=F64), "W1": torch.zeros(1, 2, 4, dtype=F64)}
    saddle = classify_critical_point(hessian(origin, x, y, activation="identity")[0], tol=1e-9)
    assert saddle.verdict == "saddle" and saddle.index >= 1
    w_star = torch.linalg.lstsq(x, y).solution.T  # the least-squares minimum of a linear model
    minimum = classify_critical_point(hessian({"W0": w_star[None]}, x, y)[0], tol=1e-9)
    assert (minimum.verdict, minimum.index, minimum.zeros) == ("minimum", 0, 0)
    _, teacher = _teacher_student()
    flat = classify_critical_point(population_hessian(teacher, teacher), tol=1e-8)
    assert flat.verdict == "degenerate" and flat.index == 0 and flat.zeros >= 3
    by_values = classify_critical_point(np.array([-2.0, 0.0, 1.0]), tol=0.5)
    assert (by_values.index, by_values.zeros, by_values.verdict) == (1, 1, "saddle")


# ---------------------------------------------------------------------- bad input
def test_bad_input_raises_config_error_naming_the_value() -> None:
    coords = _model((3, 4, 2), True, K=2)
    one = {k: v[0] for k, v in coords.items()}
    x, y = _data("mse", 3, 2)
    P = flatten(one).numel()
    with pytest.raises(ConfigError, match=r"W1 has shape \(2, 2, 5\)"):
        hessian(coords | {"W1": torch.zeros(2, 2, 5, dtype=F64)}, x, y)
    with pytest.raises(ConfigError, match=r"got keys \['W0', 'W1', 'b0'\]"):
        hessian({k: v for k, v in coords.items() if k != "b1"}, x, y)
    with pytest.raises(ConfigError, match=r"x has shape \(24, 5\)"):
        hessian(coords, torch.zeros(24, 5, dtype=F64), y)
    with pytest.raises(ConfigError, match=r"targets y have shape \(24, 3\)"):
        hessian(coords, x, torch.zeros(24, 3, dtype=F64))
    with pytest.raises(ConfigError, match=r"basis has shape \(3, 7\)"):
        hessian(coords, x, y, basis=np.zeros((3, 7)))
    with pytest.raises(ConfigError, match=r"basis has shape \(2, 5\)"):
        restrict(torch.eye(P, dtype=F64), np.zeros((2, 5)))
    with pytest.raises(ConfigError, match=rf"vector has shape \({P + 1},\)"):
        hvp(one, x, y, torch.zeros(P + 1, dtype=F64))
    with pytest.raises(ConfigError, match=r"basis has shape \(4,\)"):
        hessian_operator(one, x, y, basis=np.zeros(4))
    with pytest.raises(ConfigError, match=r"unknown criterion 'hinge'"):
        hessian(coords, x, y, criterion="hinge")
    with pytest.raises(ConfigError, match=r"unknown activation 'swish'"):
        loss(one, x, y, activation="swish")
    with pytest.raises(ConfigError, match=r"chunk=0"):
        hessian(coords, x, y, chunk=0)
    with pytest.raises(ConfigError, match=r"labels y of shape \(24,\) must be \(24,\) with values in 0..1"):
        hessian(coords, x, torch.full((24,), 2), criterion="cross_entropy")
    op = hessian_operator(one, x, y)
    for tol in (0, -1e-3, float("nan")):
        with pytest.raises(ConfigError, match=rf"tol={tol}"):
            classify_critical_point(np.eye(3), tol=tol)
        with pytest.raises(ConfigError, match=rf"tol={tol}"):
            extreme_eigenvalues(op, 2, tol=tol)
    with pytest.raises(ConfigError, match=r"not symmetric"):
        classify_critical_point(np.triu(np.ones((3, 3))), tol=1e-6)
    with pytest.raises(ConfigError, match=rf"k={P}"):
        extreme_eigenvalues(op, P)
    with pytest.raises(ConfigError, match=r"which='middle'"):
        extreme_eigenvalues(op, 2, which="middle")
    with pytest.raises(ConfigError, match=r"samples=1"):
        hutchinson_trace(op, samples=1)
    with pytest.raises(ConfigError, match=r"probes of shape \(2, 3\)"):
        spectral_density(op, probes=np.ones((2, 3)))
    with pytest.raises(ConfigError, match=r"linearly dependent"):
        orthogonal_complement(np.ones((2, 4)))
    with pytest.raises(ConfigError, match=r"\['W2'\]"):
        block_basis(one, ["W2"])
    with pytest.raises(ConfigError, match=r"without biases \(W0, W1\), got \['W0', 'b0', 'W1', 'b1'\]"):
        population_loss(one, one)
    with pytest.raises(ConfigError, match=r"W0 has shape \(2, 4, 3\): forward and loss take one model"):
        loss(coords, x, y)
    with pytest.raises(ConfigError, match=r"neither|needs eigenvalues"):
        plot_spectrum()


def test_spectrum_ends_with_a_large_null_space() -> None:
    """A symmetric matrix with two negative eigenvalues, a 300-fold zero and 50 positive ones (the shape of
    a Gauss-Newton Hessian of few samples, where ARPACK's smallest eigenvalues do not converge): the
    largest are exact, the smallest Ritz values find the negative ones and lie above the eigenvalues of
    their rank (interlacing)."""
    from scipy.sparse.linalg import aslinearoperator

    from eqlandscape.landscape import spectrum_ends

    rng = np.random.default_rng(0)
    values = np.concatenate([[-2.0, -0.5], np.zeros(300), np.linspace(1.0, 10.0, 50)])
    Q, _ = np.linalg.qr(rng.standard_normal((values.size, values.size)))
    A = (Q * values) @ Q.T
    low, high = spectrum_ends(aslinearoperator(A), 5)
    np.testing.assert_allclose(high, np.sort(values)[-5:], rtol=1e-8)
    np.testing.assert_allclose(low[:2], [-2.0, -0.5], atol=1e-8)
    assert np.all(low >= np.sort(values)[:5] - 1e-9) and low.shape == (5,)
    with pytest.raises(ConfigError, match="k=352"):
        spectrum_ends(aslinearoperator(A), 352)
