"""Tests of eqlandscape.groups: closure and table, conjugacy classes, subgroups and their classes,
labels, the catalog, bad input; with GAP as an independent oracle where it is installed."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlandscape.errors import (
    DegreeMismatchError,
    GroupMismatchError,
    NotAPermutationError,
    UnknownGroupError,
    UnknownSubgroupError,
)
from eqlandscape.groups import (
    PermGroup,
    Subgroup,
    SubgroupClass,
    cyclic,
    direct_product,
    group_from_name,
    orbit_labels,
    symmetric,
)
from eqlandscape.groups.catalog import cycle
from eqlandscape.groups.labels import abelian_invariants

CATALOG = ["C1", "C2", "C5", "C6", "D3", "D4", "D5", "D6", "S1", "S2", "S3", "S4", "S5", "A3", "A4", "A5"]
CATALOG += ["K4", "S3xC2", "D4xC2", "C2xC2xC2", "C4xC2", "A4xC2"]
LABEL = re.compile(r"^[A-Za-wyz0-9_']+$")  # letters (no lowercase x), digits, _ and '


@st.composite
def generator_sets(draw: st.DrawFn, max_degree: int = 6, max_gens: int = 3) -> list[list[int]]:
    """1..max_gens random permutations of one random degree 2..max_degree."""
    degree = draw(st.integers(2, max_degree))
    return draw(st.lists(st.permutations(range(degree)), min_size=1, max_size=max_gens))


# --------------------------------------------------------------------------- group core
def check_group_axioms(G: PermGroup) -> None:
    n, E, T = G.order, G.elements, G.table
    assert np.array_equal(E[0], np.arange(G.degree)), "identity first"
    assert len({row.tobytes() for row in E}) == n, "elements distinct"
    # table agrees with composition (g*h)[i] = g[h[i]]
    assert np.array_equal(E[T], E[np.arange(n)[:, None, None], E[None, :, :]])
    assert np.array_equal(T[0], np.arange(n)) and np.array_equal(T[:, 0], np.arange(n))
    assert (T[np.arange(n), G.inverse] == 0).all() and (T[G.inverse, np.arange(n)] == 0).all()
    idx = np.arange(n)
    if n <= 60:  # associativity, exhaustively
        assert np.array_equal(T[T[:, :, None], idx[None, None, :]], T[idx[:, None, None], T[None, :, :]])
    else:  # on a random sample of triples
        i, j, k = np.random.default_rng(0).integers(0, n, size=(3, 20000))
        assert np.array_equal(T[T[i, j], k], T[i, T[j, k]])
    # Latin square: each row and each column is a permutation
    assert (np.sort(T, axis=1) == idx).all() and (np.sort(T, axis=0) == idx[:, None]).all()


def check_element_orders(G: PermGroup) -> None:
    for x in range(G.order):
        power, k = x, 1
        while power != 0:
            power, k = int(G.table[power, x]), k + 1
        assert G.element_orders[x] == k


def check_conjugacy_classes(G: PermGroup) -> None:
    classes = G.conjugacy_classes
    everything = np.concatenate(classes)
    assert np.array_equal(np.sort(everything), np.arange(G.order)), "classes partition the group"
    assert classes[0].tolist() == [0]
    for k, cls in enumerate(classes):
        image = np.unique(G.conjugate(np.arange(G.order)[:, None], cls[None, :]))
        assert np.array_equal(image, cls), "a class is one orbit under conjugation by all of G"
        assert (G.class_index[cls] == k).all()
        assert len(set(G.element_orders[cls].tolist())) == 1


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_group_axioms(name: str) -> None:
    G = group_from_name(name)
    check_group_axioms(G)
    check_element_orders(G)
    check_conjugacy_classes(G)


@given(generator_sets())
@settings(max_examples=40)
def test_random_group_axioms(gens: list[list[int]]) -> None:
    G = PermGroup(gens)
    check_group_axioms(G)
    check_element_orders(G)
    check_conjugacy_classes(G)
    for g in gens:  # the generators are elements, found by index
        assert np.array_equal(G.elements[G.index(g)], g) and g in G


@pytest.mark.parametrize(
    ("name", "order", "degree", "classes"),
    [
        ("C4", 4, 4, 4),
        ("D4", 8, 4, 5),
        ("S3", 6, 3, 3),
        ("S4", 24, 4, 5),
        ("A4", 12, 4, 4),
        ("K4", 4, 4, 4),
        ("S3xC2", 12, 5, 6),
        ("A5", 60, 5, 5),
        ("D5", 10, 5, 4),
        ("S1", 1, 1, 1),
    ],
)
def test_catalog_facts(name: str, order: int, degree: int, classes: int) -> None:
    G = group_from_name(name)
    assert (G.order, G.degree, len(G.conjugacy_classes)) == (order, degree, classes)
    assert group_from_name(name) is G


def test_orbit_labels() -> None:
    count, labels = orbit_labels(np.array([[1, 0, 2, 4, 3]]), 5)
    assert count == 3 and labels.tolist() == [0, 0, 1, 2, 2]
    count, labels = orbit_labels(np.zeros((0, 3), dtype=np.int64), 3)
    assert count == 3 and labels.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- subgroups
KNOWN_COUNTS = [
    ("C1", 1, 1),
    ("C6", 4, 4),
    ("S3", 6, 4),
    ("D4", 10, 8),
    ("A4", 10, 5),
    ("D6", 16, 10),
    ("S3xC2", 16, 10),
    ("S4", 30, 11),
    ("A5", 59, 9),
    ("S5", 156, 19),
    ("S6", 1455, 56),
]


@pytest.mark.parametrize(("name", "subgroups", "classes"), KNOWN_COUNTS)
def test_known_subgroup_counts(name: str, subgroups: int, classes: int) -> None:
    G = group_from_name(name)
    assert len(G.subgroups()) == subgroups
    assert len(G.subgroup_classes) == classes
    assert sum(c.size for c in G.subgroup_classes) == subgroups


def test_speed_floor_of_the_issue() -> None:
    """The issue's floors (S5 under 2 s, S6 under 60 s), on fresh groups (no cached results)."""
    for n, limit in ((5, 2.0), (6, 60.0)):
        G = PermGroup([cycle(n, 0, 1), np.roll(np.arange(n), -1)])
        start = time.perf_counter()
        assert len(G.subgroup_classes) == {5: 19, 6: 56}[n]
        assert time.perf_counter() - start < limit


