"""A physically modelled station behind the hardware interfaces, on virtual time.

Everything the night measures is produced by physics with known truth:

* **mount** — the true pointing is the raw encoder position mapped through
  TPOINT terms (:attr:`SimulatorConfig.terms`, by default a phone-compass,
  hand-levelled setup: azimuth zero point 5° off, axis tilt 5′, flexure and
  non-perpendicularity of tens of arcseconds), plus small harmonics the fitted
  model does not contain, 26-bit encoder quantisation and a repeatability
  error drawn at every slew.  Slews take the time of a trapezoidal velocity
  profile per axis from the station's speeds and accelerations, plus settling;
* **atmosphere** — stars are placed at their observed (refracted) positions
  from the station's weather (:func:`pointing.sky.places.observed_altaz`),
  with image motion (seeing jitter) per exposure, extinction per band and
  optional thin clouds that dim stars behind them;
* **sky** — :class:`pointing.photometry.sky_model.SkyBackgroundModel` (dark sky
  rising with airmass, a city light dome, Krisciunas & Schaefer moonlight);
* **cameras** — the station's tracking camera (``[camera]``) and wide camera
  (``[wide_camera]``): every catalog star in the field drawn at its true
  offset with a Moffat PSF of the seeing, sky and dark current, Poisson and
  read noise, hot pixels, full-well saturation and 16-bit output;
* **detectors** — Poisson counts of the star (I magnitude and colour through
  the 850 nm band, aperture and obstruction, the true efficiency, extinction,
  fibre coupling of the pointing offset) plus sky and per-channel dark counts.

Randomness is drawn from the seed and the event (slew number, exposure
number, count number), never from history, so a night interrupted and
resumed from the logged state sees exactly the same sky as an uninterrupted
one.  Nothing sleeps: :class:`VirtualClock` advances by what each operation
would take.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pointing.camera.config import wide_camera_section
from pointing.config.schema import Field, Section
from pointing.hardware.base import (
    Backend,
    Counts,
    Frame,
    HardwareTimeout,
    MountLimitError,
    MountLimits,
)
from pointing.model.model import ARCSEC, PointingModel
from pointing.sky.places import moon_phase
from pointing.sky.slews import slew_time
from pointing.units import URAD
from pointing.units import angular_separation as _separation

__all__ = ["COMPASS_SETUP", "Faults", "SimulatedCrash", "SimulatorConfig", "VirtualClock",
           "simulated_station"]

#: true pointing errors of a phone-compass, hand-levelled setup (arcsec)
COMPASS_SETUP = {"IA": 5 * 3600.0 + 37.0, "IE": -95.0, "CA": 28.0, "NPAE": -21.0,
                 "AN": 240.0, "AW": -180.0, "TF": 34.0, "TX": 5.0}
#: terms the basic model does not contain, arcsec: gear harmonics of the azimuth drive
#: that no basic term can imitate (so they stay in the floor, and bias no coefficient)
UNMODELLED = {"HASA2": 0.5, "HESA3": 0.3}


@dataclass(frozen=True)
class Faults:
    """Faults to inject, by event number (1-based) or star.

    Attributes
    ----------
    camera_timeouts : tracking-camera exposures that time out
    limit_slews : slews the mount refuses with a limit error
    limit_zones : (az_min, az_max, el_min, el_max) raw degrees the mount cannot enter
                  (an obstruction behind a limit switch)
    hidden_stars : HIP numbers behind a thick cloud (no light at all)
    lost_stars : HIP numbers not where the catalog says (never found)
    """

    camera_timeouts: frozenset[int] = frozenset()
    limit_slews: frozenset[int] = frozenset()
    limit_zones: tuple[tuple[float, float, float, float], ...] = ()
    hidden_stars: frozenset[int] = frozenset()
    lost_stars: frozenset[int] = frozenset()
    #: the backend dies (:class:`SimulatedCrash`, as if killed) at this device call
    #: (slews, exposures and counts together, 1-based, counted from the backend's creation)
    crash_at_call: int | None = None


class SimulatedCrash(BaseException):
    """The simulated station died (a kill): nothing in the night catches this."""


@dataclass(frozen=True)
class SimulatorConfig:
    """Truth and noise of a simulated station (angles arcsec unless named)."""

    seed: int = 0
    terms: Mapping[str, float] = field(default_factory=lambda: dict(COMPASS_SETUP))
    unmodelled: Mapping[str, float] = field(default_factory=lambda: dict(UNMODELLED))
    repeatability_arcsec: float = 0.2  #: per axis, drawn at every slew (direct drive)
    jitter_arcsec: float = 0.6  #: image motion (seeing) per short exposure, per axis
    encoder_bits: int = 26
    seeing_fwhm_arcsec: float = 2.0
    tracking_optics_fwhm_px: float = 1.0  #: optics PSF, added in quadrature to the seeing
    wide_optics_fwhm_px: float = 2.2  #: a small lens: the seeing is far below a pixel
    moffat_beta: float = 3.0
    eta0: float = 0.36  #: quantum channel, telescope entrance to detection
    k_quantum: float = 0.07  #: extinction at 850 nm, mag/airmass
    k_camera: float = 0.16  #: extinction in the tracking-camera band
    camera_efficiency: float = 0.45  #: telescope × QE in the camera band
    sky: str = "rural"  #: "rural" or "city" (pointing.photometry.sky_model presets)
    clouds: tuple[tuple[float, float, float, float], ...] = ()  #: (az°, el°, radius°, mag)
    hot_pixels: int = 40
    dark_e_per_s: float = 2.0
    settle_s: float | None = None  #: default: the station's mount.settle_s
    faults: Faults = Faults()
    start_az_deg: float = 180.0
    start_el_deg: float = 45.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, **changes: Any
                     ) -> SimulatorConfig:
        """From a station's ``[simulator]`` section (keys as the attributes)."""
        values = SIMULATOR.read(section)
        values.update(changes)
        return cls(**values)


