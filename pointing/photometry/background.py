"""Background noise from the night's off-star counts: map, elevation profile, model.

Every star pointing of the calibration night also counts with the telescope
offset beside the star (sky + dark), and an optional grid of blank-sky
positions (:func:`background_grid`, default 8 azimuths × 5 elevations) fills
the gaps.  From those samples this module fits a model of the count rate

    R(A, h) = D + S · X(h) + L · e^(−h/h_L) · e^(κ (cos(A − A_L) − 1)) + M · m(A, h)

* D: dark counts (a prior from the station's detectors keeps it honest);
* S · X: the sky, growing with the path through the airglow layer
  (:func:`layer_path`, van Rhijn's factor) and dimmed by extinction
  10^(−0.4 k (X − 1));
* a light dome toward the brightest horizon azimuth A_L, fading with
  elevation over h_L degrees, concentrated in azimuth by κ;
* M · m: scattered moonlight with the shape of Krisciunas & Schaefer (1991)
  for the Moon's recorded position and phase at each sample
  (:func:`moonlight_shape`), amplitude fitted.

This functional form is the estimator's own: it is written here, not taken
from the simulator's truth (:mod:`pointing.photometry.sky_model`).  Today both
use the same published shapes (van Rhijn; K&S 1991), so a simulated night
tests the fit, not the choice of shapes; the truth may grow richer (or the
estimator simpler) without the other changing.

and reports the zenith rate, a profile against elevation (mean and worst
azimuth) and ``rural_like_above_deg``: the elevation above which the
azimuth-averaged noise is within 20 % (``background.rural_tolerance``) of its
zenith value.  Directions within ``background.moon_exclusion_deg`` (30°) of the
Moon are left out, for the Moon's mean position during the samples.  The same
figure for the worst azimuth (``rural_like_above_worst_deg``) is reported too;
it is the conservative number for a pass that crosses the light dome, but it is
poorly determined where the sky adds little to the dark counts (a rural site),
so the headline uses the azimuth average.  Its uncertainty comes from drawing
the fitted parameters from their covariance.

Rates are counts s⁻¹ summed over the quantum channels.  Angles are radians in
function arguments (azimuth from north through east); tables and JSON use
degrees.  The station's ``background`` section is validated here
(:class:`BackgroundConfig`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from pointing.config.schema import Field, Section, section_of
from pointing.errors import ConfigError, FitError
from pointing.photometry.config import DetectorConfig, StationSource, dead_time_factor
from pointing.photometry.profile import noise_profile, rural_like_above
from pointing.photometry.skyglow import moon_scattering_nl, van_rhijn_airmass
from pointing.photometry.table import validate_observation_table
from pointing.units import angular_separation

__all__ = [
    "BACKGROUND",
    "BackgroundConfig",
    "BackgroundFit",
    "BackgroundModel",
    "BackgroundSamples",
    "background_grid",
    "background_samples",
    "fit_background",
    "layer_path",
    "moonlight_shape",
    "night_background",
    "noise_profile",
    "rural_like_above",
]

#: scale of the moonlight amplitude: M is in counts/s per 1000 nL of V-band moonlight
_MOON_UNIT_NL = 1000.0
#: fractional noise floor added to each sample (unmodelled sky structure)
_FLOOR = 0.03


@dataclass(frozen=True)
class BackgroundConfig:
    """The station's ``background`` section.

    Keys: ``grid_azimuths_deg`` [0, 45, …, 315], ``grid_elevations_deg``
    [10, 20, 30, 45, 65], ``grid_count_time_s`` [10], ``rural_tolerance`` [0.2],
    ``moon_exclusion_deg`` [30], ``extinction_mag_per_airmass`` [0.05, sets the
    shape of the moonlight term].
    """

    grid_azimuths_deg: tuple[float, ...] = tuple(45.0 * i for i in range(8))
    grid_elevations_deg: tuple[float, ...] = (10.0, 20.0, 30.0, 45.0, 65.0)
    grid_count_time_s: float = 10.0
    rural_tolerance: float = 0.2
    moon_exclusion_deg: float = 30.0
    extinction_mag_per_airmass: float = 0.05

    @classmethod
    def from_station(cls, station: StationSource = None) -> BackgroundConfig:
        """Validate ``station.section("background")`` (ConfigError names the key)."""
        return cls(**BACKGROUND.read(section_of(station, "background")))


#: the ``[background]`` section (absent keys: BackgroundConfig's defaults)
BACKGROUND = Section("background", {
    "grid_azimuths_deg": Field(list, item=Field(float, min=-360, max=360), scalar=True),
    "grid_elevations_deg": Field(list, item=Field(float, min=0, max=90), scalar=True),
    "grid_count_time_s": Field(float, above=0, max=3600),
    "rural_tolerance": Field(float, above=0, max=10),
    "moon_exclusion_deg": Field(float, min=0, max=90),
    "extinction_mag_per_airmass": Field(float, above=0, max=2),
})


def background_grid(station: StationSource = None, *, azimuths_deg: Any = None,
                    elevations_deg: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Blank-sky positions to count on: every azimuth at every elevation.

    Defaults from the station's ``background`` section (8 azimuths × 5
    elevations).  Ordered ring by ring from the lowest elevation, alternating the
    direction of travel in azimuth so that consecutive positions are neighbours.

    Returns
    -------
    az, el : ndarray
        Radians; azimuth from north through east, in [0, 2π).
    """
    cfg = BackgroundConfig.from_station(station)
    az = np.asarray(cfg.grid_azimuths_deg if azimuths_deg is None else azimuths_deg,
                    dtype=float)
    el = np.asarray(cfg.grid_elevations_deg if elevations_deg is None else elevations_deg,
                    dtype=float)
    if az.ndim != 1 or el.ndim != 1:
        raise ConfigError("background grid: azimuths and elevations must be 1-D lists")
    if np.any(~np.isfinite(el)) or np.any((el < 0) | (el > 90)):
        raise ConfigError("background.grid_elevations_deg: must lie within 0..90")
    az = np.sort(np.mod(az, 360.0))
    out_az, out_el = [], []
    for i, e in enumerate(np.sort(el)):
        ring = az if i % 2 == 0 else az[::-1]
        out_az.extend(ring)
        out_el.extend([e] * ring.size)
    return np.radians(np.array(out_az)), np.radians(np.array(out_el))


