"""Figures of the landscape: a Hessian spectrum and a loss slice (non-interactive Agg backend; the
figures are returned, not shown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from eqlandscape.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eqlandscape.landscape.slices import LossSlice
    from eqlandscape.landscape.spectrum import SpectralDensity


def _draw_spectrum(
    ax: Any, eigenvalues: Any, density: SpectralDensity | None, bins: int, width: float | None, title: str
) -> None:
    """One spectrum panel of :func:`plot_spectrum` on the axes ``ax``."""
    if eigenvalues is None and density is None:
        raise ConfigError("plot_spectrum needs eigenvalues, a density, or both")
    lo, hi = np.inf, -np.inf
    if eigenvalues is not None:
        values = np.asarray(
            eigenvalues.detach().cpu() if hasattr(eigenvalues, "detach") else eigenvalues, dtype=np.float64
        ).reshape(-1)
        lo, hi = values.min(), values.max()
        ax.hist(values, bins=bins, density=density is not None, color="0.6", label=f"exact eigenvalues ({values.size})")
    if density is not None:
        live = density.weights > 0
        lo, hi = min(lo, density.nodes[live].min()), max(hi, density.nodes[live].max())
        span = max(hi - lo, 1e-12)
        sigma = span / 200 if width is None else width
        grid = np.linspace(lo - 0.05 * span - 3 * sigma, hi + 0.05 * span + 3 * sigma, 800)
        probes, steps = density.nodes.shape
        ax.plot(grid, density.density(grid, sigma), color="C0", label=f"SLQ ({probes} probes x {steps} steps)")
    if lo < 0:
        ax.axvline(0.0, color="red", linewidth=0.8, linestyle=":")
    if density is not None:
        ax.set_yscale("log")
    ax.set_xlabel("eigenvalue (red: 0)" if lo < 0 else "eigenvalue")
    ax.set_ylabel("density" if density is not None else "eigenvalues per bin")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)


def plot_spectrum(
    eigenvalues: Any = None,
    density: SpectralDensity | None = None,
    *,
    bins: int = 60,
    width: float | None = None,
    title: str = "Hessian spectrum",
) -> Figure:
    """The spectrum of Hessians: a histogram of exact ``eigenvalues`` (``(P,)``, or ``(K, P)`` pooled over
    ``K`` models; NumPy or torch; counts per bin on a linear axis), and/or the stochastic-Lanczos
    estimate ``density`` (:func:`~eqlandscape.landscape.spectral_density`) smoothed by a Gaussian of
    standard deviation ``width`` (default: 1/200 of the range of its nodes) on a logarithmic density
    axis (with a density, the histogram is normalized too: both integrate to 1). A dotted red line
    marks 0 when there are negative eigenvalues. Raises :class:`ConfigError` when neither is given."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _draw_spectrum(ax, eigenvalues, density, bins, width, title)
    fig.tight_layout()
    return fig


def plot_spectra(
    panels: Sequence[tuple[str, Any, SpectralDensity | None]], *, bins: int = 60, title: str | None = None
) -> Figure:
    """Several spectra side by side, one panel per ``(title, eigenvalues, density)`` as in
    :func:`plot_spectrum` (e.g. the Hessian on ``E``, ``E``-perp and a layer's block)."""
    if not panels:
        raise ConfigError("plot_spectra needs at least one panel")
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.8 * rows), squeeze=False)
    for ax, (name, eigenvalues, density) in zip(axes.flat, panels, strict=False):
        _draw_spectrum(ax, eigenvalues, density, bins, None, name)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_slice(
    loss_slice: LossSlice,
    barriers: Sequence[tuple[str, np.ndarray]] = (),
    trajectories: np.ndarray | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """A 2D slice as filled contours of the loss on a log colour scale with a colour bar and labelled
    axes, each barrier line ``c_0 + c_1 a + c_2 b = 0`` (:meth:`LossSlice.barrier_lines`) in red, and
    trajectories ``(K, R, 2)`` in slice coordinates (:meth:`LossSlice.project`) as thin lines; a 1D slice
    as a curve on a log axis."""
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    floor = max(float(np.nanmin(loss_slice.loss[loss_slice.loss > 0], initial=np.inf)), 1e-16)
    values = np.maximum(loss_slice.loss, floor)
    if len(loss_slice.axes) == 1:
        ax.plot(loss_slice.axes[0], values)
        ax.set_yscale("log")
        ax.set_xlabel(loss_slice.labels[0])
        ax.set_ylabel("loss")
    else:
        a, b = loss_slice.axes
        levels = np.geomspace(values.min(), values.max(), 30) if values.max() > values.min() else 2
        contour = ax.contourf(a, b, values.T, levels=levels, norm=LogNorm(), cmap="viridis")
        fig.colorbar(contour, ax=ax, label="loss (log scale)")
        for text, (c0, c1, c2) in barriers:
            if abs(c2) > abs(c1):
                ax.plot(a, -(c0 + c1 * a) / c2, color="red", linewidth=1.5, label=f"barrier {text}")
            else:
                ax.plot(-(c0 + c2 * b) / c1, b, color="red", linewidth=1.5, label=f"barrier {text}")
        if trajectories is not None:
            for path in np.asarray(trajectories):
                ax.plot(path[:, 0], path[:, 1], color="white", linewidth=0.6, alpha=0.7)
        ax.set_xlim(a.min(), a.max())
        ax.set_ylim(b.min(), b.max())
        ax.set_xlabel(loss_slice.labels[0])
        ax.set_ylabel(loss_slice.labels[1])
        if barriers:
            ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or "loss slice", fontsize=10)
    fig.tight_layout()
    return fig
