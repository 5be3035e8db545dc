"""Pointing at a star and measuring it: slew, track, expose, find, centre, count.

Functions of a :class:`~pointing.night.state.Night`; each one moves the
backend's devices and reads the night's cameras and model.  A star missed by
the tracking camera is searched for with the wide camera in a spiral of
overlapping fields; a flagged frame is retried with a better exposure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from astropy import units as u

from pointing.camera.measure import StarFlag, measure_star
from pointing.hardware.base import ConnectionLost, HardwareError
from pointing.night.state import Night, Star
from pointing.photometry.aperture import camera_aperture_photometry
from pointing.photometry.bands import star_photon_flux
from pointing.photometry.config import collecting_area
from pointing.sky.slews import slew_time
from pointing.units import ARCSEC, DEG, URAD

__all__ = ["acquire", "exposure_for", "goto", "measure", "observe", "pointing_error", "search"]


def raw_for(night: Night, true_az: float, true_el: float, near_az: float | None = None
            ) -> tuple[float, float]:
    """Encoder demand for a true position, on the cable-wrap turn nearest ``near_az``."""
    if near_az is not None:
        true_az = near_az + ((true_az - near_az + math.pi) % (2 * math.pi) - math.pi)
    a, e = night.model.raw_from_true(float(true_az), float(true_el))
    lim = night.hw.mount.limits()
    for turn in (0.0, 2 * math.pi, -2 * math.pi):  # stay inside the cable wrap
        if lim.az_min <= a + turn <= lim.az_max:
            return a + turn, e
    return a, e


def slew_estimate(night: Night, az: float, el: float) -> float:
    m = night.station.mount
    a0, e0 = night.hw.mount.position()
    return float(max(slew_time((az - a0) / DEG, m.az_speed_deg_s, m.az_accel_deg_s2),
                     slew_time((el - e0) / DEG, m.el_speed_deg_s, m.el_accel_deg_s2))
                 + getattr(m, "settle_s", 2.0))


def goto(night: Night, true_at: Callable[[Any], tuple[float, float]],
         raw_offset: tuple[float, float] = (0.0, 0.0)) -> None:
    """Slew to a moving target and track it, with an offset in encoder angles.

    The offset (radians of raw azimuth and elevation) is what centring and
    searching add to the model's demand: a zero-point error, which is what a
    gross model error mostly is, is a constant encoder offset, so the star
    stays put while the mount tracks.
    """
    mount = night.hw.mount
    a_now, _ = mount.position()

    def demand(t: Any) -> tuple[float, float]:
        a, e = raw_for(night, *true_at(t), a_now)
        return a + raw_offset[0], e + raw_offset[1]

    for _ in range(2):  # the second, short slew lands on the target's position then
        now = night.hw.clock.now()
        target = demand(now)
        for _ in range(3):  # the slew time depends on where the target will be by then
            target = demand(now + slew_estimate(night, *target) * u.s)
        arrive = now + slew_estimate(night, *target) * u.s
        mount.slew(*target)
    # a mount faster than the estimate waits where the target will be: start tracking
    # when the target gets there, not before (real hardware; the simulator is on time)
    early = float((arrive - night.hw.clock.now()).sec)
    if early > 1e-3:
        night.hw.clock.sleep(early)
    now = night.hw.clock.now()
    a1, e1 = demand(now)
    a2, e2 = demand(now + 10 * u.s)
    mount.track((a2 - a1) / 10.0, (e2 - e1) / 10.0)


def to_raw(night: Night, dx: float, de: float) -> tuple[float, float]:
    """A small sky offset (ΔA·cosE, ΔE) as encoder angles at the mount's elevation."""
    _, e = night.hw.mount.position()
    return dx / max(math.cos(e), 1e-3), de

# -- measurement -------------------------------------------------------------
def star_rate_e(night: Night, star: Star, wide: bool) -> float:
    """Expected electrons/s of a star in a camera (design efficiency, no extinction)."""
    if wide:
        area = math.pi / 4 * night.wide_aperture_m**2
    else:
        area = collecting_area(night.station.telescope.aperture_m,
                               night.station.telescope.obstruction_m)
    vi = star.v_minus_i if math.isfinite(star.v_minus_i) else 0.7
    return float(star_photon_flux(star.imag, vi, night.photometry.camera_band)) * area * 0.4


