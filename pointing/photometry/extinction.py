"""The atmosphere: air mass, and the night's extinction fit that separates η₀ from k.

* :func:`airmass` -- Kasten & Young (1989) relative air mass;
* :func:`fit_extinction` -- robust fit of ln η = ln η₀ − 0.4 ln10 · k · X that
  separates the station's own efficiency above the atmosphere (η₀) from the
  extinction coefficient k (mag/airmass), rejecting cloud-dimmed stars;
* :class:`EfficiencyResult` -- what the fit finds (the result of
  :func:`pointing.photometry.efficiency.night_efficiency` too).

Elevations are apparent (refracted) and in radians.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.optimize import least_squares

from pointing.errors import ConfigError, FitError
from pointing.photometry.bands import LN10_04

__all__ = ["EfficiencyResult", "airmass", "fit_extinction"]


def airmass(el: Any) -> Any:
    """Relative optical air mass of Kasten & Young (1989).

    ``X = 1 / [sin h + 0.50572 (h + 6.07995°)^−1.6364]`` with h the apparent
    (refracted) elevation; *el* is in radians.  X(90°) = 0.9997, X(30°) = 1.994,
    X(0°) = 37.92; elevations at or below −6.07995° give NaN.
    """
    el = np.asarray(el, dtype=float)
    h = np.degrees(el)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = 1.0 / (np.sin(el) + 0.50572 * np.where(h > -6.07995, h + 6.07995, np.nan)
                   ** -1.6364)
    return float(x) if x.ndim == 0 else x



@dataclass
class EfficiencyResult:
    """Station efficiency above the atmosphere and extinction from one night.

    ``eta0`` is dimensionless (detected counts per photon at the telescope
    entrance) for the detectors, or ADU per photon for the camera variant
    (``source == "camera"``).  ``k_mag_per_airmass`` is the extinction
    coefficient in the receive band.  ``per_star`` has one dict per star
    measurement; ``rejected`` lists the ones left out and why.
    """

    eta0: float
    eta0_sigma: float
    k_mag_per_airmass: float
    k_sigma: float
    k_fitted: bool
    n_used: int
    chi2_reduced: float
    scatter_mag: float
    expected_scatter_mag: float
    photometric: bool
    photometric_reason: str
    airmass_range: tuple[float, float]
    per_star: list[dict]
    rejected: list[dict]
    flags: list[str] = field(default_factory=list)
    source: str = "detectors"
    units: str = "counts per photon"
    band: str = ""
    design_efficiency: float | None = None
    covariance: np.ndarray | None = None

    def total_efficiency(self, el: Any) -> Any:
        """η₀ · 10^(−0.4 k X(el)): efficiency including the atmosphere at
        apparent elevation *el* (radians)."""
        out = self.eta0 * 10.0 ** (-0.4 * self.k_mag_per_airmass * np.asarray(airmass(el)))
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict:
        """JSON-ready summary (the night's ``summary.json["efficiency"]``)."""
        return {
            "source": self.source,
            "units": self.units,
            "band": self.band,
            "eta0": self.eta0,
            "eta0_sigma": self.eta0_sigma,
            "k_mag_per_airmass": self.k_mag_per_airmass,
            "k_sigma": self.k_sigma,
            "k_fitted": self.k_fitted,
            "design_efficiency": self.design_efficiency,
            "n_used": self.n_used,
            "chi2_reduced": self.chi2_reduced,
            "scatter_mag": self.scatter_mag,
            "expected_scatter_mag": self.expected_scatter_mag,
            "photometric": self.photometric,
            "photometric_reason": self.photometric_reason,
            "airmass_range": list(self.airmass_range),
            "flags": list(self.flags),
            "per_star": [_jsonable(r) for r in self.per_star],
            "rejected": [_jsonable(r) for r in self.rejected],
        }


def _jsonable(row: Mapping) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, (np.floating, float)):
            value = float(value)
            out[key] = value if math.isfinite(value) else None
        elif isinstance(value, np.integer):
            out[key] = int(value)
        elif isinstance(value, np.bool_):
            out[key] = bool(value)
        else:
            out[key] = value
    return out


