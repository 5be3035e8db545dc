"""The simulated station's physical world: virtual time, truth, sky, catalog, random streams.

:class:`World` is shared by the devices of :mod:`pointing.hardware.simulator.devices`.
Star places are exact (:func:`pointing.sky.places.observed_altaz`) but only
for the stars a device can see: the whole catalogue is placed once per
:data:`COARSE_PLACES_S` seconds of virtual time to find the candidates
near a direction, and the candidates are then placed at the exact time
(ERFA works star by star, so a subset gets the very numbers the whole
catalogue would).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from astropy import units as u
from astropy.time import Time

from pointing.hardware.simulator.config import SimulatedCrash, SimulatorConfig
from pointing.model.model import PointingModel
from pointing.photometry.config import PhotometryConfig
from pointing.photometry.sky_model import Receiver, SkyBackgroundModel
from pointing.sky.catalog import load_catalog
from pointing.sky.places import moon_altaz, moon_phase, observed_altaz, star_astrometry
from pointing.units import angular_separation

__all__ = ["COARSE_PLACES_S", "VirtualClock", "World", "tangent_offsets"]

#: virtual seconds between whole-catalogue placements (candidates for the exact places)
COARSE_PLACES_S = 300.0
#: margin (rad) around a field for the candidates: the sky turns 7.3e-5 rad/s, so
#: 1.5° covers the coarse interval with room to spare (refraction changes far less)
_COARSE_MARGIN = math.radians(1.5)
#: random streams, each seeded by (seed, stream, event number)
_STREAMS = {"slew": 1, "exposure": 2, "wide": 3, "count": 4, "hot": 5}


class VirtualClock:
    """UTC that advances only when the simulation says so."""

    def __init__(self, start: Any):
        self._t0 = Time(start, scale="utc")
        self._elapsed = 0.0
        self._now: tuple[float, Time] | None = None

    def now(self) -> Time:
        """The virtual UTC (the same object while the clock stands still)."""
        if self._now is None or self._now[0] != self._elapsed:
            self._now = (self._elapsed, self._t0 + self._elapsed * u.s)
        return self._now[1]

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._elapsed += float(seconds)

    @property
    def elapsed_s(self) -> float:
        """Virtual seconds since the start."""
        return self._elapsed

    def set_elapsed(self, seconds: float) -> None:
        self._elapsed = float(seconds)


class World:
    """The shared physical state: truth, sky, catalog, RNG streams, counters."""

    def __init__(self, station: Any, config: SimulatorConfig, clock: VirtualClock):
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
        self._coarse: tuple[float, np.ndarray, np.ndarray] | None = None
        self._moon_cache: tuple[float, float, float, float] | None = None

    def call(self) -> None:
        """Count a device call; die at ``faults.crash_at_call`` (:class:`SimulatedCrash`)."""
        self.calls += 1
        if self.calls == self.config.faults.crash_at_call:
            raise SimulatedCrash(f"simulated crash at device call {self.calls}")

    def rng(self, stream: str, number: int) -> np.random.Generator:
        """The random generator of one event (a slew, an exposure, a count)."""
        return np.random.default_rng([self.config.seed, _STREAMS[stream], number])

    def stars_near(self, az: float, el: float, radius: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Catalog stars above the horizon within ``radius`` (rad) of (az, el), now.

        Returns ``(index, az, el, separation)``: catalog indices in ascending
        order and their exact observed places (radians).
        """
        t = self.clock.elapsed_s
        if self._coarse is None or abs(t - self._coarse[0]) > COARSE_PLACES_S:
            c_az, c_el = observed_altaz(self.astro, self.station, self.clock.now())
            self._coarse = (t, c_az, c_el)
        _, c_az, c_el = self._coarse
        cand = np.nonzero((angular_separation(c_az, c_el, az, el) < radius + _COARSE_MARGIN)
                          & (c_el > -_COARSE_MARGIN))[0]
        sub = {k: v[cand] for k, v in self.astro.items()}
        s_az, s_el = observed_altaz(sub, self.station, self.clock.now())
        sep = angular_separation(s_az, s_el, az, el)
        keep = (sep < radius) & (s_el > 0)
        return cand[keep], s_az[keep], s_el[keep], sep[keep]

    def moon(self) -> tuple[float, float, float]:
        """Moon azimuth, elevation (rad) and illuminated fraction, cached per 10 minutes."""
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
            sep = angular_separation(az, el, math.radians(caz), math.radians(cel))
            out = out + np.where(sep < math.radians(rad), mag, 0.0)
        return out


def tangent_offsets(az: np.ndarray, el: np.ndarray, az0: float, el0: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (ΔA·cosE, ΔE)-like offsets of directions from a centre, radians."""
    da = az - az0
    cos_c = np.sin(el) * math.sin(el0) + np.cos(el) * math.cos(el0) * np.cos(da)
    x = np.cos(el) * np.sin(da) / cos_c
    y = (np.sin(el) * math.cos(el0) - np.cos(el) * math.sin(el0) * np.cos(da)) / cos_c
    return x, y
