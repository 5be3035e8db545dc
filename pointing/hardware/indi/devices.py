"""The station's mount and cameras as INDI devices, and :func:`indi_station`.

How the adapters work, and how INDI's own simulators are used as a bench, is
written in :mod:`pointing.hardware.indi`.
"""

from __future__ import annotations

import io
import logging
import math
import time as _time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.time import Time

from pointing.camera.config import Camera, wide_camera_section
from pointing.hardware.base import Backend, Frame, HardwareError, HardwareTimeout, MountLimits
from pointing.hardware.indi.bench import SimulatorSky, configure_simulators
from pointing.hardware.indi.config import IndiConfig
from pointing.hardware.indi.link import IndiLink
from pointing.sky.places import altaz_to_jnow, jnow_to_altaz
from pointing.units import DEG

__all__ = ["IndiCamera", "IndiMount", "RealClock", "indi_station"]

log = logging.getLogger("pointing.hardware.indi")
HOUR = math.pi / 12.0


class RealClock:
    """The computer's UTC (the INDI devices run in real time)."""

    def now(self) -> Any:

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
                 *, sky: SimulatorSky | None = None, name: str = "camera"):
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
        configure_simulators(link, cfg, station)


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
    sky = SimulatorSky(link, mount, station, cfg.simulated_terms) if cfg.simulators else None
    tracking = IndiCamera(link, cfg, cfg.camera_device, station.section("camera"), sky=sky,
                          name="tracking camera")
    wide = None
    if cfg.wide_camera_device:
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
