"""Classifying a critical point by the eigenvalues of its Hessian (the second-order test).

With a tolerance ``tol > 0``, an eigenvalue ``lambda`` is *negative* when ``lambda < -tol``, *near zero*
when ``|lambda| <= tol`` and positive otherwise. The *index* is the number of negative eigenvalues. The
verdict:

* ``saddle``: index >= 1 (a direction of negative curvature leaves the point downhill; this includes
  local maxima);
* ``minimum``: index 0 and no near-zero eigenvalue (a strict local minimum);
* ``degenerate``: index 0 with near-zero eigenvalues (the second-order test cannot decide; flat
  directions such as the ReLU rescalings of docs/design.md section 4 make this the usual case for
  free ReLU networks, so restrict the Hessian to a subspace first when that is the question).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from eqlandscape.errors import ConfigError

VERDICTS = ("minimum", "saddle", "degenerate")


@dataclass(frozen=True)
class CriticalPoint:
    """``index`` (eigenvalues ``< -tol``), ``zeros`` (``|lambda| <= tol``), ``verdict`` (one of
    :data:`VERDICTS`), the sorted ``eigenvalues`` and the ``tol`` used."""

    index: int
    zeros: int
    verdict: str
    eigenvalues: np.ndarray
    tol: float


def classify_critical_point(spectrum: Any, tol: float) -> CriticalPoint:
    """Classify by ``spectrum``: a symmetric Hessian ``(P, P)`` (2-dimensional) or its eigenvalues
    ``(P,)`` (1-dimensional), NumPy or torch. For ``K`` models, classify each ``H[k]``.

    Raises :class:`ConfigError` for a non-positive or non-finite ``tol``, a matrix that is not square
    and symmetric (relative asymmetry above ``1e-8``), or non-finite entries.
    """
    numeric = isinstance(tol, int | float | np.integer | np.floating) and not isinstance(tol, bool)
    if not (numeric and np.isfinite(tol) and tol > 0):
        raise ConfigError(f"tol must be a positive number, got tol={tol!r}")
    a = np.asarray(spectrum.detach().cpu() if hasattr(spectrum, "detach") else spectrum, dtype=np.float64)
    if not np.isfinite(a).all() or a.size == 0:
        raise ConfigError(f"the spectrum of shape {a.shape} is empty or has non-finite entries")
    if a.ndim == 2:
        if a.shape[0] != a.shape[1]:
            raise ConfigError(f"a Hessian of shape {a.shape} is not square")
        asymmetry = np.abs(a - a.T).max()
        if asymmetry > 1e-8 * max(1.0, np.abs(a).max()):
            raise ConfigError(f"the Hessian is not symmetric (largest |H - H^T| entry {asymmetry:.3g})")
        eigenvalues = np.linalg.eigvalsh((a + a.T) / 2)
    elif a.ndim == 1:
        eigenvalues = np.sort(a)
    else:
        raise ConfigError(f"expected a Hessian (P, P) or eigenvalues (P,), got shape {a.shape}")
    index = int((eigenvalues < -tol).sum())
    zeros = int((np.abs(eigenvalues) <= tol).sum())
    verdict = "saddle" if index else ("degenerate" if zeros else "minimum")
    return CriticalPoint(index, zeros, verdict, eigenvalues, float(tol))