# --- samples ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackgroundSamples:
    """Background count-rate samples (one per pointing), angles in radians."""

    az: np.ndarray
    el: np.ndarray
    rate_cps: np.ndarray  #: sky + dark, counts/s over all channels (dead-time corrected)
    sigma_cps: np.ndarray  #: Poisson uncertainty of rate_cps
    count_time_s: np.ndarray
    dark_cps: np.ndarray  #: the station's dark rate recorded with the sample (NaN: none)
    moon_az: np.ndarray
    moon_el: np.ndarray
    moon_phase: np.ndarray  #: illuminated fraction 0..1
    camera_sky_adu_s: np.ndarray  #: camera sky level, ADU per pixel per second (NaN: none)
    kind: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return int(self.rate_cps.size)


def background_samples(table: Any, *, channels: int = 4, dead_time_s: float = 0.0
                       ) -> BackgroundSamples:
    """Background samples from a night's observation table.

    Star pointings contribute ``counts_off``; blank-sky rows (kind
    "background") contribute ``counts_off`` and ``counts_star`` (both are sky),
    whichever are present.  Rows without either are skipped.
    """
    t = validate_observation_table(table)
    kind = np.asarray(t["kind"]).astype(str)
    ct = np.asarray(t["count_time_s"], dtype=float)
    off = np.asarray(t["counts_off"], dtype=float)
    on = np.asarray(t["counts_star"], dtype=float)
    blank = kind == "background"
    use_on = blank & np.isfinite(on)
    have_off = np.isfinite(off)
    counts = np.where(have_off, off, 0.0) + np.where(use_on, on, 0.0)
    time = ct * (have_off.astype(float) + use_on.astype(float))
    fac_off = dead_time_factor(np.where(have_off, off, 0.0), ct, channels, dead_time_s)
    fac_on = dead_time_factor(np.where(use_on, on, 0.0), ct, channels, dead_time_s)
    corrected = np.where(have_off, off * fac_off, 0.0) + np.where(use_on, on * fac_on, 0.0)
    ok = (time > 0) & np.isfinite(corrected)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = corrected / time
        # at least one count of noise, so that a zero-count sample still has weight
        sigma = np.sqrt(np.maximum(counts, 1.0)) * np.where(counts > 0, corrected / counts,
                                                             1.0) / time
        cam = (np.asarray(t["camera_sky_adu_per_px"], dtype=float)
               / np.asarray(t["camera_exposure_s"], dtype=float))

    def pick(name: str) -> np.ndarray:
        return np.asarray(t[name], dtype=float)[ok]

    return BackgroundSamples(
        az=np.radians(pick("az_deg")), el=np.radians(pick("el_deg")), rate_cps=rate[ok],
        sigma_cps=sigma[ok], count_time_s=time[ok], dark_cps=pick("dark_cps"),
        moon_az=np.radians(pick("moon_az_deg")), moon_el=np.radians(pick("moon_el_deg")),
        moon_phase=pick("moon_phase"), camera_sky_adu_s=cam[ok], kind=kind[ok],
        time=np.asarray(t["time"]).astype(str)[ok])


