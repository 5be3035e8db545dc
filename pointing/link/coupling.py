"""Pointing loss: how much of the received signal a pointing error costs against the field.

Coupling model (the one the toolkit uses; the link budget should call these)
----------------------------------------------------------------------------
The received beam images to a **circular Gaussian spot** in the focal plane,
of full width at half maximum ``spot_fwhm_urad`` on the sky (seeing-limited
at a night site: ~1–2″, i.e. 5–10 µrad; default 10 µrad).  The detectors sit
behind a **circular field stop** (the "receiving field of view") of full
angular width ``fov_urad`` (default 100 µrad), i.e. radius ``fov_urad / 2``.
A target offset by ``r`` from the field's centre (the calibration pixel)
puts a fraction

    η(r) = P(|N(r, σ²I₂)| < R) = F_χ'²(R²/σ²; k=2, λ=r²/σ²),   σ = FWHM / (2√(2 ln 2)),

of the spot's power through the stop (a non-central χ² with two degrees of
freedom: the Marcum Q function, ``1 − Q₁(r/σ, R/σ)``).  On axis η(0) =
1 − exp(−R²/2σ²).  The **pointing loss** of a pass is the time-average of η
over its samples relative to η(0): the loss that perfect pointing would not
have.  For zero-mean circular Gaussian jitter of σ_p per axis the average has
the closed form 1 − exp(−R²/2(σ² + σ_p²)) (:func:`field_coupling_for_jitter`),
which is what a link budget uses when it only knows an RMS.

**Key cost.**  Far from the loss cutoff the decoy-state key rate is linear
in the channel transmittance (R ∝ η·μ e^−μ·[1 − h(e)] − I_ec with I_ec ∝ the
gain too), so the *relative* key cost of the pointing loss equals the
fractional signal loss 1 − ⟨η⟩/η(0).  Near the cutoff (signal approaching the
background) the QBER rises as the signal falls and the true cost is larger;
the link budget's finite-key analysis is the place for that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pointing.errors import PointingError

__all__ = [
    "DEFAULT_SPOT_FWHM_URAD",
    "field_coupling",
    "field_coupling_for_jitter",
    "pointing_key_cost",
]

#: default spot size on the sky (FWHM, µrad): seeing-limited, ~2″
DEFAULT_SPOT_FWHM_URAD = 10.0
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def _check(fov_urad: float, spot_fwhm_urad: float) -> tuple[float, float]:
    if not (math.isfinite(fov_urad) and fov_urad > 0):
        raise PointingError(f"receiving field must be a positive width in µrad, got {fov_urad}")
    if not (math.isfinite(spot_fwhm_urad) and spot_fwhm_urad > 0):
        raise PointingError(f"spot FWHM must be positive in µrad, got {spot_fwhm_urad}")
    return fov_urad / 2.0, spot_fwhm_urad / _FWHM_PER_SIGMA


def field_coupling(offset_urad: Any, fov_urad: float = 100.0,
                   spot_fwhm_urad: float = DEFAULT_SPOT_FWHM_URAD) -> Any:
    """Fraction of a Gaussian spot's power inside a circular field, spot offset by *offset_urad*.

    *offset_urad*: radial offset(s) of the spot from the field's centre (µrad,
    float or array); *fov_urad*: the field's full width; *spot_fwhm_urad*: the
    spot's FWHM.  Returns η in [0, 1] (float for scalar input).
    """
    from scipy.stats import ncx2  # lazy: scipy.stats costs ~0.5 s, which the CLI's
    # start-up (the tracking command's defaults come from here) should not pay

    radius, sigma = _check(fov_urad, spot_fwhm_urad)
    r = np.abs(np.asarray(offset_urad, float))
    out = ncx2.cdf((radius / sigma) ** 2, 2, (r / sigma) ** 2)
    return float(out) if np.ndim(out) == 0 else out


def field_coupling_for_jitter(rms_per_axis_urad: float, fov_urad: float = 100.0,
                              spot_fwhm_urad: float = DEFAULT_SPOT_FWHM_URAD) -> float:
    """Mean coupling under zero-mean circular Gaussian jitter of *rms_per_axis_urad* per axis.

    The jitter convolves the spot into a Gaussian of σ² = σ_spot² + σ_p², so
    ⟨η⟩ = 1 − exp(−R²/2(σ_spot² + σ_p²)), R = fov/2.  An RMS of the radial
    error ``rms_urad`` corresponds to ``rms_urad / √2`` per axis.
    """
    radius, sigma = _check(fov_urad, spot_fwhm_urad)
    if not (math.isfinite(rms_per_axis_urad) and rms_per_axis_urad >= 0):
        raise PointingError(f"jitter RMS must be >= 0 µrad, got {rms_per_axis_urad}")
    return 1.0 - math.exp(-radius**2 / (2.0 * (sigma**2 + rms_per_axis_urad**2)))


def pointing_key_cost(offset_urad: Any, fov_urad: float = 100.0,
                      spot_fwhm_urad: float = DEFAULT_SPOT_FWHM_URAD) -> dict[str, float]:
    """Signal and key cost of the pointing errors *offset_urad* (radial, µrad, one per sample).

    Returns ``coupling_mean`` (⟨η⟩), ``coupling_on_axis`` (η(0)),
    ``pointing_loss_db`` (−10 log₁₀ ⟨η⟩/η(0)) and ``key_cost_fraction``
    (1 − ⟨η⟩/η(0): the relative key lost, linear regime; see the module
    docstring).  NaN for no samples.
    """
    r = np.asarray(offset_urad, float)
    on_axis = field_coupling(0.0, fov_urad, spot_fwhm_urad)
    if r.size == 0:
        return {"coupling_mean": math.nan, "coupling_on_axis": on_axis,
                "pointing_loss_db": math.nan, "key_cost_fraction": math.nan}
    mean = float(np.mean(field_coupling(r, fov_urad, spot_fwhm_urad)))
    ratio = min(mean / on_axis, 1.0)  # rounding in the χ² cdf can put it a hair above 1
    loss_db = max(0.0, -10.0 * math.log10(ratio)) if ratio > 0 else math.inf
    return {"coupling_mean": mean, "coupling_on_axis": on_axis,
            "pointing_loss_db": loss_db, "key_cost_fraction": 1.0 - ratio}
