"""What the night's observations say: the fit, the verification, efficiency, noise, verdict.

Everything the report prints is computed here (:func:`analyse`) from the
:class:`~pointing.night.state.Night` and its log; :mod:`pointing.night.report`
only renders the :class:`NightResults`.  Also translates the fitted geometry
into what a field crew can do about it (:func:`crew_actions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.time import Time

from pointing.config.station import Station
from pointing.errors import FitError, PointingError
from pointing.link.tonight import tonight_passes
from pointing.model.auto import AutoResult, auto_fit
from pointing.model.fit import FitResult, fit
from pointing.model.run import PointingRun
from pointing.night.config import BaseGeometry
from pointing.night.state import Night
from pointing.photometry.background import night_background
from pointing.photometry.efficiency import night_efficiency
from pointing.photometry.gonogo import GoNoGo, PointingEvidence, night_verdict
from pointing.photometry.table import make_observation_table
from pointing.units import ARCSEC, URAD, wrap_pi

__all__ = ["FitOutcome", "NightResults", "analyse", "crew_actions", "fit_model",
           "photometry_results", "verification_stats"]


@dataclass(frozen=True)
class FitOutcome:
    """The night's model fit: the result, automatic term selection, and any fallback."""

    result: FitResult
    auto: AutoResult | None = None
    note: str | None = None  #: why fewer terms were fitted than the station asked for


@dataclass
class NightResults:
    """Everything the report shows (JSON-ready ``summary`` plus the objects plotted)."""

    summary: dict[str, Any]
    records: list[dict[str, Any]]
    fit: FitOutcome | None = None
    verification: dict[str, Any] = field(default_factory=dict)
    photometry: dict[str, Any] = field(default_factory=dict)
    verdict: GoNoGo | None = None


