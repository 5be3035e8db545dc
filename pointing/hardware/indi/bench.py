"""INDI's own simulators as a test bench: the CCD's field placed and re-projected,
magnitudes tuned to the station's camera, the ``gsc`` stand-in installed.

See the notes in :mod:`pointing.hardware.indi` ("INDI's simulators").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy.time import Time
from scipy.ndimage import affine_transform

from pointing.camera.config import Camera, wide_camera_section
from pointing.errors import ConfigError
from pointing.hardware.base import HardwareError
from pointing.hardware.indi.config import IndiConfig
from pointing.hardware.indi.gsc import install
from pointing.hardware.indi.link import IndiLink
from pointing.model.model import PointingModel
from pointing.photometry.bands import star_photon_flux
from pointing.photometry.config import PhotometryConfig, collecting_area
from pointing.sky.catalog import load_catalog
from pointing.sky.places import altaz_to_icrs, altaz_to_jnow, jnow_to_altaz
from pointing.units import DEG

__all__ = ["SimulatorSky", "configure_simulators", "install_simulator_catalog",
           "simulator_magnitudes"]

HOUR = math.pi / 12.0


class SimulatorSky:
    """What INDI's simulators need: the CCD's field placed and re-projected (module notes)."""

    def __init__(self, link: IndiLink, mount: Any, station: Any,
                 terms: Mapping[str, float]):

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

    scale, offset = simulator_magnitudes(station)
    band = PhotometryConfig.from_station(station).camera_band
    return install(directory, Time.now() if time is None else time, band=band,
                   mag_scale=scale, mag_offset=offset)


def configure_simulators(link: IndiLink, cfg: IndiConfig, station: Any) -> None:
    """Settings of INDI's simulators from the station file (after every connection)."""

    mount = cfg.mount_device
    if link.has(mount, "MOUNT_TYPE"):  # a fork: no meridian flips (half-turn slews)
        link.send(mount, "MOUNT_TYPE", {"ALTAZ": "Off", "EQ_FORK": "On", "EQ_GEM": "Off"})
    if link.has(mount, "SIM_PIER_SIDE"):  # no pier flips: the image keeps its orientation
        link.send(mount, "SIM_PIER_SIDE", {"PS_OFF": "On", "PS_ON": "Off"})
    cams = [(cfg.camera_device, station.section("camera"))]
    if cfg.wide_camera_device:
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