def _nonneg(**limits: Any) -> Field:
    return Field(float, min=0, **limits)


#: the station file's ``[simulator]`` section (absent keys: SimulatorConfig's defaults)
SIMULATOR = Section("simulator", {
    "seed": Field(int, min=0, max=2**32 - 1),
    "terms": Field(dict, item=Field(float, min=-1e6, max=1e6)),
    "unmodelled": Field(dict, item=Field(float, min=-1e6, max=1e6)),
    "repeatability_arcsec": _nonneg(max=3600),
    "jitter_arcsec": _nonneg(max=3600),
    "encoder_bits": Field(int, min=8, max=40),
    "seeing_fwhm_arcsec": Field(float, above=0, max=60),
    "tracking_optics_fwhm_px": _nonneg(max=100),
    "wide_optics_fwhm_px": _nonneg(max=100),
    "moffat_beta": Field(float, above=1, max=100),
    "eta0": Field(float, above=0, max=1),
    "k_quantum": _nonneg(max=10),
    "k_camera": _nonneg(max=10),
    "camera_efficiency": Field(float, above=0, max=1),
    "sky": Field(str, choices=("rural", "city")),
    "clouds": Field(list, item=Field(list, length=4, item=Field(float))),
    "hot_pixels": Field(int, min=0, max=10**6),
    "dark_e_per_s": _nonneg(max=1e6),
    "settle_s": _nonneg(max=600),
    "start_az_deg": Field(float, min=-720, max=720),
    "start_el_deg": Field(float, min=-90, max=180),
})


class VirtualClock:
    """UTC that advances only when the simulation says so."""

    def __init__(self, start: Any):
        from astropy.time import Time

        self._t0 = Time(start, scale="utc")
        self._elapsed = 0.0

    def now(self) -> Any:
        from astropy import units as u

        return self._t0 + self._elapsed * u.s

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._elapsed += float(seconds)

    @property
    def elapsed_s(self) -> float:
        """Virtual seconds since the start."""
        return self._elapsed

    def set_elapsed(self, seconds: float) -> None:
        self._elapsed = float(seconds)


