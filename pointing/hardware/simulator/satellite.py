"""The simulated pass's sky: a satellite whose true orbit is not its TLE, and image motion.

* **Orbit truth.**  A TLE is good to about a kilometre and its along-track
  error grows with its age: the true satellite is where the elements put it
  ``timing_error_s`` later (along-track error), displaced ``cross_track_km``
  along the orbit normal and ``radial_km`` along the radius
  (:class:`TleError`).  :class:`TrueOrbit` is the passes room's
  :class:`~pointing.passes.TrackComputer` with those errors in its states, so
  light time, aberration and refraction are computed as for the prediction.
* **Beacon direction.**  :class:`SatelliteSky` tabulates the true observed
  track over the pass (vectorised, 0.05 s) and interpolates it for any time.
* **Image motion.**  :class:`ImageMotion` is atmospheric tip-tilt of the
  beacon's image: per-axis RMS ``rms_urad`` with the temporal spectrum of
  angle-of-arrival fluctuations over an aperture ``D`` in a wind ``v``
  (flat ~ f^(-2/3) below the knee ``0.3 v/D``, f^(-11/3) above, Tyler 1994),
  generated once per pass by shaping seeded white noise (resumable: the
  series depends on the seed only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from pointing.errors import ConfigError
from pointing.passes import Pass, Satellite, TrackComputer
from pointing.passes.predict import datetime64_to_jd

__all__ = ["ImageMotion", "SatelliteSky", "TleError", "TrueOrbit", "tangent_offsets"]


@dataclass(frozen=True)
class TleError:
    """How far the true orbit is from the elements (s, km)."""

    timing_error_s: float = 2.0
    cross_track_km: float = 1.0
    radial_km: float = 0.3

    @classmethod
    def draw(cls, seed: int, timing_sigma_s: float = 2.0, cross_sigma_km: float = 1.0
             ) -> TleError:
        """A seeded draw of the typical TLE errors (normal, given sigmas)."""
        rng = np.random.default_rng([seed, 101])
        return cls(float(rng.normal(0, timing_sigma_s)), float(rng.normal(0, cross_sigma_km)),
                   float(rng.normal(0, 0.3 * cross_sigma_km)))

    def check(self) -> None:
        for name in ("timing_error_s", "cross_track_km", "radial_km"):
            v = getattr(self, name)
            if not math.isfinite(v) or abs(v) > (60.0 if name == "timing_error_s" else 100.0):
                raise ConfigError(f"TLE error {name}={v!r}: must be finite and within "
                                  f"{60 if name == 'timing_error_s' else 100}")


class TrueOrbit(TrackComputer):
    """The satellite's true track: the elements' states shifted in time and displaced."""

    def __init__(self, station, satellite: Satellite, start_jd: float, span_s: float,
                 error: TleError, **kwargs):
        super().__init__(station, satellite, start_jd, span_s, **kwargs)
        self.error = error

    def states(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TEME position (km) and velocity (km/s) of the true satellite."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        r, v = super().states(t + self.error.timing_error_s)
        normal = np.cross(r, v)
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        radial = r / np.linalg.norm(r, axis=1, keepdims=True)
        return r + self.error.cross_track_km * normal + self.error.radial_km * radial, v


class SatelliteSky:
    """The true observed direction (az, el; rad) and range of the satellite over a pass.

    Times are seconds from ``t0_jd`` (the pass's rise, as the trajectory's
    first sample).  Tabulated from ``-margin_s`` to the set + ``margin_s``.
    """

    def __init__(self, station, satellite: Satellite, pass_: Pass, error: TleError, *,
                 step_s: float = 0.05, margin_s: float = 30.0):
        error.check()
        self.t0_jd = float(datetime64_to_jd(pass_.rise))
        span = float(datetime64_to_jd(pass_.set) - self.t0_jd) * 86400.0
        start = self.t0_jd - margin_s / 86400.0
        orbit = TrueOrbit(station, satellite, start, span + 2 * margin_s, error)
        t = np.arange(0.0, span + 2 * margin_s + step_s, step_s)
        tr = orbit.track(t, with_sun=False)
        self.t_s = t - margin_s
        self._az = CubicSpline(self.t_s, np.unwrap(tr.az))
        self._el = CubicSpline(self.t_s, tr.el)
        self._range = CubicSpline(self.t_s, tr.range_km)
        self.error = error

    def direction(self, t_s: float) -> tuple[float, float]:
        """True observed (az, el) of the satellite, rad."""
        return float(self._az(t_s)) % (2 * math.pi), float(self._el(t_s))

    def range_km(self, t_s: float) -> float:
        return float(self._range(t_s))

    def first_above(self, el: float) -> float:
        """Seconds from the rise when the true elevation first reaches *el* (rad)."""
        el_tab = self._el(self.t_s)
        above = np.flatnonzero(el_tab >= el)
        return float(self.t_s[above[0]]) if above.size else math.inf


def tangent_offsets(az: float, el: float, az0: float, el0: float) -> tuple[float, float]:
    """Gnomonic offsets (≈ ΔA·cosE, ΔE; rad) of direction (az, el) from the centre (az0, el0)."""
    da = az - az0
    cos_c = math.sin(el) * math.sin(el0) + math.cos(el) * math.cos(el0) * math.cos(da)
    x = math.cos(el) * math.sin(da) / cos_c
    y = (math.sin(el) * math.cos(el0) - math.cos(el) * math.sin(el0) * math.cos(da)) / cos_c
    return x, y


class ImageMotion:
    """Atmospheric tip-tilt of the beacon's image: (x, y) rad at any time of the pass.

    Parameters
    ----------
    rms_urad : per-axis RMS (µrad); 0 switches it off
    wind_m_s : effective wind across the aperture (the slew adds to it), m/s
    aperture_m : telescope aperture, m
    duration_s : length of the series (from ``t_start_s``)
    seed : the series depends only on it
    rate_hz : sample rate of the series (linear interpolation between samples)
    """

    def __init__(self, rms_urad: float, wind_m_s: float, aperture_m: float, duration_s: float,
                 seed: int, *, t_start_s: float = -60.0, rate_hz: float = 400.0):
        if not (math.isfinite(rms_urad) and 0 <= rms_urad < 1000):
            raise ConfigError(f"image motion {rms_urad!r} µrad: must be within 0..1000")
        if not (math.isfinite(wind_m_s) and wind_m_s > 0):
            raise ConfigError(f"wind {wind_m_s!r} m/s: must be positive")
        self.rms_urad = float(rms_urad)
        self.knee_hz = 0.3 * wind_m_s / aperture_m
        self.t_start_s = float(t_start_s)
        self.rate_hz = float(rate_hz)
        n = 1 << math.ceil(math.log2(max(duration_s, 1.0) * rate_hz + 2))
        f = np.fft.rfftfreq(n, 1.0 / rate_hz)
        f[0] = f[1]
        shape = np.where(f < self.knee_hz, (f / self.knee_hz) ** (-2 / 3),
                         (f / self.knee_hz) ** (-11 / 3))
        rng = np.random.default_rng([seed, 102])
        series = []
        for _ in range(2):
            spec = (rng.normal(size=f.size) + 1j * rng.normal(size=f.size)) * np.sqrt(shape)
            spec[0] = 0.0
            s = np.fft.irfft(spec, n)
            s *= self.rms_urad * 1e-6 / max(float(np.std(s)), 1e-300)
            series.append(s)
        self._xy = np.array(series)

    def at(self, t_s: float) -> tuple[float, float]:
        """Image displacement (cross-elevation, elevation), rad."""
        u = (t_s - self.t_start_s) * self.rate_hz
        i = min(max(int(u), 0), self._xy.shape[1] - 2)
        w = min(max(u - i, 0.0), 1.0)
        x = self._xy[0, i] * (1 - w) + self._xy[0, i + 1] * w
        y = self._xy[1, i] * (1 - w) + self._xy[1, i + 1] * w
        return float(x), float(y)
