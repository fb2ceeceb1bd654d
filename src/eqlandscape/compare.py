"""Relaxations compared on one teacher-student problem, and the study of what makes a relaxed network
escape a barrier (docs/design.md section 4: barriers, escaping).

:func:`compare` trains the same students (the same seeds, so the same initial functions) with every
strategy of the registry (:func:`~eqlandscape.train.config.strategy_names`) on one problem, for one
or several teachers ``W_l + epsilon V_l``: an equivariant teacher (the plane teacher of the demo, or
a random one) plus ``epsilon`` times free Gaussian tensors ``V_l`` (the free initialization rule of
:mod:`eqlandscape.nn.architecture`, seeded by the teacher seed), so ``epsilon = 0`` is exactly
symmetric data and a larger ``epsilon`` a partly symmetric one. Every student is annotated
(:func:`~eqlandscape.symmetry.annotate.annotate`) and the rows of :meth:`Comparison.table` give, per
``epsilon``, strategy, barrier and starting side: the success rate, the final test loss, distance to
``E`` and equivariance error, the hidden rep the students ended in, and for relaxations (strategies
with a ``switch_step``) the length of the free phase.

:func:`escape_study` trains relaxed students that all start on the wrong side of the barrier (the
side the teacher is not on) and reads their success after each free-phase length from one run's
recorded test loss (a run of ``T`` steps with a constant learning rate is the first ``T`` steps of a
longer one), over train-set sizes, data samples and the switches of
:mod:`eqlandscape.tasks.transforms` (the train set closed under ``G``, label noise) and the optimizer
(Adam's restart at the switch; and ``optimizer_state`` where the relaxed strategy has it).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator, model_validator

from eqlandscape import __version__
from eqlandscape.errors import ConfigError
from eqlandscape.nn import EquivariantMLP, MLPArchitecture
from eqlandscape.reps import PermRep, parse_rep_chain
from eqlandscape.symmetry import analyze_barriers
from eqlandscape.symmetry.annotate import annotate, teacher_sides
from eqlandscape.tasks import TeacherStudentTask, plane_teacher, teacher_student
from eqlandscape.tasks.transforms import symmetrize, with_label_noise
from eqlandscape.train import TrainConfig, TrainProgress, TrainResult, train
from eqlandscape.train.config import Config, strategy_fields, strategy_names

STRATEGIES = ("constrained", "free", "augmented", "relaxed", "penalty", "ace", "ace-resilient", "rpp", "scheduled")
"""The strategies compared by default (those not registered yet are skipped with a note)."""
ALL = "all"
"""The ``start_side`` of the rows that count every student."""


class ProblemConfig(Config):
    """The teacher-student problem: ``group`` and the layer ``reps`` (``"rho_0 -> ... -> rho_L"``);
    ``teacher_weights`` ``plane`` (``W_0 = I - 0.2 (J - I)``, output weights 1, no biases: reps
    ``natural -> natural -> trivial``) or ``random`` (an equivariant teacher seeded by ``teacher_seed``,
    with ``bias``); ``n_train`` / ``n_test`` Gaussian inputs drawn with ``data_seed``; the item-6
    switches ``symmetrize`` (the train set closed under ``G``) and ``label_noise`` (its standard
    deviation, seeded by ``noise_seed``; applied after closing)."""

    group: str = "S3"
    reps: str = "natural -> natural -> trivial"
    teacher_weights: Literal["plane", "random"] = "plane"
    teacher_seed: int = Field(0, ge=0)
    bias: bool = False
    n_train: int = Field(512, ge=1)
    n_test: int = Field(512, ge=1)
    data_seed: int = Field(12345, ge=0)
    symmetrize: bool = False
    label_noise: float = Field(0.0, ge=0, allow_inf_nan=False)
    noise_seed: int = Field(0, ge=0)

    def reps_of(self) -> tuple[PermRep, ...]:
        """The layer reps parsed from ``reps`` over ``group``."""
        return parse_rep_chain(self.group, self.reps)

    def teacher(self, epsilon: float = 0.0) -> EquivariantMLP:
        """The teacher ``W_l + epsilon V_l`` (float64; free parametrization when ``epsilon > 0``)."""
        reps = self.reps_of()
        if self.teacher_weights == "plane":
            if [r.name for r in reps] != ["natural", "natural", "trivial"]:
                raise ConfigError(
                    f"teacher weights plane need the reps 'natural -> natural -> trivial', got {self.reps!r}"
                )
            base = plane_teacher(group=self.group)
        else:
            base = EquivariantMLP(reps, "relu", self.bias, seed=self.teacher_seed, dtype=torch.float64)
        if epsilon == 0:
            return base
        arch = base.arch
        free = arch.init_full([self.teacher_seed], "free")
        tensors = [
            t.detach().double() + epsilon * torch.as_tensor(v[0]) for t, v in zip(base.full(), free, strict=True)
        ]
        return EquivariantMLP(arch.reps, arch.activation, arch.bias, "free", initial=tensors, dtype=torch.float64)

    def task(
        self, epsilon: float = 0.0, n_train: int | None = None, data_seed: int | None = None
    ) -> TeacherStudentTask:
        """The data of :meth:`teacher` (``n_train`` and ``data_seed`` override the config's), with the
        switches applied."""
        n = self.n_train if n_train is None else n_train
        seed = self.data_seed if data_seed is None else data_seed
        task = teacher_student(self.teacher(epsilon), n, self.n_test, seed=seed)
        if self.symmetrize:
            task = symmetrize(task)
        if self.label_noise:
            task = with_label_noise(task, self.label_noise, self.noise_seed)
        return task


def resolve_strategies(requested: tuple[str, ...] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(run, skipped)``: the requested strategies, or by default those of :data:`STRATEGIES` that
    are registered (the others skipped). An explicitly requested unknown name is a
    :class:`ConfigError` naming it."""
    known = strategy_names()
    if requested is None:
        return tuple(s for s in STRATEGIES if s in known), tuple(s for s in STRATEGIES if s not in known)
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise ConfigError(f"unknown strategy {unknown[0]!r}; registered: {', '.join(known)}")
    if not requested:
        raise ConfigError("no strategies given")
    return tuple(dict.fromkeys(requested)), ()


class CompareConfig(Config):
    """One comparison: the ``problem``, the ``strategies`` (``None``: :data:`STRATEGIES` as far as
    registered), the teachers' ``epsilons`` (each ``>= 0``), ``students`` students with seeds
    ``seed ..`` trained ``steps`` full-batch steps by ``optimizer`` with ``lr`` (the same for every
    strategy), ``switch_step`` for the strategies that have one (default ``steps // 3``), the
    tolerances of the demo (``success_tol`` on the final test loss, ``side_tol``, ``dead_tol``)."""

    problem: ProblemConfig = ProblemConfig()
    strategies: tuple[str, ...] | None = None
    epsilons: tuple[float, ...] = (0.0,)
    students: int = Field(64, ge=1)
    steps: int = Field(3000, ge=1)
    seed: int = Field(0, ge=0)
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    switch_step: int | None = Field(None, ge=0)
    success_tol: float = Field(1e-3, gt=0, allow_inf_nan=False)
    side_tol: float = Field(1e-3, ge=0, allow_inf_nan=False)
    dead_tol: float = Field(0.05, ge=0, allow_inf_nan=False)
    record_every: int = Field(25, ge=1)
    dtype: Literal["float32", "float64"] = "float32"
    workers: int | None = Field(None, ge=1)

    @field_validator("epsilons")
    @classmethod
    def _epsilons(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("give at least one epsilon")
        for e in value:
            if not math.isfinite(e) or e < 0:
                raise ValueError(f"epsilon={e} must be a finite number >= 0")
        return value

    @property
    def switch(self) -> int:
        return self.steps // 3 if self.switch_step is None else self.switch_step

    def train_config(self, name: str) -> TrainConfig:
        """The training config of strategy ``name`` (its defaults, and ``switch_step`` if it has one)."""
        options = {"switch_step": self.switch} if "switch_step" in strategy_fields(name) else {}
        return TrainConfig(
            strategy={"name": name, **options},
            optimizer={"name": self.optimizer, "lr": self.lr},
            n_models=self.students,
            first_seed=self.seed,
            steps=self.steps,
            record_every=self.record_every,
            success_tol=self.success_tol,
            dead_tol=self.dead_tol,
            dtype=self.dtype,
            workers=self.workers,
        )


def free_phase(config: TrainConfig) -> float:
    """Steps of free training of a relaxation (``steps - switch_step``, at least 0); NaN for a
    strategy without a switch."""
    switch = getattr(config.strategy, "switch_step", None)
    return float("nan") if switch is None else float(max(config.steps - switch, 0))


STANDARD_COLUMNS = frozenset(
    {"seed", "strategy", "parametrization", "optimizer", "lr", "train_loss", "test_loss", "success", "converged"}
    | {"diverged", "dead", "steps_taken", "output_rms", "dist_to_E", "equiv_error", "train_accuracy", "test_accuracy"}
)
"""The scalar columns every run's table has (:mod:`eqlandscape.train.results`); the others are the
strategy's own recorded quantities (``gamma_0``, ``lambda_0``, ``v_norm_0`` for ACE, ...)."""
TERM = "term:"


def student_frame(result: TrainResult, side_tol: float) -> pd.DataFrame:
    """One row per student and barrier: ``seed``, ``barrier`` (its equation), ``start_side``,
    ``end_side``, the final ``test_loss``, ``dist_to_E``, ``equiv_error``, ``success``, ``dead``, the
    final ``hidden_rep`` and ``relation``, and the strategy's own final quantities (the scalar columns
    of the run's table outside :data:`STANDARD_COLUMNS`) as ``term:<name>``."""
    t = result.table
    terms = {
        TERM + c: t[c].to_numpy(float)
        for c in t.columns
        if not c.endswith("_curve") and c not in STANDARD_COLUMNS and pd.api.types.is_numeric_dtype(t[c])
    }
    notes = annotate(result, side_tol=side_tol)
    barriers = [b.equations[0].text for b in analyze_barriers(result.ensemble.arch).barriers]
    frames = []
    for k, barrier in enumerate(barriers or ["none"]):
        frames.append(
            pd.DataFrame(
                {
                    "seed": t["seed"].to_numpy(),
                    "barrier": barrier,
                    "start_side": [s[k] if s else "none" for s in notes["sides_start"]],
                    "end_side": [s[k] if s else "none" for s in notes["sides_end"]],
                    "test_loss": t["test_loss"].to_numpy(),
                    "dist_to_E": t["dist_to_E"].to_numpy(),
                    "equiv_error": t["equiv_error"].to_numpy(),
                    "success": t["success"].to_numpy(bool),
                    "dead": t["dead"].to_numpy(bool),
                    "hidden_rep": notes["hidden_rep"].to_numpy(),
                    "relation": notes["relation"].to_numpy(),
                    **terms,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def summarize(students: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows per ``keys`` and start side (and ``all`` sides): ``students``, ``success``, ``dead``, the
    medians ``final_loss``, ``dist_to_E``, ``equiv_error``, the most common final ``hidden_rep`` of the
    live students with its share ``hidden_rep_share``, and the medians of the strategy's own
    quantities: ``final_loss_dropped`` (the test loss with the free part dropped; NaN for strategies
    without one) and the others as ``strategy_terms`` (``"name=value, ..."``)."""

    def one(rows: pd.DataFrame) -> pd.Series:
        live = rows[~rows["dead"]]
        reps = live["hidden_rep"].fillna("").astype(str).replace("", "none")
        top = reps.value_counts()
        terms = {
            c.removeprefix(TERM): rows[c].median() for c in rows.columns if c.startswith(TERM) and rows[c].notna().any()
        }
        dropped = terms.pop("test_loss_dropped", float("nan"))
        return pd.Series(
            {
                "students": len(rows),
                "success": rows["success"].mean(),
                "dead": rows["dead"].mean(),
                "final_loss": rows["test_loss"].median(),
                "dist_to_E": rows["dist_to_E"].median(),
                "equiv_error": rows["equiv_error"].median(),
                "hidden_rep": top.index[0] if len(top) else "",
                "hidden_rep_share": top.iloc[0] / len(rows) if len(top) else 0.0,
                "final_loss_dropped": dropped,
                "strategy_terms": ", ".join(f"{k}={v:.3g}" for k, v in terms.items()),
            }
        )

    by_side = students.groupby([*keys, "start_side"], sort=False).apply(one, include_groups=False)
    every = students.groupby(keys, sort=False).apply(one, include_groups=False)
    every = every.assign(start_side=ALL).set_index("start_side", append=True)
    out = pd.concat([by_side, every]).reset_index()
    order = {s: k for k, s in enumerate(["+", "-", "on", "dead", "none", ALL])}
    out["_order"] = out["start_side"].map(order)
    position = {tuple(v): k for k, v in enumerate(students[keys].drop_duplicates().to_numpy().tolist())}
    out["_group"] = [position[tuple(v)] for v in out[keys].to_numpy().tolist()]
    out = out.sort_values(["_group", "_order"], kind="stable").drop(columns=["_group", "_order"])
    return out.astype({"students": int}).reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class Comparison:
    """The result of :func:`compare`: its config, the strategies run and skipped, one row per student
    and barrier (``students``, with ``epsilon`` and ``strategy``), the train configs and timings, and
    the side of each barrier the teacher lies on per ``epsilon``."""

    config: CompareConfig
    strategies: tuple[str, ...]
    skipped: tuple[str, ...]
    students: pd.DataFrame
    train_configs: dict[str, TrainConfig]
    seconds: dict[str, float]
    teacher_sides: dict[float, list[str]]

    def table(self) -> pd.DataFrame:
        """One row per ``epsilon``, ``strategy``, ``barrier`` and ``start_side`` (and ``all``): the
        columns of :func:`summarize`, ``teacher_side`` and ``free_phase``."""
        rows = summarize(self.students, ["epsilon", "strategy", "barrier"])
        barriers = list(dict.fromkeys(self.students["barrier"]))
        rows["teacher_side"] = [
            self.teacher_sides[e][barriers.index(b)] if self.teacher_sides[e] else "none"
            for e, b in zip(rows["epsilon"], rows["barrier"], strict=True)
        ]
        rows["free_phase"] = [free_phase(self.train_configs[s]) for s in rows["strategy"]]
        return rows

    def summary(self) -> dict[str, Any]:
        """Config, version, seeds, the strategies run and skipped, their train configs, timings and rows."""
        return {
            "compare_config": self.config.model_dump(mode="json"),
            "version": __version__,
            "seeds": [self.config.seed, self.config.seed + self.config.students - 1],
            "strategies": list(self.strategies),
            "skipped": list(self.skipped),
            "train_configs": {k: v.model_dump(mode="json") for k, v in self.train_configs.items()},
            "seconds": self.seconds,
            "teacher_sides": {str(k): v for k, v in self.teacher_sides.items()},
            "rows": json.loads(self.table().to_json(orient="records")),
        }


def compare(
    config: CompareConfig,
    progress: Callable[[str, float], None] | None = None,
    on_step: Callable[[str, TrainProgress], None] | None = None,
) -> Comparison:
    """Train every strategy on every teacher of ``config`` (see the module docstring);
    ``progress(label, seconds)`` after each run, ``on_step(label, progress)`` while one trains."""
    names, skipped = resolve_strategies(config.strategies)
    train_configs = {name: config.train_config(name) for name in names}
    frames, seconds, sides = [], {}, {}
    for epsilon in config.epsilons:
        task = config.problem.task(epsilon)
        sides[epsilon] = teacher_sides(task.teacher, config.side_tol)
        for name, train_config in train_configs.items():
            label = f"{name} (epsilon {epsilon:g})"
            start = time.perf_counter()
            report = None if on_step is None else (lambda p, label=label: on_step(label, p))
            result = train(task, train_config, progress=report)
            frames.append(student_frame(result, config.side_tol).assign(epsilon=epsilon, strategy=name))
            seconds[label] = time.perf_counter() - start
            if progress is not None:
                progress(label, seconds[label])
    students = pd.concat(frames, ignore_index=True)
    return Comparison(config, names, skipped, students, train_configs, seconds, sides)


# ---------------------------------------------------------------------- the escape study
SWITCH_TOKENS = ("symmetrize", "noise", "adam", "restart", "keep", "warmup")
"""A variant of the escape study is ``sample`` (the finite sample alone, SGD) or ``+``-joined tokens:
``symmetrize`` (train set closed under ``G``), ``noise`` (label noise), ``adam`` (Adam instead of
SGD), ``restart`` / ``keep`` / ``warmup`` (the relaxed strategy's ``optimizer_state``, where it has
that option)."""


def default_variants() -> tuple[str, ...]:
    """Each source of symmetry breaking alone: ``symmetrize`` (none), ``sample`` (the finite sample),
    ``symmetrize+noise`` (label noise), ``symmetrize+adam`` (Adam's restart); then ``adam`` (the sample
    and Adam) and, where the relaxed strategy has ``optimizer_state``, ``adam+keep`` and
    ``adam+warmup``."""
    base = ("symmetrize", "sample", "symmetrize+noise", "symmetrize+adam", "adam")
    if "optimizer_state" in strategy_fields("relaxed"):
        return (*base, "adam+keep", "adam+warmup")
    return base


def parse_variant(variant: str) -> dict[str, Any]:
    """The switches of a variant: ``symmetrize`` (bool), ``noise`` (bool), ``optimizer``
    (``sgd``/``adam``) and ``optimizer_state`` (``None`` for the strategy's default)."""
    tokens = [] if variant == "sample" else [t.strip() for t in variant.split("+")]
    unknown = [t for t in tokens if t not in SWITCH_TOKENS]
    if unknown or not variant:
        raise ConfigError(
            f"unknown escape-study switch {unknown[0] if unknown else variant!r} in variant {variant!r}; "
            f"expected sample or {'+'.join(SWITCH_TOKENS)} tokens"
        )
    states = [t for t in tokens if t in ("restart", "keep", "warmup")]
    if len(states) > 1:
        raise ConfigError(f"variant {variant!r} names more than one optimizer state")
    if states and "optimizer_state" not in strategy_fields("relaxed"):
        raise ConfigError(f"variant {variant!r}: the relaxed strategy has no optimizer_state option")
    return {
        "symmetrize": "symmetrize" in tokens,
        "noise": "noise" in tokens,
        "optimizer": "adam" if "adam" in tokens else "sgd",
        "optimizer_state": states[0] if states else None,
    }


class EscapeConfig(Config):
    """The escape study: relaxed students (``parametrization`` ``orthonormal``, constrained for
    ``switch_step`` steps, then free) of the ``problem`` that start on the wrong side of its first
    barrier: the first ``students`` such seeds from ``seed`` on. Grid: ``n_trains`` x ``data_seeds`` x
    ``variants`` (see :data:`SWITCH_TOKENS`); success read after each of ``free_steps`` free steps.
    ``n_train`` is the size of the train set the students see: a ``symmetrize`` variant draws
    ``ceil(n_train / |G|)`` points and closes them under ``G`` (``|G| ceil(n_train / |G|)`` samples), so
    that every variant trains on as many samples at about the same cost.
    SGD uses ``sgd_lr``, Adam ``adam_lr``; ``label_noise`` is the standard deviation of the ``noise``
    switch."""

    problem: ProblemConfig = ProblemConfig()
    students: int = Field(12, ge=1)
    seed: int = Field(0, ge=0)
    switch_step: int = Field(1000, ge=0)
    free_steps: tuple[int, ...] = (1000, 2000, 4000, 8000, 16000)
    n_trains: tuple[int, ...] = (64, 512, 4096)
    data_seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] | None = None
    sgd_lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    adam_lr: float = Field(0.01, gt=0, allow_inf_nan=False)
    label_noise: float = Field(0.05, ge=0, allow_inf_nan=False)
    success_tol: float = Field(1e-3, gt=0, allow_inf_nan=False)
    side_tol: float = Field(1e-3, ge=0, allow_inf_nan=False)
    dead_tol: float = Field(0.05, ge=0, allow_inf_nan=False)
    dtype: Literal["float32", "float64"] = "float32"
    workers: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _grid(self) -> EscapeConfig:
        for name in ("free_steps", "n_trains", "data_seeds"):
            values = getattr(self, name)
            least = 0 if name == "data_seeds" else 1
            if not values or any(v < least for v in values):
                raise ValueError(f"{name}={list(values)} must be a non-empty list of integers >= {least}")
        if self.problem.symmetrize or self.problem.label_noise:
            raise ValueError("the switches of the escape study are its variants, not problem options")
        for v in self.variants or ():
            parse_variant(v)
        return self

    @property
    def variant_names(self) -> tuple[str, ...]:
        return default_variants() if self.variants is None else self.variants


def wrong_side_seeds(config: EscapeConfig, arch: MLPArchitecture, teacher_side: str) -> tuple[np.ndarray, list]:
    """The first ``config.students`` seeds from ``config.seed`` on whose initial weights (the trainer's
    equivariant initialization) lie strictly on the side of the first barrier opposite the teacher's
    (``+`` vs ``-``), and their initial tensors (flat order, ``(K, *shape)``)."""
    analysis = analyze_barriers(arch)
    if not analysis.barriers or teacher_side not in ("+", "-"):
        raise ConfigError(
            f"the escape study needs a barrier with the teacher strictly on one side, got {teacher_side!r}"
        )
    wrong = "-" if teacher_side == "+" else "+"
    found: list[int] = []
    start = config.seed
    while len(found) < config.students:
        batch = np.arange(start, start + 4 * config.students, dtype=np.int64)
        sides = analysis.sides(arch.init_full(batch), config.side_tol)[:, 0]
        found.extend(int(s) for s in batch[sides == wrong])
        start += batch.size
        if start - config.seed > 1000 * config.students:
            raise ConfigError(f"no seeds start on side {wrong} of the barrier")
    seeds = np.array(found[: config.students], dtype=np.int64)
    return seeds, arch.init_full(seeds)


def escape_study(
    config: EscapeConfig,
    progress: Callable[[str, float], None] | None = None,
    on_step: Callable[[str, TrainProgress], None] | None = None,
) -> dict[str, Any]:
    """Run the grid of :class:`EscapeConfig`; return ``{"rows": DataFrame, "summary": dict}``: one row
    per variant, ``n_train``, ``data_seed`` and ``free_steps`` with ``samples`` (the train set's actual
    size), ``students``, ``success``, ``dead``
    and ``ended_on_teacher_side`` (the share whose final weights lie on the teacher's side), and the
    switches (``symmetrize``, ``label_noise``, ``optimizer``, ``lr``, ``optimizer_state``)."""
    variants = {v: parse_variant(v) for v in config.variant_names}
    base = config.problem.task(0.0, n_train=1)
    analysis = analyze_barriers(base.arch)
    teacher_side = next(iter(teacher_sides(base.teacher, config.side_tol, analysis)), "none")
    seeds, initial = wrong_side_seeds(config, base.arch, teacher_side)
    order = base.rep_in.group.order
    last = max(config.free_steps)
    total = config.switch_step + last
    record = math.gcd(config.switch_step, *config.free_steps) or last
    rows, seconds, train_configs = [], {}, {}
    for variant, switches in variants.items():
        strategy: dict[str, Any] = {
            "name": "relaxed",
            "parametrization": "orthonormal",
            "switch_step": config.switch_step,
        }
        if switches["optimizer_state"] is not None:
            strategy["optimizer_state"] = switches["optimizer_state"]
        lr = config.adam_lr if switches["optimizer"] == "adam" else config.sgd_lr
        train_config = TrainConfig(
            strategy=strategy,
            optimizer={"name": switches["optimizer"], "lr": lr},
            n_models=len(seeds),
            steps=total,
            record_every=record,
            success_tol=config.success_tol,
            dead_tol=config.dead_tol,
            dtype=config.dtype,
            workers=config.workers,
        )
        train_configs[variant] = train_config
        noise = config.label_noise if switches["noise"] else 0.0
        problem = config.problem.model_copy(update={"symmetrize": switches["symmetrize"], "label_noise": noise})
        for n_train in config.n_trains:
            for data_seed in config.data_seeds:
                drawn = -(-n_train // order) if switches["symmetrize"] else n_train
                task = problem.task(0.0, n_train=drawn, data_seed=data_seed)
                label = f"{variant}, n_train {n_train}, data seed {data_seed}"
                start = time.perf_counter()
                report = None if on_step is None else (lambda p, label=label: on_step(label, p))
                result = train(task, train_config, initial=initial, progress=report)
                seconds[label] = time.perf_counter() - start
                end = analysis.sides(
                    base.arch.join(result.final_weights, result.final_biases), config.side_tol, result.table["dead"]
                )[:, 0]
                loss = result.curves("test_loss")
                dead = result.table["dead"].to_numpy(bool)
                for free in config.free_steps:
                    column = int(np.flatnonzero(result.record_steps == config.switch_step + free)[0])
                    rows.append(
                        {
                            "variant": variant,
                            "symmetrize": switches["symmetrize"],
                            "label_noise": noise,
                            "optimizer": switches["optimizer"],
                            "lr": lr,
                            "optimizer_state": switches["optimizer_state"] or "",
                            "n_train": n_train,
                            "samples": int(task.x_train.shape[0]),
                            "data_seed": data_seed,
                            "free_steps": free,
                            "students": len(seeds),
                            "success": float(
                                np.mean(
                                    ~result.table["diverged"].to_numpy(bool) & (loss[:, column] <= config.success_tol)
                                )
                            ),
                            "dead": float(dead.mean()) if free == last else float("nan"),
                            "ended_on_teacher_side": float(np.mean(end == teacher_side))
                            if free == last
                            else float("nan"),
                        }
                    )
                if progress is not None:
                    progress(label, seconds[label])
    table = pd.DataFrame(rows)
    summary = {
        "escape_config": config.model_dump(mode="json"),
        "version": __version__,
        "seeds": seeds.tolist(),
        "teacher_side": teacher_side,
        "barrier": analysis.barriers[0].equations[0].text,
        "variants": variants,
        "train_configs": {k: v.model_dump(mode="json") for k, v in train_configs.items()},
        "seconds": seconds,
        "rows": json.loads(table.to_json(orient="records")),
    }
    return {"rows": table, "summary": summary}
