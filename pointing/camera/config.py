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

The wide acquisition camera on the tube has a ``[wide_camera]`` section with
the same keys plus ``aperture_m`` (its lens, m); a station without one gets
:data:`DEFAULT_WIDE_CAMERA`.  :func:`camera_section` gives either camera's
keys, :meth:`Camera.from_station` either camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pointing.config.schema import Field, Section
from pointing.config.station import load_station
from pointing.errors import ConfigError

if TYPE_CHECKING:
    from pointing.camera.geometry import CameraGeometry
    from pointing.camera.sensor import Sensor

__all__ = [
    "CAMERA",
    "CAMERAS",
    "CAMERA_KEYS",
    "DEFAULT_WIDE_CAMERA",
    "Camera",
    "camera_section",
    "read_camera_section",
    "wide_camera_section",
]

#: the station's cameras, by the name ``pointing centroid --camera`` takes
CAMERAS = ("tracking", "wide")

#: the wide acquisition camera when the station file has no [wide_camera] section
DEFAULT_WIDE_CAMERA: dict[str, Any] = {
    "pixel_scale_urad": 40.0, "width": 640, "height": 480, "gain_e_per_adu": 1.0,
    "read_noise_e": 8.0, "full_well_e": 20000.0, "bias_adu": 100.0, "fwhm_px": 2.5,
    "aperture_m": 0.05}

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
        # lazy: geometry and sensor import this module (their key validation)
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
    def from_station(cls, station: Any, which: str = "tracking") -> Camera:
        """A camera of a station: ``which`` is ``"tracking"`` (``[camera]``) or ``"wide"``
        (``[wide_camera]``); *station* a :class:`~pointing.config.station.Station`,
        a shipped station's name or a TOML path."""
        return cls.from_config(camera_section(station, which)[0])


def camera_section(station: Any, which: str = "tracking") -> tuple[dict[str, Any], float | None]:
    """A camera's keys from a station, and the wide camera's lens aperture (m).

    ``which="tracking"`` gives the ``[camera]`` section (aperture ``None``: the
    telescope's); ``"wide"`` the ``[wide_camera]`` section without its
    ``aperture_m`` (default 0.05 m), or :data:`DEFAULT_WIDE_CAMERA` when the
    station has none.  *station* is a Station, a shipped name or a TOML path.
    """
    if which not in CAMERAS:
        raise ConfigError(f"camera: expected one of {', '.join(CAMERAS)}, got {which!r}")
    if isinstance(station, str | Path):
        station = load_station(station)
    if which == "tracking":
        return station.section("camera"), None
    section = dict(station.section("wide_camera") or DEFAULT_WIDE_CAMERA)
    aperture = Field(float, 0.05, above=0).read(section.pop("aperture_m", 0.05),
                                                "wide_camera.aperture_m")
    read_camera_section(section, "wide_camera")
    return section, float(aperture)


def wide_camera_section(station: Any) -> tuple[dict[str, Any], float]:
    """The ``[wide_camera]`` keys and the wide camera's lens aperture (m):
    :func:`camera_section` for ``"wide"``."""
    section, aperture = camera_section(station, "wide")
    return section, float(aperture)
