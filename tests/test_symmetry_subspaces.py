"""Tests of eqlandscape.symmetry: fixed-point subspaces of hidden-neuron permutations, barriers,
parameter symmetries of free MLPs (permutations, rescalings, canonical form, alignment) and the
reduction of coinciding neurons.

Oracles, all written here and independent of the orbit machinery under test: dense permutation
matrices acting on the flattened weight vector (flat order ``W0, b0, W1, ...``, each row-major),
SVD nullspaces and ranks, a hand-written forward pass, torch autograd in float64, brute-force
enumeration of pair orbits and of set partitions.
"""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eqlandscape.errors import ConfigError, EqlandscapeError, NeuronIndexError, WeightShapeError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import MLPArchitecture
from eqlandscape.nn.functional import mlp_forward
from eqlandscape.reps import natural, parse_rep, regular, transitive_reps, trivial
from eqlandscape.symmetry.barriers import analyze_barriers
from eqlandscape.symmetry.fixed_points import fixed_point_subspace
from eqlandscape.symmetry.neurons import align, canonical_form, cycle_type, permute_hidden, rescale_hidden
from eqlandscape.symmetry.reduction import merge_neurons, neuron_clusters, quotient_rep
from eqlandscape.symmetry.weight_space import hidden_perm, swap

F64 = torch.float64
GROUPS = ("C3", "C4", "S3", "D4", "K4", "A4", "S4", "C2xC2", "S3xC2", "D5")
DEEP = (  # (group, reps of all layers, bias): two hidden layers, non-transitive reps, non-trivial output
    ("S3", ("natural", "S3/C2 + trivial", "S3/C3", "trivial"), True),
    ("D4", ("natural", "D4/C2", "D4/K4 + trivial", "trivial"), False),
    ("C4", ("natural", "C4/1", "C4/C2", "natural"), True),
    ("K4", ("natural", "K4/C2 + K4/C2'", "natural", "trivial"), True),
)
TENSOR_NAME = re.compile(r"([Wb])(\d+)\[([\d,]+)\]")


# ---------------------------------------------------------------------- dense oracles
def _perm_matrix(p: np.ndarray) -> np.ndarray:
    """``rho(p)[p[i], i] = 1``."""
    p = np.asarray(p)
    m = np.zeros((p.size, p.size))
    m[p, np.arange(p.size)] = 1.0
    return m


def _shapes(widths: tuple[int, ...], bias: bool) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for n_in, n_out in pairwise(widths):
        out.append((n_out, n_in))
        if bias:
            out.append((n_out,))
    return out


def _offsets(arch: MLPArchitecture) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Name (``W0``, ``b0``, ...) -> (offset in the flat vector, shape)."""
    out, offset = {}, 0
    for t, shape in enumerate(_shapes(arch.widths, arch.bias)):
        layer, is_bias = divmod(t, 2) if arch.bias else (t, 0)
        out[f"{'b' if is_bias else 'W'}{layer}"] = (offset, shape)
        offset += int(np.prod(shape))
    return out


def _n_weights(arch: MLPArchitecture) -> int:
    return sum(int(np.prod(s)) for s in _shapes(arch.widths, arch.bias))


def _action(arch: MLPArchitecture, perms: tuple[np.ndarray, ...]) -> np.ndarray:
    """Dense matrix of ``W_l -> P_{l+1} W_l P_l^T``, ``b_l -> P_{l+1} b_l`` on the flat weight vector
    (row-major ``vec(A W B^T) = kron(A, B) vec(W)``)."""
    blocks = []
    for layer in range(arch.n_layers):
        p_out, p_in = _perm_matrix(perms[layer + 1]), _perm_matrix(perms[layer])
        blocks.append(np.kron(p_out, p_in))
        if arch.bias:
            blocks.append(p_out)
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    offset = 0
    for b in blocks:
        out[offset : offset + b.shape[0], offset : offset + b.shape[0]] = b
        offset += b.shape[0]
    return out


def _group_actions(arch: MLPArchitecture, elements: str = "generators") -> list[np.ndarray]:
    G = arch.reps[0].group
    idx = G.generators if elements == "generators" else range(G.order)
    return [_action(arch, tuple(np.asarray(r.perms[g]) for r in arch.reps)) for g in idx]


def _hidden_action(arch: MLPArchitecture, layer: int, perm: np.ndarray) -> np.ndarray:
    perms = tuple(np.asarray(perm) if m == layer else np.arange(w) for m, w in enumerate(arch.widths))
    return _action(arch, perms)


def _null(a: np.ndarray, n: int) -> np.ndarray:
    """Orthonormal basis ``(n, nullity)`` of the nullspace of ``a (rows, n)`` by SVD."""
    if a.shape[0] < n:  # pad so that the thin SVD has all n right singular vectors
        a = np.concatenate([a, np.zeros((n - a.shape[0], n))])
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    rank = int((s > 1e-9 * max(1.0, s[0])).sum())
    return vt[rank:].T


def _fixed_basis(mats: list[np.ndarray], n: int) -> np.ndarray:
    """Orthonormal basis of the common fixed space of the dense matrices ``mats``."""
    if not mats:
        return np.eye(n)
    return _null(np.concatenate([m - np.eye(n) for m in mats]), n)


def _flat(tensors: list[np.ndarray]) -> np.ndarray:
    """Flat order ``(K, *shape)`` arrays -> ``(K, N)``."""
    return np.concatenate([np.asarray(t).reshape(np.asarray(t).shape[0], -1) for t in tensors], axis=1)


def _unflat(arch: MLPArchitecture, v: np.ndarray) -> list[np.ndarray]:
    """``(K, N)`` -> flat-order list of ``(K, *shape)``."""
    out, offset = [], 0
    for shape in _shapes(arch.widths, arch.bias):
        size = int(np.prod(shape))
        out.append(v[:, offset : offset + size].reshape(v.shape[0], *shape))
        offset += size
    return out


def _random_weights(arch: MLPArchitecture, K: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal((K, *s)) for s in _shapes(arch.widths, arch.bias)]


def _forward(tensors: list, bias: bool, x: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """One model (tensors without a model dimension): ``z = h W^T + b``, the activation between layers."""
    k = 2 if bias else 1
    n_layers = len(tensors) // k
    h = x
    for layer in range(n_layers):
        h = h @ tensors[k * layer].T
        if bias:
            h = h + tensors[k * layer + 1]
        if layer < n_layers - 1:
            h = torch.relu(h) if activation == "relu" else torch.tanh(h) if activation == "tanh" else h
    return h


def _forward_models(tensors: list[np.ndarray], bias: bool, x: np.ndarray, activation: str = "relu") -> np.ndarray:
    """``(K, B, n_L)`` for flat-order ``(K, *shape)`` arrays."""
    xt = torch.as_tensor(x, dtype=F64)
    K = np.asarray(tensors[0]).shape[0]
    return np.stack(
        [
            _forward([torch.tensor(np.asarray(t)[k], dtype=F64) for t in tensors], bias, xt, activation).numpy()
            for k in range(K)
        ]
    )


def _act_rows(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``rho(p)`` applied to each row: ``out[:, p[i]] = x[:, i]``."""
    out = np.empty_like(x)
    out[:, np.asarray(p)] = x
    return out