def check_subgroup_lattice(G: PermGroup) -> None:
    subgroups = G.subgroups()
    assert len(set(subgroups)) == len(subgroups), "subgroups are distinct"
    orders = [c.order for c in G.subgroup_classes]
    assert orders == sorted(orders) and orders[0] == 1 and orders[-1] == G.order
    seen: set[Subgroup] = set()
    for cls in G.subgroup_classes:
        H = cls.representative
        assert cls.order == H.order and cls.index * cls.order == G.order and G.order % H.order == 0
        # closed, contains the identity, generated by its generators
        inside = np.zeros(G.order, dtype=bool)
        inside[H.elements] = True
        assert inside[0] and inside[G.table[np.ix_(H.elements, H.elements)]].all()
        assert np.array_equal(G.subgroup(H.generators).elements, H.elements)
        # members: exactly the distinct conjugates g H g^-1 over all g, the representative first
        conjugates = np.sort(G.conjugate(np.arange(G.order)[:, None], H.elements[None, :]), axis=1)
        distinct = {row.tobytes() for row in conjugates}
        members = cls.members()
        assert members[0] == H and len(members) == cls.size
        assert {m.elements.tobytes() for m in members} == distinct
        for m in members:
            assert np.array_equal(G.subgroup(m.generators).elements, m.elements)
            assert G.class_of_subgroup(m) == cls
        # size is the index of the normalizer; normal iff one member
        normalizer = sum(1 for row in conjugates if row.tobytes() == H.elements.tobytes())
        assert cls.size * normalizer == G.order
        assert cls.is_normal == H.is_normal() == (cls.size == 1)
        assert not seen & set(members), "classes are disjoint"
        seen |= set(members)
    assert seen == set(subgroups)


@pytest.mark.parametrize("name", ["S3", "D4", "A4", "D6", "S4", "A5", "C2xC2xC2", "D4xC2"])
def test_catalog_subgroup_lattice(name: str) -> None:
    check_subgroup_lattice(group_from_name(name))


def brute_force_subgroups(G: PermGroup) -> set[frozenset[int]]:
    """Every subgroup is a join of cyclic subgroups: close the cyclic subgroups under joins."""

    def close(elements: set[int]) -> frozenset[int]:
        result = set(elements) | {0}
        while True:
            products = {int(G.table[a, b]) for a in result for b in result}
            if products <= result:
                return frozenset(result)
            result |= products

    found = {close({x}) for x in range(G.order)}
    frontier = set(found)
    while frontier:
        new = {close(a | b) for a in frontier for b in found} - found
        found |= new
        frontier = new
    return found


