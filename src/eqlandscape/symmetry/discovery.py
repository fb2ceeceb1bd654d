"""Hidden-representation discovery: under which permutation rep of the hidden neurons are free
weights equivariant, and how does it relate to the rep the network started with?

For a free MLP whose input and output carry reps ``rho_0``, ``rho_L`` of ``G``, weights are equivariant
under a hidden rep ``sigma`` when, for every generator ``g`` and hidden neuron ``i`` of layer ``m``,
neuron ``sigma_g(i)`` has the incoming vector of ``i`` moved by ``g`` (by ``rho_0(g)``, or by the rep found
for layer ``m-1``), the same bias, and (last hidden layer) the outgoing weights of ``i`` moved by
``rho_L(g)``: ``W_{m-1} pi_{m-1}(g)^T = P_sigma W_{m-1}``-style identities, read row by row. For ``relu``
and ``identity`` the weights are first normalized (:func:`~eqlandscape.symmetry.neurons.normalize_rescaling`),
so equivariance up to positive rescalings of neurons counts.

For each generator the match is a linear assignment on the distances between the moved signatures
``T_g s_i`` and the signatures ``s_j`` (:func:`~eqlandscape.symmetry.neurons.assign`: row-wise minima
where they form a permutation, :func:`scipy.optimize.linear_sum_assignment` otherwise). The *residual*
is the largest ``||T_g s_i - s_sigma(i)||`` over neurons and generators, divided by the largest signature
norm of the layer. The start rep's own permutations are tried first: weights that are equivariant
under it within the tolerance are reported ``identical``, whatever other reps fit too (neurons that
coincide make several fit). Accepted images are checked to define a homomorphism
(:meth:`PermRep.from_generator_images`) and decomposed into transitive pieces labelled by subgroup class.

``relation`` to the start rep ``rho``:

* ``identical``: ``sigma_g = rho(g)`` for every generator. A relabelling ``pi`` of the neurons that
  commutes with ``rho`` (an element of its centralizer, e.g. the group itself for the regular rep of
  an abelian group) gives back ``rho``, so it is ``identical`` too.
* ``conjugate``: ``sigma_g = pi rho(g) pi^-1`` for a neuron permutation ``pi`` (the start rep
  relabelled: the weights are those of a ``rho``-equivariant network with neuron ``i`` moved to
  ``pi(i)``); ``relabelling`` is ``pi`` in cycle notation, chosen with the fewest moved neurons among all
  such ``pi`` (they form a coset of the centralizer; ties: the lexicographically smallest), and
  ``cycle_type`` its cycle lengths. When the centralizer has more than :func:`centralizer`'s limit of
  elements (many copies of one transitive piece, e.g. ``9*trivial``), the fewest moved neurons come from
  an assignment of orbits instead of an enumeration, and ties are not broken lexicographically.
* ``other``: a hidden rep not isomorphic to ``rho``;
* ``none``: no hidden permutation rep within the tolerance (or the images do not define a
  homomorphism); the residual says how far;
* ``dead``: the network's output is identically near 0 (every rep fits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from eqlandscape.groups.notation import cycle_notation
from eqlandscape.nn import MLPArchitecture
from eqlandscape.reps import PermRep
from eqlandscape.reps.perm_rep import extend_generator_images, homomorphism_defects
from eqlandscape.symmetry.neurons import assign, cycle_type, incoming, normalize_rescaling, outgoing
from eqlandscape.symmetry.reduction import dead_models, neuron_clusters
from eqlandscape.symmetry.weight_space import as_tensors, check_tol, hidden_layers

RELATIONS = ("identical", "conjugate", "other", "none", "dead")


@dataclass(frozen=True, eq=False)
class HiddenRepDiscovery:
    """The hidden rep found for one hidden layer of ``K`` models.

    Attributes
    ----------
    layer : the hidden layer ``m``; ``start`` its rep in the architecture.
    images : int ``(K, n_generators, n)``: ``sigma_g`` for each generator of ``G`` (``-1`` where none).
    residual : ``(K,)`` relative residual of the accepted (or best) match.
    relation, hidden_rep, relabelling : ``(K,)`` strings: the relation (:data:`RELATIONS`), the
        found rep's spec (its transitive pieces by subgroup class, e.g. ``S3/C2 + S3/S3``; empty for
        none and dead) and ``pi`` in cycle notation (``()`` for identical, empty otherwise).
    cycle_types : the cycle type of ``pi`` per model (``[]`` for identical and when there is none).
    clusters : int ``(K, n)``: clusters of coinciding neurons (:func:`~eqlandscape.symmetry.reduction.neuron_clusters`).
    """

    layer: int
    start: PermRep
    images: np.ndarray
    residual: np.ndarray
    relation: np.ndarray
    hidden_rep: np.ndarray
    relabelling: np.ndarray
    cycle_types: list[list[int]]
    clusters: np.ndarray

    def rep(self, k: int) -> PermRep | None:
        """The found hidden rep of model ``k`` (``None`` for none and dead), named by its spec."""
        if self.relation[k] in ("none", "dead"):
            return None
        rep = PermRep.from_generator_images(self.start.group, self.images[k])
        return PermRep(rep.group, rep.perms, name=self.hidden_rep[k])

    @cached_property
    def coinciding(self) -> list[list[list[int]]]:
        """Per model, the clusters of two or more coinciding neurons, as sorted lists."""
        out = []
        for labels in self.clusters:
            groups = np.split(np.argsort(labels, kind="stable"), np.cumsum(np.bincount(labels))[:-1])
            out.append([g.tolist() for g in groups if g.size > 1])
        return out

    def table(self) -> pd.DataFrame:
        """One row per model: ``layer``, ``hidden_rep``, ``relation``, ``relabelling``, ``cycle_type``,
        ``residual``, ``distinct_neurons`` (number of clusters) and ``coinciding`` (the clusters)."""
        return pd.DataFrame(
            {
                "layer": self.layer,
                "hidden_rep": self.hidden_rep,
                "relation": self.relation,
                "relabelling": self.relabelling,
                "cycle_type": self.cycle_types,
                "residual": self.residual,
                "distinct_neurons": self.clusters.max(axis=1) + 1,
                "coinciding": self.coinciding,
            }
        )


def centralizer(rep: PermRep, limit: int = 40320) -> np.ndarray | None:
    """All permutations ``c`` of the points commuting with every ``rho(g)`` (``(count, n)``, identity first),
    or ``None`` when there are more than ``limit``. Such ``c`` is fixed by the images ``c(x_k)`` of the
    first point ``x_k`` of each orbit, which must have the same stabilizer, and then ``c(g x_k) = g c(x_k)``;
    distinct orbits go to distinct orbits."""
    stab = (rep.perms == np.arange(rep.size)).T  # (n, |G|): the stabilizer of each point
    orbits = rep.orbits
    options = []
    for orbit in orbits:
        x = int(orbit[0])
        options.append(np.flatnonzero((stab == stab[x]).all(axis=1)))
    orbit_of = rep.orbit_index
    found: list[np.ndarray] = []

    def extend(k: int, c: np.ndarray, used: set[int]) -> bool:
        if k == len(orbits):
            found.append(c.copy())
            return len(found) <= limit
        x = int(orbits[k][0])
        for y in options[k]:
            if int(orbit_of[y]) in used:
                continue
            c[rep.perms[:, x]] = rep.perms[:, y]
            if not extend(k + 1, c, used | {int(orbit_of[y])}):
                return False
        return True

    if not extend(0, np.empty(rep.size, dtype=np.int64), set()):
        return None
    return np.array(found)


def _point_subgroups(group_order: int, perms: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Stabilizer of every point of ``K`` reps ``perms (K, order, n)``: ids ``(K, n)`` into a list of
    distinct subgroups (sorted element indices)."""
    stab = perms.transpose(0, 2, 1) == np.arange(perms.shape[2])[None, :, None]  # (K, n, order)
    keys = np.packbits(stab, axis=2).reshape(-1, (group_order + 7) // 8)
    unique, ids = np.unique(keys, axis=0, return_inverse=True)
    subgroups = [np.flatnonzero(np.unpackbits(u)[:group_order]) for u in unique]
    return ids.reshape(perms.shape[0], perms.shape[2]), subgroups


def _relations(images: np.ndarray, start: PermRep) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]]]:
    """Relation, spec, relabelling and cycle type of ``K`` candidate hidden reps given by generator
    images ``(K, n_generators, n)``, all at once (see the module docstring)."""
    G = start.group
    K, _, _n = images.shape
    relation = np.full(K, "none", dtype=object)
    spec = np.full(K, "", dtype=object)
    relabelling = np.full(K, "", dtype=object)
    types: list[list[int]] = [[] for _ in range(K)]
    perms = extend_generator_images(G, images)
    ok = np.flatnonzero(~homomorphism_defects(G, perms).any(axis=(1, 2)))
    if not ok.size:
        return relation, spec, relabelling, types
    perms = np.concatenate([start.perms[None], perms[ok]])  # row 0: the start rep
    sub_id, subgroups = _point_subgroups(G.order, perms)
    classes = {label: c for c, label in enumerate(cls.label for cls in G.subgroup_classes)}
    class_of = np.array([classes[G.class_of_subgroup(h).label] for h in subgroups])
    counts = np.zeros((perms.shape[0], len(classes)), dtype=np.int64)
    np.add.at(counts, (np.arange(perms.shape[0])[:, None], class_of[sub_id]), 1)
    _kinds, first, kind = np.unique(counts, axis=0, return_index=True, return_inverse=True)
    names = [PermRep(G, perms[f]).canonical().name for f in first]
    spec[ok] = [names[i] for i in kind.reshape(-1)[1:]]
    same_type = kind.reshape(-1)[1:] == kind.reshape(-1)[0]
    identical = (images[ok] == start.generator_images[None]).all(axis=(1, 2))
    relation[ok] = np.where(identical, "identical", np.where(same_type, "conjugate", "other"))
    relabelling[ok[identical]] = "()"
    conj = np.flatnonzero(same_type & ~identical)
    if conj.size:
        pi = _conjugators(start, perms[1 + conj], sub_id[1 + conj], sub_id[0])
        for k, p in zip(ok[conj], pi, strict=True):
            relabelling[k], types[k] = cycle_notation(p), cycle_type(p)
    return relation, spec, relabelling, types


