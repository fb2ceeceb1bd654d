"""The strategy protocol (version 2) and the registry of strategies.

A strategy is a config class (a :class:`~eqlandscape.train.config.StrategyConfig`: its fields are
the strategy's options, validated, JSON-serializable, and the ``train`` command's options) and a
runtime class (a :class:`Strategy`), registered together once by :func:`register_strategy`, one
module per strategy (:mod:`eqlandscape.train.strategies`).

The trainer builds one runtime object per chunk of students (:func:`build_strategy`, with the
chunk's seeds), so a strategy keeps per-model state (dual variables, schedules) in tensors with
the model axis first, created from the seeds. What the trainer reads, for every step of a chunk
(:mod:`eqlandscape.train.trainer`, its module docstring gives the order):

* :attr:`Strategy.phases`, :attr:`Strategy.switch_steps`: the parametrization of every tensor (flat
  order) in each phase; phase ``p + 1`` from step ``switch_steps[p]`` on. The *base* tensors ``W``
  of a phase are ``A + phi(d)`` with trained coordinates ``d`` (docs/design.md section 4).
* :meth:`Strategy.extras`: the strategy's own trained coordinates in a phase (name -> per-model
  shape, e.g. ACE's free part ``V`` of all tensors in flat order and one ``gamma`` per layer), initialized by
  :meth:`Strategy.init_extras` from the seeds. They are trained by the run's optimizer with the
  base coordinates (one ``(K, D)`` coordinate tensor).
* :meth:`Strategy.compose`: the *model* tensors that the loss is evaluated at, the base tensors
  plus a free part that is any function of the extra coordinates (nonlinear: ACE's
  ``W + gamma_l V``); the model tensors are the base tensors themselves when the phase has no
  extras. Since ``dmodel/dW = I``, the loss gradient at the model is the base tensors' gradient.
* :meth:`Strategy.pull`: from the loss gradient at the model tensors, the gradients of the extra
  coordinates (the chain rule through :meth:`compose`; it reads the coordinates).
* :meth:`Strategy.extra_loss`: the value ``(K,)`` of the strategy's extra loss terms, adding their
  gradient to the base tensors' and extras' gradients; the value is recorded (curve ``penalty``).
* :meth:`Strategy.after_step`: after the optimizer's update (dual ascent), for the students still
  training.
* :meth:`Strategy.record`: the strategy's own recorded quantities, ``(K,)`` each (names in
  :meth:`Strategy.curve_names`); :meth:`Strategy.dropped`: the model with the free part dropped,
  whose test loss is recorded as ``test_loss_dropped``.
* :meth:`Strategy.batch`, :meth:`Strategy.lr_scale`, :meth:`Strategy.carry`: the batch a step
  trains on (augmentation), a factor of the learning rate, and what happens to the optimizer
  state at a phase switch.

Every method computes each model's numbers with the same operations in the same order whatever
the other models (elementwise operations, sums over a model's own entries, no matrix product over
the model axis): the per-seed determinism of :mod:`eqlandscape.train.trainer`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from eqlandscape.nn import MLPArchitecture, Parametrization
from eqlandscape.nn import rng as model_rng
from eqlandscape.train.config import StrategyConfig, register_strategy_config

if TYPE_CHECKING:  # the trainer's phase state, read and written by the hooks
    from eqlandscape.train.phase import Phase

Tensor = torch.Tensor
_STRATEGIES: dict[str, type[Strategy]] = {}


class Strategy:
    """Default behaviour: a free MLP in one phase, the plain batch, no extras, no extra loss, no
    state. ``seeds`` are the chunk's students, ``steps`` the run's step budget."""

    config: StrategyConfig
    has_extra_loss = False
    """Whether :meth:`extra_loss` returns a value (then recorded as the ``penalty`` curve)."""
    has_free_part = False
    """Whether the model is the base tensors plus a free part of the extras (:meth:`compose`), so
    that :meth:`dropped` returns the base tensors (``test_loss_dropped``)."""

    def __init__(self, config: StrategyConfig, arch: MLPArchitecture, seeds: np.ndarray, steps: int) -> None:
        self.config = config
        self.arch = arch
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.phases: tuple[tuple[Parametrization, ...], ...] = (arch.parametrizations("free"),)
        self.switch_steps: tuple[int, ...] = ()

    # ------------------------------------------------------------------ coordinates
    def extras(self, phase: int) -> dict[str, tuple[int, ...]]:
        """The strategy's own coordinates in ``phase``: name -> per-model shape."""
        return {}

    def init_extras(self, phase: int, full: list[Tensor]) -> dict[str, Tensor]:
        """Their initial values ``(K, *shape)`` (like the base tensors ``full``), from the seeds."""
        return {}

    def compose(self, s: Phase, step: int) -> None:
        """Write the model tensors (``s.model_flat``, ``(K, N)`` in flat order; ``s.model`` are its
        views) from the base tensors (``s.full_flat``) and ``s.extra`` (phases with extras)."""

    def pull(self, s: Phase, step: int) -> None:
        """From the loss gradient ``s.model_grads_flat`` (``(K, N)``, also the base tensors'), write
        ``s.extra_grads`` (phases with extras)."""

    # ------------------------------------------------------------------ objective and state
    def batch(self, xt: Tensor, yt: Tensor, step: int) -> tuple[Tensor, Tensor]:
        """The batch that step ``step`` trains on (samples last: ``(n, B)`` or ``(K, n, B)``)."""
        return xt, yt

    def extra_loss(self, s: Phase, step: int) -> Tensor | None:
        """The extra loss terms' value ``(K,)``; adds their gradient to the base tensors' gradient
        (``s.full_grads_flat``, ``(K, N)``) and to ``s.extra_grads`` in place. ``None``: no extra terms."""
        return None

    def after_step(self, s: Phase, step: int, active: Tensor | None) -> None:
        """After the optimizer's update of step ``step``; ``active`` (bool ``(K,)``): the students
        still training (the others keep their state), ``None`` when all are."""

    def lr_scale(self, step: int) -> float:
        """A factor of the learning rate at ``step``."""
        return 1.0

    def carry(self, old: Phase, new: Phase) -> None:
        """At a phase switch: the optimizer state of ``new`` from ``old`` (default: a restart)."""

    # ------------------------------------------------------------------ records
    def curve_names(self) -> tuple[str, ...]:
        """The names of the quantities :meth:`record` returns."""
        return ()

    def record(self, s: Phase, step: int) -> dict[str, Tensor]:
        """The strategy's recorded quantities at ``step``, ``(K,)`` each."""
        return {}

    def dropped(self, s: Phase) -> list[Tensor] | None:
        """The model with the free part dropped (flat order): the base tensors ``s.full``; ``None``
        if the strategy has no free part."""
        return s.full if self.has_free_part else None


