"""Printing permutations in cycle notation."""

from __future__ import annotations

import numpy as np


def cycle_notation(p: np.ndarray) -> str:
    """Disjoint cycles of ``p`` (``p[i]`` the image of ``i``), fixed points omitted: ``[1, 2, 0, 3]``
    prints as ``(0 1 2)``; the identity prints as ``()``."""
    seen = np.zeros(len(p), dtype=bool)
    cycles = []
    for start in range(len(p)):
        if seen[start] or p[start] == start:
            seen[start] = True
            continue
        cyc, i = [], start
        while not seen[i]:
            seen[i] = True
            cyc.append(str(int(i)))
            i = int(p[i])
        cycles.append("(" + " ".join(cyc) + ")")
    return "".join(cycles) or "()"