def exposure_for(night: Night, star: Star, *, wide: bool = False) -> float:
    """Exposure (s) that brings the star's peak to ``peak_fraction`` of saturation."""
    cam = night.wide if wide else night.camera
    peak_share = 1.0 / (1.13 * cam.fwhm_px**2) * 1.2
    sat_e = cam.sensor.saturation_adu * (cam.sensor.gain_e_per_adu or 1.0)
    rate = star_rate_e(night, star, wide)
    t = night.cfg.peak_fraction * sat_e / max(rate * peak_share, 1e-9)
    return float(np.clip(t, night.cfg.min_exposure_s, night.cfg.max_exposure_s))


def brightness_ratio(night: Night, star: Star, m: Any, exposure: float, *, wide: bool) -> float:
    """Measured over expected flux of the target, with the night's camera calibration."""
    cam = night.wide if wide else night.camera
    expected_adu = (star_rate_e(night, star, wide) * exposure
                    / (cam.sensor.gain_e_per_adu or 1.0))
    return float(m.flux) / (expected_adu * night.flux_scale["wide" if wide else "tracking"])


def is_target(night: Night, star: Star, m: Any, exposure: float, *, wide: bool) -> bool:
    """Whether a measured star is the target and not a neighbour, by its brightness.

    Before the zero-offset star has calibrated the cameras, anything within
    2.5 mag of the expected flux passes (the zero star is chosen with no
    rival that close); afterwards only ±1.1 mag.  A saturated star is too
    bright for the exposure chosen for the target, unless the exposure is
    already the shortest.
    """
    if StarFlag.SATURATED in m.flags:
        return exposure <= night.cfg.min_exposure_s
    lo, hi = (0.1, 10.0) if not night.calibrated else (0.36, 2.75)
    return lo <= brightness_ratio(night, star, m, exposure, wide=wide) <= hi


def measure(night: Night, exposure: float, *, wide: bool = False) -> tuple[Any, Any, Any, Any]:
    """Expose and measure; returns (measurement, frame, encoder at mid-exposure)."""
    cam = night.wide if wide else night.camera
    device = night.hw.wide_camera if wide else night.hw.tracking_camera
    mount = night.hw.mount
    t0 = night.hw.clock.now()
    p0 = mount.position()
    frame = device.expose(exposure)
    t1 = night.hw.clock.now()
    p1 = mount.position()
    span = float((t1 - t0).sec)
    f = float((frame.time - t0).sec) / span if span > 0 else 0.5
    enc = (p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1]))
    expected = None if wide else cam.geometry.calibration_pixel
    m = measure_star(frame.data, expected_xy=expected, camera=cam)
    return m, frame, enc, cam


def acquire(night: Night, star: Star, *, search_deg: float
            ) -> tuple[Any, Any, Any, tuple[float, float]] | None:
    """Point at a star, find it and centre it on the calibration pixel.

    Returns the final (measurement, frame, encoder-at-mid, raw offset in
    use) or None when the star cannot be found or measured.
    """
    exposure = exposure_for(night, star)
    offset = (0.0, 0.0)
    goto(night, lambda t: night.place(star, t), offset)
    for _ in range(8):
        m, frame, enc, cam = measure(night, exposure)
        if StarFlag.SATURATED in m.flags and exposure > night.cfg.min_exposure_s:
            exposure = max(exposure / 8, night.cfg.min_exposure_s)
            continue
        if m.found and StarFlag.LOW_SNR in m.flags and exposure < night.cfg.max_exposure_s:
            exposure = min(exposure * 5, night.cfg.max_exposure_s)
            continue
        if (not m.found or StarFlag.EDGE in m.flags
                or not is_target(night, star, m, exposure, wide=False)):
            found = search(night, star, offset, search_deg)
            if found is None:
                return None
            offset = found
            goto(night, lambda t: night.place(star, t), offset)
            continue
        dx, de = cam.geometry.offset(m.x, m.y)
        if math.hypot(dx, de) / (cam.geometry.pixel_scale_urad * URAD) \
                <= night.cfg.centre_tolerance_px:
            return m, frame, enc, offset
        da, dd = to_raw(night, float(dx), float(de))
        offset = (offset[0] + da, offset[1] + dd)
        goto(night, lambda t: night.place(star, t), offset)
    return None


