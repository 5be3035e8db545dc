"""The simulated devices: an alt-az mount, two cameras and a four-channel photon counter.

Frames.  A pixel's reading is ``clip(round((Poisson(λ) + N(0, σ_read)) / gain
+ bias), 0, top)``.  Where the sky is uniform (every pixel but the star
cut-outs and the hot pixels) ``λ`` is the same, so the readings follow one
discrete distribution: :class:`UniformPixels` tabulates it exactly (the
Poisson sum convolved with the Gaussian read noise, integrated over each ADU
step, clipped) and draws every background pixel from 32 random bits by table
look-up, ~10× faster than drawing Poisson and normal deviates.  The star
cut-outs and hot pixels are then drawn from their own expectation as before.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import chndtr, gammaln, ndtr

from pointing.camera.config import Camera
from pointing.camera.sensor import Sensor
from pointing.hardware.base import Counts, Frame, HardwareTimeout, MountLimitError, MountLimits
from pointing.hardware.simulator.world import World, tangent_offsets
from pointing.photometry.bands import star_photon_flux
from pointing.photometry.config import PhotometryConfig, collecting_area
from pointing.photometry.efficiency import expected_star_counts
from pointing.photometry.extinction import airmass
from pointing.sky.slews import slew_time
from pointing.units import ARCSEC, URAD

__all__ = ["SimulatedCamera", "SimulatedCounter", "SimulatedMount", "UniformPixels",
           "field_stop_fraction", "moffat_stamp", "read_out"]


class SimulatedMount:
    """An alt-az direct-drive mount with geometric errors and encoders."""

    def __init__(self, world: World):
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
        self._el_dir = 1.0  # flexure hysteresis state, −1 (moved down) .. 1 (moved up)
        self._stopped = world.clock.elapsed_s  # when the last slew stopped moving
        self._ring = (0.0, 0.0, 0.0)  # settling oscillation: amplitude share, phases per axis

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
        self._stopped = w.clock.elapsed_s + t
        w.clock.sleep(t + (self._settle if t > 0 else 0.0))
        rng = w.rng("slew", n)
        self._settle_errors(rng, az - a0, el - e0, (el + e0) / 2)
        self._pos, self._rate, self._t_ref = (az, el), (0.0, 0.0), w.clock.elapsed_s

    def track(self, az_rate: float, el_rate: float) -> None:
        self._pos = self._now_position()
        self._rate = (float(az_rate), float(el_rate))
        self._t_ref = self._w.clock.elapsed_s

    def stop(self) -> None:
        self.track(0.0, 0.0)

    def _settle_errors(self, rng: np.random.Generator, d_az: float, d_el: float,
                       el: float) -> None:
        """Errors a slew of (d_az, d_el) radians leaves: repeatability, ringing, hysteresis.

        On the ideal station every slew draws a fresh repeatability error.
        With ``repeatability_scale_deg`` a slew of ``d`` keeps ``1 − f`` of the
        previous error and adds ``f`` of a fresh one, ``f = min(1, d / scale)``
        (a small correction does not re-seat the gears); ringing scales with ``f``;
        the hysteresis state follows the elevation motion over ``hysteresis_width_deg``.
        """
        c = self._w.config
        s = c.repeatability_arcsec * ARCSEC
        if c.repeatability_scale_deg <= 0:
            self._err = (float(rng.normal(0, s)), float(rng.normal(0, s)))
            f = 1.0
        else:
            d = math.degrees(math.hypot(d_az * math.cos(el), d_el))
            f = min(1.0, d / c.repeatability_scale_deg)
            self._err = tuple(float((1 - f) * e + rng.normal(0, s * f)) for e in self._err)
        if c.settle_arcsec > 0:
            self._ring = (f, float(rng.uniform(0, 2 * math.pi)),
                          float(rng.uniform(0, 2 * math.pi)))
        if c.hysteresis_arcsec > 0:
            step = math.degrees(d_el) / c.hysteresis_width_deg
            self._el_dir = min(1.0, max(-1.0, self._el_dir + step))

    @property
    def rate(self) -> tuple[float, float]:
        """Tracking rates (rad/s of encoder azimuth and elevation)."""
        return self._rate

    def true_pointing(self, jitter: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
        """Where the telescope really points now (observed az/el, radians)."""
        a, e = self._now_position()
        ta, te = self._w.truth_model.true_from_raw(a, e)
        fx, fe = self._field_errors(te)
        dx = self._err[0] + jitter[0] + fx
        de = self._err[1] + jitter[1] + fe
        return ta + dx / math.cos(te), te + de

    def _field_errors(self, el: float) -> tuple[float, float]:
        """Unmodelled errors of a real mount (ΔA·cosE, ΔE), radians: 0 on the ideal station.

        Flexure hysteresis (by the recent elevation motion, state −1..1),
        thermal drift of the zero points since the start, and the damped
        ringing of the structure after a slew stops.
        """
        c = self._w.config
        now = self._w.clock.elapsed_s
        hours = now / 3600.0
        dx = c.drift_arcsec_per_h[0] * hours
        de = c.drift_arcsec_per_h[1] * hours + c.hysteresis_arcsec * self._el_dir * math.cos(el)
        if c.settle_arcsec > 0:
            t = max(now - self._stopped, 0.0)
            share, phase_x, phase_e = self._ring
            amp = share * c.settle_arcsec * math.exp(-t / c.settle_tau_s)
            w = 2 * math.pi * t / c.settle_period_s
            dx += amp * math.cos(w + phase_x)
            de += amp * math.cos(w + phase_e)
        return dx * ARCSEC, de * ARCSEC

    def state(self) -> dict[str, Any]:
        return {"pos": list(self._now_position()), "rate": list(self._rate),
                "err": list(self._err), "el_dir": self._el_dir,
                "stopped_ago": self._w.clock.elapsed_s - self._stopped, "ring": list(self._ring)}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._pos = tuple(state["pos"])
        self._rate = tuple(state["rate"])
        self._err = tuple(state["err"])
        self._t_ref = self._w.clock.elapsed_s
        self._el_dir = float(state.get("el_dir", 1.0))
        self._stopped = self._t_ref - float(state.get("stopped_ago", 0.0))
        self._ring = tuple(state.get("ring", (0.0, 0.0, 0.0)))


class SimulatedCamera:
    """A camera on the telescope that renders the true sky in its field."""

    def __init__(self, world: World, mount: SimulatedMount, section: Mapping[str, Any],
                 *, aperture_m: float, stream: str, name: str):
        self._w = world
        self._mount = mount
        self.camera = Camera.from_config(section)
        self.geometry = self.camera.geometry
        self.sensor = self.camera.sensor
        self._stream = stream
        self.name = name
        self._area = math.pi / 4 * aperture_m**2
        if stream == "exposure":  # the tracking camera shares the telescope's obstruction
            self._area = collecting_area(world.station.telescope.aperture_m,
                                         world.station.telescope.obstruction_m)
        rng = world.rng("hot", 1 if stream == "exposure" else 2)
        g = self.geometry
        n_hot = world.config.hot_pixels
        hy, hx = rng.integers(0, g.height, n_hot), rng.integers(0, g.width, n_hot)
        rate = rng.uniform(200.0, 3000.0, n_hot)
        # a pixel drawn twice is one hot pixel, at the rate drawn last
        flat = hy * g.width + hx
        last = flat.size - 1 - np.unique(flat[::-1], return_index=True)[1]
        self._hot = (hy[last], hx[last], rate[last])
        self._hot_flat = (flat[last], rate[last])
        self._band = PhotometryConfig.from_station(world.station).camera_band
        optics = (world.config.tracking_optics_fwhm_px if stream == "exposure"
                  else world.config.wide_optics_fwhm_px)
        self._fwhm_px = math.hypot((world.config.seeing_fwhm_arcsec * ARCSEC / URAD)
                                   / g.pixel_scale_urad, optics)
        self._half_field = math.hypot(g.width, g.height) / 2 * g.pixel_scale_urad * URAD

    @property
    def hot_pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, columns and dark rates (e⁻/s) of the hot pixels (truth, for tests)."""
        return self._hot

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
        if w.config.timing_jitter_s > 0:  # the frame's time stamp is off: rate × δt
            dt = float(rng.normal(0, w.config.timing_jitter_s))
            rate_a, rate_e = self._mount.rate
            jitter = (jitter[0] + rate_a * dt * math.cos(self._mount.position()[1]),
                      jitter[1] + rate_e * dt)
        b_az, b_el = self._mount.true_pointing(jitter)
        image = self._render(b_az, b_el, seconds, rng)
        w.clock.sleep(seconds / 2 + 0.05)  # rest of the exposure and readout
        return Frame(image, mid, seconds, gain_e_per_adu=self.sensor.gain_e_per_adu,
                     temperature_c=-10.0, metadata={"camera": self.name, "number": n})

    def sky_electrons(self, b_az: float, b_el: float, seconds: float) -> float:
        """Expected sky and dark electrons per pixel of a uniform background."""
        w = self._w
        g = self.geometry
        moon_az, moon_el, phase = w.moon()
        sb = float(w.sky.surface_brightness(b_az, max(b_el, 0.01), moon_az, moon_el, phase,
                                            self._band))
        pix_arcsec2 = (g.pixel_scale_urad * URAD / ARCSEC) ** 2
        return (sb * pix_arcsec2 * self._area * w.config.camera_efficiency * seconds
                + w.config.dark_e_per_s * seconds)

    def _render(self, b_az: float, b_el: float, seconds: float,
                rng: np.random.Generator) -> np.ndarray:
        """The frame (uint16 ADU) seen with the boresight at (b_az, b_el), radians."""
        w = self._w
        g = self.geometry
        idx, az, el, _ = w.stars_near(b_az, b_el, self._half_field + 5e-4)
        keep = np.array([int(w.hip[i]) not in w.config.faults.lost_stars for i in idx], bool)
        idx, az, el = idx[keep], az[keep], el[keep]
        bg_e = self.sky_electrons(b_az, b_el, seconds)
        # the expectation where it is not the uniform sky: hot pixels and star cut-outs,
        # as (flat pixel index, electrons added) pieces summed per pixel
        hot_idx, hot_rate = self._hot_flat
        pieces_idx, pieces_e = [hot_idx], [hot_rate * seconds]
        if idx.size:
            x, y = tangent_offsets(az, el, b_az, b_el)
            px, py = g.pixel(x, y)
            ext = w.config.k_camera * airmass(el) + w.cloud_mag(az, el)
            hidden = np.isin(w.hip[idx], list(w.config.faults.hidden_stars))
            flux = (star_photon_flux(w.imag[idx], w.v_minus_i[idx], self._band)
                    * self._area * w.config.camera_efficiency * seconds
                    * 10.0 ** (-0.4 * ext))
            flux = np.where(hidden, 0.0, flux)
            for xi, yi, fi in zip(px, py, flux, strict=True):
                if fi > 0:
                    star = moffat_stamp((g.height, g.width), xi, yi, fi, self._fwhm_px,
                                        w.config.moffat_beta)
                    if star is not None:
                        pieces_idx.append(star[0])
                        pieces_e.append(star[1])
        where, inverse = np.unique(np.concatenate(pieces_idx), return_inverse=True)
        expected = bg_e + np.bincount(inverse, weights=np.concatenate(pieces_e))
        image = UniformPixels(bg_e, self.sensor).sample(rng, (g.height, g.width))
        image.flat[where] = read_out(rng, expected, self.sensor)
        return image