# --- the model -------------------------------------------------------------------------------

_PARAMS = ("dark_cps", "sky_cps", "dome_cps", "dome_az_deg", "dome_scale_deg",
           "dome_kappa", "moon_cps_per_knl")


@dataclass(frozen=True)
class BackgroundModel:
    """Fitted background model (see the module docstring), counts/s.

    ``sky_cps`` is the sky at the zenith without Moon or dome; ``dome_cps`` the
    light dome at the horizon toward ``dome_az_deg``; ``moon_cps_per_knl`` the
    count rate per 1000 nL of V-band scattered moonlight (K&S 1991 shape with
    extinction ``k_mag_per_airmass``).
    """

    dark_cps: float
    sky_cps: float
    dome_cps: float = 0.0
    dome_az_deg: float = 0.0
    dome_scale_deg: float = 10.0
    dome_kappa: float = 0.0
    moon_cps_per_knl: float = 0.0
    k_mag_per_airmass: float = 0.05

    @classmethod
    def from_vector(cls, p: np.ndarray, k: float) -> BackgroundModel:
        return cls(*(float(v) for v in p), k_mag_per_airmass=k)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in _PARAMS])

    def rate(self, az: Any, el: Any, moon_az: Any = np.nan, moon_el: Any = np.nan,
             moon_phase: Any = 0.0) -> np.ndarray:
        """Count rate (counts/s) at (az, el) radians with the Moon at (moon_az, moon_el)."""
        k = self.k_mag_per_airmass
        return _model(self.vector(), np.asarray(az, dtype=float), np.asarray(el, dtype=float),
                      _moon_shape(az, el, moon_az, moon_el, moon_phase, k), k)


def layer_path(el: Any) -> np.ndarray:
    """The estimator's sky brightening toward the horizon: van Rhijn's factor
    (:func:`pointing.photometry.skyglow.van_rhijn_airmass`; *el* in radians)."""
    return van_rhijn_airmass(el)


def moonlight_shape(az: Any, el: Any, moon_az: Any, moon_el: Any, moon_phase: Any,
                    k_mag_per_airmass: float = 0.05) -> np.ndarray:
    """The estimator's shape of scattered moonlight on the sky, V-band nanolamberts.

    Krisciunas & Schaefer (1991, PASP 103, 1033), their eqs. 15-21: the Moon's
    illuminance ``10^(−0.4 (3.84 + 0.026|α| + 4e-9 α⁴))`` at phase angle α
    (deg, α = arccos(2·phase − 1)), the scattering function
    ``f(ρ) = 10^5.36 (1.06 + cos²ρ) + 10^(6.15 − ρ/40)`` (6.2e7/ρ² within 10°
    of the Moon), times ``10^(−0.4 k X_moon) (1 − 10^(−0.4 k X))`` with X from
    :func:`layer_path`.  Zero where the Moon is down, its position NaN, or new.
    Only the shape matters to the fit: its amplitude M is fitted.
    """
    return moon_scattering_nl(az, el, moon_az, moon_el, moon_phase, k_mag_per_airmass)


def _moon_shape(az: Any, el: Any, moon_az: Any, moon_el: Any, moon_phase: Any, k: float
                ) -> np.ndarray:
    return moonlight_shape(az, el, moon_az, moon_el, moon_phase, k) / _MOON_UNIT_NL


def _model(p: np.ndarray, az: np.ndarray, el: np.ndarray, moon: np.ndarray, k: float
           ) -> np.ndarray:
    """R(A, h) for parameters p (see _PARAMS), moonlight shape *moon*, extinction k."""
    d, s, lum, a_l, h_l, kappa, m = p
    h = np.degrees(np.clip(el, 0.0, None))
    dome = lum * np.exp(-h / h_l) * np.exp(kappa * (np.cos(az - math.radians(a_l)) - 1.0))
    x = layer_path(el)
    return d + s * x * 10.0 ** (-0.4 * k * (x - 1.0)) + dome + m * moon