class _World:
    """The shared physical state: truth, sky, catalog, RNG streams, counters."""

    def __init__(self, station: Any, config: SimulatorConfig, clock: VirtualClock):
        from pointing.photometry.efficiency import PhotometryConfig
        from pointing.photometry.sky_model import Receiver, SkyBackgroundModel
        from pointing.sky.catalog import load_catalog
        from pointing.sky.places import star_astrometry

        self.station = station
        self.config = config
        self.clock = clock
        names = list(config.terms) + [n for n in config.unmodelled if n not in config.terms]
        values = [config.terms.get(n, 0.0) + config.unmodelled.get(n, 0.0) for n in names]
        self.truth_model = PointingModel(names, values)
        catalog = load_catalog()
        self.catalog = catalog
        self.astro = star_astrometry(catalog)
        self.hip = np.asarray(catalog["hip"])
        self.imag = np.asarray(catalog["imag"], dtype=float)
        vi = np.asarray(catalog["vi"], dtype=float)
        self.v_minus_i = np.where(np.isfinite(vi), vi, 0.7)
        self.sky = (SkyBackgroundModel.city() if config.sky == "city"
                    else SkyBackgroundModel.rural())
        self.receiver = Receiver.from_station(station, efficiency=config.eta0)
        self.photometry = PhotometryConfig.from_station(station)
        self.counters = {"slew": 0, "exposure": 0, "wide": 0, "count": 0}
        self.calls = 0  # device calls of this process (not part of the state: a crash hook)
        self._places_cache: tuple[float, np.ndarray, np.ndarray] | None = None
        self._moon_cache: tuple[float, float, float, float] | None = None

    def call(self) -> None:
        """Count a device call; die at ``faults.crash_at_call``."""
        self.calls += 1
        if self.calls == self.config.faults.crash_at_call:
            raise SimulatedCrash(f"simulated crash at device call {self.calls}")

    def rng(self, stream: str, number: int) -> np.random.Generator:
        key = {"slew": 1, "exposure": 2, "wide": 3, "count": 4, "hot": 5}[stream]
        return np.random.default_rng([self.config.seed, key, number])

    def star_places(self) -> tuple[np.ndarray, np.ndarray]:
        """Observed (refracted) az/el of every catalog star now (cached per time)."""
        from pointing.sky.places import observed_altaz

        t = self.clock.elapsed_s
        if self._places_cache is None or self._places_cache[0] != t:
            az, el = observed_altaz(self.astro, self.station, self.clock.now())
            self._places_cache = (t, az, el)
        return self._places_cache[1], self._places_cache[2]

    def moon(self) -> tuple[float, float, float]:
        """Moon azimuth, elevation (rad) and illuminated fraction, cached per 10 minutes."""
        from pointing.sky.places import moon_altaz

        t = self.clock.elapsed_s
        if self._moon_cache is None or abs(self._moon_cache[0] - t) > 600.0:
            now = self.clock.now()
            az, el = moon_altaz(self.station, now)
            self._moon_cache = (t, float(az), float(el), moon_phase(now))
        return self._moon_cache[1], self._moon_cache[2], self._moon_cache[3]

    def cloud_mag(self, az: np.ndarray, el: np.ndarray) -> np.ndarray:
        """Extra extinction (mag) of thin clouds toward (az, el)."""
        out = np.zeros(np.shape(az))
        for caz, cel, rad, mag in self.config.clouds:
            sep = _separation(az, el, math.radians(caz), math.radians(cel))
            out = out + np.where(sep < math.radians(rad), mag, 0.0)
        return out


