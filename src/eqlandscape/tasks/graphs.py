"""Graphs: ``S_n`` acting on adjacency matrices, the problem of Nordenfors et al.'s permutation
experiment (``../papers`` notes: augmentation vs equivariance).

A graph on ``n`` nodes is its adjacency matrix ``A`` (symmetric, 0/1, zero diagonal), flattened
row-major: entry ``(i, j)`` is coordinate ``i * n + j``, the point numbering of ``natural^2``
(:func:`~eqlandscape.reps.tensor_product`). Relabelling the nodes by ``p`` moves entry ``(i, j)`` to
``(p[i], p[j])``: the action of ``S_n`` on ``natural^2``. The label, whether the graph is connected, is
invariant under relabelling, so the task is ``S_n``-invariant with the output rep ``trivial``.

Graphs are drawn from a stochastic block model: nodes split into blocks, each edge present with
probability ``p_in`` within a block and ``p_out`` across, independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.groups import symmetric
from eqlandscape.reps import PermRep, natural, trivial
from eqlandscape.tasks.protocol import split


def sbm_graphs(
    count: int, blocks: tuple[int, ...] = (5, 5), p_in: float = 0.5, p_out: float = 0.05, seed: int = 0
) -> np.ndarray:
    """``count`` adjacency matrices ``(count, n, n)`` (``n = sum(blocks)``, float64 0/1, symmetric, zero
    diagonal) of the stochastic block model; block ``b`` holds the nodes ``sum(blocks[:b]) ..``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"the number of graphs must be a positive integer, got {count!r}")
    if not blocks or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in blocks):
        raise ConfigError(f"blocks must be positive block sizes, got {blocks!r}")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0 <= p <= 1:
            raise ConfigError(f"{name} must be a probability in [0, 1], got {name}={p!r}")
    block_of = np.repeat(np.arange(len(blocks)), blocks)
    n = block_of.size
    prob = np.where(block_of[:, None] == block_of[None, :], p_in, p_out)
    upper = np.triu(np.random.default_rng(seed).random((count, n, n)) < prob, k=1)
    return (upper | upper.transpose(0, 2, 1)).astype(np.float64)


def connected(adjacency: np.ndarray) -> np.ndarray:
    """Whether each graph ``(count, n, n)`` is connected: node 0 reaches every node, by repeated
    squaring of the reachability relation ``R = I + A`` (``ceil(log2 n)`` boolean products)."""
    _count, n, _ = adjacency.shape
    reach = (adjacency > 0) | np.eye(n, dtype=bool)
    steps = 1
    while steps < n - 1:
        reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        steps *= 2
    return reach[:, 0, :].all(axis=1)


@dataclass(frozen=True, eq=False)
class GraphTask:
    """Connectivity of stochastic-block-model graphs: ``x`` the flattened adjacency matrices
    ``(m, n^2)``, ``y`` the labels ``(m, 1)`` (1.0 for connected), binary cross-entropy with logits."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return round(self.x_train.shape[1] ** 0.5)

    @property
    def rep_in(self) -> PermRep:
        return natural(symmetric(self.n_nodes)) ** 2

    @property
    def rep_out(self) -> PermRep:
        return trivial(symmetric(self.n_nodes))

    @property
    def loss(self) -> str:
        return "bce"

    def architecture_reps(self) -> tuple[PermRep, ...]:
        """The network of the experiment: ``natural^2 -> 32*natural^2 -> 64*trivial -> 32*trivial -> trivial``."""
        G = symmetric(self.n_nodes)
        V2 = natural(G) ** 2
        return (V2, 32 * V2, trivial(G, 64), trivial(G, 32), trivial(G))

    def describe(self) -> dict[str, Any]:
        return {
            "task": "graphs",
            **self.options,
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]),
            "connected_share": float(torch.cat([self.y_train, self.y_test]).mean()),
        }


def graph_task(
    count: int = 1000,
    blocks: tuple[int, ...] = (5, 5),
    p_in: float = 0.5,
    p_out: float = 0.05,
    *,
    train_fraction: float = 0.8,
    seed: int = 0,
) -> GraphTask:
    """``count`` graphs of :func:`sbm_graphs` labelled by :func:`connected`, the first
    ``train_fraction`` of them for training (defaults: 1,000 graphs of 10 nodes in 2 blocks of 5,
    ``p_in = 0.5``, ``p_out = 0.05``)."""
    A = sbm_graphs(count, tuple(blocks), p_in, p_out, seed)
    t = split(A.reshape(count, -1), connected(A).astype(np.float64)[:, None], train_fraction, "graphs")
    options = {"count": count, "blocks": list(blocks), "p_in": p_in, "p_out": p_out, "seed": seed}
    return GraphTask(*t, options=options | {"train_fraction": train_fraction})