# --- fitting ---------------------------------------------------------------------------------


@dataclass
class BackgroundFit:
    """Background model fitted to one night's samples, with the derived figures."""

    model: BackgroundModel
    sigmas: dict[str, float]
    samples: BackgroundSamples
    model_at_samples: np.ndarray
    zenith_cps: float
    zenith_sigma_cps: float
    rural_like_above_deg: float
    rural_like_above_sigma_deg: float
    rural_like_above_worst_deg: float
    rural_like_above_worst_sigma_deg: float
    profile_el_deg: np.ndarray
    profile_mean_cps: np.ndarray
    profile_max_cps: np.ndarray
    moon: dict[str, float | None]
    chi2_reduced: float
    grid: list[dict]
    config: BackgroundConfig
    flags: list[str] = field(default_factory=list)

    def rate(self, az: Any, el: Any) -> np.ndarray:
        """Model count rate (counts/s) at (az, el) radians, Moon at its mean position."""
        return self.model.rate(az, el, self.moon["az_rad"], self.moon["el_rad"],
                               self.moon["phase"] or 0.0)

    def noise_at(self, el: float) -> float:
        """Worst-azimuth noise (counts/s) at elevation *el* (radians), Moon excluded."""
        e = math.degrees(el)
        return float(np.interp(e, self.profile_el_deg, self.profile_max_cps))

    def profile(self, step_deg: float = 5.0) -> list[dict]:
        """Profile rows every *step_deg*: model mean and worst azimuth, and the
        median of the samples within ±step/2."""
        rows = []
        el_s = np.degrees(self.samples.el)
        for e in np.arange(0.0, 90.001, step_deg):
            sel = np.abs(el_s - e) <= 0.5 * step_deg
            rows.append({
                "el_deg": float(e),
                "model_mean_cps": float(np.interp(e, self.profile_el_deg,
                                                  self.profile_mean_cps)),
                "model_max_cps": float(np.interp(e, self.profile_el_deg,
                                                 self.profile_max_cps)),
                "measured_median_cps": (float(np.median(self.samples.rate_cps[sel]))
                                        if sel.any() else None),
                "n_samples": int(sel.sum()),
            })
        return rows

    def to_dict(self) -> dict:
        """JSON-ready summary (the night's ``summary.json["background"]``)."""
        m = self.model
        cam = self.samples.camera_sky_adu_s
        cam = cam[np.isfinite(cam)]
        return {
            "zenith_cps": self.zenith_cps,
            "zenith_sigma_cps": self.zenith_sigma_cps,
            "rural_like_above_deg": self.rural_like_above_deg,
            "rural_like_above_sigma_deg": self.rural_like_above_sigma_deg,
            "rural_like_above_worst_deg": self.rural_like_above_worst_deg,
            "rural_like_above_worst_sigma_deg": self.rural_like_above_worst_sigma_deg,
            "rural_tolerance": self.config.rural_tolerance,
            "profile": self.profile(),
            "grid": self.grid,
            "model": {name: getattr(m, name) for name in _PARAMS}
            | {"k_mag_per_airmass": m.k_mag_per_airmass},
            "model_sigma": dict(self.sigmas),
            "moon": {k: v for k, v in self.moon.items() if not k.endswith("_rad")},
            "n_samples": len(self.samples),
            "chi2_reduced": self.chi2_reduced,
            "camera_sky_adu_per_px_s_median": float(np.median(cam)) if cam.size else None,
            "flags": list(self.flags),
        }


def _mean_moon(s: BackgroundSamples) -> dict[str, float | None]:
    up = np.isfinite(s.moon_el) & np.isfinite(s.moon_az)
    if not up.any():
        return {"az_deg": None, "el_deg": None, "phase": None, "az_rad": math.nan,
                "el_rad": math.nan}
    az = math.atan2(np.mean(np.sin(s.moon_az[up])), np.mean(np.cos(s.moon_az[up])))
    el = float(np.mean(s.moon_el[up]))
    phase = s.moon_phase[up]
    ph = float(np.mean(phase[np.isfinite(phase)])) if np.isfinite(phase).any() else 0.0
    return {"az_deg": math.degrees(az) % 360.0, "el_deg": math.degrees(el), "phase": ph,
            "az_rad": az, "el_rad": el}