def read_out(rng: np.random.Generator, expected_e: np.ndarray, sensor: Sensor) -> np.ndarray:
    """Pixel readings (uint16 ADU) of expected electron counts: Poisson, read noise, ADC."""
    electrons = rng.poisson(expected_e).astype(float)
    electrons += rng.normal(0.0, sensor.read_noise_e, electrons.shape)
    gain = sensor.gain_e_per_adu or 1.0
    adu = np.round(electrons / gain + sensor.bias_adu)
    # a full well reads as the camera's saturation level (flat top), as does the ADC limit
    return np.clip(adu, 0, _top_adu(sensor)).astype(np.uint16)


def _top_adu(sensor: Sensor) -> float:
    return min(float(2**sensor.adc_bits - 1), sensor.saturation_adu)


class UniformPixels:
    """The exact distribution of the readings of pixels that all expect ``mean_e`` electrons.

    ``P(ADU = k)`` is the probability that ``Poisson(mean_e) + N(0, σ)`` falls
    in ADU step ``k`` (``[(k − ½ − bias)·gain, (k + ½ − bias)·gain)``
    electrons), with everything below 0 and above the top read as 0 and
    the top.  Draws use 32 random bits per pixel: the top 16 bits index a
    table that settles almost every pixel, the few whose 16-bit bucket
    straddles a step of the cumulative distribution are settled by all 32
    bits (so probabilities are exact to 2⁻³²).
    """

    _TAIL = 10.0  #: standard deviations of Poisson and read noise tabulated each side

    def __init__(self, mean_e: float, sensor: Sensor):
        lam = max(float(mean_e), 0.0)
        sigma = max(float(sensor.read_noise_e), 1e-9)
        gain = sensor.gain_e_per_adu or 1.0
        bias = float(sensor.bias_adu)
        top = _top_adu(sensor)
        spread = self._TAIL * math.sqrt(lam) + 10.0
        n = np.arange(max(0, math.floor(lam - spread)), math.ceil(lam + spread) + 1)
        p_n = _poisson_pmf(n, lam)
        lo_e, hi_e = n[0] - self._TAIL * sigma, n[-1] + self._TAIL * sigma
        k_lo = int(min(max(math.floor(lo_e / gain + bias), 0), top))
        k_hi = int(min(max(math.ceil(hi_e / gain + bias), 0), top))
        self.values = np.arange(k_lo, k_hi + 1)
        # cumulative probability at the upper edge of every step but the last
        edges = (self.values[:-1] + 0.5 - bias) * gain
        cum_p = np.concatenate([[0.0], np.cumsum(p_n)])
        width = math.ceil(2 * self._TAIL * sigma) + 2
        first = np.clip(np.ceil(edges - self._TAIL * sigma).astype(int) - n[0], 0, n.size)
        j = first[:, None] + np.arange(width)[None, :]
        inside = j < n.size
        jj = np.minimum(j, n.size - 1)
        window = np.where(inside, p_n[jj] * ndtr((edges[:, None] - n[jj]) / sigma), 0.0)
        # all of the Poisson mass below the window is below the edge
        cdf = np.minimum(cum_p[first] + window.sum(axis=1), 1.0)
        self.cdf = np.concatenate([np.maximum.accumulate(cdf), [1.0]])
        self.probabilities = np.diff(np.concatenate([[0.0], self.cdf]))
        # a 32-bit draw u reads as step k when bounds[k-1] <= u < bounds[k]
        bounds = np.minimum(np.ceil(self.cdf * 2.0**32), 2.0**32).astype(np.int64)
        bounds[-1] = 2**32
        self._bounds = bounds
        # the table of the top 16 bits: step at each bucket's first draw ...
        first_bucket = -((-bounds) >> 16)  # ceil(bounds / 2**16)
        counts = np.diff(np.concatenate([[0], first_bucket]))
        self._lut = np.repeat(self.values.astype(np.uint16), counts)
        # ... and the buckets a step boundary cuts, where the low 16 bits decide: marked
        # in the table itself by a value no pixel reads (when the top is below 65535)
        cut = bounds[:-1][(bounds[:-1] & 0xFFFF) != 0] >> 16
        self._ambiguous = np.zeros(65536, dtype=bool)
        self._ambiguous[cut] = True
        self._sentinel = top < _UNSURE
        if self._sentinel:
            self._lut[cut] = _UNSURE

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Independent readings (uint16 ADU) of ``shape`` pixels."""
        size = math.prod(shape)
        bits = rng.bit_generator.random_raw((size + 1) // 2).view(np.uint32)[:size]
        bucket = bits.view(np.uint16)[1::2] if _LITTLE_ENDIAN else bits >> np.uint32(16)
        out = np.take(self._lut, bucket)
        unsure = np.flatnonzero(out == _UNSURE if self._sentinel
                                else np.take(self._ambiguous, bucket))
        if unsure.size:
            step = np.searchsorted(self._bounds, bits[unsure].astype(np.int64), side="right")
            out[unsure] = self.values[step]
        return out.reshape(shape)


_LITTLE_ENDIAN = sys.byteorder == "little"
_UNSURE = np.uint16(65535)  #: table entry of a bucket that the low 16 bits decide


def _poisson_pmf(n: np.ndarray, lam: float) -> np.ndarray:
    """Poisson probabilities of the integers ``n`` at mean ``lam`` (≥ 0)."""
    if lam == 0.0:
        return (n == 0).astype(float)
    return np.exp(n * math.log(lam) - lam - gammaln(n + 1.0))


def moffat_stamp(shape: tuple[int, int], x: float, y: float, flux: float, fwhm: float,
                 beta: float) -> tuple[np.ndarray, np.ndarray] | None:
    """A pixel-sampled Moffat star of total ``flux`` centred at (x, y) on an image of ``shape``.

    Returns the flat pixel indices of its cut-out and the flux in each, or
    None when the star is off the image.
    """
    alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    r = math.ceil(6 * fwhm) + 2
    h, w = shape
    x0, x1 = max(int(x) - r, 0), min(int(x) + r + 1, w)
    y0, y1 = max(int(y) - r, 0), min(int(y) + r + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    # 3×3 sub-pixel sampling approximates the pixel integral well for FWHM ≥ 2 px
    sub = (np.arange(3) - 1) / 3.0
    xs = (np.arange(x0, x1)[:, None] + sub[None, :]).ravel() - x
    ys = (np.arange(y0, y1)[:, None] + sub[None, :]).ravel() - y
    prof = (1.0 + (ys[:, None] ** 2 + xs[None, :] ** 2) / alpha**2) ** (-beta)
    stamp = prof.reshape(y1 - y0, 3, x1 - x0, 3).mean(axis=(1, 3))
    norm = (beta - 1.0) / (math.pi * alpha**2)
    index = (np.arange(y0, y1)[:, None] * w + np.arange(x0, x1)[None, :]).ravel()
    return index, (flux * norm * stamp).ravel()


class SimulatedCounter:
    """Four SPAD channels behind a 100 µrad field at the calibration pixel."""

    channels = 4

    def __init__(self, world: World, mount: SimulatedMount):
        self._w = world
        self._mount = mount

    def count(self, seconds: float) -> Counts:
        w = self._w
        w.call()
        w.counters["count"] += 1
        rng = w.rng("count", w.counters["count"])
        start = w.clock.now()
        b_az, b_el = self._mount.true_pointing()
        fov = w.photometry.field_of_view_urad * URAD
        idx, az, el, sep = w.stars_near(b_az, b_el, 2 * fov)
        seeing_sigma = w.config.seeing_fwhm_arcsec * ARCSEC / 2.3548
        dark = w.config.faults.hidden_stars | w.config.faults.lost_stars
        star = 0.0
        for i, a_i, e_i, s_i in zip(idx, az, el, sep, strict=True):
            if int(w.hip[i]) in dark:
                continue
            coupling = field_stop_fraction(s_i, fov / 2, seeing_sigma)
            mean = float(expected_star_counts(
                w.imag[i], w.v_minus_i[i], e_i, seconds, eta0=w.config.eta0,
                k_mag_per_airmass=w.config.k_quantum, area_m2=w.receiver.area_m2,
                band=w.photometry.band))
            mean *= 10.0 ** (-0.4 * float(w.cloud_mag(a_i, e_i)))
            star += coupling * mean
        moon_az, moon_el, phase = w.moon()
        sky_rate = float(w.sky.rate_cps(b_az, b_el, moon_az, moon_el, phase, w.receiver))
        # rate_cps includes the dark counts of all channels; split evenly
        per_channel = (star + sky_rate * seconds) / self.channels
        counts = rng.poisson(np.full(self.channels, per_channel))
        w.clock.sleep(seconds)
        return Counts(counts.astype(np.int64), start, w.clock.now())


def field_stop_fraction(offset: float, radius: float, sigma: float) -> float:
    """Share of a Gaussian star image (σ, radians) at ``offset`` inside a circular field stop.

    The receiver's field stop (the fibre's 100 µrad field) collects all of a
    centred star and loses it smoothly once the offset nears the stop radius:
    P(|X| < radius) for a 2-D Gaussian centred at ``offset``.
    """
    # the CDF of the non-central chi-square (scipy.stats.ncx2.cdf, without importing stats)
    return float(chndtr((radius / sigma) ** 2, 2, (offset / sigma) ** 2))
