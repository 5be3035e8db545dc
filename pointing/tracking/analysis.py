"""How well a pass was tracked: the figures of the published Fig. 5, from a tracking log.

Definitions (all µrad unless said; X = cross-elevation, Y = elevation)
---------------------------------------------------------------------
* **Selection**: the samples that are ``locked`` and at or above ``min_el_deg``
  (default 20°, where the QKD link is used).  Every statistic below except the
  acquisition and lock times is over the selection, one weight per sample
  (the time fraction for a regularly sampled log).
* **RMS**: about zero, not about the mean: the error is the offset from the
  calibration pixel, so a bias counts.  ``rms_x = √⟨x²⟩``, ``rms_y = √⟨y²⟩``,
  ``rms = √⟨x² + y²⟩`` (= √(rms_x² + rms_y²)).  The means are reported too.
* **In the field**: the target is inside the receiving field when its radial
  offset √(x² + y²) < ``fov_urad / 2``: ``fov_urad`` is the field's full
  angular width (the domain's "receiving field of view 100 µrad" is a 100 µrad
  wide field stop, 50 µrad radius).
* **Largest excursion**: max √(x² + y²) and when it happened.
* **Acquisition** is the first sample with a target (``detected``, or locked);
  **lock time** = first locked sample − acquisition (s; None if never locked).
  Times are seconds from the log's first sample.
* **Spectrum**: Welch PSDs of X and Y on the longest gap-free run of the
  selection and the corner frequency where the error spectrum rolls off
  (:mod:`pointing.tracking.spectrum`): about the servo's bandwidth.
* **Key cost**: the pointing loss of a Gaussian spot in a circular field and
  the relative key cost (:mod:`pointing.link.coupling`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointing.errors import PointingError
from pointing.link.coupling import DEFAULT_SPOT_FWHM_URAD, pointing_key_cost
from pointing.tracking.log import TrackingLog
from pointing.tracking.spectrum import ErrorSpectrum, error_spectrum

__all__ = ["TrackingAnalysis", "analyse_tracking"]


@dataclass(frozen=True)
class TrackingAnalysis:
    """The figures of one tracking log (see the module docstring for definitions)."""

    log: TrackingLog
    selected: np.ndarray  # bool per sample: locked and el >= min_el_deg
    min_el_deg: float
    fov_urad: float
    spot_fwhm_urad: float
    n_samples: int
    duration_s: float  # selected samples × median interval
    rms_x_urad: float
    rms_y_urad: float
    rms_urad: float
    mean_x_urad: float
    mean_y_urad: float
    fraction_in_fov: float
    max_urad: float
    max_time_s: float | None
    acquisition_time_s: float | None
    lock_time_s: float | None
    n_lock_losses: int
    spectrum: ErrorSpectrum | None
    coupling_mean: float
    pointing_loss_db: float
    key_cost_fraction: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (NaN → None; the PSD arrays left out)."""
        sp = self.spectrum
        out: dict[str, Any] = {
            "source": self.log.source, "t0": self.log.t0, "n_samples": self.n_samples,
            "n_log_samples": len(self.log), "duration_s": self.duration_s,
            "min_el_deg": self.min_el_deg, "fov_urad": self.fov_urad,
            "spot_fwhm_urad": self.spot_fwhm_urad,
            "rms_x_urad": self.rms_x_urad, "rms_y_urad": self.rms_y_urad,
            "rms_urad": self.rms_urad, "mean_x_urad": self.mean_x_urad,
            "mean_y_urad": self.mean_y_urad, "fraction_in_fov": self.fraction_in_fov,
            "max_urad": self.max_urad, "max_time_s": self.max_time_s,
            "acquisition_time_s": self.acquisition_time_s, "lock_time_s": self.lock_time_s,
            "n_lock_losses": self.n_lock_losses,
            "sample_rate_hz": sp.sample_rate_hz if sp else None,
            "psd_n_samples": sp.n_samples if sp else 0,
            "psd_corner_x_hz": sp.corner_x_hz if sp else None,
            "psd_corner_y_hz": sp.corner_y_hz if sp else None,
            "psd_corner_hz": sp.corner_hz if sp else None,
            "coupling_mean": self.coupling_mean, "pointing_loss_db": self.pointing_loss_db,
            "key_cost_fraction": self.key_cost_fraction,
        }
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in out.items()}


