"""Flying a pass: open loop on the trajectory, acquisition, timing feed-forward, closed loop.

The steps talk to a station only through :mod:`pointing.hardware.base`: a
:class:`~pointing.hardware.base.TrajectoryMount` (follow a trajectory with a
time offset, take position offsets, read the axes), the wide and tracking
cameras as :class:`~pointing.hardware.base.WindowedCamera` (a window,
binned) and, when there is one, a
:class:`~pointing.hardware.base.StreamingCounter` for the photon counts.  A
real station and the simulator (:mod:`pointing.hardware.simulator.beacon`)
run the same code.

Sequence (:func:`fly_pass`)
---------------------------
1. **Wait** at the trajectory's start (``plan.start_raw_*``), then follow it
   open loop (time offset 0).
2. **Acquire** (:func:`acquire`): the wide camera (whole field, binned)
   until the beacon is seen in ``acquire_detections`` frames.  Offsets are
   relative to the wide camera's calibration pixel (its alignment with the
   tracking camera's).
3. **Feed forward** (:func:`estimate_timing`): a TLE's error is mostly
   along the track, i.e. a timing error: the target sits where the
   prediction will be ``δ`` seconds later.  Each detection's offset ``o`` is
   projected on the predicted track's sky velocity ``J`` (ΔA·cosE/s, ΔE/s):
   ``δ = o·J / |J|²``; the median over the detections is added to the
   mount's time offset, the median of the remainder (cross-track) becomes
   its position offset.
4. **Closed loop** (:func:`track`) on the tracking camera at ``rate_hz``:
   a first binned full frame finds the beacon, then a small window
   (``roi_px``) follows it; an integrator of crossover ``loop_bandwidth_hz``
   turns the measured error into the mount's position offset.  Every
   ``refine_every_s`` the along-track part of that offset moves into the
   time offset (bumpless), so the timing estimate keeps improving.  Locked
   once the error stays inside ``lock_radius_urad`` for ``lock_frames``
   frames; after ``lose_frames`` frames without the beacon the loop opens
   and the station goes back to acquisition.

Every frame (wide and tracking) is a row of the tracking log
(:class:`~pointing.tracking.log.TrackingLog`): ``x_urad``/``y_urad`` the
measured offset from the calibration pixel (NaN when nothing was seen),
``locked``, ``detected``, the mount's ``az_deg``/``el_deg``, and the extra
columns ``counts`` (photon counts since the previous row, −1 without a
counter), ``camera`` ("wide"/"tracking") and ``time_offset_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.camera.config import Camera as CameraConfig
from pointing.camera.measure import measure_star
from pointing.errors import ConfigError, PointingError
from pointing.hardware.base import (
    Backend,
    StreamingCounter,
    TrajectoryMount,
    WindowedCamera,
)
from pointing.tracking.log import TrackingLog

__all__ = ["FlyConfig", "PassRecord", "TimingEstimate", "acquire", "estimate_timing",
           "fly_pass", "track"]

_URAD = 1e-6


@dataclass(frozen=True)
class FlyConfig:
    """How the station flies a pass (rates Hz, times s, angles µrad)."""

    rate_hz: float = 50.0
    exposure_s: float = 0.005
    roi_px: int = 64
    search_binning: int = 4
    wide_rate_hz: float = 10.0
    wide_exposure_s: float = 0.05
    wide_binning: int = 2
    acquire_detections: int = 5
    min_snr: float = 10.0
    loop_bandwidth_hz: float = 2.5
    lock_radius_urad: float = 20.0
    lock_frames: int = 10
    lose_frames: int = 5
    search_s: float = 1.0  #: a search of the tracking camera may take this long
    settle_s: float = 0.3  #: after a coarse jump, the mount settles this long
    acquire_timeout_s: float = 120.0
    max_duration_s: float | None = None  #: stop after this long (tests); default: the pass

    def check(self) -> None:
        """Raise ConfigError naming the first absurd setting."""
        positive = ("rate_hz", "exposure_s", "wide_rate_hz", "wide_exposure_s",
                    "loop_bandwidth_hz", "lock_radius_urad", "search_s",
                    "settle_s",
                    "acquire_timeout_s")
        for name in positive:
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"tracking.{name}: must be positive, got {v!r}")
        if self.exposure_s >= 1.0 / self.rate_hz:
            raise ConfigError(f"tracking.exposure_s {self.exposure_s:g}: must be shorter than "
                              f"the frame period 1/{self.rate_hz:g} Hz")
        if self.wide_exposure_s >= 1.0 / self.wide_rate_hz:
            raise ConfigError(f"tracking.wide_exposure_s {self.wide_exposure_s:g}: must be "
                              f"shorter than the frame period 1/{self.wide_rate_hz:g} Hz")
        if self.loop_bandwidth_hz > self.rate_hz / 8:
            raise ConfigError(f"tracking.loop_bandwidth_hz {self.loop_bandwidth_hz:g}: must be "
                              f"at most an eighth of the frame rate {self.rate_hz:g} Hz")
        for name in ("roi_px", "search_binning", "wide_binning", "acquire_detections",
                     "lock_frames", "lose_frames"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"tracking.{name}: must be a positive integer, got {v!r}")
        if self.roi_px < 16:
            raise ConfigError(f"tracking.roi_px {self.roi_px}: must be at least 16")
        if self.max_duration_s is not None and not self.max_duration_s > 0:
            raise ConfigError(f"tracking.max_duration_s: must be positive, "
                              f"got {self.max_duration_s!r}")


@dataclass(frozen=True)
class TimingEstimate:
    """The TLE's timing error from the first detections (s) and the cross-track rest (µrad)."""

    time_offset_s: float
    cross_urad: tuple[float, float]
    n_detections: int
    spread_s: float
    at_s: float  #: trajectory time of the last detection used

    def to_dict(self) -> dict[str, Any]:
        return {"time_offset_s": self.time_offset_s, "cross_urad": list(self.cross_urad),
                "n_detections": self.n_detections, "spread_s": self.spread_s,
                "at_s": self.at_s}


