"""The calibration night: acquire, observe, fit, verify, measure efficiency and noise.

:func:`run_night` drives any :class:`~pointing.hardware.base.Backend` through
the steps of the domain brief and writes everything into the station log as
it happens (:mod:`pointing.night.log`), then the report
(:mod:`pointing.night.report`):

1. **Zero offsets** — point at a bright, isolated star with the current
   model; if the wide camera does not show it (a compass setup can be off by
   degrees), search in a spiral of overlapping wide-camera fields; centre it
   on the tracking camera's calibration pixel; fit IA and IE to it.
2. **Stars** — select and order the calibration stars
   (:func:`pointing.sky.select.select_stars`).
3. **Observe** each: slew with the current model, track, expose, measure
   (:func:`pointing.camera.measure_star`); a miss is searched for with the
   wide camera, a flagged frame retried with a better exposure; centre the
   star, record true and raw positions, count photons on the star and beside
   it.  After four stars a provisional model (IA IE AN AW) keeps the next ones
   in the tracking camera.
4. **Fit** the station's term list (or ``auto``) and write the model.
5. **Verify** on fresh stars: the offset of each from the calibration pixel,
   pointing with the new model, is the number of the reference paper's Fig. 4.
6. **Background** on a grid of blank-sky positions, then efficiency,
   extinction and noise maps from all counts.

Every observation is committed to the log with the backend's state; with
``resume=True`` an interrupted night continues where it stopped and, on a
deterministic backend, ends with the same observations as an uninterrupted one.
Faults (timeouts, limits, clouds, lost stars) are logged and the star skipped.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FitError, PointingError
from pointing.hardware.base import Backend, ConnectionLost, HardwareError
from pointing.model.model import ARCSEC, PointingModel
from pointing.model.run import Observations
from pointing.night.config import NightConfig
from pointing.night.log import StationLog, default_log_path
from pointing.units import DEG, URAD

__all__ = ["NightInterrupted", "run_night"]

log = logging.getLogger("pointing.night")


class NightInterrupted(PointingError):
    """The night was stopped on purpose (tests; operator interrupt)."""


@dataclass
class _Star:
    hip: int
    name: str
    imag: float
    vmag: float
    v_minus_i: float
    row: Any  # astrometry of this star (dict of 1-element arrays)


class _Night:
    """State of one night while it runs (see :func:`run_night`)."""

    def __init__(self, station: Any, backend: Backend, cfg: NightConfig, db: StationLog,
                 night_id: int, out_dir: Path, model: PointingModel,
                 interrupt_after: int | None, progress: bool):
        from pointing.camera.config import Camera
        from pointing.photometry.efficiency import DetectorConfig, PhotometryConfig
        from pointing.sky.catalog import load_catalog
        from pointing.sky.places import star_astrometry

        self.station = station
        self.hw = backend
        self.cfg = cfg
        self.db = db
        self.night_id = night_id
        self.out = out_dir
        self.model = model
        self.interrupt_after = interrupt_after
        self.progress = progress
        self.camera = Camera.from_config(station.section("camera"))
        from pointing.hardware.simulator.station import wide_camera_section

        wide, self.wide_aperture_m = wide_camera_section(station)
        self.wide = Camera.from_config(wide)
        self.photometry = PhotometryConfig.from_station(station)
        self.detectors = DetectorConfig.from_station(station)
        self.catalog = load_catalog()
        self._astro_all = star_astrometry(self.catalog)
        self.initial_model = model
        self.seq = 0
        self.records: list[dict[str, Any]] = []
        self.done: dict[tuple[str, str], dict[str, Any]] = {}
        self.plan: dict[str, Any] = {}
        # measured / expected flux of each camera, set from the zero-offset star
        self.flux_scale = {"tracking": 1.0, "wide": 1.0}
        self.calibrated = False
        self.last_wide_ratio: float | None = None

    # -- bookkeeping ---------------------------------------------------------
    def now_iso(self) -> str:
        return self.hw.clock.now().utc.isot

    def say(self, message: str, level: str = "info") -> None:
        getattr(log, level if level != "warn" else "warning")(message)
        self.db.event(self.night_id, level, message, self.now_iso())

    def commit(self, kind: str, target: str, record: dict[str, Any], status: str = "ok",
               reason: str | None = None) -> None:
        self.seq += 1
        record = {**record, "seq": self.seq, "kind": kind, "target": target, "status": status,
                  "reason": reason}
        state = self.hw.state() if self.hw.state else None
        self.db.add_observation(self.night_id, self.seq, kind, target, status, record,
                                reason=reason, time_utc=record.get("time"),
                                checkpoint={"backend": state, "model": self.model.to_dict()})
        self.records.append(record)
        if status != "ok":
            self.say(f"{kind} {target}: skipped — {reason}", "warn")
        if self.interrupt_after is not None and self.seq >= self.interrupt_after:
            raise NightInterrupted(f"interrupted after observation {self.seq}")

    def star(self, hip: int) -> _Star:
        idx = int(np.nonzero(np.asarray(self.catalog["hip"]) == hip)[0][0])
        row = {k: v[idx:idx + 1] for k, v in self._astro_all.items()}
        c = self.catalog
        vi = float(c["vi"][idx])
        return _Star(hip=hip, name=str(c["name"][idx]) if "name" in c.colnames else "",
                     imag=float(c["imag"][idx]), vmag=float(c["vmag"][idx]),
                     v_minus_i=vi, row=row)

    # -- positions -------------------------------------------------------------
    def place(self, star: _Star, time: Any) -> tuple[float, float]:
        """Observed (refracted) az/el of a star at a time, radians."""
        from pointing.sky.places import observed_altaz

        az, el = observed_altaz(star.row, self.station, time)
        return float(az[0]), float(el[0])

    def raw_for(self, true_az: float, true_el: float, near_az: float | None = None
                ) -> tuple[float, float]:
        """Encoder demand for a true position, on the cable-wrap turn nearest ``near_az``."""
        if near_az is not None:
            true_az = near_az + ((true_az - near_az + math.pi) % (2 * math.pi) - math.pi)
        a, e = self.model.raw_from_true(float(true_az), float(true_el))
        lim = self.hw.mount.limits()
        for turn in (0.0, 2 * math.pi, -2 * math.pi):  # stay inside the cable wrap
            if lim.az_min <= a + turn <= lim.az_max:
                return a + turn, e
        return a, e

    def _slew_estimate(self, az: float, el: float) -> float:
        from pointing.sky.slews import slew_time

        m = self.station.mount
        a0, e0 = self.hw.mount.position()
        return float(max(slew_time((az - a0) / DEG, m.az_speed_deg_s, m.az_accel_deg_s2),
                         slew_time((el - e0) / DEG, m.el_speed_deg_s, m.el_accel_deg_s2))
                     + getattr(m, "settle_s", 2.0))

    def goto(self, true_at: Callable[[Any], tuple[float, float]],
             raw_offset: tuple[float, float] = (0.0, 0.0)) -> None:
        """Slew to a moving target and track it, with an offset in encoder angles.

        The offset (radians of raw azimuth and elevation) is what centring and
        searching add to the model's demand: a zero-point error, which is what a
        gross model error mostly is, is a constant encoder offset, so the star
        stays put while the mount tracks.
        """
        from astropy import units as u

        mount = self.hw.mount
        a_now, _ = mount.position()

        def demand(t: Any) -> tuple[float, float]:
            a, e = self.raw_for(*true_at(t), a_now)
            return a + raw_offset[0], e + raw_offset[1]

        for _ in range(2):  # the second, short slew lands on the target's position then
            now = self.hw.clock.now()
            target = demand(now)
            for _ in range(3):  # the slew time depends on where the target will be by then
                target = demand(now + self._slew_estimate(*target) * u.s)
            arrive = now + self._slew_estimate(*target) * u.s
            mount.slew(*target)
        # a mount faster than the estimate waits where the target will be: start tracking
        # when the target gets there, not before (real hardware; the simulator is on time)
        early = float((arrive - self.hw.clock.now()).sec)
        if early > 1e-3:
            self.hw.clock.sleep(early)
        now = self.hw.clock.now()
        a1, e1 = demand(now)
        a2, e2 = demand(now + 10 * u.s)
        mount.track((a2 - a1) / 10.0, (e2 - e1) / 10.0)

    def to_raw(self, dx: float, de: float) -> tuple[float, float]:
        """A small sky offset (ΔA·cosE, ΔE) as encoder angles at the mount's elevation."""
        _, e = self.hw.mount.position()
        return dx / max(math.cos(e), 1e-3), de

    # -- measurement -------------------------------------------------------------
    def _star_rate_e(self, star: _Star, wide: bool) -> float:
        """Expected electrons/s of a star in a camera (design efficiency, no extinction)."""
        from pointing.photometry.efficiency import collecting_area, star_photon_flux

        if wide:
            area = math.pi / 4 * self.wide_aperture_m**2
        else:
            area = collecting_area(self.station.telescope.aperture_m,
                                   self.station.telescope.obstruction_m)
        vi = star.v_minus_i if math.isfinite(star.v_minus_i) else 0.7
        return float(star_photon_flux(star.imag, vi, self.photometry.camera_band)) * area * 0.4

    def exposure_for(self, star: _Star, *, wide: bool = False) -> float:
        """Exposure (s) that brings the star's peak to ``peak_fraction`` of saturation."""
        cam = self.wide if wide else self.camera
        peak_share = 1.0 / (1.13 * cam.fwhm_px**2) * 1.2
        sat_e = cam.sensor.saturation_adu * (cam.sensor.gain_e_per_adu or 1.0)
        rate = self._star_rate_e(star, wide)
        t = self.cfg.peak_fraction * sat_e / max(rate * peak_share, 1e-9)
        return float(np.clip(t, self.cfg.min_exposure_s, self.cfg.max_exposure_s))

    def brightness_ratio(self, star: _Star, m: Any, exposure: float, *, wide: bool) -> float:
        """Measured over expected flux of the target, with the night's camera calibration."""
        cam = self.wide if wide else self.camera
        expected_adu = (self._star_rate_e(star, wide) * exposure
                        / (cam.sensor.gain_e_per_adu or 1.0))
        return float(m.flux) / (expected_adu * self.flux_scale["wide" if wide else "tracking"])

    def is_target(self, star: _Star, m: Any, exposure: float, *, wide: bool) -> bool:
        """Whether a measured star is the target and not a neighbour, by its brightness.

        Before the zero-offset star has calibrated the cameras, anything within
        2.5 mag of the expected flux passes (the zero star is chosen with no
        rival that close); afterwards only ±1.1 mag.  A saturated star is too
        bright for the exposure chosen for the target, unless the exposure is
        already the shortest.
        """
        from pointing.camera.measure import StarFlag

        if StarFlag.SATURATED in m.flags:
            return exposure <= self.cfg.min_exposure_s
        lo, hi = (0.1, 10.0) if not self.calibrated else (0.36, 2.75)
        return lo <= self.brightness_ratio(star, m, exposure, wide=wide) <= hi

    def measure(self, exposure: float, *, wide: bool = False) -> tuple[Any, Any, Any, Any]:
        """Expose and measure; returns (measurement, frame, encoder at mid-exposure)."""
        from pointing.camera.measure import measure_star

        cam = self.wide if wide else self.camera
        device = self.hw.wide_camera if wide else self.hw.tracking_camera
        mount = self.hw.mount
        t0 = self.hw.clock.now()
        p0 = mount.position()
        frame = device.expose(exposure)
        t1 = self.hw.clock.now()
        p1 = mount.position()
        span = float((t1 - t0).sec)
        f = float((frame.time - t0).sec) / span if span > 0 else 0.5
        enc = (p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1]))
        expected = None if wide else cam.geometry.calibration_pixel
        m = measure_star(frame.data, expected_xy=expected, camera=cam)
        return m, frame, enc, cam

    def acquire(self, star: _Star, *, search_deg: float
                ) -> tuple[Any, Any, Any, tuple[float, float]] | None:
        """Point at a star, find it and centre it on the calibration pixel.

        Returns the final (measurement, frame, encoder-at-mid, raw offset in
        use) or None when the star cannot be found or measured.
        """
        from pointing.camera.measure import StarFlag

        exposure = self.exposure_for(star)
        offset = (0.0, 0.0)
        self.goto(lambda t: self.place(star, t), offset)
        for _ in range(8):
            m, frame, enc, cam = self.measure(exposure)
            if StarFlag.SATURATED in m.flags and exposure > self.cfg.min_exposure_s:
                exposure = max(exposure / 8, self.cfg.min_exposure_s)
                continue
            if m.found and StarFlag.LOW_SNR in m.flags and exposure < self.cfg.max_exposure_s:
                exposure = min(exposure * 5, self.cfg.max_exposure_s)
                continue
            if (not m.found or StarFlag.EDGE in m.flags
                    or not self.is_target(star, m, exposure, wide=False)):
                found = self.search(star, offset, search_deg)
                if found is None:
                    return None
                offset = found
                self.goto(lambda t: self.place(star, t), offset)
                continue
            dx, de = cam.geometry.offset(m.x, m.y)
            if math.hypot(dx, de) / (cam.geometry.pixel_scale_urad * URAD) \
                    <= self.cfg.centre_tolerance_px:
                return m, frame, enc, offset
            da, dd = self.to_raw(float(dx), float(de))
            offset = (offset[0] + da, offset[1] + dd)
            self.goto(lambda t: self.place(star, t), offset)
        return None

    def search(self, star: _Star, offset: tuple[float, float], max_deg: float
               ) -> tuple[float, float] | None:
        """Find a star with the wide camera, here first then in a spiral of fields.

        Returns the raw offset (radians) that brings it to the boresight.
        """
        if self.hw.wide_camera is None:
            return None
        g = self.wide.geometry
        step = self.cfg.search_overlap * min(g.width, g.height) * g.pixel_scale_urad * URAD
        spiral = [(0.0, 0.0)]
        ring = 1
        while ring * step <= max_deg * DEG:
            n = 6 * ring
            spiral += [(ring * step * math.cos(2 * math.pi * k / n),
                        ring * step * math.sin(2 * math.pi * k / n)) for k in range(n)]
            ring += 1
        _, el = self.place(star, self.hw.clock.now())
        exposure = self.exposure_for(star, wide=True)
        for k, (sx, sy) in enumerate(spiral):
            here = (offset[0] + sx / math.cos(el), offset[1] + sy)
            try:
                self.goto(lambda t: self.place(star, t), here)
            except ConnectionLost:
                raise
            except HardwareError as exc:
                self.say(f"HIP {star.hip}: search field {k + 1} skipped: {exc}", "warn")
                continue
            m, _frame, _enc, cam = self.measure(exposure, wide=True)
            if m.found and self.is_target(star, m, exposure, wide=True):
                self.last_wide_ratio = self.brightness_ratio(star, m, exposure, wide=True)
                da, dd = self.to_raw(*(float(v) for v in cam.geometry.offset(m.x, m.y)))
                found = (here[0] + da, here[1] + dd)
                if k:
                    self.say(f"HIP {star.hip}: found by the wide camera after {k + 1} fields, "
                             f"{math.hypot(found[0] * math.cos(el), found[1]) / DEG:.2f}° "
                             "from where the model pointed")
                return found
        return None

    def observe(self, star: _Star, kind: str, *, search_deg: float = 2.0,
                record_error: bool = False) -> None:
        """One star: acquire, centre, record positions and counts; commit."""
        target = f"HIP {star.hip}"
        if (kind, target) in self.done:
            return
        try:
            error = None
            if record_error:
                error = self.pointing_error(star)
            got = self.acquire(star, search_deg=search_deg)
            if got is None:
                self.commit(kind, target, self._base_record(star), "skipped",
                            "not found (wide-camera search failed or star flagged)")
                return
            m, frame, enc, offset = got
            self.last_wide_ratio = None
            samples = [(m, frame, enc)]
            for _ in range(self.cfg.n_exposures - 1):  # average the seeing's image motion
                more = self.measure(frame.exposure_s)
                if more[0].found and self.is_target(star, more[0], frame.exposure_s,
                                                    wide=False):
                    samples.append(more[:3])
            record = self._base_record(star)
            record.update(self.positions(star, samples))
            record.update(self.counts(star, m, frame, offset))
            if error is not None:
                record.update(error)
            self.commit(kind, target, record)
        except ConnectionLost:
            raise  # nothing more can be observed: the night stops (resumable)
        except HardwareError as exc:
            self.hw.mount.stop()
            self.commit(kind, target, self._base_record(star), "skipped",
                        f"{type(exc).__name__}: {exc}")

    def pointing_error(self, star: _Star) -> dict[str, Any]:
        """Offset of a star from the calibration pixel, pointing with the model (µrad)."""
        self.goto(lambda t: self.place(star, t))
        exposure = self.exposure_for(star)
        m, _frame, _enc, cam = self.measure(exposure)
        if m.found:
            dx, de = cam.geometry.offset(m.x, m.y)
            return {"error_dx_urad": float(dx) / URAD, "error_de_urad": float(de) / URAD,
                    "error_found_by": "tracking camera"}
        found = self.search(star, (0.0, 0.0), 2.0)
        if found is None:
            return {"error_dx_urad": math.nan, "error_de_urad": math.nan,
                    "error_found_by": "not found"}
        _, el = self.hw.mount.position()
        return {"error_dx_urad": found[0] * math.cos(el) / URAD, "error_de_urad": found[1] / URAD,
                "error_found_by": "wide camera"}

    def _base_record(self, star: _Star) -> dict[str, Any]:
        return {"hip": star.hip, "name": star.name, "imag": star.imag, "vmag": star.vmag,
                "v_minus_i": star.v_minus_i, "time": self.now_iso()}

    def positions(self, star: _Star, samples: list[tuple[Any, Any, tuple[float, float]]]
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
            true_az, true_el = self.place(star, frame.time)
            dx, de = self.camera.geometry.offset(m.x, m.y)
            b_az, b_el = self.model.true_from_raw(enc[0], enc[1])
            s_az, s_el = b_az + float(dx) / math.cos(b_el), b_el + float(de)
            res.append((((true_az - s_az + math.pi) % (2 * math.pi) - math.pi)
                        * math.cos(true_el) + 0.0, true_el - s_el, true_az, true_el, enc))
        r = np.array([x[:2] for x in res])
        mean = r.mean(axis=0)
        _, _, true_az, true_el, enc = res[-1]
        # raw position whose model image is the star's place minus the mean residual
        aim_az = true_az - mean[0] / math.cos(true_el)
        aim_el = true_el - mean[1]
        raw_az, raw_el = self.model.raw_from_true(aim_az, aim_el)
        raw_az = enc[0] + ((raw_az - enc[0] + math.pi) % (2 * math.pi) - math.pi)
        m, frame, _ = samples[-1]
        scatter = (float(np.sqrt(np.mean(np.var(r, axis=0, ddof=1)) / len(r))) / ARCSEC
                   if len(r) > 1 else math.nan)
        ratio = self.brightness_ratio(star, m, frame.exposure_s, wide=False)
        return {"time": frame.time.utc.isot, "az_deg": true_az / DEG, "el_deg": true_el / DEG,
                "raw_az_deg": raw_az / DEG, "raw_el_deg": raw_el / DEG,
                "x_px": m.x, "y_px": m.y, "n_frames": len(samples),
                "brightness_ratio": ratio, "wide_brightness_ratio": self.last_wide_ratio,
                "scatter_arcsec": scatter, "centroid_flags": m.flags_text(),
                "camera_exposure_s": frame.exposure_s}

    def counts(self, star: _Star, m: Any, frame: Any, offset: tuple[float, float]
               ) -> dict[str, Any]:
        """Photon counts on the star (centred) and beside it; camera photometry; Moon."""
        from pointing.photometry.efficiency import camera_aperture_photometry

        out: dict[str, Any] = {"count_time_s": self.cfg.count_time_s,
                               "dark_cps": self.detectors.total_dark_cps}
        phot = camera_aperture_photometry(frame.data, m.x, m.y,
                                          gain_e_per_adu=self.camera.sensor.gain_e_per_adu)
        out.update({"camera_flux_adu": phot.flux_adu, "camera_flux_err_adu": phot.flux_err_adu,
                    "camera_sky_adu_per_px": phot.sky_adu_per_px})
        out.update(self.moon())
        if self.hw.counter is None:
            out.update({"counts_star": math.nan, "counts_off": math.nan})
            return out
        # centre the star exactly on the fibre, count, then step off it and count again
        da, dd = self.to_raw(*(float(v) for v in self.camera.geometry.offset(m.x, m.y)))
        centred = (offset[0] + da, offset[1] + dd)
        self.goto(lambda t: self.place(star, t), centred)
        on = self.hw.counter.count(self.cfg.count_time_s)
        self.goto(lambda t: self.place(star, t),
                  (centred[0], centred[1] + self.cfg.off_star_urad * URAD))
        off = self.hw.counter.count(self.cfg.count_time_s)
        self.hw.mount.stop()
        out.update({"counts_star": float(on.total), "counts_off": float(off.total),
                    "counts_star_channels": on.counts.tolist(),
                    "counts_off_channels": off.counts.tolist()})
        return out

    def moon(self) -> dict[str, float]:
        from pointing.hardware.simulator.station import moon_phase
        from pointing.sky.places import moon_altaz

        now = self.hw.clock.now()
        az, el = moon_altaz(self.station, now)
        return {"moon_az_deg": float(az) / DEG, "moon_el_deg": float(el) / DEG,
                "moon_phase": moon_phase(now)}

    # -- model ------------------------------------------------------------------
    def observations(self, kinds: tuple[str, ...] = ("zero", "model")) -> Observations:
        rows = [r for r in self.records if r["kind"] in kinds and r["status"] == "ok"]
        if not rows:
            raise FitError("no star was observed")
        deg = np.array([[r["az_deg"], r["el_deg"], r["raw_az_deg"], r["raw_el_deg"]]
                        for r in rows])
        return Observations.from_degrees(
            deg[:, 0], deg[:, 1], deg[:, 2], deg[:, 3],
            comments=tuple(f"{r['kind']} HIP {r['hip']} seq {r['seq']}" for r in rows),
            caption=f"{self.station.name} calibration night {self.night_id}",
            options=("ALTAZ",), site={"latitude_deg": self.station.latitude_deg})

    def provisional_model(self) -> PointingModel:
        """The model to point with next, from the observations so far (deterministic).

        One star fixes the zero offsets; two or more refit IA IE; four or more
        also the axis tilt (``provisional_terms``); other terms keep the
        initial model's values.
        """
        from pointing.model.fit import fit

        try:
            obs = self.observations()
        except FitError:
            return self.initial_model
        base = self.initial_model
        if len(obs) == 1:
            return zero_offsets(base, obs)
        free = list(self.cfg.provisional_terms) if len(obs) >= 4 else ["IA", "IE"]
        fixed = {k: v for k, v in base.values.items() if k not in free}
        try:
            return fit(obs, [*free, *fixed], fix=fixed).model
        except FitError:
            return zero_offsets(base, obs.select(np.array([0])))


def zero_offsets(model: PointingModel, obs: Observations) -> PointingModel:
    """``model`` with IA and IE set so that it maps the first observation exactly."""
    values = dict(model.values)
    values.setdefault("IA", 0.0)
    values.setdefault("IE", 0.0)
    names = list(values)
    current = PointingModel(names, [values[n] for n in names])
    for _ in range(4):  # rigorous: iterate the two index terms on one star
        a, e = current.true_from_raw(float(obs.az_raw[0]), float(obs.el_raw[0]))
        values["IA"] -= ((float(obs.az_true[0]) - a + math.pi) % (2 * math.pi) - math.pi) / ARCSEC
        values["IE"] += (float(obs.el_true[0]) - e) / ARCSEC
        current = PointingModel(names, [values[n] for n in names])
    return current


def run_night(station: Any, backend: Backend, out_dir: str | Path, *,
              config: NightConfig | None = None, log_path: str | Path | None = None,
              resume: bool = False, initial_model: PointingModel | None = None,
              interrupt_after: int | None = None, progress: bool | None = None
              ) -> dict[str, Any]:
    """Run (or resume) a calibration night and write its report into ``out_dir``.

    Parameters
    ----------
    station : pointing.station.Station
    backend : Backend
        The devices (the simulator, INDI, or a station's own adapter).
    out_dir : str or Path
        Where the report goes (created).
    config : NightConfig, optional
        Default: the station's ``[night]`` section.
    log_path : str or Path, optional
        The station log (default: ``[night] log_path`` or the per-station default).
    resume : bool
        Continue the station's last unfinished night instead of starting anew.
    initial_model : PointingModel, optional
        The model to point with at first (default: the station's ``[model]``
        section, else zero offsets only).
    interrupt_after : int, optional
        Stop with :class:`NightInterrupted` after that many observations (for
        tests of resuming).
    progress : bool, optional
        Show a progress bar (default: when standard error is a terminal).

    Returns
    -------
    dict
        The night's ``summary.json``.
    """
    from pointing.night.report import write_report
    from pointing.night.steps import run_steps

    cfg = config or NightConfig.from_section(station.section("night"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db_path = Path(log_path or cfg.log_path or default_log_path(station.name))
    db = StationLog(db_path)
    try:
        night_id = db.unfinished_night(station.name) if resume else None
        if resume and night_id is None:
            raise PointingError(f"--resume: no unfinished night of {station.name} in {db_path}")
        model = initial_model or _station_model(station)
        if night_id is None:
            night_id = db.start_night(station.name, backend.name,
                                      {"night": cfg.to_dict(), "out_dir": str(out)},
                                      backend.clock.now().utc.isot)
            db.add_model(night_id, "initial", model.to_dict())
        else:
            db.reopen(night_id)
        night = _Night(station, backend, cfg, db, night_id, out, model, interrupt_after,
                       sys.stderr.isatty() if progress is None else progress)
        if resume:
            _restore(night)
        try:
            results = run_steps(night)
        except NightInterrupted:
            db.finish_night(night_id, "interrupted", summary=None, reason="interrupted")
            raise
        except (HardwareError, PointingError) as exc:  # PointingError: FitError, no zero star
            reason = str(exc)
            if isinstance(exc, ConnectionLost):
                reason = (f"the night stopped after observation {night.seq}: {exc}; every "
                          "observation so far is in the station log: continue with --resume "
                          "once the devices are back")
            night.say(f"night failed: {reason}", "error")
            summary = write_report(night, None, failure=reason)
            db.finish_night(night_id, "failed", summary=summary, reason=reason)
            return summary
        summary = write_report(night, results)
        db.finish_night(night_id, "complete", summary=summary)
        return summary
    finally:
        db.close()
        if backend.close:
            backend.close()


def _station_model(station: Any) -> PointingModel:
    """The model to start with: the station's ``[model]`` section, else nothing."""
    section = station.section("model")
    if not section:
        return PointingModel(["IA", "IE"], [0.0, 0.0])
    if "file" in section:
        path = Path(section["file"]).expanduser()
        if not path.is_absolute() and station.path is not None:
            path = Path(station.path).parent / path
        return PointingModel.load(path)
    terms = section.get("terms", {})
    if not isinstance(terms, Mapping):
        from pointing.errors import ConfigError

        raise ConfigError("model.terms: expected a table NAME = value_arcsec")
    names = list(terms) or ["IA", "IE"]
    return PointingModel(names, [float(terms.get(n, 0.0)) for n in names])


def _restore(night: _Night) -> None:
    """Reload what an interrupted night already did: observations, model, devices."""
    rec = night.db.night(night.night_id)
    for obs in rec.observations:
        night.records.append(obs["record"])
        night.done[(obs["kind"], obs["target"])] = obs["record"]
        night.seq = obs["seq"]
    last = rec.observations[-1]["checkpoint"] if rec.observations else rec.checkpoint
    if last and last.get("backend") and night.hw.restore:
        night.hw.restore(last["backend"])
    night.plan = rec.plan or {}
    night.say(f"resuming night {night.night_id} after observation {night.seq}")
