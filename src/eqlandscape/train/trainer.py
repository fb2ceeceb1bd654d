"""The ensemble trainer: ``K`` students of one strategy at once, as batched tensor operations.

The ``K`` students are split into chunks of models that are trained together (all steps of a
chunk, then the next chunk): a chunk is sized so that its activations stay in the CPU cache, and
there is no Python loop over models or seeds. Every random choice of a model (its initial
weights, minibatch order, augmentation) comes from its seed alone (:mod:`eqlandscape.nn.rng`), so
a model's trajectory does not depend on the chunking or on the other models.

One step of a chunk, with coordinates ``theta`` (one ``(C, dim)`` tensor per weight and bias):

1. full tensors ``W = phi(theta)``; the strategy's batch; the per-model MSE loss and its gradient
   in the full space by hand-written backpropagation (:mod:`eqlandscape.nn.functional`); pulled
   back to the coordinates; the strategy adds the gradient of any extra loss term;
2. a model whose loss is NaN/inf is flagged ``diverged`` and frozen at its last finite coordinates
   (a non-finite gradient or an overflowing update shows in the next loss, and an update that made
   the coordinates non-finite is undone); a model whose batch loss is at most ``loss_tol`` is
   flagged ``converged`` and frozen. Frozen models keep their coordinates; the others go on;
3. the optimizer updates every active model (:mod:`eqlandscape.train.optim`).

Metrics are recorded before the update of steps ``0, r, 2r, ...`` and after the last step.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

import eqlandscape
from eqlandscape.errors import ConfigError
from eqlandscape.nn import Ensemble, MLPArchitecture, Parametrization
from eqlandscape.nn import rng as model_rng
from eqlandscape.nn.functional import Workspace, as_samples_last, loss_and_grad_t, loss_t
from eqlandscape.tasks import TeacherStudentTask
from eqlandscape.train.config import TrainConfig
from eqlandscape.train.metrics import EquivarianceProbe, distance_to_equivariant
from eqlandscape.train.optim import Optimizer
from eqlandscape.train.results import CURVES, TrainResult
from eqlandscape.train.strategies import Strategy, build_strategy

Tensor = torch.Tensor
_CHUNK_BYTES = 8 << 20  # activations of one chunk: a few MB, in the last-level cache


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available")
    return device


@dataclass
class _Run:
    """What every chunk of a run shares (data on the run's device and dtype)."""

    config: TrainConfig
    arch: MLPArchitecture
    strategy: Strategy
    initial: list[Tensor]  # flat order, (K, *shape)
    train: tuple[Tensor, Tensor]  # samples last: (n_0, N), (n_L, N)
    test: tuple[Tensor, Tensor]
    probe: EquivarianceProbe
    record_steps: np.ndarray


class _Batches:
    """The training batch of each step for one chunk: the whole train set, or minibatches in a
    per-model order (a permutation of the train set per epoch, stream ``minibatch/<epoch>``)."""

    def __init__(self, train: tuple[Tensor, Tensor], batch_size: int | None, seeds: np.ndarray) -> None:
        self.xt, self.yt = train
        self.size = batch_size
        self.seeds = seeds
        self.epoch = -1
        self.order: Tensor | None = None

    def __call__(self, step: int) -> tuple[Tensor, Tensor]:
        n = self.xt.shape[1]
        if self.size is None or self.size >= n:
            return self.xt, self.yt
        epoch, position = divmod(step, n // self.size)
        if epoch != self.epoch:
            perms = model_rng.permutations(self.seeds, f"minibatch/{epoch}", n)
            self.order, self.epoch = torch.as_tensor(perms, device=self.xt.device), epoch
        assert self.order is not None
        idx = self.order[:, position * self.size : (position + 1) * self.size]
        return self.xt[:, idx].transpose(0, 1), self.yt[:, idx].transpose(0, 1)


def _chunk_size(config: TrainConfig, arch: MLPArchitecture, batch: int) -> int:
    if config.chunk_size is not None:
        return config.chunk_size
    itemsize = 4 if config.dtype == "float32" else 8
    per_model = 4 * batch * sum(arch.widths[1:]) * itemsize
    return int(np.clip(_CHUNK_BYTES // per_model, 1, 4096))


class _Chunk:
    """Trains the models ``sl`` of a run through all steps, recording into ``out``."""

    def __init__(self, run: _Run, sl: slice, out: dict[str, np.ndarray]) -> None:
        self.run, self.sl, self.out = run, sl, out
        self.seeds = run.config.seeds[sl]
        self.phase = 0
        self.params: tuple[Parametrization, ...] = run.strategy.phases[0]
        self.coords = [p.from_full(t[sl]) for p, t in zip(self.params, run.initial, strict=True)]
        # a copy: the identity parametrization's ``to_full`` is a view of the coordinates that the
        # optimizer updates in place (no copy on the hot path)
        self.initial = [p.to_full(c).clone() for p, c in zip(self.params, self.coords, strict=True)]
        self.final: list[Tensor] = []
        K = len(self.seeds)
        device = self.coords[0].device
        self.active = torch.ones(K, dtype=torch.bool, device=device)
        self.converged = torch.zeros_like(self.active)
        self.diverged = torch.zeros_like(self.active)
        self.steps_taken = torch.full((K,), run.config.steps, dtype=torch.long, device=device)
        self.any_frozen = False
        self.workspaces = {name: Workspace() for name in ("step", "train", "test", "probe")}
        self._restart_optimizer()

    def _restart_optimizer(self) -> None:
        self.optimizer = Optimizer(self.run.config.optimizer, self.coords)
        self.previous = [c.clone() for c in self.coords]

    def _advance(self, step: int) -> None:
        """Switch to every phase that starts at or before ``step`` (the same function, new coordinates)."""
        switch_steps = self.run.strategy.switch_steps
        while self.phase < len(switch_steps) and step >= switch_steps[self.phase]:
            full = [p.to_full(c) for p, c in zip(self.params, self.coords, strict=True)]
            self.phase += 1
            self.params = self.run.strategy.phases[self.phase]
            self.coords = [p.from_full(t) for p, t in zip(self.params, full, strict=True)]
            self._restart_optimizer()

    def train(self) -> None:
        run, cfg, arch, strategy = self.run, self.run.config, self.run.arch, self.run.strategy
        batches = _Batches(run.train, cfg.batch_size, self.seeds)
        record = 0
        for step in range(cfg.steps + 1):
            self._advance(step)
            full = [p.to_full(c) for p, c in zip(self.params, self.coords, strict=True)]
            xt, yt = strategy.batch(*batches(step), step, self.seeds)
            weights, biases = arch.split(full)
            loss, gw, gb = loss_and_grad_t(weights, biases, xt, yt, arch.activation, self.workspaces["step"])
            grads = [p.pullback(g) for p, g in zip(self.params, arch.join(gw, gb), strict=True)]
            strategy.regularize(self.params, self.coords, full, grads)
            if step == run.record_steps[record]:
                self._record(record, full, grads)
                record += 1
            if step == cfg.steps:
                break
            if not bool(torch.isfinite(loss).all()):
                self._freeze(self.active & ~torch.isfinite(loss), self.diverged, step)
            if cfg.loss_tol is not None:
                self._freeze(self.active & (loss <= cfg.loss_tol), self.converged, step)
            if self.any_frozen and not bool(self.active.any()):  # nothing moves any more
                full = [p.to_full(c) for p, c in zip(self.params, self.coords, strict=True)]
                self._record(slice(record, None), full, grads)
                break
            torch._foreach_copy_(self.previous, self.coords)
            self.optimizer.step(self.coords, grads, cfg.schedule.lr(cfg.optimizer.lr, step, cfg.steps))
            if self.any_frozen:
                keep = self.active[:, None]
                for c, prev in zip(self.coords, self.previous, strict=True):
                    c.copy_(torch.where(keep, c, prev))
        self.final = full
        self._advance(cfg.steps)  # a chunk that stopped early ends in the run's last phase, like the others
        self.workspaces.clear()  # the buffers of a finished chunk

    def _freeze(self, which: Tensor, flag: Tensor, step: int) -> None:
        """Models ``which`` stop at ``step`` with ``flag`` set. A model stopped for a non-finite loss
        whose coordinates are no longer finite (the last update overflowed) goes back to the
        coordinates before that update: the last finite ones."""
        if not bool(which.any()):
            return
        if flag is self.diverged:
            finite = torch.stack([torch.isfinite(c).all(dim=1) for c in self.coords]).all(dim=0)
            back = (which & ~finite)[:, None]
            for c, prev in zip(self.coords, self.previous, strict=True):
                c.copy_(torch.where(back, prev, c))
        flag |= which
        self.active &= ~which
        self.steps_taken[which] = step
        self.any_frozen = True

    def _record(self, r: int | slice, full: list[Tensor], grads: list[Tensor]) -> None:
        """Write the metrics of the current state into record column(s) ``r``."""
        run, arch = self.run, self.run.arch
        weights, biases = arch.split(full)
        values = {
            "train_loss": loss_t(weights, biases, *run.train, arch.activation, self.workspaces["train"]),
            "test_loss": loss_t(weights, biases, *run.test, arch.activation, self.workspaces["test"]),
            "grad_norm": sum(torch.linalg.vecdot(g, g) for g in grads).sqrt(),
            "dist_to_E": distance_to_equivariant(arch, full),
            "equiv_error": run.probe.error(full, self.workspaces["probe"]),
        }
        if run.config.record_weights:
            values.update({f"weights/{t}": tensor for t, tensor in enumerate(full)})
        for name, v in values.items():
            array = v.cpu().numpy()
            self.out[name][self.sl, r] = array[:, None] if isinstance(r, slice) else array


def train(
    task: TeacherStudentTask,
    config: TrainConfig,
    student: MLPArchitecture | None = None,
    *,
    initial: Sequence[Tensor | np.ndarray] | None = None,
) -> TrainResult:
    """Train ``config.n_models`` students of architecture ``student`` (default: the teacher's) on
    ``task`` with ``config.strategy``; return a :class:`TrainResult`.

    ``initial`` (full tensors in flat order, each ``(K, *shape)``) replaces the seeded initialization;
    each is projected onto the strategy's starting space. Raises :class:`ConfigError` when the
    student does not fit the task, ``initial`` does not fit the student, or the device is unavailable.
    """
    arch = task.arch if student is None else student
    task.check_student(arch)
    device = _device(config.device)
    dtype = torch.float32 if config.dtype == "float32" else torch.float64
    K = config.n_models
    if initial is None:
        initial = arch.init_full(config.seeds, config.init, config.init_scale)
    shapes = [tuple(np.shape(t)) for t in initial]
    if shapes != [(K, *s) for s in arch.shapes]:
        raise ConfigError(f"initial tensors of shapes {shapes} do not fit {K} students {arch}")

    def on_device(t: Tensor | np.ndarray) -> Tensor:
        return torch.as_tensor(t).to(device=device, dtype=dtype)

    run = _Run(
        config=config,
        arch=arch,
        strategy=build_strategy(config.strategy, arch),
        initial=[on_device(t) for t in initial],
        train=(on_device(as_samples_last(task.x_train)), on_device(as_samples_last(task.y_train))),
        test=(on_device(as_samples_last(task.x_test)), on_device(as_samples_last(task.y_test))),
        probe=EquivarianceProbe(arch, dtype, device),
        record_steps=np.unique(np.append(np.arange(0, config.steps, config.record_every), config.steps)),
    )
    R = run.record_steps.size
    out: dict[str, np.ndarray] = {name: np.zeros((K, R)) for name in CURVES}
    out.update(converged=np.zeros(K, bool), diverged=np.zeros(K, bool), steps_taken=np.zeros(K, np.int64))
    if config.record_weights:
        out.update({f"weights/{t}": np.zeros((K, R, *s)) for t, s in enumerate(arch.shapes)})
    batch = task.x_train.shape[0] if config.batch_size is None else min(config.batch_size, task.x_train.shape[0])
    chunk = _chunk_size(config, arch, batch)
    jobs = [_Chunk(run, slice(start, min(start + chunk, K)), out) for start in range(0, K, chunk)]
    workers = (config.workers or torch.get_num_threads()) if device.type == "cpu" else 1
    _run_chunks(jobs, workers)
    for job in jobs:
        for name in ("converged", "diverged", "steps_taken"):
            out[name][job.sl] = getattr(job, name).cpu().numpy()
    return _result(task, run, out, jobs)


def _run_chunks(jobs: list[_Chunk], workers: int) -> None:
    """Train the chunks, ``workers`` at a time on as many threads (each running PyTorch with one
    intra-op thread: chunks are independent, and the ops of one chunk are too small to split)."""
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            job.train()
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(_Chunk.train, jobs):
                assert done is None
    finally:
        torch.set_num_threads(threads)


def _cat(tensors: list[list[Tensor]]) -> list[np.ndarray]:
    """Per-chunk lists of tensors (flat order) -> one array per tensor over all models."""
    return [torch.cat(ts).detach().cpu().numpy() for ts in zip(*tensors, strict=True)]


def _result(task: TeacherStudentTask, run: _Run, out: dict[str, np.ndarray], jobs: list[_Chunk]) -> TrainResult:
    cfg, arch = run.config, run.arch
    coords = [torch.cat(cs) for cs in zip(*(job.coords for job in jobs), strict=True)]
    ensemble = Ensemble(arch, jobs[0].params, coords, cfg.seeds)
    final = _cat([job.final for job in jobs])
    initial = _cat([job.initial for job in jobs])
    outputs = ensemble(task.x_test.to(dtype=ensemble.dtype, device=ensemble.device))
    output_rms = outputs.reshape(outputs.shape[0], -1).pow(2).mean(dim=1).sqrt().cpu().numpy()
    label_rms = float(task.y_test.pow(2).mean().sqrt())
    test_loss = out["test_loss"][:, -1]
    table = pd.DataFrame(
        {
            "seed": cfg.seeds,
            "strategy": cfg.strategy.name,
            "parametrization": cfg.strategy.parametrization_label,
            "optimizer": cfg.optimizer.name,
            "lr": cfg.optimizer.lr,
            "train_loss": out["train_loss"][:, -1],
            "test_loss": test_loss,
            "success": (test_loss <= cfg.success_tol) & ~out["diverged"],
            "converged": out["converged"],
            "diverged": out["diverged"],
            "dead": output_rms <= cfg.dead_tol * label_rms,
            "steps_taken": out["steps_taken"],
            "output_rms": output_rms,
            "dist_to_E": out["dist_to_E"][:, -1],
            "equiv_error": out["equiv_error"][:, -1],
            **{f"{name}_curve": list(out[name]) for name in CURVES},
        }
    )
    trajectories = [out[f"weights/{t}"] for t in range(len(arch.shapes))] if cfg.record_weights else None
    initial_weights, initial_biases = arch.split(initial)
    final_weights, final_biases = arch.split(final)
    return TrainResult(
        table=table,
        record_steps=run.record_steps,
        initial_weights=initial_weights,
        initial_biases=initial_biases,
        final_weights=final_weights,
        final_biases=final_biases,
        weight_trajectories=trajectories,
        ensemble=ensemble,
        config=cfg,
        task=task.describe(),
        student=arch.describe(),
        version=eqlandscape.__version__,
    )
