"""The order of the night: each step resumable from what the log already holds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tqdm import tqdm

from pointing.errors import PointingError
from pointing.hardware.base import ConnectionLost, HardwareError
from pointing.night.acquire import goto, observe
from pointing.night.analysis import FitOutcome, fit_model
from pointing.night.state import Night
from pointing.photometry.background import background_grid
from pointing.sky.places import observed_altaz
from pointing.sky.select import select_stars
from pointing.units import DEG, angular_separation

__all__ = ["calibrate_cameras", "fit_step", "model_star_step", "run_steps", "verification_step",
           "zero_offset_step", "zero_star_candidates"]


def _progress(night: Night, items: list[Any], desc: str) -> Any:
    """A progress bar in a terminal only (``night.progress``); plain items otherwise."""
    return tqdm(items, desc=desc, unit="star" if "star" in desc else "pt",
                disable=not night.progress, leave=False)


def zero_star_candidates(night: Night, time: Any) -> list[int]:
    """Bright, isolated, well-placed stars for the zero-offset acquisition (HIP)."""
    cat = night.catalog
    imag = np.asarray(cat["imag"], dtype=float)
    az, el = observed_altaz(night.astrometry, night.station, time)
    bad = np.zeros(len(cat), bool)
    for col in ("nonsingle", "variable", "colour_missing"):
        if col in cat.colnames:
            bad |= np.asarray(cat[col], bool)
    cand = np.nonzero((imag < night.cfg.zero_imag_max) & (el > 35 * DEG) & (el < 70 * DEG)
                      & ~bad)[0]
    out = []
    for i in cand[np.argsort(imag[cand])]:
        sep = angular_separation(az, el, az[i], el[i])
        rivals = (sep < 3.0 * DEG) & (imag < imag[i] + 3.0)
        if rivals.sum() == 1:  # only itself: nothing to confuse it with in a wide field
            out.append(int(cat["hip"][i]))
    return out


def calibrate_cameras(night: Night) -> None:
    """Measured over expected flux of the zero-offset star: the cameras' brightness scale.

    Recomputed from the log on resume, so an interrupted night continues with
    the same scale.
    """
    zero = [r for r in night.records if r["kind"] == "zero" and r["status"] == "ok"]
    if not zero:
        return
    ratio = zero[-1].get("brightness_ratio")
    wide = zero[-1].get("wide_brightness_ratio")
    if ratio and math.isfinite(ratio):
        night.flux_scale["tracking"] = float(ratio)
    if wide and math.isfinite(wide):
        night.flux_scale["wide"] = float(wide)
    night.calibrated = True
    night.say(f"camera brightness scale from the zero-offset star: tracking "
              f"{night.flux_scale['tracking']:.2f}, wide {night.flux_scale['wide']:.2f} "
              "(measured / expected)")


def run_steps(night: Night) -> FitOutcome:
    """Zero offsets, model stars, fit, verification, background; returns the fit.

    Each step skips what the log already holds, so a resumed night continues
    inside whichever step was running.
    """
    zero_offset_step(night)
    model_star_step(night)
    fitted = fit_step(night)
    verification_step(night)
    if night.cfg.background_grid:
        grid_az, grid_el = background_grid(night.station)
        points = list(zip(grid_az.tolist(), grid_el.tolist(), strict=True))
        for i, (az, el) in enumerate(_progress(night, points, "background grid")):
            _background_point(night, i + 1, az, el)
    night.db.set_stage(night.night_id, "report")
    return fitted


def _select(night: Night, n: int, catalog: Any) -> Any:
    """Calibration stars from where the mount is now, with the night's limits."""
    cfg = night.cfg
    a, e = night.hw.mount.position()
    return select_stars(night.station, night.hw.clock.now(), n=n,
                        el_min_deg=cfg.el_min_deg, el_max_deg=cfg.el_max_deg,
                        imag_min=cfg.imag_min, imag_max=cfg.imag_max,
                        moon_min_sep_deg=cfg.moon_min_sep_deg,
                        sun_max_el_deg=None if cfg.daylight else cfg.sun_max_el_deg,
                        start=(a / DEG % 360.0, e / DEG), catalog=catalog)