def _equation_rows(arch: MLPArchitecture, texts: list[str]) -> np.ndarray:
    """Dense rows ``e_first - e_second`` of equations ``"W0[0,0] = W0[0,1]"`` read as entries."""
    offsets = _offsets(arch)
    rows = np.zeros((len(texts), _n_weights(arch)))
    for r, text in enumerate(texts):
        sides = [s.strip() for s in text.split("=")]
        assert len(sides) == 2, text
        for sign, side in zip((1.0, -1.0), sides, strict=True):
            m = TENSOR_NAME.fullmatch(side)
            assert m is not None, text
            offset, shape = offsets[m.group(1) + m.group(2)]
            index = tuple(int(i) for i in m.group(3).split(","))
            rows[r, offset + int(np.ravel_multi_index(index, shape))] += sign
    return rows


# ---------------------------------------------------------------------- strategies
@st.composite
def shallow_archs(draw: st.DrawFn, min_hidden: int = 1) -> MLPArchitecture:
    """``natural -> G/H -> trivial`` for a group of the catalog, with or without biases."""
    G = group_from_name(draw(st.sampled_from(GROUPS)))
    reps = [r for r in transitive_reps(G) if r.size >= min_hidden]
    hidden = draw(st.sampled_from(reps))
    return MLPArchitecture((natural(G), hidden, trivial(G)), "relu", draw(st.booleans()))


def _deep_arch(case: tuple) -> MLPArchitecture:
    name, specs, bias = case
    G = group_from_name(name)
    return MLPArchitecture(tuple(parse_rep(G, s) for s in specs), "relu", bias)


@st.composite
def archs_with_generators(draw: st.DrawFn) -> tuple[MLPArchitecture, list, list[tuple[int, np.ndarray]]]:
    """An architecture with hidden layers of at least 2 neurons and 1-2 hidden-neuron permutations,
    given as swaps, ``(layer, perm)`` pairs or full layer permutations; also returned as
    ``(layer, perm)`` for the dense oracle."""
    if draw(st.integers(0, 3)) == 0:
        arch = _deep_arch(draw(st.sampled_from(DEEP)))
    else:
        arch = draw(shallow_archs(min_hidden=2))
    gens, plain = [], []
    for _ in range(draw(st.integers(1, 2))):
        layer = draw(st.sampled_from([m for m in range(1, arch.n_layers) if arch.widths[m] >= 2]))
        n = arch.widths[layer]
        kind = draw(st.sampled_from(["swap", "pair", "full"]))
        if kind == "swap":
            i, j = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
            p = np.arange(n)
            p[[i, j]] = p[[j, i]]
            gens.append(swap(arch, layer, i, j))
        else:
            p = np.array(draw(st.permutations(range(n))))
            if kind == "pair":
                gens.append((layer, p.tolist()))
            else:
                gens.append(tuple(p if m == layer else np.arange(w) for m, w in enumerate(arch.widths)))
        plain.append((layer, p))
    return arch, gens, plain