def fit_background(samples: BackgroundSamples, config: BackgroundConfig | None = None, *,
                   dark_prior_cps: float | None = None, light_dome: bool | None = None
                   ) -> BackgroundFit:
    """Fit the background model to samples; derive zenith rate, profile and the
    rural-like elevation.

    Parameters
    ----------
    samples : BackgroundSamples
        From :func:`background_samples`.
    config : BackgroundConfig, optional
        Grid, tolerance, Moon exclusion, extinction for the moonlight shape.
    dark_prior_cps : float, optional
        Expected total dark rate (counts/s); default: the samples' ``dark_cps``.
        It enters as a prior of width 20 % + 1 cps on D.
    light_dome : bool, optional
        Fit the light-dome term (True), leave it out (False), or keep it only
        when it improves the fit by more than the Bayesian information
        criterion's price for four parameters (None, the default).

    Raises
    ------
    FitError
        No samples, or fewer than 3.  With fewer than 12 samples, or none below
        30°, only part of the model is fitted and the result is flagged.
    """
    # over 80 lines by its docstring and the derived figures it assembles; the fit is in
    # _staged_fit, the uncertainties in _figure_sigmas
    cfg = config or BackgroundConfig()
    n = len(samples)
    if n == 0:
        raise FitError("no background samples: no pointing has off-star counts "
                       "(counts_off) or blank-sky counts")
    if n < 3:
        raise FitError(f"only {n} background sample(s); need at least 3")
    flags: list[str] = []
    s = samples
    k = cfg.extinction_mag_per_airmass
    moon = _moon_shape(s.az, s.el, s.moon_az, s.moon_el, s.moon_phase, k)
    sigma = np.sqrt(s.sigma_cps**2 + (_FLOOR * s.rate_cps) ** 2) + 1e-9
    if dark_prior_cps is None:
        finite = s.dark_cps[np.isfinite(s.dark_cps)]
        dark_prior_cps = float(np.median(finite)) if finite.size else None
    if dark_prior_cps is None:
        flags.append("no dark rate recorded: dark counts fitted freely")
    el_deg = np.degrees(s.el)
    can_dome = n >= 12 and bool(np.any(el_deg < 30.0)) and light_dome is not False
    if n < 12:
        flags.append(f"only {n} samples: light-dome and moonlight terms not fitted")
    elif not np.any(el_deg < 30.0):
        flags.append("no samples below 30 deg elevation: light-dome term not fitted")
    fit_moon = n >= 12 and bool(np.any(moon > 0))

    res, p, chi2, free = _staged_fit(s, moon, sigma, k, dark_prior_cps, fit_moon=fit_moon,
                                     can_dome=can_dome, light_dome=light_dome, flags=flags)
    p[3] = p[3] % 360.0
    model = BackgroundModel.from_vector(p, k)
    pred = _model(p, s.az, s.el, moon, k)
    dof = max(n - int(free.sum()), 1)
    chi2_red = chi2 / dof
    jac = res.jac
    cov = np.linalg.pinv(jac.T @ jac) * max(1.0, chi2_red)
    sig_vec = np.zeros(len(_PARAMS))
    sig_vec[free] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    sigmas = {name: float(v) for name, v in zip(_PARAMS, sig_vec, strict=True)}

    mm = _mean_moon(s)
    moon_args = (mm["az_rad"], mm["el_rad"], mm["phase"] or 0.0)

    def rate(az: np.ndarray, el: np.ndarray) -> np.ndarray:
        return model.rate(az, el, *moon_args)

    prof_el, prof_mean, prof_max = noise_profile(
        rate, moon_az=mm["az_rad"], moon_el=mm["el_rad"],
        moon_exclusion_deg=cfg.moon_exclusion_deg)
    zenith = float(rate(np.array(0.0), np.array(0.5 * math.pi)))
    tol = cfg.rural_tolerance
    rural = rural_like_above(prof_el, prof_mean, zenith, tol)
    rural_worst = rural_like_above(prof_el, prof_max, zenith, tol)

    zen_sigma, rural_sigma, worst_sigma = _figure_sigmas(p, free, res.x, cov, k, mm, cfg,
                                                         flags)

    if rural <= float(el_deg.min()) - 5.0:
        flags.append(f"rural-like elevation {rural:.1f} deg is below the lowest sample "
                     f"({el_deg.min():.1f} deg): extrapolated")
    if rural_sigma > 3.0:
        flags.append(f"rural-like elevation poorly determined (+-{rural_sigma:.1f} deg): "
                     "the noise changes little with elevation")
    if not (np.isfinite(s.moon_el).any()):
        flags.append("Moon position not recorded: no moonlight term")
    grid = _grid_rows(cfg, s, rate)
    return BackgroundFit(
        model=model, sigmas=sigmas, samples=s, model_at_samples=pred, zenith_cps=zenith,
        zenith_sigma_cps=zen_sigma, rural_like_above_deg=rural,
        rural_like_above_sigma_deg=rural_sigma, rural_like_above_worst_deg=rural_worst,
        rural_like_above_worst_sigma_deg=worst_sigma, profile_el_deg=prof_el,
        profile_mean_cps=prof_mean, profile_max_cps=prof_max, moon=mm,
        chi2_reduced=chi2_red, grid=grid, config=cfg, flags=flags)


