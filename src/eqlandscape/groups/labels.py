"""Names of isomorphism types of subgroups, identified from invariants.

A type name is built only from letters, digits and ``_`` (no lowercase ``x``), so that a subgroup
label made of a type name plus apostrophes is safe inside a rep spec such as ``S4/C2'``:

* ``1``: the trivial group; ``C<n>``: cyclic of order ``n``;
* abelian groups by their invariant factors, largest first: ``C6_C2``, ``C2_C2_C2``; except
  ``K4`` for the Klein four-group ``C2 x C2``;
* ``S3`` (not ``D3``); ``D<n>``: dihedral of order ``2n`` (``n >= 4``);
* ``Q<2^k>``: generalized quaternion (``Q8``, ``Q16``, ...);
* ``S<m>`` / ``A<m>`` (``m >= 4``): symmetric / alternating, recognized by the order ``m!`` (or
  ``m!/2``) and a core-free subgroup of index ``m`` (so the group embeds in ``S_m``);
* direct products of the above, written with ``_`` between the non-abelian factors (largest first)
  followed by the invariant factors of the abelian part: ``S4_C2``, ``S3_S3``, ``A4_C3``;
* ``G<n>``: a group of order ``n`` that none of these rules identifies (two classes labelled
  ``G<n>`` need not be isomorphic).

Every rule is a proof, not a guess: the direct decomposition is into directly indecomposable
factors, which are unique up to isomorphism (Krull-Schmidt).
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from eqlandscape.groups.perm_group import PermGroup

#: ``subgroups_of(mask, order)``: the subgroups of order ``order`` inside the subgroup whose
#: elements are marked by the bool array ``mask``, as ``(elements, generators)`` pairs.
SubgroupsOf = Callable[[np.ndarray, int], list[tuple[np.ndarray, np.ndarray]]]


def prime_factors(n: int) -> list[int]:
    """The distinct prime factors of ``n``, ascending (``[]`` for ``n = 1``)."""
    primes, p = [], 2
    while p * p <= n:
        if n % p == 0:
            primes.append(p)
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        primes.append(n)
    return primes


def abelian_invariants(orders: np.ndarray) -> list[int]:
    """Invariant factors ``d_1 >= d_2 >= ... > 1`` (each divisible by the next) of an abelian group
    whose element orders are ``orders``. For each prime ``p`` the number of elements with
    ``x^(p^k) = 1`` is ``p^(sum_i min(k, e_i))``, which determines the exponents ``e_i`` of the
    ``p``-primary part ``C_{p^e_1} x C_{p^e_2} x ...``."""
    orders = np.asarray(orders, dtype=np.int64)
    total = int(orders.size)
    prime_powers: list[int] = []
    for p in prime_factors(total):
        logs = [0]
        k = 1
        while True:
            count = int(np.count_nonzero((p**k) % orders == 0))
            logs.append(round(np.log(count) / np.log(p)))
            if count == total or logs[-1] == logs[-2]:
                break
            k += 1
        # parts[k-1] = number of cyclic p-factors of order >= p^k
        parts = [logs[k] - logs[k - 1] for k in range(1, len(logs))]
        prime_powers += [p ** sum(1 for c in parts if c > i) for i in range(parts[0])]
    return _invariants_from_primary(prime_powers)


def abelian_name(invariants: list[int]) -> str:
    """``1``, ``C<n>``, ``K4`` or ``C<d1>_C<d2>_...`` for the given invariant factors."""
    if not invariants:
        return "1"
    if invariants == [2, 2]:
        return "K4"
    return "_".join(f"C{d}" for d in invariants)


def _primary_orders(invariants: list[int]) -> list[int]:
    """The prime-power cyclic factors of ``prod C_d``."""
    out = []
    for d in invariants:
        for p in prime_factors(d):
            q = 1
            while d % (q * p) == 0:
                q *= p
            out.append(q)
    return out


def _invariants_from_primary(prime_powers: list[int]) -> list[int]:
    by_prime: dict[int, list[int]] = {}
    for q in prime_powers:
        by_prime.setdefault(prime_factors(q)[0], []).append(q)
    factors: list[int] = []
    for qs in by_prime.values():
        for i, q in enumerate(sorted(qs, reverse=True)):
            if i == len(factors):
                factors.append(1)
            factors[i] *= q
    return factors


class _Namer:
    """Identifies subgroups of one group; see the module docstring for the rules."""

    def __init__(self, group: PermGroup, subgroups_of: SubgroupsOf):
        self.group = group
        self.subgroups_of = subgroups_of

    def _is_abelian(self, gens: np.ndarray) -> bool:
        products = self.group.table[np.ix_(gens, gens)]
        return bool(np.array_equal(products, products.T))

    def _normal_in(self, sub_mask: np.ndarray, sub_gens: np.ndarray, gens: np.ndarray) -> bool:
        """Whether the subgroup marked by ``sub_mask`` is normalized by the elements ``gens``."""
        return bool(sub_mask[self.group.conjugate(gens[:, None], sub_gens[None, :])].all())

    def _core_is_trivial(self, sub: np.ndarray, elements: np.ndarray) -> bool:
        """Whether the subgroup ``sub`` of the subgroup with ``elements`` has trivial core there:
        only the identity ``h`` has ``k h k^-1`` in ``sub`` for every ``k`` in ``elements``."""
        conjugates = self.group.conjugate(elements[:, None], sub[None, :])
        return int(np.count_nonzero(self.group.mask(sub)[conjugates].all(axis=0))) == 1

    def _special(self, elements: np.ndarray, gens: np.ndarray) -> str | None:
        """Name by the single-type rules (trivial, abelian, S3/D, Q, S, A), or None."""
        n = int(elements.size)
        orders = self.group.element_orders[elements]
        if n == 1:
            return "1"
        if self._is_abelian(gens):
            return abelian_name(abelian_invariants(orders))
        half = n // 2
        rotations = elements[orders == half]
        if rotations.size and half >= 3:
            r = int(rotations[0])
            cyclic = np.zeros(self.group.order, dtype=bool)
            power = 0
            for _ in range(half):
                power = int(self.group.table[power, r])
                cyclic[power] = True
            if bool((self.group.element_orders[elements[~cyclic[elements]]] == 2).all()):
                return "S3" if half == 3 else f"D{half}"
        if n >= 8 and n & (n - 1) == 0 and int(np.count_nonzero(orders == 2)) == 1:
            return f"Q{n}"
        mask = self.group.mask(elements)
        m = 3
        while factorial(m) // 2 <= n:
            for kind, size in (("S", factorial(m)), ("A", factorial(m) // 2)):
                if size == n and (kind == "S" or m >= 4):
                    for sub, _ in self.subgroups_of(mask, n // m):
                        if self._core_is_trivial(sub, elements):
                            return f"{kind}{m}"
            m += 1
        return None

    def _direct_factors(
        self, elements: np.ndarray, gens: np.ndarray
    ) -> tuple[list[tuple[int, str]], list[int]]:
        """Directly indecomposable factors: ``(order, name)`` of the non-abelian ones and orders of the
        cyclic prime-power ones. Splits off a direct factor of smallest order (it is indecomposable)."""
        n = int(elements.size)
        if self._is_abelian(gens):
            return [], _primary_orders(abelian_invariants(self.group.element_orders[elements]))
        mask = self.group.mask(elements)
        normal: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for d in range(2, n):
            if n % d == 0:
                subs = [(sub, sub_gens, self.group.mask(sub)) for sub, sub_gens in self.subgroups_of(mask, d)]
                normal[d] = [s for s in subs if self._normal_in(s[2], s[1], gens)]
        for d in sorted(normal):
            for sub, sub_gens, sub_mask in normal[d]:
                for comp, comp_gens, comp_mask in normal[n // d]:
                    if int(np.count_nonzero(sub_mask & comp_mask)) == 1:
                        nonab, ab = self._direct_factors(comp, comp_gens)
                        if self._is_abelian(sub_gens):
                            return nonab, [*ab, d]
                        return [*nonab, (d, self._special(sub, sub_gens) or f"G{d}")], ab
        return [(n, self._special(elements, gens) or f"G{n}")], []

    def name(self, elements: np.ndarray, gens: np.ndarray) -> str:
        special = self._special(elements, gens)
        if special is not None:
            return special
        nonab, ab = self._direct_factors(elements, gens)
        if len(nonab) + len(ab) == 1:
            return nonab[0][1]
        names = [name for _, name in sorted(nonab, key=lambda f: (-f[0], f[1]))]
        return "_".join(names + [f"C{d}" for d in _invariants_from_primary(ab)])


def type_name(
    group: PermGroup, elements: np.ndarray, generators: np.ndarray, subgroups_of: SubgroupsOf
) -> str:
    """The isomorphism-type name of the subgroup ``<generators>`` with sorted ``elements`` (see the
    module docstring). ``subgroups_of`` lists subgroups inside it, needed for the ``S``/``A`` rule
    and for direct decompositions."""
    return _Namer(group, subgroups_of).name(np.asarray(elements), np.asarray(generators, dtype=np.int64))
