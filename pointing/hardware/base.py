"""The small interfaces the calibration night talks to.

A real station plugs in by writing one adapter per device; the simulator
(:mod:`pointing.hardware.simulator.station`) is a backend like any other.  Angles are
radians, azimuth from north (0) through east (π/2); raw means the mount's
encoder frame (what the pointing model's ``raw_from_true`` returns).  Every
measurement carries its UTC time from the backend's :class:`Clock`.

Errors a device raises for conditions the night handles (limits, timeouts,
lost connection) are subclasses of :class:`HardwareError`; a star is skipped
on one, except on :class:`ConnectionLost`, which stops the night.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pointing.errors import ConfigError, PointingError

__all__ = [
    "Backend",
    "Camera",
    "Clock",
    "ConnectionLost",
    "Counts",
    "Frame",
    "HardwareError",
    "HardwareTimeout",
    "Mount",
    "MountLimitError",
    "MountLimits",
    "PhotonCounter",
    "StreamingCounter",
    "TrajectoryMount",
    "WindowedCamera",
    "load_backend",
]


class HardwareError(PointingError):
    """A device failed in a way the night can log and work around."""


class HardwareTimeout(HardwareError):
    """A device did not answer in time."""


class ConnectionLost(HardwareError):
    """The link to the devices is gone and the backend's own retries gave up.

    Unlike other hardware errors this does not skip one star: nothing more can
    be observed, so the night stops as failed (every observation so far stays
    in the station log) and can be resumed once the devices are back.
    """


class MountLimitError(HardwareError):
    """A demanded position is outside the mount's limits."""


@dataclass(frozen=True)
class MountLimits:
    """Axis limits in the raw (encoder) frame, radians."""

    az_min: float
    az_max: float
    el_min: float
    el_max: float

    def check(self, az: float, el: float) -> None:
        """Raise :class:`MountLimitError` naming the axis when (az, el) is outside."""
        deg = 180.0 / np.pi
        if not self.az_min <= az <= self.az_max:
            raise MountLimitError(f"azimuth {az * deg:.2f}° is outside the mount's limits "
                                  f"{self.az_min * deg:.1f}°…{self.az_max * deg:.1f}°")
        if not self.el_min <= el <= self.el_max:
            raise MountLimitError(f"elevation {el * deg:.2f}° is outside the mount's limits "
                                  f"{self.el_min * deg:.1f}°…{self.el_max * deg:.1f}°")


@dataclass(frozen=True)
class Frame:
    """One camera exposure.

    Attributes
    ----------
    data : ndarray
        2-D image, ADU (uint16 for real cameras).
    time : astropy.time.Time
        UTC at mid-exposure.
    exposure_s : float
    gain_e_per_adu : float or None
    temperature_c : float or None
        Sensor temperature.
    metadata : dict
        Anything else the device reports (camera name, binning, ...).
    """

    data: np.ndarray
    time: Any
    exposure_s: float
    gain_e_per_adu: float | None = None
    temperature_c: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Counts:
    """Photon counts of the quantum channels over one interval.

    Attributes
    ----------
    counts : ndarray of int
        One entry per detector channel.
    start, end : astropy.time.Time
        UTC start and end of the counting interval.
    """

    counts: np.ndarray
    start: Any
    end: Any

    @property
    def duration_s(self) -> float:
        return float((self.end - self.start).sec)

    @property
    def total(self) -> int:
        return int(np.sum(self.counts))


@runtime_checkable
class Clock(Protocol):
    """The time every measurement is stamped with (virtual for the simulator)."""

    def now(self) -> Any:
        """Current UTC as an astropy Time."""

    def sleep(self, seconds: float) -> None:
        """Wait (virtually, for a simulator)."""


@runtime_checkable
class Mount(Protocol):
    """An alt-az mount, commanded in its raw (encoder) frame."""

    def limits(self) -> MountLimits:
        """Axis limits (radians)."""

    def slew(self, az: float, el: float, *, timeout_s: float = 120.0) -> None:
        """Go to raw (az, el) and stop there; returns once settled.

        Raises :class:`MountLimitError` outside the limits (without moving)
        and :class:`HardwareTimeout` when not arrived in ``timeout_s``.
        """

    def track(self, az_rate: float, el_rate: float) -> None:
        """Move both axes at constant rates (rad/s) from the current position."""

    def stop(self) -> None:
        """Stop tracking and hold the current position."""

    def position(self) -> tuple[float, float]:
        """Current raw encoder (az, el), radians."""


@runtime_checkable
class TrajectoryMount(Mount, Protocol):
    """A mount that follows a pass's trajectory and takes offsets (optional, for passes).

    The demand at UTC ``t`` is ``trajectory.demand_at(t + time_offset_s)`` plus
    the position offset: the timing feed-forward and the tracking loop's
    correction.  :meth:`Mount.position` reads the axes (raw encoder frame).
    """

    def follow(self, trajectory: Any, *, time_offset_s: float = 0.0) -> None:
        """Follow *trajectory* (a :class:`pointing.passes.Trajectory`) from now on."""

    def offset(self, d_az: float, d_el: float, az_rate: float = 0.0,
               el_rate: float = 0.0) -> None:
        """Set the offset added to the demand: (d_az, d_el) raw axis radians now,
        changing at (az_rate, el_rate) rad/s until the next call."""


