"""The station's devices through an INDI server (the protocol behind KStars/Ekos).

:func:`indi_station` connects to an ``indiserver`` and returns a
:class:`~pointing.hardware.base.Backend` whose mount and cameras are INDI
devices; ``pointing nightly --backend indi --indi-host HOST --indi-port PORT``
uses it.  Device names, timeouts and the rest come from the station file's
``[indi]`` section (:class:`IndiConfig`).

Mount
    Commanded in its raw (encoder) frame like every mount of the night:
    observed (refracted) azimuth from north through east and elevation, in
    radians.  Most INDI mount drivers, and the 1.9 telescope simulator, move
    in JNow right ascension and declination only (``EQUATORIAL_EOD_COORD``):
    the adapter converts with ERFA for the station's site and weather
    (:func:`altaz_to_jnow`, :func:`jnow_to_altaz`; "JNow" is the apparent
    place referred to the true equator and equinox of date, which is what
    INDI means by it).  A driver that takes horizontal coordinates
    (``HORIZONTAL_COORD``) is driven directly with
    ``mount_coordinates = "horizontal"``.  :meth:`IndiMount.track` with
    non-zero rates switches the driver's sidereal tracking on: the rates the
    night asks for differ from the sky's by the pointing model's gradient,
    below 0.01″/s.  :meth:`IndiMount.stop` switches tracking off, which holds
    azimuth and elevation.

Cameras
    ``CCD_EXPOSURE`` plus the FITS image the driver sends as a BLOB; the
    frame's time is the driver's ``DATE-OBS`` plus half the exposure.

Errors
    A refused request (the property turns Alert) is an :class:`IndiAlert`
    with the driver's last message; an answer that does not come in time a
    :class:`~pointing.hardware.base.HardwareTimeout`; both let the night skip
    the star.  A connection that drops and does not come back within
    ``reconnect_s`` is an :class:`IndiConnectionLost`
    (:class:`~pointing.hardware.base.ConnectionLost`): the night stops as
    failed, every observation so far stays in the station log and
    ``pointing nightly --resume`` continues once the server is back.  A
    connection that comes back in time fails only the request in flight; the
    devices are connected and configured again automatically.

INDI's simulators (``simulators = true``)
    ``indi_simulator_telescope`` and ``indi_simulator_ccd`` (INDI 1.9) make
    a complete test bench, with three differences from a real station that
    the adapter takes care of:

    * the simulated mount is equatorial and the CCD draws its stars in J2000
      right ascension and declination (north toward −x, east toward +y), so
      each frame is re-projected into the alt-az camera that ``[camera]``
      describes (bilinear resampling; the star's centroid is kept);
    * the CCD turns the mount's JNow position into J2000 with INDI's own
      (libnova) precession, nutation and aberration, which differs from
      ERFA's by about 10″.  The CCD writes the J2000 centre it drew around
      into the FITS header (``RA``, ``DEC``, 0.04″ resolution); the
      re-projection puts that centre where ERFA says the JNow position the
      CCD was given lies, so the sky the night sees is ERFA's, like the
      sky it computes star places in;
    * stars are drawn at whole pixels (the integer part of their position),
      so every centroid is quantised to 1 px: a uniform error of ±½ px per
      axis, σ = 0.29 px, constant for a star while the mount tracks.  The
      re-projection removes the half-pixel bias of the integer part.

    A known pointing error can be put on the bench with ``simulated_terms``
    (TPOINT terms, arcsec): before each exposure the CCD's field is moved,
    through its ``EQUATORIAL_PE`` property, to where a mount with those terms
    would really point, so the night must find and fit them.  The CCD draws
    stars only through a ``gsc`` program on the server's ``PATH``:
    :mod:`pointing.hardware.indi.gsc` is a stand-in answering from the
    project's catalog.

Client library
    `indipyclient <https://pypi.org/project/indipyclient/>`_ (pure Python,
    asyncio, MIT) rather than pyindi-client (SWIG bindings around the C++
    libindiclient, GPL-3+): it installs wherever pip does without compiled
    code, its licence sits with this BSD-licensed package, and it reports
    connection loss and reconnects by itself.  It runs in a background
    thread with its own event loop; the adapters are synchronous.  Its own
    vector timeouts are shortened so that a dead server (which it notices
    only when a write fails) is noticed within seconds.  Install it with
    ``pip install 'ogs-pointing[indi]'``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.errors import ConfigError
from pointing.hardware.base import (
    Backend,
    ConnectionLost,
    Frame,
    HardwareError,
    HardwareTimeout,
    MountLimits,
)
from pointing.units import DEG

__all__ = [
    "IndiAlert",
    "IndiConfig",
    "IndiConnectionLost",
    "IndiLink",
    "altaz_to_icrs",
    "altaz_to_jnow",
    "indi_station",
    "install_simulator_catalog",
    "jnow_to_altaz",
    "simulator_magnitudes",
]

log = logging.getLogger("pointing.hardware.indi.devices")
HOUR = math.pi / 12.0


class IndiAlert(HardwareError):
    """A driver refused or failed a request (its property turned Alert)."""


class IndiConnectionLost(ConnectionLost):
    """The INDI server cannot be reached (refused, or lost and not back in time)."""


# ---------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class IndiConfig:
    """The station file's ``[indi]`` section (every key optional).

    Attributes
    ----------
    host, port : where ``indiserver`` listens (default 127.0.0.1:7624);
        the command line's ``--indi-host``/``--indi-port`` override them
    mount_device, camera_device : INDI device names (default: the simulators')
    wide_camera_device : the wide acquisition camera, if the station has one
        on INDI ("" = none: the night cannot search for a missed star)
    camera_blob : the BLOB vector carrying the camera's image (``CCD1``)
    mount_coordinates : ``"equatorial"`` (``EQUATORIAL_EOD_COORD``, JNow) or
        ``"horizontal"`` (``HORIZONTAL_COORD``)
    set_site : send the station's latitude, longitude and height to the mount
        (``GEOGRAPHIC_COORD``) on connecting
    connect_timeout_s : to reach the server and see the devices
    reply_timeout_s : for a driver to answer a request that is not a motion
    exposure_overhead_s : readout and transfer allowed beyond the exposure
    reconnect_s : how long a lost connection may take to come back before the
        night stops (:class:`IndiConnectionLost`)
    simulators : the devices are INDI's simulators (see the module notes)
    simulated_terms : pointing error shown by the simulators, TPOINT terms
        in arcsec (``simulators`` only)
    """

    host: str = "127.0.0.1"
    port: int = 7624
    mount_device: str = "Telescope Simulator"
    camera_device: str = "CCD Simulator"
    wide_camera_device: str = ""
    camera_blob: str = "CCD1"
    mount_coordinates: str = "equatorial"
    set_site: bool = True
    connect_timeout_s: float = 10.0
    reply_timeout_s: float = 10.0
    exposure_overhead_s: float = 20.0
    reconnect_s: float = 20.0
    simulators: bool = False
    simulated_terms: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, **overrides: Any) -> IndiConfig:
        """Validate ``[indi]``; errors name the key (``indi.mount_device``).

        ``overrides`` that are None are ignored (unset command-line options).
        """
        known = cls.__dataclass_fields__
        values: dict[str, Any] = {}
        items = dict(section or {})
        items.update({k: v for k, v in overrides.items() if v is not None})
        for key, value in items.items():
            if key not in known:
                raise ConfigError(f"indi.{key}: unknown key (known: {', '.join(known)})")
            default = known[key].default
            if key == "simulated_terms":
                values[key] = _terms(value)
            elif key == "port":
                if isinstance(value, bool) or not isinstance(value, int) \
                        or not 0 < value < 65536:
                    raise ConfigError(f"indi.port: expected a TCP port 1..65535, got {value!r}")
                values[key] = value
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"indi.{key}: expected true or false, got {value!r}")
                values[key] = value
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise ConfigError(f"indi.{key}: expected a string, got {value!r}")
                values[key] = value.strip()
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ConfigError(f"indi.{key}: expected a positive number, got {value!r}")
                values[key] = float(value)
        cfg = cls(**values)
        for key in ("host", "mount_device", "camera_device", "camera_blob"):
            if not getattr(cfg, key):
                raise ConfigError(f"indi.{key}: must not be empty")
        if cfg.mount_coordinates not in ("equatorial", "horizontal"):
            raise ConfigError(f"indi.mount_coordinates: expected 'equatorial' or 'horizontal', "
                              f"got {cfg.mount_coordinates!r}")
        if cfg.simulated_terms and not cfg.simulators:
            raise ConfigError("indi.simulated_terms: only INDI's simulators can be given a "
                              "pointing error (set indi.simulators = true)")
        if cfg.simulators and cfg.mount_coordinates != "equatorial":
            raise ConfigError("indi.mount_coordinates: INDI's telescope simulator is "
                              "equatorial only")
        return cfg


def _terms(value: Any) -> dict[str, float]:
    from pointing.model.terms import parse_terms

    if not isinstance(value, Mapping):
        raise ConfigError("indi.simulated_terms: expected a table NAME = value_arcsec")
    out = {}
    for name, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"indi.simulated_terms.{name}: expected a number (arcsec), "
                              f"got {v!r}")
        out[str(name)] = float(v)
    try:
        parse_terms(list(out))
    except Exception as exc:
        raise ConfigError(f"indi.simulated_terms: {exc}") from None
    return out


# ---------------------------------------------------------------------------------------------
# coordinates


def _astrom(station: Any, time: Any, refraction: bool = True) -> tuple[Any, float]:
    """ERFA's star-independent astrometry for the station at one UTC time, and eo."""
    import warnings

    import erfa
    from astropy.time import Time

    from pointing.offline import configure_astropy
    from pointing.sky.places import earth_orientation, weather

    configure_astropy()
    t = Time(time, scale="utc")
    p, tc, rh, wl = weather(station, None, None, None, None, refraction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        dut1, xp, yp, _ = earth_orientation(t.reshape(1))
        astrom, eo = erfa.apco13(t.jd1, t.jd2, float(dut1[0]), station.longitude_deg * DEG,
                                 station.latitude_deg * DEG, station.height_m, float(xp[0]),
                                 float(yp[0]), p, tc, rh, wl)
    return astrom, float(eo)


def altaz_to_jnow(az: Any, el: Any, station: Any, time: Any, *, refraction: bool = True
                  ) -> tuple[Any, Any]:
    """Observed azimuth/elevation → JNow (apparent, true equinox of date) RA/Dec.

    Parameters
    ----------
    az, el : float or array
        Radians; azimuth from north (0) through east (π/2); elevation
        refracted for the station's weather at ``station.wavelengths.camera_um``
        (as :func:`pointing.sky.places.observed_altaz` gives star places).
    station : pointing.station.Station
    time : astropy Time or str, UTC (scalar)
    refraction : bool
        False for unrefracted (topocentric apparent) elevations.

    Returns
    -------
    ra, dec : radians; ra in [0, 2π)
    """
    import erfa

    astrom, eo = _astrom(station, time, refraction)
    ri, di = erfa.atoiq("A", np.asarray(az, dtype=float), 0.5 * np.pi - np.asarray(el, float),
                        astrom)
    return np.mod(ri - eo, 2 * np.pi), di


def jnow_to_altaz(ra: Any, dec: Any, station: Any, time: Any, *, refraction: bool = True
                  ) -> tuple[Any, Any]:
    """JNow RA/Dec (radians) → observed azimuth/elevation (radians), inverse of
    :func:`altaz_to_jnow`; azimuth from north through east in [0, 2π)."""
    import erfa

    astrom, eo = _astrom(station, time, refraction)
    aob, zob, _h, _d, _r = erfa.atioq(np.asarray(ra, dtype=float) + eo,
                                      np.asarray(dec, dtype=float), astrom)
    return np.mod(aob, 2 * np.pi), 0.5 * np.pi - zob


def altaz_to_icrs(az: Any, el: Any, station: Any, time: Any) -> tuple[Any, Any]:
    """Observed azimuth/elevation (radians) → ICRS astrometric RA/Dec (radians).

    The astrometric place is the catalog direction with proper motion and
    parallax applied for the date, without aberration and light deflection:
    what :func:`pointing.hardware.indi.gsc.write_star_list` writes, and the
    frame INDI's CCD simulator calls J2000.
    """
    import erfa

    astrom, _eo = _astrom(station, time)
    ri, di = erfa.atoiq("A", np.asarray(az, dtype=float), 0.5 * np.pi - np.asarray(el, float),
                        astrom)
    rc, dc = erfa.aticq(ri, di, astrom)
    return np.mod(rc, 2 * np.pi), dc


# ---------------------------------------------------------------------------------------------
# the connection


def _number(text: Any) -> float:
    """An INDI number: decimal or sexagesimal ("12:30:00", "-5 30 0")."""
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    parts = s.replace(":", " ").replace(";", " ").split()
    if not parts or len(parts) > 3:
        raise ValueError(f"not an INDI number: {text!r}")
    sign = -1.0 if parts[0].startswith("-") else 1.0
    value = 0.0
    for i, p in enumerate(parts):
        value += abs(float(p)) / 60.0**i
    return sign * value


@dataclass
class _Vector:
    kind: str  # Number, Switch, Text, Light, BLOB
    state: str = "Idle"
    values: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    received: float = 0.0  # local monotonic time of the last update
    message: str = ""


class IndiLink:
    """A synchronous view of one INDI server (indipyclient in a background thread).

    Every method that waits raises :class:`IndiConnectionLost` when the
    connection is down and does not come back within ``reconnect_s``.
    ``on_connect(link)`` runs after every (re)connection once the devices
    are seen, to connect and configure them again.
    """

    def __init__(self, host: str, port: int, *, connect_timeout_s: float = 10.0,
                 reply_timeout_s: float = 10.0, reconnect_s: float = 20.0,
                 devices: tuple[str, ...] = (),
                 on_connect: Callable[[IndiLink], None] | None = None):
        try:
            import indipyclient
        except ImportError:
            raise ConfigError("the INDI backend needs the indipyclient package: "
                              "pip install 'ogs-pointing[indi]'") from None
        self.host, self.port = host, int(port)
        self.where = f"INDI server {host}:{port}"
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.reconnect_s = reconnect_s
        self.devices = devices
        self.on_connect = on_connect
        self._cond = threading.Condition()
        self._vectors: dict[tuple[str, str], _Vector] = {}
        self._messages: dict[str, deque[str]] = {}
        self._connected = False
        self._generation = 0
        self._ready_generation = 0
        self._lost_since: float | None = None
        self._refused = False
        self._closed = False
        self._in_setup = False
        self._closing = False
        self._last_problem = ""
        link = self

        class _Client(indipyclient.IPyClient):
            async def rxevent(self, event: Any) -> None:
                link._on_event(event)

            async def warning(self, message: str) -> None:
                if "refused" in message.lower():
                    link._on_refused()
                elif "timed out" in message.lower() or "error" in message.lower():
                    link._last_problem = message  # why the client drops a connection

        # its own logger prints a traceback for every failed write to a dead server
        logging.getLogger("indipyclient").setLevel(logging.CRITICAL)
        self._client = _Client(host, int(port))
        self._client.enableBLOBdefault = "Also"
        # idle 4 s → getProperties; no answer in 8 s → reconnect: a dead server is noticed fast
        self._client.set_vector_timeouts(timeout_enable=True, timeout_min=1, timeout_max=2)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"indi {host}:{port}",
                                        daemon=True)

    # -- life cycle ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._client.asyncrun())
        except Exception:
            log.exception("INDI client stopped")
        finally:
            with self._cond:
                self._connected = False
                self._closed = True
                self._cond.notify_all()

    def open(self) -> None:
        """Connect and wait for the devices; raises IndiConnectionLost naming the server."""
        self._thread.start()
        deadline = _time.monotonic() + self.connect_timeout_s
        with self._cond:
            while not self._connected:
                left = deadline - _time.monotonic()
                if left <= 0 or self._refused:
                    why = "connection refused" if self._refused else \
                        f"no answer in {self.connect_timeout_s:g} s"
                    self.close()
                    raise IndiConnectionLost(f"cannot connect to the {self.where}: {why}")
                self._cond.wait(min(left, 0.2))
        try:
            self.ensure()
        except BaseException:
            self.close()  # no client thread left behind, reconnecting to a server nobody uses
            raise

    def close(self) -> None:
        """Stop the client thread (idempotent)."""
        self._closing = True
        if self._thread.is_alive():
            self._client.shutdown()
            self._thread.join(timeout=5.0)

    # -- events (client thread) ----------------------------------------------------------------
    def _on_refused(self) -> None:
        with self._cond:
            self._refused = True
            self._cond.notify_all()

    def _on_event(self, event: Any) -> None:
        kind = getattr(event, "eventtype", "")
        with self._cond:
            if kind == "ConnectionMade":
                self._connected = True
                self._refused = False
                self._generation += 1
                self._lost_since = None
                self._vectors.clear()
            elif kind == "ConnectionLost":
                if self._connected and not self._closing:
                    log.warning("lost the connection to the %s%s", self.where,
                                f" ({self._last_problem})" if self._last_problem else "")
                self._last_problem = ""
                self._connected = False
                self._lost_since = _time.monotonic()
            elif kind == "Message":
                dev = event.devicename or ""
                self._messages.setdefault(dev, deque(maxlen=20)).append(event.message)
            elif kind in ("Define", "DefineBLOB", "Set", "SetBLOB"):
                key = (event.devicename, event.vectorname)
                vec = self._vectors.get(key)
                vtype = type(event).__name__.replace("def", "").replace("set", "")
                if vec is None:
                    vec = self._vectors[key] = _Vector(kind=vtype.replace("Vector", ""))
                if kind != "DefineBLOB":
                    vec.values.update(dict(event))
                if getattr(event, "state", None):
                    vec.state = event.state
                msg = getattr(event, "message", "") or ""
                if msg:
                    vec.message = msg
                    self._messages.setdefault(event.devicename, deque(maxlen=20)).append(msg)
                if kind in ("Set", "SetBLOB"):  # a re-sent definition is no news
                    vec.seq += 1
                vec.received = _time.monotonic()
            elif kind == "Delete":
                dev, name = event.devicename, event.vectorname
                for key in [k for k in self._vectors if k[0] == dev and name in (None, k[1])]:
                    del self._vectors[key]
            self._cond.notify_all()

    # -- waiting -----------------------------------------------------------------------------
    def _wait_connected(self) -> None:
        """Return when connected; IndiConnectionLost after ``reconnect_s`` without."""
        if self._connected:
            return
        if self._closed:
            raise IndiConnectionLost(f"the connection to the {self.where} is closed")
        since = self._lost_since or _time.monotonic()
        deadline = since + self.reconnect_s
        while not self._connected:
            left = deadline - _time.monotonic()
            if left <= 0:
                raise IndiConnectionLost(
                    f"lost the connection to the {self.where} and it did not come back "
                    f"within {self.reconnect_s:g} s")
            self._cond.wait(min(left, 0.5))

    def ensure(self) -> None:
        """Be connected, with the devices seen and set up since the last (re)connection."""
        with self._cond:
            self._wait_connected()
            generation = self._generation
            if self._ready_generation == generation:
                return
            deadline = _time.monotonic() + self.connect_timeout_s
            for dev in self.devices:
                while (dev, "CONNECTION") not in self._vectors:
                    self._wait_connected()
                    left = deadline - _time.monotonic()
                    if left <= 0:
                        seen = sorted({d for d, _ in self._vectors})
                        raise HardwareError(
                            f"{self.where} has no device {dev!r} (it has: "
                            f"{', '.join(seen) or 'none'}); check the [indi] device names")
                    self._cond.wait(min(left, 0.2))
        if self.on_connect is not None and not self._in_setup:
            self._in_setup = True
            try:
                self.on_connect(self)
            finally:
                self._in_setup = False
        with self._cond:
            if self._generation == generation and not self._in_setup:
                self._ready_generation = generation

    def _lost_during(self, what: str, generation: int) -> None:
        """Raise if the connection dropped since ``generation`` (the request is void)."""
        if self._generation != generation or not self._connected:
            self._wait_connected()
            raise HardwareError(f"{what}: the connection to the {self.where} dropped "
                                "during the request (it is back; the request was not done)")

    def vector(self, device: str, name: str, timeout_s: float | None = None) -> _Vector:
        """The latest state of a property; waits for it to be defined."""
        timeout = self.reply_timeout_s if timeout_s is None else timeout_s
        deadline = _time.monotonic() + timeout
        with self._cond:
            while True:
                self._wait_connected()
                vec = self._vectors.get((device, name))
                if vec is not None:
                    return vec
                left = deadline - _time.monotonic()
                if left <= 0:
                    raise HardwareError(f"{device}: no property {name} on the {self.where} "
                                        f"after {timeout:g} s (is the device connected?)")
                self._cond.wait(min(left, 0.2))

    def has(self, device: str, name: str) -> bool:
        with self._cond:
            return (device, name) in self._vectors

    def numbers(self, device: str, name: str) -> dict[str, float]:
        """A number vector's values (floats)."""
        vec = self.vector(device, name)
        with self._cond:
            return {k: _number(v) for k, v in vec.values.items()}

    def last_message(self, device: str) -> str:
        with self._cond:
            msgs = self._messages.get(device)
            return msgs[-1] if msgs else ""

    def send(self, device: str, name: str, members: Mapping[str, Any], *,
             wait: bool = True, timeout_s: float | None = None,
             what: str | None = None, busy_ok: bool = False) -> _Vector:
        """Send new values and, with ``wait``, return once the driver says Ok.

        Numbers are sent as decimal text, switches as ``"On"``/``"Off"``.
        ``busy_ok``: a Busy answer is success too (tracking is Busy while on).
        Raises :class:`IndiAlert` (with the driver's message) when the property
        turns Alert, :class:`~pointing.hardware.base.HardwareTimeout` when it
        is still Busy (or silent) after ``timeout_s``.
        """
        what = what or f"{device}.{name}"
        timeout = self.reply_timeout_s if timeout_s is None else timeout_s
        self.ensure()
        vec = self.vector(device, name)
        text = {k: (f"{v:.10f}" if isinstance(v, float) else str(v)) for k, v in members.items()}
        with self._cond:
            seq0, generation = vec.seq, self._generation
        future = asyncio.run_coroutine_threadsafe(
            self._client.send_newVector(device, name, members=text), self._loop)
        try:
            future.result(timeout)
        except Exception as exc:
            raise HardwareError(f"{what}: could not send to the {self.where}: {exc}") from None
        if not wait:
            return vec
        deadline = _time.monotonic() + timeout
        with self._cond:
            while True:
                self._lost_during(what, generation)
                cur = self._vectors.get((device, name))
                if cur is not None and cur.seq > seq0 and (
                        cur.state in ("Ok", "Idle") or (busy_ok and cur.state == "Busy")):
                    return cur
                if cur is not None and cur.seq > seq0 and cur.state == "Alert":
                    why = cur.message or self.last_message(device) or "no reason given"
                    raise IndiAlert(f"{what}: the driver refused or failed the request "
                                    f"(Alert): {why}")
                left = deadline - _time.monotonic()
                if left <= 0:
                    state = cur.state if cur is not None else "undefined"
                    raise HardwareTimeout(f"{what}: no answer from {device} within "
                                          f"{timeout:g} s (state {state})")
                self._cond.wait(min(left, 0.2))

    def wait_update(self, device: str, name: str, after_seq: int, timeout_s: float,
                    what: str) -> _Vector:
        """Wait for a property's next update after ``after_seq`` (any state but Busy).

        Alert raises :class:`IndiAlert`; no update raises HardwareTimeout.
        """
        deadline = _time.monotonic() + timeout_s
        with self._cond:
            generation = self._generation
            while True:
                self._lost_during(what, generation)
                cur = self._vectors.get((device, name))
                if cur is not None and cur.seq > after_seq:
                    if cur.state == "Alert":
                        why = cur.message or self.last_message(device) or "no reason given"
                        raise IndiAlert(f"{what}: {device} failed (Alert): {why}")
                    if cur.state != "Busy":
                        return cur
                left = deadline - _time.monotonic()
                if left <= 0:
                    raise HardwareTimeout(f"{what}: nothing from {device} within "
                                          f"{timeout_s:g} s")
                self._cond.wait(min(left, 0.2))

    def seq(self, device: str, name: str) -> int:
        with self._cond:
            vec = self._vectors.get((device, name))
            return vec.seq if vec is not None else 0

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def enable_blobs(self, device: str) -> None:
        """Ask the server for the device's BLOBs (images) on this connection."""
        future = asyncio.run_coroutine_threadsafe(
            self._client.send_enableBLOB("Also", device), self._loop)
        future.result(self.reply_timeout_s)


# ---------------------------------------------------------------------------------------------
# devices


class RealClock:
    """The computer's UTC (the INDI devices run in real time)."""

    def now(self) -> Any:
        from astropy.time import Time

        return Time.now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            _time.sleep(seconds)


class IndiMount:
    """An INDI telescope driver as the night's alt-az mount (raw = observed az/el)."""

    def __init__(self, link: IndiLink, config: IndiConfig, station: Any, clock: RealClock):
        self.link = link
        self.cfg = config
        self.station = station
        self.clock = clock
        self.device = config.mount_device
        m = station.mount
        self._limits = MountLimits(m.az_min_deg * DEG, m.az_max_deg * DEG,
                                   m.el_min_deg * DEG, m.el_max_deg * DEG)
        self._last_az: float | None = None  # cable-wrap turn of the last demand
        self.tracking = False

    def limits(self) -> MountLimits:
        return self._limits

    # -- reading -------------------------------------------------------------------------------
    def _sky_position(self) -> tuple[float, float]:
        """Observed (az, el) now, azimuth in [0, 2π)."""
        self.link.ensure()
        if self.cfg.mount_coordinates == "horizontal":
            v = self.link.numbers(self.device, "HORIZONTAL_COORD")
            return (v["AZ"] * DEG) % (2 * math.pi), v["ALT"] * DEG
        vec = self.link.vector(self.device, "EQUATORIAL_EOD_COORD")
        values = self.link.numbers(self.device, "EQUATORIAL_EOD_COORD")
        ra, dec = values["RA"] * HOUR, values["DEC"] * DEG
        when = self.clock.now()
        if not self.tracking:
            # not tracking: hour angle and declination stay, RA is as of the last report
            from astropy import units as u

            when = when - (_time.monotonic() - vec.received) * u.s
        az, el = jnow_to_altaz(ra, dec, self.station, when)
        return float(az), float(el)

    def position(self) -> tuple[float, float]:
        """Raw (az, el) in radians, on the cable-wrap turn of the last demand."""
        az, el = self._sky_position()
        if self._last_az is not None:
            az = self._last_az + ((az - self._last_az + math.pi) % (2 * math.pi) - math.pi)
        return az, el

    # -- moving ----------------------------------------------------------------------------------
    def _set_tracking(self, on: bool) -> None:
        if self.link.has(self.device, "TELESCOPE_TRACK_STATE"):
            self.link.send(self.device, "TELESCOPE_TRACK_STATE",
                           {"TRACK_ON": "On" if on else "Off", "TRACK_OFF": "Off" if on else "On"},
                           what=f"{self.device}: tracking {'on' if on else 'off'}", busy_ok=True)
        self.tracking = on

    def slew(self, az: float, el: float, *, timeout_s: float = 120.0) -> None:
        """Go to raw (az, el) radians and hold there; see :class:`~pointing.hardware.base.Mount`."""
        self._limits.check(az, el)
        what = f"{self.device}: slew to azimuth {az / DEG:.3f}°, elevation {el / DEG:.3f}°"
        t0 = _time.monotonic()
        if self.cfg.mount_coordinates == "horizontal":
            self.link.send(self.device, "HORIZONTAL_COORD",
                           {"AZ": (az / DEG) % 360.0, "ALT": el / DEG}, timeout_s=timeout_s,
                           what=what)
        else:
            # with tracking off the driver goes to the hour angle and declination of the
            # moment it is told, which is a fixed azimuth and elevation: an alt-az slew
            self._set_tracking(False)
            if self.link.has(self.device, "ON_COORD_SET"):
                self.link.send(self.device, "ON_COORD_SET",
                               {"TRACK": "Off", "SLEW": "On", "SYNC": "Off"}, what=what)
            ra, dec = altaz_to_jnow(az, el, self.station, self.clock.now())
            self.link.send(self.device, "EQUATORIAL_EOD_COORD",
                           {"RA": float(ra) / HOUR, "DEC": float(dec) / DEG},
                           timeout_s=timeout_s, what=what)
        self._last_az = az
        if self.tracking:  # an alt-az mount stops where it arrives
            self._set_tracking(False)
        log.debug("%s: %.1f s", what, _time.monotonic() - t0)

    def track(self, az_rate: float, el_rate: float) -> None:
        """Follow the sky (sidereal tracking) for non-zero rates; hold for zero rates."""
        self._set_tracking(bool(az_rate or el_rate))

    def stop(self) -> None:
        """Stop tracking and hold the current position."""
        self._set_tracking(False)

    def abort(self) -> None:
        """Stop any motion now (TELESCOPE_ABORT_MOTION), if the driver has it."""
        if self.link.has(self.device, "TELESCOPE_ABORT_MOTION"):
            self.link.send(self.device, "TELESCOPE_ABORT_MOTION", {"ABORT": "On"},
                           what=f"{self.device}: abort")


class IndiCamera:
    """An INDI CCD driver as one of the night's cameras.

    With ``sky`` (INDI's simulators) every frame is re-projected into the
    alt-az camera of ``geometry`` (see the module notes).
    """

    def __init__(self, link: IndiLink, config: IndiConfig, device: str, section: Mapping[str, Any],
                 *, sky: _SimulatorSky | None = None, name: str = "camera"):
        from pointing.camera.config import Camera

        self.link = link
        self.cfg = config
        self.device = device
        self.name = name
        self.camera = Camera.from_config(section)
        self.geometry = self.camera.geometry
        self.sky = sky

    def _min_exposure(self) -> float:
        return 1e-3  # the CCD drivers' usual floor (the simulator's too)

    def expose(self, seconds: float, *, timeout_s: float = 30.0) -> Frame:
        """Take one exposure; the frame's time is mid-exposure (UTC)."""
        from astropy import units as u
        from astropy.io import fits
        from astropy.time import Time

        seconds = max(float(seconds), self._min_exposure())
        what = f"{self.device}: {seconds:g} s exposure"
        link = self.link
        link.ensure()
        pointing = self.sky.before_exposure(self.device) if self.sky else None
        blob = self.cfg.camera_blob
        link.vector(self.device, blob)
        seq0 = link.seq(self.device, blob)
        exp_seq = link.seq(self.device, "CCD_EXPOSURE")
        generation = link.generation()
        t_send = Time.now()
        link.send(self.device, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": seconds}, wait=False,
                  what=what)
        wait = max(timeout_s, seconds + self.cfg.exposure_overhead_s)
        deadline = _time.monotonic() + wait
        # the image arrives as a BLOB; CCD_EXPOSURE turning Alert means the exposure failed
        while link.seq(self.device, blob) <= seq0:
            left = deadline - _time.monotonic()
            if left <= 0:
                raise HardwareTimeout(f"{what}: no image within {wait:g} s")
            try:
                vec = link.wait_update(self.device, "CCD_EXPOSURE", exp_seq, min(left, 0.5),
                                       what)
                exp_seq = vec.seq
            except HardwareTimeout:
                pass
            with link._cond:
                link._lost_during(what, generation)
        vec = link.vector(self.device, blob)
        with link._cond:
            data = vec.values.get(blob)
        if not isinstance(data, bytes | bytearray) or not data:
            raise HardwareError(f"{what}: the driver sent an empty image")
        try:
            with fits.open(io.BytesIO(data)) as hdul:
                hdu = next(h for h in hdul if h.data is not None)
                image = np.asarray(hdu.data)
                header = dict(hdu.header)
        except Exception as exc:
            raise HardwareError(f"{what}: the image is not a readable FITS file: {exc}") from None
        if image.ndim != 2:
            raise HardwareError(f"{what}: expected a 2-D image, got shape {image.shape}")
        try:
            start = Time(str(header["DATE-OBS"]), scale="utc")
        except Exception:
            start = t_send
        mid = start + seconds / 2 * u.s
        if self.sky is not None:
            image = self.sky.reproject(image, header, pointing, mid, self.geometry)
        meta = {"camera": self.name, "device": self.device,
                "header": {k: header[k] for k in ("DATE-OBS", "EXPTIME", "RA", "DEC",
                                                   "PIERSIDE") if k in header}}
        temp = header.get("CCD-TEMP")
        return Frame(image, mid, seconds, gain_e_per_adu=self.camera.sensor.gain_e_per_adu,
                     temperature_c=float(temp) if isinstance(temp, int | float) else None,
                     metadata=meta)


class _SimulatorSky:
    """What INDI's simulators need: the CCD's field placed and re-projected (module notes)."""

    def __init__(self, link: IndiLink, mount: IndiMount, station: Any,
                 terms: Mapping[str, float]):
        from pointing.model.model import PointingModel

        self.link = link
        self.mount = mount
        self.station = station
        self.truth = PointingModel(list(terms), list(terms.values())) if terms else None

    def before_exposure(self, device: str) -> tuple[float, float]:
        """Point the CCD's field where the telescope really points; returns JNow (ra, dec)."""
        raw_az, raw_el = self.mount.position()
        if self.truth is not None:
            az, el = self.truth.true_from_raw(raw_az, raw_el)
        else:
            az, el = raw_az, raw_el
        ra, dec = altaz_to_jnow(float(az), float(el), self.station, self.mount.clock.now())
        ra, dec = float(ra), float(dec)
        self.link.send(device, "EQUATORIAL_PE", {"RA_PE": ra / HOUR, "DEC_PE": dec / DEG},
                       what=f"{device}: field position")
        return ra, dec

    def reproject(self, image: np.ndarray, header: Mapping[str, Any],
                  pointing: tuple[float, float], time: Any, geometry: Any) -> np.ndarray:
        """The simulator's J2000-aligned frame as the alt-az camera ``geometry`` sees it."""
        from scipy.ndimage import affine_transform

        try:
            ra0, dec0 = float(header["RA"]) * DEG, float(header["DEC"]) * DEG
            focal = float(header["FOCALLEN"]) * 1e-3
            sx = float(header.get("XPIXSZ", header["PIXSIZE1"])) * 1e-6 / focal
            sy = float(header.get("YPIXSZ", header["PIXSIZE2"])) * 1e-6 / focal
        except (KeyError, TypeError, ValueError) as exc:
            raise HardwareError(f"simulator frame: FITS header lacks {exc}") from None
        h, w = image.shape
        flip = -1.0 if str(header.get("PIERSIDE", "")).strip().upper() == "EAST" else 1.0
        b_az, b_el = jnow_to_altaz(pointing[0], pointing[1], self.station, time)
        b_az, b_el = float(b_az), float(b_el)
        step = 2e-4
        d = np.array([[0.0, 0.0], [step, 0.0], [0.0, step]])
        az = b_az + d[:, 0] / math.cos(b_el)
        el = b_el + d[:, 1]
        rc, dc = altaz_to_icrs(az, el, self.station, time)
        # gnomonic standard coordinates about the simulator's centre: xi east, eta north
        cos_c = (np.sin(dc) * math.sin(dec0) + np.cos(dc) * math.cos(dec0) * np.cos(rc - ra0))
        xi = np.cos(dc) * np.sin(rc - ra0) / cos_c
        eta = (np.sin(dc) * math.cos(dec0) - np.cos(dc) * math.sin(dec0) * np.cos(rc - ra0)) \
            / cos_c
        # simulator pixel (continuous): x = W/2 − η/s, y = H/2 + ξ/s (rotated 180° on the east
        # pier side); drawn at the integer part, so a centroid reads half a pixel low
        px = w / 2 - flip * eta / sx
        py = h / 2 + flip * xi / sy
        jac = np.array([[px[1] - px[0], px[2] - px[0]], [py[1] - py[0], py[2] - py[0]]]) / step
        a = jac @ geometry.matrix  # output pixel displacement → simulator pixel displacement
        cx, cy = geometry.calibration_pixel
        base = np.array([px[0], py[0]]) - a @ np.array([cx, cy]) - 0.5
        # scipy works in (row, col) = (y, x)
        matrix = np.array([[a[1, 1], a[1, 0]], [a[0, 1], a[0, 0]]])
        offset = np.array([base[1], base[0]])
        out = affine_transform(image.astype(np.float32), matrix, offset=offset,
                               output_shape=(geometry.height, geometry.width), order=1,
                               mode="constant", cval=float(np.median(image)))
        top = float(np.iinfo(np.uint16).max)
        return np.clip(np.rint(out), 0, top).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# simulator magnitudes and settings

#: INDI 1.9 CCD simulator, measured at gain 50 with its default settings (saturation magnitude
#: 1, limiting magnitude 17, maximum 65000 ADU): total ADU per second of a star of simulator
#: magnitude 2, and the flux ratio per magnitude (its magnitude scale is compressed)
SIM_TOTAL_ADU_S_AT_MAG2 = 2.546e6
SIM_RATIO_PER_MAG = 2.0
#: pixel size (µm) the figures above were measured with; the star's FWHM is fixed in pixels
SIM_PIXEL_UM = 5.2


def simulator_magnitudes(station: Any, *, design_efficiency: float = 0.4
                         ) -> tuple[float, float]:
    """Scale and offset from camera-band magnitudes to the CCD simulator's magnitudes.

    Chosen so that the simulator gives a star the flux (ADU/s) the night
    expects from the station's tracking camera: aperture and obstruction,
    ``design_efficiency`` and ``[camera] gain_e_per_adu``.  The simulator's
    magnitudes must not be negative (it asks ``gsc`` for 0 … limit); raises
    :class:`~pointing.errors.ConfigError` when a catalog star would need one.

    Returns ``(mag_scale, mag_offset)`` for
    :func:`pointing.hardware.indi.gsc.write_star_list`.
    """
    from pointing.camera.config import Camera
    from pointing.photometry.efficiency import PhotometryConfig, collecting_area, star_photon_flux
    from pointing.sky.catalog import load_catalog

    cam = Camera.from_config(station.section("camera"))
    band = PhotometryConfig.from_station(station).camera_band
    area = collecting_area(station.telescope.aperture_m, station.telescope.obstruction_m)
    ref = float(star_photon_flux(0.0, 0.0, band))
    adu0 = ref * area * design_efficiency / (cam.sensor.gain_e_per_adu or 1.0)
    # SIM_TOTAL · RATIO^-(m_sim − 2) = adu0 · 10^(−0.4 m_band), m_sim = offset + scale · m_band
    scale = 0.4 / math.log10(SIM_RATIO_PER_MAG)
    offset = 2.0 - math.log10(adu0 / SIM_TOTAL_ADU_S_AT_MAG2) / math.log10(SIM_RATIO_PER_MAG)
    cat = load_catalog()
    vi = np.asarray(cat["vi"], dtype=float)
    flux = star_photon_flux(np.asarray(cat["imag"], dtype=float),
                            np.where(np.isfinite(vi), vi, 0.7), band)
    brightest = float(np.nanmin(-2.5 * np.log10(flux / ref)))
    if offset + scale * brightest < 0:
        gain = cam.sensor.gain_e_per_adu or 1.0
        need = gain * 10 ** (-0.4 * (offset + scale * brightest) / scale)
        raise ConfigError(f"camera.gain_e_per_adu: INDI's CCD simulator cannot make the "
                          f"brightest catalog star as bright as this camera expects; use "
                          f"gain_e_per_adu >= {need:.3g} for the simulator bench")
    return scale, offset


def install_simulator_catalog(station: Any, directory: Any, time: Any = None) -> Any:
    """Install the ``gsc`` stand-in for INDI's CCD simulator, tuned to ``station``.

    Writes ``directory/gsc`` and its star list (positions for ``time``,
    default now; magnitudes from :func:`simulator_magnitudes` in the
    station's camera band).  Put ``directory`` first on the ``PATH`` of the
    ``indiserver`` that runs ``indi_simulator_ccd``.  Returns the script's path.
    """
    from astropy.time import Time

    from pointing.hardware.indi.gsc import install
    from pointing.photometry.efficiency import PhotometryConfig

    scale, offset = simulator_magnitudes(station)
    band = PhotometryConfig.from_station(station).camera_band
    return install(directory, Time.now() if time is None else time, band=band,
                   mag_scale=scale, mag_offset=offset)


def _configure_simulators(link: IndiLink, cfg: IndiConfig, station: Any) -> None:
    """Settings of INDI's simulators from the station file (after every connection)."""
    from pointing.camera.config import Camera

    mount = cfg.mount_device
    if link.has(mount, "MOUNT_TYPE"):  # a fork: no meridian flips (half-turn slews)
        link.send(mount, "MOUNT_TYPE", {"ALTAZ": "Off", "EQ_FORK": "On", "EQ_GEM": "Off"})
    if link.has(mount, "SIM_PIER_SIDE"):  # no pier flips: the image keeps its orientation
        link.send(mount, "SIM_PIER_SIDE", {"PS_OFF": "On", "PS_ON": "Off"})
    cams = [(cfg.camera_device, station.section("camera"))]
    if cfg.wide_camera_device:
        from pointing.camera.config import wide_camera_section

        cams.append((cfg.wide_camera_device, wide_camera_section(station)[0]))
    for device, section in cams:
        geo = Camera.from_config(section).geometry
        focal_mm = SIM_PIXEL_UM / geo.pixel_scale_urad * 1e3
        link.send(device, "SIMULATOR_SETTINGS",
                  {"SIM_XRES": float(geo.width), "SIM_YRES": float(geo.height),
                   "SIM_XSIZE": SIM_PIXEL_UM, "SIM_YSIZE": SIM_PIXEL_UM})
        link.send(device, "SCOPE_INFO", {"FOCAL_LENGTH": focal_mm,
                                         "APERTURE": station.telescope.aperture_m * 1e3})
        if link.has(device, "CCD_GAIN"):
            link.send(device, "CCD_GAIN", {"GAIN": 50.0})


def _connect_devices(link: IndiLink, cfg: IndiConfig, station: Any) -> None:
    """Connect the devices and set them up: site, image transfer, simulator settings."""
    for dev in link.devices:
        vec = link.vector(dev, "CONNECTION")
        if vec.values.get("CONNECT") != "On":
            link.send(dev, "CONNECTION", {"CONNECT": "On", "DISCONNECT": "Off"},
                      timeout_s=cfg.connect_timeout_s, what=f"{dev}: connect")
    mount = cfg.mount_device
    coord = "HORIZONTAL_COORD" if cfg.mount_coordinates == "horizontal" else \
        "EQUATORIAL_EOD_COORD"
    link.vector(mount, coord, timeout_s=cfg.connect_timeout_s)
    if cfg.set_site and link.has(mount, "GEOGRAPHIC_COORD"):
        link.send(mount, "GEOGRAPHIC_COORD",
                  {"LAT": float(station.latitude_deg),
                   "LONG": float(station.longitude_deg % 360.0),
                   "ELEV": float(station.height_m)}, what=f"{mount}: site")
    for dev in link.devices[1:]:
        link.vector(dev, "CCD_EXPOSURE", timeout_s=cfg.connect_timeout_s)
        link.enable_blobs(dev)
        if link.has(dev, "UPLOAD_MODE"):
            link.send(dev, "UPLOAD_MODE", {"UPLOAD_CLIENT": "On", "UPLOAD_LOCAL": "Off",
                                           "UPLOAD_BOTH": "Off"})
        if link.has(dev, "CCD_TRANSFER_FORMAT"):
            link.send(dev, "CCD_TRANSFER_FORMAT", {"FORMAT_FITS": "On", "FORMAT_NATIVE": "Off"})
        if link.has(dev, "CCD_COMPRESSION"):
            link.send(dev, "CCD_COMPRESSION", {"INDI_ENABLED": "Off", "INDI_DISABLED": "On"})
    if cfg.simulators:
        _configure_simulators(link, cfg, station)


def indi_station(station: Any, *, host: str | None = None, port: int | None = None,
                 config: IndiConfig | None = None) -> Backend:
    """The station's INDI devices as a :class:`~pointing.hardware.base.Backend`.

    Parameters
    ----------
    station : pointing.station.Station
        Site, weather and mount limits, ``[camera]`` (and ``[wide_camera]``
        when ``indi.wide_camera_device`` is set) and ``[indi]``.
    host, port : str, int, optional
        Override ``[indi] host`` and ``port``.
    config : IndiConfig, optional
        Instead of the station's ``[indi]`` section.

    Raises
    ------
    ConfigError
        A bad ``[indi]`` key, or indipyclient missing.
    IndiConnectionLost
        The server cannot be reached.
    """
    cfg = config or IndiConfig.from_section(station.section("indi"), host=host, port=port)
    if config is not None and (host or port):
        from dataclasses import replace

        cfg = replace(cfg, host=host or cfg.host, port=port or cfg.port)
    devices = (cfg.mount_device, cfg.camera_device) + (
        (cfg.wide_camera_device,) if cfg.wide_camera_device else ())
    link = IndiLink(cfg.host, cfg.port, connect_timeout_s=cfg.connect_timeout_s,
                    reply_timeout_s=cfg.reply_timeout_s, reconnect_s=cfg.reconnect_s,
                    devices=devices,
                    on_connect=lambda lk: _connect_devices(lk, cfg, station))
    link.open()
    clock = RealClock()
    mount = IndiMount(link, cfg, station, clock)
    sky = _SimulatorSky(link, mount, station, cfg.simulated_terms) if cfg.simulators else None
    tracking = IndiCamera(link, cfg, cfg.camera_device, station.section("camera"), sky=sky,
                          name="tracking camera")
    wide = None
    if cfg.wide_camera_device:
        from pointing.camera.config import wide_camera_section

        wide = IndiCamera(link, cfg, cfg.wide_camera_device, wide_camera_section(station)[0],
                          sky=sky, name="wide camera")
    truth = None
    floor = None
    if cfg.simulators:
        truth = {"terms": dict(cfg.simulated_terms)}
        # whole-pixel stars: uniform ±½ px per axis
        floor = math.sqrt(2.0 / 12.0) * tracking.geometry.pixel_scale_urad

    def close() -> None:
        try:
            if link._connected:
                mount.stop()
        except HardwareError:
            pass
        link.close()

    return Backend(clock=clock, mount=mount, tracking_camera=tracking, wide_camera=wide,
                   counter=None, truth=truth, noise_floor_urad=floor,
                   name=f"INDI {cfg.host}:{cfg.port}" + (" (simulators)" if cfg.simulators
                                                         else ""),
                   close=close, simulated=cfg.simulators,
                   sees_stars_in_daylight=cfg.simulators)  # INDI's CCD simulator does
