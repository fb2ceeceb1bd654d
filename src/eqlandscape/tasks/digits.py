"""Images: scikit-learn's 8x8 digits (1,797 images bundled with scikit-learn, no download), with the
rotations (``C4``) or the rotations and reflections (``D4``) of the square acting on the pixels.

Pixel ``(r, c)`` of a ``side x side`` image is coordinate ``r * side + c``. The rotation by a quarter
turn counterclockwise (``numpy.rot90``) moves the value at ``(r, c)`` to ``(side-1-c, r)``; the
reflection moves it to ``(r, side-1-c)``. As permutations ``p`` of the pixels (``p[i]`` the pixel that
the value of pixel ``i`` moves to), with the rep convention ``(rho(p) x)[p[i]] = x[i]``, ``rho(p)`` of
the rotation applied to a flattened image is the flattened ``rot90`` of the image. Class labels do not
change under these maps in the sense of the task: the data set is not closed under them, but the
model is asked to be invariant (output ``10*trivial``), as in Nordenfors et al.'s image experiment.

Admissible subspaces (weight masks of the first layer, :func:`digits_masks`): every hidden neuron of a
regular-rep block belongs to a group element ``h`` and sees the pixels of ``h`` applied to a patch
(the top-left quadrant): the mask is invariant under ``G`` (compatible with ``E``). The skewed mask
shifts every neuron's patch one pixel to the right in the image after the move, the same way for
every neuron, which breaks the invariance (incompatible).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.groups import PermGroup
from eqlandscape.reps import PermRep, natural, trivial
from eqlandscape.tasks.protocol import split

PIXEL_GROUPS = ("C4", "D4")
SIDE = 8
CLASSES = 10


@cache
def pixel_group(kind: str = "C4", side: int = SIDE) -> PermGroup:
    """``C4`` (quarter turns) or ``D4`` (quarter turns and a reflection) acting on the ``side^2`` pixels."""
    if kind not in PIXEL_GROUPS:
        raise ConfigError(f"unknown pixel group {kind!r}; expected one of {', '.join(PIXEL_GROUPS)}")
    r, c = np.divmod(np.arange(side * side), side)
    rotation = (side - 1 - c) * side + r
    reflection = r * side + (side - 1 - c)
    gens = [rotation] if kind == "C4" else [rotation, reflection]
    return PermGroup(gens, name=f"{kind}({side}x{side} pixels)", order=4 if kind == "C4" else 8)


@dataclass(frozen=True, eq=False)
class DigitsTask:
    """Digit classification: ``x`` the pixel intensities scaled to ``[0, 1]`` ``(m, 64)``, ``y`` one-hot
    rows ``(m, 10)``, cross-entropy; ``group`` acts on the pixels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    group: PermGroup
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def rep_in(self) -> PermRep:
        return natural(self.group)

    @property
    def rep_out(self) -> PermRep:
        return trivial(self.group, CLASSES)

    @property
    def loss(self) -> str:
        return "cross_entropy"

    def describe(self) -> dict[str, Any]:
        return {
            "task": "digits",
            "group": self.group.name,
            **self.options,
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]),
        }


def digits_task(group: str = "C4", *, train_fraction: float = 0.8, seed: int = 0) -> DigitsTask:
    """The 1,797 digits of :func:`sklearn.datasets.load_digits`, shuffled with ``seed`` and split."""
    from sklearn.datasets import load_digits

    G = pixel_group(group)
    data = load_digits()
    x = data.images.reshape(len(data.images), -1) / 16.0
    y = np.eye(CLASSES)[data.target]
    order = np.random.default_rng(seed).permutation(len(x))
    t = split(x[order], y[order], train_fraction, "digits")
    return DigitsTask(*t, group=G, options={"train_fraction": train_fraction, "seed": seed})


def digits_masks(group: PermGroup, hidden: PermRep, patch: int = SIDE // 2) -> dict[str, np.ndarray]:
    """First-layer weight masks ``(hidden.size, 64)`` for a hidden rep made of regular blocks:
    ``local`` (neuron ``h`` of a block sees ``h`` applied to the top-left ``patch x patch`` square:
    invariant under ``group``) and ``skewed`` (every neuron's square shifted one pixel right: not
    invariant). Raises :class:`ConfigError` if a block of ``hidden`` is not regular."""
    side = SIDE
    r, c = np.divmod(np.arange(side * side), side)
    square = np.flatnonzero((r < patch) & (c < patch))
    pixels = natural(group)
    local = np.zeros((hidden.size, side * side), dtype=bool)
    skewed = np.zeros_like(local)
    for piece in hidden.decompose():
        if piece.size != group.order:
            raise ConfigError(
                f"digits masks need regular hidden blocks; {hidden.name!r} has a block of size {piece.size}"
            )
        first = int(piece.points[0])
        for g in range(group.order):
            neuron = int(hidden.perms[g, first])  # the neuron of element g in this block
            seen = pixels.perms[g][square]  # g applied to the square
            local[neuron, seen] = True
            rows, cols = np.divmod(seen, side)
            skewed[neuron, rows * side + np.minimum(cols + 1, side - 1)] = True  # shifted after the move
    return {"local": local, "skewed": skewed}
