"""The atlas: barriers of every transitive hidden rep of every small group of the catalog.

For each group of the catalog of order at most ``max_order`` (:func:`catalog_names`) and each
transitive hidden rep ``G/H`` (one per subgroup class), the one-hidden-layer architecture
``input -> G/H -> output`` is analysed by :func:`~eqlandscape.symmetry.barriers.analyze_barriers`;
each row says how many orbits of neuron pairs are barriers (codimension 1 in ``E``) and how many are
degenerate (the neurons coincide everywhere in ``E``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from eqlandscape.errors import ConfigError
from eqlandscape.groups import group_from_name
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import parse_rep, transitive_reps
from eqlandscape.symmetry.barriers import analyze_barriers

ROW_KEYS = ("group", "hidden", "stabilizer", "neurons", "dim_E", "codimensions", "barriers", "degenerate")


def _family_orders(max_order: int) -> list[tuple[str, int]]:
    """The single groups of the catalog with their orders: ``C_n`` (``n >= 2``), ``D_n`` (``n >= 3``,
    order ``2n``), ``S_n`` (``n >= 3``), ``A_n`` (``n >= 4``) and ``K4``, by order then name."""
    out = [(f"C{n}", n) for n in range(2, max_order + 1)]
    out += [(f"D{n}", 2 * n) for n in range(3, max_order // 2 + 1)]
    n = 3
    while math.factorial(n) <= max_order:
        out.append((f"S{n}", math.factorial(n)))
        n += 1
    n = 4
    while math.factorial(n) // 2 <= max_order:
        out.append((f"A{n}", math.factorial(n) // 2))
        n += 1
    if max_order >= 4:
        out.append(("K4", 4))
    return sorted(out, key=lambda t: (t[1], t[0]))


def catalog_names(max_order: int) -> list[str]:
    """Names of the catalog groups of order at most ``max_order``: the families of
    :func:`_family_orders` and the direct products ``AxB`` of two of them (each unordered pair once,
    in family order), sorted by order then name."""
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ConfigError(f"max_order must be a positive integer, got max_order={max_order!r}")
    singles = _family_orders(max_order)
    named = list(singles)
    for a, (x, ox) in enumerate(singles):
        for y, oy in singles[a:]:
            if ox * oy <= max_order:
                named.append((f"{x}x{y}", ox * oy))
    return [name for name, _ in sorted(named, key=lambda t: (t[1], t[0]))]


def atlas(
    max_order: int,
    *,
    input_rep: str = "natural",
    output_rep: str = "trivial",
    bias: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per (group, transitive hidden rep) with the keys :data:`ROW_KEYS`: ``hidden`` the spec
    ``G/H``, ``stabilizer`` the class label of ``H``, ``neurons`` ``|G/H|``, ``dim_E`` the dimension of the
    constrained space, ``codimensions`` one per orbit of neuron pairs, and the counts of barriers and
    degenerate pair orbits. ``input_rep`` and ``output_rep`` are rep specs (:func:`~eqlandscape.reps.parse_rep`).
    ``progress(group name)`` is called before each group."""
    rows = []
    for name in catalog_names(max_order):
        if progress is not None:
            progress(name)
        G = group_from_name(name)
        rep_in, rep_out = parse_rep(G, input_rep), parse_rep(G, output_rep)
        for cls, hidden in zip(G.subgroup_classes, transitive_reps(G), strict=True):
            row = analyze_barriers(MLPArchitecture((rep_in, hidden, rep_out), "relu", bias)).rows()[0]
            rows.append({key: row[key] for key in ROW_KEYS if key != "stabilizer"} | {"stabilizer": cls.label})
    return [{key: row[key] for key in ROW_KEYS} for row in rows]