def search(night: Night, star: Star, offset: tuple[float, float], max_deg: float
           ) -> tuple[float, float] | None:
    """Find a star with the wide camera, here first then in a spiral of fields.

    Returns the raw offset (radians) that brings it to the boresight.
    """
    if night.hw.wide_camera is None:
        return None
    g = night.wide.geometry
    step = night.cfg.search_overlap * min(g.width, g.height) * g.pixel_scale_urad * URAD
    spiral = [(0.0, 0.0)]
    ring = 1
    while ring * step <= max_deg * DEG:
        n = 6 * ring
        spiral += [(ring * step * math.cos(2 * math.pi * k / n),
                    ring * step * math.sin(2 * math.pi * k / n)) for k in range(n)]
        ring += 1
    _, el = night.place(star, night.hw.clock.now())
    exposure = exposure_for(night, star, wide=True)
    for k, (sx, sy) in enumerate(spiral):
        if k and k % 12 == 0:  # a long search still says something every few seconds
            night.say(f"HIP {star.hip}: searching with the wide camera, field {k + 1} of "
                      f"{len(spiral)}")
        here = (offset[0] + sx / math.cos(el), offset[1] + sy)
        try:
            goto(night, lambda t: night.place(star, t), here)
        except ConnectionLost:
            raise
        except HardwareError as exc:
            night.say(f"HIP {star.hip}: search field {k + 1} skipped: {exc}", "warn")
            continue
        m, _frame, _enc, cam = measure(night, exposure, wide=True)
        if m.found and is_target(night, star, m, exposure, wide=True):
            night.last_wide_ratio = brightness_ratio(night, star, m, exposure, wide=True)
            da, dd = to_raw(night, *(float(v) for v in cam.geometry.offset(m.x, m.y)))
            found = (here[0] + da, here[1] + dd)
            if k:
                night.say(f"HIP {star.hip}: found by the wide camera after {k + 1} fields, "
                         f"{math.hypot(found[0] * math.cos(el), found[1]) / DEG:.2f}° "
                         "from where the model pointed")
            return found
    return None


def observe(night: Night, star: Star, kind: str, *, search_deg: float = 2.0,
            record_error: bool = False) -> None:
    """One star: acquire, centre, record positions and counts; commit."""
    target = f"HIP {star.hip}"
    if (kind, target) in night.done:
        return
    try:
        error = None
        if record_error:
            error = pointing_error(night, star)
        got = acquire(night, star, search_deg=search_deg)
        if got is None:
            night.commit(kind, target, base_record(night, star), "skipped",
                        "not found (wide-camera search failed or star flagged)")
            return
        m, frame, enc, offset = got
        night.last_wide_ratio = None
        samples = [(m, frame, enc)]
        for _ in range(night.cfg.n_exposures - 1):  # average the seeing's image motion
            more = measure(night, frame.exposure_s)
            if more[0].found and is_target(night, star, more[0], frame.exposure_s,
                                                wide=False):
                samples.append(more[:3])
        record = base_record(night, star)
        record.update(positions(night, star, samples))
        record.update(counts(night, star, m, frame, offset))
        if error is not None:
            record.update(error)
        night.commit(kind, target, record)
    except ConnectionLost:
        raise  # nothing more can be observed: the night stops (resumable)
    except HardwareError as exc:
        night.hw.mount.stop()
        night.commit(kind, target, base_record(night, star), "skipped",
                    f"{type(exc).__name__}: {exc}")


def pointing_error(night: Night, star: Star) -> dict[str, Any]:
    """Offset of a star from the calibration pixel, pointing with the model (µrad)."""
    goto(night, lambda t: night.place(star, t))
    exposure = exposure_for(night, star)
    m, _frame, _enc, cam = measure(night, exposure)
    if m.found:
        dx, de = cam.geometry.offset(m.x, m.y)
        return {"error_dx_urad": float(dx) / URAD, "error_de_urad": float(de) / URAD,
                "error_found_by": "tracking camera"}
    found = search(night, star, (0.0, 0.0), 2.0)
    if found is None:
        return {"error_dx_urad": math.nan, "error_de_urad": math.nan,
                "error_found_by": "not found"}
    _, el = night.hw.mount.position()
    return {"error_dx_urad": found[0] * math.cos(el) / URAD, "error_de_urad": found[1] / URAD,
            "error_found_by": "wide camera"}


