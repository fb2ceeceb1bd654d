"""Our exact orbit basis vs. EMLP's numerical equivariant basis (a peer library, not a dependency).

For ``S_n`` on ``natural -> natural`` (EMLP: ``V >> V``) and ``natural^2 -> natural^2``
(``V**2 >> V**2``), in one run: the median time of ours (built from scratch, ``cache=False``, plus
the dense orthonormal basis) and of EMLP's ``equivariant_basis()`` with its solution cache cleared
before each call (after one warm-up call that pays JAX's compilation; that first call is shown
too), the ratio of the medians, and the
largest principal angle between the two subspaces. The space of equivariant maps of ``S_n`` on
these reps does not depend on the conventions (matrices or their transposes: both sets are all
permutation matrices), so the two bases can be compared directly on row-major ``vec(W)``.

EMLP needs JAX and is not installed with eqlandscape; without it the script says so and exits 0.
To run it, use a separate environment (see ``benchmarks/README.md``)::

    python -m venv /tmp/emlpvenv && /tmp/emlpvenv/bin/pip install emlp jax jaxlib six
    PYTHONPATH=src /tmp/emlpvenv/bin/python benchmarks/bench_emlp.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.linalg

from eqlandscape.equivariant import equivariant_basis
from eqlandscape.groups import symmetric
from eqlandscape.reps import natural, tensor_product


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 3..4 only")
    parser.add_argument("--max-n", type=int, default=6, help="largest n (default 6)")
    parser.add_argument("--repeats", type=int, default=3, help="timed EMLP calls per case (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
        from emlp.groups import S
        from emlp.reps import V
        from emlp.reps.representation import Rep
    except ImportError as err:
        print(f"bench_emlp skipped: EMLP is not importable ({err}); see benchmarks/README.md")
        return

    max_n = min(args.max_n, 4) if args.quick else args.max_n
    platform = jax.devices()[0].platform
    print(f"bench_emlp: orbit basis vs EMLP equivariant_basis (jax {jax.__version__} on {platform})")
    print("EMLP first = first call in the process (pays JAX compilation); EMLP = median after it")
    header = (
        f"{'group':>5} {'rep':>10} {'N':>5} {'dim':>4} {'emlp':>4} {'ours':>10} {'EMLP first':>10} "
        f"{'EMLP':>10} {'ratio':>9} {'angle':>8}"
    )
    print(header)
    print("-" * len(header))
    for n in range(3, max_n + 1):
        G, EG = symmetric(n), S(n)
        for name in ("natural", "natural^2"):
            rep = natural(G) if name == "natural" else tensor_product(natural(G), natural(G))
            erep = V(EG) >> V(EG) if name == "natural" else V(EG) ** 2 >> V(EG) ** 2

            def ours(rep=rep) -> np.ndarray:
                basis = equivariant_basis(rep, rep, cache=False)
                return basis.orthonormal().reshape(basis.dim, -1).T

            def emlp(erep=erep) -> np.ndarray:
                Rep.solcache.clear()
                return np.asarray(erep.equivariant_basis())

            Q_ours = ours()
            start = time.perf_counter()
            Q_emlp = emlp()
            t_first = time.perf_counter() - start
            same = Q_ours.shape == Q_emlp.shape
            angle = float(np.max(scipy.linalg.subspace_angles(Q_ours, Q_emlp))) if same else float("nan")
            t_ours, t_emlp = median_time(ours, max(args.repeats, 20)), median_time(emlp, args.repeats)
            dims = f"{rep.size**2:>5} {Q_ours.shape[1]:>4} {Q_emlp.shape[1]:>4}"
            times = f"{t_ours * 1e6:>7.0f} us {t_first:>8.3f} s {t_emlp:>8.3f} s {t_emlp / t_ours:>8.0f}x"
            print(f"{'S' + str(n):>5} {name:>10} {dims} {times} {angle:>8.1e}", flush=True)


if __name__ == "__main__":
    main()
