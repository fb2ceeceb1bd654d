"""eqlandscape: loss landscapes and optimization dynamics of equivariant networks.

The package is organized as in ``docs/design.md``: ``groups`` (finite permutation groups),
``reps`` (permutation representations), ``equivariant`` (bases of equivariant maps),
``nn`` (models and their ensemble form), ``tasks``, ``train`` and ``cli``. Heavy
dependencies (PyTorch, pandas, matplotlib) are imported only by the modules that use them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eqlandscape")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
