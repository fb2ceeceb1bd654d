"""Transforms of a task's train set that switch one source of symmetry breaking on or off
(docs/design.md section 4, escaping).

Free training started in ``E`` on a train set closed under ``G`` stays in ``E`` (SGD and Adam commute
with the permutations that fix ``E``), so a relaxed network escapes a barrier only through something
that breaks the symmetry: the finite sample, label noise, the optimizer or rounding. These transforms
take any :class:`~eqlandscape.tasks.Task` and return a task of the same kind (an instance of the same
class, so a teacher-student task keeps its teacher and its default student) whose :meth:`describe`
lists what was done under ``"transforms"``, in order:

* :func:`symmetrize`: the train set closed under ``G``, every sample in all ``|G|`` transformed copies
  ``(rho_in(g) x, rho_out(g) y)`` (removes the finite sample as a source);
* :func:`with_label_noise`: Gaussian noise on the train labels (adds a source; after
  :func:`symmetrize`, each copy gets its own noise, so the set is no longer closed under ``G``).

Test sets are never changed.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import torch

from eqlandscape.errors import ConfigError
from eqlandscape.reps import PermRep
from eqlandscape.tasks.protocol import Task
from eqlandscape.train.config import MAX_SEED

SYMMETRIZE_LIMIT = 1 << 20
"""The most train samples :func:`symmetrize` makes (``|G| * n_train``): 1,048,576 samples, 8 MB per
input coordinate in float64."""


@functools.cache
def _transformed_class(cls: type) -> type:
    """The subclass of the task class ``cls`` (a dataclass) with a ``transforms`` record appended to
    its description; a subclass made here is its own transformed class."""
    if getattr(cls, "_transformed", False):
        return cls

    @dataclasses.dataclass(frozen=True, eq=False)
    class Transformed(cls):  # type: ignore[misc, valid-type]
        transforms: tuple[dict[str, Any], ...] = ()
        _transformed = True

        def describe(self) -> dict[str, Any]:
            return super().describe() | {"transforms": [dict(t) for t in self.transforms]}

    Transformed.__name__ = Transformed.__qualname__ = f"Transformed{cls.__name__}"
    Transformed.__doc__ = f"{cls.__name__} with a transformed train set (:mod:`eqlandscape.tasks.transforms`)."
    return Transformed


def _replace_train(task: Task, x: torch.Tensor, y: torch.Tensor, record: dict[str, Any]) -> Task:
    if not dataclasses.is_dataclass(task) or isinstance(task, type):
        raise ConfigError(f"task transforms need a dataclass task, got {type(task).__name__}")
    cls = _transformed_class(type(task))
    values = {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.init}
    values |= {"x_train": x, "y_train": y, "transforms": (*getattr(task, "transforms", ()), record)}
    return cls(**values)


def group_images(x: torch.Tensor, rep: PermRep) -> torch.Tensor:
    """Every sample moved by every group element: ``(|G| n, d)`` from rows ``x (n, d)`` carrying
    ``rep``, element-major (row ``g n + b`` is ``rho(g) x_b``, in the order of ``group.elements``; the
    identity first, so the first ``n`` rows are ``x``). ``(rho(g) x)[p[i]] = s[i] x[i]`` with
    ``p = perms[g]`` and ``s = signs[g]`` (1 for a permutation rep): entry ``j`` of the image is entry
    ``p^{-1}[j]`` of ``x``, times its sign."""
    inverse = np.argsort(rep.perms, axis=1)  # (|G|, d)
    images = x[:, torch.as_tensor(inverse, device=x.device)]  # (n, |G|, d)
    if rep.signs is not None:
        signs = np.take_along_axis(np.asarray(rep.signs), inverse, axis=1)
        images = images * torch.as_tensor(signs, dtype=x.dtype, device=x.device)
    return images.transpose(0, 1).reshape(-1, x.shape[1])


def symmetrize(task: Task) -> Task:
    """``task`` with its train set closed under ``G``: the ``|G| n_train`` samples
    ``(rho_in(g) x_b, rho_out(g) y_b)`` of :func:`group_images` (every sample once per element, so the
    train loss is the ``G``-averaged loss of the original set). Raises :class:`ConfigError` naming
    ``|G|`` when ``|G| n_train`` exceeds :data:`SYMMETRIZE_LIMIT` (before listing any element)."""
    rep_in, rep_out = task.rep_in, task.rep_out
    rep_in.check_same_group(rep_out, "symmetrize")
    order, n = rep_in.group.order, int(task.x_train.shape[0])
    if order * n > SYMMETRIZE_LIMIT:
        raise ConfigError(
            f"symmetrize: |G| = {order} copies of {n} train samples make {order * n} samples, more than "
            f"the limit {SYMMETRIZE_LIMIT}; use fewer samples or a smaller group"
        )
    x, y = group_images(task.x_train, rep_in), group_images(task.y_train, rep_out)
    return _replace_train(task, x, y, {"transform": "symmetrize", "group_order": order, "n_train_before": n})


def with_label_noise(task: Task, sigma: float, seed: int = 0) -> Task:
    """``task`` with ``sigma`` times standard Gaussian noise (drawn with
    ``numpy.random.default_rng(seed)``, in the order of the label entries) added to the train labels
    ``y_train (n, n_out)``; the test labels stay clean. For regression (``mse``) tasks only; raises
    :class:`ConfigError` for ``sigma < 0`` (or not finite), a seed outside ``0 .. 2^63 - 1`` or a
    classification loss."""
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not np.isfinite(sigma) or sigma < 0:
        raise ConfigError(f"label noise sigma must be a finite number >= 0, got sigma={sigma!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"label noise seed must be an integer 0 .. 2^63 - 1, got seed={seed!r}")
    if task.loss != "mse":
        raise ConfigError(f"label noise applies to regression (mse) tasks, not to a task with loss {task.loss!r}")
    y = task.y_train
    noise = np.random.default_rng(int(seed)).standard_normal(tuple(y.shape))
    noisy = y + float(sigma) * torch.as_tensor(noise, dtype=y.dtype, device=y.device)
    record = {"transform": "label_noise", "sigma": float(sigma), "seed": int(seed)}
    return _replace_train(task, task.x_train, noisy, record)