# ---------------------------------------------------------------------- 1. barriers
def _check_barriers(arch: MLPArchitecture, seed: int) -> None:
    analysis = analyze_barriers(arch)
    N = _n_weights(arch)
    E = _fixed_basis(_group_actions(arch), N)
    assert analysis.dim_E == E.shape[1]
    G = arch.reps[0].group
    rng = np.random.default_rng(seed)
    barrier_column = 0
    for m in range(1, arch.n_layers):
        rep = arch.reps[m]
        n = rep.size
        assert rep.perms.shape[0] == G.order
        orbits = [p for p in analysis.pairs if p.layer == m]
        assert sum(p.size for p in orbits) == n * (n - 1) // 2
        covered: set[frozenset] = set()
        for p in orbits:
            i, j = p.pair
            assert 0 <= i < j < n
            # the orbit of {i, j} over all group elements
            orbit = {frozenset((int(g[i]), int(g[j]))) for g in rep.perms}
            assert p.size == len(orbit)
            assert (i, j) == min(tuple(sorted(s)) for s in orbit)
            assert not covered & orbit
            covered |= orbit
            # E ∩ Fix((i j)) from dense ranks
            tau = np.arange(n)
            tau[[i, j]] = tau[[j, i]]
            coords = _null((_hidden_action(arch, m, tau) - np.eye(N)) @ E, E.shape[1])
            dim = coords.shape[1]
            assert (p.dim, p.codimension) == (dim, E.shape[1] - dim), p
            assert p.verdict == {0: "degenerate", 1: "barrier"}.get(p.codimension, "none")
            assert len(p.equations) == p.codimension
            if p.verdict == "barrier":
                # its value vanishes on E ∩ Fix and not at a generic point of E
                on = _unflat(arch, (E @ coords @ rng.standard_normal((dim, 3))).T)
                off = _unflat(arch, (E @ rng.standard_normal((E.shape[1], 3))).T)
                np.testing.assert_allclose(analysis.values(on)[:, barrier_column], 0, atol=1e-10)
                assert (np.abs(analysis.values(off)[:, barrier_column]) > 1e-8).all()
                barrier_column += 1
            if p.verdict == "degenerate":
                assert p.reduced_to is not None
            else:
                assert p.reduced_to is None
        assert len(covered) == n * (n - 1) // 2
    assert barrier_column == len(analysis.barriers)


@given(arch=shallow_archs(), seed=st.integers(0, 2**31))
def test_barrier_codimensions_match_dense_ranks(arch: MLPArchitecture, seed: int) -> None:
    """Each pair orbit's ``dim``/``codimension``/``verdict`` equals the nullity of dense constraint
    matrices (generators of G on all layers, plus the swap); the orbits partition the pairs."""
    _check_barriers(arch, seed)


@pytest.mark.parametrize("case", DEEP, ids=lambda c: f"{c[0]}:{'->'.join(c[1])}:{c[2]}")
def test_barrier_codimensions_deep(case: tuple) -> None:
    """The same with two hidden layers and non-transitive hidden reps."""
    _check_barriers(_deep_arch(case), 0)


def test_generators_fix_the_same_space_as_all_elements() -> None:
    """Sanity of the oracle: the generators of G and all of its elements fix the same weights."""
    for name in ("S3", "D4", "A4"):
        G = group_from_name(name)
        arch = MLPArchitecture((natural(G), regular(G), trivial(G)), "relu", True)
        N = _n_weights(arch)
        a = _fixed_basis(_group_actions(arch), N)
        b = _fixed_basis(_group_actions(arch, "all"), N)
        np.testing.assert_allclose(a @ a.T, b @ b.T, atol=1e-10)


