"""Large symmetric groups: the ``natural^2 -> natural^2`` basis of ``S_n`` without listing the group.

For ``S_n``, ``n = 6, 8, 10, 20, 50`` (``--sizes``), each side runs in a fresh process per size, which
reports its own wall time from building the group to the basis (imports not included) and its peak
resident memory (``ru_maxrss``) minus the same after its imports:

* **ours**: ``G = group_from_name(f"S{n}")``, ``V = natural(G)``,
  ``equivariant_basis(V**2, V**2, cache=False)``: union-find over the generators' images of the
  ``N = n^4`` index pairs, never listing the ``n!`` elements;
* **enumerating** (today's path for groups within the enumeration limit, written here): the
  permutation of every element on ``V**2`` (``(V**2).perms``, which needs the group's elements and its
  ``|G| x |G|`` multiplication table), from it every element's permutation of the index pairs
  ``(i_out, i_in)``, and the orbits by union-find over all of them (``orbit_labels(images, N)``). Within
  ``ENUMERATION_LIMIT`` (10,000 elements: ``S6``, ``S7``) it runs as is; above it, up to
  ``--enum-max-order`` elements (``S8``), the child raises the limit with ``set_enumeration_limit`` and
  is capped at ``--mem-limit-mb`` of address space and ``--timeout`` seconds, so the row says "out of
  memory" or "timeout" instead of crashing; larger groups are not attempted. Where it finishes, its
  orbit labels are compared with ours (they must be identical, both numbered by first occurrence);
* **EMLP** (a peer library, not a dependency): ``S(n)``, ``V(G)**2 >> V(G)**2``,
  ``equivariant_basis()``, the first call in a fresh process (so JAX compilation is included), with
  ``JAX_PLATFORMS=cpu``. It runs under ``--emlp-python`` (default: this interpreter) if ``emlp`` and
  ``jax`` import there; otherwise its columns say "n/a". A child over ``--timeout`` seconds or
  ``--mem-limit-mb`` of RSS is stopped, and EMLP is not run for larger ``n`` after that. (Its Krylov
  solver's tqdm progress bar is disabled: with current tqdm and NumPy it raises a TypeError.)

Ours and the enumerating path give the median time of ``--repeats`` fresh processes and the largest
memory; EMLP one process. Also printed: the dimension (15, the Bell number ``B(4)``, for ``n >= 4``)
and the issue's targets: the ``S50`` basis in under 2 s and 500 MB, and the group facts of ``S10``
(``group_from_name("S10").order``, in a fresh process after its imports) in under 0.1 s.

A second table, for ``n = 10, 20, 50, 100`` (``--chain-sizes``), fresh processes again: the stabilizer
chain of ``S_n`` (ours, :mod:`eqlandscape.groups.chain`: randomized Schreier-Sims with the catalog's
order) against sympy's deterministic ``schreier_sims()`` on the same generators (the baseline, stopped
at ``--timeout``), 1000 membership tests against ``A_n``'s chain, and
``random_elements([natural^2, natural], 30 seeds, stream, 8)`` (first call, which builds the chain of
the graph group on ``n + n^2`` points, and a second call: the draws alone); then the ``S100`` target:
its order, chain, the coset rep ``S100/S99``, the ``natural^2 -> natural`` and ``natural^2 -> trivial``
bases and 240 random elements in one process, under 15 s (``natural^2 -> natural^2`` of ``S100``, 10^8
index pairs, is refused by ``PAIR_LIMIT``). Asserts nothing.

    python benchmarks/bench_large_groups.py               # about 2 minutes without EMLP (sympy's S100 chain: 60 s)
    python benchmarks/bench_large_groups.py --quick       # n = 6, 8, 10, 20
    python benchmarks/bench_large_groups.py --emlp-python /tmp/emlpvenv/bin/python   # with EMLP
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

DEFAULT_SIZES = (6, 8, 10, 20, 50)
QUICK_SIZES = (6, 8, 10, 20)
EXPECTED_DIM = 15  # natural^2 -> natural^2 of S_n, n >= 4: the Bell number B(4)
TARGET_N, TARGET_SECONDS, TARGET_MB = 50, 2.0, 500.0
FACTS_N, FACTS_SECONDS = 10, 0.1
CHAIN_SIZES = (10, 20, 50, 100)
S100_N, S100_SECONDS = 100, 15.0
RESULT = "RESULT "  # prefix of a child's JSON line on stdout


# ---------------------------------------------------------------------- children (fresh processes)
def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def child_ours(n: int) -> dict:
    from eqlandscape.equivariant import equivariant_basis
    from eqlandscape.groups import group_from_name
    from eqlandscape.reps import natural

    base = peak_mb()
    start = time.perf_counter()
    G = group_from_name(f"S{n}")
    V = natural(G)
    basis = equivariant_basis(V**2, V**2, cache=False)
    seconds = time.perf_counter() - start
    return {"time": seconds, "base_mb": base, "peak_mb": peak_mb(), "dim": basis.dim, "order": G.order}


def child_enumerating(n: int) -> dict:
    """Today's enumerating path: every element's permutation of the index pairs, union-find over all."""
    import numpy as np

    from eqlandscape.equivariant import equivariant_basis
    from eqlandscape.groups import group_from_name, orbit_labels, perm_group, set_enumeration_limit
    from eqlandscape.reps import natural
    from eqlandscape.reps.constructors import tensor_perms

    base = peak_mb()
    start = time.perf_counter()
    G = group_from_name(f"S{n}")
    raised = G.order > perm_group.ENUMERATION_LIMIT
    if raised:
        set_enumeration_limit(G.order)
    V2 = natural(G) ** 2
    P = V2.perms.astype(np.int32)  # (|G|, n^2): every element's permutation of V**2 (elements + table)
    m = P.shape[1]
    # W[i, j] is pair i * m + j; element g sends it to P[g, i] * m + P[g, j]: (|G|, m^2) images
    images = tensor_perms(P, P)
    dim, labels = orbit_labels(images, m * m)
    seconds = time.perf_counter() - start
    peak = peak_mb()
    del images, P
    ours = equivariant_basis(V2, V2, cache=False).orbit_index.reshape(-1)
    agree = bool(np.array_equal(ours, labels))
    return {"time": seconds, "base_mb": base, "peak_mb": peak, "dim": dim, "agree": agree, "raised": raised}


def child_emlp(n: int) -> dict:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from functools import partial

    import emlp.reps.representation as emlp_representation
    import jax  # noqa: F401  (imported before the baseline)
    from emlp.groups import S
    from emlp.reps import V

    # EMLP's Krylov solver (reps too large for its dense SVD, here n >= 8) updates a tqdm progress bar by
    # numpy float32 amounts, which current tqdm cannot format (TypeError); the bar is only display
    emlp_representation.tqdm = partial(emlp_representation.tqdm, disable=True)

    base = peak_mb()
    start = time.perf_counter()
    G = S(n)
    Q = (V(G) ** 2 >> V(G) ** 2).equivariant_basis()
    shape = tuple(Q.shape)  # forces the (possibly lazy) result
    seconds = time.perf_counter() - start
    return {"time": seconds, "base_mb": base, "peak_mb": peak_mb(), "dim": int(shape[-1])}


def child_facts(n: int) -> dict:
    start = time.perf_counter()
    from eqlandscape.groups import group_from_name

    imported = time.perf_counter()
    order = group_from_name(f"S{n}").order
    done = time.perf_counter()
    return {"import": imported - start, "time": done - imported, "order": order}


def child_chain(n: int) -> dict:
    """Ours: the stabilizer chain of ``S_n`` (randomized Schreier-Sims with the catalog's order), then
    1000 membership tests of random permutations of ``A_n``'s chain (half of them are members)."""
    import numpy as np
    import numpy.random  # NumPy loads it lazily: imported before the baseline, as sympy is

    from eqlandscape.groups import group_from_name
    from eqlandscape.groups.chain import StabilizerChain  # noqa: F401  (imported before the baseline)

    base = peak_mb()
    start = time.perf_counter()
    chain = group_from_name(f"S{n}").chain
    seconds = time.perf_counter() - start
    A = group_from_name(f"A{n}")
    _ = A.chain
    perms = np.stack([np.random.default_rng(k).permutation(n) for k in range(1000)])
    start = time.perf_counter()
    members = int(A.contains(perms).sum())
    membership = time.perf_counter() - start
    levels = len(chain.orbits)
    return {
        "time": seconds,
        "membership": membership,
        "members": members,
        "levels": levels,
        "dim": None,
        "base_mb": base,
        "peak_mb": peak_mb(),
    }


def child_sympy_chain(n: int) -> dict:
    """Baseline: sympy's deterministic Schreier-Sims of ``S_n`` from the same two generators."""
    from sympy.combinatorics import Permutation, PermutationGroup

    from eqlandscape.groups import group_from_name

    gens = [Permutation(g.tolist()) for g in group_from_name(f"S{n}").generator_perms]
    base = peak_mb()
    start = time.perf_counter()
    group = PermutationGroup(gens)
    group.schreier_sims()
    seconds = time.perf_counter() - start
    return {
        "time": seconds,
        "order_ok": int(group.order()) == math.factorial(n),
        "dim": None,
        "base_mb": base,
        "peak_mb": peak_mb(),
    }


def child_sample(n: int) -> dict:
    """``random_elements([natural^2, natural], seeds (30,), stream, 8)`` of ``S_n``: the first call
    (which builds the chain of the graph group) and a second one (the draws alone)."""
    import numpy as np

    from eqlandscape.groups import group_from_name
    from eqlandscape.nn import rng  # noqa: F401  (torch and the streams imported before the baseline)
    from eqlandscape.reps import natural, random_elements

    G = group_from_name(f"S{n}")
    V = natural(G)
    reps = [V**2, V]
    base = peak_mb()
    start = time.perf_counter()
    random_elements(reps, np.arange(30), "augment/0", 8)
    first = time.perf_counter() - start
    start = time.perf_counter()
    p2, p = random_elements(reps, np.arange(30), "augment/1", 8)
    seconds = time.perf_counter() - start
    ok = bool(np.array_equal(p2, (p[..., :, None] * n + p[..., None, :]).reshape(30, 8, n * n)))
    return {"time": seconds, "first": first, "homomorphic": ok, "dim": None, "base_mb": base, "peak_mb": peak_mb()}


def child_s100(n: int) -> dict:
    """Everything at ``S_n`` (``n = 100``) that needs no index pairs beyond the guard: the order, the
    stabilizer chain, the coset rep ``S_n/S_{n-1}``, the bases ``natural^2 -> natural`` and ``natural^2 ->
    trivial``, and 240 random elements on ``natural^2 + natural``; one wall time."""
    import numpy as np

    from eqlandscape.equivariant import equivariant_basis
    from eqlandscape.groups import group_from_name
    from eqlandscape.nn import rng  # noqa: F401
    from eqlandscape.reps import natural, parse_rep, random_elements, trivial

    base = peak_mb()
    start = time.perf_counter()
    G = group_from_name(f"S{n}")
    order_ok = G.order == math.factorial(n)
    _ = G.chain
    cosets = parse_rep(G, f"S{n}/S{n - 1}")
    V = natural(G)
    dims = [equivariant_basis(V**2, V, cache=False).dim, equivariant_basis(V**2, trivial(G), cache=False).dim]
    p2, p = random_elements([V**2, V], np.arange(30), "augment/0", 8)
    seconds = time.perf_counter() - start
    homomorphic = bool(np.array_equal(p2, (p[..., :, None] * n + p[..., None, :]).reshape(30, 8, n * n)))
    return {
        "time": seconds,
        "order_ok": order_ok and homomorphic,
        "cosets": cosets.size,
        "dims": dims,
        "dim": None,
        "base_mb": base,
        "peak_mb": peak_mb(),
    }


CHILDREN = {
    "ours": child_ours,
    "enumerating": child_enumerating,
    "emlp": child_emlp,
    "facts": child_facts,
    "chain": child_chain,
    "sympy_chain": child_sympy_chain,
    "sample": child_sample,
    "s100": child_s100,
}


def run_as_child(kind: str, n: int, as_limit_mb: int) -> None:
    """Entry point of a child: compute, print one JSON line; MemoryError is reported, not raised."""
    if as_limit_mb > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = as_limit_mb * 2**20
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        result = {"status": "ok", **CHILDREN[kind](n)}
    except MemoryError as err:
        result = {"status": "out of memory", "error": f"MemoryError: {err}", "peak_mb": peak_mb()}
    except Exception as err:  # reported in the table, not raised: the benchmark goes on
        result = {"status": "error", "error": f"{type(err).__name__}: {err}"}
    print(RESULT + json.dumps(result, default=str), flush=True)


# ---------------------------------------------------------------------- parent
def rss_of(pid: int) -> float:
    """Current resident memory of process ``pid`` in MB (0 where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return 0.0


def run_child(python: str, kind: str, n: int, timeout: float, mem_mb: int, address_limit: bool) -> dict:
    """Run ``kind`` for ``S_n`` in a fresh process; stop it past ``timeout`` seconds or ``mem_mb`` of RSS.
    With ``address_limit`` the child also caps its own address space at ``mem_mb`` (so a large
    allocation fails at once with MemoryError); JAX reserves far more address space than it uses, so
    EMLP's children are watched by RSS only."""
    cmd = [
        python,
        os.path.abspath(__file__),
        "--child",
        kind,
        str(n),
        "--as-limit",
        str(mem_mb if address_limit else 0),
    ]
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        stopped, top = None, 0.0
        while proc.poll() is None:
            top = max(top, rss_of(proc.pid))
            if time.perf_counter() - start > timeout:
                stopped = "timeout"
            elif top > mem_mb:
                stopped = "out of memory"
            if stopped:
                proc.kill()
                proc.wait()
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith(RESULT)]
        stderr = err.read().strip().splitlines()
    if stopped == "timeout":
        return {"status": "timeout", "error": f"stopped after {timeout:g} s", "wall": wall}
    if stopped:
        return {"status": stopped, "error": f"stopped at {top:.0f} MB RSS (limit {mem_mb} MB)", "wall": wall}
    if not lines:
        why = stderr[-1] if stderr else f"exit status {proc.returncode}"
        status = "out of memory" if proc.returncode == -9 else "error"  # SIGKILL: most likely the OOM killer
        return {"status": status, "error": why, "wall": wall}
    return {**json.loads(lines[-1][len(RESULT) :]), "wall": wall}


