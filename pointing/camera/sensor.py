"""Detector properties the star measurement needs: gain, read noise, saturation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pointing.camera.config import read_camera_section

__all__ = ["Sensor"]


@dataclass(frozen=True)
class Sensor:
    """Gain, noise and dynamic range of a camera's pixels.

    Parameters
    ----------
    gain_e_per_adu : electrons per ADU, or ``None`` if unknown (the star's
        shot noise is then estimated from its own fit residuals)
    read_noise_e : read noise, electrons RMS
    full_well_e : full-well capacity, electrons
    adc_bits : bits of the delivered pixel values
    bias_adu : pedestal the camera adds, ADU
    saturation_override_adu : explicit saturation level, ADU (``None``: derived)
    """

    gain_e_per_adu: float | None = 0.5
    read_noise_e: float = 6.0
    full_well_e: float = 32000.0
    adc_bits: int = 16
    bias_adu: float = 0.0
    saturation_override_adu: float | None = None

    @property
    def saturation_adu(self) -> float:
        """Pixel value (ADU) at and above which a pixel is saturated."""
        if self.saturation_override_adu is not None:
            return float(self.saturation_override_adu)
        adc_max = float(2**self.adc_bits - 1)
        if self.gain_e_per_adu is None:
            return adc_max
        return min(adc_max, self.bias_adu + self.full_well_e / self.gain_e_per_adu)

    @property
    def read_noise_adu(self) -> float | None:
        """Read noise in ADU RMS (``None`` when the gain is unknown)."""
        if self.gain_e_per_adu is None:
            return None
        return self.read_noise_e / self.gain_e_per_adu

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> Sensor:
        """From a station file's ``[camera]`` mapping; raises ConfigError naming the key."""
        v = read_camera_section(section)
        return cls(
            gain_e_per_adu=v["gain_e_per_adu"],
            read_noise_e=v["read_noise_e"],
            full_well_e=v["full_well_e"],
            adc_bits=v["adc_bits"],
            bias_adu=v["bias_adu"],
            saturation_override_adu=v["saturation_adu"],
        )