@dataclass
class PassRecord:
    """What the steps recorded: one row per frame, and the events."""

    t_s: list[float] = field(default_factory=list)
    x_urad: list[float] = field(default_factory=list)
    y_urad: list[float] = field(default_factory=list)
    az_deg: list[float] = field(default_factory=list)
    el_deg: list[float] = field(default_factory=list)
    locked: list[bool] = field(default_factory=list)
    detected: list[bool] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    camera: list[str] = field(default_factory=list)
    time_offset_s: list[float] = field(default_factory=list)
    estimates: list[TimingEstimate] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    time_offset_final_s: float = 0.0

    def add(self, t: float, xy: tuple[float, float] | None, mount_pos: tuple[float, float],
            locked: bool, counts: int, camera: str, tau: float) -> None:
        self.t_s.append(t)
        self.x_urad.append(xy[0] if xy else math.nan)
        self.y_urad.append(xy[1] if xy else math.nan)
        self.az_deg.append(math.degrees(mount_pos[0]) % 360.0)
        self.el_deg.append(math.degrees(mount_pos[1]))
        self.locked.append(locked)
        self.detected.append(xy is not None)
        self.counts.append(counts)
        self.camera.append(camera)
        self.time_offset_s.append(tau)

    def to_log(self, t0: str, meta: dict[str, Any] | None = None) -> TrackingLog:
        """The tracking log (checked like a file)."""
        return TrackingLog.from_arrays(
            self.t_s, self.x_urad, self.y_urad, self.el_deg, self.locked, t0=t0,
            detected=self.detected, az_deg=self.az_deg,
            extra={"counts": np.asarray(self.counts, dtype=np.int64),
                   "camera": np.asarray(self.camera),
                   "time_offset_s": np.round(np.asarray(self.time_offset_s), 6)},
            meta=meta)


