"""A figure of a Hessian spectrum (non-interactive Agg backend; the figure is returned, not shown)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from eqlandscape.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eqlandscape.landscape.spectrum import SpectralDensity


def plot_spectrum(
    eigenvalues: Any = None,
    density: SpectralDensity | None = None,
    *,
    bins: int = 60,
    width: float | None = None,
    title: str = "Hessian spectrum",
) -> Figure:
    """The spectral density of Hessians on a logarithmic density axis: a normalized histogram of exact
    ``eigenvalues`` (``(P,)``, or ``(K, P)`` pooled over ``K`` models; NumPy or torch) and/or the
    stochastic-Lanczos estimate ``density`` (:func:`~eqlandscape.landscape.spectral_density`) smoothed by
    a Gaussian of standard deviation ``width`` (default: 1/200 of the range of its nodes). Both
    integrate to 1. Raises :class:`ConfigError` when neither is given."""
    if eigenvalues is None and density is None:
        raise ConfigError("plot_spectrum needs eigenvalues, a density, or both")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    lo, hi = np.inf, -np.inf
    if eigenvalues is not None:
        values = np.asarray(
            eigenvalues.detach().cpu() if hasattr(eigenvalues, "detach") else eigenvalues, dtype=np.float64
        ).reshape(-1)
        lo, hi = values.min(), values.max()
        ax.hist(values, bins=bins, density=True, color="0.6", label=f"exact eigenvalues ({values.size})")
    if density is not None:
        live = density.weights > 0
        lo, hi = min(lo, density.nodes[live].min()), max(hi, density.nodes[live].max())
        span = max(hi - lo, 1e-12)
        sigma = span / 200 if width is None else width
        grid = np.linspace(lo - 0.05 * span - 3 * sigma, hi + 0.05 * span + 3 * sigma, 800)
        probes, steps = density.nodes.shape
        ax.plot(grid, density.density(grid, sigma), color="C0", label=f"SLQ ({probes} probes x {steps} steps)")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