def zero_offset_step(night: Night) -> None:
    """Find a bright star (searching with the wide camera), centre it, set IA and IE."""
    if not any(r["kind"] == "zero" and r["status"] == "ok" for r in night.records):
        if "zero" not in night.plan:
            night.plan["zero"] = zero_star_candidates(night, night.hw.clock.now())[:3]
            night.save_plan("zero")
        for hip in night.plan["zero"]:
            star = night.star(hip)
            night.say(f"zero offsets: acquiring HIP {hip} {star.name} (I = {star.imag:.2f})")
            observe(night, star, "zero", search_deg=night.cfg.search_max_deg)
            if night.ok("zero", f"HIP {hip}"):
                break
        else:
            raise PointingError("zero offsets: no bright star could be found "
                                f"(tried HIP {', '.join(map(str, night.plan['zero']))})")
    night.model = night.provisional_model()
    calibrate_cameras(night)
    zero = night.model.values
    night.say(f"zero offsets set: IA = {zero['IA']:+.1f}″, IE = {zero['IE']:+.1f}″")


def model_star_step(night: Night) -> None:
    """Select the model stars (once, kept in the plan) and observe each."""
    if "model" not in night.plan:
        sel = _select(night, night.cfg.n_model, night.catalog)
        night.plan["model"] = [int(h) for h in sel.stars["hip"]]
        night.plan["selection"] = {k: v for k, v in sel.to_dict().items() if k != "stars"}
        night.save_plan("model")
    for hip in _progress(night, night.plan["model"], "model stars"):
        night.model = night.provisional_model()
        observe(night, night.star(hip), "model", search_deg=night.cfg.model_search_deg)


def fit_step(night: Night) -> FitOutcome:
    """Fit the model (recomputed from the log on resume) and keep it in the log."""
    fitted = fit_model(night)
    result = fitted.result
    night.model = result.model
    night.db.add_model(night.night_id, "fit", result.model.to_dict())
    night.say(f"model fitted: {len(result.fitted_terms)} terms on {result.n_used} stars "
              "(the zero-offset star included), "
              f"sky RMS {result.sky_rms_urad:.1f} µrad ({result.sky_rms:.2f}″)")
    return fitted


def verification_step(night: Night) -> None:
    """Fresh stars, none used for the model, pointed at with the new model."""
    if "verify" not in night.plan:
        used = {int(r["hip"]) for r in night.records}
        keep = ~np.isin(np.asarray(night.catalog["hip"]), list(used))
        try:
            sel = _select(night, night.cfg.n_verify, night.catalog[keep])
            night.plan["verify"] = [int(h) for h in sel.stars["hip"]]
        except PointingError as exc:
            night.say(f"verification stars: {exc}", "warn")
            night.plan["verify"] = []
        night.save_plan("verify")
    for hip in _progress(night, night.plan["verify"], "verification stars"):
        observe(night, night.star(hip), "verify", record_error=True,
                search_deg=night.cfg.model_search_deg)


def _background_point(night: Night, number: int, az: float, el: float) -> None:
    target = f"grid {number}"
    if ("background", target) in night.done or night.ok("background", target):
        return
    record: dict[str, Any] = {"hip": -1, "name": "", "imag": math.nan, "vmag": math.nan,
                              "v_minus_i": math.nan, "az_deg": az / DEG, "el_deg": el / DEG,
                              "count_time_s": night.cfg.background_count_time_s,
                              "dark_cps": night.detectors.total_dark_cps}
    if night.hw.counter is None:
        night.commit("background", target, record, "skipped", "no photon counter")
        return
    try:
        goto(night, lambda t: (az, el))
        night.hw.mount.stop()
        counts = night.hw.counter.count(night.cfg.background_count_time_s)
    except ConnectionLost:
        raise
    except HardwareError as exc:
        night.commit("background", target, record, "skipped", f"{type(exc).__name__}: {exc}")
        return
    record.update({"time": counts.start.utc.isot, "counts_star": math.nan,
                   "counts_off": float(counts.total),
                   "counts_off_channels": counts.counts.tolist()})
    record.update(night.moon())
    night.commit("background", target, record)