class _Pass:
    """The trajectory as the steps use it: clock ↔ trajectory time, sky velocity of the track."""

    def __init__(self, backend: Backend, trajectory: Any):
        self.backend = backend
        self.traj = trajectory
        self.clock = backend.clock
        self.mount = backend.mount
        t = trajectory.t_s
        az = np.unwrap(trajectory.az_rad)
        el = trajectory.el_rad
        self._t = t
        self._jx = np.gradient(az, t) * np.cos(el)
        self._jy = np.gradient(el, t)
        self.shift = float(trajectory.seconds(self.clock.now())) - self._elapsed()
        self.tau = 0.0  # the time offset: the TLE's along-track error (s)
        self.cross = 0.0  # the cross-track offset from the predicted track (rad)
        self.period = 0.02

    def _elapsed(self) -> float:
        e = getattr(self.clock, "elapsed_s", None)
        if e is not None:
            return float(e)
        return float(self.traj.seconds(self.clock.now()))

    def now_s(self) -> float:
        """Trajectory seconds now."""
        return self._elapsed() + self.shift

    def frame_s(self, frame: Any) -> float:
        e = frame.metadata.get("elapsed_s") if frame.metadata else None
        if e is not None:
            return float(e) + self.shift
        return float(self.traj.seconds(frame.time))

    def velocity(self, t_s: float) -> tuple[float, float]:
        """Sky velocity of the predicted track (ΔA·cosE, ΔE rad/s) at trajectory time."""
        return (float(np.interp(t_s, self._t, self._jx)),
                float(np.interp(t_s, self._t, self._jy)))

    def normal(self, t_s: float) -> tuple[float, float, float]:
        """Unit vector across the predicted track (sky x, y) and the track's speed (rad/s)."""
        jx, jy = self.velocity(t_s + self.tau)
        speed = math.hypot(jx, jy)
        if speed <= 0:
            raise PointingError("the predicted track does not move: no along-track frame")
        return -jy / speed, jx / speed, speed

    def add_error(self, ex: float, ey: float, gain: float, t_s: float) -> None:
        """Take *gain* of a sky error (rad): along the track into the time offset, across
        it into the cross-track offset (a frame that turns with the track, not with the
        azimuth axis: through the zenith the mount's x/y frame spins, the track's does not)."""
        nx, ny, speed = self.normal(t_s)
        self.tau += gain * (ex * ny - ey * nx) / speed
        self.cross += gain * (ex * nx + ey * ny)

    def _raw_offset(self, t_s: float) -> tuple[float, float]:
        nx, ny, _ = self.normal(t_s)
        el = float(np.interp(t_s + self.tau, self._t, self.traj.raw_el_rad))
        c = max(abs(math.cos(el)), 0.02)
        return self.cross * nx / c, self.cross * ny

    def apply(self) -> None:
        """Send the time offset and the cross-track offset (as raw axis offset and rate)."""
        t = self.now_s()
        a0, e0 = self._raw_offset(t)
        a1, e1 = self._raw_offset(t + self.period)
        self.mount.follow(self.traj, time_offset_s=self.tau)
        self.mount.offset(a0, e0, (a1 - a0) / self.period, (e1 - e0) / self.period)

    def counts(self) -> int:
        counter = self.backend.counter
        if isinstance(counter, StreamingCounter):
            return int(counter.read().total)
        return -1

    def ended(self, config: FlyConfig, t_start: float) -> bool:
        t = self.now_s()
        if config.max_duration_s is not None and t - t_start >= config.max_duration_s:
            return True
        return t + max(self.tau, 0.0) >= self._t[-1] - 0.5  # the demands run out


def _check_backend(backend: Backend) -> None:
    if not isinstance(backend.mount, TrajectoryMount):
        raise PointingError(f"{backend.name}: the mount cannot follow a trajectory (it needs "
                            "follow() and offset(): pointing.hardware.base.TrajectoryMount)")
    for name in ("wide_camera", "tracking_camera"):
        cam = getattr(backend, name)
        if not isinstance(cam, WindowedCamera):
            raise PointingError(f"{backend.name}: the {name.replace('_', ' ')} cannot read a "
                                "window (pointing.hardware.base.WindowedCamera)")


