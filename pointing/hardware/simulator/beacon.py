"""The simulated station of a satellite pass: beacon cameras, photon counter, servo mount.

:func:`pass_station` builds a :class:`~pointing.hardware.base.Backend` whose
mount is the servo of :mod:`~pointing.hardware.simulator.servo`, whose two
cameras see the satellite's 532 nm beacon (true orbit of
:mod:`~pointing.hardware.simulator.satellite`, atmospheric image motion,
a pixel-integrated Gaussian spot of the seeing plus optics, sky and dark
background, Poisson and read noise, bias, 16-bit output) in the window they
are asked to read, and whose counter counts the quantum signal through the
100 µrad field (the coupling model of :mod:`pointing.link.coupling`) plus the
background.  Everything runs on the simulator's :class:`VirtualClock`; every
random draw is seeded by the seed and the event number (frame, read).

Beacon brightness: ``beacon_e_per_s`` electrons per second in the tracking
camera at 1000 km range, scaled by range⁻² and, for the wide camera, by its
lens's collecting area over the telescope's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.time import Time

from pointing.camera.config import Camera as CameraConfig
from pointing.camera.config import wide_camera_section
from pointing.camera.psf import gaussian_image
from pointing.errors import ConfigError
from pointing.hardware.base import Backend, Counts, Frame
from pointing.hardware.simulator.satellite import (
    ImageMotion,
    SatelliteSky,
    TleError,
    tangent_offsets,
)
from pointing.hardware.simulator.servo import ServoConfig, ServoMount
from pointing.hardware.simulator.station import SimulatorConfig, VirtualClock
from pointing.link.coupling import field_coupling
from pointing.model.model import PointingModel

__all__ = ["BeaconCamera", "PassConfig", "QuantumCounter", "pass_station", "truth_model"]

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True)
class PassConfig:
    """Truth and noise of a simulated pass (the station's ``[simulator]`` keeps the mount's)."""

    seed: int = 0
    tle_error: TleError | None = None  #: default: drawn from the seed
    image_motion_urad: float = 3.0  #: atmospheric tip-tilt, RMS per axis
    wind_m_s: float = 15.0  #: effective wind (incl. the slew) across the aperture
    seeing_fwhm_urad: float = 8.0  #: short-exposure spot (tilt removed)
    servo: ServoConfig = field(default_factory=ServoConfig)
    beacon_e_per_s: float = 5.0e6
    sky_e_per_s_px: float = 30.0
    signal_cps_1000km: float = 8000.0  #: quantum signal detections at 1000 km, centred
    background_cps: float = 300.0  #: sky + dark, all channels
    fov_urad: float = 100.0
    readout_s: float = 0.001  #: per frame, plus 10 ns per pixel read
    beacon_on_el_deg: float = 0.0  #: the satellite's beacon is on once it has risen this high

    def check(self) -> None:
        for name in ("seeing_fwhm_urad", "beacon_e_per_s", "signal_cps_1000km", "fov_urad"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"simulated pass: {name} must be positive, got {v!r}")
        if not (math.isfinite(self.beacon_on_el_deg) and -5 <= self.beacon_on_el_deg <= 80):
            raise ConfigError(f"simulated pass: beacon_on_el_deg must be -5 .. 80, got "
                              f"{self.beacon_on_el_deg!r}")
        for name in ("sky_e_per_s_px", "background_cps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"simulated pass: {name} must be >= 0, got {v!r}")


def truth_model(config: SimulatorConfig) -> PointingModel:
    """The simulated station's true pointing: its terms plus the unmodelled ones (arcsec)."""
    names = list(config.terms) + [n for n in config.unmodelled if n not in config.terms]
    values = [config.terms.get(n, 0.0) + config.unmodelled.get(n, 0.0) for n in names]
    return PointingModel(names, values)


class _Scene:
    """What both cameras and the counter share: clock, mount, satellite, atmosphere."""

    def __init__(self, clock: VirtualClock, mount: ServoMount, sky: SatelliteSky,
                 motion: ImageMotion, config: PassConfig):
        self.clock, self.mount, self.sky, self.motion, self.config = (clock, mount, sky,
                                                                      motion, config)
        self.beacon_on_s = sky.first_above(math.radians(config.beacon_on_el_deg))
        start = clock.now()
        self._jd0 = (float(start.jd1), float(start.jd2) - clock.elapsed_s / 86400.0)
        radius = np.linspace(0.0, 4.0 * config.fov_urad, 801)
        self._coupling = (radius, field_coupling(radius, config.fov_urad,
                                                 config.seeing_fwhm_urad))

    def utc(self, elapsed_s: float) -> Any:
        """UTC at *elapsed_s* on the clock (a direct two-part JD: ~20× cheaper than now() + s)."""
        return Time(self._jd0[0], self._jd0[1] + elapsed_s / 86400.0, format="jd",
                    scale="utc")

    def coupling(self, offset_urad: float) -> float:
        """Share of the signal through the field at a radial offset (tabulated, µrad)."""
        return float(np.interp(offset_urad, *self._coupling, right=0.0))

    def beacon_offset(self) -> tuple[float, float, float]:
        """Apparent offset of the beacon from the boresight now (rad) and its range (km)."""
        t = self.clock.elapsed_s
        b_az, b_el = self.mount.true_pointing()
        s_az, s_el = self.sky.direction(t)
        x, y = tangent_offsets(s_az, s_el, b_az, b_el)
        jx, jy = self.motion.at(t)
        return x + jx, y + jy, self.sky.range_km(t)