# ---------------------------------------------------------------------- 2. fixed-point subspaces
@given(case=archs_with_generators(), within_E=st.booleans(), seed=st.integers(0, 2**31))
def test_fixed_point_subspace_against_dense(case: tuple, within_E: bool, seed: int) -> None:
    arch, gens, plain = case
    sub = fixed_point_subspace(arch, gens, within_E=within_E)
    N = _n_weights(arch)
    group = _group_actions(arch) if within_E else []
    hidden = [_hidden_action(arch, m, p) for m, p in plain]
    basis = _fixed_basis(group + hidden, N)
    ambient = _fixed_basis(group, N).shape[1]
    proj = basis @ basis.T
    assert sub.dim == basis.shape[1]
    assert sub.ambient_dim == ambient
    assert sub.codimension == ambient - basis.shape[1]

    rng = np.random.default_rng(seed)
    x = _random_weights(arch, 3, rng)
    px = _flat(sub.project(x))
    np.testing.assert_allclose(px, _flat(x) @ proj, atol=1e-10)  # the orthogonal projection
    np.testing.assert_allclose(_flat(sub.project(_unflat(arch, px))), px, atol=1e-12)  # idempotent
    for mat in group + hidden:
        np.testing.assert_allclose(px @ mat.T, px, atol=1e-12)  # fixed by every generator
    points = _flat(sub.random_point(4, rng=seed))
    np.testing.assert_allclose((_flat(x) - px) @ points.T, 0, atol=1e-10)  # residual orthogonal
    np.testing.assert_allclose(points @ proj, points, atol=1e-10)
    assert sub.contains(_unflat(arch, points)).all()
    dist = np.linalg.norm(_flat(x) - _flat(x) @ proj, axis=1)
    np.testing.assert_allclose(sub.distance(x), dist, atol=1e-10)
    if basis.shape[1] < N:
        assert not sub.contains(x).any()
    else:
        assert sub.contains(x).all()

    q = sub.orthonormal()
    assert q.shape == (basis.shape[1], N)
    np.testing.assert_allclose(q @ q.T, np.eye(q.shape[0]), atol=1e-12)
    np.testing.assert_allclose(q.T @ q, proj, atol=1e-10)

    equations = sub.equations()
    assert len(equations) == sub.codimension
    # the equations (entries named in the text, equal inside E) cut the subspace out of the reference space
    ambient_rows = [np.concatenate([m - np.eye(N) for m in group])] if group else []
    rows = np.concatenate([*ambient_rows, _equation_rows(arch, [e.text for e in equations]), np.zeros((0, N))])
    cut = _null(rows, N)
    np.testing.assert_allclose(cut @ cut.T, proj, atol=1e-10)


def test_fixed_point_subspace_of_s3_swap() -> None:
    """``natural -> natural -> trivial`` of S3 without biases: E has coefficients diagonal, off-diagonal
    and W1; fixing the swap (0 1) inside E merges diagonal and off-diagonal."""
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), natural(G), trivial(G)), "relu", False)
    sub = fixed_point_subspace(arch, [swap(arch, 1, 0, 1)])
    assert (sub.ambient_dim, sub.dim, sub.codimension) == (3, 2, 1)
    assert [e.text for e in sub.equations()] == ["W0[0,0] = W0[0,1]"]
    free = fixed_point_subspace(arch, [(1, [1, 0, 2])], within_E=False)
    assert (free.ambient_dim, free.dim) == (12, 12 - 3 - 1)


# ---------------------------------------------------------------------- 3. symmetric criticality
def _loss_grad(arch: MLPArchitecture, point: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ts = [torch.tensor(t[0], dtype=F64, requires_grad=True) for t in point]
    out = _forward(ts, arch.bias, torch.as_tensor(x, dtype=F64), arch.activation)
    loss = ((out - torch.as_tensor(y, dtype=F64)) ** 2).mean()
    grads = torch.autograd.grad(loss, ts)
    return np.concatenate([g.reshape(-1).numpy() for g in grads])


@given(case=archs_with_generators(), seed=st.integers(0, 2**31))
def test_gradient_stays_in_E_cap_fix_on_closed_train_sets(case: tuple, seed: int) -> None:
    """At a point of ``E ∩ Fix(K)`` the MSE gradient on a train set closed under G (invariant labels)
    lies in ``E ∩ Fix(K)`` (dense projector from the SVD nullspace)."""
    arch, _, plain = case
    if arch.widths[-1] != 1:  # keep invariant (trivial-output) labels
        arch = MLPArchitecture((*arch.reps[:-1], trivial(arch.reps[0].group)), arch.activation, arch.bias)
    gens = [(m, p.tolist()) for m, p in plain]
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((4, arch.widths[0]))
    x = np.concatenate([_act_rows(p, x0) for p in arch.reps[0].perms])
    y = x.sum(axis=1, keepdims=True) + np.abs(x).max(axis=1, keepdims=True) - (x**2).sum(axis=1, keepdims=True)
    N = _n_weights(arch)
    basis = _fixed_basis(_group_actions(arch) + [_hidden_action(arch, m, p) for m, p in plain], N)
    proj = basis @ basis.T
    point = fixed_point_subspace(arch, gens).random_point(1, rng=rng)
    np.testing.assert_allclose(_flat(point) @ proj, _flat(point), atol=1e-10)  # the premise
    g = _loss_grad(arch, point, x, y)  # may vanish when every relu of a layer is off
    assert np.linalg.norm(g - proj @ g) <= 1e-10 * max(1.0, np.linalg.norm(g))


@given(case=archs_with_generators(), seed=st.integers(0, 2**31))
def test_gradient_stays_in_fix_for_any_train_set(case: tuple, seed: int) -> None:
    """Hidden-neuron permutations are parameter symmetries: ``Fix(K)`` is invariant for any data."""
    arch, gens, plain = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((7, arch.widths[0]))
    y = rng.standard_normal((7, arch.widths[-1]))
    N = _n_weights(arch)
    basis = _fixed_basis([_hidden_action(arch, m, p) for m, p in plain], N)
    proj = basis @ basis.T
    point = fixed_point_subspace(arch, gens, within_E=False).random_point(1, rng=rng)
    np.testing.assert_allclose(_flat(point) @ proj, _flat(point), atol=1e-10)
    g = _loss_grad(arch, point, x, y)
    assert np.linalg.norm(g - proj @ g) <= 1e-10 * max(1.0, np.linalg.norm(g))


def test_gradient_leaves_E_cap_fix_when_the_train_set_is_not_closed() -> None:
    """The oracle has teeth: the same check at a point of ``E ∩ Fix((0 1))`` of ``natural -> S3/1 ->
    trivial`` passes with the G-closed train set (non-zero gradient) and fails without the closure."""
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), regular(G), trivial(G)), "relu", True)
    N = _n_weights(arch)
    tau = np.array([1, 0, 2, 3, 4, 5])
    basis = _fixed_basis([*_group_actions(arch), _hidden_action(arch, 1, tau)], N)
    proj = basis @ basis.T
    rng = np.random.default_rng(5)
    point = fixed_point_subspace(arch, [(1, tau.tolist())]).random_point(1, rng=rng)
    x0 = rng.standard_normal((6, 3))
    closed = np.concatenate([_act_rows(p, x0) for p in arch.reps[0].perms])
    for x, inside in ((closed, True), (x0, False)):
        y = np.sin(x).sum(axis=1, keepdims=True)
        g = _loss_grad(arch, point, x, y)
        assert np.linalg.norm(g) > 1e-3
        assert (np.linalg.norm(g - proj @ g) <= 1e-10 * np.linalg.norm(g)) == inside