def _measure(frame: Any, window: tuple[int, int, int, int, int], cam: CameraConfig,
             min_snr: float, expected: tuple[float, float] | None = None
             ) -> tuple[float, float] | None:
    """The beacon's offset from the calibration pixel (µrad), or None if not seen."""
    x0, y0, _, _, b = window
    m = measure_star(frame.data, fast=True, fwhm=max(cam.fwhm_px / b, 1.0),
                     gain=cam.sensor.gain_e_per_adu, min_snr=min_snr, expected_xy=expected,
                     search_radius=None if expected is None else 8.0)
    if not m.found or not m.snr >= min_snr:
        return None
    x = x0 + (m.x + 0.5) * b - 0.5
    y = y0 + (m.y + 0.5) * b - 0.5
    a, e = cam.geometry.offset_urad(x, y)
    return float(a), float(e)


def _wait_at_start(p: _Pass) -> None:
    plan = p.traj.plan
    az = math.radians(plan.start_raw_az_deg) if plan else float(p.traj.raw_az_rad[0])
    el = math.radians(plan.start_raw_el_deg) if plan else float(p.traj.raw_el_rad[0])
    p.mount.slew(az, el)
    t_first = float(p.traj.t_s[np.argmax(p.traj.on_track)]) if p.traj.on_track.any() else 0.0
    wait = t_first - p.now_s()
    if wait > 0:
        p.clock.sleep(wait)
    p.apply()


def acquire(p: _Pass, cam: CameraConfig, config: FlyConfig, record: PassRecord
            ) -> list[tuple[float, tuple[float, float]]] | None:
    """Wide-camera frames until the beacon is seen ``acquire_detections`` times.

    Returns the detections (trajectory time, offset µrad), or None at the
    timeout or the end of the pass.
    """
    wide = p.backend.wide_camera
    g = cam.geometry
    b = config.wide_binning
    wide.set_window(0, 0, g.width - g.width % b, g.height - g.height % b, b)
    window = (0, 0, g.width - g.width % b, g.height - g.height % b, b)
    period = 1.0 / config.wide_rate_hz
    found: list[tuple[float, tuple[float, float]]] = []
    t_begin = p.now_s()
    while p.now_s() - t_begin < config.acquire_timeout_s and not p.ended(config, t_begin):
        t_next = p.now_s() + period
        frame = wide.expose(config.wide_exposure_s)
        t = p.frame_s(frame)
        xy = _measure(frame, window, cam, config.min_snr)
        record.add(t, xy, p.mount.position(), False, p.counts(), "wide", p.tau)
        if xy is not None:
            found.append((t, xy))
            if len(found) >= config.acquire_detections:
                return found
        p.clock.sleep(t_next - p.now_s())
    return None


def estimate_timing(p: _Pass, detections: list[tuple[float, tuple[float, float]]]
                    ) -> TimingEstimate:
    """The timing error (added to the current time offset) and cross-track rest of detections."""
    deltas, perp = [], []
    for t, (x, y) in detections:
        jx, jy = p.velocity(t + p.tau)
        j2 = jx * jx + jy * jy
        if j2 <= 0:
            continue
        d = (x * jx + y * jy) * _URAD / j2
        deltas.append(d)
        perp.append((x - jx * d / _URAD, y - jy * d / _URAD))
    if not deltas:
        raise PointingError("the predicted track does not move: no timing estimate")
    d = float(np.median(deltas))
    px, py = np.median(np.array(perp), axis=0)
    return TimingEstimate(p.tau + d, (float(px), float(py)), len(deltas),
                          float(np.std(deltas)), detections[-1][0])


@dataclass
class _Loop:
    """The closed loop's state between frames."""

    window: tuple[int, int, int, int, int]
    missed: int = 0
    good: int = 0
    locked: bool = False
    hold_until: float = -math.inf  # after a jump, let the mount settle before the next
    searching_since: float = 0.0


