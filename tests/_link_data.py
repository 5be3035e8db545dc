"""A calibration night's summary for the link tests: Shanghai, a city noise map, no Moon."""

from __future__ import annotations

from typing import Any

#: the night's fitted noise map (pointing.photometry.background.BackgroundModel keys)
MODEL = {"dark_cps": 40.0, "sky_cps": 20.0, "dome_cps": 5000.0, "dome_az_deg": 215.0,
         "dome_scale_deg": 5.0, "dome_kappa": 1.5, "moon_cps_per_knl": 0.0,
         "k_mag_per_airmass": 0.05}


def night_summary(verification_rms_urad: float = 3.8) -> dict[str, Any]:
    """The parts of a night's summary.json the link room reads."""
    return {"station": "Shanghai",
            "efficiency": {"source": "detectors", "eta0": 0.36, "k_mag_per_airmass": 0.07},
            "verification": {"n": 20, "rms_urad": verification_rms_urad},
            "background": {"model": MODEL, "moon": {"az_deg": None, "el_deg": None,
                                                    "phase": None}}}