def register_strategy(*configs: type[StrategyConfig]) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator of a runtime class: register it with its config classes (each config's
    ``name`` field defaults to its strategy's name; one runtime may serve several, ``ace`` and
    ``ace-resilient``)."""

    def decorate(cls: type[Strategy]) -> type[Strategy]:
        for config in configs:
            register_strategy_config(config)
            _STRATEGIES[config.model_fields["name"].default] = cls
        return cls

    return decorate


def build_strategy(
    config: StrategyConfig, arch: MLPArchitecture, seeds: np.ndarray | None = None, steps: int = 1
) -> Strategy:
    """The runtime strategy of ``config`` for the students ``seeds`` (default: one, seed 0) of
    architecture ``arch`` in a run of ``steps`` steps."""
    return _STRATEGIES[config.name](config, arch, np.zeros(1, np.int64) if seeds is None else seeds, steps)


# ---------------------------------------------------------------------- helpers of the strategies
def free_init(arch: MLPArchitecture, seeds: np.ndarray, stream: str, scale: float, like: Tensor) -> Tensor:
    """Free tensors side by side in flat order, ``(K, N)`` like ``like`` (a strategy's flat extra),
    drawn from the seeds' stream ``stream``: weights of layer ``l`` normal with standard deviation
    ``scale / sqrt(n_l)`` (the scale of :meth:`~eqlandscape.nn.MLPArchitecture.init_full`), biases 0."""
    out = []
    for t, shape in enumerate(arch.shapes):
        layer, is_bias = divmod(t, arch.per_layer)
        if is_bias:
            out.append(np.zeros((len(seeds), math.prod(shape))))
            continue
        std = scale / np.sqrt(arch.widths[layer])
        out.append((std * model_rng.normal(seeds, f"{stream}/W{layer}", shape)).reshape(len(seeds), -1))
    return torch.as_tensor(np.concatenate(out, axis=1), dtype=like.dtype, device=like.device).contiguous()


def flat_size(arch: MLPArchitecture) -> int:
    """``N``: the number of entries of all tensors of ``arch`` (the width of a flat ``(K, N)`` tensor)."""
    return sum(math.prod(shape) for shape in arch.shapes)


class FlatLayout:
    """All tensors of an architecture side by side in flat order, ``(K, N)`` (the trainer's
    ``full_flat``, ``model_flat``, ``model_grads_flat``; a strategy's flat extras): the span and
    sums of every layer, the layer of every entry, and the projection onto ``E`` of all tensors."""

    def __init__(self, arch: MLPArchitecture, like: Tensor) -> None:
        sizes = [math.prod(shape) for shape in arch.shapes]
        layers = np.repeat(np.arange(len(sizes)) // arch.per_layer, sizes)
        starts = np.cumsum([0, *sizes]).tolist()
        self.layer_spans = [slice(a, b) for a, b in itertools.pairwise(starts[:: arch.per_layer])]
        self.layer_index = torch.as_tensor(layers, device=like.device)
        self._tensor_spans = [slice(a, b) for a, b in itertools.pairwise(starts)]
        self._orbits = arch.parametrizations("orbit")  # shared; their gather maps made on first use

    def project(self, flat: Tensor) -> Tensor:
        """``P_E`` of every tensor: each entry replaced by the mean of its orbit (a new ``(K, N)``), tensor
        by tensor through the ``orbit`` parametrizations' gather maps (``to_full(from_full(W))``)."""
        K = flat.shape[0]
        parts = [flat[:, span].view(K, *p.shape) for p, span in zip(self._orbits, self._tensor_spans, strict=True)]
        return torch.cat(
            [p.to_full(p.from_full(part)).reshape(K, -1) for p, part in zip(self._orbits, parts, strict=True)], 1
        )

    def layer_sums(self, flat: Tensor) -> Tensor:
        """``(K, L)``: the sum of each layer's entries of ``flat`` ``(K, N)``."""
        return torch.stack([torch.sum(flat[:, span], -1) for span in self.layer_spans], dim=1)


def squared_norm(t: Tensor) -> Tensor:
    """``||t_k||^2`` of each model ``(K,)``: a sum over the model's own entries."""
    flat = t.reshape(t.shape[0], -1)
    return torch.linalg.vecdot(flat, flat)