#: bounds of the model parameters (see _PARAMS)
_LOWER = np.array([0.0, 0.0, 0.0, -np.inf, 2.0, 0.0, 0.0])
_UPPER = np.array([np.inf, np.inf, np.inf, np.inf, 30.0, 8.0, np.inf])


def _staged_fit(s: BackgroundSamples, moon: np.ndarray, sigma: np.ndarray, k: float,
                dark_prior_cps: float | None, *, fit_moon: bool, can_dome: bool,
                light_dome: bool | None, flags: list[str]) -> tuple[Any, np.ndarray, float,
                                                                    np.ndarray]:
    """Dark + sky (+ moon), then the light dome if it pays, then Poisson weights.

    Returns (least-squares result, parameters, chi², free-parameter mask).
    """
    n = len(s)
    el_deg = np.degrees(s.el)
    zen = s.rate_cps[el_deg >= np.percentile(el_deg, 75)]
    d0 = dark_prior_cps if dark_prior_cps is not None else 0.8 * float(s.rate_cps.min())
    s0 = max(float(np.median(zen)) - d0, 0.1)
    lower, upper = _LOWER, _UPPER

    def run(free: np.ndarray, base: np.ndarray):
        def residuals(q: np.ndarray) -> np.ndarray:
            p = base.copy()
            p[free] = q
            r = (s.rate_cps - _model(p, s.az, s.el, moon, k)) / sigma
            if dark_prior_cps is not None:
                r = np.append(r, (p[0] - dark_prior_cps) / (0.2 * dark_prior_cps + 1.0))
            return r

        x0 = np.clip(base[free], lower[free], upper[free])
        res = least_squares(residuals, x0, bounds=(lower[free], upper[free]),
                            loss="soft_l1", f_scale=3.0, x_scale="jac", max_nfev=500)
        p = base.copy()
        p[free] = res.x
        chi2 = float(np.sum(((s.rate_cps - _model(p, s.az, s.el, moon, k)) / sigma) ** 2))
        return res, p, chi2

    # 1. dark + sky (+ moonlight)
    free = np.array([True, True, False, False, False, False, fit_moon])
    base = np.array([d0, s0, 0.0, 0.0, 10.0, 0.0, 1.0 if fit_moon else 0.0])
    res, p, chi2 = run(free, base)
    # 2. add the light dome, started toward the brightest excess near the horizon; keep it
    #    only if it pays for its four parameters (Bayesian information criterion)
    if can_dome:
        low = el_deg < 30.0
        excess = (s.rate_cps - _model(p, s.az, s.el, moon, k))[low]
        a_best = float(np.degrees(s.az[low][np.argmax(excess)]))
        lum0 = max(float(np.max(excess)) * math.exp(float(el_deg[low][np.argmax(excess)])
                                                      / 8.0), 1.0)
        free_d = free.copy()
        free_d[2:6] = True
        best = None
        for a0 in (a_best, a_best + 120.0, a_best + 240.0):
            trial = run(free_d, np.array([p[0], p[1], lum0, a0, 8.0, 2.0, p[6]]))
            if best is None or trial[0].cost < best[0].cost:
                best = trial
        if light_dome or chi2 - best[2] > 4.0 * math.log(n):
            res, p, chi2 = best
            free = free_d
        else:
            flags.append("no significant light dome")
    # 3. refit with the Poisson variance of the model rather than of the observed counts
    #    (weights from observed counts favour low fluctuations and bias the rates low)
    pred = np.maximum(_model(p, s.az, s.el, moon, k), 1e-3)
    sigma = np.sqrt(pred / s.count_time_s + (_FLOOR * pred) ** 2)
    res, p, chi2 = run(free, p)
    return res, p, chi2, free


