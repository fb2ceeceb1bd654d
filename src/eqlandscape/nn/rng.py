"""Counter-based random numbers: one independent stream per (seed, purpose), vectorized over seeds.

Every random quantity of a model (its initial weights, its minibatch order, the group elements
it is augmented with) depends on the model's seed alone, never on which other models share the
ensemble or on how the trainer splits the ensemble into chunks. A sequential generator cannot
give that without a Python loop over seeds; a counter-based one can: the ``j``-th random word
of stream ``name`` for seed ``s`` is ``mix(key(s, name) + (j + 1) * GOLDEN)`` with ``mix`` the
SplitMix64 finalizer, computed for all seeds and counters at once in ``uint64`` arithmetic.

All functions take ``seeds`` as an integer array ``(K,)`` and return arrays with a leading
dimension ``K`` (float64 or int64, NumPy).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer (a bijection of ``uint64`` with good avalanche)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _stream_key(name: str) -> np.uint64:
    """A stable 64-bit key of a stream name (independent of Python's salted ``hash``)."""
    data = name.encode()
    return np.uint64((zlib.crc32(data) << 32) | zlib.crc32(data[::-1]))


def random_words(seeds: Sequence[int] | np.ndarray, name: str, count: int) -> np.ndarray:
    """``count`` random ``uint64`` words of stream ``name`` for each seed: shape ``(K, count)``."""
    s = np.asarray(seeds, dtype=np.int64).astype(np.uint64).reshape(-1)
    with np.errstate(over="ignore"):
        key = _mix(_mix(s * _GOLDEN + _stream_key(name)))
        counters = (np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        return _mix(key[:, None] + counters)


def uniform(seeds: Sequence[int] | np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform numbers in ``[0, 1)`` (53 random bits each), shape ``(K, *shape)``."""
    count = int(np.prod(shape, dtype=np.int64))
    words = random_words(seeds, name, count)
    return ((words >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(-1, *shape)


def normal(seeds: Sequence[int] | np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal numbers (Box-Muller on two uniform streams), shape ``(K, *shape)``."""
    u1 = 1.0 - uniform(seeds, name + "/radius", shape)  # in (0, 1]: log is finite
    u2 = uniform(seeds, name + "/angle", shape)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def integers(seeds: Sequence[int] | np.ndarray, name: str, high: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform integers in ``0..high-1``, shape ``(K, *shape)``."""
    return np.minimum((uniform(seeds, name, shape) * high).astype(np.int64), high - 1)


def permutations(seeds: Sequence[int] | np.ndarray, name: str, n: int) -> np.ndarray:
    """One uniformly random permutation of ``0..n-1`` per seed (argsort of uniform keys), ``(K, n)``."""
    return np.argsort(uniform(seeds, name, (n,)), axis=1, kind="stable")