@dataclass
class Side:
    """One side (ours, enumerating, EMLP) at one ``n``: the runs' results combined."""

    status: str
    time: float = math.nan
    mem: float = math.nan  # peak minus the baseline after imports, MB
    base: float = math.nan
    dim: int | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def measure(python: str, kind: str, n: int, repeats: int, timeout: float, mem_mb: int, address_limit: bool) -> Side:
    """``repeats`` fresh processes (one if the first does not finish): median time, largest memory."""
    runs = []
    for _ in range(repeats):
        r = run_child(python, kind, n, timeout, mem_mb, address_limit)
        if r["status"] != "ok":
            return Side(r["status"], note=r.get("error", ""))
        runs.append(r)
    return Side(
        "ok",
        time=statistics.median(r["time"] for r in runs),
        mem=max(r["peak_mb"] - r["base_mb"] for r in runs),
        base=statistics.median(r["base_mb"] for r in runs),
        dim=runs[0]["dim"],
        extra=runs[0],
    )


def fmt_time(t: float) -> str:
    if math.isnan(t):
        return "-"
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def fmt_mem(mb: float) -> str:
    return "-" if math.isnan(mb) else f"+{mb:.1f} MB" if mb < 10 else f"+{mb:.0f} MB"


def fmt_order(order: int) -> str:
    return f"{order:,}" if order < 10**9 else f"{float(order):.3g}"


