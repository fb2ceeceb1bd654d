"""Tests of eqlandscape.symmetry.discovery: the hidden rep under which free weights are equivariant,
its relation to the start rep, and the alignment of two networks.

Oracles, all written here and independent of the module under test: dense permutation matrices
(``rho(p)[p[i], i] = 1``) for planting neuron permutations, conjugating reps and checking the
equivariance ``W rho_in(g) = rho_out(g) W`` of weights; brute-force enumeration of all permutations of
the hidden neurons (centralizers, fewest-moved conjugators, non-isomorphism, the optimal alignment);
a hand-written ReLU normalization and neuron signatures; permutation characters (fixed-point counts).
"""

from __future__ import annotations

import itertools
import re
from functools import cache

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eqlandscape.errors import ConfigError, WeightShapeError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import PermRep, natural, parse_rep, regular, transitive_reps, trivial
from eqlandscape.symmetry import RELATIONS
from eqlandscape.symmetry.discovery import centralizer, discover_hidden_reps
from eqlandscape.symmetry.neurons import align, permute_hidden

GROUPS = ("C4", "S3", "D4", "A4", "S4", "K4", "S3xC2")
OUTPUTS = ("trivial", "natural")
DEEP = (  # (group, specs of all layers, bias): two hidden layers
    ("S3", ("natural", "natural", "regular", "trivial"), True),
    ("S3", ("natural", "natural", "regular", "trivial"), False),
    ("C4", ("natural", "C4/1", "C4/C2", "natural"), True),
    ("D4", ("natural", "D4/C2", "D4/K4 + D4/D4", "trivial"), True),
)


# ---------------------------------------------------------------------- dense / brute-force oracles
def _perm_matrix(p: np.ndarray) -> np.ndarray:
    """``rho(p)[p[i], i] = 1``."""
    p = np.asarray(p)
    m = np.zeros((p.size, p.size))
    m[p, np.arange(p.size)] = 1.0
    return m