def _weighted_line(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, k_slope: float | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares y = a + b x (b fixed when k_slope given); (params, cov)."""
    w = 1.0 / sigma**2
    if k_slope is not None:
        a = np.sum(w * (y - k_slope * x)) / np.sum(w)
        return np.array([a, k_slope]), np.array([[1.0 / np.sum(w), 0.0], [0.0, 0.0]])
    design = np.column_stack([np.ones_like(x), x])
    normal = design.T @ (design * w[:, None])
    cov = np.linalg.inv(normal)
    return cov @ (design.T @ (w * y)), cov


def fit_extinction(x_airmass: Any, eta: Any, eta_sigma: Any, *, clip_sigma: float = 4.0,
                   min_points: int = 3, min_airmass_span: float = 0.3,
                   k_fixed: float | None = None, labels: Sequence[dict] | None = None,
                   excluded: Mapping[int, str] | None = None) -> EfficiencyResult:
    """Robust fit of ln η = ln η₀ − 0.4 ln10 · k · X over one night.

    Parameters
    ----------
    x_airmass : array
        Air mass of each star measurement (:func:`airmass`).
    eta, eta_sigma : array
        Per-star efficiency and its 1-σ uncertainty (:func:`star_efficiency`).
        Stars with η ≤ 0 or non-finite values are rejected with a reason.
    clip_sigma : float
        Stars further than ``clip_sigma`` × max(1, robust scatter) standard
        errors from the fit are rejected (iterated to convergence; a rejected
        star comes back if a later fit explains it).  Cloud-dimmed stars fall
        below the line; the reason says by how many magnitudes.
    min_points : int
        Fewest usable stars; fewer raise :class:`FitError` listing the reasons.
    min_airmass_span : float
        Smallest airmass range that separates η₀ from k; a narrower night
        raises :class:`FitError` unless *k_fixed* is given (then η₀ is fitted
        with k held, and the result is flagged).
    k_fixed : float, optional
        Hold k (mag/airmass) at this value.
    labels : sequence of dict, optional
        One dict per star (e.g. hip, time) copied into ``per_star`` and
        ``rejected``.
    excluded : mapping of index to reason, optional
        Stars to leave out from the start, with the reason to report.

    Returns
    -------
    EfficiencyResult
        Uncertainties are from the weighted fit, scaled by √χ²_red when the
        scatter exceeds the errors (Birge ratio).  ``photometric`` is False when
        the kept stars scatter more than their errors explain (χ² test,
        p < 0.001) or more than 10 % of the stars were rejected.
    """
    # over 80 lines only by its docstring: the steps are in _unusable, _clipped_fit,
    # _photometric and _star_rows
    xa = np.asarray(x_airmass, dtype=float)
    eta = np.asarray(eta, dtype=float)
    sig = np.asarray(eta_sigma, dtype=float)
    n = xa.size
    if not (xa.shape == eta.shape == sig.shape) or xa.ndim != 1:
        raise ValueError("x_airmass, eta and eta_sigma must be 1-D arrays of one length")
    labels = list(labels) if labels is not None else [{} for _ in range(n)]
    if len(labels) != n:
        raise ValueError("labels must have one entry per star")
    if k_fixed is not None and not (math.isfinite(k_fixed) and 0.0 <= k_fixed <= 5.0):
        raise ConfigError(f"k_fixed: must be within 0..5 mag/airmass, got {k_fixed!r}")

    reasons = _unusable(xa, eta, sig, dict(excluded or {}))
    valid = np.array([r is None for r in reasons])
    n_valid = int(valid.sum())
    if n_valid < min_points:
        why = "; ".join(f"{_label_text(labels[i])}: {reasons[i]}" for i in range(n)
                        if reasons[i]) or "none measured"
        raise FitError(f"only {n_valid} usable star measurement(s), need at least "
                       f"{min_points} (rejected: {why})")

    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.log(eta)
        s = sig / eta
    flags: list[str] = []
    span = float(np.ptp(xa[valid]))
    k_slope = None
    if k_fixed is not None:
        k_slope = -LN10_04 * float(k_fixed)
        flags.append(f"k held at {float(k_fixed):.3f} mag/airmass")
    elif span < min_airmass_span:
        raise FitError(f"all usable stars are at nearly one airmass (range "
                       f"{xa[valid].min():.2f}..{xa[valid].max():.2f}, span {span:.2f} < "
                       f"{min_airmass_span}): cannot separate eta0 from k; observe stars "
                       "at low elevation too, or hold k fixed")

    params, cov, keep = _clipped_fit(xa, y, s, valid, k_slope, clip_sigma, min_points)
    n_used = int(keep.sum())
    if n_used < min_points:
        raise FitError(f"only {n_used} star measurement(s) left after rejecting outliers")
    if k_slope is None and float(np.ptp(xa[keep])) < min_airmass_span:
        raise FitError(f"stars kept after rejecting outliers span only "
                       f"{float(np.ptp(xa[keep])):.2f} in airmass: cannot separate eta0 "
                       "from k")
    resid = y - params[0] - params[1] * xa
    dof = n_used - (1 if k_slope is not None else 2)
    chi2 = float(np.sum((resid[keep] / s[keep]) ** 2))
    chi2_red = chi2 / dof if dof > 0 else float("nan")
    birge = math.sqrt(max(1.0, chi2_red)) if dof > 0 else 1.0
    cov = cov * birge**2
    a, b = params
    eta0 = math.exp(a)
    k = -b / LN10_04

    to_mag = 1.0 / LN10_04
    scatter = float(np.sqrt(np.mean(resid[keep] ** 2))) * to_mag
    expected = float(np.sqrt(np.mean(s[keep] ** 2))) * to_mag
    photometric, why = _photometric(scatter, expected, chi2, dof, n_used, n_valid)
    if dof <= 0:
        flags.append("no degrees of freedom left to judge the scatter")
    if k_slope is None and k < 0:
        flags.append(f"negative extinction k = {k:.3f} mag/airmass: check the data")
    per_star, rejected = _star_rows(labels, reasons, xa, eta, sig, resid, s, valid, keep)
    return EfficiencyResult(
        eta0=eta0, eta0_sigma=eta0 * math.sqrt(cov[0, 0]), k_mag_per_airmass=k,
        k_sigma=math.sqrt(cov[1, 1]) / LN10_04,
        k_fitted=k_slope is None, n_used=n_used, chi2_reduced=chi2_red,
        scatter_mag=scatter, expected_scatter_mag=expected, photometric=photometric,
        photometric_reason=why,
        airmass_range=(float(xa[keep].min()), float(xa[keep].max())),
        per_star=per_star, rejected=rejected, flags=flags, covariance=cov)


def _star_rows(labels: list[dict], reasons: list[str | None], xa: np.ndarray,
               eta: np.ndarray, sig: np.ndarray, resid: np.ndarray, s: np.ndarray,
               valid: np.ndarray, keep: np.ndarray) -> tuple[list[dict], list[dict]]:
    """The per-star rows of the result and the rejected ones, with the reasons."""
    to_mag = 1.0 / LN10_04
    per_star, rejected = [], []
    for i in range(xa.size):
        reason = reasons[i]
        if valid[i] and not keep[i]:
            dm = -resid[i] * to_mag  # > 0: fainter than the fit
            what = ("dimmed (cloud or haze?)" if dm > 0
                    else "brighter than expected (wrong star or stray light?)")
            reason = (f"{what}: {abs(dm):.2f} mag from the fit, "
                      f"{abs(resid[i] / s[i]):.1f} sigma")
        row = dict(labels[i])
        row.update(airmass=float(xa[i]), eta=float(eta[i]), eta_sigma=float(sig[i]),
                   residual_mag=float(-resid[i] * to_mag) if valid[i] else float("nan"),
                   used=bool(keep[i]), reason=reason or "")
        per_star.append(row)
        if not keep[i]:
            rejected.append({**labels[i], "reason": reason})
    return per_star, rejected


def _unusable(xa: np.ndarray, eta: np.ndarray, sig: np.ndarray, excluded: Mapping[int, str]
              ) -> list[str | None]:
    """Why each star cannot enter the fit (None: it can)."""
    reasons: list[str | None] = [None] * xa.size
    for i in range(xa.size):
        if i in excluded:
            reasons[i] = excluded[i]
        elif not np.isfinite(xa[i]):
            reasons[i] = "no airmass (elevation below the horizon?)"
        elif not np.isfinite(eta[i]):
            reasons[i] = "no efficiency (missing counts or magnitude)"
        elif eta[i] <= 0:
            reasons[i] = "no net signal (star counts <= background)"
        elif not (np.isfinite(sig[i]) and sig[i] > 0):
            reasons[i] = "no uncertainty"
    return reasons


def _clipped_fit(xa: np.ndarray, y: np.ndarray, s: np.ndarray, valid: np.ndarray,
                 k_slope: float | None, clip_sigma: float, min_points: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted line through the valid stars, outliers clipped; (params, cov, kept)."""
    # start from a robust (soft-L1) fit so that cloud-dimmed stars do not pull it
    params = _robust_start(xa[valid], y[valid], s[valid], k_slope)
    keep = valid.copy()
    for _ in range(20):
        z = np.where(valid, (y - params[0] - params[1] * xa) / s, np.nan)
        scale = max(1.0, 1.4826 * float(np.nanmedian(np.abs(z[keep]))))
        new_keep = valid & (np.abs(z) <= clip_sigma * scale)
        if new_keep.sum() < min_points:
            new_keep = keep
        params, cov = _weighted_line(xa[new_keep], y[new_keep], s[new_keep], k_slope)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return params, cov, keep


def _photometric(scatter: float, expected: float, chi2: float, dof: int, n_used: int,
                 n_valid: int) -> tuple[bool, str]:
    """Was the night photometric, and why (χ² test at p < 0.001, ≤ 10 % rejected)."""
    chi2_red = chi2 / dof if dof > 0 else float("nan")
    photometric = True
    why = (f"scatter {scatter:.3f} mag rms, {expected:.3f} mag expected from counts and "
           f"magnitudes (chi2/dof {chi2_red:.2f})")
    if dof > 0 and stats.chi2.sf(chi2, dof) < 1e-3:
        photometric = False
        why = "not photometric: " + why
    if 1.0 - n_used / max(n_valid, 1) > 0.10:
        photometric = False
        why = (f"not photometric: {n_valid - n_used} of {n_valid} stars rejected; " + why)
    return photometric, why


def _label_text(label: Mapping) -> str:
    if "hip" in label and "time" in label:
        return f"HIP {label['hip']} at {label['time']}"
    if label:
        return ", ".join(f"{k}={v}" for k, v in label.items())
    return "star"


def _robust_start(x: np.ndarray, y: np.ndarray, s: np.ndarray, k_slope: float | None
                  ) -> np.ndarray:
    p0, _ = _weighted_line(x, y, s, k_slope)
    # residual scale: at least the errors, at least 0.02 in ln (2 %), so that a fit whose
    # stars all sit many sigma off (tiny Poisson errors) is still robust
    f_scale = 1.0
    s_eff = np.maximum(s, 0.02)
    if k_slope is not None:
        res = least_squares(lambda p: (y - p[0] - k_slope * x) / s_eff, p0[:1],
                            loss="soft_l1", f_scale=f_scale)
        return np.array([res.x[0], k_slope])
    res = least_squares(lambda p: (y - p[0] - p[1] * x) / s_eff, p0, loss="soft_l1",
                        f_scale=f_scale)
    return res.x
