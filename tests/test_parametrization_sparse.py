"""The gather form of the ``orbit``, ``orthonormal`` and masked ``free`` parametrizations
(:mod:`eqlandscape.nn.parametrization`) against dense matrices built here from the orbit labels.

Oracles: ``Phi`` written entry by entry from the labels (indicators, or indicators over
``sqrt(size)``), its pseudo-inverse by ``numpy.linalg.pinv``, the products ``theta @ Phi``,
``G @ Phi^T``, ``W @ pinv`` by BLAS; the orbit averaging of :class:`OrbitBasis` for the projections.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlandscape.equivariant import OrbitBasis, bias_basis, equivariant_basis
from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name, symmetric
from eqlandscape.nn import make_parametrization
from eqlandscape.nn.parametrization import DENSE_LIMIT
from eqlandscape.reps import direct_sum, natural, regular, trivial

F64 = torch.float64
GROUPS = ("C2", "C3", "S3", "C4", "D4", "K4", "A4", "S4", "C5", "D5")


def _oracle(labels: np.ndarray, dim: int, orthonormal: bool) -> tuple[np.ndarray, np.ndarray]:
    """``Phi`` (``dim``, N) with ``Phi[labels[a], a] = 1`` (or ``1/sqrt(size)``), and its pseudo-inverse."""
    phi = np.zeros((dim, labels.size))
    for a, d in enumerate(labels):
        if d >= 0:
            phi[d, a] = 1.0
    if orthonormal:
        phi = phi / np.sqrt(np.maximum(phi.sum(axis=1, keepdims=True), 1))
    return phi, np.linalg.pinv(phi) if dim else np.zeros((labels.size, 0))


def _check_against_dense(p, labels: np.ndarray, orthonormal: bool, seed: int) -> None:
    phi, pinv = _oracle(labels, p.dim, orthonormal)
    assert p.phi.shape == phi.shape and np.allclose(p.phi, phi, rtol=1e-15, atol=0)
    np.testing.assert_allclose(p.pinv, pinv, rtol=1e-12, atol=1e-14)
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(3, p.dim, generator=gen, dtype=F64)
    full = torch.randn(3, *p.shape, generator=gen, dtype=F64)
    flat = full.reshape(3, -1)
    tol = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(p.to_full(theta).reshape(3, -1), theta @ torch.as_tensor(phi), **tol)
    torch.testing.assert_close(p.to_full(theta, full).reshape(3, -1), flat + theta @ torch.as_tensor(phi), **tol)
    torch.testing.assert_close(p.pullback(full), flat @ torch.as_tensor(phi).T, **tol)
    torch.testing.assert_close(p.from_full(full), flat @ torch.as_tensor(pinv), **tol)
    # onto: the orthogonal projection onto the image (phi^T pinv^T ... = pinv phi as a projector)
    projector = torch.as_tensor(pinv @ phi)
    torch.testing.assert_close(p.onto(full).reshape(3, -1), flat @ projector.T, **tol)
    inside = p.to_full(theta)
    assert bool(p.contains(inside).all()) and torch.equal(p.onto(inside), inside)
    assert not bool(p.contains(full).any()) or p.dim == p.numel


@st.composite
def _partitions(draw) -> OrbitBasis:
    """An arbitrary partition of the entries of a small matrix or vector into orbits."""
    shape = draw(st.sampled_from([(1,), (5,), (2, 3), (4, 4), (3, 7)]))
    n = int(np.prod(shape))
    k = draw(st.integers(1, n))
    rest = draw(st.lists(st.integers(0, k - 1), min_size=n - k, max_size=n - k))
    order = draw(st.permutations(list(range(n))))
    labels = np.array(list(range(k)) + rest)[np.array(order)]
    return OrbitBasis(labels.reshape(shape), np.bincount(labels, minlength=k))


@st.composite
def _group_bases(draw) -> OrbitBasis:
    """The orbit basis of maps between two reps of a catalog group, or of biases."""
    G = group_from_name(draw(st.sampled_from(GROUPS)))
    reps = [natural(G), regular(G), trivial(G, 2), direct_sum(natural(G), trivial(G))]
    a, b = draw(st.sampled_from(reps)), draw(st.sampled_from(reps))
    return bias_basis(b) if draw(st.booleans()) else equivariant_basis(a, b)


@settings(max_examples=60, deadline=None)
@given(basis=st.one_of(_partitions(), _group_bases()), kind=st.sampled_from(["orbit", "orthonormal"]))
def test_gather_maps_equal_the_dense_maps(basis: OrbitBasis, kind: str) -> None:
    p = make_parametrization(kind, basis)
    assert p.is_gather and not p.is_identity and p.dim == basis.dim
    _check_against_dense(p, basis.orbit_index.reshape(-1), kind == "orthonormal", basis.numel)


@settings(max_examples=40, deadline=None)
@given(basis=_group_bases(), data=st.data())
def test_masked_free_is_the_orthonormal_basis_of_the_pattern(basis: OrbitBasis, data) -> None:
    bits = data.draw(st.lists(st.booleans(), min_size=basis.numel, max_size=basis.numel))
    mask = np.array(bits, dtype=bool).reshape(basis.shape)
    p = make_parametrization("free", basis, mask=mask)
    labels = np.where(mask.reshape(-1), np.cumsum(mask.reshape(-1)) - 1, -1)
    assert p.dim == int(mask.sum())
    if p.dim:
        _check_against_dense(p, labels, orthonormal=True, seed=p.dim)
    W = p.to_full(torch.randn(2, p.dim, dtype=F64))
    assert torch.all(W[:, ~torch.as_tensor(mask)] == 0)


@pytest.mark.parametrize("group", ["S3", "D4"])
def test_orbit_maps_are_orbit_sums_and_combinations(group: str) -> None:
    """``orbit``: ``to_full`` is :meth:`OrbitBasis.combine`, ``pullback`` the orbit sums,
    ``from_full`` the orbit means; ``orthonormal``: ``to_full(pullback(G))`` is the projection."""
    G = group_from_name(group)
    basis = equivariant_basis(regular(G), natural(G))
    gen = torch.Generator().manual_seed(2)
    theta = torch.randn(4, basis.dim, generator=gen, dtype=F64)
    g = torch.randn(4, *basis.shape, generator=gen, dtype=F64)
    orbit = make_parametrization("orbit", basis)
    sizes = torch.tensor(basis.sizes, dtype=F64)
    assert torch.equal(orbit.to_full(theta), basis.combine(theta))
    torch.testing.assert_close(orbit.pullback(g), basis.coefficients(g) * sizes)
    torch.testing.assert_close(orbit.from_full(g), basis.coefficients(g))
    ortho = make_parametrization("orthonormal", basis)
    torch.testing.assert_close(ortho.to_full(ortho.pullback(g)), basis.project(g))


def test_graph_network_layers_need_no_dense_phi() -> None:
    """The layers of the graphs task's network on ``S_10`` (``natural^2 -> 32*natural^2`` and
    ``32*natural^2 -> 64*trivial``, whose dense ``phi`` would hold 154 and 839 million floats) in
    gather form within a few tens of MB; their dense ``phi`` is refused with a clear error."""
    G = symmetric(10)
    V2 = natural(G) ** 2
    bases = [equivariant_basis(V2, 32 * V2), equivariant_basis(32 * V2, trivial(G, 64))]
    assert [b.dim * b.numel for b in bases] == [480 * 320_000, 4096 * 204_800]
    tracemalloc.start()
    try:
        for basis in bases:
            for kind in ("orbit", "orthonormal"):
                p = make_parametrization(kind, basis)
                theta = torch.randn(2, p.dim, dtype=F64, generator=torch.Generator().manual_seed(0))
                W = p.to_full(theta)
                assert bool(p.contains(W).all())
                coefficients = basis.coefficients(W)
                if kind == "orbit":
                    torch.testing.assert_close(coefficients, theta)
                else:  # W = sum_o theta_o B_o / sqrt(size_o): mean over orbit o is theta_o / sqrt(size_o)
                    torch.testing.assert_close(coefficients * torch.tensor(basis.sizes, dtype=F64).sqrt(), theta)
                torch.testing.assert_close(p.from_full(W), theta)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"
    p = make_parametrization("orthonormal", bases[1])
    with pytest.raises(ConfigError, match="DENSE_LIMIT") as err:
        _ = p.phi
    assert f"{DENSE_LIMIT:,}" in str(err.value) and "(64, 3200)" in str(err.value)
    for kind in ("projected", "random"):
        with pytest.raises(ConfigError, match=kind):
            make_parametrization(kind, bases[1])


def test_empty_mask_and_identity() -> None:
    basis = equivariant_basis(natural(group_from_name("S3")), natural(group_from_name("S3")))
    empty = make_parametrization("free", basis, mask=np.zeros((3, 3), dtype=bool))
    assert empty.dim == 0 and empty.is_gather
    offset = torch.randn(2, 3, 3, dtype=F64)
    assert torch.equal(empty.to_full(torch.zeros(2, 0, dtype=F64)), torch.zeros(2, 3, 3, dtype=F64))
    assert torch.equal(empty.to_full(torch.zeros(2, 0, dtype=F64), offset), offset)
    assert empty.pullback(offset).shape == (2, 0)
    assert torch.equal(empty.onto(offset), torch.zeros_like(offset))
    free = make_parametrization("free", basis)
    assert free.is_identity and free.phi is None and free.pinv is None and free.dim == 9
    a, b = make_parametrization("orbit", basis), make_parametrization("orbit", basis)
    assert a.same_as(b) and not a.same_as(make_parametrization("orthonormal", basis)) and not a.same_as(free)


@pytest.mark.parametrize("group", GROUPS)
def test_lazy_dense_matrices_are_the_bases_bit_for_bit(group: str) -> None:
    """The dense ``phi`` and ``pinv`` built on first access are, bit for bit, the indicator and
    orthonormal bases of :class:`OrbitBasis` and their pseudo-inverses ``(phi / sizes)^T``, ``phi^T``."""
    G = group_from_name(group)
    for basis in (equivariant_basis(regular(G), natural(G)), bias_basis(direct_sum(natural(G), trivial(G)))):
        flat = (basis.dim, basis.numel)
        orbit, ortho = make_parametrization("orbit", basis), make_parametrization("orthonormal", basis)
        dense = basis.dense().reshape(flat)
        assert np.array_equal(orbit.phi, dense) and np.array_equal(orbit.pinv, (dense / basis.sizes[:, None]).T)
        normal = basis.orthonormal().reshape(flat)
        assert np.array_equal(ortho.phi, normal) and np.array_equal(ortho.pinv, normal.T)
        assert not orbit.phi.flags.writeable and orbit.pinv.flags.c_contiguous
