"""Hidden fixed-point subspaces of a constrained architecture: which of them are barriers.

For a hidden layer ``m`` and two of its neurons ``i < j``, the swap ``tau = (i j)`` is a parameter
symmetry of the free MLP that the constraint hides. ``E ∩ Fix(tau)`` (neurons ``i`` and ``j`` share
incoming weights, bias and outgoing weights, inside ``E``) is invariant under gradient flow in the
Euclidean metric (:mod:`eqlandscape.symmetry.fixed_points`). It equals ``E ∩ Fix(g tau g^-1)`` for every
``g`` in ``G``, so it depends only on the ``G``-orbit of the unordered pair ``{i, j}``. Its codimension
in ``E`` gives the verdict:

* ``barrier`` (codimension 1): a hyperplane of ``E``. Exactly two orbit coefficients ``c_a``, ``c_b``
  (``a < b`` in ``E``'s orbit numbering) merge, so the hyperplane is ``c_a = c_b``; gradient flow
  started on one side never reaches the other. Orientation: the side of a point is ``+`` when
  ``c_a - c_b > tol``, ``-`` when ``c_a - c_b < -tol``, ``on`` otherwise, and ``dead`` for a network whose
  output is identically near 0 (the origin lies on every fixed-point subspace, docs/design.md section 4).
  For ``S_n`` on ``natural -> natural`` the hyperplane is ``a = b`` with ``a = W0[0,0]`` (diagonal) and
  ``b = W0[0,1]`` (off-diagonal), and ``+`` is ``a > b``.
* ``none`` (codimension >= 2): the subspace does not split ``E``.
* ``degenerate`` (codimension 0): the two neurons coincide at every point of ``E``; the hidden rep can
  be replaced by its quotient by the coincidences (``reduced_to``, the spec of the smaller rep).

Coefficients are orbit means of each tensor (:meth:`OrbitBasis.coefficients`), so the side of any
point is the side of its projection ``P_E``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eqlandscape.groups import orbit_labels
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps.constructors import tensor_perms
from eqlandscape.symmetry.fixed_points import Equation, FixedPointSubspace
from eqlandscape.symmetry.neurons import _slots
from eqlandscape.symmetry.reduction import components, dead_models, quotient_rep
from eqlandscape.symmetry.weight_space import (
    as_tensors,
    check_tol,
    group_perms,
    hidden_layers,
    joint_orbits,
    swap,
)

VERDICTS = ("barrier", "none", "degenerate")
SIDES = ("+", "-", "on", "dead")


@dataclass(frozen=True)
class PairOrbit:
    """One ``G``-orbit of unordered pairs of neurons of a hidden layer and its fixed-point subspace.

    ``pair`` is its smallest pair ``(i, j)``, ``size`` the number of pairs in the orbit, ``dim`` the
    dimension of ``E ∩ Fix((i j))``, ``codimension`` its codimension in ``E``, ``equations`` its defining
    equations in ``E``'s orbit coefficients, ``reduced_to`` (degenerate pairs) the spec of the
    quotient of the hidden rep by the coincidences the orbit forces."""

    layer: int
    pair: tuple[int, int]
    size: int
    dim: int
    codimension: int
    verdict: str
    equations: tuple[Equation, ...] = field(repr=False)
    reduced_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "layer": self.layer,
            "pair": list(self.pair),
            "size": self.size,
            "dim": self.dim,
            "codimension": self.codimension,
            "verdict": self.verdict,
            "equations": [e.text for e in self.equations],
            "reduced_to": self.reduced_to,
        }


def pair_orbits(arch: MLPArchitecture, layer: int) -> list[tuple[tuple[int, int], int]]:
    """The ``G``-orbits of unordered pairs ``{i, j}`` (``i != j``) of hidden layer ``layer``'s neurons:
    ``(smallest pair, orbit size)``, by smallest pair. Orbits of ordered pairs ``i * n + j`` under the
    generators and the flip ``(i, j) -> (j, i)``."""
    rep = arch.reps[layer]
    n = rep.size
    gens = rep.generator_images
    images = tensor_perms(gens, gens)
    flip = np.arange(n * n).reshape(n, n).T.reshape(-1)
    _, labels = orbit_labels(np.concatenate([images, flip[None]]), n * n)
    i, j = np.divmod(np.arange(n * n), n)
    upper = i < j
    out = []
    for orbit in np.unique(labels[upper]):
        members = np.flatnonzero(upper & (labels == orbit))
        out.append(((int(i[members[0]]), int(j[members[0]])), int(members.size)))
    return sorted(out)


@dataclass(frozen=True, eq=False)
class BarrierAnalysis:
    """Every orbit of pairs of every hidden layer of ``arch`` (see the module docstring), ``dim_E``,
    and the sides of weights with respect to the barriers (:meth:`sides`)."""

    arch: MLPArchitecture
    dim_E: int
    pairs: tuple[PairOrbit, ...]

    @property
    def barriers(self) -> list[PairOrbit]:
        """The pair orbits whose subspace is a barrier, in order (the columns of :meth:`sides`)."""
        return [p for p in self.pairs if p.verdict == "barrier"]

    def values(self, tensors: Sequence[Any]) -> np.ndarray:
        """``c_a - c_b`` of every barrier for each model: ``(K, n_barriers)``."""
        arrays, _ = as_tensors(self.arch, tensors)
        coefficients = [b.coefficients(t) for b, t in zip(self.arch.bases, arrays, strict=True)]
        out = np.zeros((arrays[0].shape[0], len(self.barriers)))
        for c, p in enumerate(self.barriers):
            out[:, c] = p.equations[0].value(coefficients)
        return out

    def sides(self, tensors: Sequence[Any], tol: float = 1e-6, dead: np.ndarray | None = None) -> np.ndarray:
        """Side of every barrier for each model, ``(K, n_barriers)`` strings ``+``, ``-``, ``on`` or
        ``dead``. ``dead`` (bool ``(K,)``) marks the models whose output is identically near 0; by
        default :func:`~eqlandscape.symmetry.reduction.dead_models`."""
        tol = check_tol(tol)
        d = self.values(tensors)
        side = np.where(d > tol, "+", np.where(d < -tol, "-", "on")).astype(object)
        dead = dead_models(self.arch, tensors) if dead is None else np.asarray(dead, dtype=bool).reshape(-1)
        side[dead] = "dead"
        return side

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-serializable row per hidden layer: ``group``, ``hidden``, ``neurons``, ``dim_E``,
        ``codimensions`` (one per orbit of pairs), ``barriers`` and ``degenerate`` (counts), ``layer``
        and ``pairs`` (one object per orbit of pairs)."""
        out = []
        for m in hidden_layers(self.arch):
            pairs = [p for p in self.pairs if p.layer == m]
            out.append(
                {
                    "group": self.arch.rep_in.group.name,
                    "hidden": self.arch.reps[m].name,
                    "neurons": self.arch.widths[m],
                    "dim_E": self.dim_E,
                    "codimensions": [p.codimension for p in pairs],
                    "barriers": sum(p.verdict == "barrier" for p in pairs),
                    "degenerate": sum(p.verdict == "degenerate" for p in pairs),
                    "layer": m,
                    "pairs": [p.as_dict() for p in pairs],
                }
            )
        return out