@given(generator_sets(max_degree=5))
@settings(max_examples=25)
def test_random_subgroups_against_brute_force(gens: list[list[int]]) -> None:
    G = PermGroup(gens)
    if G.order > 24:  # keep the brute force small: the cyclic group of the first generator
        G = PermGroup(gens[:1])
    check_subgroup_lattice(G)
    assert {frozenset(h.elements.tolist()) for h in G.subgroups()} == brute_force_subgroups(G)


@given(generator_sets(), st.data())
@settings(max_examples=30)
def test_class_of_random_conjugates(gens: list[list[int]], data: st.DataObject) -> None:
    G = PermGroup(gens)
    cls = data.draw(st.sampled_from(G.subgroup_classes))
    g = data.draw(st.integers(0, G.order - 1))
    conj = cls.representative.conjugate(g)
    assert G.class_of_subgroup(conj) == cls
    shuffled = data.draw(st.permutations(conj.elements.tolist()))
    assert G.class_of_subgroup(np.array(shuffled)) == cls
    assert G.class_of_subgroup(list(conj.elements)) == cls
    assert conj in cls.members()
    assert conj.order == cls.order and conj.index == cls.index


def test_subgroup_value_semantics() -> None:
    G = group_from_name("S4")
    t01, t23 = G.index([1, 0, 2, 3]), G.index([0, 1, 3, 2])
    H = G.subgroup([t01, t23])
    assert H.order == 4 and H.index == 6 and H.contains(t01) and not H.contains(G.index([1, 2, 0, 3]))
    assert H == G.subgroup([t23, t01]) and hash(H) == hash(G.subgroup([t23, t01]))
    assert H == Subgroup(G, H.elements[::-1], H.generators)
    assert H != G.subgroup([t01])
    assert G.class_of_subgroup(H).label == "K4" and not H.is_normal()
    g = G.index([1, 2, 3, 0])
    conj = H.conjugate(g)
    expected = {int(G.table[G.table[g, h], G.inverse[g]]) for h in H.elements}
    assert set(conj.elements.tolist()) == expected
    assert G.subgroup([]).order == 1
    assert np.array_equal(np.flatnonzero(G.mask(H.elements[::-1])), H.elements)
    assert "K4" in repr(G.class_of_subgroup(H)) and "order 4" in repr(H)


# --------------------------------------------------------------------------- labels
EXPECTED_LABELS = {
    "S3": ["1", "C2", "C3", "S3"],
    "D4": ["1", "C2", "C2'", "C2''", "C4", "K4", "K4'", "D4"],
    "A4": ["1", "C2", "C3", "K4", "A4"],
    "S4": ["1", "C2", "C2'", "C3", "C4", "K4", "K4'", "S3", "D4", "A4", "S4"],
    "A5": ["1", "C2", "C3", "K4", "C5", "S3", "D5", "A4", "A5"],
    "D6": ["1", "C2", "C2'", "C2''", "C3", "K4", "C6", "S3", "S3'", "D6"],
}


@pytest.mark.parametrize(("name", "labels"), EXPECTED_LABELS.items())
def test_labels_of_small_groups(name: str, labels: list[str]) -> None:
    assert [c.label for c in group_from_name(name).subgroup_classes] == labels


def test_label_rule_in_s4() -> None:
    """Classes of one type are ordered by orbit sizes (finer first): C2 = <(0 1)>, C2' = <(0 1)(2 3)>;
    K4 has orbits 2+2, K4' is the normal Klein group (transitive)."""
    G = group_from_name("S4")
    assert G.subgroup_class("C2").orbit_sizes == (1, 1, 2) and G.subgroup_class("C2").size == 6
    assert G.subgroup_class("C2'").orbit_sizes == (2, 2) and G.subgroup_class("C2'").size == 3
    assert G.subgroup_class("K4'").is_normal and not G.subgroup_class("K4").is_normal
    description = G.subgroup_class("C2").description
    assert description.startswith("C2 generated by (0 1)") and "6 conjugates" in description
    assert "fixes 2 points" in description and "order 2" in description and "index 12" in description
    assert "normal" in G.subgroup_class("A4").description


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("C4xC2", "C4_C2"),
        ("C2xC2xC2", "C2_C2_C2"),
        ("K4", "K4"),
        ("C2xC3", "C6"),
        ("C6xC2", "C6_C2"),
        ("D4xC2", "D4_C2"),
        ("S3xC2", "D6"),
        ("A4xC2", "A4_C2"),
        ("S3xS3", "S3_S3"),
        ("D5", "D5"),
        ("S3xC3", "S3_C3"),
        ("C4xC4", "C4_C4"),
        ("S5", "S5"),
        ("A5xC2", "A5_C2"),
    ],
)
def test_type_of_whole_group(name: str, label: str) -> None:
    assert group_from_name(name).subgroup_classes[-1].label == label