# ---------------------------------------------------------------------- 4. the S3 barrier
def _s3_natural(bias: bool = False) -> MLPArchitecture:
    G = group_from_name("S3")
    return MLPArchitecture((natural(G), natural(G), trivial(G)), "relu", bias)


def test_s3_natural_hidden_has_one_barrier() -> None:
    analysis = analyze_barriers(_s3_natural())
    assert len(analysis.barriers) == 1
    (b,) = analysis.barriers
    assert (b.layer, b.pair, b.size, b.codimension, b.verdict) == (1, (0, 1), 3, 1, "barrier")
    assert [e.text for e in b.equations] == ["W0[0,0] = W0[0,1]"]
    assert analysis.rows()[0]["barriers"] == 1


@given(seed=st.integers(0, 2**31), tol=st.sampled_from([1e-6, 1e-3, 0.1]))
def test_s3_barrier_sides(seed: int, tol: float) -> None:
    """``+`` iff mean diagonal - mean off-diagonal of W0 > tol, ``-`` iff < -tol, ``on`` otherwise;
    ``dead`` where the mask says so (W0 need not be in E: the side is that of its projection)."""
    arch = _s3_natural()
    analysis = analyze_barriers(arch)
    rng = np.random.default_rng(seed)
    K = 40
    w0 = rng.standard_normal((K, 3, 3))
    diag = np.eye(3, dtype=bool)
    # planted gaps: exactly on the plane, inside and outside the tolerance band, and generic
    target = np.concatenate(
        [np.zeros(8), tol * np.array([0.5, -0.5, 0.9, -0.9, 1.5, -1.5, 3, -3]), np.full(K - 16, np.nan)]
    )
    for k, t in enumerate(target):
        if np.isfinite(t):
            gap = w0[k][diag].mean() - w0[k][~diag].mean()
            w0[k][diag] += t - gap
    if seed % 2:
        w0[:4] = rng.standard_normal((4, 1, 1))  # exactly on the plane: a constant matrix
        w0[4:8] = 2.0 * np.eye(3) + 0.5  # exactly d - o = 2
    gap = w0[:, diag].mean(axis=1) - w0[:, ~diag].mean(axis=1)
    w1 = rng.standard_normal((K, 1, 3))
    dead = rng.random(K) < 0.25
    sides = analysis.sides([w0, w1], tol, dead=dead)
    assert sides.shape == (K, 1)
    expected = np.where(gap > tol, "+", np.where(gap < -tol, "-", "on")).astype(object)
    expected[dead] = "dead"
    clear = np.abs(np.abs(gap) - tol) > 1e-9 * max(1.0, tol)  # skip rounding ties at the band's edge
    np.testing.assert_array_equal(sides[clear, 0], expected[clear])
    np.testing.assert_allclose(analysis.values([w0, w1])[:, 0], gap, atol=1e-12)


def test_s3_barrier_default_dead_mask() -> None:
    """Without a mask the zero network (output identically 0) is ``dead``, a generic one is not."""
    analysis = analyze_barriers(_s3_natural())
    w0 = np.stack([np.zeros((3, 3)), 2.0 * np.eye(3) + 0.5, np.eye(3)])
    w1 = np.stack([np.zeros((1, 3)), np.ones((1, 3)), np.zeros((1, 3))])
    assert analysis.sides([w0, w1]).tolist() == [["dead"], ["+"], ["dead"]]