def fit_model(night: Night) -> FitOutcome:
    """Fit the station's terms (or ``auto``) to the zero and model stars.

    Too few stars for every term (faults): fall back to the terms they can
    determine, and say so (the verdict fails on it).  A wrong star or a
    disturbed measurement must not steer the model: outlier candidates are set
    aside one at a time, at most a tenth of the stars.
    """
    cfg = night.cfg
    obs = night.observations()
    st = night.station
    info = {"site": {"name": st.name, "latitude_deg": st.latitude_deg,
                     "longitude_deg": st.longitude_deg, "height_m": st.height_m},
            "provenance": {"night_id": night.night_id, "backend": night.hw.name,
                           "stars": len(obs)}}
    if cfg.terms == "auto":
        auto = auto_fit(obs)
        return FitOutcome(fit(obs.with_used(auto.fit.used), list(auto.selected_terms),
                              info=info), auto)
    terms = list(cfg.terms)
    note = None
    try:
        result = fit(obs, terms, info=info)
    except FitError as exc:
        terms = [t for t in cfg.provisional_terms if t in terms] or list(cfg.provisional_terms)
        note = f"{exc}; fell back to {' '.join(terms)}"
        night.say(f"fit: {note}", "warn")
        result = fit(obs, terms, info=info)
    masked: list[int] = []
    while result.outlier_candidates and len(masked) < max(1, len(obs) // 10):
        worst = max(result.outlier_candidates, key=lambda i: result.studentized[i - 1])
        masked.append(worst)
        night.say(f"fit: observation {worst} ({obs.comments[worst - 1]}) set aside, "
                  f"studentized residual {result.studentized[worst - 1]:.1f}", "warn")
        result = fit(obs, terms, mask=masked, info=info)
    return FitOutcome(result, None, note)


def verification_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    """RMS and largest pointing error of the verification stars (µrad)."""
    rows = [r for r in records if r["kind"] == "verify" and r["status"] == "ok"
            and r.get("error_dx_urad") is not None
            and math.isfinite(r.get("error_dx_urad", math.nan))]
    dx = np.array([r["error_dx_urad"] for r in rows])
    de = np.array([r["error_de_urad"] for r in rows])
    radial = np.hypot(dx, de)
    return {"n": len(rows),
            "rms_urad": float(np.sqrt(np.mean(radial**2))) if rows else None,
            "max_urad": float(radial.max()) if rows else None,
            "rms_dx_urad": float(np.sqrt(np.mean(dx**2))) if rows else None,
            "rms_de_urad": float(np.sqrt(np.mean(de**2))) if rows else None,
            "stars": [{"hip": r["hip"], "az_deg": r.get("az_deg"), "el_deg": r.get("el_deg"),
                       "dx_urad": r["error_dx_urad"], "de_urad": r["error_de_urad"],
                       "error_urad": float(e), "found_by": r.get("error_found_by")}
                      for r, e in zip(rows, radial, strict=True)]}


#: the quick calibration the night is compared with: the basic terms on the zero-offset
#: star and the first model stars (what a crew gets from a few stars and no full model)
QUICK_TERMS = ("IA", "IE", "AN", "AW")
QUICK_STARS = 5


def quick_calibration(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A quick calibration judged on the night's verification stars (µrad), or None.

    :data:`QUICK_TERMS` fitted on the zero-offset star and the first
    :data:`QUICK_STARS` model stars, then applied to the verification stars'
    centred encoder readings against their true places: the same stars the
    full model is judged on, so the two are compared side by side (what the
    model buys).  None when too few stars were measured.
    """
    ok = [r for r in records if r["status"] == "ok" and r.get("raw_az_deg") is not None]
    first = [r for r in ok if r["kind"] in ("zero", "model")][:QUICK_STARS + 1]
    verify = [r for r in ok if r["kind"] == "verify"]
    if len(first) < len(QUICK_TERMS) // 2 + 1 or not verify:
        return None

    def column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
        return np.array([r[key] for r in rows], dtype=float)

    run = PointingRun.from_degrees(*(column(first, k) for k in
                                     ("az_deg", "el_deg", "raw_az_deg", "raw_el_deg")))
    try:
        model = fit(run, list(QUICK_TERMS)).model
    except FitError:
        return None
    az, el = np.radians(column(verify, "az_deg")), np.radians(column(verify, "el_deg"))
    ta, te = model.true_from_raw(np.radians(column(verify, "raw_az_deg")),
                                 np.radians(column(verify, "raw_el_deg")))
    dx, de = wrap_pi(az - ta) * np.cos(el) / URAD, (el - te) / URAD
    radial = np.hypot(dx, de)
    return {"terms": list(QUICK_TERMS), "n_stars": len(first), "n": len(verify),
            "rms_urad": float(np.sqrt(np.mean(radial**2))), "max_urad": float(radial.max()),
            "stars": [{"dx_urad": float(x), "de_urad": float(y)}
                      for x, y in zip(dx, de, strict=True)]}


def crew_actions(values: dict[str, float], base: BaseGeometry) -> dict[str, Any]:
    """What the crew should do to the base, from IA, AN and AW (arcsec).

    The mount's encoder zero points at true azimuth −IA; the azimuth axis leans
    AN toward north and AW toward west.  Feet heights are the changes that
    bring the axis vertical (the lowest change set to zero, so only raises).
    """
    ia = values.get("IA", 0.0)
    an = values.get("AN", 0.0) * ARCSEC
    aw = values.get("AW", 0.0) * ARCSEC
    turn_deg = ia / 3600.0
    direction = "clockwise (toward east, seen from above)" if turn_deg > 0 else \
        "anticlockwise (toward west, seen from above)"
    rotate = (f"The mount's zero direction points {abs(turn_deg):.2f}° "
              f"{'west' if turn_deg > 0 else 'east'} of true north: turn the base "
              f"{abs(turn_deg):.2f}° {direction}, or keep it and let the model carry IA.")
    tilt_arcmin = math.hypot(an, aw) / ARCSEC / 60.0
    # plane of the base: the axis leans toward (north AN, west AW) → raise that side
    feet = []
    for name, az_mount_deg, radius in base.feet:
        phi = math.radians(az_mount_deg) - ia * ARCSEC  # foot's true azimuth
        north, east = radius * math.cos(phi), radius * math.sin(phi)
        feet.append((name, 1000.0 * (an * north - aw * east)))
    low = min(h for _, h in feet)
    rows = []
    for name, h in feet:
        raise_mm = h - low
        row = {"foot": name, "raise_mm": round(raise_mm, 2)}
        if base.screw_pitch_mm:
            row["turns"] = round(raise_mm / base.screw_pitch_mm, 2)
        rows.append(row)
    toward = math.degrees(math.atan2(-aw, an)) % 360.0
    raises = [f"foot {r['foot']} by {r['raise_mm']:.2f} mm"
              + (f" ({r['turns']:.2f} turns)" if "turns" in r else "")
              for r in rows if r["raise_mm"] > 0.005]
    if "AN" not in values and "AW" not in values:
        level = "The base's tilt was not measured (AN and AW are not in the model)."
    elif not raises:
        level = (f"The azimuth axis is level to {tilt_arcmin:.1f}′: no foot needs "
                 "raising.")
    else:
        level = (f"The azimuth axis leans {tilt_arcmin:.1f}′ toward azimuth {toward:.0f}° "
                 "(north = 0°, east = 90°): raise " + ", ".join(raises) + ".")
    return {"rotate_base_deg": turn_deg, "rotate": rotate, "tilt_arcmin": tilt_arcmin,
            "tilt_toward_deg": toward, "feet": rows, "level": level}


_TABLE_KEYS = ("time", "kind", "hip", "imag", "vmag", "v_minus_i", "az_deg", "el_deg",
               "count_time_s", "counts_star", "counts_off", "dark_cps", "moon_az_deg",
               "moon_el_deg", "moon_phase", "camera_flux_adu", "camera_flux_err_adu",
               "camera_sky_adu_per_px", "camera_exposure_s")


def photometry_results(night: Night) -> dict[str, Any]:
    """Efficiency, extinction and noise fits from the night's counts."""
    rows = [r for r in night.records if r["status"] == "ok"
            and r["kind"] in ("model", "verify", "background")]
    out: dict[str, Any] = {"table": None, "efficiency": None, "background": None}
    if not rows:
        return out
    table = make_observation_table([{k: r.get(k, math.nan) for k in _TABLE_KEYS}
                                    | {"flags": r.get("centroid_flags", "")}
                                    for r in rows])
    out["table"] = table
    try:
        out["efficiency"] = night_efficiency(table, night.station)
    except (FitError, PointingError) as exc:
        out["efficiency_error"] = str(exc)
    try:
        out["background"] = night_background(table, night.station)
    except (FitError, PointingError) as exc:
        out["background_error"] = str(exc)
    return out


def truth(night: Night) -> dict[str, Any] | None:
    """The backend's truth (simulators), with the true background for the night's Moon."""
    if night.hw.truth is None:
        return None
    out = dict(night.hw.truth)
    bg_rows = [r for r in night.records if r["kind"] == "background" and r["status"] == "ok"]
    if bg_rows and night.hw.truth_background is not None:
        maz = math.radians(float(np.nanmean([r["moon_az_deg"] for r in bg_rows])))
        mel = math.radians(float(np.nanmean([r["moon_el_deg"] for r in bg_rows])))
        ph = float(np.nanmean([r["moon_phase"] for r in bg_rows]))
        out["background"] = night.hw.truth_background(maz, mel, ph)
    return out


def upcoming_passes(station: Station, summary: dict[str, Any], start: Any
                    ) -> dict[str, Any] | None:
    """Tonight's passes forecast with this night's calibration (``[passes]``), or None.

    A bad ``[passes]`` section or element file does not cost the night its
    report: the section then carries the error.
    """
    try:
        return tonight_passes(station, summary, start)
    except PointingError as exc:
        return {"error": str(exc), "passes": []}


def analyse(night: Night, fitted: FitOutcome | None, *, failure: str | None = None
            ) -> NightResults:
    """Every figure of the night, JSON-ready in ``summary`` (the report's content)."""
    records = night.records
    hw = night.hw
    end = hw.clock.now()
    summary: dict[str, Any] = {
        "station": night.station.name, "night_id": night.night_id, "backend": hw.name,
        "simulated": bool(hw.simulated),
        "status": "failed" if failure else "complete", "failure": failure,
        "start_utc": records[0]["time"] if records else None, "end_utc": end.utc.isot,
        "virtual_duration_s": float((end - Time(night.db.night(night.night_id).started_utc)
                                     ).sec),
        "n_model_stars": sum(1 for r in records if r["kind"] == "model" and r["status"] == "ok"),
        "n_observations": len(records),
        "skipped": [{"seq": r["seq"], "kind": r["kind"], "target": r["target"],
                     "reason": r["reason"]} for r in records if r["status"] != "ok"],
    }
    if fitted is not None:
        summary["fit"] = fitted.result.to_dict()
        if fitted.auto is not None:
            summary["fit"]["auto"] = {"selected_terms": list(fitted.auto.selected_terms),
                                      "rejected": list(fitted.auto.rejected)}
        if fitted.note:
            summary["fit"]["fallback"] = fitted.note
        summary["crew_actions"] = crew_actions(
            fitted.result.model.values, BaseGeometry.from_section(night.station.section("base")))
    ver = verification_stats(records)
    summary["verification"] = {k: ver[k] for k in ("n", "rms_urad", "max_urad")}
    summary["verification_detail"] = ver
    quick = quick_calibration(records)
    if quick is not None:
        summary["quick_calibration"] = quick
    phot = photometry_results(night) if records else {}
    eff, bg = phot.get("efficiency"), phot.get("background")
    summary["efficiency"] = (eff.to_dict() if eff is not None else
                             {"error": phot.get("efficiency_error", "no star counts")})
    summary["background"] = (bg.to_dict() if bg is not None else
                             {"error": phot.get("background_error", "no sky counts")})
    evidence = PointingEvidence(
        zero_found=any(r["kind"] == "zero" and r["status"] == "ok" for r in records),
        n_verify=ver["n"], rms_urad=ver["rms_urad"], max_urad=ver["max_urad"],
        condition_number=None if fitted is None else fitted.result.condition_number,
        fit_note=None if fitted is None else fitted.note, counter=hw.counter is not None)
    verdict = night_verdict(evidence, eff, bg, night.station)
    if failure:  # a night that did not finish cannot pass, whatever it measured
        verdict = GoNoGo("FAIL", verdict.checks, [f"the night failed: {failure}",
                                                  *verdict.notes])
    summary["go_no_go"] = verdict.to_dict()
    passes = upcoming_passes(night.station, summary, end)
    if passes is not None:
        summary["passes"] = passes
    t = truth(night)
    if t is not None:
        summary["truth"] = t
        summary["noise_floor_urad"] = hw.noise_floor_urad
    return NightResults(summary=summary, records=records, fit=fitted, verification=ver,
                        photometry=phot, verdict=verdict)