def test_quaternion_and_fallback() -> None:
    # Q8 in its regular representation on 8 points: i = (0 2 1 3)(4 7 5 6), j = (0 4 1 5)(2 6 3 7)
    i = [2, 3, 1, 0, 7, 6, 4, 5]
    j = [4, 5, 6, 7, 1, 0, 3, 2]
    Q = PermGroup([i, j])
    assert Q.order == 8 and [c.label for c in Q.subgroup_classes] == ["1", "C2", "C4", "C4'", "C4''", "Q8"]
    # the Frobenius group of order 20 is none of the named types
    assert group_from_name("S5").subgroup_class("G20").order == 20


@pytest.mark.parametrize(
    ("orders", "invariants"),
    [([1], []), ([1, 2], [2]), ([1, 2, 2, 2], [2, 2]), ([1, 2, 3, 3, 6, 6], [6])],
)
def test_abelian_invariants(orders: list[int], invariants: list[int]) -> None:
    assert abelian_invariants(np.array(orders)) == invariants


def test_abelian_invariants_of_products() -> None:
    G = direct_product(cyclic(4), cyclic(6), cyclic(2))
    assert abelian_invariants(G.element_orders) == [12, 2, 2]


@given(generator_sets())
@settings(max_examples=40)
def test_labels_are_unique_safe_and_deterministic(gens: list[list[int]]) -> None:
    G = PermGroup(gens)
    labels = [c.label for c in G.subgroup_classes]
    assert len(set(labels)) == len(labels)
    assert all(LABEL.match(label) for label in labels)
    assert labels[0] == "1"
    again = PermGroup(gens)
    assert [c.label for c in again.subgroup_classes] == labels
    assert [c.representative.elements.tolist() for c in again.subgroup_classes] == [
        c.representative.elements.tolist() for c in G.subgroup_classes
    ]
    for c in G.subgroup_classes:
        assert G.subgroup_class(c.label) is c
        assert c.description.startswith(c.label)


def invariant_summary(G: PermGroup) -> list[tuple[str, int, int, tuple[int, ...]]]:
    return sorted((c.label, c.order, c.size, c.orbit_sizes) for c in G.subgroup_classes)


def test_labels_do_not_depend_on_the_generators() -> None:
    s4 = PermGroup([[1, 0, 2, 3], [0, 2, 1, 3], [0, 1, 3, 2]])  # adjacent transpositions
    assert invariant_summary(s4) == invariant_summary(symmetric(4))
    d4 = PermGroup([[0, 3, 2, 1], [1, 0, 3, 2]])  # two reflections
    assert invariant_summary(d4) == invariant_summary(group_from_name("D4"))


# --------------------------------------------------------------------------- GAP oracle
def gap_facts(groups: list[list[list[int]]]) -> list[tuple[int, ...]]:
    """(order, conjugacy classes, subgroup classes, subgroups) of each group, computed by GAP."""
    lines = []
    for gens in groups:
        perms = ",".join("PermList([" + ",".join(str(x + 1) for x in p) + "])" for p in gens)
        lines.append(f"G := Group([{perms}]);; c := ConjugacyClassesSubgroups(G);;")
        lines.append('Print(Size(G), " ", NrConjugacyClasses(G), " ", Length(c), " ", Sum(c, Size), "\\n");')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "oracle.g"
        path.write_text("\n".join([*lines, "QUIT;", ""]))
        out = subprocess.run(["gap", "-q", str(path)], capture_output=True, text=True, timeout=300, check=True)
    return [tuple(int(x) for x in line.split()) for line in out.stdout.splitlines() if line.strip()]


