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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pointing.config.schema import Field, Section

if TYPE_CHECKING:
    from pointing.camera.geometry import CameraGeometry
    from pointing.camera.sensor import Sensor

__all__ = ["CAMERA", "CAMERA_KEYS", "Camera", "read_camera_section"]

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


def _f(default: Any, **limits: Any) -> Field:
    return Field(float, default, **limits)


#: the ``[camera]`` section (defaults as :data:`CAMERA_KEYS`)
CAMERA = Section("camera", {
    "pixel_scale_urad": _f(3.0, above=0),
    "rotation_deg": _f(0.0),
    "parity": Field(int, 1, choices=(1, -1)),
    "width": Field(int, 1024, min=1, max=1 << 20),
    "height": Field(int, 1024, min=1, max=1 << 20),
    "calibration_pixel": Field(list, None, item=Field(float), length=2),
    "gain_e_per_adu": _f(0.5, above=0),
    "read_noise_e": _f(6.0, min=0),
    "full_well_e": _f(32000.0, above=0),
    "adc_bits": Field(int, 16, min=1, max=32),
    "bias_adu": _f(0.0),
    "saturation_adu": _f(None, above=0),
    "fwhm_px": _f(3.0, min=0.5, max=50),
    "min_snr": _f(10.0, min=0),
    "max_elongation": _f(1.5, above=1),
})


def read_camera_section(section: Mapping[str, Any] | None, name: str = "camera"
                        ) -> dict[str, Any]:
    """Validate a ``[camera]`` mapping and return every key with defaults filled in.

    Raises :class:`~pointing.errors.ConfigError` naming the offending key as
    ``camera.<key>`` (or ``<name>.<key>``: ``wide_camera`` takes the same keys).
    """
    schema = CAMERA if name == "camera" else CAMERA.renamed(name)
    out = schema.read(section)
    cal = out["calibration_pixel"]
    if cal is None:
        cal = ((out["width"] - 1) / 2.0, (out["height"] - 1) / 2.0)
    if not (-0.5 <= cal[0] <= out["width"] - 0.5 and -0.5 <= cal[1] <= out["height"] - 0.5):
        raise schema.error("calibration_pixel", f"inside the {out['width']}x{out['height']} "
                           "frame", list(cal))
    out["calibration_pixel"] = cal
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
