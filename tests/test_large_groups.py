"""Groups beyond the enumeration limit: reps and bases from the generators alone (issue 16, items 1-3).

Oracles: the known dimensions of the spaces of permutation-equivariant maps of sets and graphs
(Maron et al.: ``natural^2 -> natural^2`` of ``S_n`` has 15 elements for ``n >= 4``; ``natural^2 ->
trivial`` has 2; ``natural -> natural`` 2; in general the Bell number ``B(k + m)`` for ``natural^k ->
natural^m``, ``n >= k + m``), Burnside's count and the enumerating paths where the group is small
enough to list, membership against all permutations or by independent criteria (parity, blocks,
the dihedral formula), and coset reps against the actions they must be (points, 5-subsets, ordered
pairs) through an explicit intertwiner."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlandscape.equivariant import bias_basis, burnside_dim, equivariant_basis
from eqlandscape.errors import (
    ConfigError,
    DegreeMismatchError,
    EqlandscapeError,
    GroupTooLargeError,
    NotAHomomorphismError,
    UnknownSubgroupError,
)
from eqlandscape.groups import PermGroup, group_from_name, orbit_labels, perm_group
from eqlandscape.groups.chain import StabilizerChain
from eqlandscape.reps import PermRep, coset_rep, natural, parse_rep, random_elements, set_coset_limit, trivial


@pytest.mark.parametrize("n", [10, 20, 40])
def test_graph_and_set_bases_of_large_symmetric_groups(n) -> None:
    G = group_from_name(f"S{n}")
    V = natural(G)
    assert equivariant_basis(V, V).dim == 2
    assert equivariant_basis(V**2, trivial(G)).dim == 2
    assert equivariant_basis(V**2, V**2).dim == 15
    assert equivariant_basis(V**2, V).dim == 5


def test_small_groups_agree_with_burnside_through_the_same_code() -> None:
    for name in ("S4", "S5", "D6", "A5"):
        G = group_from_name(name)
        V = natural(G)
        for a, b in ((V**2, V**2), (V**2, V), (V + trivial(G), V**2)):
            assert equivariant_basis(a, b).dim == burnside_dim(a, b)


def test_specs_and_algebra_on_a_large_group() -> None:
    G = group_from_name("S12")
    rep = parse_rep(G, "natural^2 + 2*trivial")
    assert rep.size == 146 and str(rep) == "natural^2 + 2*trivial"
    assert rep == parse_rep(G, str(rep)) and hash(rep) == hash(parse_rep(G, str(rep)))
    assert [len(o) for o in rep.orbits] == [12, 132, 1, 1]  # diagonal, off-diagonal pairs, two fixed points
    assert pickle.loads(pickle.dumps(rep)) == rep
    with pytest.raises(GroupTooLargeError, match="479001600"):
        rep.character  # noqa: B018


def _order(p: np.ndarray) -> int:
    q, k = p.copy(), 1
    while not np.array_equal(q, np.arange(p.shape[0])):
        q, k = p[q], k + 1
    return k


def test_generator_images_are_validated_without_elements() -> None:
    G = group_from_name("S10")
    rng = np.random.default_rng(0)
    pi = rng.permutation(10)
    conj = np.stack([pi[g][np.argsort(pi)] for g in G.generator_perms])  # pi g pi^-1: a homomorphism
    rep = PermRep.from_generator_images(G, conj)
    assert rep.size == 10 and [_order(g) for g in conj] == [_order(g) for g in G.generator_perms]
    np.testing.assert_array_equal(rep.generator_images, conj)  # the rep sends each generator to its image
    # and every element g (words in the generators, never listed) to pi g pi^-1
    g, image = random_elements([natural(G), rep], [0, 1], "check", 5)
    np.testing.assert_array_equal(image, pi[g][..., np.argsort(pi)])
    bad = conj.copy()
    bad[0] = np.roll(np.arange(10), 1)  # a transposition (order 2) sent to a 10-cycle: the relation g^2 = e breaks
    assert _order(bad[0]) != _order(G.generator_perms[0])
    with pytest.raises(NotAHomomorphismError, match="S10"):
        PermRep.from_generator_images(G, bad)


def test_basis_command_on_a_large_group(capsys) -> None:
    import json

    from eqlandscape.cli import main

    assert main(["basis", "S20", "natural^2", "natural^2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dim"] == 15 and summary["burnside_dim"] is None and summary["shape"] == [400, 400]


def test_too_many_index_pairs_is_refused_naming_the_operation_and_limit() -> None:
    G = group_from_name("S100")
    V = natural(G)
    with pytest.raises(GroupTooLargeError, match=r"natural\^2 -> natural\^2 of S100.*100000000 index pairs.*limit"):
        equivariant_basis(V**2, V**2)


# ---------------------------------------------------------------------- stabilizer chains
@st.composite
def generator_sets(draw: st.DrawFn, max_degree: int = 5, max_gens: int = 3) -> list[list[int]]:
    degree = draw(st.integers(1, max_degree))
    return draw(st.lists(st.permutations(range(degree)), min_size=1, max_size=max_gens))


@given(generator_sets())
@settings(max_examples=40)
def test_chain_membership_against_all_permutations(gens: list[list[int]]) -> None:
    G = PermGroup(gens)
    n = G.degree
    everything = np.array(list(itertools.permutations(range(n))))
    listed = {tuple(e) for e in G.elements.tolist()}
    np.testing.assert_array_equal(G.chain.contains(everything), [tuple(p) in listed for p in everything.tolist()])
    assert math.prod(o.size for o in G.chain.orbits) == G.order


@pytest.mark.parametrize("name", ["A40", "S60", "D100xS20", "C1000", "A12xA12", "A100"])
def test_chains_of_large_catalog_groups_are_complete(name: str) -> None:
    """Complete: the orbit sizes multiply to the catalog's order, with the base 0, 1, ... (A_n has n - 2
    generators: the random elements must mix all of them)."""
    G = group_from_name(name)
    chain = G.chain
    assert math.prod(int(o.size) for o in chain.orbits) == G.order
    assert (np.diff(chain.base) > 0).all() and all(o[0] >= b for o, b in zip(chain.orbits, chain.base, strict=True))
    assert G.contains(G.generator_perms).all()


def test_membership_of_large_groups_by_independent_criteria() -> None:
    rng = np.random.default_rng(5)
    perms = np.stack([rng.permutation(12) for _ in range(40)])
    parity = np.array([sum(p[i] > p[j] for i in range(12) for j in range(i + 1, 12)) % 2 for p in perms])
    np.testing.assert_array_equal(group_from_name("A12").contains(perms), parity == 0)
    blocks = np.concatenate([rng.permutation(5), 5 + rng.permutation(5)])
    swapped = np.concatenate([5 + rng.permutation(5), rng.permutation(5)])
    S5xS5 = group_from_name("S5xS5")
    assert blocks in S5xS5 and swapped not in S5xS5 and S5xS5.order > perm_group.ENUMERATION_LIMIT
    D = group_from_name("D100")
    i = np.arange(100)
    assert ((17 - i) % 100) in D and ((17 + i) % 100) in D and np.roll(i, 1)[::-1].copy() in D
    assert np.concatenate([[1, 0], i[2:]]) not in D


def test_chain_bad_input() -> None:
    from eqlandscape.groups import chain as chain_module

    S4 = group_from_name("S4").generator_perms
    with pytest.raises(EqlandscapeError, match="not the claimed order 25"):
        StabilizerChain(S4, 25, name="S4")
    with pytest.raises(EqlandscapeError, match="more than the claimed order 12"):
        StabilizerChain(S4, 12, name="S4")
    bad_graph = np.concatenate([S4, 4 + np.array([[1, 0], [0, 1]])], axis=1)  # (0 1) -> (4 5), the 4-cycle -> id
    with pytest.raises(NotAHomomorphismError, match="first 4 points"):
        StabilizerChain(bad_graph, 24, faithful=4, name="S4")
    old, chain_module.CHAIN_LIMIT = chain_module.CHAIN_LIMIT, 1000
    try:
        with pytest.raises(GroupTooLargeError, match=r"S50 on 50 points.*limit"):
            StabilizerChain(group_from_name("S50").generator_perms, math.factorial(50), name="S50")
    finally:
        chain_module.CHAIN_LIMIT = old


# ---------------------------------------------------------------------- coset reps from generators
COSET_GROUPS = ["S3", "D4", "A4", "S4", "D6", "S3xC2", "C4xC2", "A5", "C2xC2xC2"]


def _coset_of_each_element(rep: PermRep) -> np.ndarray:
    return rep.perms[:, 0]  # g . H = gH: the coset of g


@given(st.sampled_from(COSET_GROUPS), st.data())
@settings(max_examples=40)
def test_coset_reps_from_generators_match_the_enumerating_path(name: str, data: st.DataObject) -> None:
    G = group_from_name(name)
    idx = data.draw(st.lists(st.integers(0, G.order - 1), min_size=1, max_size=2))
    sub = G.subgroup(idx)  # possibly a conjugate of its class's representative
    ours = coset_rep(G, PermGroup(G.elements[idx]))
    listed = coset_rep(G, sub)
    assert ours.size == listed.size == G.order // sub.order
    PermRep(G, ours.perms)  # validated as a homomorphism on every element (equivariance of the action)
    # one coset numbering to the other: g H -> g H, well defined, bijective and intertwining
    a, b = _coset_of_each_element(ours), _coset_of_each_element(listed)
    sigma = np.full(ours.size, -1)
    sigma[a] = b
    np.testing.assert_array_equal(sigma[a], b)
    assert sorted(sigma.tolist()) == list(range(ours.size))
    np.testing.assert_array_equal(listed.perms[:, sigma], sigma[ours.perms])
    np.testing.assert_array_equal(np.flatnonzero(a == 0), sub.elements)  # the stabilizer of point 0 is H


def _intertwiner(a: PermRep, b_images: np.ndarray, a0: int, b0: int) -> np.ndarray:
    """The bijection ``sigma`` with ``sigma[a0] = b0`` and ``sigma[a.gen_k[x]] = b_k[sigma[x]]`` for every
    generator and point, built breadth first and checked on every edge (raises if there is none)."""
    sigma = np.full(a.size, -1)
    sigma[a0], frontier = b0, [a0]
    while frontier:
        nxt = []
        for x in frontier:
            for ga, gb in zip(a.generator_images, b_images, strict=True):
                y, z = int(ga[x]), int(gb[sigma[x]])
                if sigma[y] < 0:
                    sigma[y] = z
                    nxt.append(y)
                assert sigma[y] == z
        frontier = nxt
    assert (sigma >= 0).all() and np.unique(sigma).size == a.size == b_images.shape[1]
    return sigma


def test_large_coset_reps_are_the_actions_they_should_be() -> None:
    G = group_from_name("S10")
    rep = parse_rep(G, "S10/S9")
    assert str(rep) == "S10/S9" and parse_rep(G, str(rep)) == rep
    _intertwiner(rep, G.generator_perms, 0, 9)  # the cosets of the stabilizer of 9 are the points
    halves = parse_rep(G, "S10/S5xS5")
    subsets = [frozenset(c) for c in itertools.combinations(range(10), 5)]
    where = {s: i for i, s in enumerate(subsets)}
    on_subsets = np.array([[where[frozenset(int(g[x]) for x in s)] for s in subsets] for g in G.generator_perms])
    assert halves.size == 252
    _intertwiner(halves, on_subsets, 0, where[frozenset(range(5))])
    A = group_from_name("A10")
    pairs = [(i, j) for i in range(10) for j in range(10) if i != j]
    at = {p: k for k, p in enumerate(pairs)}
    on_pairs = np.array([[at[(int(g[i]), int(g[j]))] for i, j in pairs] for g in A.generator_perms])
    _intertwiner(parse_rep(A, "A10/A8"), on_pairs, 0, at[(8, 9)])


def test_coset_reps_bad_input(capsys) -> None:
    from eqlandscape.cli import main

    G = group_from_name("A10")
    with pytest.raises(ConfigError, match=r"\(0 1\) = \[1, 0, 2, .*not an element of A10"):
        parse_rep(G, "A10/S9")
    with pytest.raises(ConfigError, match=r"generator 1 of the subgroup H, \(0 1\)"):
        coset_rep(G, np.array([[1, 2, 0, *range(3, 10)], [1, 0, *range(2, 10)]]))
    with pytest.raises(DegreeMismatchError, match="acts on 3 points"):
        coset_rep(G, PermGroup([[1, 2, 0]]))
    with pytest.raises(GroupTooLargeError, match=r"S12/S5 .*\|G:H\| = 3991680 points.*limit of 100000"):
        parse_rep(group_from_name("S12"), "S12/S5")
    previous = set_coset_limit(200)
    try:
        with pytest.raises(GroupTooLargeError, match="252 points, more than the limit of 200"):
            parse_rep(group_from_name("S10"), "S10/S5xS5")
    finally:
        set_coset_limit(previous)
    with pytest.raises(GroupTooLargeError, match="positive integer"):
        set_coset_limit(0)
    with pytest.raises(UnknownSubgroupError, match=r"C2'.*catalog group"):
        parse_rep(group_from_name("S10"), "S10/C2'")
    assert main(["basis", "A10", "natural", "A10/S9"]) == 2
    err = capsys.readouterr().err
    assert "not an element of A10" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------- bases: the two paths, Bell numbers
REP_SPECS = ["natural", "natural^2", "natural + trivial", "2*natural", "regular"]


@given(generator_sets(max_degree=4), st.sampled_from(REP_SPECS), st.sampled_from(REP_SPECS))
@settings(max_examples=30)
def test_generator_and_enumerating_paths_give_the_same_orbit_bases(gens, spec_in: str, spec_out: str) -> None:
    G = PermGroup(gens)
    a, b = parse_rep(G, spec_in), parse_rep(G, spec_out)
    basis = equivariant_basis(a, b, cache=False)
    # the enumerating path: every element's permutation of the index pairs (i_out, i_in)
    every = (b.perms[:, :, None] * a.size + a.perms[:, None, :]).reshape(G.order, -1)
    _, labels = orbit_labels(every, a.size * b.size)
    np.testing.assert_array_equal(basis.orbit_index.reshape(-1), labels)
    assert basis.dim == burnside_dim(a, b)


def bell(k: int) -> int:
    """Bell numbers by the Bell triangle."""
    row = [1]
    for _ in range(k):
        nxt = [row[-1]]
        for x in row:
            nxt.append(nxt[-1] + x)
        row = nxt
    return row[0]


@pytest.mark.parametrize(("n", "k", "m"), [(10, 1, 1), (10, 2, 1), (10, 1, 3), (20, 2, 2), (10, 2, 3), (7, 3, 3)])
def test_basis_sizes_are_bell_numbers_and_every_element_is_equivariant(n: int, k: int, m: int) -> None:
    assert [bell(i) for i in range(7)] == [1, 1, 2, 5, 15, 52, 203]
    G = group_from_name(f"S{n}")
    V = natural(G)
    a, b = V**k, V**m
    basis = equivariant_basis(a, b, cache=False)
    assert basis.dim == bell(k + m) and bias_basis(b, cache=False).dim == bell(m)
    labels = basis.orbit_index
    for p_in, p_out in zip(a.generator_images, b.generator_images, strict=True):
        moved = np.empty_like(labels)
        moved[np.ix_(p_out, p_in)] = labels  # (rho_out(g) W rho_in(g)^T)[p_out[i], p_in[j]] = W[i, j]
        np.testing.assert_array_equal(moved, labels)  # every indicator B_k is fixed: equivariant


def test_group_command_on_s10_says_what_it_does_not_compute(capsys) -> None:
    from eqlandscape.cli import main

    assert main(["group", "S10"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "order 3628800" in out and "acting on 10 points" in out and "generators (0 1) (0 1 2 3 4 5 6 7 8 9)" in out
    assert "not computed: conjugacy classes, subgroups, subgroup classes, transitive reps" in out
    assert "3628800 elements, more than the enumeration limit of 10000" in out
