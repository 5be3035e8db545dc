"""The ``[camera]`` section of a station file: keys, defaults, validation.

Defaults describe a typical tracking camera behind the station's 280 mm
Schmidt–Cassegrain: 5.86 µm pixels (IMX174-class CMOS) at an effective focal
length of about 1950 mm (f/7 with a reducer), i.e. 3.0 µrad per pixel, a
1024 × 1024 region of interest (a 3.1 mrad ≈ 10.6′ field, wide enough to
catch a star after the zero-offset calibration), stars of about 3 px FWHM
(9 µrad, 1.9″ seeing), 12-bit data scaled to 16 bits so 0.5 e⁻/ADU, 6 e⁻ read
noise and a 32 000 e⁻ full well.

In a station file (every value shown is the default)::

    [camera]
    pixel_scale_urad = 3.0          # µrad per pixel
    rotation_deg = 0.0              # image +x to +azimuth, counter-clockwise
    parity = 1                      # -1 if the image is mirrored
    width = 1024                    # pixels
    height = 1024
    calibration_pixel = [511.5, 511.5]   # default: the frame centre
    gain_e_per_adu = 0.5
    read_noise_e = 6.0
    full_well_e = 32000.0
    adc_bits = 16
    bias_adu = 0.0
    # saturation_adu = 64000        # default min(2^adc_bits - 1, bias + full_well / gain)
    fwhm_px = 3.0
    min_snr = 10.0
    max_elongation = 1.5

Every key is optional; a value of the wrong type or out of range raises
:class:`~pointing.errors.ConfigError` naming it as ``camera.<key>``, and so
does a key this module does not know (a typo must not silently fall back to
a default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pointing.errors import ConfigError

if TYPE_CHECKING:
    from pointing.camera.geometry import CameraGeometry
    from pointing.camera.sensor import Sensor

__all__ = ["CAMERA_KEYS", "DEFAULT_WIDE_CAMERA", "Camera", "read_camera_section",
           "wide_camera_section"]

#: key -> (default, description); ``None`` defaults are derived (see text)
CAMERA_KEYS: dict[str, tuple[Any, str]] = {
    "pixel_scale_urad": (3.0, "angle on the sky of one pixel, µrad"),
    "rotation_deg": (0.0, "angle from the image +x axis to the +azimuth direction, "
                          "counter-clockwise in the image, degrees"),
    "parity": (1, "+1 if +elevation is 90° counter-clockwise from +azimuth in the "
                  "image, −1 if the image is mirrored"),
    "width": (1024, "frame width, pixels"),
    "height": (1024, "frame height, pixels"),
    "calibration_pixel": (None, "[x, y] where the quantum detectors see the most "
                                "signal, 0-based pixels; default the frame centre"),
    "gain_e_per_adu": (0.5, "electrons per ADU"),
    "read_noise_e": (6.0, "read noise, electrons RMS"),
    "full_well_e": (32000.0, "full-well capacity, electrons"),
    "adc_bits": (16, "bits of the pixel values as delivered"),
    "bias_adu": (0.0, "pedestal added by the camera, ADU"),
    "saturation_adu": (None, "pixel value at and above which a pixel is saturated, ADU; "
                             "default min(2^adc_bits − 1, bias + full_well / gain)"),
    "fwhm_px": (3.0, "expected star FWHM, pixels (sizes the measurement windows)"),
    "min_snr": (10.0, "stars below this signal-to-noise ratio are flagged LOW_SNR"),
    "max_elongation": (1.5, "major/minor axis ratio above which a star is flagged "
                            "ELONGATED"),
}


def _number(key: str, value: Any, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"camera.{key}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"camera.{key}: must be finite, got {value!r}")
    if positive and v <= 0:
        raise ConfigError(f"camera.{key}: must be > 0, got {value!r}")
    if nonneg and v < 0:
        raise ConfigError(f"camera.{key}: must be >= 0, got {value!r}")
    return v


def _integer(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(f"camera.{key}: expected an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ConfigError(f"camera.{key}: must be between {lo} and {hi}, got {value!r}")
    return int(value)


def read_camera_section(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a ``[camera]`` mapping and return every key with defaults filled in.

    Raises :class:`~pointing.errors.ConfigError` naming the offending key as
    ``camera.<key>``.
    """
    section = {} if section is None else section
    if not isinstance(section, Mapping):
        raise ConfigError(f"camera: expected a table of keys, got {type(section).__name__}")
    unknown = sorted(set(section) - set(CAMERA_KEYS))
    if unknown:
        raise ConfigError(
            f"camera.{unknown[0]}: unknown key (known keys: {', '.join(CAMERA_KEYS)})"
        )
    out = {k: section.get(k, default) for k, (default, _) in CAMERA_KEYS.items()}
    out["pixel_scale_urad"] = _number("pixel_scale_urad", out["pixel_scale_urad"],
                                      positive=True)
    out["rotation_deg"] = _number("rotation_deg", out["rotation_deg"])
    if out["parity"] not in (1, -1) or isinstance(out["parity"], bool):
        raise ConfigError(f"camera.parity: must be 1 or -1, got {out['parity']!r}")
    out["parity"] = int(out["parity"])
    out["width"] = _integer("width", out["width"], 1, 1 << 20)
    out["height"] = _integer("height", out["height"], 1, 1 << 20)
    cal = out["calibration_pixel"]
    if cal is None:
        cal = ((out["width"] - 1) / 2.0, (out["height"] - 1) / 2.0)
    elif (isinstance(cal, str | bytes) or not hasattr(cal, "__len__") or len(cal) != 2):
        raise ConfigError(f"camera.calibration_pixel: expected [x, y], got {cal!r}")
    cal = tuple(_number("calibration_pixel", c) for c in cal)
    if not (-0.5 <= cal[0] <= out["width"] - 0.5 and -0.5 <= cal[1] <= out["height"] - 0.5):
        raise ConfigError(
            f"camera.calibration_pixel: {list(cal)} is outside the "
            f"{out['width']}x{out['height']} frame"
        )
    out["calibration_pixel"] = cal
    out["gain_e_per_adu"] = _number("gain_e_per_adu", out["gain_e_per_adu"], positive=True)
    out["read_noise_e"] = _number("read_noise_e", out["read_noise_e"], nonneg=True)
    out["full_well_e"] = _number("full_well_e", out["full_well_e"], positive=True)
    out["adc_bits"] = _integer("adc_bits", out["adc_bits"], 1, 32)
    out["bias_adu"] = _number("bias_adu", out["bias_adu"])
    if out["saturation_adu"] is not None:
        out["saturation_adu"] = _number("saturation_adu", out["saturation_adu"],
                                        positive=True)
    out["fwhm_px"] = _number("fwhm_px", out["fwhm_px"], positive=True)
    if not 0.5 <= out["fwhm_px"] <= 50:
        raise ConfigError(f"camera.fwhm_px: must be between 0.5 and 50, got {out['fwhm_px']}")
    out["min_snr"] = _number("min_snr", out["min_snr"], nonneg=True)
    out["max_elongation"] = _number("max_elongation", out["max_elongation"])
    if out["max_elongation"] <= 1:
        raise ConfigError(
            f"camera.max_elongation: must be > 1, got {out['max_elongation']}"
        )
    return out