def _conjugators(start: PermRep, perms: np.ndarray, sub_id: np.ndarray, start_sub_id: np.ndarray) -> np.ndarray:
    """For ``K`` reps ``perms (K, order, n)`` isomorphic to ``start``: the neuron permutations ``pi`` with
    ``perms[k][g] = pi rho(g) pi^-1`` that move the fewest neurons (ties: the lexicographically
    smallest), ``(K, n)``. An isomorphism ``pi0`` maps the first point ``x`` of each orbit of ``start`` to a
    point ``q`` with the same stabilizer in an unused orbit and ``g x`` to ``g q``; every other one is
    ``pi0 c`` with ``c`` in the centralizer of ``start``, which is enumerated. Past :func:`centralizer`'s
    limit the fewest moved neurons come from an assignment instead (:func:`_fewest_moved_by_assignment`)."""
    K, _, n = perms.shape
    cent = centralizer(start)
    if cent is None:
        return np.stack(
            [_fewest_moved_by_assignment(start, p, s, start_sub_id) for p, s in zip(perms, sub_id, strict=True)]
        )
    rows = np.arange(K)
    found_orbit = perms.min(axis=1)  # smallest point of each point's orbit
    used = np.zeros((K, n), dtype=bool)
    pi0 = np.empty((K, n), dtype=np.int64)
    for orbit in start.orbits:
        x = int(orbit[0])
        fits = (sub_id == start_sub_id[x]) & ~np.take_along_axis(used, found_orbit, axis=1)
        q = fits.argmax(axis=1)
        pi0[:, start.perms[:, x]] = perms[rows, :, q]
        used[rows, found_orbit[rows, q]] = True
    candidates = np.take_along_axis(pi0[:, None, :], cent[None], axis=2)
    support = (candidates != np.arange(n)).sum(axis=2)
    keep = support == support.min(axis=1, keepdims=True)
    for col in range(n):  # lexicographic tie-break among the fewest moved neurons
        v = np.where(keep, candidates[:, :, col], n)
        keep &= v == v.min(axis=1, keepdims=True)
    return candidates[rows, keep.argmax(axis=1)]


