"""Tracking-camera frames: star measurement and pixel ↔ pointing-offset geometry.

* :func:`measure_star` finds and measures the star in a frame (position at the
  Cramér–Rao limit, flux, background, SNR, FWHM, quality flags);
* :class:`CameraGeometry` converts pixels to pointing offsets (ΔA·cosE, ΔE) in
  radians and calibrates itself from frames at known mount steps;
* :class:`Camera` and :class:`Sensor` hold a station file's ``[camera]``
  section.

The camera knows pixels and angles, never the pointing model.
"""

from pointing.camera.config import CAMERA_KEYS, Camera, read_camera_section
from pointing.camera.crlb import CramerRaoBound, flux_for_snr, gaussian_crlb
from pointing.camera.frames import load_frame
from pointing.camera.geometry import CameraCalibration, CameraGeometry
from pointing.camera.measure import Cutout, StarFlag, StarMeasurement, measure_star
from pointing.camera.sensor import Sensor

__all__ = [
    "CAMERA_KEYS",
    "Camera",
    "CameraCalibration",
    "CameraGeometry",
    "CramerRaoBound",
    "Cutout",
    "Sensor",
    "StarFlag",
    "StarMeasurement",
    "flux_for_snr",
    "gaussian_crlb",
    "load_frame",
    "measure_star",
    "read_camera_section",
]