@pytest.mark.skipif(shutil.which("gap") is None, reason="GAP (apt-get install gap-core) is not installed")
@given(st.lists(generator_sets(max_degree=6), min_size=4, max_size=8))
@settings(max_examples=3)
def test_against_gap(groups: list[list[list[int]]]) -> None:
    ours = []
    for gens in groups:
        G = PermGroup(gens)
        ours.append((G.order, len(G.conjugacy_classes), len(G.subgroup_classes), len(G.subgroups())))
    assert ours == gap_facts(groups)


# --------------------------------------------------------------------------- bad input
def test_degree_mismatch() -> None:
    with pytest.raises(DegreeMismatchError, match=r"generator 1 has degree 3"):
        PermGroup([[1, 0], [1, 2, 0]])


@pytest.mark.parametrize("bad", [[0, 0, 1], [0, 3, 1], [1.5, 0]])
def test_not_a_permutation(bad: list) -> None:
    with pytest.raises(NotAPermutationError, match=re.escape(str(bad))):
        PermGroup([[1, 0, 2], bad] if len(bad) == 3 else [bad])


@pytest.mark.parametrize("name", ["Q9", "S3xQ9", "", "D2", "S-1"])
def test_unknown_group(name: str) -> None:
    with pytest.raises(UnknownGroupError, match=re.escape(repr(name))):
        group_from_name(name)


def test_unknown_subgroup_label() -> None:
    G = group_from_name("S4")
    with pytest.raises(UnknownSubgroupError, match=r"'C5'.*valid labels: 1, C2, C2', C3"):
        G.subgroup_class("C5")
    with pytest.raises(UnknownSubgroupError, match=r"\[0, 1, 2\] do not form a subgroup"):
        G.class_of_subgroup([0, 1, 2])
    with pytest.raises(UnknownSubgroupError, match=r"\[0, 99\]"):
        G.class_of_subgroup([0, 99])
    with pytest.raises(UnknownSubgroupError, match=r"\[99\]"):
        G.subgroup([99])


def test_subgroup_of_another_group() -> None:
    H = group_from_name("S3").subgroup_classes[1].representative
    with pytest.raises(GroupMismatchError, match="S3"):
        group_from_name("S4").class_of_subgroup(H)


def test_class_members_are_pairwise_conjugate_in_s5() -> None:
    G = group_from_name("S5")
    for cls in G.subgroup_classes:
        members = cls.members()
        for a, b in itertools.islice(itertools.combinations(members, 2), 20):
            assert any(a.conjugate(g) == b for g in range(G.order))
    assert isinstance(G.subgroup_classes[0], SubgroupClass)


# ---------------------------------------------------------------------- groups beyond the enumeration limit
@pytest.mark.parametrize(
    ("name", "order", "degree"),
    [("S10", 3628800, 10), ("A12", 239500800, 12), ("D100", 200, 100), ("C1000", 1000, 1000), ("S5xS5", 14400, 10)],
)
def test_catalog_names_work_for_any_size(name, order, degree) -> None:
    G = group_from_name(name)
    assert (G.order, G.degree) == (order, degree)


@given(generator_sets(max_degree=7))
@settings(max_examples=40)
def test_orders_without_elements_agree_with_enumeration(gens: list[list[int]]) -> None:
    """The order from Schreier-Sims (sympy) equals the number of listed elements, and so does the
    product of the orbit sizes of our stabilizer chain."""
    a, b = PermGroup(gens), PermGroup(gens)
    listed = len({tuple(e) for e in b.elements.tolist()})
    assert a.order == listed == int(np.prod([o.size for o in a.chain.orbits], dtype=object))


def test_large_group_operations_raise_naming_order_operation_and_limit(capsys) -> None:
    from eqlandscape.cli import main
    from eqlandscape.errors import GroupTooLargeError
    from eqlandscape.groups import set_enumeration_limit
    from eqlandscape.reps import regular

    with pytest.raises(GroupTooLargeError, match=r"S10.*3628800.*10000"):
        regular(group_from_name("S10"))
    assert main(["group", "S10", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["order"] == 3628800 and summary["degree"] == 10 and len(summary["generators"]) == 2
    assert "subgroup_classes" in summary["not_computed"]
    previous = set_enumeration_limit(100)
    try:
        with pytest.raises(GroupTooLargeError, match="limit of 100"):
            PermGroup([[1, 2, 3, 4, 0], [1, 0, 2, 3, 4]]).elements  # S5: 120 elements  # noqa: B018
    finally:
        set_enumeration_limit(previous)
    assert main(["basis", "S10", "natural", "S10/C2"]) == 2
    assert "3628800" in capsys.readouterr().err