def _check_options(min_el_deg: float, fov_urad: float, spot_fwhm_urad: float) -> None:
    if not (math.isfinite(min_el_deg) and -90.0 <= min_el_deg <= 90.0):
        raise PointingError(f"--min-el must be an elevation in [-90, 90] deg, got {min_el_deg}")
    if not (math.isfinite(fov_urad) and fov_urad > 0):
        raise PointingError(f"--fov-urad must be a positive width in µrad, got {fov_urad}")
    if not (math.isfinite(spot_fwhm_urad) and spot_fwhm_urad > 0):
        raise PointingError(f"--spot-urad must be a positive FWHM in µrad, got {spot_fwhm_urad}")


def _lock_events(log: TrackingLog) -> tuple[float | None, float | None, int]:
    """(acquisition time, lock time after acquisition, number of lock losses after lock)."""
    seen = np.flatnonzero(log.detected | log.locked)
    if seen.size == 0:
        return None, None, 0
    t_acq = float(log.t_s[seen[0]])
    locked = np.flatnonzero(log.locked)
    if locked.size == 0:
        return t_acq, None, 0
    after = log.locked[locked[0]:]
    losses = int(np.count_nonzero(after[:-1] & ~after[1:]))
    return t_acq, float(log.t_s[locked[0]]) - t_acq, losses


def analyse_tracking(log: TrackingLog, *, min_el_deg: float = 20.0, fov_urad: float = 100.0,
                     spot_fwhm_urad: float = DEFAULT_SPOT_FWHM_URAD) -> TrackingAnalysis:
    """The Fig. 5 figures of *log*: RMS, time in the field, excursion, lock, spectrum, key cost."""
    _check_options(min_el_deg, fov_urad, spot_fwhm_urad)
    sel = log.locked & (log.el_deg >= min_el_deg)
    x, y = log.x_urad[sel], log.y_urad[sel]
    r = np.hypot(x, y)
    n = int(sel.sum())
    nan = math.nan
    dt = np.diff(log.t_s)
    step = float(np.median(dt)) if dt.size else 0.0
    k = int(np.argmax(r)) if n else None
    t_acq, t_lock, losses = _lock_events(log)
    cost = pointing_key_cost(r, fov_urad, spot_fwhm_urad)
    return TrackingAnalysis(
        log=log, selected=sel, min_el_deg=float(min_el_deg), fov_urad=float(fov_urad),
        spot_fwhm_urad=float(spot_fwhm_urad), n_samples=n, duration_s=n * step,
        rms_x_urad=float(np.sqrt(np.mean(x**2))) if n else nan,
        rms_y_urad=float(np.sqrt(np.mean(y**2))) if n else nan,
        rms_urad=float(np.sqrt(np.mean(r**2))) if n else nan,
        mean_x_urad=float(np.mean(x)) if n else nan,
        mean_y_urad=float(np.mean(y)) if n else nan,
        fraction_in_fov=float(np.mean(r < fov_urad / 2.0)) if n else nan,
        max_urad=float(r[k]) if n else nan,
        max_time_s=float(log.t_s[sel][k]) if n else None,
        acquisition_time_s=t_acq, lock_time_s=t_lock, n_lock_losses=losses,
        spectrum=error_spectrum(log.t_s, log.x_urad, log.y_urad, sel),
        coupling_mean=cost["coupling_mean"], pointing_loss_db=cost["pointing_loss_db"],
        key_cost_fraction=cost["key_cost_fraction"])