def _tangent_offsets(az: np.ndarray, el: np.ndarray, az0: float, el0: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (ΔA·cosE, ΔE)-like offsets of directions from a centre, radians."""
    da = az - az0
    cos_c = np.sin(el) * math.sin(el0) + np.cos(el) * math.cos(el0) * np.cos(da)
    x = np.cos(el) * np.sin(da) / cos_c
    y = (np.sin(el) * math.cos(el0) - np.cos(el) * math.sin(el0) * np.cos(da)) / cos_c
    return x, y


class SimulatedMount:
    """An alt-az direct-drive mount with geometric errors and encoders."""

    def __init__(self, world: _World):
        st = world.station.mount
        self._w = world
        deg = math.pi / 180.0
        self._limits = MountLimits(st.az_min_deg * deg, st.az_max_deg * deg,
                                   st.el_min_deg * deg, st.el_max_deg * deg)
        self._speed = (st.az_speed_deg_s, st.el_speed_deg_s)
        self._accel = (st.az_accel_deg_s2, st.el_accel_deg_s2)
        self._settle = (world.config.settle_s if world.config.settle_s is not None
                        else getattr(st, "settle_s", 2.0))
        self._q = 2 * math.pi / 2**world.config.encoder_bits
        self._pos = (world.config.start_az_deg * deg, world.config.start_el_deg * deg)
        self._rate = (0.0, 0.0)
        self._t_ref = world.clock.elapsed_s
        self._err = (0.0, 0.0)  # repeatability error of the current slew (rad, sky)

    def limits(self) -> MountLimits:
        return self._limits

    def _now_position(self) -> tuple[float, float]:
        dt = self._w.clock.elapsed_s - self._t_ref
        return self._pos[0] + self._rate[0] * dt, self._pos[1] + self._rate[1] * dt

    def position(self) -> tuple[float, float]:
        a, e = self._now_position()
        q = self._q
        return round(a / q) * q, round(e / q) * q

    def slew(self, az: float, el: float, *, timeout_s: float = 120.0) -> None:
        self._limits.check(az, el)
        w = self._w
        w.call()
        w.counters["slew"] += 1
        n = w.counters["slew"]
        if n in w.config.faults.limit_slews:
            raise MountLimitError(f"slew {n}: the mount stopped at a limit switch")
        deg = 180.0 / math.pi
        for a_lo, a_hi, e_lo, e_hi in w.config.faults.limit_zones:
            if a_lo <= az * deg <= a_hi and e_lo <= el * deg <= e_hi:
                raise MountLimitError(f"slew {n}: azimuth {az * deg:.1f}°, elevation "
                                      f"{el * deg:.1f}° is behind a limit switch")
        a0, e0 = self._now_position()
        t = float(max(slew_time((az - a0) * deg, self._speed[0], self._accel[0]),
                      slew_time((el - e0) * deg, self._speed[1], self._accel[1])))
        if t > timeout_s:
            w.clock.sleep(timeout_s)
            self._pos, self._rate, self._t_ref = (a0, e0), (0.0, 0.0), w.clock.elapsed_s
            raise HardwareTimeout(f"slew {n}: not arrived after {timeout_s:.0f} s")
        w.clock.sleep(t + (self._settle if t > 0 else 0.0))
        rng = w.rng("slew", n)
        s = w.config.repeatability_arcsec * ARCSEC
        self._err = (float(rng.normal(0, s)), float(rng.normal(0, s)))
        self._pos, self._rate, self._t_ref = (az, el), (0.0, 0.0), w.clock.elapsed_s

    def track(self, az_rate: float, el_rate: float) -> None:
        self._pos = self._now_position()
        self._rate = (float(az_rate), float(el_rate))
        self._t_ref = self._w.clock.elapsed_s

    def stop(self) -> None:
        self.track(0.0, 0.0)

    def true_pointing(self, jitter: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
        """Where the telescope really points now (observed az/el, radians)."""
        a, e = self._now_position()
        ta, te = self._w.truth_model.true_from_raw(a, e)
        dx = self._err[0] + jitter[0]
        de = self._err[1] + jitter[1]
        return ta + dx / math.cos(te), te + de

    def state(self) -> dict[str, Any]:
        return {"pos": list(self._now_position()), "rate": list(self._rate),
                "err": list(self._err)}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._pos = tuple(state["pos"])
        self._rate = tuple(state["rate"])
        self._err = tuple(state["err"])
        self._t_ref = self._w.clock.elapsed_s


class SimulatedCamera:
    """A camera on the telescope that renders the true sky in its field."""

    def __init__(self, world: _World, mount: SimulatedMount, section: Mapping[str, Any],
                 *, aperture_m: float, stream: str, name: str):
        from pointing.camera.config import Camera

        self._w = world
        self._mount = mount
        self.camera = Camera.from_config(section)
        self.geometry = self.camera.geometry
        self.sensor = self.camera.sensor
        self._stream = stream
        self.name = name
        self._area = math.pi / 4 * aperture_m**2
        if stream == "exposure":  # the tracking camera shares the telescope's obstruction
            from pointing.photometry.efficiency import collecting_area

            self._area = collecting_area(world.station.telescope.aperture_m,
                                         world.station.telescope.obstruction_m)
        rng = world.rng("hot", 1 if stream == "exposure" else 2)
        g = self.geometry
        n_hot = world.config.hot_pixels
        self._hot = (rng.integers(0, g.height, n_hot), rng.integers(0, g.width, n_hot),
                     rng.uniform(200.0, 3000.0, n_hot))
        self._band = _camera_band(world.station)

    def expose(self, seconds: float, *, timeout_s: float = 30.0) -> Frame:
        w = self._w
        w.call()
        w.counters[self._stream] += 1
        n = w.counters[self._stream]
        if self._stream == "exposure" and n in w.config.faults.camera_timeouts:
            w.clock.sleep(timeout_s)
            raise HardwareTimeout(f"{self.name} exposure {n}: no frame after {timeout_s:.0f} s")
        rng = w.rng(self._stream, n)
        seconds = float(seconds)
        w.clock.sleep(seconds / 2)
        mid = w.clock.now()
        j = w.config.jitter_arcsec * ARCSEC
        jitter = (float(rng.normal(0, j)), float(rng.normal(0, j)))
        b_az, b_el = self._mount.true_pointing(jitter)
        # motion during the exposure: difference of the mount's rate and the sky's
        image = self._render(b_az, b_el, seconds, rng)
        w.clock.sleep(seconds / 2 + 0.05)  # rest of the exposure and readout
        return Frame(image, mid, seconds, gain_e_per_adu=self.sensor.gain_e_per_adu,
                     temperature_c=-10.0, metadata={"camera": self.name, "number": n})

    def _render(self, b_az: float, b_el: float, seconds: float,
                rng: np.random.Generator) -> np.ndarray:
        from pointing.photometry.efficiency import airmass, star_photon_flux

        w = self._w
        g = self.geometry
        sensor = self.sensor
        az, el = w.star_places()
        half = math.hypot(g.width, g.height) / 2 * g.pixel_scale_urad * URAD
        near = np.nonzero((_separation(az, el, b_az, b_el) < half + 5e-4) & (el > 0))[0]
        keep = [i for i in near if int(w.hip[i]) not in w.config.faults.lost_stars]
        near = np.array(keep, dtype=int)
        moon_az, moon_el, phase = w.moon()
        sb = float(w.sky.surface_brightness(b_az, max(b_el, 0.01), moon_az, moon_el, phase,
                                            self._band))
        pix_arcsec2 = (g.pixel_scale_urad * URAD / ARCSEC) ** 2
        eff = w.config.camera_efficiency
        bg_e = sb * pix_arcsec2 * self._area * eff * seconds + w.config.dark_e_per_s * seconds
        expected = np.full((g.height, g.width), bg_e, dtype=float)
        hy, hx, hrate = self._hot
        expected[hy, hx] += hrate * seconds
        if near.size:
            x, y = _tangent_offsets(az[near], el[near], b_az, b_el)
            px, py = g.pixel(x, y)
            ext = (w.config.k_camera * airmass(el[near]) + w.cloud_mag(az[near], el[near]))
            hidden = np.isin(w.hip[near], list(w.config.faults.hidden_stars))
            flux = (star_photon_flux(w.imag[near], w.v_minus_i[near], self._band)
                    * self._area * eff * seconds * 10.0 ** (-0.4 * ext))
            flux = np.where(hidden, 0.0, flux)
            optics = (w.config.tracking_optics_fwhm_px if self._stream == "exposure"
                      else w.config.wide_optics_fwhm_px)
            fwhm_px = math.hypot((w.config.seeing_fwhm_arcsec * ARCSEC / URAD)
                                 / g.pixel_scale_urad, optics)
            for xi, yi, fi in zip(px, py, flux, strict=True):
                if fi > 0:
                    _add_moffat(expected, xi, yi, fi, fwhm_px, w.config.moffat_beta)
        electrons = rng.poisson(expected).astype(float)
        electrons += rng.normal(0.0, sensor.read_noise_e, electrons.shape)
        gain = sensor.gain_e_per_adu or 1.0
        adu = np.round(electrons / gain + sensor.bias_adu)
        # a full well reads as the camera's saturation level (flat top), as does the ADC limit
        top = min(float(2**sensor.adc_bits - 1), sensor.saturation_adu)
        return np.clip(adu, 0, top).astype(np.uint16)


def _add_moffat(img: np.ndarray, x: float, y: float, flux: float, fwhm: float,
                beta: float) -> None:
    """Add a pixel-sampled Moffat star of total ``flux`` centred at (x, y), in place."""
    alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    r = math.ceil(6 * fwhm) + 2
    h, w = img.shape
    x0, x1 = max(int(x) - r, 0), min(int(x) + r + 1, w)
    y0, y1 = max(int(y) - r, 0), min(int(y) + r + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    # 3×3 sub-pixel sampling approximates the pixel integral well for FWHM ≥ 2 px
    sub = (np.arange(3) - 1) / 3.0
    xs = (np.arange(x0, x1)[:, None] + sub[None, :]).ravel() - x
    ys = (np.arange(y0, y1)[:, None] + sub[None, :]).ravel() - y
    prof = (1.0 + (ys[:, None] ** 2 + xs[None, :] ** 2) / alpha**2) ** (-beta)
    stamp = prof.reshape(y1 - y0, 3, x1 - x0, 3).mean(axis=(1, 3))
    norm = (beta - 1.0) / (math.pi * alpha**2)
    img[y0:y1, x0:x1] += flux * norm * stamp


def _camera_band(station: Any) -> Any:
    from pointing.photometry.efficiency import PhotometryConfig

    return PhotometryConfig.from_station(station).camera_band


class SimulatedCounter:
    """Four SPAD channels behind a 100 µrad field at the calibration pixel."""

    channels = 4

    def __init__(self, world: _World, mount: SimulatedMount):
        self._w = world
        self._mount = mount

    def count(self, seconds: float) -> Counts:
        from pointing.photometry.efficiency import expected_star_counts

        w = self._w
        w.call()
        w.counters["count"] += 1
        rng = w.rng("count", w.counters["count"])
        start = w.clock.now()
        b_az, b_el = self._mount.true_pointing()
        az, el = w.star_places()
        sep = _separation(az, el, b_az, b_el)
        fov = w.photometry.field_of_view_urad * URAD
        near = np.nonzero((sep < 2 * fov) & (el > 0))[0]
        seeing_sigma = w.config.seeing_fwhm_arcsec * ARCSEC / 2.3548
        star = 0.0
        for i in near:
            if int(w.hip[i]) in w.config.faults.hidden_stars | w.config.faults.lost_stars:
                continue
            coupling = _field_stop_fraction(sep[i], fov / 2, seeing_sigma)
            ext = w.config.k_quantum
            mean = float(expected_star_counts(
                w.imag[i], w.v_minus_i[i], el[i], seconds, eta0=w.config.eta0,
                k_mag_per_airmass=ext, area_m2=w.receiver.area_m2,
                band=w.photometry.band))
            mean *= 10.0 ** (-0.4 * float(w.cloud_mag(az[i], el[i])))
            star += coupling * mean
        moon_az, moon_el, phase = w.moon()
        sky_rate = float(w.sky.rate_cps(b_az, b_el, moon_az, moon_el, phase, w.receiver))
        # rate_cps includes the dark counts of all channels; split evenly
        per_channel = (star + sky_rate * seconds) / self.channels
        counts = rng.poisson(np.full(self.channels, per_channel))
        w.clock.sleep(seconds)
        return Counts(counts.astype(np.int64), start, w.clock.now())


def _field_stop_fraction(offset: float, radius: float, sigma: float) -> float:
    """Share of a Gaussian star image (σ, radians) at ``offset`` inside a circular field stop.

    The receiver's field stop (the fibre's 100 µrad field) collects all of a
    centred star and loses it smoothly once the offset nears the stop radius:
    P(|X| < radius) for a 2-D Gaussian centred at ``offset``.
    """
    from scipy.stats import ncx2

    return float(ncx2.cdf((radius / sigma) ** 2, 2, (offset / sigma) ** 2))


def simulated_station(station: Any, *, seed: int = 0, start: Any = None,
                      config: SimulatorConfig | None = None, **changes: Any) -> Backend:
    """The simulated station as a :class:`~pointing.hardware.base.Backend`.

    Parameters
    ----------
    station : pointing.station.Station
        Site, weather, mount, telescope and the ``[camera]``,
        ``[wide_camera]``, ``[photometry]``, ``[detectors]`` and
        ``[simulator]`` sections.
    seed : int
        The simulation is deterministic for a seed.
    start : astropy Time or str
        UTC at the start of the night (default: the station's next 21:00
        local time from 2026-12-01 — any fixed date keeps runs reproducible).
    config : SimulatorConfig, optional
        Overrides the station's ``[simulator]`` section entirely.
    **changes
        Fields of :class:`SimulatorConfig` to override (e.g. ``faults=``).
    """
    if config is None:
        config = SimulatorConfig.from_section(station.section("simulator"), seed=seed,
                                              **changes)
    else:
        config = replace(config, seed=seed, **changes)
    if start is None:
        start = default_start(station)
    clock = VirtualClock(start)
    world = _World(station, config, clock)
    mount = SimulatedMount(world)
    tracking = SimulatedCamera(world, mount, station.section("camera"),
                               aperture_m=station.telescope.aperture_m, stream="exposure",
                               name="tracking camera")
    wide_section, wide_aperture = wide_camera_section(station)
    wide = SimulatedCamera(world, mount, wide_section, aperture_m=wide_aperture,
                           stream="wide", name="wide camera")
    counter = SimulatedCounter(world, mount)

    def state() -> dict[str, Any]:
        return {"elapsed_s": clock.elapsed_s, "counters": dict(world.counters),
                "mount": mount.state()}

    def restore(s: Mapping[str, Any]) -> None:
        clock.set_elapsed(s["elapsed_s"])
        world.counters.update(s["counters"])
        mount.restore(s["mount"])

    return Backend(clock=clock, mount=mount, tracking_camera=tracking, wide_camera=wide,
                   counter=counter, truth=truth_of(world), noise_floor_urad=noise_floor(world),
                   name=f"simulator (seed {config.seed})", state=state, restore=restore,
                   truth_background=lambda maz, mel, ph: truth_sky(world, maz, mel, ph),
                   simulated=True)


def default_start(station: Any) -> Any:
    """21:00 local time on 2026-12-01 at the station (UTC), a reproducible default."""
    from astropy import units as u
    from astropy.time import Time

    return Time("2026-12-01T21:00:00", scale="utc") - station.utc_offset_h * u.hour


def truth_of(world: _World) -> dict[str, Any]:
    """The simulator's true parameters, for reports and tests."""
    c = world.config
    return {
        "terms": dict(c.terms),
        "unmodelled_terms": dict(c.unmodelled),
        "efficiency": {"eta0": c.eta0, "k_mag_per_airmass": c.k_quantum},
        "sky": c.sky,
        "repeatability_arcsec": c.repeatability_arcsec,
        "jitter_arcsec": c.jitter_arcsec,
        "seed": c.seed,
    }