def _figure_sigmas(p: np.ndarray, free: np.ndarray, x: np.ndarray, cov: np.ndarray, k: float,
                   mm: dict, cfg: BackgroundConfig, flags: list[str]
                   ) -> tuple[float, float, float]:
    """Uncertainties of the zenith rate and the two rural-like elevations.

    The free parameters are redrawn from their covariance (seeded, so the
    report is reproducible) and the figures recomputed on a coarse grid.
    """
    lower, upper = _LOWER, _UPPER
    moon_args = (mm["az_rad"], mm["el_rad"], mm["phase"] or 0.0)
    tol = cfg.rural_tolerance
    res_x = x
    rng = np.random.default_rng(0)
    try:
        draws = (rng.multivariate_normal(res_x, cov, size=200, method="eigh")
                 if np.all(np.isfinite(cov)) else np.empty((0, res_x.size)))
    except (np.linalg.LinAlgError, ValueError):
        draws = np.empty((0, res_x.size))
    if draws.shape[0] == 0:
        flags.append("parameter covariance not usable: uncertainties of the derived "
                     "figures unknown")
    zen_d, rural_d, worst_d = [], [], []
    el_coarse = np.arange(0.0, 90.001, 1.0)
    for q in draws:
        pd = p.copy()
        pd[free] = q
        pd[[0, 1, 2, 6]] = np.maximum(pd[[0, 1, 2, 6]], 0.0)
        pd[4] = np.clip(pd[4], lower[4], upper[4])
        pd[5] = np.clip(pd[5], lower[5], upper[5])
        md = BackgroundModel.from_vector(pd, k)
        e_d, mean_d, max_d = noise_profile(
            lambda a, e, md=md: md.rate(a, e, *moon_args), el_deg=el_coarse,
            az_step_deg=10.0, moon_az=mm["az_rad"], moon_el=mm["el_rad"],
            moon_exclusion_deg=cfg.moon_exclusion_deg)
        z = float(mean_d[-1])
        zen_d.append(z)
        rural_d.append(rural_like_above(e_d, mean_d, z, tol))
        worst_d.append(rural_like_above(e_d, max_d, z, tol))
    zen_sigma = float(np.std(zen_d)) if zen_d else math.nan
    rural_sigma = float(np.std(rural_d)) if rural_d else math.nan
    worst_sigma = float(np.std(worst_d)) if worst_d else math.nan

    return zen_sigma, rural_sigma, worst_sigma


def _grid_rows(cfg: BackgroundConfig, s: BackgroundSamples,
               rate: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> list[dict]:
    """Model at the configured grid positions, with the nearest sample within 3°."""

    az, el = background_grid(azimuths_deg=cfg.grid_azimuths_deg,
                             elevations_deg=cfg.grid_elevations_deg)
    rows = []
    model = rate(az, el)
    for a, e, m in zip(az, el, model, strict=True):
        sep = angular_separation(a, e, s.az, s.el)
        j = int(np.argmin(sep)) if sep.size else -1
        near = j >= 0 and sep[j] < math.radians(3.0)
        rows.append({"az_deg": float(math.degrees(a)), "el_deg": float(math.degrees(e)),
                     "model_cps": float(m),
                     "measured_cps": float(s.rate_cps[j]) if near else None})
    return rows


def night_background(table: Any, station: StationSource = None, *,
                     config: BackgroundConfig | None = None,
                     detectors: DetectorConfig | None = None) -> BackgroundFit:
    """Background map, profile and rural-like elevation from a night's table.

    *station* supplies the ``background`` and ``detectors`` sections (defaults
    when None); the dark-rate prior is the table's ``dark_cps`` or else the
    station's total dark rate.
    """
    cfg = config or BackgroundConfig.from_station(station)
    det = detectors or DetectorConfig.from_station(station)
    samples = background_samples(table, channels=det.channels, dead_time_s=det.dead_time_s)
    finite = samples.dark_cps[np.isfinite(samples.dark_cps)]
    prior = float(np.median(finite)) if finite.size else det.total_dark_cps
    return fit_background(samples, cfg, dark_prior_cps=prior)