def _roi(g: Any, xy: tuple[float, float], roi: int) -> tuple[int, int, int, int, int]:
    px, py = g.pixel(xy[0] * _URAD, xy[1] * _URAD)
    return (min(max(round(float(px)) - roi // 2, 0), g.width - roi),
            min(max(round(float(py)) - roi // 2, 0), g.height - roi), roi, roi, 1)


def _correct(p: _Pass, loop: _Loop, xy: tuple[float, float], t: float, g: Any,
             config: FlyConfig, search: tuple[int, int, int, int, int]) -> None:
    """One measured error: a jump when it is coarse, else one integrator step."""
    r = math.hypot(*xy)
    half = config.roi_px / 2 * g.pixel_scale_urad
    if r > half / 2:  # coarse: jump onto the target, then let the mount settle
        loop.good = 0
        if t >= loop.hold_until:
            p.add_error(xy[0] * _URAD, xy[1] * _URAD, 1.0, t)
            loop.hold_until = t + config.settle_s
            loop.window = search
        else:
            loop.window = _roi(g, xy, config.roi_px) if r < 0.8 * half else search
        return
    k = 2 * math.pi * config.loop_bandwidth_hz / config.rate_hz
    p.add_error(xy[0] * _URAD, xy[1] * _URAD, k, t)
    loop.good = loop.good + 1 if r < config.lock_radius_urad else 0
    loop.window = _roi(g, xy, config.roi_px)


def track(p: _Pass, cam: CameraConfig, config: FlyConfig, record: PassRecord,
          t_start: float) -> str:
    """The closed loop on the tracking camera until the pass ends or the beacon is lost.

    Returns ``"end"`` or ``"lost"``.
    """
    camera = p.backend.tracking_camera
    g = cam.geometry
    period = 1.0 / config.rate_hz
    sb = config.search_binning
    search = (0, 0, g.width - g.width % sb, g.height - g.height % sb, sb)
    loop = _Loop(window=search, searching_since=p.now_s())
    p.period = period
    while not p.ended(config, t_start):
        t_next = p.now_s() + period
        window = loop.window
        camera.set_window(*window)
        frame = camera.expose(config.exposure_s)
        t = p.frame_s(frame)
        xy = _measure(frame, window, cam, config.min_snr)
        if xy is None:
            loop.missed, loop.good = loop.missed + 1, 0
            if loop.missed == 1:
                loop.searching_since = t
            searching = t < loop.hold_until or t - loop.searching_since < config.search_s
            if loop.missed >= config.lose_frames and not (searching and not loop.locked):
                record.add(t, None, p.mount.position(), False, p.counts(), "tracking", p.tau)
                record.events.append((t, "lost"))
                return "lost"
            loop.window = search
        else:
            loop.missed = 0
            _correct(p, loop, xy, t, g, config, search)
            if not loop.locked and loop.good >= config.lock_frames:
                loop.locked = True
                record.events.append((t, "locked"))
        record.add(t, xy, p.mount.position(), loop.locked and xy is not None, p.counts(),
                   "tracking", p.tau)
        p.apply()
        p.clock.sleep(t_next - p.now_s())
    return "end"


def fly_pass(backend: Backend, trajectory: Any, tracking_camera: CameraConfig,
             wide_camera: CameraConfig, config: FlyConfig | None = None) -> PassRecord:
    """Fly one pass (the sequence of the module docstring) and return what was recorded."""
    config = config or FlyConfig()
    config.check()
    _check_backend(backend)
    p = _Pass(backend, trajectory)
    record = PassRecord()
    _wait_at_start(p)
    t_start = p.now_s()
    record.events.append((t_start, "open loop"))
    while not p.ended(config, t_start):
        found = acquire(p, wide_camera, config, record)
        if found is None:
            record.events.append((p.now_s(), "no beacon"))
            break
        est = estimate_timing(p, found)
        record.estimates.append(est)
        record.events.append((found[0][0], "acquired"))
        p.tau = est.time_offset_s
        nx, ny, _ = p.normal(est.at_s)
        p.cross += (est.cross_urad[0] * nx + est.cross_urad[1] * ny) * _URAD
        p.apply()
        if track(p, tracking_camera, config, record, t_start) == "end":
            break
    backend.mount.stop()
    record.time_offset_final_s = p.tau
    return record