def _fewest_moved_by_assignment(
    start: PermRep, perms: np.ndarray, sub_id: np.ndarray, start_sub_id: np.ndarray
) -> np.ndarray:
    """For one rep ``perms (order, n)`` isomorphic to ``start``: a neuron permutation ``pi`` with
    ``perms[g] = pi rho(g) pi^-1`` that moves the fewest neurons, without enumerating the centralizer.

    Every such ``pi`` maps each orbit of ``start`` onto an orbit of ``perms``, sending its first point
    ``x`` to a point ``q`` with the same stabilizer and ``g x`` to ``g q``; the orbits' choices are
    independent. So the number of neurons ``pi`` fixes is a sum over the orbits of ``start`` of the fixed
    points of each orbit's map, and the best ``pi`` is a maximum-weight assignment of the orbits of
    ``start`` to those of ``perms`` (``scipy.optimize.linear_sum_assignment``), each pair weighted by its
    best ``q`` (the smallest among equals). Ties between assignments are broken by the solver, not
    lexicographically."""
    from scipy.optimize import linear_sum_assignment

    order, n = perms.shape
    target = perms.min(axis=0)  # smallest point of each point's orbit under perms
    heads = np.unique(target)
    sources = [int(orbit[0]) for orbit in start.orbits]
    weight = np.full((len(sources), heads.size), -1.0)
    choice = np.zeros((len(sources), heads.size), dtype=np.int64)
    for i, x in enumerate(sources):
        images = start.perms[:, x]  # g x for every g
        copies = order // np.unique(images).size  # each point of the orbit appears this often
        for j, head in enumerate(heads):
            qs = np.flatnonzero((target == head) & (sub_id == start_sub_id[x]))
            if qs.size:
                fixed = (perms[:, qs] == images[:, None]).sum(axis=0) // copies
                best = int(fixed.argmax())
                weight[i, j], choice[i, j] = fixed[best], qs[best]
    # The reps are isomorphic (the caller's condition), so an assignment of compatible pairs exists, and it
    # outweighs any assignment with an incompatible pair.
    rows, cols = linear_sum_assignment(np.where(weight < 0, -(n + 1.0), weight), maximize=True)
    pi = np.empty(n, dtype=np.int64)
    for i, j in zip(rows, cols, strict=True):
        pi[start.perms[:, sources[i]]] = perms[:, choice[i, j]]
    return pi