def test_trivial_input_is_degenerate() -> None:
    G = group_from_name("S3")
    arch = MLPArchitecture((trivial(G), natural(G), trivial(G)), "relu", True)
    (p,) = analyze_barriers(arch).pairs
    assert (p.verdict, p.codimension, p.reduced_to) == ("degenerate", 0, "S3/S3")
    _check_barriers(arch, 0)


# ---------------------------------------------------------------------- 5. parameter symmetries
DEEP_FREE = ("S3", ("natural", "regular", "S3/C2 + trivial", "S3/C3"))


def _free_arch(bias: bool, depth: int = 2) -> MLPArchitecture:
    G = group_from_name(DEEP_FREE[0])
    specs = (*DEEP_FREE[1][: depth + 1], DEEP_FREE[1][-1])
    return MLPArchitecture(tuple(parse_rep(G, s) for s in specs), "relu", bias)


@given(bias=st.booleans(), depth=st.integers(1, 2), seed=st.integers(0, 2**31))
def test_permute_and_rescale_hidden_keep_the_function(bias: bool, depth: int, seed: int) -> None:
    arch = _free_arch(bias, depth)
    rng = np.random.default_rng(seed)
    K = 3
    w = _random_weights(arch, K, rng)
    x = rng.standard_normal((16, arch.widths[0]))
    ref = _forward_models(w, bias, x)
    perms = {m: np.stack([rng.permutation(arch.widths[m]) for _ in range(K)]) for m in range(1, arch.n_layers)}
    moved = permute_hidden(arch, w, perms)
    np.testing.assert_allclose(_forward_models(moved, bias, x), ref, atol=1e-12)
    # semantics on layer 1: neuron i goes to perms[1][k, i]
    for k in range(K):
        np.testing.assert_array_equal(moved[0][k][perms[1][k]], w[0][k])
    scales = {m: np.exp(rng.standard_normal((K, arch.widths[m]))) for m in range(1, arch.n_layers)}
    scaled = rescale_hidden(arch, w, scales)
    np.testing.assert_allclose(_forward_models(scaled, bias, x), ref, atol=1e-12)
    np.testing.assert_allclose(scaled[0], w[0] * scales[1][:, :, None], rtol=1e-14)
    # one permutation for all models, torch input without the model dimension
    single = permute_hidden(arch, [torch.as_tensor(t[0]) for t in w], {1: perms[1][0]})
    np.testing.assert_allclose(_forward_models(single, bias, x), ref[:1], atol=1e-12)