def truth_sky(world: _World, moon_az: float, moon_el: float, moon_phase: float
              ) -> dict[str, float]:
    """The true background figures of the simulated sky for the Moon there (report)."""
    from pointing.photometry.sky_model import truth_background

    return truth_background(world.sky, world.receiver, moon_az=moon_az, moon_el=moon_el,
                            moon_phase=moon_phase)


def noise_floor(world: _World, samples: int = 4000) -> float:
    """Radial pointing RMS (µrad) that the true values of the fitted terms would leave.

    What one pointing measured with one exposure keeps even with a perfect
    model of the fitted terms: repeatability and image motion per axis,
    encoder quantisation, and the unmodelled terms averaged over the sky
    (20°–85° elevation).  A fit may absorb part of the unmodelled terms into
    its coefficients and then point a little better than this.
    """
    c = world.config
    per_axis2 = ((c.repeatability_arcsec * ARCSEC) ** 2 + (c.jitter_arcsec * ARCSEC) ** 2
                 + (2 * math.pi / 2**c.encoder_bits) ** 2 / 12)
    harmonic2 = 0.0
    if c.unmodelled:
        rng = np.random.default_rng(12345)
        az = rng.uniform(0, 2 * math.pi, samples)
        el = np.arcsin(rng.uniform(math.sin(math.radians(20)), math.sin(math.radians(85)),
                                   samples))
        dx, de = PointingModel(list(c.unmodelled), list(c.unmodelled.values())).offsets(az, el)
        harmonic2 = float(np.mean(dx**2 + de**2))
    return math.sqrt(2 * per_axis2 + harmonic2) / URAD