def _moved(v: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """``v (K, n, d)`` with the last axis moved by ``perms`` (``(d,)`` or ``(K, d)``): ``t[p[x]] = v[x]``."""
    inv = np.argsort(np.broadcast_to(perms, (v.shape[0], perms.shape[-1])), axis=1)
    return np.take_along_axis(v, inv[:, None, :], axis=2)


def discover_hidden_reps(
    arch: MLPArchitecture,
    tensors: Sequence[Any],
    *,
    tol: float = 0.05,
    dead: np.ndarray | None = None,
    cluster_tol: float = 1e-3,
) -> list[HiddenRepDiscovery]:
    """The hidden rep of every hidden layer of ``K`` free models (module docstring), first hidden layer
    first. ``arch`` gives the group, the input and output reps and the start reps; ``tensors`` are full
    weights in flat order (``(K, *shape)`` or one model). ``tol`` bounds the relative residual,
    ``dead`` (bool ``(K,)``) marks dead models (default: :func:`~eqlandscape.symmetry.reduction.dead_models`),
    ``cluster_tol`` is the tolerance of the coinciding neurons."""
    tol = check_tol(tol)
    arrays, _ = as_tensors(arch, tensors)
    norm = normalize_rescaling(arch, arrays)
    K = arrays[0].shape[0]
    G = arch.rep_in.group
    n_gens = G.generator_perms.shape[0]
    dead = dead_models(arch, arrays) if dead is None else np.asarray(dead, dtype=bool).reshape(-1)
    results: list[HiddenRepDiscovery] = []
    previous = np.broadcast_to(arch.rep_in.generator_images, (K, n_gens, arch.widths[0]))
    alive = ~dead
    for m in hidden_layers(arch):
        start = arch.reps[m]
        n = start.size
        v_in = incoming(arch, norm, m)
        d_in = arch.widths[m - 1]
        last = m == arch.n_layers - 1
        sig = np.concatenate([v_in, outgoing(arch, norm, m)], axis=2) if last else v_in
        scale = np.linalg.norm(sig, axis=2).max(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        start_images = start.generator_images
        found = np.empty((K, n_gens, n), dtype=np.int64)
        res_start = np.zeros(K)
        res_found = np.zeros(K)
        for s in range(n_gens):
            moved_in = _moved(v_in[:, :, :d_in], previous[:, s])
            parts = [moved_in, v_in[:, :, d_in:]]
            if last:
                parts.append(_moved(outgoing(arch, norm, m), arch.rep_out.generator_images[s]))
            t = np.concatenate(parts, axis=2)  # T_g s_i
            gap0 = np.linalg.norm(t - sig[:, start_images[s]], axis=2).max(axis=1)
            cost = (t**2).sum(axis=2)[:, :, None] + (sig**2).sum(axis=2)[:, None, :] - 2 * t @ sig.transpose(0, 2, 1)
            col = assign(cost)
            found[:, s] = col
            gap = np.linalg.norm(t - np.take_along_axis(sig, col[:, :, None], axis=1), axis=2).max(axis=1)
            res_start = np.maximum(res_start, gap0 / scale)
            res_found = np.maximum(res_found, gap / scale)
        use_start = res_start <= tol
        images = np.where(use_start[:, None, None], start_images[None], found)
        residual = np.where(use_start, res_start, res_found)
        accepted = alive & (residual <= tol)
        relation = np.where(dead, "dead", "none").astype(object)
        spec = np.full(K, "", dtype=object)
        relabelling = np.full(K, "", dtype=object)
        types: list[list[int]] = [[] for _ in range(K)]
        acc = np.flatnonzero(accepted)
        relation[acc], spec[acc], relabelling[acc], found_types = _relations(images[acc], start)
        for k, t in zip(acc, found_types, strict=True):
            types[k] = t
        images[relation == "dead"] = -1
        images[relation == "none"] = -1
        clusters = neuron_clusters(arch, norm, m, cluster_tol)
        results.append(HiddenRepDiscovery(m, start, images, residual, relation, spec, relabelling, types, clusters))
        alive = alive & np.isin(relation, ("identical", "conjugate", "other"))
        previous = np.where(alive[:, None, None], images, np.broadcast_to(start_images, images.shape))
    return results