@dataclass(frozen=True)
class Camera:
    """Everything the measurement needs to know about a tracking camera.

    ``geometry`` maps pixels to pointing offsets, ``sensor`` gives gain,
    noise and saturation; ``fwhm_px`` (pixels) sizes the measurement windows,
    ``min_snr`` and ``max_elongation`` set the LOW_SNR and ELONGATED flags.
    """

    geometry: CameraGeometry
    sensor: Sensor
    fwhm_px: float = 3.0
    min_snr: float = 10.0
    max_elongation: float = 1.5

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> Camera:
        """Build from a station file's ``[camera]`` mapping (validated, defaults filled)."""
        from pointing.camera.geometry import CameraGeometry
        from pointing.camera.sensor import Sensor

        values = read_camera_section(section)
        return cls(
            geometry=CameraGeometry.from_config(section),
            sensor=Sensor.from_config(section),
            fwhm_px=values["fwhm_px"],
            min_snr=values["min_snr"],
            max_elongation=values["max_elongation"],
        )

    @classmethod
    def from_station(cls, station: str | Path) -> Camera:
        """The camera of a station file (name of a shipped station or a TOML path)."""
        from pointing.config.station import load_station

        return cls.from_config(load_station(station).section("camera"))


#: the wide acquisition camera when the station file has no [wide_camera] section
DEFAULT_WIDE_CAMERA = {"pixel_scale_urad": 40.0, "width": 640, "height": 480,
                       "gain_e_per_adu": 1.0, "read_noise_e": 8.0, "full_well_e": 20000.0,
                       "bias_adu": 100.0, "fwhm_px": 2.5, "aperture_m": 0.05}


def wide_camera_section(station: Any) -> tuple[dict[str, Any], float]:
    """The ``[wide_camera]`` section (camera keys) and its lens aperture (m).

    The section takes every ``[camera]`` key plus ``aperture_m`` (default
    0.05 m); without the section, :data:`DEFAULT_WIDE_CAMERA` is used.
    """
    section = dict(station.section("wide_camera") or DEFAULT_WIDE_CAMERA)
    aperture = section.pop("aperture_m", 0.05)
    if isinstance(aperture, bool) or not isinstance(aperture, int | float) or aperture <= 0:
        raise ConfigError(f"wide_camera.aperture_m: expected a positive number, "
                          f"got {aperture!r}")
    return section, float(aperture)