SHORT = {"out of memory": "OOM", "timeout": "timeout", "error": "error", "not run": "not run", "n/a": "n/a"}


def cell(side: Side) -> tuple[str, str]:
    return (fmt_time(side.time), fmt_mem(side.mem)) if side.ok else (SHORT.get(side.status, side.status), "")


def ratio(other: Side, ours: Side) -> str:
    if not (other.ok and ours.ok and ours.time > 0):
        return "-"
    r = other.time / ours.time
    return f"{r:.0f}x" if r >= 10 else f"{r:.2g}x"


def emlp_available(python: str) -> tuple[bool, str]:
    """Whether ``emlp`` and ``jax`` import under ``python``, and the versions or the reason why not."""
    code = "import jax, emlp; print(jax.__version__, getattr(emlp, '__version__', '?'))"
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"{python}: {err}"
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        return False, lines[-1] if lines else f"exit status {r.returncode}"
    jax_version, emlp_version = r.stdout.split()
    return True, f"emlp {emlp_version}, jax {jax_version} ({python})"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="the n of S_n (default 6 8 10 20 50)")
    parser.add_argument("--quick", action="store_true", help="n = 6, 8, 10, 20")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per timing of ours (default 3)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a child is stopped (default 60)")
    parser.add_argument("--mem-limit-mb", type=int, default=4096, help="memory of a child (default 4096 MB)")
    parser.add_argument(
        "--enum-max-order",
        type=int,
        default=100_000,
        help="largest group the enumerating path is attempted on (default 100000: up to S8)",
    )
    parser.add_argument("--emlp-python", default=sys.executable, help="interpreter with emlp (default: this one)")
    parser.add_argument("--no-emlp", action="store_true", help="skip EMLP")
    parser.add_argument(
        "--chain-sizes", type=int, nargs="*", help="the n of the chain and sampling table (default 10 20 50 100)"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--as-limit", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_as_child(args.child[0], int(args.child[1]), args.as_limit)
        return

    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    limit_mb, timeout = args.mem_limit_mb, args.timeout
    print("bench_large_groups: natural^2 -> natural^2 basis of S_n, one fresh process per size and side")
    print(
        f"python {platform.python_version()}, numpy {version('numpy')}, eqlandscape {version('eqlandscape')}, "
        f"{os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
        f"each child stopped past {timeout:g} s or {limit_mb} MB"
    )
    has_emlp, emlp_info = (False, "skipped (--no-emlp)") if args.no_emlp else emlp_available(args.emlp_python)
    if has_emlp or args.no_emlp:
        print(f"EMLP: {emlp_info}")
    else:
        print(f"EMLP: not importable ({emlp_info}); see benchmarks/README.md")
    print(
        f"times: from group_from_name to the basis, imports excluded; ours and enumerating: median of "
        f"{args.repeats} process{'es' if args.repeats != 1 else ''}; EMLP: first call in one process (JAX "
        "compilation included)"
    )
    print("memory: peak RSS (ru_maxrss) minus the same after the child's imports; OOM = out of memory")
    header = (
        f"{'group':>5} {'|G|':>10} {'pairs N':>10} {'dim':>4} {'ours':>10} {'mem':>8} {'enumerating':>12} "
        f"{'mem':>8} {'EMLP':>10} {'mem':>8} {'dim':>4} {'enum/ours':>9} {'EMLP/ours':>9}"
    )
    print(header)
    print("-" * len(header))

    rows: dict[int, tuple[Side, Side, Side]] = {}
    notes: list[str] = []
    emlp_stopped_at: int | None = None
    for n in sizes:
        order = math.factorial(n)
        ours = measure(sys.executable, "ours", n, args.repeats, timeout, limit_mb, True)
        if ours.status != "ok":
            notes.append(f"S{n} ours: {ours.status}: {ours.note}")
        if order <= args.enum_max_order:
            enum = measure(sys.executable, "enumerating", n, args.repeats, timeout, limit_mb, True)
            if enum.ok and enum.extra.get("raised"):
                notes.append(f"S{n} enumerating: finished with the enumeration limit raised to {order}")
            elif not enum.ok:
                notes.append(f"S{n} enumerating: {enum.status}: {enum.note}")
        else:
            table_tb = order**2 * 8 / 1e12
            enum = Side("not run")
            notes.append(
                f"S{n} enumerating: not attempted, |G| = {fmt_order(order)} > --enum-max-order "
                f"{args.enum_max_order} (its multiplication table alone would be {table_tb:.3g} TB)"
            )
        if not has_emlp:
            emlp = Side("n/a")
        elif emlp_stopped_at is not None:
            emlp = Side("not run")
            notes.append(f"S{n} EMLP: not run (stopped at S{emlp_stopped_at})")
        else:
            emlp = measure(args.emlp_python, "emlp", n, 1, timeout, limit_mb, False)
            if not emlp.ok:
                notes.append(f"S{n} EMLP: {emlp.status}: {emlp.note}")
                if emlp.status in ("timeout", "out of memory"):
                    emlp_stopped_at = n
        rows[n] = (ours, enum, emlp)
        t_ours, m_ours = cell(ours)
        t_enum, m_enum = cell(enum)
        t_emlp, m_emlp = cell(emlp)
        dim = "-" if ours.dim is None else str(ours.dim)
        emlp_dim = "-" if emlp.dim is None else str(emlp.dim)
        print(
            f"{'S' + str(n):>5} {fmt_order(order):>10} {n**4:>10,} {dim:>4} {t_ours:>10} {m_ours:>8} "
            f"{t_enum:>12} {m_enum:>8} {t_emlp:>10} {m_emlp:>8} {emlp_dim:>4} "
            f"{ratio(enum, ours):>9} {ratio(emlp, ours):>9}",
            flush=True,
        )

    for note in notes:
        print(f"  {note}")
    bases = [s.base for trio in rows.values() for s in trio[:2] if s.ok]
    emlp_bases = [trio[2].base for trio in rows.values() if trio[2].ok]
    if bases:
        line = f"baseline RSS after imports: eqlandscape children {statistics.median(bases):.0f} MB"
        print(line + (f", EMLP children {statistics.median(emlp_bases):.0f} MB" if emlp_bases else ""))

    print("\nchecks:")
    for n, (ours, enum, emlp) in rows.items():
        if not ours.ok:
            print(f"  S{n}: no basis ({ours.status})")
            continue
        expected = EXPECTED_DIM if n >= 4 else None
        parts = [
            f"dim {ours.dim}"
            + ("" if expected is None else f" (expected {expected}: {'yes' if ours.dim == expected else 'NO'})")
        ]
        if enum.ok:
            parts.append(f"enumerating path: same orbits as ours: {'yes' if enum.extra.get('agree') else 'NO'}")
        if emlp.ok:
            parts.append(f"EMLP dim {emlp.dim}: {'agrees' if emlp.dim == ours.dim else 'DIFFERS'}")
        print(f"  S{n}: " + "; ".join(parts))

    print("\ntargets (issue):")
    if TARGET_N in rows and rows[TARGET_N][0].ok:
        ours = rows[TARGET_N][0]
        t_ok, m_ok = ours.time < TARGET_SECONDS, ours.mem < TARGET_MB
        print(
            f"  S{TARGET_N} basis: {fmt_time(ours.time)} < {TARGET_SECONDS:g} s: {'met' if t_ok else 'MISSED'}; "
            f"{fmt_mem(ours.mem)} < {TARGET_MB:g} MB: {'met' if m_ok else 'MISSED'} "
            f"(peak RSS {ours.base + ours.mem:.0f} MB in all)"
        )
    elif TARGET_N in rows:
        print(f"  S{TARGET_N} basis: {rows[TARGET_N][0].status}: MISSED")
    else:
        print(f"  S{TARGET_N} basis: not measured (add {TARGET_N} to --sizes, or run without --quick)")
    facts = [run_child(sys.executable, "facts", FACTS_N, timeout, limit_mb, True) for _ in range(args.repeats)]
    if all(f["status"] == "ok" for f in facts):
        t_facts = statistics.median(f["time"] for f in facts)
        t_import = statistics.median(f["import"] for f in facts)
        wall = statistics.median(f["wall"] for f in facts)
        print(
            f"  S{FACTS_N} group facts: group_from_name('S{FACTS_N}').order = {facts[0]['order']} in "
            f"{fmt_time(t_facts)} < {FACTS_SECONDS:g} s: {'met' if t_facts < FACTS_SECONDS else 'MISSED'} "
            f"(fresh process, after importing eqlandscape.groups in {fmt_time(t_import)}; process {fmt_time(wall)})"
        )
    else:
        bad = next(f for f in facts if f["status"] != "ok")
        print(f"  S{FACTS_N} group facts: {bad['status']}: {bad.get('error', '')}: MISSED")
    chains_and_samples(args, timeout, limit_mb)


def chains_and_samples(args: argparse.Namespace, timeout: float, limit_mb: int) -> None:
    """The second table: stabilizer chains (ours against sympy's), membership, random elements, and the
    ``S100`` target."""
    sizes = CHAIN_SIZES if args.chain_sizes is None else tuple(args.chain_sizes)
    if not sizes:
        return
    print("\nstabilizer chains and random elements of S_n, one fresh process each (imports excluded):")
    print(
        "  chain: group_from_name(f'S{n}').chain (ours: randomized Schreier-Sims with the known order); sympy: "
        "PermutationGroup(same generators).schreier_sims(); member: 1000 random permutations tested against "
        "A_n's chain; draws: random_elements([natural^2, natural], 30 seeds, stream, 8) (first call builds the "
        "graph group's chain)"
    )
    header = (
        f"{'group':>5} {'levels':>6} {'chain':>10} {'mem':>8} {'sympy':>10} {'sympy/ours':>10} {'member':>10} "
        f"{'draws 1st':>10} {'draws':>10} {'mem':>8}"
    )
    print(header)
    print("-" * len(header))
    checks = []
    for n in sizes:
        ours = measure(sys.executable, "chain", n, args.repeats, timeout, limit_mb, True)
        sym = measure(sys.executable, "sympy_chain", n, 1, timeout, limit_mb, True)
        draw = measure(sys.executable, "sample", n, args.repeats, timeout, limit_mb, True)
        t_ours, m_ours = cell(ours)
        t_sym = cell(sym)[0]
        t_draw, m_draw = cell(draw)
        levels = str(ours.extra.get("levels", "-")) if ours.ok else "-"
        member = fmt_time(ours.extra["membership"]) if ours.ok else "-"
        first = fmt_time(draw.extra["first"]) if draw.ok else "-"
        print(
            f"{'S' + str(n):>5} {levels:>6} {t_ours:>10} {m_ours:>8} {t_sym:>10} {ratio(sym, ours):>10} "
            f"{member:>10} {first:>10} {t_draw:>10} {m_draw:>8}",
            flush=True,
        )
        if ours.ok:
            checks.append(f"S{n}: {ours.extra['members']} of 1000 random permutations in A{n}")
        if draw.ok:
            checks.append(
                f"S{n}: draws on natural^2 are the tensor square of those on natural: {draw.extra['homomorphic']}"
            )
        if sym.ok:
            checks.append(f"S{n}: sympy's order is n!: {sym.extra['order_ok']}")
        for side, name in ((ours, "chain"), (sym, "sympy"), (draw, "draws")):
            if not side.ok:
                checks.append(f"S{n} {name}: {side.status}: {side.note}")
    for line in checks:
        print(f"  {line}")
    n = S100_N
    run = run_child(sys.executable, "s100", n, timeout, limit_mb, True)
    if run["status"] == "ok":
        met = "met" if run["time"] < S100_SECONDS else "MISSED"
        print(
            f"  S{n} target: order, chain, S{n}/S{n - 1} ({run['cosets']} cosets), bases natural^2 -> natural and "
            f"natural^2 -> trivial (dims {run['dims']}), 240 random elements on natural^2 + natural: "
            f"{fmt_time(run['time'])} < {S100_SECONDS:g} s: {met} (+{run['peak_mb'] - run['base_mb']:.0f} MB; order "
            f"and draws checked: {run['order_ok']}); "
            f"natural^2 -> natural^2 (10^8 index pairs) is refused by PAIR_LIMIT"
        )
    else:
        print(f"  S{n} target: {run['status']}: {run.get('error', '')}: MISSED")


if __name__ == "__main__":
    main()
