"""Ensemble training speed and memory on the demo problem (issue 3; docs/design.md section 6).

Demo problem: ``S3``, ``natural -> natural -> trivial``, ReLU, no biases, teacher
``W_0 = I - 0.2 (J - I)``, output weights 1, 512 training samples, full batch, Adam (lr 0.01),
float32. Measured in one run, as time per student-step:

(a) the usual way: one ``torch.nn.Module`` (``Linear(3, 3) -> ReLU -> Linear(3, 1)``, no biases) at a
    time, ``torch.optim.Adam``, ``mse_loss(...).backward()``;
(b) PyTorch's ensembling recipe: ``torch.func.stack_module_state`` + ``vmap(grad_and_value(...))`` over
    the stacked parameters, ``torch.optim.Adam`` on them;
(c) ``eqlandscape.train.train`` (free students, the model of (a) and (b); and constrained
    ``orthonormal`` students).

Then (d) the time per student-step of (c) for ``K = 128`` students (the size of ``eqlandscape demo
--students 128``) on a quiet machine and under a background load the benchmark starts itself: two
busy processes, as many as this machine has cores (target: at most 2x slower); and (e) the peak
resident memory (``ru_maxrss``) of a fresh process that trains ``K = 100,000`` students for 200 steps on
the demo problem with (c) (target: under 3 GiB); (f) the time per student-step of every registered
strategy (:func:`eqlandscape.train.strategy_names`, defaults) relative to ``constrained``, measured
in the same run, each the best of five rounds (target: a strategy with per-model state, ``ace``,
``ace-resilient``, ``rpp``, ``scheduled``, adds at most 30%). Prints the ratios; asserts nothing.

    python benchmarks/bench_ensemble.py                    # about six minutes on 2 cores
    python benchmarks/bench_ensemble.py --quick            # fewer steps, a smoke run
    python benchmarks/bench_ensemble.py --strategies-only  # (f) alone
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import time

import torch
from torch.func import functional_call, grad_and_value, stack_module_state

from eqlandscape.tasks import demo_task
from eqlandscape.train import TrainConfig, strategy_names, train

LR = 0.01


def _module() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 3, bias=False), torch.nn.ReLU(), torch.nn.Linear(3, 1, bias=False))


def loop_of_modules(x: torch.Tensor, y: torch.Tensor, students: int, steps: int) -> float:
    """(a): seconds per student-step."""
    start = time.perf_counter()
    for seed in range(students):
        torch.manual_seed(seed)
        model = _module()
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    return (time.perf_counter() - start) / (students * steps)


def vmap_recipe(x: torch.Tensor, y: torch.Tensor, students: int, steps: int) -> float:
    """(b): seconds per student-step (after one warm-up step)."""
    torch.manual_seed(0)
    params, buffers = stack_module_state([_module() for _ in range(students)])
    base = _module().to("meta")

    def loss(p: dict, b: dict, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(functional_call(base, (p, b), (xb,)), yb)

    step = torch.vmap(grad_and_value(loss), in_dims=(0, 0, None, None))
    opt = torch.optim.Adam(list(params.values()), lr=LR)

    def one_step() -> None:
        grads, _ = step(params, buffers, x, y)
        for name, p in params.items():
            p.grad = grads[name]
        opt.step()

    one_step()
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    return (time.perf_counter() - start) / (students * steps)


def _config(strategy: str, students: int, steps: int) -> TrainConfig:
    return TrainConfig(
        strategy=strategy, optimizer={"name": "adam", "lr": LR}, n_models=students, steps=steps, record_every=100
    )


def ensemble_trainer(task, strategy: str, students: int, steps: int) -> float:
    """(c): seconds per student-step of ``train`` (everything included: setup, records, results)."""
    start = time.perf_counter()
    train(task, _config(strategy, students, steps))
    return (time.perf_counter() - start) / (students * steps)


def strategies(task, students: int, steps: int) -> None:
    """(f): every strategy's time per student-step against ``constrained``, the best of five rounds
    (each round runs every strategy once, so that a change of the machine's load hits all alike)."""
    names = strategy_names()
    best = dict.fromkeys(names, math.inf)
    for _ in range(5):
        for name in names:
            best[name] = min(best[name], ensemble_trainer(task, name, students, steps))
    base = best["constrained"]
    print(f"\n(f) every strategy, K={students}, {steps} steps, relative to constrained ({base * 1e6:.2f} us):")
    for name in names:
        print(f"    {name:14s} {best[name] * 1e6:8.2f} us  {best[name] / base:5.2f}x")


def memory_child(students: int, steps: int) -> None:
    """Run in a fresh process: train ``students`` on the demo problem, print the peak RSS in bytes."""
    task = demo_task()
    start = time.perf_counter()
    result = train(task, _config("constrained", students, steps))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(peak, seconds, float(result.table.success.mean()))


def _best_of_thread_settings(run, *args) -> tuple[float, int]:
    """Time ``run`` with PyTorch's default intra-op threads and with one thread; return the faster
    (seconds per student-step, threads). On a busy 2-core machine two OpenMP threads can be many
    times slower than one; the baselines get the better setting."""
    default = torch.get_num_threads()
    timings = {}
    for threads in sorted({default, 1}):
        torch.set_num_threads(threads)
        timings[threads] = run(*args)
    torch.set_num_threads(default)
    threads = min(timings, key=timings.get)
    return timings[threads], threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer students and steps")
    parser.add_argument("--strategies-only", action="store_true", help="only (f), every strategy against constrained")
    parser.add_argument("--memory-child", nargs=2, type=int, metavar=("K", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    quick = args.quick
    task = demo_task()
    strategy_students, strategy_steps = (256, 300) if quick else (512, 1000)
    if args.strategies_only:
        strategies(task, strategy_students, strategy_steps)
        return
    x, y = task.x_train.float(), task.y_train.float()
    print(f"demo problem: {task.arch}; {x.shape[0]} samples, full batch, Adam lr {LR}, float32")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads by default")
    print("time per student-step:")

    a_students, a_steps = (1, 300) if quick else (2, 3000)
    b_students, b_steps = (1000, 20) if quick else (1000, 200)
    c_students, c_steps = (512, 300) if quick else (512, 3000)
    memory_students, memory_steps = (10_000, 30) if quick else (100_000, 200)
    load_students, load_steps = (128, 200) if quick else (128, 1000)

    t_a, threads_a = _best_of_thread_settings(loop_of_modules, x, y, a_students, a_steps)
    print(f"(a) loop of nn.Module + Adam, {a_students} x {a_steps} steps ({threads_a} thread): {t_a * 1e6:10.1f} us")
    t_b, threads_b = _best_of_thread_settings(vmap_recipe, x, y, b_students, b_steps)
    print(f"(b) stack_module_state + vmap, K={b_students}, {b_steps} steps ({threads_b} thread): {t_b * 1e6:8.2f} us")
    t_free = ensemble_trainer(task, "free", c_students, c_steps)
    print(f"(c) eqlandscape train, free, K={c_students}, {c_steps} steps: {t_free * 1e6:22.2f} us")
    t_eq = ensemble_trainer(task, "constrained", c_students, c_steps)
    print(f"(c) eqlandscape train, orthonormal, K={c_students}, {c_steps} steps: {t_eq * 1e6:15.2f} us")
    print(f"\nspeed-up of (c) free over (a): {t_a / t_free:7.0f}x   (target: at least 100x)")
    print(f"speed-up of (c) free over (b): {t_b / t_free:7.1f}x")
    print(f"speed-up of (c) orthonormal over (a): {t_a / t_eq:7.0f}x, over (b): {t_b / t_eq:5.1f}x")

    quiet = ensemble_trainer(task, "constrained", load_students, load_steps)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.5)
        loaded = ensemble_trainer(task, "constrained", load_students, load_steps)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(
        f"\n(d) orthonormal, K={load_students}, {load_steps} steps: quiet {quiet * 1e6:.2f} us, under two busy "
        f"processes {loaded * 1e6:.2f} us: slowdown {loaded / quiet:.2f}x (target: at most 2x)"
    )

    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(memory_students), str(memory_steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, seconds, success = child.stdout.split()
    per_step = float(seconds) / (memory_students * memory_steps)
    print(
        f"(e) K={memory_students} students, {memory_steps} steps, fresh process: peak RSS {int(peak) / 2**30:.2f} GiB "
        f"(target: under 3 GiB); {float(seconds):.1f} s, {per_step * 1e6:.2f} us/student-step, "
        f"success {float(success):.0%}"
    )
    strategies(task, strategy_students, strategy_steps)


if __name__ == "__main__":
    main()