@runtime_checkable
class Camera(Protocol):
    """A camera that takes one exposure at a time."""

    def expose(self, seconds: float, *, timeout_s: float = 30.0) -> Frame:
        """Take an exposure; the frame's time is mid-exposure (UTC)."""


@runtime_checkable
class WindowedCamera(Camera, Protocol):
    """A camera that reads out a window (region of interest), optionally binned."""

    def set_window(self, x0: int, y0: int, width: int, height: int, binning: int = 1) -> None:
        """Read only the full-frame pixels x0..x0+width, y0..y0+height, binned.

        A frame's pixel (i, j) is then full-frame pixel
        (x0 + (i + 0.5)·binning − 0.5, y0 + (j + 0.5)·binning − 0.5).
        """


@runtime_checkable
class PhotonCounter(Protocol):
    """The time-tagging electronics of the quantum receiver (counts per channel)."""

    channels: int

    def count(self, seconds: float) -> Counts:
        """Counts on every channel over the next ``seconds``."""


@runtime_checkable
class StreamingCounter(PhotonCounter, Protocol):
    """A time tagger that counts all the time: read what came in since the previous read."""

    def read(self) -> Counts:
        """Counts on every channel since the previous read (does not wait)."""


@dataclass
class Backend:
    """The devices of one station, as the night uses them.

    Attributes
    ----------
    clock, mount : Clock, Mount
    tracking_camera : Camera
        Behind the telescope; its geometry is the station's ``[camera]``.
    wide_camera : Camera or None
        The wide acquisition camera (``[wide_camera]``), used to find a star
        that the tracking camera misses.
    counter : PhotonCounter or None
    truth : dict or None
        For simulators: the true parameters (terms, efficiency, background),
        which the report prints beside the measured ones.
    noise_floor_urad : float or None
        For simulators: the pointing RMS a perfect model would leave.
    truth_background : callable or None
        For simulators: ``truth_background(moon_az, moon_el, moon_phase)`` (radians,
        0..1) returns the true background figures (``zenith_cps``,
        ``rural_like_above_deg``, ...) for the Moon there, which the report prints
        beside the measured ones.  The night never builds a truth itself.
    simulated : bool
        The devices are simulated: the night keeps such nights out of the real
        station log (:func:`pointing.night.log.default_log_path`).
    sees_stars_in_daylight : bool
        The cameras show stars whatever the Sun (INDI's CCD simulator on a real
        clock): the night's daylight refusal does not apply.
    close : callable or None
        Called when the night ends.
    state, restore : callable or None
        The backend's state after each observation (JSON-ready) and how to go back
        to it: with both, a resumed night continues exactly where it stopped.
    """

    clock: Clock
    mount: Mount
    tracking_camera: Camera
    wide_camera: Camera | None = None
    counter: PhotonCounter | None = None
    truth: dict[str, Any] | None = None
    noise_floor_urad: float | None = None
    name: str = "backend"
    close: Callable[[], None] | None = None
    state: Callable[[], dict[str, Any]] | None = None
    restore: Callable[[dict[str, Any]], None] | None = None
    truth_background: Callable[[float, float, float], dict[str, float]] | None = None
    simulated: bool = False
    sees_stars_in_daylight: bool = False


def load_backend(spec: str, station: Any, **kwargs: Any) -> Backend:
    """Build a backend from ``"module:factory"``: ``factory(station, **kwargs)``.

    Raises :class:`~pointing.errors.ConfigError` naming the spec when the
    module or factory cannot be found or does not return a :class:`Backend`.
    """
    module_name, sep, factory_name = spec.partition(":")
    if not sep or not module_name or not factory_name:
        raise ConfigError(f"--backend {spec!r}: expected MODULE:FACTORY")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--backend {spec!r}: cannot import {module_name}: {exc}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ConfigError(f"--backend {spec!r}: {module_name} has no callable {factory_name}")
    try:
        inspect.signature(factory).bind(station, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"--backend {spec!r}: {factory_name} must take the station as its "
                          f"one argument, FACTORY(station): {exc}") from None
    except ValueError:  # no signature to read (a builtin): let the call say
        pass
    try:
        backend = factory(station, **kwargs)
    except PointingError:
        raise
    except Exception as exc:  # a user's factory: one line that says which, not a traceback
        raise ConfigError(f"--backend {spec!r}: {factory_name}(station) failed: "
                          f"{type(exc).__name__}: {exc}") from None
    if not isinstance(backend, Backend):
        raise ConfigError(f"--backend {spec!r}: the factory returned "
                          f"{type(backend).__name__}, not a pointing.hardware.Backend")
    return backend