def analyze_barriers(arch: MLPArchitecture) -> BarrierAnalysis:
    """The fixed-point subspace of every orbit of neuron pairs of every hidden layer (module docstring).
    Only the three tensors around the layer (``W_{m-1}``, ``b_{m-1}``, ``W_m``) change, so only their
    orbits are recomputed."""
    G = group_perms(arch)
    dim_E = int(sum(b.dim for b in arch.bases))
    pairs = []
    for m in hidden_layers(arch):
        touched = [t for t in _slots(arch, m) if t is not None]
        for (i, j), size in pair_orbits(arch, m):
            tau = swap(arch, m, i, j)
            bases = list(arch.bases)
            for t, basis in zip(touched, joint_orbits(arch, [*G, tau], touched), strict=True):
                bases[t] = basis
            sub = FixedPointSubspace(arch, (tau,), True, tuple(bases))
            codim = sub.codimension
            verdict = "barrier" if codim == 1 else "degenerate" if codim == 0 else "none"
            reduced = None
            if verdict == "degenerate":
                rep = arch.reps[m]
                n = rep.size
                edges = np.zeros((1, n, n), dtype=bool)
                edges[0, rep.perms[:, i], rep.perms[:, j]] = True
                reduced = quotient_rep(rep, components(edges | edges.transpose(0, 2, 1))[0])
            pairs.append(
                PairOrbit(m, (i, j), size, sub.dim, codim, verdict, tuple(sub.equations()), reduced and reduced.name)
            )
    return BarrierAnalysis(arch, dim_E, tuple(pairs))