@given(bias=st.booleans(), depth=st.integers(1, 2), seed=st.integers(0, 2**31))
def test_align_recovers_planted_permutations_and_rescalings(bias: bool, depth: int, seed: int) -> None:
    arch = _free_arch(bias, depth)
    rng = np.random.default_rng(seed)
    K = 3
    original = _random_weights(arch, K, rng)
    perms = {m: np.stack([rng.permutation(arch.widths[m]) for _ in range(K)]) for m in range(1, arch.n_layers)}
    scales = {m: np.exp(rng.standard_normal((K, arch.widths[m]))) for m in range(1, arch.n_layers)}
    moved = permute_hidden(arch, rescale_hidden(arch, original, scales), perms)
    result = align(arch, moved, original)
    for m in perms:
        np.testing.assert_array_equal(result.perms[m], perms[m])
    assert (result.distance < 1e-10).all()
    x = rng.standard_normal((8, arch.widths[0]))
    np.testing.assert_allclose(_forward_models(result.aligned, bias, x), _forward_models(original, bias, x), atol=1e-10)

    canon_a, pa = canonical_form(arch, original)
    canon_b, pb = canonical_form(arch, moved)
    for a, b in zip(canon_a, canon_b, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_allclose(_forward_models(canon_a, bias, x), _forward_models(original, bias, x), atol=1e-10)
    for m in perms:  # moved neuron perms[m][i] is original neuron i: same canonical position
        for k in range(K):
            np.testing.assert_array_equal(pb[m][k][perms[m][k]], pa[m][k])


def test_cycle_type() -> None:
    assert cycle_type(np.array([1, 2, 0])) == [3]
    assert cycle_type(np.array([1, 0, 3, 2])) == [2, 2]
    assert cycle_type(np.array([0, 1, 2])) == []
    assert cycle_type(np.array([3, 0, 1, 2, 5, 4, 6])) == [4, 2]
    assert cycle_type(np.array([0])) == []


# ---------------------------------------------------------------------- 6. reduction
@st.composite
def planted_coincidences(draw: st.DrawFn) -> tuple[bool, int, dict[int, list[tuple[int, float]]]]:
    """Per hidden layer, for each neuron: ``(source, scale)``, ``source == i`` for a fresh neuron,
    else a positively rescaled copy of the incoming vector of an earlier fresh neuron."""
    bias = draw(st.booleans())
    depth = draw(st.integers(1, 2))
    arch = _free_arch(bias, depth)
    plan = {}
    for m in range(1, arch.n_layers):
        rows: list[tuple[int, float]] = []
        for i in range(arch.widths[m]):
            fresh = [j for j, (s, _) in enumerate(rows) if s == j]
            if i == 0 or draw(st.booleans()):
                rows.append((i, 1.0))
            else:
                rows.append((draw(st.sampled_from(fresh)), draw(st.floats(0.1, 10.0))))
        plan[m] = rows
    return bias, depth, plan


def _first_occurrence(labels: list[int]) -> np.ndarray:
    seen: dict[int, int] = {}
    return np.array([seen.setdefault(v, len(seen)) for v in labels])


@given(case=planted_coincidences(), seed=st.integers(0, 2**31))
def test_merge_neurons_on_planted_coincidences(case: tuple, seed: int) -> None:
    bias, depth, plan = case
    arch = _free_arch(bias, depth)
    rng = np.random.default_rng(seed)
    w = _random_weights(arch, 2, rng)
    k = arch.per_layer
    for m, rows in plan.items():
        for i, (source, scale) in enumerate(rows):
            w[k * (m - 1)][:, i] = scale * w[k * (m - 1)][:, source]
            if bias:
                w[k * (m - 1) + 1][:, i] = scale * w[k * (m - 1) + 1][:, source]
    x = rng.standard_normal((32, arch.widths[0]))
    ref = _forward_models(w, bias, x)
    reduced = merge_neurons(arch, w)
    assert len(reduced) == 2
    for kk, r in enumerate(reduced):
        for m, rows in plan.items():
            expected = _first_occurrence([s for s, _ in rows])
            np.testing.assert_array_equal(r.clusters[m], expected)
            np.testing.assert_array_equal(neuron_clusters(arch, w, m)[kk], expected)
            assert r.widths[m] == expected.max() + 1
        assert r.widths[0] == arch.widths[0] and r.widths[-1] == arch.widths[-1]
        np.testing.assert_allclose(r(x), ref[kk], atol=1e-10)
        np.testing.assert_allclose(r(torch.as_tensor(x)), ref[kk], atol=1e-10)


@pytest.mark.parametrize("name", ["S3", "D4", "A4", "S3xC2"])
def test_merge_neurons_on_E_cap_fix(name: str) -> None:
    """A point of ``E ∩ Fix((i j))`` for a barrier or non-trivial pair orbit of ``natural -> regular
    -> trivial``: fewer neurons, the same function, and the quotient rep acts on the clusters."""
    G = group_from_name(name)
    arch = MLPArchitecture((natural(G), regular(G), trivial(G)), "relu", True)
    rep = arch.reps[1]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, arch.widths[0]))
    for p in analyze_barriers(arch).pairs:
        point = fixed_point_subspace(arch, [swap(arch, 1, *p.pair)]).random_point(2, rng=rng)
        ref = _forward_models(point, True, x)
        for k, r in enumerate(merge_neurons(arch, point)):
            labels = r.clusters[1]
            assert labels[p.pair[0]] == labels[p.pair[1]]
            assert r.widths[1] < rep.size
            np.testing.assert_allclose(r(x), ref[k], atol=1e-10)
            q = r.hidden_reps[1]
            assert q is not None and q.size == r.widths[1]
            for g in range(G.order):  # q(g) sends the cluster of i to the cluster of g i
                np.testing.assert_array_equal(q.perms[g][labels], labels[rep.perms[g]])


def _set_partitions(n: int):
    """All set partitions of ``0..n-1`` as restricted growth strings."""

    def grow(prefix: list[int]):
        if len(prefix) == n:
            yield np.array(prefix)
            return
        for v in range(max(prefix, default=-1) + 2):
            yield from grow([*prefix, v])

    yield from grow([])


@pytest.mark.parametrize("name", ["S3", "C4", "K4", "D4", "A4", "D5"])
def test_quotient_rep_exactly_on_block_systems(name: str) -> None:
    """Over every set partition of small reps: ``None`` iff the partition is not G-invariant (brute
    force over all elements), else the rep of G on the blocks (also for relabelled blocks)."""
    G = group_from_name(name)
    reps = [r for r in [natural(G), *transitive_reps(G)] if 2 <= r.size <= 6]
    rng = np.random.default_rng(0)
    for rep in reps:
        for labels in _set_partitions(rep.size):
            same = labels[:, None] == labels[None, :]
            invariant = all((same == same[np.ix_(p, p)]).all() for p in rep.perms)
            sigma = rng.permutation(labels.max() + 1)
            for lab in (labels, sigma[labels]):
                q = quotient_rep(rep, lab)
                assert (q is not None) == invariant, (rep.name, lab)
                if q is not None:
                    assert q.size == lab.max() + 1
                    for g in range(G.order):
                        np.testing.assert_array_equal(q.perms[g][lab], lab[rep.perms[g]])


