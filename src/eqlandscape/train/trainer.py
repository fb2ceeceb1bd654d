"""The ensemble trainer: ``K`` students of one strategy at once, as batched tensor operations.

**Per-seed determinism.** A student's trajectory (its weights, curves and flags) is a function of
its seed, the config and the data only: bit for bit the same on one machine and dtype whatever
the number of other students, their order, the chunk size and the number of threads, and when
the run is restarted from the student's recorded initial weights. What makes it so:

* every random choice of a student (initial weights, minibatch order, augmentation) comes from its
  seed alone (:mod:`eqlandscape.nn.rng`);
* every operation on a batch of students computes each student's numbers with the same operations
  in the same order, whatever the batch: contractions are elementwise products and sums over a
  student's own entries, never BLAS matrix products, whose summation order changes with the
  shapes (:mod:`eqlandscape.nn.functional`, :mod:`eqlandscape.nn.parametrization`); tensors have
  the student axis first and are contiguous (a reduction's path depends on the strides);
* the coordinates of a chunk are one ``(K, D)`` tensor with ``D`` a multiple of
  :data:`~eqlandscape.train.optim.ALIGN`: the optimizer's kernels, whose vectorized body and scalar
  tail round differently, have no tail (:mod:`eqlandscape.train.optim`);
* the kernels run on one intra-op thread (PyTorch splits a tensor between threads at positions
  that depend on its size); the parallelism is across chunks, on ``workers`` threads;
* a student does not change what happens to another: the step loop of a chunk stops early only
  when none of its students trains any more, and a student that stops gets the rest of its
  record at once, its state at the step it stopped (:meth:`_Chunk.stop`);
* a student trains coordinates ``d`` of an offset from an anchor, ``W = A + phi(d)``, ``d = 0`` at
  the start of a phase: the anchor is the student's initial full tensor itself when it lies in the
  space (bit for bit), else its projection (which lies in the space exactly), so that restarting
  from the recorded initial weights ``A`` gives the same ``W`` at every step. (Coordinates of
  ``A`` itself cannot be exact: ``W = phi(theta)`` does not reach every tensor of the space in
  floating point, for the ``orthonormal`` scale ``1 / sqrt(size)`` say.) Identity coordinates
  (``free``) are the tensor itself and need no anchor.

One step, for every student of a chunk (:meth:`_Chunk.step`, in this order). Every chunk has its
own strategy object (:mod:`eqlandscape.train.strategies.base`), built from the chunk's seeds, which
holds the chunk's per-model strategy state (dual variables); the strategy's own trained
coordinates (its *extras*, e.g. ACE's ``gamma_l`` and ``V``) sit in the chunk's coordinate tensor
after the base ones, and the model the loss sees is ``W + D(extras)`` (:meth:`Strategy.compose`).

1. phase switch (:meth:`_Chunk.switch_phase`): at a step of ``strategy.switch_steps`` the model
   tensors become the anchors of the next phase's coordinates (the same function); the optimizer
   state restarts or carries over (:meth:`Strategy.carry`);
2. full tensors ``W = A + phi(d)`` (:meth:`~eqlandscape.train.phase.Phase.refresh`) and the model tensors
   (:meth:`Strategy.compose`); the strategy's batch; the task's loss and its gradient at the model
   tensors by hand-written backpropagation (:class:`~eqlandscape.nn.functional.Backprop`), or for a
   teacher-student task with ``population=True`` its expected loss over the inputs and the
   gradient by autograd (:meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`, closed form,
   per student), or for an activation without a hand-written backward
   (:func:`~eqlandscape.nn.functional.register_activation`) by autograd through the functional core,
   one student at a time (:func:`_functional_loss_and_grads`); this is the base tensors' gradient
   as well; the extras' gradients (:meth:`Strategy.pull`); the
   strategy's extra loss, its value and gradient (:meth:`Strategy.extra_loss`); all pulled back to
   the coordinates (:meth:`~eqlandscape.train.phase.Phase.pull_back`) (:meth:`_Chunk.loss_and_grads`);
3. record (:meth:`_Chunk.record`) at steps ``0, r, 2r, ...`` and the last step: the metrics of the
   model tensors and of this gradient, the extra loss and the strategy's own curves, for the
   students still training;
4. stop (:meth:`_Chunk.stop`): a student whose loss is NaN/inf is flagged ``diverged`` and frozen
   at its last finite coordinates (an update that made the coordinates non-finite is undone); one
   whose batch loss is at most ``loss_tol`` is flagged ``converged`` and frozen. A frozen student's
   remaining record columns get its state at this step;
5. update (:meth:`_Chunk.update`): the optimizer updates every student, the learning rate times
   :meth:`Strategy.lr_scale`; the frozen ones are put back to their coordinates;
6. the strategy's after-step hook (:meth:`Strategy.after_step`: ACE's dual ascent) for the
   students still training.

The students are split into chunks (:func:`_chunk_size`: as many as keep the activations in the
CPU cache, and enough chunks for the workers) trained one after the other or concurrently
(:func:`_run_chunks`); a chunk is built when a worker starts it and only its result is kept when it ends,
so that memory grows with the workers, not with the students.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

import eqlandscape
from eqlandscape.errors import ConfigError
from eqlandscape.nn import Ensemble, MLPArchitecture, Parametrization
from eqlandscape.nn import rng as model_rng
from eqlandscape.nn.functional import (
    ACTIVATION_FUNCTIONS,
    Backprop,
    Workspace,
    as_samples_last,
    forward_t,
    loss_and_accuracy_t,
    loss_t,
)
from eqlandscape.tasks import LOSSES, Task, TeacherStudentTask
from eqlandscape.tasks.protocol import check_student
from eqlandscape.train.config import TrainConfig
from eqlandscape.train.metrics import EquivarianceProbe, distance_to_equivariant
from eqlandscape.train.phase import Phase
from eqlandscape.train.results import ACCURACY_CURVES, CURVES, TrainResult
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


@dataclass(frozen=True)
class TrainProgress:
    """Where a run stands: ``fraction`` of its student-steps done (``0 .. 1``), and how many students
    are still ``training``, have ``converged`` (reached ``loss_tol``) or ``diverged``."""

    fraction: float
    training: int
    converged: int
    diverged: int


class _Progress:
    """Collects the chunks' reports (from their threads) and hands the run's totals to ``callback``
    at most every ``interval`` seconds, and once at the end. Reading the state changes nothing of the
    training."""

    def __init__(self, callback: Callable[[TrainProgress], None] | None, K: int, steps: int, interval: float = 0.2):
        self.callback, self.total, self.interval = callback, K * max(steps, 1), interval
        self.lock = threading.Lock()
        self.chunks: dict[int, tuple[int, int, int, int]] = {}  # id -> (student-steps, training, converged, diverged)
        self.last = 0.0

    def report(self, chunk: _Chunk, step: int, final: bool = False) -> None:
        if self.callback is None:
            return
        K = chunk.active.numel()
        converged, diverged = int(chunk.converged.sum()), int(chunk.diverged.sum())
        with self.lock:
            self.chunks[id(chunk)] = (K * step, 0 if final else chunk.n_active, converged, diverged)
            now = time.monotonic()
            if not final and now - self.last < self.interval:
                return
            self.last = now
            done, training, conv, div = (sum(v[i] for v in self.chunks.values()) for i in range(4))
            self.callback(TrainProgress(min(done / self.total, 1.0), training, conv, div))


@dataclass
class _Run:
    """What every chunk of a run shares (data on the run's device and dtype)."""

    config: TrainConfig
    arch: MLPArchitecture
    loss: str  # the task's loss (one of eqlandscape.tasks.LOSSES)
    strategy_curves: tuple[str, ...]  # what the strategy adds to the record (_strategy_curves)
    seeds: np.ndarray  # (K,)
    initial: list[Tensor]  # flat order, (K, *shape)
    train: tuple[Tensor, Tensor]  # samples last: (n_0, N), (n_L, N)
    test: tuple[Tensor, Tensor]
    probe: EquivarianceProbe
    record_steps: np.ndarray
    progress: _Progress
    population: TeacherStudentTask | None = None  # a task whose training loss is its expected loss


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


def _chunk_size(config: TrainConfig, arch: MLPArchitecture, batch: int, K: int, workers: int) -> int:
    """``config.chunk_size``, or as many students as fit :data:`_CHUNK_BYTES` of activations, and
    no more than give every worker a chunk."""
    if config.chunk_size is not None:
        return config.chunk_size
    itemsize = 4 if config.dtype == "float32" else 8
    per_model = 4 * batch * sum(arch.widths[1:]) * itemsize
    fits = int(np.clip(_CHUNK_BYTES // per_model, 1, 4096))
    return max(1, min(fits, -(-K // workers)))


class _Chunk:
    """Trains the students ``sl`` of a run through all steps, recording into ``out``."""

    def __init__(self, run: _Run, sl: slice, out: dict[str, np.ndarray]) -> None:
        self.run, self.sl, self.out = run, sl, out
        self.seeds = run.seeds[sl]
        K = len(self.seeds)
        self.phase = 0
        self.strategy = build_strategy(run.config.strategy, run.arch, self.seeds, run.config.steps)
        self.state = self._new_phase([t[sl] for t in run.initial])
        self.strategy.compose(self.state, 0)
        self.initial = [t.clone() for t in self.state.full]
        self.penalty: Tensor | None = None  # the strategy's extra loss at the current step
        self.final: list[Tensor] = []
        device = self.state.theta.device
        self.active = torch.ones(K, dtype=torch.bool, device=device)
        self.converged = torch.zeros_like(self.active)
        self.diverged = torch.zeros_like(self.active)
        self.steps_taken = torch.full((K,), run.config.steps, dtype=torch.long, device=device)
        self.n_active = K
        self.live = np.ones(K, dtype=bool)  # the students whose record columns are still to write
        self.next_record = 0  # the record column of the next record step
        self.batches = _Batches(run.train, run.config.batch_size, self.seeds)
        self._backprop: dict[tuple[int, int], Backprop] = {}  # by (phase, number of samples)
        self.workspaces = {name: Workspace() for name in ("train", "test", "probe")}
        self.output_rms = np.zeros(0)

    # ------------------------------------------------------------------ the step loop
    def train(self) -> None:
        """All steps of the chunk; stops early only when no student trains any more."""
        steps = self.run.config.steps
        for step in range(steps + 1):
            self.step(step)
            if not self.n_active:
                break
            if step % 16 == 0:
                self.run.progress.report(self, step)
        self.run.progress.report(self, steps, final=True)
        self.switch_phase(steps)  # a chunk that stopped early ends in the run's last phase, like the others
        self.final = [t.clone() for t in self.state.model]
        self._finish()

    def step(self, step: int) -> None:
        """Step ``step`` of every student of the chunk: the order of operations of each student."""
        self.switch_phase(step)  # 1. a new phase's coordinates (at the strategy's switch steps)
        self.refresh(step)  # 2. the full tensors W = A + phi(d) and the model tensors,
        loss = self.loss_and_grads(step)  # the batch loss and the gradient in coordinates
        if step == self.run.record_steps[self.next_record]:
            self.record()  # 3. the metrics of W and the gradient, for the students still training
        if step == self.run.config.steps:
            return  # the last step only records
        self.stop(step, loss)  # 4. freeze diverged and converged students, fill their records
        if self.n_active:
            self.update(step)  # 5. the optimizer's update; frozen students keep their coordinates
            active = None if self.n_active == self.active.numel() else self.active
            self.strategy.after_step(self.state, step, active)  # 6. the strategy's own step (dual ascent)

    def refresh(self, step: int) -> None:
        """The full tensors from the coordinates, and the model tensors (:meth:`Strategy.compose`)."""
        self.state.refresh()
        if self.state.extra:
            self.strategy.compose(self.state, step)

    def _new_phase(self, full: list[Tensor]) -> Phase:
        """The state of phase :attr:`phase` from the model tensors ``full``, with the strategy's extras."""
        strategy, phase = self.strategy, self.phase
        params = strategy.phases[phase]
        extras = strategy.extras(phase)
        init = strategy.init_extras(phase, full) if extras else None
        return Phase(params, full, self.run.config.optimizer, extras, init)

    def switch_phase(self, step: int) -> None:
        """Switch to every phase that starts at or before ``step`` (the same functions, new
        coordinates; the optimizer state as :meth:`Strategy.carry` says)."""
        switch_steps = self.strategy.switch_steps
        while self.phase < len(switch_steps) and step >= switch_steps[self.phase]:
            self.phase += 1
            old = self.state
            self.refresh(step)
            self.state = self._new_phase(old.model)
            self.strategy.carry(old, self.state)
            self.refresh(step)

    def loss_and_grads(self, step: int) -> Tensor:
        """The batch loss ``(K,)`` at the full tensors and the gradient of the objective in
        coordinates (into ``state.grad``)."""
        state, strategy = self.state, self.strategy
        if self.run.population is not None:
            loss = _expected_loss_and_grads(self.run.population, state.model, state.model_grads)
        elif ACTIVATION_FUNCTIONS[self.run.arch.activation].backward_ is None:
            loss = _functional_loss_and_grads(self.run, state.model, state.model_grads, *self._batch(step))
        else:
            xt, yt = self._batch(step)
            key = (self.phase, xt.shape[-1])
            backprop = self._backprop.get(key)
            if backprop is None:
                arch = self.run.arch
                (weights, biases), (grad_w, grad_b) = arch.split(state.model), arch.split(state.model_grads)
                backprop = Backprop(weights, biases, grad_w, grad_b, arch.activation, xt.shape[-1], self.run.loss)
                self._backprop = {key: backprop}  # the one of an earlier phase is done with
            loss = backprop(xt, yt)
        if state.extra:
            strategy.pull(state, step)  # the gradients at the base tensors and the extras
        self.penalty = strategy.extra_loss(state, step)  # adds its gradient in the full space
        state.pull_back()
        return loss

    def _batch(self, step: int) -> tuple[Tensor, Tensor]:
        """The batch of ``step`` as the strategy trains on it (:meth:`Strategy.batch`)."""
        return self.strategy.batch(*self.batches(step), step)

    def record(self) -> None:
        """Write the metrics of the current state into the next record column, for the students
        still training."""
        column = slice(self.next_record, self.next_record + 1)
        step = int(self.run.record_steps[self.next_record])
        self._write(self._metrics(step), np.flatnonzero(self.live), column)
        self.next_record += 1

    def stop(self, step: int, loss: Tensor) -> None:
        """Freeze the students whose loss is not finite (``diverged``) or at most ``loss_tol``
        (``converged``) at ``step``; write their state into all their remaining record columns."""
        tol = self.run.config.loss_tol
        if tol is None and self.n_active == self.active.numel() and math.isfinite(float(loss.sum())):
            return  # the quick test: every loss finite (their sum would not be)
        diverged = self.active & ~torch.isfinite(loss)
        stopping = diverged if tol is None else diverged | (self.active & (loss <= tol))
        if not bool(stopping.any()):
            return
        state = self.state
        if bool(diverged.any()):
            # an update that made the coordinates non-finite is undone: back to the last finite ones
            back = (diverged & ~torch.isfinite(state.theta).all(dim=1))[:, None]
            state.theta.copy_(torch.where(back, state.previous, state.theta))
            self.refresh(step)
            self.diverged |= diverged
        self.converged |= stopping & ~diverged
        self.active &= ~stopping
        self.steps_taken[stopping] = step
        rows = torch.nonzero(stopping).reshape(-1)
        self.n_active -= int(rows.numel())
        if self.next_record < self.run.record_steps.size:
            metrics = self._metrics(step, rows)
            self._write(metrics, rows.cpu().numpy(), slice(self.next_record, None))
        self.live[rows.cpu().numpy()] = False

    def update(self, step: int) -> None:
        """One optimizer step for every student; the frozen ones keep their coordinates."""
        cfg, state = self.run.config, self.state
        state.previous.copy_(state.theta)
        lr = cfg.schedule.lr(cfg.optimizer.lr, step, cfg.steps) * self.strategy.lr_scale(step)
        state.optimizer.step([state.theta], [state.grad], lr)
        if self.n_active < self.active.numel():
            state.theta.copy_(torch.where(self.active[:, None], state.theta, state.previous))

    # ------------------------------------------------------------------ records
    def _metrics(self, step: int, rows: Tensor | None = None) -> dict[str, Tensor]:
        """The recorded quantities at ``step`` of the students ``rows`` (positions in the chunk;
        default: all): the model tensors' losses, distance and equivariance error, the coordinate
        gradient's norm, and the strategy's own (its extra loss, its curves, the test loss of the
        model with the free part dropped)."""
        run, arch, state, strategy = self.run, self.run.arch, self.state, self.strategy

        def pick(t: Tensor) -> Tensor:
            return t if rows is None else t[rows]

        full = [pick(t) for t in state.model]
        grads = [pick(g) for g in state.all_grads()]
        weights, biases = arch.split(full)
        values: dict[str, Tensor] = {}
        for part, data in (("train", run.train), ("test", run.test)):
            if run.loss == "mse":
                values[f"{part}_loss"] = loss_t(weights, biases, *data, arch.activation, self.workspaces[part])
            else:
                values[f"{part}_loss"], values[f"{part}_accuracy"] = loss_and_accuracy_t(
                    weights, biases, *data, arch.activation, self.workspaces[part], run.loss
                )
        values |= {
            "grad_norm": sum(torch.linalg.vecdot(g, g) for g in grads).sqrt(),
            "dist_to_E": distance_to_equivariant(arch, full),
            "equiv_error": run.probe.error(full, self.workspaces["probe"]),
        }
        if self.penalty is not None:
            values["penalty"] = pick(self.penalty)
        dropped = strategy.dropped(state)
        if dropped is not None:
            dw, db = arch.split([pick(t) for t in dropped])
            args = (*run.test, arch.activation, self.workspaces["test"])
            values["test_loss_dropped"] = loss_t(dw, db, *args, loss=run.loss)
        values |= {name: pick(v) for name, v in strategy.record(state, step).items()}
        if run.config.record_weights:
            values.update({f"weights/{t}": tensor for t, tensor in enumerate(full)})
        return values

    def _write(self, values: dict[str, Tensor], rows: np.ndarray, columns: slice) -> None:
        """Write ``values`` (one entry per row of ``rows``, or per student of the chunk) of the
        students ``rows`` (positions in the chunk) into the record ``columns``."""
        for name, v in values.items():
            array = _canonical_nan(v.cpu().numpy())
            if array.shape[0] != rows.size:
                array = array[rows]
            target = self.out[name][self.sl]
            target[rows, columns] = array[:, None]

    def _finish(self) -> None:
        """Flags and output RMS of the final students; free the buffers."""
        for name in ("converged", "diverged", "steps_taken"):
            self.out[name][self.sl] = getattr(self, name).cpu().numpy()
        arch = self.run.arch
        weights, biases = arch.split(self.final)
        outputs = forward_t(weights, biases, self.run.test[0], arch.activation, self.workspaces["test"])[0][-1]
        flat = outputs.reshape(outputs.shape[0], -1)
        self.output_rms = _canonical_nan((torch.linalg.vecdot(flat, flat) / flat.shape[1]).sqrt().cpu().numpy())
        self.workspaces.clear()
        self._backprop.clear()


def _expected_loss_and_grads(task: TeacherStudentTask, model: list[Tensor], grads: list[Tensor]) -> Tensor:
    """The expected loss ``(K,)`` of the model tensors over the task's input distribution
    (:meth:`~eqlandscape.tasks.TeacherStudentTask.expected_loss`, closed form, each student from
    its own entries) and its gradient by autograd, written into ``grads``."""
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in model]
        loss = task.expected_loss(leaves)
        for g, out in zip(torch.autograd.grad(loss.sum(), leaves), grads, strict=True):
            out.copy_(g)
    return loss.detach()


def _functional_loss_and_grads(run: _Run, model: list[Tensor], grads: list[Tensor], xt: Tensor, yt: Tensor) -> Tensor:
    """The batch loss ``(K,)`` and its gradient (into ``grads``) by autograd through the functional core
    (:func:`eqlandscape.landscape.functional.loss`), for what the fast kernel does not cover (an
    activation registered without a hand-written backward). One model at a time, on fresh copies of
    its tensors and batch: BLAS then sees the same shapes, strides and alignment for every model, so a
    model's numbers depend on its own tensors alone."""
    from eqlandscape.landscape.functional import loss as functional_loss

    names = run.arch.names
    values = []
    with torch.enable_grad():
        for k in range(model[0].shape[0]):
            coords = {n: t[k].detach().clone().requires_grad_() for n, t in zip(names, model, strict=True)}
            x = (xt if xt.dim() == 2 else xt[k]).T.contiguous()
            y = (yt if yt.dim() == 2 else yt[k]).T.contiguous()
            value = functional_loss(coords, x, y, activation=run.arch.activation, criterion=run.loss)
            for g, out in zip(torch.autograd.grad(value, list(coords.values())), grads, strict=True):
                out[k].copy_(g)
            values.append(value.detach())
    return torch.stack(values)


def _canonical_nan(array: np.ndarray) -> np.ndarray:
    """``array`` with every NaN the canonical one. The bits of a NaN depend on the kernel's path:
    ``torch.maximum`` gives an all-ones NaN in its vectorized body and the canonical NaN in its
    scalar tail, so a diverged student's NaN would depend on its place in the chunk."""
    return np.where(np.isnan(array), np.nan, array) if array.dtype.kind == "f" else array


def train(
    task: Task,
    config: TrainConfig,
    student: MLPArchitecture | None = None,
    *,
    initial: Sequence[Tensor | np.ndarray] | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
) -> TrainResult:
    """Train ``config.n_models`` students of architecture ``student`` on ``task`` (any
    :class:`~eqlandscape.tasks.Task`: its ``loss`` is the training loss and the recorded one) with
    ``config.strategy``; return a :class:`TrainResult`. The student defaults to the teacher's
    architecture for a :class:`~eqlandscape.tasks.TeacherStudentTask` and must be given for other
    tasks; its input and output reps must be the task's. A :class:`~eqlandscape.tasks.TeacherStudentTask`
    with ``population=True`` is trained on its expected loss (the gradient by autograd of
    ``task.expected_loss``; the recorded ``train_loss`` stays the train set's). ``progress`` (optional) receives a
    :class:`TrainProgress` a few times a second, from the training threads.

    ``initial`` (full tensors in flat order, each ``(K, *shape)``) replaces the seeded initialization;
    a tensor that lies in the strategy's starting space is kept exactly, the others are projected
    onto it. The recorded ``initial_weights`` / ``initial_biases`` are the tensors the students start
    from: passed back as ``initial``, they give the same run bit for bit. Raises
    :class:`ConfigError` when the student does not fit the task, ``initial`` does not fit the
    student, or the device is unavailable.
    """
    return _train(task, config, student, initial, config.seeds, progress)


def _task_name(task: Task) -> str:
    name = task.describe().get("task") if not isinstance(task, TeacherStudentTask) else "teacher-student"
    return str(name or type(task).__name__)


def _student(task: Task, student: MLPArchitecture | None) -> MLPArchitecture:
    """The student of ``task``: ``student``, or the teacher's architecture; checked against the task's reps."""
    if isinstance(task, TeacherStudentTask):
        arch = task.arch if student is None else student
        task.check_student(arch)
        return arch
    if student is None:
        raise ConfigError(
            f"the {_task_name(task)} task has no default student: give a student architecture from "
            f"{task.rep_in.name!r} to {task.rep_out.name!r}"
        )
    check_student(task, student, f"{_task_name(task)} task's")
    return student


def _train(
    task: Task,
    config: TrainConfig,
    student: MLPArchitecture | None,
    initial: Sequence[Tensor | np.ndarray] | None,
    seeds: np.ndarray,
    progress: Callable[[TrainProgress], None] | None = None,
) -> TrainResult:
    """:func:`train` with the students' seeds given (any int64 array of ``config.n_models`` seeds)."""
    run, out = _prepare(task, config, student, initial, seeds, progress)
    device, K = run.initial[0].device, run.seeds.size
    batch = task.x_train.shape[0] if config.batch_size is None else min(config.batch_size, task.x_train.shape[0])
    workers = (config.workers or torch.get_num_threads()) if device.type == "cpu" else 1
    chunk = _chunk_size(config, run.arch, batch, K, workers)
    with _one_intra_op_thread(device):
        slices = [slice(start, min(start + chunk, K)) for start in range(0, K, chunk)]
        return _result(task, run, out, _run_chunks(run, slices, out, workers))


def _prepare(
    task: Task,
    config: TrainConfig,
    student: MLPArchitecture | None,
    initial: Sequence[Tensor | np.ndarray] | None,
    seeds: np.ndarray,
    progress: Callable[[TrainProgress], None] | None = None,
) -> tuple[_Run, dict[str, np.ndarray]]:
    """The checked run (data on the device) and its empty record arrays."""
    arch = _student(task, student)
    if task.loss not in LOSSES:
        raise ConfigError(f"unknown loss {task.loss!r} of the task; expected one of {', '.join(LOSSES)}")
    device = _device(config.device)
    dtype = torch.float32 if config.dtype == "float32" else torch.float64
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
    K = seeds.size
    if initial is None:
        initial = arch.init_full(seeds, config.init, config.init_scale)
    shapes = [tuple(np.shape(t)) for t in initial]
    if shapes != [(K, *s) for s in arch.shapes]:
        raise ConfigError(f"initial tensors of shapes {shapes} do not fit {K} students {arch}")

    def on_device(t: Tensor | np.ndarray) -> Tensor:
        # contiguous: a kernel's path (and summation order) depends on the memory layout, and
        # ``(K, ...)`` tensors with the model axis first give every model the same one
        return torch.as_tensor(t).to(device=device, dtype=dtype).contiguous()

    run = _Run(
        config=config,
        arch=arch,
        loss=task.loss,
        strategy_curves=_strategy_curves(build_strategy(config.strategy, arch, seeds[:1], config.steps)),
        seeds=seeds,
        initial=[on_device(t) for t in initial],
        train=(on_device(as_samples_last(task.x_train)), on_device(as_samples_last(task.y_train))),
        test=(on_device(as_samples_last(task.x_test)), on_device(as_samples_last(task.y_test))),
        probe=EquivarianceProbe(arch, dtype, device),
        record_steps=np.unique(np.append(np.arange(0, config.steps, config.record_every), config.steps)),
        progress=_Progress(progress, K, config.steps),
        population=task if isinstance(task, TeacherStudentTask) and task.population else None,
    )
    if run.population is not None:  # an unsupported student or teacher fails here, naming what
        run.population.expected_loss([t[:1] for t in run.initial])
    R = run.record_steps.size
    curves = _loss_curves(task.loss) + run.strategy_curves
    out: dict[str, np.ndarray] = {name: np.zeros((K, R)) for name in curves}
    out.update(converged=np.zeros(K, bool), diverged=np.zeros(K, bool), steps_taken=np.zeros(K, np.int64))
    if config.record_weights:
        out.update({f"weights/{t}": np.zeros((K, R, *s)) for t, s in enumerate(arch.shapes)})
    return run, out


def _loss_curves(loss: str) -> tuple[str, ...]:
    """The recorded curves of every strategy: :data:`CURVES`, and :data:`ACCURACY_CURVES` for a
    classification loss."""
    return CURVES if loss == "mse" else CURVES + ACCURACY_CURVES


def _strategy_curves(strategy: Strategy) -> tuple[str, ...]:
    """The recorded quantities a strategy adds: ``penalty`` (its extra loss), ``test_loss_dropped``
    (the test loss with the free part dropped) and its own curves."""
    penalty = ("penalty",) if strategy.has_extra_loss else ()
    dropped = ("test_loss_dropped",) if strategy.has_free_part else ()
    return penalty + dropped + strategy.curve_names()


@contextmanager
def _one_intra_op_thread(device: torch.device) -> Iterator[None]:
    """Run PyTorch's CPU kernels on one intra-op thread (restored afterwards): with more, a kernel
    splits its tensor between threads at positions that depend on the tensor's size, and a student's
    numbers on the chunk it is in."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Trained:
    """What the result needs of a trained chunk (its buffers are gone by then): its students' initial and
    final full tensors (flat order), output RMS, and the coordinates the final models are in (the same
    for every chunk, :meth:`~eqlandscape.nn.MLPArchitecture.parametrizations`)."""

    initial: list[Tensor]
    final: list[Tensor]
    output_rms: np.ndarray
    params: tuple[Parametrization, ...]
    extra: bool


def _train_chunk(run: _Run, sl: slice, out: dict[str, np.ndarray]) -> _Trained:
    """Build the chunk of students ``sl``, train it and keep only what the result needs, so that no more
    chunks than workers hold their buffers at a time."""
    job = _Chunk(run, sl, out)
    job.train()
    return _Trained(job.initial, job.final, job.output_rms, job.state.params, bool(job.state.extra))


def _run_chunks(run: _Run, slices: list[slice], out: dict[str, np.ndarray], workers: int) -> list[_Trained]:
    """Train the chunks, ``workers`` at a time on as many threads (each running PyTorch with one
    intra-op thread: chunks are independent, and the ops of one chunk are too small to split)."""
    if workers <= 1 or len(slices) == 1:
        return [_train_chunk(run, sl, out) for sl in slices]

    def in_worker(sl: slice) -> _Trained:
        torch.set_num_threads(1)  # a new thread reads the setting when it first runs a kernel; make sure
        return _train_chunk(run, sl, out)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(in_worker, slices))


def _cat(tensors: list[list[Tensor]]) -> list[np.ndarray]:
    """Per-chunk lists of tensors (flat order) -> one array per tensor over all models."""
    return [torch.cat(ts).detach().cpu().numpy() for ts in zip(*tensors, strict=True)]


def _result(task: Task, run: _Run, out: dict[str, np.ndarray], jobs: list[_Trained]) -> TrainResult:
    cfg, arch = run.config, run.arch
    # the final models as trained: free coordinates when the strategy adds a free part
    params = arch.parametrizations("free") if jobs[0].extra else jobs[0].params
    final_tensors = [torch.cat(ts) for ts in zip(*(job.final for job in jobs), strict=True)]
    coords = [p.from_full(t) for p, t in zip(params, final_tensors, strict=True)]
    ensemble = Ensemble(arch, params, coords, run.seeds)
    final = [t.detach().cpu().numpy() for t in final_tensors]
    initial = _cat([job.initial for job in jobs])
    output_rms = np.concatenate([job.output_rms for job in jobs])
    label_rms = float(task.y_test.pow(2).mean().sqrt())
    test_loss = out["test_loss"][:, -1]
    classification = run.loss != "mse"
    if classification:
        accuracy = {name: out[name][:, -1] for name in ACCURACY_CURVES}
        success = accuracy["test_accuracy"] >= 1 - cfg.success_tol
    else:
        accuracy = {}
        success = test_loss <= cfg.success_tol
    table = pd.DataFrame(
        {
            "seed": run.seeds,
            "strategy": cfg.strategy.name,
            "parametrization": cfg.strategy.parametrization_label,
            "optimizer": cfg.optimizer.name,
            "lr": cfg.optimizer.lr,
            "train_loss": out["train_loss"][:, -1],
            "test_loss": test_loss,
            **accuracy,
            "success": success & ~out["diverged"],
            "converged": out["converged"],
            "diverged": out["diverged"],
            "dead": output_rms <= cfg.dead_tol * label_rms,
            "steps_taken": out["steps_taken"],
            "output_rms": output_rms,
            "dist_to_E": out["dist_to_E"][:, -1],
            "equiv_error": out["equiv_error"][:, -1],
            **{name: out[name][:, -1] for name in run.strategy_curves},
            **{f"{name}_curve": list(out[name]) for name in _loss_curves(run.loss) + run.strategy_curves},
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
