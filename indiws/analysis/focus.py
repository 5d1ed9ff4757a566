"""The V-curve of autofocus: HFR against focuser position, fitted.

Two fits, both linear least squares:

- ``hyperbolic``: HFR² = a + b·x + c·x² (a hyperbola HFR = √(h² + k²(x−x0)²),
  the shape of a defocused star's size far and near focus);
- ``parabolic``: HFR = a + b·x + c·x².

``auto`` fits both and keeps the one whose HFRs are closer to the points
(a real telescope's stars follow the hyperbola; the INDI CCD simulator's
star size grows with the square of the defocus, a parabola).

Outliers (a passing cloud, a satellite) are rejected one at a time while a
point's residual exceeds three robust sigmas, keeping at least five points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["FIT_KINDS", "MIN_POINTS", "FocusFitError", "FocusPoint", "fit_vcurve"]

FitKind = Literal["auto", "hyperbolic", "parabolic"]
FIT_KINDS: tuple[str, ...] = ("auto", "hyperbolic", "parabolic")
#: Usable points a fit needs.
MIN_POINTS = 5


class FocusFitError(ValueError):
    """The points do not make a V-curve with a minimum inside their range."""


@dataclass(slots=True)
class FocusPoint:
    position: float
    hfr: float | None
    stars: int

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "hfr": self.hfr, "stars": self.stars}


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.polyfit(x, y, 2, w=w)


def fit_vcurve(
    points: Sequence[FocusPoint], *, kind: FitKind = "auto", min_stars: int = 1
) -> dict[str, Any]:
    """Fit the points; returns ``position`` (best focus), ``hfr`` (the curve's
    minimum), ``r2``, ``kind``, ``coefficients`` (of x², x, 1 in the scaled
    position, see ``scale``), ``used``/``rejected`` positions.

    FocusFitError when too few points have stars, the curve opens downward,
    or its minimum lies outside the measured range."""
    if kind not in FIT_KINDS:
        raise ValueError(f"fit must be one of {', '.join(FIT_KINDS)}, not {kind!r}")
    if kind == "auto":
        fits = [_fit_kind(points, k, min_stars) for k in ("hyperbolic", "parabolic")]
        return min(fits, key=lambda f: f["rms"])
    return _fit_kind(points, kind, min_stars)


def _fit_kind(points: Sequence[FocusPoint], kind: str, min_stars: int) -> dict[str, Any]:
    usable = [p for p in points if p.hfr is not None and p.stars >= min_stars]
    if len(usable) < MIN_POINTS:
        raise FocusFitError(
            f"too few measured points: {len(usable)} of {len(points)} had at least "
            f"{min_stars} stars, {MIN_POINTS} needed"
        )
    x_all = np.array([p.position for p in usable], dtype=float)
    h_all = np.array([p.hfr for p in usable], dtype=float)
    # Scaled positions keep the normal equations well conditioned.
    centre, scale = float(x_all.mean()), float(max(np.ptp(x_all) / 2, 1.0))
    u_all = (x_all - centre) / scale
    y_all = h_all**2 if kind == "hyperbolic" else h_all
    # HFR² residuals weighted by 1/(2·HFR) approximate HFR residuals, so the
    # far, large points do not outweigh the ones near focus.
    w_all = 1.0 / (2.0 * h_all) if kind == "hyperbolic" else np.ones_like(h_all)
    keep = np.ones(len(usable), dtype=bool)
    while True:
        coeffs = _fit(u_all[keep], y_all[keep], w_all[keep])
        residual = (y_all - np.polyval(coeffs, u_all)) * w_all
        sigma = 1.4826 * float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        # HFRs are not measured better than a few percent: a near-perfect fit
        # must not turn every small residual into an outlier.
        sigma = max(sigma, 0.03 * float(np.median(h_all[keep])))
        worst = int(np.argmax(np.where(keep, np.abs(residual), -1.0)))
        if keep.sum() <= MIN_POINTS or sigma <= 0 or abs(residual[worst]) <= 3 * sigma:
            break
        keep[worst] = False
    c2, c1, c0 = (float(c) for c in coeffs)
    lo, hi = float(x_all.min()), float(x_all.max())
    if c2 <= 0:
        raise FocusFitError(
            f"the HFR curve has no minimum between {lo:g} and {hi:g} (it opens downward): "
            "the range does not span focus"
        )
    u_best = -c1 / (2 * c2)
    best = centre + u_best * scale
    if not lo <= best <= hi:
        raise FocusFitError(
            f"the HFR curve's minimum ({best:.0f}) lies outside the measured range "
            f"{lo:g}..{hi:g}: move the range toward it"
        )
    y_best = c0 - c1 * c1 / (4 * c2)
    hfr_best = math.sqrt(max(y_best, 0.0)) if kind == "hyperbolic" else y_best
    fitted = np.polyval(coeffs, u_all[keep])
    if kind == "hyperbolic":
        fitted = np.sqrt(np.clip(fitted, 0.0, None))
    h = h_all[keep]
    total = float(np.sum((h - h.mean()) ** 2))
    r2 = 1.0 - float(np.sum((h - fitted) ** 2)) / total if total > 0 else 1.0
    return {
        "kind": kind,
        "position": round(best, 1),
        "hfr": round(hfr_best, 3),
        "r2": round(r2, 4),
        "rms": round(float(np.sqrt(np.mean((h - fitted) ** 2))), 4),
        "coefficients": [c2, c1, c0],
        "centre": centre,
        "scale": scale,
        "used": [float(v) for v in x_all[keep]],
        "rejected": [float(v) for v in x_all[~keep]],
    }
