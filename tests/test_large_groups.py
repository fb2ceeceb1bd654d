"""Groups beyond the enumeration limit: reps and bases from the generators alone (issue 16, items 1-3).

Oracles: the known dimensions of the spaces of permutation-equivariant maps of sets and graphs
(Maron et al.: ``natural^2 -> natural^2`` of ``S_n`` has 15 elements for ``n >= 4``; ``natural^2 ->
trivial`` has 2; ``natural -> natural`` 2), Burnside's count where the group is small enough to
enumerate, and the homomorphism property checked on random words in the generators."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from eqlandscape.equivariant import burnside_dim, equivariant_basis
from eqlandscape.errors import GroupTooLargeError, NotAHomomorphismError
from eqlandscape.groups import group_from_name
from eqlandscape.reps import PermRep, natural, parse_rep, trivial


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
