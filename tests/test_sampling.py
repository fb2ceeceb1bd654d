"""Uniformly random group elements (eqlandscape.reps.sampling and the chains of eqlandscape.groups.chain).

Oracles: element frequencies over many draws against the uniform distribution (chi-square), the
images in every rep against the enumerated rep of the same element (``rep.perms`` at its index), the
documented map from the seed's uniform numbers to elements rebuilt by brute force (lexicographically
smallest elements of the point stabilizers, found among all elements), and for groups too large to
list, the images' structure (tensor products, parity, point distributions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from eqlandscape.errors import ConfigError, GroupMismatchError
from eqlandscape.groups import PermGroup, group_from_name
from eqlandscape.nn import rng as model_rng
from eqlandscape.reps import natural, parse_rep, random_elements, regular, trivial

SMALL = ["C1", "C5", "D4", "D5", "S3", "S4", "A4", "K4", "S3xC2", "C4xC2", "A5"]
SPECS = ["natural", "natural^2", "2*trivial", "regular", "natural + trivial", "natural*regular"]


def _indices(G: PermGroup, perms: np.ndarray) -> np.ndarray:
    """Element indices of the rows of ``perms`` (permutations of G's points)."""
    return np.array([G.index(p) for p in perms.reshape(-1, G.degree)])


@pytest.mark.parametrize("name", ["S3", "D4", "A4", "S4", "S3xC2", "C4xC2"])
def test_elements_are_uniform(name: str) -> None:
    G = group_from_name(name)
    (g,) = random_elements([natural(G)], np.arange(400), "uniformity", 60)  # 24,000 draws
    counts = np.bincount(_indices(G, g), minlength=G.order)
    assert counts.min() > 0
    assert chisquare(counts).pvalue > 1e-4


@given(st.sampled_from(SMALL), st.lists(st.sampled_from(SPECS), min_size=1, max_size=3), st.integers(0, 2**40))
@settings(max_examples=30)
def test_images_are_those_of_one_element_in_every_rep(name: str, specs: list[str], seed: int) -> None:
    G = group_from_name(name)
    reps = [natural(G), *(parse_rep(G, s) for s in specs)]
    seeds = np.array([seed, seed + 1, 7])
    images = random_elements(reps, seeds, "homomorphism", 5)
    idx = _indices(G, images[0]).reshape(3, 5)
    for rep, img in zip(reps, images, strict=True):
        assert img.shape == (3, 5, rep.size) and img.dtype == np.int64
        np.testing.assert_array_equal(img, rep.perms[idx])  # rho(g) of the same g, from the enumerated rep


def _lexmin_factor(G: PermGroup) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
    """By brute force over all elements: the base points with non-trivial orbits (base 0, 1, ...),
    their sorted orbits under the point stabilizers, and for each orbit point the lexicographically
    smallest element of the stabilizer of 0..b-1 sending b to it."""
    E = G.elements
    base, orbits, canon = [], [], []
    for b in range(G.degree):
        stab = E[(E[:, :b] == np.arange(b)).all(axis=1)]
        orbit = np.unique(stab[:, b])
        if orbit.size > 1:
            base.append(b)
            orbits.append(orbit)
            canon.append(np.stack([min(stab[stab[:, b] == p].tolist()) for p in orbit]))
    return base, orbits, canon


@pytest.mark.parametrize("name", ["S4", "D5", "A4", "S3xC2", "C6"])
def test_the_documented_map_from_seeds_to_elements(name: str) -> None:
    G = group_from_name(name)
    base, orbits, canon = _lexmin_factor(G)
    seeds = np.array([0, 3, 11])
    (got,) = random_elements([natural(G), trivial(G)], seeds, "documented", 4)[:1]
    u = model_rng.uniform(seeds, "documented", (4, len(base)))
    for k in range(3):
        for j in range(4):
            g = np.arange(G.degree)
            for lev, orbit in enumerate(orbits):
                g = g[canon[lev][min(int(u[k, j, lev] * orbit.size), orbit.size - 1)]]
            np.testing.assert_array_equal(got[k, j], g)


def test_the_map_depends_on_the_group_as_a_set_only() -> None:
    """Other generators of S4 (adjacent transpositions) and other reps: the same elements."""
    a = group_from_name("S4")
    b = PermGroup([[1, 0, 2, 3], [0, 2, 1, 3], [0, 1, 3, 2]])
    seeds = np.arange(5)
    ga = random_elements([natural(a)], seeds, "set", 6)[0]
    gb = random_elements([natural(b) ** 2, natural(b)], seeds, "set", 6)[1]
    np.testing.assert_array_equal(ga, gb)


def test_reproducible_per_seed_whatever_the_other_seeds() -> None:
    G = group_from_name("S10")
    reps = [natural(G) ** 2, trivial(G)]
    seeds = np.array([4, 19, 2, 1000, 7])
    together = random_elements(reps, seeds, "augment/3", 6)
    for k, s in enumerate(seeds):
        alone = random_elements(reps, [s], "augment/3", 6)
        for a, b in zip(alone, together, strict=True):
            np.testing.assert_array_equal(a[0], b[k])
    reversed_ = random_elements(reps, seeds[::-1], "augment/3", 6)
    np.testing.assert_array_equal(reversed_[0][::-1], together[0])
    other = random_elements(reps, seeds, "augment/4", 6)
    assert not np.array_equal(other[0], together[0])


def _is_perm(p: np.ndarray) -> bool:
    return bool((np.sort(p, axis=-1) == np.arange(p.shape[-1])).all())


@pytest.mark.parametrize("name", ["S10", "S50"])
def test_large_symmetric_groups(name: str) -> None:
    G = group_from_name(name)
    n = G.degree
    V = natural(G)
    p2, p, t = random_elements([V**2, V, trivial(G)], np.arange(200), "large", 10)
    assert _is_perm(p) and (t == 0).all()
    np.testing.assert_array_equal(p2, (p[..., :, None] * n + p[..., None, :]).reshape(200, 10, n * n))
    # uniform g: g(0) is uniform on the n points, and so is g(n-1) (the last base point's image)
    for point in (0, n - 1):
        counts = np.bincount(p[..., point].reshape(-1), minlength=n)
        assert chisquare(counts).pvalue > 1e-4


def test_alternating_group_elements_are_even_and_cover_a_coset_rep() -> None:
    G = group_from_name("A10")
    V, cosets = natural(G), parse_rep(G, "A10/A8")  # 90 cosets: ordered pairs of distinct points
    p, c = random_elements([V, cosets], np.arange(50), "even", 20)
    inversions = (p[..., :, None] > p[..., None, :]) & (np.arange(10)[:, None] < np.arange(10)[None, :])
    assert (inversions.sum(axis=(-1, -2)) % 2 == 0).all()
    assert G.contains(p.reshape(-1, 10)).all()
    assert _is_perm(c)
    # the coset of g is determined by (g(8), g(9)) (A8 fixes 8 and 9): equal pairs, equal cosets
    key = p[..., 8] * 10 + p[..., 9]
    coset = c[..., 0]  # the image of the coset A8 (point 0) is the coset g A8
    pairs = {}
    for k, v in zip(key.reshape(-1), coset.reshape(-1), strict=True):
        assert pairs.setdefault(int(k), int(v)) == int(v)
    assert len(set(pairs.values())) == len(pairs)


def test_regular_rep_of_a_small_group_matches_its_table() -> None:
    G = group_from_name("D5")
    V, R = natural(G), regular(G)
    p, r = random_elements([V, R], np.arange(8), "regular", 3)
    np.testing.assert_array_equal(r, G.table[_indices(G, p)].reshape(8, 3, G.order))


def test_bad_input() -> None:
    G, H = group_from_name("S4"), group_from_name("D4")
    with pytest.raises(GroupMismatchError, match="D4"):
        random_elements([natural(G), natural(H)], [0], "x", 1)
    with pytest.raises(ConfigError, match="positive integer, got 0"):
        random_elements([natural(G)], [0], "x", 0)
    with pytest.raises(ConfigError, match="1-d integer array"):
        random_elements([natural(G)], [[0, 1]], "x", 1)
    with pytest.raises(ConfigError, match="non-empty sequence of reps"):
        random_elements([], [0], "x", 1)
    with pytest.raises(ConfigError, match="stream name"):
        random_elements([natural(G)], [0], "", 1)