# ---------------------------------------------------------------------- 7. bad input
def test_wrong_weight_shapes() -> None:
    arch = _s3_natural(bias=True)
    sub = fixed_point_subspace(arch, [swap(arch, 1, 0, 1)])
    w = sub.random_point(2, rng=0)
    with pytest.raises(WeightShapeError, match="got 3 tensors"):
        sub.project(w[:3])
    bad = [w[0][:, :, :2], *w[1:]]
    with pytest.raises(WeightShapeError, match=re.escape("(2, 3, 2)")):
        sub.project(bad)
    with pytest.raises(WeightShapeError, match=re.escape("(2, 3, 2)")):
        analyze_barriers(arch).values(bad)
    with pytest.raises(WeightShapeError, match=re.escape("(4,)")):
        permute_hidden(arch, [w[0][0], np.zeros(4), w[2][0], w[3][0]], {1: [1, 0, 2]})
    with pytest.raises(WeightShapeError):
        merge_neurons(arch, w[:2])
    with pytest.raises(WeightShapeError):
        align(arch, w, w[:-1])


def test_bad_neuron_indices_and_permutations() -> None:
    arch = _s3_natural(bias=True)
    with pytest.raises(NeuronIndexError, match="3"):
        swap(arch, 1, 0, 3)
    with pytest.raises(NeuronIndexError, match="-1"):
        swap(arch, 1, -1, 0)
    with pytest.raises(NeuronIndexError, match="layer 0"):
        swap(arch, 0, 0, 1)
    with pytest.raises(NeuronIndexError, match="layer 2"):
        hidden_perm(arch, 2, [1, 0, 2])
    with pytest.raises(NeuronIndexError):
        hidden_perm(arch, 1, [0, 0, 1])
    with pytest.raises(NeuronIndexError):
        hidden_perm(arch, 1, [1, 0])
    with pytest.raises(NeuronIndexError):
        fixed_point_subspace(arch, [(1, [0, 0, 1])])
    with pytest.raises(NeuronIndexError):
        fixed_point_subspace(arch, [(np.array([1, 0, 2]), np.arange(3), np.arange(1))])  # moves the input layer
    w = fixed_point_subspace(arch, []).random_point(2, rng=0)
    with pytest.raises(NeuronIndexError, match=re.escape("[0, 0, 1]")):
        permute_hidden(arch, w, {1: [0, 0, 1]})
    with pytest.raises(NeuronIndexError):
        permute_hidden(arch, w, {2: [0]})
    with pytest.raises(NeuronIndexError):
        neuron_clusters(arch, w, 0)
    with pytest.raises(NeuronIndexError):
        quotient_rep(natural(group_from_name("S3")), np.array([0, 1]))


@pytest.mark.parametrize("tol", [0, -1.0, float("nan"), float("inf")])
def test_bad_tolerances(tol: float) -> None:
    arch = _s3_natural(bias=False)
    w = fixed_point_subspace(arch, []).random_point(2, rng=0)
    sub = fixed_point_subspace(arch, [swap(arch, 1, 0, 1)])
    analysis = analyze_barriers(arch)
    for call in (
        lambda: sub.contains(w, tol=tol),
        lambda: analysis.sides(w, tol),
        lambda: neuron_clusters(arch, w, 1, tol),
        lambda: merge_neurons(arch, w, tol),
    ):
        with pytest.raises(ConfigError, match=re.escape(repr(tol))):
            call()
    with pytest.raises(ConfigError, match="-2"):
        rescale_hidden(arch, w, {1: [1.0, -2.0, 1.0]})
    with pytest.raises(ConfigError, match="tanh"):
        rescale_hidden(MLPArchitecture(arch.reps, "tanh", False), w, {1: [1.0, 2.0, 1.0]})


@pytest.mark.parametrize("call", ["rescale_wrong_length", "contains_tol_none", "contains_tol_str"])
def test_other_bad_input_raises_toolkit_errors(call: str) -> None:
    """errors.py: every error raised for bad input is an :class:`EqlandscapeError`."""
    arch = _s3_natural(bias=False)
    w = fixed_point_subspace(arch, []).random_point(2, rng=0)
    sub = fixed_point_subspace(arch, [swap(arch, 1, 0, 1)])
    with pytest.raises(EqlandscapeError):
        if call == "rescale_wrong_length":
            rescale_hidden(arch, w, {1: [1.0, 2.0]})  # 2 scales for 3 neurons
        elif call == "contains_tol_none":
            sub.contains(w, tol=None)
        else:
            sub.contains(w, tol="1e-6")


def test_module_forward_agrees_with_the_oracle() -> None:
    """Sanity of the hand-written forward pass against ``mlp_forward``."""
    arch = _free_arch(True, 2)
    rng = np.random.default_rng(3)
    w = _random_weights(arch, 2, rng)
    x = rng.standard_normal((5, arch.widths[0]))
    weights, biases = arch.split([torch.as_tensor(t) for t in w])
    np.testing.assert_allclose(
        mlp_forward(weights, biases, torch.as_tensor(x), "relu").numpy(), _forward_models(w, True, x), atol=1e-12
    )