def _perm_of(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_perm_matrix`: ``p[i]`` is the row of the 1 in column ``i``."""
    assert (m.sum(axis=0) == 1).all() and (m.sum(axis=1) == 1).all()
    return m.argmax(axis=0)


def _conj(pi: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``pi r pi^-1`` through dense matrices."""
    P = _perm_matrix(pi)
    return _perm_of(P @ _perm_matrix(r) @ P.T)


def _commutes(pi: np.ndarray, rs: list[np.ndarray]) -> bool:
    P = _perm_matrix(pi)
    return all(np.array_equal(P @ _perm_matrix(r), _perm_matrix(r) @ P) for r in rs)


@cache
def _all_perms(n: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n)


def _conjugators(rs: list[np.ndarray], ss: list[np.ndarray]) -> np.ndarray:
    """Brute force: every ``q`` with ``q r q^-1 = s`` for all pairs (``(q r q^-1)[q[x]] = q[r[x]]``)."""
    Q = _all_perms(len(rs[0]))
    ok = np.ones(len(Q), dtype=bool)
    for r, s in zip(rs, ss, strict=True):
        ok &= (s[Q] == Q[:, r]).all(axis=1)
    return Q[ok]


def _n_moved(p: np.ndarray) -> int:
    return int((np.asarray(p) != np.arange(len(p))).sum())


def _cycle_lengths(p: np.ndarray) -> list[int]:
    p, seen, out = [int(x) for x in p], set(), []
    for start in range(len(p)):
        length, i = 0, start
        while i not in seen:
            seen.add(i)
            i, length = p[i], length + 1
        if length > 1:
            out.append(length)
    return sorted(out, reverse=True)


def _from_cycles(text: str, n: int) -> np.ndarray:
    """Parse cycle notation ``(0 1 2)(3 4)``: ``a -> b`` for consecutive entries."""
    assert re.fullmatch(r"(\((\d+( \d+)*)?\))+", text), text
    p = np.arange(n)
    for cyc in re.findall(r"\(([\d ]*)\)", text):
        pts = [int(x) for x in cyc.split()]
        for a, b in zip(pts, pts[1:] + pts[:1], strict=True):
            p[a] = b
    assert sorted(p.tolist()) == list(range(n))
    return p


def _character(perms: np.ndarray) -> np.ndarray:
    """Fixed-point counts of every group element: differing characters mean non-isomorphic reps."""
    return (np.asarray(perms) == np.arange(perms.shape[1])).sum(axis=1)


# ---------------------------------------------------------------------- weights
def _arch(group: str, specs: tuple[str, ...], bias: bool, activation: str = "relu") -> MLPArchitecture:
    G = group_from_name(group)
    return MLPArchitecture(tuple(parse_rep(G, s) for s in specs), activation, bias)


def _e_point(arch: MLPArchitecture, K: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [np.asarray(b.combine(rng.standard_normal((K, b.dim))), dtype=np.float64) for b in arch.bases]


def _separated_e_point(
    arch: MLPArchitecture, K: int, rng: np.random.Generator, margin: float = 0.05
) -> list[np.ndarray]:
    """An E-point whose neurons are pairwise farther apart than ``margin`` (relative), in every hidden
    layer: a wrong image of some neuron then costs a residual above ``margin``, so with ``tol <= margin``
    the planted rep is the only fit."""
    w = _e_point(arch, K, rng)
    assume(all(_separation(_signatures(arch, w, m)) > margin for m in range(1, arch.n_layers)))
    return w


def _outputs(arch: MLPArchitecture, w: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Hand-written forward pass (ReLU or tanh) of ``K`` models on inputs ``x (B, n_0)``: ``(K, B, n_L)``."""
    act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}[arch.activation]
    h = np.broadcast_to(x, (w[0].shape[0], *x.shape))
    for layer in range(arch.n_layers):
        h = h @ np.swapaxes(w[_slot(arch, layer)], 1, 2)
        if arch.bias:
            h = h + w[_slot(arch, layer, True)][:, None, :]
        if layer < arch.n_layers - 1:
            h = act(h)
    return h


def _gaussian(arch: MLPArchitecture, K: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal((K, *s)) for s in arch.shapes]


def _slot(arch: MLPArchitecture, layer: int, bias: bool = False) -> int:
    """Flat index of ``W_layer`` (or ``b_layer``)."""
    step = 2 if arch.bias else 1
    return step * layer + (1 if bias else 0)


def _plant(arch: MLPArchitecture, w: list[np.ndarray], layer: int, perms: np.ndarray) -> list[np.ndarray]:
    """Move neuron ``i`` of hidden ``layer`` to ``perms[k, i]``: ``W_{m-1} -> P W_{m-1}``, ``b -> P b``,
    ``W_m -> W_m P^T`` with dense matrices, per model."""
    out = [t.copy() for t in w]
    P = np.stack([_perm_matrix(p) for p in perms])
    i = _slot(arch, layer - 1)
    out[i] = P @ w[i]
    if arch.bias:
        out[i + 1] = np.einsum("kij,kj->ki", P, w[i + 1])
    j = _slot(arch, layer)
    out[j] = w[j] @ P.transpose(0, 2, 1)
    return out


def _rescale(arch: MLPArchitecture, w: list[np.ndarray], layer: int, c: np.ndarray) -> list[np.ndarray]:
    out = [t.copy() for t in w]
    i = _slot(arch, layer - 1)
    out[i] = w[i] * c[:, :, None]
    if arch.bias:
        out[i + 1] = w[i + 1] * c
    j = _slot(arch, layer)
    out[j] = w[j] / c[:, None, :]
    return out


def _incoming(arch: MLPArchitecture, w: list[np.ndarray], layer: int) -> np.ndarray:
    rows = w[_slot(arch, layer - 1)]
    return np.concatenate([rows, w[_slot(arch, layer - 1, True)][:, :, None]], axis=2) if arch.bias else rows


def _normalized(arch: MLPArchitecture, w: list[np.ndarray]) -> list[np.ndarray]:
    """ReLU gauge: every hidden neuron's incoming vector of norm 1, layer by layer from the input."""
    if arch.activation != "relu":
        return w
    for m in range(1, arch.n_layers):
        r = np.linalg.norm(_incoming(arch, w, m), axis=2)
        w = _rescale(arch, w, m, np.where(r > 0, 1 / np.where(r > 0, r, 1), 1.0))
    return w


def _signatures(arch: MLPArchitecture, w: list[np.ndarray], layer: int) -> np.ndarray:
    """Normalized incoming vectors, with the outgoing columns for the last hidden layer: ``(K, n, d)``."""
    w = _normalized(arch, w)
    sig = _incoming(arch, w, layer)
    if layer == arch.n_layers - 1:
        sig = np.concatenate([sig, np.swapaxes(w[_slot(arch, layer)], 1, 2)], axis=2)
    return sig


def _separation(sig: np.ndarray) -> float:
    """Smallest distance between two neurons' signatures over the largest signature norm (all models)."""
    n = sig.shape[1]
    d = np.linalg.norm(sig[:, :, None] - sig[:, None], axis=3) + np.eye(n) * 1e9
    return float((d.min(axis=(1, 2)) / np.linalg.norm(sig, axis=2).max(axis=1)).min())


def _all_distinct(sig: np.ndarray) -> bool:
    return _separation(sig) > 1e-6


def _residual(arch: MLPArchitecture, w: list[np.ndarray], k: int, images: list[np.ndarray]) -> float:
    """Direct evaluation for one hidden layer: the largest ``||T_g s_i - s_sigma_g(i)||`` over neurons and
    generators (``T_g`` moves the incoming row by ``rho_in(g)``, keeps the bias, moves the outgoing column
    by ``rho_out(g)``), over the largest signature norm."""
    sig = _signatures(arch, [t[k : k + 1] for t in w], 1)[0]
    d_in = arch.widths[0]
    worst = 0.0
    gens_in, gens_out = _generator_images(arch.reps[0]), _generator_images(arch.reps[2])
    for r_in, sigma, r_out in zip(gens_in, images, gens_out, strict=True):
        t = sig.copy()
        t[:, :d_in] = sig[:, :d_in] @ _perm_matrix(r_in).T
        t[:, sig.shape[1] - arch.widths[2] :] = sig[:, sig.shape[1] - arch.widths[2] :] @ _perm_matrix(r_out).T
        worst = max(worst, float(np.linalg.norm(t - sig[sigma], axis=1).max()))
    return worst / float(np.linalg.norm(sig, axis=1).max())


def _equivariant(arch: MLPArchitecture, w: list[np.ndarray], k: int, images: list[list[np.ndarray]]) -> bool:
    """Dense check of ``W_l R_l = R_{l+1} W_l`` and ``b_l = R_{l+1} b_l`` for each generator, where
    ``images[s]`` lists the permutation of every layer (input to output) for generator ``s``."""
    for layer_perms in images:
        R = [_perm_matrix(p) for p in layer_perms]
        for layer in range(arch.n_layers):
            W = w[_slot(arch, layer)][k]
            if not np.allclose(W @ R[layer], R[layer + 1] @ W, atol=1e-9):
                return False
            if arch.bias and not np.allclose(
                R[layer + 1] @ w[_slot(arch, layer, True)][k], w[_slot(arch, layer, True)][k]
            ):
                return False
    return True


def _generator_images(rep: PermRep) -> list[np.ndarray]:
    return [np.asarray(rep.perms[g]) for g in rep.group.generators]


def _layer_images(arch: MLPArchitecture, hidden: dict[int, list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Per generator, the permutation of every layer: ``hidden[m]`` for the given hidden layers, the
    architecture's reps elsewhere."""
    per_layer = [hidden.get(m, _generator_images(r)) for m, r in enumerate(arch.reps)]
    return [list(t) for t in zip(*per_layer, strict=True)]


# ---------------------------------------------------------------------- cases
@cache
def _cases() -> tuple[tuple[str, str, str, bool, tuple[str, ...]], ...]:
    """``(group, output spec, hidden spec, distinct, others)`` for transitive hidden reps of 2..12 points
    and sums of two transitive reps of at most 8 points. ``distinct``: a random E-point of
    ``natural -> hidden -> output`` has pairwise distinct neuron signatures (with and without bias);
    ``others``: the distinct hidden specs of the same size with a different permutation character."""
    out = []
    for group in GROUPS:
        G = group_from_name(group)
        trans = [r.name for r in transitive_reps(G) if r.size <= 12]
        specs = [s for s in trans if parse_rep(G, s).size > 1]
        specs += [
            f"{a} + {b}"
            for a, b in itertools.combinations_with_replacement(trans, 2)
            if parse_rep(G, a).size + parse_rep(G, b).size <= 8
        ]
        for output in OUTPUTS:
            rows = []
            for spec in specs:
                distinct = True
                for bias in (False, True):
                    arch = _arch(group, ("natural", spec, output), bias)
                    w = _e_point(arch, 2, np.random.default_rng(1))
                    distinct &= _all_distinct(_signatures(arch, w, 1))
                rows.append((spec, distinct, parse_rep(G, spec)))
            for spec, distinct, rep in rows:
                others = tuple(
                    s
                    for s, d, r in rows
                    if d and r.size == rep.size and not np.array_equal(_character(r.perms), _character(rep.perms))
                )
                out.append((group, output, spec, distinct, others))
    return tuple(out)


@st.composite
def planted_cases(draw: st.DrawFn, distinct: bool = True, activations: tuple[str, ...] = ("relu", "tanh")):
    group, output, spec, _, _ = draw(st.sampled_from([c for c in _cases() if c[3] == distinct]))
    arch = _arch(group, ("natural", spec, output), draw(st.booleans()), draw(st.sampled_from(activations)))
    return arch, draw(st.integers(0, 2**31))


def _planted_start(case: tuple) -> tuple:
    """``(arch, rng, start rep, its size, its generator images)`` of a :func:`planted_cases` draw."""
    arch, seed = case
    start = arch.reps[1]
    return arch, np.random.default_rng(seed), start, start.size, _generator_images(start)


@st.composite
def other_cases(draw: st.DrawFn):
    """``(arch with start rep H, arch with a non-isomorphic H' of the same size, seed)``."""
    group, output, spec, _, others = draw(st.sampled_from([c for c in _cases() if c[4]]))
    planted = draw(st.sampled_from(others))
    bias = draw(st.booleans())
    return (
        _arch(group, ("natural", spec, output), bias),
        _arch(group, ("natural", planted, output), bias),
        draw(st.integers(0, 2**31)),
    )


def _random_commuting(rep: PermRep, rng: np.random.Generator) -> np.ndarray:
    """A random element of the centralizer (brute force for at most 6 points, else the identity)."""
    if rep.size > 6:
        return np.arange(rep.size)
    gens = _generator_images(rep)
    cent = _conjugators(gens, gens)
    return cent[rng.integers(len(cent))]


def test_cases_cover_all_kinds() -> None:
    cases = _cases()
    assert sum(c[3] for c in cases) > 50 and sum(not c[3] for c in cases) > 20
    assert sum(bool(c[4]) for c in cases) > 20
    assert {c[0] for c in cases if c[3]} == set(GROUPS)


# ---------------------------------------------------------------------- 1. the cases
def test_c3_regular_relabelled_by_a_3_cycle_is_identical() -> None:
    G = group_from_name("C3")
    arch = MLPArchitecture((natural(G), regular(G), trivial(G)), "relu", True)
    w = _e_point(arch, 1, np.random.default_rng(0))
    moved = _plant(arch, w, 1, np.array([[1, 2, 0]]))
    assert _commutes(np.array([1, 2, 0]), _generator_images(regular(G)))
    assert not all(np.allclose(a, b) for a, b in zip(w, moved, strict=True))  # the weights did move
    (d,) = discover_hidden_reps(arch, moved)
    assert d.relation.tolist() == ["identical"]
    assert d.relabelling.tolist() == ["()"]
    assert d.cycle_types == [[]]
    assert d.hidden_rep[0] == regular(G).canonical().name
    np.testing.assert_array_equal(d.images[0], np.stack(_generator_images(regular(G))))


@pytest.mark.parametrize(("pi", "cycles", "ctype"), [([1, 2, 0], "(0 1 2)", [3]), ([1, 0, 2], "(0 1)", [2])])
def test_s3_natural_relabelled_is_conjugate(pi: list[int], cycles: str, ctype: list[int]) -> None:
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), natural(G), trivial(G)), "relu", True)
    w = _e_point(arch, 2, np.random.default_rng(1))
    (d,) = discover_hidden_reps(arch, _plant(arch, w, 1, np.array([pi, pi])))
    assert d.relation.tolist() == ["conjugate", "conjugate"]
    assert d.cycle_types == [ctype, ctype]
    assert d.relabelling.tolist() == [cycles, cycles]  # the centralizer of S3 on 3 points is trivial
    assert d.hidden_rep.tolist() == ["S3/C2", "S3/C2"]
    for s, r in enumerate(_generator_images(natural(G))):
        np.testing.assert_array_equal(d.images[:, s], [_conj(np.array(pi), r)] * 2)
    assert d.residual.max() < 1e-12
    # the same through the module's own permute_hidden
    (d2,) = discover_hidden_reps(arch, permute_hidden(arch, w, {1: pi}))
    np.testing.assert_array_equal(d2.images, d.images)


# ---------------------------------------------------------------------- 2. planted permutations
@given(case=planted_cases())
def test_planted_permutations_are_recovered(case: tuple) -> None:
    arch, rng, start, n, gens = _planted_start(case)
    K = 3
    w = _separated_e_point(arch, K, rng)
    pis = np.stack([rng.permutation(n), _random_commuting(start, rng), rng.permutation(n)])
    moved = _plant(arch, w, 1, pis)
    (d,) = discover_hidden_reps(arch, moved)
    assert d.layer == 1 and d.images.shape == (K, len(gens), n)
    assert d.clusters.shape == (K, n)
    for k in range(K):
        sigma = [_conj(pis[k], r) for r in gens]
        np.testing.assert_array_equal(d.images[k], np.stack(sigma))
        assert _equivariant(arch, moved, k, _layer_images(arch, {1: sigma}))
        assert d.residual[k] < 1e-9
        assert d.hidden_rep[k] == start.canonical().name
        rep = d.rep(k)
        assert rep.name == d.hidden_rep[k]
        for g in range(start.group.order):  # the whole homomorphism, not only the generators
            np.testing.assert_array_equal(rep.perms[g], _conj(pis[k], start.perms[g]))
        if _commutes(pis[k], gens):
            assert d.relation[k] == "identical"
            assert d.relabelling[k] == "()" and d.cycle_types[k] == []
            continue
        assert d.relation[k] == "conjugate"
        p = _from_cycles(d.relabelling[k], n)
        for r, s in zip(gens, sigma, strict=True):
            np.testing.assert_array_equal(_conj(p, r), s)
        assert d.cycle_types[k] == _cycle_lengths(p)
        assert _n_moved(p) <= _n_moved(pis[k])
        if n <= 8:  # brute force over all n! permutations
            valid = _conjugators(gens, sigma)
            assert min(_n_moved(q) for q in valid) == _n_moved(p)
    assert d.relation[1] == "identical"  # a centralizer element


@given(case=planted_cases(distinct=False))
def test_coinciding_neurons_give_a_rep_that_fits(case: tuple) -> None:
    """When E forces neurons to coincide several reps fit: the start rep is reported exactly when it
    fits within the tolerance (always when the moved weights are still in E), the reported residual is
    that of the reported images (direct evaluation), and a conjugate comes with a valid relabelling."""
    arch, rng, start, n, gens = _planted_start(case)
    K = 4
    w = _e_point(arch, K, rng)
    pis = np.stack([rng.permutation(n) for _ in range(K)])
    moved = _plant(arch, w, 1, pis)
    (d,) = discover_hidden_reps(arch, moved)
    for k in range(K):
        assert d.relation[k] in ("identical", "conjugate", "other")
        images = [np.asarray(x) for x in d.images[k]]
        res = _residual(arch, moved, k, images)
        np.testing.assert_allclose(d.residual[k], res, rtol=1e-9, atol=1e-12)
        assert res <= 0.05
        if _equivariant(arch, moved, k, _layer_images(arch, {})):  # still in E: the start rep fits exactly
            assert d.relation[k] == "identical"
        assert (d.relation[k] == "identical") == (_residual(arch, moved, k, gens) <= 0.05)
        if d.relation[k] == "conjugate":
            p = _from_cycles(d.relabelling[k], n)
            for r, s in zip(gens, images, strict=True):
                np.testing.assert_array_equal(_conj(p, r), s)
            assert d.hidden_rep[k] == start.canonical().name
        elif d.relation[k] == "other":
            assert d.relabelling[k] == "" and d.cycle_types[k] == []
            if n <= 8:  # no relabelling of the start rep gives the found images
                assert len(_conjugators(gens, images)) == 0


@settings(max_examples=40, deadline=None)
@given(
    spec=st.sampled_from(
        [
            ("S3", "natural + 2*trivial"),
            ("S3", "S3/C2 + S3/C3"),
            ("S3", "2*S3/C3 + trivial"),
            ("C4", "2*C4/C2 + 2*trivial"),
            ("S4", "natural + 2*trivial"),
            ("D4", "natural + D4/C4 + trivial"),
        ]
    ),
    seed=st.integers(0, 2**31 - 1),
)
def test_assignment_finds_the_fewest_moved_neurons_as_brute_force_does(spec: tuple[str, str], seed: int) -> None:
    from eqlandscape.symmetry.discovery import _fewest_moved_by_assignment, _point_subgroups

    rep = parse_rep(group_from_name(spec[0]), spec[1])
    n = rep.size
    pi = np.random.default_rng(seed).permutation(n)
    target = np.stack([_conj(pi, r) for r in rep.perms])  # (order, n): pi rho(g) pi^-1
    sub_id, _ = _point_subgroups(rep.group.order, np.stack([rep.perms, target]))
    found = _fewest_moved_by_assignment(rep, target, sub_id[1], sub_id[0])
    for r, s in zip(rep.perms, target, strict=True):
        np.testing.assert_array_equal(_conj(found, r), s)
    brute = _conjugators(list(rep.perms), list(target))
    assert _n_moved(found) == min(_n_moved(q) for q in brute)


def test_fewest_moved_relabelling_with_a_huge_centralizer() -> None:
    G = group_from_name("S3")
    hidden = parse_rep(G, "S3/C2 + 9*S3/S3")  # centralizer contains S_9: 362880 > 40320 elements
    arch = MLPArchitecture((natural(G), hidden, trivial(G)), "relu", True)
    w = _e_point(arch, 1, np.random.default_rng(0))
    pi = np.array([9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8])  # the S3/C2 block to the end
    (d,) = discover_hidden_reps(arch, _plant(arch, w, 1, pi[None]))
    gens = _generator_images(hidden)
    sigma = [_conj(pi, r) for r in gens]
    np.testing.assert_array_equal(d.images[0], np.stack(sigma))
    assert d.relation[0] == "conjugate"
    p = _from_cycles(d.relabelling[0], 12)
    for r, s in zip(gens, sigma, strict=True):
        np.testing.assert_array_equal(_conj(p, r), s)
    # swapping the blocks {0, 1, 2} <-> {9, 10, 11} is a relabelling moving 6 neurons, and no relabelling
    # moves fewer: it must map the 3-point orbit {0, 1, 2} onto the 3-point orbit {9, 10, 11} of sigma
    swap = np.array([9, 10, 11, 3, 4, 5, 6, 7, 8, 0, 1, 2])
    for r, s in zip(gens, sigma, strict=True):
        np.testing.assert_array_equal(_conj(swap, r), s)
    assert _n_moved(p) == _n_moved(swap) == 6


# ---------------------------------------------------------------------- 3. equivariance of discovery
@given(case=planted_cases(), with_other=st.booleans())
def test_relabelling_the_input_relabels_the_answer(case: tuple, with_other: bool) -> None:
    arch, rng, start, n, gens = _planted_start(case)
    w = _separated_e_point(arch, 3, rng)
    w = _plant(arch, w, 1, np.stack([rng.permutation(n), np.arange(n), rng.permutation(n)]))
    parts = [w, _gaussian(arch, 1, rng)]
    others = next(c[4] for c in _cases() if c[:3] == (start.group.name, arch.reps[2].name, start.name))
    if with_other and others:
        other = _arch(start.group.name, ("natural", others[0], arch.reps[2].name), arch.bias, arch.activation)
        parts.append(_separated_e_point(other, 1, rng))
    w = [np.concatenate(ts) for ts in zip(*parts, strict=True)]
    K = w[0].shape[0]
    q = np.stack([rng.permutation(n) for _ in range(K)])
    (d1,) = discover_hidden_reps(arch, w)
    (d2,) = discover_hidden_reps(arch, _plant(arch, w, 1, q))
    assert d1.relation[3] == "none"
    if K > 4:
        assert d1.relation[4] == "other"
    np.testing.assert_array_equal(d2.hidden_rep, d1.hidden_rep)
    np.testing.assert_allclose(d2.residual, d1.residual, atol=1e-10)
    for k in range(K):
        same_partition = d1.clusters[k][:, None] == d1.clusters[k][None]
        moved_labels = d2.clusters[k][q[k]]  # moved neuron q[i] is neuron i
        np.testing.assert_array_equal(moved_labels[:, None] == moved_labels[None], same_partition)
        if d1.relation[k] == "none":
            assert d2.relation[k] == "none"
            assert (d2.images[k] == -1).all()
            continue
        expected = [_conj(q[k], s) for s in d1.images[k]]
        np.testing.assert_array_equal(d2.images[k], np.stack(expected))
        if d1.relation[k] == "other":
            assert d2.relation[k] == "other"
        else:
            identical = all(np.array_equal(e, r) for e, r in zip(expected, gens, strict=True))
            assert d2.relation[k] == ("identical" if identical else "conjugate")


# ---------------------------------------------------------------------- 4. ReLU rescalings
@given(case=planted_cases(activations=("relu",)))
def test_relu_rescalings_change_nothing(case: tuple) -> None:
    arch, seed = case
    rng = np.random.default_rng(seed)
    n = arch.reps[1].size
    w = _separated_e_point(arch, 2, rng)
    w = _plant(arch, w, 1, np.stack([rng.permutation(n), rng.permutation(n)]))
    w = [np.concatenate(ts) for ts in zip(w, _gaussian(arch, 1, rng), strict=True)]
    scaled = _rescale(arch, w, 1, np.exp(2 * rng.standard_normal((3, n))))
    (d1,) = discover_hidden_reps(arch, w)
    (d2,) = discover_hidden_reps(arch, scaled)
    np.testing.assert_array_equal(d2.images, d1.images)
    for field in ("relation", "hidden_rep", "relabelling"):
        np.testing.assert_array_equal(getattr(d2, field), getattr(d1, field))
    assert d2.cycle_types == d1.cycle_types
    np.testing.assert_allclose(d2.residual, d1.residual, rtol=1e-8, atol=1e-10)
    assert d1.relation[2] == "none"


def test_rescaled_copies_are_not_equivariant_for_tanh() -> None:
    """Without a positively homogeneous activation a rescaled neuron is a different neuron."""
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), natural(G), trivial(G)), "tanh", True)
    w = _e_point(arch, 1, np.random.default_rng(2))
    (d,) = discover_hidden_reps(arch, _rescale(arch, w, 1, np.array([[1.0, 2.0, 1.0]])))
    assert d.relation[0] == "none" and d.residual[0] > 0.05
    relu = MLPArchitecture(arch.reps, "relu", True)
    (d,) = discover_hidden_reps(relu, _rescale(arch, w, 1, np.array([[1.0, 2.0, 1.0]])))
    assert d.relation[0] == "identical"


# ---------------------------------------------------------------------- 5. none and dead
@given(case=planted_cases(), tol=st.sampled_from([0.01, 0.05, 0.1]))
def test_gaussian_weights_fit_no_rep(case: tuple, tol: float) -> None:
    arch, seed = case
    w = _gaussian(arch, 3, np.random.default_rng(seed))
    (d,) = discover_hidden_reps(arch, w, tol=tol)
    assert d.relation.tolist() == ["none"] * 3
    assert (d.residual > tol).all() and np.isfinite(d.residual).all()
    assert (d.images == -1).all()
    assert d.hidden_rep.tolist() == [""] * 3 and d.relabelling.tolist() == [""] * 3
    assert d.cycle_types == [[], [], []]
    assert d.rep(0) is None


def test_dead_networks() -> None:
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), natural(G), regular(G), trivial(G)), "relu", True)
    rng = np.random.default_rng(3)
    w = _e_point(arch, 4, rng)
    w[0][0] = 0.0  # model 0 is all zero
    for t in w:
        t[0] = 0.0
    w[-2][1] = 0.0  # model 1: the last weights vanish
    w[-1][1] = 0.0
    found = discover_hidden_reps(arch, w)
    masked = discover_hidden_reps(arch, w, dead=np.array([False, False, True, False]))
    for d, e in zip(found, masked, strict=True):
        assert d.relation.tolist() == ["dead", "dead", "identical", "identical"]
        assert e.relation[2] == "dead" and e.relation[3] == "identical"
        assert (d.images[:2] == -1).all() and (e.images[2] == -1).all()
        assert d.hidden_rep[0] == "" and d.rep(0) is None and e.rep(2) is None


# ---------------------------------------------------------------------- 6. planted non-isomorphic reps
@given(case=other_cases())
def test_planted_non_isomorphic_rep_is_other(case: tuple) -> None:
    arch, planted_arch, seed = case
    rng = np.random.default_rng(seed)
    planted = planted_arch.reps[1]
    n = planted.size
    K = 2
    w = _separated_e_point(planted_arch, K, rng)
    pis = np.stack([np.arange(n), rng.permutation(n)])
    moved = _plant(planted_arch, w, 1, pis)
    (d,) = discover_hidden_reps(arch, moved)
    assert d.relation.tolist() == ["other"] * K
    assert d.hidden_rep.tolist() == [planted.canonical().name] * K
    assert d.relabelling.tolist() == [""] * K and d.cycle_types == [[]] * K
    for k in range(K):
        sigma = [_conj(pis[k], r) for r in _generator_images(planted)]
        np.testing.assert_array_equal(d.images[k], np.stack(sigma))
        assert _equivariant(arch, moved, k, _layer_images(arch, {1: sigma}))
        assert d.rep(k).name == planted.canonical().name
        np.testing.assert_array_equal(_character(d.rep(k).perms), _character(planted.perms))
    assert d.residual.max() < 1e-9


def test_s4_other_transitive_rep_of_degree_6() -> None:
    G = group_from_name("S4")
    start, planted = (next(r for r in transitive_reps(G) if r.name == s) for s in ("S4/C4", "S4/K4"))
    assert start.size == planted.size == 6 and not start.is_isomorphic(planted)
    arch = MLPArchitecture((natural(G), start, trivial(G)), "relu", True)
    w = _e_point(MLPArchitecture((natural(G), planted, trivial(G)), "relu", True), 1, np.random.default_rng(4))
    (d,) = discover_hidden_reps(arch, w)
    assert d.relation[0] == "other" and d.hidden_rep[0] == planted.canonical().name == "S4/K4"


# ---------------------------------------------------------------------- the residual and the tolerance
@given(case=planted_cases(), noise=st.sampled_from([1e-4, 1e-3, 5e-3]))
def test_residual_is_the_relative_mismatch_and_tol_its_threshold(case: tuple, noise: float) -> None:
    arch, rng, _, n, gens = _planted_start(case)
    w = _separated_e_point(arch, 1, rng, margin=0.2)
    pi = rng.permutation(n)
    w = [t + noise * rng.standard_normal(t.shape) for t in _plant(arch, w, 1, pi[None])]
    sigma = [_conj(pi, r) for r in gens]
    expected = "identical" if _commutes(pi, gens) else "conjugate"
    res = _residual(arch, w, 0, sigma)
    assume(res < 0.05)
    (d,) = discover_hidden_reps(arch, w, tol=0.1)
    np.testing.assert_array_equal(d.images[0], np.stack(sigma))
    np.testing.assert_allclose(d.residual[0], res, rtol=1e-9)
    assert d.relation[0] == expected
    (above,) = discover_hidden_reps(arch, w, tol=res * 1.001)
    (below,) = discover_hidden_reps(arch, w, tol=res * 0.999)
    assert above.relation[0] == expected and below.relation[0] == "none"
    np.testing.assert_allclose([above.residual[0], below.residual[0]], res, rtol=1e-9)
    assert (below.images == -1).all() and below.hidden_rep[0] == ""


# ---------------------------------------------------------------------- 7. two hidden layers
@pytest.mark.parametrize("case", DEEP, ids=lambda c: f"{c[0]}-{'-'.join(c[1][1:3])}-{c[2]}")
@settings(max_examples=12)  # four cases: keep the file fast on a shared 2-core machine
@given(seed=st.integers(0, 2**31))
def test_two_hidden_layers(case: tuple, seed: int) -> None:
    arch = _arch(case[0], case[1], case[2])
    rng = np.random.default_rng(seed)
    K = 4
    w = _separated_e_point(arch, K, rng, margin=0.02)
    pis = {}
    for m in (1, 2):
        rep = arch.reps[m]
        pis[m] = np.stack(
            [np.arange(rep.size), _random_commuting(rep, rng), *(rng.permutation(rep.size) for _ in range(2))]
        )
    moved = _plant(arch, _plant(arch, w, 1, pis[1]), 2, pis[2])
    found = discover_hidden_reps(arch, moved, tol=0.02)
    scales = {m: np.exp(rng.standard_normal((K, arch.widths[m]))) for m in (1, 2)}
    scaled = discover_hidden_reps(arch, _rescale(arch, _rescale(arch, moved, 1, scales[1]), 2, scales[2]), tol=0.02)
    assert [d.layer for d in found] == [1, 2]
    x = np.random.default_rng(0).standard_normal((512, arch.widths[0]))
    dead = np.sqrt((_outputs(arch, moved, x) ** 2).mean(axis=(1, 2))) < 1e-8  # e.g. no bias, W1 < 0
    for d, e in zip(found, scaled, strict=True):
        m = d.layer
        gens = _generator_images(arch.reps[m])
        np.testing.assert_array_equal(e.images, d.images)
        np.testing.assert_array_equal(e.relation, d.relation)
        np.testing.assert_array_equal(e.relabelling, d.relabelling)
        for k in range(K):
            if dead[k]:
                assert d.relation[k] == "dead" and (d.images[k] == -1).all()
                continue
            sigma = [_conj(pis[m][k], r) for r in gens]
            np.testing.assert_array_equal(d.images[k], np.stack(sigma))
            assert d.relation[k] == ("identical" if _commutes(pis[m][k], gens) else "conjugate")
            assert d.hidden_rep[k] == arch.reps[m].canonical().name
            assert d.residual[k] < 1e-9
            if d.relation[k] == "conjugate":
                p = _from_cycles(d.relabelling[k], arch.widths[m])
                for r, s in zip(gens, sigma, strict=True):
                    np.testing.assert_array_equal(_conj(p, r), s)
                assert d.cycle_types[k] == _cycle_lengths(p)
    hidden = {m: [_conj(pis[m][3], r) for r in _generator_images(arch.reps[m])] for m in (1, 2)}
    assert _equivariant(arch, moved, 3, _layer_images(arch, hidden))
    # the planting kept the function
    np.testing.assert_allclose(_outputs(arch, moved, x), _outputs(arch, w, x), atol=1e-10)


def test_two_hidden_layers_none_in_the_first() -> None:
    """Gaussian first layer: no rep there; the second layer has no rep to build on either."""
    arch = _arch(*DEEP[0])
    rng = np.random.default_rng(5)
    w = _e_point(arch, 1, rng)
    w[0] = rng.standard_normal(w[0].shape)
    first, second = discover_hidden_reps(arch, w)
    assert first.relation[0] == "none" and second.relation[0] == "none"


# ---------------------------------------------------------------------- 8. batched = one by one
@settings(max_examples=10)  # six discoveries per example
@given(case=other_cases())
def test_batched_equals_one_by_one(case: tuple) -> None:
    arch, other, seed = case
    rng = np.random.default_rng(seed)
    n = arch.reps[1].size
    parts = [
        _plant(arch, _e_point(arch, 2, rng), 1, np.stack([rng.permutation(n), rng.permutation(n)])),
        _gaussian(arch, 1, rng),
        [np.zeros((1, *s)) for s in arch.shapes],
        _plant(other, _separated_e_point(other, 1, rng), 1, rng.permutation(n)[None]),
    ]
    w = [np.concatenate(ts) for ts in zip(*parts, strict=True)]
    (batch,) = discover_hidden_reps(arch, w)
    assert batch.relation[2:].tolist() == ["none", "dead", "other"]
    for k in range(w[0].shape[0]):
        (one,) = discover_hidden_reps(arch, [t[k] for t in w])  # one model, no model dimension
        assert one.images.shape == (1, *batch.images.shape[1:])
        np.testing.assert_array_equal(one.images[0], batch.images[k])
        np.testing.assert_allclose(one.residual[0], batch.residual[k], rtol=1e-10, atol=1e-14)
        for field in ("relation", "hidden_rep", "relabelling", "clusters"):
            np.testing.assert_array_equal(getattr(one, field)[0], getattr(batch, field)[k])
        assert one.cycle_types[0] == batch.cycle_types[k]
    table = batch.table()
    assert list(table.columns) == [
        "layer",
        "hidden_rep",
        "relation",
        "relabelling",
        "cycle_type",
        "residual",
        "distinct_neurons",
        "coinciding",
    ]
    assert table["relation"].tolist() == batch.relation.tolist()
    assert set(table["relation"]) <= set(RELATIONS)
    for k in range(len(table)):  # the clusters, counted and listed
        labels = batch.clusters[k]
        assert table["distinct_neurons"][k] == len(set(labels.tolist()))
        groups = [sorted(np.flatnonzero(labels == c).tolist()) for c in sorted(set(labels.tolist()))]
        assert sorted(table["coinciding"][k]) == sorted(g for g in groups if len(g) > 1)
    assert table["coinciding"][3] == [list(range(n))]  # the zero network: every neuron coincides


# ---------------------------------------------------------------------- 9. alignment
def _free(n: int, bias: bool) -> MLPArchitecture:
    G = group_from_name("S3")
    return MLPArchitecture((natural(G), trivial(G, n), trivial(G, 2)), "relu", bias)


@given(n=st.integers(2, 5), bias=st.booleans(), seed=st.integers(0, 2**31))
def test_align_is_the_brute_force_optimum(n: int, bias: bool, seed: int) -> None:
    arch = _free(n, bias)
    rng = np.random.default_rng(seed)
    K = 2
    a, b = _gaussian(arch, K, rng), _gaussian(arch, K, rng)
    # planted: a permuted and rescaled copy of b comes back exactly
    pi = np.stack([rng.permutation(n) for _ in range(K)])
    planted = _plant(arch, _rescale(arch, b, 1, np.exp(rng.standard_normal((K, n)))), 1, pi)
    result = align(arch, planted, b)
    np.testing.assert_array_equal(result.perms[1], pi)
    assert (result.distance < 1e-10).all()
    for rescale in (False, True):
        A, B = (_normalized(arch, a), _normalized(arch, b)) if rescale else (a, b)
        result = align(arch, a, b, rescale=rescale)
        perms = _all_perms(n)
        for k in range(K):
            dist = []
            for p in perms:
                moved = _plant(arch, [t[k : k + 1] for t in B], 1, p[None])
                dist.append(np.sqrt(sum(((x[k] - y[0]) ** 2).sum() for x, y in zip(A, moved, strict=True))))
            np.testing.assert_allclose(result.distance[k], min(dist), rtol=1e-9, atol=1e-12)
            own = _plant(arch, [t[k : k + 1] for t in B], 1, result.perms[1][k][None])
            for x, y in zip(result.aligned, own, strict=True):
                np.testing.assert_allclose(x[k], y[0], atol=1e-12)


# ---------------------------------------------------------------------- centralizer
@pytest.mark.parametrize("group", GROUPS)
def test_centralizer_against_brute_force(group: str) -> None:
    specs = {c[2] for c in _cases() if c[0] == group} | {"natural", "regular"}
    G = group_from_name(group)
    for spec in sorted(specs):
        rep = parse_rep(G, spec)
        if rep.size > 6:
            continue
        gens = _generator_images(rep)
        expected = _conjugators(gens, gens)
        cent = centralizer(rep)
        np.testing.assert_array_equal(cent[0], np.arange(rep.size))
        assert len({tuple(c) for c in cent.tolist()}) == len(cent)
        assert sorted(map(tuple, cent.tolist())) == sorted(map(tuple, expected.tolist())), spec
    assert centralizer(trivial(G, 4), limit=23) is None
    assert len(centralizer(trivial(G, 4), limit=24)) == 24


# ---------------------------------------------------------------------- 10. bad input
def test_wrong_shapes_raise() -> None:
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), natural(G), trivial(G)), "relu", True)
    w = _e_point(arch, 2, np.random.default_rng(0))
    with pytest.raises(WeightShapeError, match="got 3 tensors"):
        discover_hidden_reps(arch, w[:3])
    with pytest.raises(WeightShapeError, match=re.escape("(2, 3, 2)")):
        discover_hidden_reps(arch, [w[0][:, :, :2], *w[1:]])
    with pytest.raises(WeightShapeError):
        discover_hidden_reps(arch, [w[0], w[1][:1], *w[2:]])  # different model counts
    with pytest.raises(WeightShapeError):
        discover_hidden_reps(arch, [w[0][0], *w[1:]])  # batched and not


@pytest.mark.parametrize("tol", [0, 0.0, -1.0, float("nan"), float("inf")])
def test_bad_tolerance_raises(tol: float) -> None:
    G = group_from_name("S3")
    arch = MLPArchitecture((natural(G), natural(G), trivial(G)), "relu", True)
    w = _e_point(arch, 1, np.random.default_rng(0))
    with pytest.raises(ConfigError, match=re.escape(repr(tol))):
        discover_hidden_reps(arch, w, tol=tol)
    with pytest.raises(ConfigError, match=re.escape(repr(tol))):
        discover_hidden_reps(arch, w, cluster_tol=tol)
