"""The station's efficiency from a night's star counts: per star, and above the atmosphere.

The calibration night points at stars of known Cousins I magnitude and counts
their photons with the quantum detectors.  This module turns those counts into
the station's efficiency:

* :func:`star_efficiency` -- detected / expected photons for each star, with
  its uncertainty (Poisson counts, background, magnitude);
  :func:`expected_star_counts` is the forward model it inverts;
* :func:`night_efficiency` -- on a night's observation table
  (:mod:`pointing.photometry.table`): per-star efficiency, then the extinction
  fit (:func:`pointing.photometry.extinction.fit_extinction`) that separates η₀
  from k;
* :func:`camera_efficiency` -- the same from the tracking camera's aperture
  photometry, in camera units, as a relative transparency measure;
* :func:`station_efficiency` -- which of the two a night's table supports (the
  choice the ``pointing efficiency`` command reports).

The pieces live beside it: :mod:`~pointing.photometry.bands` (bands, stellar
photon flux), :mod:`~pointing.photometry.config` (the ``[photometry]`` and
``[detectors]`` sections), :mod:`~pointing.photometry.extinction` (air mass,
the fit, :class:`EfficiencyResult`), :mod:`~pointing.photometry.aperture`
(camera aperture photometry).

Angles are radians in every function argument (elevation is the apparent,
refracted elevation); azimuth is reckoned from north (0) through east (π/2).
Tables and JSON use degrees, in columns and keys ending in ``_deg``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.errors import FitError
from pointing.photometry.bands import (
    LN10_04,
    star_photon_flux,
)
from pointing.photometry.config import (
    DetectorConfig,
    PhotometryConfig,
    StationSource,
    dead_time_factor,
)
from pointing.photometry.extinction import EfficiencyResult, airmass, fit_extinction
from pointing.photometry.table import (
    excluded_by_flags,
    star_labels,
    star_rows,
    validate_observation_table,
)

__all__ = [
    "StarEfficiency",
    "StationEfficiency",
    "camera_efficiency",
    "expected_star_counts",
    "night_efficiency",
    "star_efficiency",
    "station_efficiency",
]


@dataclass(frozen=True)
class StarEfficiency:
    """Per-star efficiency arrays (see :func:`star_efficiency`)."""

    eta: np.ndarray  #: detected / expected photons (includes the atmosphere)
    eta_sigma: np.ndarray  #: 1-σ uncertainty of eta
    expected_photons: np.ndarray  #: photons at the telescope entrance above the atmosphere
    net_counts: np.ndarray  #: star counts − background (dead-time corrected)
    net_sigma: np.ndarray  #: Poisson uncertainty of net_counts
    mag_sigma: np.ndarray  #: magnitude uncertainty used for each star


def expected_star_counts(imag: Any, v_minus_i: Any, el: Any, count_time_s: Any, *,
                         eta0: float, k_mag_per_airmass: float, area_m2: float,
                         band: Any = None) -> np.ndarray:
    """Mean detected counts of a star: flux · area · time · η₀ · 10^(−0.4 k X(el)).

    The forward model the efficiency fit inverts (and that a simulator draws
    Poisson counts from).  *el* is the apparent elevation in radians.
    """
    flux = np.asarray(star_photon_flux(imag, v_minus_i, band))
    x = np.asarray(airmass(el))
    return (flux * area_m2 * np.asarray(count_time_s, dtype=float) * eta0
            * 10.0 ** (-0.4 * k_mag_per_airmass * x))


def star_efficiency(counts_star: Any, counts_off: Any, count_time_s: Any, imag: Any,
                    v_minus_i: Any = None, *, area_m2: float, band: Any = None,
                    magnitude_sigma: float = 0.03, unknown_colour_sigma: float = 0.10,
                    dark_cps: Any = None, channels: int = 4, dead_time_s: float = 0.0
                    ) -> StarEfficiency:
    """Efficiency of each star measurement: η = net counts / expected photons.

    Parameters
    ----------
    counts_star : array
        Total counts over the quantum channels with the star on the fibre.
    counts_off : array
        Total counts with the telescope offset beside the star (sky + dark),
        in the same count time.  NaN: no off-star measurement; then only
        ``dark_cps · count_time_s`` is subtracted (the sky is not).
    count_time_s : array
        Counting time (s) of each of the two measurements.
    imag, v_minus_i : array
        Cousins I magnitude and V−I colour (NaN or None: unknown colour, taken
        as 0 with *unknown_colour_sigma* added to the magnitude uncertainty).
    area_m2 : float
        Clear collecting area (m²).
    band : Band or spec
        Receive band (:meth:`Band.from_spec`).
    magnitude_sigma : float
        Uncertainty of the catalogue I magnitude (mag).
    dark_cps : array, optional
        Total dark rate (counts/s), used only where counts_off is NaN.
    channels, dead_time_s :
        Detector count and non-paralysable dead time (s) for the dead-time
        correction (0: none).

    Returns
    -------
    StarEfficiency
        η has the atmosphere in it (η = η₀ · 10^(−0.4 k X)).  Its uncertainty
        combines the Poisson noise of both counts and the magnitude
        uncertainty: σ_η/η = √(σ_N²/N² + (0.4 ln10 σ_m)²).
    """
    cs = np.asarray(counts_star, dtype=float)
    co = np.asarray(counts_off, dtype=float)
    t = np.asarray(count_time_s, dtype=float)
    imag = np.asarray(imag, dtype=float)
    vi = (np.full(imag.shape, np.nan) if v_minus_i is None
          else np.asarray(v_minus_i, dtype=float))
    cs, co, t, imag, vi = np.broadcast_arrays(cs, co, t, imag, vi)
    fs = dead_time_factor(cs, t, channels, dead_time_s)
    fo = dead_time_factor(np.where(np.isfinite(co), co, 0.0), t, channels, dead_time_s)
    dark = (np.zeros(cs.shape) if dark_cps is None
            else np.broadcast_to(np.asarray(dark_cps, dtype=float), cs.shape))
    have_off = np.isfinite(co)
    background = np.where(have_off, co * fo, dark * t)
    net = cs * fs - background
    var = cs * fs**2 + np.where(have_off, co * fo**2, 0.0)
    expected = np.asarray(star_photon_flux(imag, vi, band)) * area_m2 * t
    mag_sigma = np.hypot(magnitude_sigma,
                         np.where(np.isfinite(vi), 0.0, unknown_colour_sigma))
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = net / expected
        rel = np.sqrt(var / net**2 + (LN10_04 * mag_sigma) ** 2)
    return StarEfficiency(eta=eta, eta_sigma=np.abs(eta) * rel, expected_photons=expected,
                          net_counts=net, net_sigma=np.sqrt(var), mag_sigma=mag_sigma)




def night_efficiency(table: Any, station: StationSource = None, *,
                     photometry: PhotometryConfig | None = None,
                     detectors: DetectorConfig | None = None,
                     k_fixed: float | None = None) -> EfficiencyResult:
    """Station efficiency η₀ and extinction k from a night's observation table.

    Parameters
    ----------
    table : astropy.table.Table
        Observation table (:func:`pointing.photometry.table.read_observation_table`
        or ``make_observation_table``); rows of kind "model" or "verify" with
        ``hip >= 0`` are stars.  Rows whose ``flags`` contain one of
        ``bad, lost, no_star, saturated, cloud, skip`` are rejected with that reason.
    station : Station, mapping of sections, or None
        Supplies the ``photometry`` and ``detectors`` sections and the aperture
        (defaults when None).
    photometry, detectors : optional
        Already-validated configurations (override *station*).
    k_fixed : float, optional
        Hold the extinction at this value (mag/airmass), e.g. for a night whose
        stars are all at one airmass.

    Returns
    -------
    EfficiencyResult
        with ``per_star`` rows carrying hip, time, az_deg, el_deg, imag,
        v_minus_i, airmass, expected_photons, net_counts, eta, eta_sigma,
        residual_mag, used, reason.

    Raises
    ------
    FitError
        Too few usable stars, or stars at one airmass (message says which and why).
    """
    table = validate_observation_table(table)
    pcfg = photometry or PhotometryConfig.from_station(station)
    dcfg = detectors or DetectorConfig.from_station(station)
    rows = star_rows(table)
    if rows.size == 0:
        raise FitError("no star measurements in the observation table (rows of kind "
                       "'model' or 'verify' with hip >= 0)")
    dark = np.asarray(table["dark_cps"], dtype=float)[rows]
    dark = np.where(np.isfinite(dark), dark, dcfg.total_dark_cps)
    se = star_efficiency(
        np.asarray(table["counts_star"], dtype=float)[rows],
        np.asarray(table["counts_off"], dtype=float)[rows],
        np.asarray(table["count_time_s"], dtype=float)[rows],
        np.asarray(table["imag"], dtype=float)[rows],
        np.asarray(table["v_minus_i"], dtype=float)[rows],
        area_m2=pcfg.area_m2, band=pcfg.band, magnitude_sigma=pcfg.magnitude_sigma,
        unknown_colour_sigma=pcfg.unknown_colour_sigma, dark_cps=dark,
        channels=dcfg.channels, dead_time_s=dcfg.dead_time_s)
    el = np.radians(np.asarray(table["el_deg"], dtype=float)[rows])
    x = np.asarray(airmass(el), dtype=float)
    labels = star_labels(table, rows)
    result = fit_extinction(x, se.eta, se.eta_sigma, clip_sigma=pcfg.clip_sigma,
                            min_points=pcfg.min_stars,
                            min_airmass_span=pcfg.min_airmass_span, k_fixed=k_fixed,
                            labels=labels, excluded=excluded_by_flags(table, rows))
    result.rejected = [{k: r[k] for k in ("hip", "time", "kind", "el_deg")}
                       | {"reason": r["reason"]} for r in result.per_star if not r["used"]]
    for j, row in enumerate(result.per_star):
        row["expected_photons"] = float(se.expected_photons[j])
        row["net_counts"] = float(se.net_counts[j])
        if not np.isfinite(np.asarray(table["counts_off"], dtype=float)[rows[j]]):
            row["reason"] = (row["reason"] + "; " if row["reason"] else "") + \
                "no off-star counts: only the dark rate subtracted"
    if np.any(~np.isfinite(np.asarray(table["counts_off"], dtype=float)[rows])):
        result.flags.append("some stars lack off-star counts: sky not subtracted for them")
    result.band = pcfg.band.description
    result.design_efficiency = pcfg.design_efficiency
    return result




def camera_efficiency(table: Any, station: StationSource = None, *,
                      photometry: PhotometryConfig | None = None,
                      k_fixed: float | None = None) -> EfficiencyResult:
    """Relative transparency from the tracking camera's aperture photometry.

    Same fit as :func:`night_efficiency`, with the camera's flux
    (``camera_flux_adu`` ± ``camera_flux_err_adu`` in ``camera_exposure_s``)
    against the star's photons in the camera band
    (``photometry.camera_band_center_nm``/``camera_band_width_nm``).  η₀ is in ADU
    per photon at the telescope entrance (camera units: gain and quantum
    efficiency unknown), k is the extinction in the camera band, and each
    ``per_star`` row gains ``transparency`` = η / η₀ (the fraction of light the
    atmosphere let through, 1 above it) and ``cloud_transparency`` = η / fit.
    """
    table = validate_observation_table(table)
    pcfg = photometry or PhotometryConfig.from_station(station)
    rows = star_rows(table)
    flux = np.asarray(table["camera_flux_adu"], dtype=float)[rows]
    if rows.size == 0 or not np.any(np.isfinite(flux)):
        raise FitError("no camera photometry in the observation table "
                       "(column camera_flux_adu is empty for the stars)")
    err = np.asarray(table["camera_flux_err_adu"], dtype=float)[rows]
    texp = np.asarray(table["camera_exposure_s"], dtype=float)[rows]
    imag = np.asarray(table["imag"], dtype=float)[rows]
    vi = np.asarray(table["v_minus_i"], dtype=float)[rows]
    expected = (np.asarray(star_photon_flux(imag, vi, pcfg.camera_band)) * pcfg.area_m2
                * texp)
    mag_sigma = np.hypot(pcfg.magnitude_sigma,
                         np.where(np.isfinite(vi), 0.0, pcfg.unknown_colour_sigma))
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = flux / expected
        sig = np.abs(eta) * np.sqrt((err / flux) ** 2 + (LN10_04 * mag_sigma) ** 2)
    eta = np.where(texp > 0, eta, np.nan)
    el = np.radians(np.asarray(table["el_deg"], dtype=float)[rows])
    x = np.asarray(airmass(el), dtype=float)
    result = fit_extinction(x, eta, sig, clip_sigma=pcfg.clip_sigma,
                            min_points=pcfg.min_stars,
                            min_airmass_span=pcfg.min_airmass_span, k_fixed=k_fixed,
                            labels=star_labels(table, rows),
                            excluded=excluded_by_flags(table, rows))
    fit_line = result.eta0 * 10.0 ** (-0.4 * result.k_mag_per_airmass * x)
    for j, row in enumerate(result.per_star):
        row["transparency"] = float(eta[j] / result.eta0)
        row["cloud_transparency"] = float(eta[j] / fit_line[j])
    result.source = "camera"
    result.units = "ADU per photon"
    result.band = pcfg.camera_band.description
    result.design_efficiency = None
    return result


@dataclass
class StationEfficiency:
    """What a night's table says about the station's efficiency.

    ``result`` is the headline fit (the detectors when the stars have counts,
    else the camera); ``camera`` the camera's transparency fit beside detector
    counts (None when not measured or not fitted); ``notes`` say what was
    chosen and why.
    """

    result: EfficiencyResult
    camera: EfficiencyResult | None = None
    notes: list[str] = field(default_factory=list)


def station_efficiency(table: Any, station: StationSource = None, *, camera: bool = False,
                       k_fixed: float | None = None) -> StationEfficiency:
    """Efficiency from the detectors, or from the camera when asked or when it is all there is.

    With detector counts for the stars (and *camera* False), the detectors give
    the result and the camera photometry, if any, a transparency fit beside it
    (a camera fit that fails becomes a note).  Without detector counts, or with
    *camera* True, the camera's photometry gives the result.
    """
    table = validate_observation_table(table)
    stars = np.isin(np.asarray(table["kind"]).astype(str), ("model", "verify"))
    have_counts = bool(np.any(np.isfinite(np.asarray(table["counts_star"], float)[stars])))
    notes: list[str] = []
    if camera or not have_counts:
        if not have_counts and not camera:
            notes.append("no detector counts for the stars: using the camera photometry")
        return StationEfficiency(camera_efficiency(table, station, k_fixed=k_fixed),
                                 None, notes)
    result = night_efficiency(table, station, k_fixed=k_fixed)
    beside = None
    if np.any(np.isfinite(np.asarray(table["camera_flux_adu"], float)[stars])):
        try:
            beside = camera_efficiency(table, station, k_fixed=k_fixed)
        except FitError as exc:
            notes.append(f"camera transparency not fitted: {exc}")
    return StationEfficiency(result, beside, notes)