class BeaconCamera:
    """A camera that renders the beacon in its read-out window (a WindowedCamera)."""

    def __init__(self, scene: _Scene, section: Mapping[str, Any], *, area_ratio: float,
                 optics_fwhm_px: float, stream: int, name: str):
        self._s = scene
        self.camera = CameraConfig.from_config(section)
        self.geometry = self.camera.geometry
        self.sensor = self.camera.sensor
        self._area_ratio = area_ratio
        self._optics = optics_fwhm_px
        self._stream = stream
        self.name = name
        self.frames = 0
        g = self.geometry
        self._window = (0, 0, g.width, g.height, 1)

    def set_window(self, x0: int, y0: int, width: int, height: int, binning: int = 1) -> None:
        g = self.geometry
        x0, y0, width, height, binning = (int(x0), int(y0), int(width), int(height),
                                          int(binning))
        if binning < 1 or width < binning or height < binning:
            raise ConfigError(f"{self.name}: window {width}x{height} binned {binning}: bad size")
        x0 = min(max(x0, 0), g.width - width)
        y0 = min(max(y0, 0), g.height - height)
        if x0 < 0 or y0 < 0:
            raise ConfigError(f"{self.name}: window {width}x{height} is larger than the "
                              f"{g.width}x{g.height} sensor")
        self._window = (x0, y0, width, height, binning)

    @property
    def window(self) -> tuple[int, int, int, int, int]:
        """(x0, y0, width, height, binning) of the next frame (clipped to the sensor)."""
        return self._window

    def expose(self, seconds: float, *, timeout_s: float = 30.0) -> Frame:
        s = self._s
        self.frames += 1
        rng = np.random.default_rng([s.config.seed, self._stream, self.frames])
        s.clock.sleep(seconds / 2)
        mid_s = s.clock.elapsed_s
        x, y, range_km = s.beacon_offset()
        image = self._render(x, y, range_km, seconds, rng)
        _, _, w, h, _ = self._window
        s.clock.sleep(seconds / 2 + s.config.readout_s + 1e-8 * w * h)
        return Frame(image, s.utc(mid_s), seconds,
                     gain_e_per_adu=self.sensor.gain_e_per_adu,
                     metadata={"camera": self.name, "number": self.frames,
                               "window": self._window, "elapsed_s": mid_s})

    def _render(self, x: float, y: float, range_km: float, seconds: float,
                rng: np.random.Generator) -> np.ndarray:
        g, sensor, c = self.geometry, self.sensor, self._s.config
        x0, y0, w, h, b = self._window
        shape = (h // b, w // b)
        bg = (c.sky_e_per_s_px * seconds) * b * b
        expected = np.full(shape, bg)
        px, py = g.pixel(x, y)
        u, v = (px - x0 + 0.5) / b - 0.5, (py - y0 + 0.5) / b - 0.5
        fwhm_px = math.hypot(c.seeing_fwhm_urad / g.pixel_scale_urad, self._optics)
        sigma = fwhm_px / _FWHM_PER_SIGMA / b
        on = self._s.clock.elapsed_s >= self._s.beacon_on_s
        if on and -5 * sigma < u < shape[1] + 5 * sigma and -5 * sigma < v < shape[0] + 5 * sigma:
            flux = (c.beacon_e_per_s * self._area_ratio * seconds
                    * (1000.0 / max(range_km, 1.0)) ** 2)
            expected += gaussian_image(shape, u, v, flux, sigma)
        electrons = rng.poisson(expected).astype(float)
        electrons += rng.normal(0.0, sensor.read_noise_e * b, shape)
        gain = sensor.gain_e_per_adu or 1.0
        adu = np.round(electrons / gain + sensor.bias_adu)
        top = min(float(2**sensor.adc_bits - 1), sensor.saturation_adu)
        return np.clip(adu, 0, top).astype(np.uint16)


class QuantumCounter:
    """Four SPAD channels behind the receiving field (a StreamingCounter: counts since the
    last read)."""

    channels = 4

    def __init__(self, scene: _Scene):
        self._s = scene
        self._last = scene.clock.elapsed_s
        self._reads = 0

    def _mean(self, seconds: float) -> float:
        c = self._s.config
        x, y, range_km = self._s.beacon_offset()
        eta = self._s.coupling(math.hypot(x, y) * 1e6)
        signal = c.signal_cps_1000km * (1000.0 / max(range_km, 1.0)) ** 2 * eta
        return (signal + c.background_cps) * seconds

    def read(self) -> Counts:
        """Counts per channel since the previous read (coupling at the read's time)."""
        s = self._s
        self._reads += 1
        now = s.clock.elapsed_s
        seconds = max(now - self._last, 0.0)
        rng = np.random.default_rng([s.config.seed, 104, self._reads])
        counts = rng.poisson(np.full(self.channels, self._mean(seconds) / self.channels))
        start = s.utc(self._last)
        self._last = now
        return Counts(counts.astype(np.int64), start, s.utc(now))

    def count(self, seconds: float) -> Counts:
        self.read()
        self._s.clock.sleep(seconds)
        return self.read()


def pass_station(station: Any, satellite: Any, pass_: Any, *, config: PassConfig | None = None,
                 start_s: float = -20.0) -> Backend:
    """The simulated station flying *pass_* of *satellite* (a Backend with a TrajectoryMount).

    The clock starts ``-start_s`` seconds before the pass's rise; the mount is
    parked at 0° azimuth, 30° elevation.  ``truth`` holds the TLE's true errors.
    """
    from astropy import units as u

    config = config or PassConfig()
    config.check()
    err = config.tle_error or TleError.draw(config.seed)
    sim = SimulatorConfig.from_section(station.section("simulator"), seed=config.seed)
    rise = Time(str(pass_.rise), scale="utc")
    clock = VirtualClock(rise + start_s * u.s)
    offset = start_s  # seconds from the rise = clock elapsed + offset
    sky = SatelliteSky(station, satellite, pass_, err)
    duration = float(sky.t_s[-1] - sky.t_s[0])
    motion = ImageMotion(config.image_motion_urad, config.wind_m_s, station.telescope.aperture_m,
                         duration + 120.0, config.seed, t_start_s=-60.0)
    shifted = _ShiftedSky(sky, offset)
    shifted_motion = _ShiftedMotion(motion, offset)
    mount = ServoMount(station, clock, truth_model(sim), config.servo, seed=config.seed,
                       start_az=0.0, start_el=math.radians(30.0))
    scene = _Scene(clock, mount, shifted, shifted_motion, config)
    tracking = BeaconCamera(scene, station.section("camera"), area_ratio=1.0,
                            optics_fwhm_px=1.0, stream=105, name="tracking camera")
    wide_section, wide_aperture = wide_camera_section(station)
    t = station.telescope
    ratio = wide_aperture**2 / max(t.aperture_m**2 - (t.obstruction_m or 0.0) ** 2, 1e-6)
    wide = BeaconCamera(scene, wide_section, area_ratio=ratio, optics_fwhm_px=2.2,
                        stream=106, name="wide camera")
    truth = {"tle_error": dict(err.__dict__), "image_motion_urad": config.image_motion_urad,
             "image_motion_knee_hz": motion.knee_hz, "wind_m_s": config.wind_m_s,
             "servo": dict(config.servo.__dict__), "terms": dict(sim.terms),
             "unmodelled_terms": dict(sim.unmodelled), "seed": config.seed}
    return Backend(clock=clock, mount=mount, tracking_camera=tracking, wide_camera=wide,
                   counter=QuantumCounter(scene), truth=truth,
                   name=f"simulated pass (seed {config.seed})")


class _ShiftedSky:
    """The satellite's sky on the clock's seconds (clock elapsed − offset = s from rise)."""

    def __init__(self, sky: SatelliteSky, offset: float):
        self._sky, self._off = sky, offset

    def direction(self, t: float) -> tuple[float, float]:
        return self._sky.direction(t + self._off)

    def range_km(self, t: float) -> float:
        return self._sky.range_km(t + self._off)

    def first_above(self, el: float) -> float:
        """Clock seconds when the satellite first reaches elevation *el* (rad)."""
        return self._sky.first_above(el) - self._off


class _ShiftedMotion:
    def __init__(self, motion: ImageMotion, offset: float):
        self._m, self._off = motion, offset

    def at(self, t: float) -> tuple[float, float]:
        return self._m.at(t + self._off)
