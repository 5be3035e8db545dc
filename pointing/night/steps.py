"""The order of the night: each step resumable from what the log already holds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from pointing.errors import FitError, PointingError
from pointing.units import DEG, angular_separation

if TYPE_CHECKING:
    from pointing.night.run import _Night

__all__ = ["run_steps"]



def _progress(night: _Night, items: list[Any], desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="star" if "star" in desc else "pt",
                disable=not night.progress, leave=False)


def _save_plan(night: _Night, stage: str) -> None:
    night.db.set_stage(night.night_id, stage, plan=night.plan,
                       checkpoint={"backend": night.hw.state() if night.hw.state else None})


def _ok(night: _Night, kind: str, target: str) -> bool:
    return any(r["kind"] == kind and r["target"] == target and r["status"] == "ok"
               for r in night.records)


def zero_star_candidates(night: _Night, time: Any) -> list[int]:
    """Bright, isolated, well-placed stars for the zero-offset acquisition (HIP)."""
    from pointing.sky.places import observed_altaz

    cat = night.catalog
    imag = np.asarray(cat["imag"], dtype=float)
    az, el = observed_altaz(night._astro_all, night.station, time)
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


def calibrate_cameras(night: _Night) -> None:
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


def run_steps(night: _Night) -> dict[str, Any]:
    """Zero offsets, model stars, fit, verification, background; returns the results."""
    from pointing.model.auto import auto_fit
    from pointing.model.fit import fit
    from pointing.sky.select import select_stars

    cfg = night.cfg
    hw = night.hw
    # 1. zero offsets ------------------------------------------------------------
    if not any(r["kind"] == "zero" and r["status"] == "ok" for r in night.records):
        if "zero" not in night.plan:
            night.plan["zero"] = zero_star_candidates(night, hw.clock.now())[:3]
            _save_plan(night, "zero")
        for hip in night.plan["zero"]:
            star = night.star(hip)
            night.say(f"zero offsets: acquiring HIP {hip} {star.name} (I = {star.imag:.2f})")
            night.observe(star, "zero", search_deg=cfg.search_max_deg)
            if _ok(night, "zero", f"HIP {hip}"):
                break
        else:
            raise PointingError("zero offsets: no bright star could be found "
                                f"(tried HIP {', '.join(map(str, night.plan['zero']))})")
    night.model = night.provisional_model()
    calibrate_cameras(night)
    zero = night.model.values
    night.say(f"zero offsets set: IA = {zero['IA']:+.1f}″, IE = {zero['IE']:+.1f}″")

    # 2. model stars --------------------------------------------------------------
    if "model" not in night.plan:
        a, e = hw.mount.position()
        sel = select_stars(night.station, hw.clock.now(), n=cfg.n_model,
                           el_min_deg=cfg.el_min_deg, el_max_deg=cfg.el_max_deg,
                           imag_min=cfg.imag_min, imag_max=cfg.imag_max,
                           moon_min_sep_deg=cfg.moon_min_sep_deg,
                           start=(a / DEG % 360.0, e / DEG), catalog=night.catalog)
        night.plan["model"] = [int(h) for h in sel.stars["hip"]]
        night.plan["selection"] = {k: v for k, v in sel.to_dict().items() if k != "stars"}
        _save_plan(night, "model")
    for hip in _progress(night, night.plan["model"], "model stars"):
        night.model = night.provisional_model()
        night.observe(night.star(hip), "model", search_deg=cfg.model_search_deg)

    # 3. fit ----------------------------------------------------------------------
    obs = night.observations()
    info = {"site": {"name": night.station.name, "latitude_deg": night.station.latitude_deg,
                     "longitude_deg": night.station.longitude_deg,
                     "height_m": night.station.height_m},
            "provenance": {"night_id": night.night_id, "backend": hw.name,
                           "stars": len(obs)}}
    auto = None
    if cfg.terms == "auto":
        auto = auto_fit(obs)
        result = fit(obs.with_used(auto.fit.used), list(auto.selected_terms), info=info)
    else:
        terms = list(cfg.terms)
        try:
            result = fit(obs, terms, info=info)
        except FitError as exc:
            # too few stars survived the night's faults: fit what they can determine
            terms = [t for t in cfg.provisional_terms if t in terms] or list(
                cfg.provisional_terms)
            night.say(f"fit: {exc}; falling back to {' '.join(terms)}", "warn")
            result = fit(obs, terms, info=info)
        # a wrong star or a disturbed measurement must not steer the model
        masked: list[int] = []
        while result.outlier_candidates and len(masked) < max(1, len(obs) // 10):
            worst = max(result.outlier_candidates, key=lambda i: result.studentized[i - 1])
            masked.append(worst)
            night.say(f"fit: observation {worst} ({obs.comments[worst - 1]}) set aside, "
                      f"studentized residual {result.studentized[worst - 1]:.1f}", "warn")
            result = fit(obs, terms, mask=masked, info=info)
    night.model = result.model
    night.db.add_model(night.night_id, "fit", result.model.to_dict())
    night.say(f"model fitted: {len(result.fitted_terms)} terms on {result.n_used} stars "
              "(the zero-offset star included), "
              f"sky RMS {result.sky_rms:.2f}″ ({result.sky_rms_urad:.1f} µrad)")

    # 4. verification ----------------------------------------------------------------
    if "verify" not in night.plan:
        used = {int(r["hip"]) for r in night.records}
        keep = ~np.isin(np.asarray(night.catalog["hip"]), list(used))
        a, e = hw.mount.position()
        try:
            sel = select_stars(night.station, hw.clock.now(), n=cfg.n_verify,
                               el_min_deg=cfg.el_min_deg, el_max_deg=cfg.el_max_deg,
                               imag_min=cfg.imag_min, imag_max=cfg.imag_max,
                               moon_min_sep_deg=cfg.moon_min_sep_deg,
                               start=(a / DEG % 360.0, e / DEG), catalog=night.catalog[keep])
            night.plan["verify"] = [int(h) for h in sel.stars["hip"]]
        except PointingError as exc:
            night.say(f"verification stars: {exc}", "warn")
            night.plan["verify"] = []
        _save_plan(night, "verify")
    for hip in _progress(night, night.plan["verify"], "verification stars"):
        night.observe(night.star(hip), "verify", record_error=True,
                      search_deg=cfg.model_search_deg)

    # 5. background grid ---------------------------------------------------------------
    if cfg.background_grid:
        from pointing.photometry.background import background_grid

        grid_az, grid_el = background_grid(night.station)
        points = list(zip(grid_az.tolist(), grid_el.tolist(), strict=True))
        for i, (az, el) in enumerate(_progress(night, points, "background grid")):
            _background_point(night, i + 1, az, el)
    night.db.set_stage(night.night_id, "report")
    return {"fit": result, "auto": auto}


def _background_point(night: _Night, number: int, az: float, el: float) -> None:
    from pointing.hardware.base import ConnectionLost, HardwareError

    target = f"grid {number}"
    if ("background", target) in night.done or _ok(night, "background", target):
        return
    record: dict[str, Any] = {"hip": -1, "name": "", "imag": math.nan, "vmag": math.nan,
                              "v_minus_i": math.nan, "az_deg": az / DEG, "el_deg": el / DEG,
                              "count_time_s": night.cfg.background_count_time_s,
                              "dark_cps": night.detectors.total_dark_cps}
    if night.hw.counter is None:
        night.commit("background", target, record, "skipped", "no photon counter")
        return
    try:
        night.goto(lambda t: (az, el))
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


def photometry_results(night: _Night) -> dict[str, Any]:
    """Efficiency, extinction, noise maps and go/no-go from the night's counts."""
    from pointing.photometry.background import night_background
    from pointing.photometry.efficiency import night_efficiency
    from pointing.photometry.gonogo import go_no_go
    from pointing.photometry.table import make_observation_table

    rows = [r for r in night.records if r["status"] == "ok"
            and r["kind"] in ("model", "verify", "background")]
    out: dict[str, Any] = {"table": None, "efficiency": None, "background": None}
    if not rows:
        out["go_no_go"] = None
        return out
    table = make_observation_table([{k: r.get(k, math.nan) for k in _TABLE_KEYS}
                                    | {"flags": r.get("centroid_flags", "")}
                                    for r in rows])
    out["table"] = table
    eff = bg = None
    try:
        eff = night_efficiency(table, night.station)
        out["efficiency"] = eff
    except (FitError, PointingError) as exc:
        out["efficiency_error"] = str(exc)
    try:
        bg = night_background(table, night.station)
        out["background"] = bg
    except (FitError, PointingError) as exc:
        out["background_error"] = str(exc)
    out["go_no_go"] = go_no_go(eff, bg, night.station)
    return out


_TABLE_KEYS = ("time", "kind", "hip", "imag", "vmag", "v_minus_i", "az_deg", "el_deg",
               "count_time_s", "counts_star", "counts_off", "dark_cps", "moon_az_deg",
               "moon_el_deg", "moon_phase", "camera_flux_adu", "camera_flux_err_adu",
               "camera_sky_adu_per_px", "camera_exposure_s")
