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

The rooms: :mod:`~pointing.hardware.simulator.config` (the ``[simulator]``
section), :mod:`~pointing.hardware.simulator.world` (time, truth, sky,
catalog), :mod:`~pointing.hardware.simulator.devices` (mount, cameras,
counter), :mod:`~pointing.hardware.simulator.truth` (what the night must
find); this module assembles them into a :class:`~pointing.hardware.base.Backend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from astropy import units as u
from astropy.time import Time

from pointing.camera.config import DEFAULT_WIDE_CAMERA, wide_camera_section
from pointing.hardware.base import Backend
from pointing.hardware.simulator.config import (
    COMPASS_SETUP,
    UNMODELLED,
    Faults,
    SimulatedCrash,
    SimulatorConfig,
)
from pointing.hardware.simulator.devices import SimulatedCamera, SimulatedCounter, SimulatedMount
from pointing.hardware.simulator.truth import noise_floor, truth_of, truth_sky
from pointing.hardware.simulator.world import VirtualClock, World
from pointing.sky.places import moon_phase

__all__ = ["COMPASS_SETUP", "DEFAULT_WIDE_CAMERA", "UNMODELLED", "Faults", "SimulatedCrash",
           "SimulatorConfig", "VirtualClock", "default_start", "moon_phase", "simulated_station",
           "wide_camera_section"]


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
    world = World(station, config, clock)
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


def default_start(station: Any) -> Time:
    """21:00 local time on 2026-12-01 at the station (UTC), a reproducible default."""
    return Time("2026-12-01T21:00:00", scale="utc") - station.utc_offset_h * u.hour