def base_record(night: Night, star: Star) -> dict[str, Any]:
    return {"hip": star.hip, "name": star.name, "imag": star.imag, "vmag": star.vmag,
            "v_minus_i": star.v_minus_i, "time": night.now_iso()}


def positions(night: Night, star: Star, samples: list[tuple[Any, Any, tuple[float, float]]]
              ) -> dict[str, Any]:
    """True place and the raw position that centres the star, from one or more frames.

    Each frame gives a (true, raw) pair: the boresight at the encoder reading
    of mid-exposure, through the current model, plus the star's offset on the
    camera.  Their residuals from the current model are averaged, and the
    record is the last frame's true place with the raw position carrying the
    mean residual, so the average enters the fit exactly.
    """
    res = []
    for m, frame, enc in samples:
        true_az, true_el = night.place(star, frame.time)
        dx, de = night.camera.geometry.offset(m.x, m.y)
        b_az, b_el = night.model.true_from_raw(enc[0], enc[1])
        s_az, s_el = b_az + float(dx) / math.cos(b_el), b_el + float(de)
        res.append((((true_az - s_az + math.pi) % (2 * math.pi) - math.pi)
                    * math.cos(true_el) + 0.0, true_el - s_el, true_az, true_el, enc))
    r = np.array([x[:2] for x in res])
    mean = r.mean(axis=0)
    _, _, true_az, true_el, enc = res[-1]
    # raw position whose model image is the star's place minus the mean residual
    aim_az = true_az - mean[0] / math.cos(true_el)
    aim_el = true_el - mean[1]
    raw_az, raw_el = night.model.raw_from_true(aim_az, aim_el)
    raw_az = enc[0] + ((raw_az - enc[0] + math.pi) % (2 * math.pi) - math.pi)
    m, frame, _ = samples[-1]
    scatter = (float(np.sqrt(np.mean(np.var(r, axis=0, ddof=1)) / len(r))) / ARCSEC
               if len(r) > 1 else math.nan)
    ratio = brightness_ratio(night, star, m, frame.exposure_s, wide=False)
    return {"time": frame.time.utc.isot, "az_deg": true_az / DEG, "el_deg": true_el / DEG,
            "raw_az_deg": raw_az / DEG, "raw_el_deg": raw_el / DEG,
            "x_px": m.x, "y_px": m.y, "n_frames": len(samples),
            "brightness_ratio": ratio, "wide_brightness_ratio": night.last_wide_ratio,
            "scatter_arcsec": scatter, "centroid_flags": m.flags_text(),
            "camera_exposure_s": frame.exposure_s}


def counts(night: Night, star: Star, m: Any, frame: Any, offset: tuple[float, float]
           ) -> dict[str, Any]:
    """Photon counts on the star (centred) and beside it; camera photometry; Moon."""
    out: dict[str, Any] = {"count_time_s": night.cfg.count_time_s,
                           "dark_cps": night.detectors.total_dark_cps}
    phot = camera_aperture_photometry(frame.data, m.x, m.y,
                                      gain_e_per_adu=night.camera.sensor.gain_e_per_adu)
    out.update({"camera_flux_adu": phot.flux_adu, "camera_flux_err_adu": phot.flux_err_adu,
                "camera_sky_adu_per_px": phot.sky_adu_per_px})
    out.update(night.moon())
    if night.hw.counter is None:
        out.update({"counts_star": math.nan, "counts_off": math.nan})
        return out
    # centre the star exactly on the fibre, count, then step off it and count again
    da, dd = to_raw(night, *(float(v) for v in night.camera.geometry.offset(m.x, m.y)))
    centred = (offset[0] + da, offset[1] + dd)
    goto(night, lambda t: night.place(star, t), centred)
    on = night.hw.counter.count(night.cfg.count_time_s)
    goto(night, lambda t: night.place(star, t),
              (centred[0], centred[1] + night.cfg.off_star_urad * URAD))
    off = night.hw.counter.count(night.cfg.count_time_s)
    night.hw.mount.stop()
    out.update({"counts_star": float(on.total), "counts_off": float(off.total),
                "counts_star_channels": on.counts.tolist(),
                "counts_off_channels": off.counts.tolist()})
    return out

