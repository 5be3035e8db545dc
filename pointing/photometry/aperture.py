"""Aperture photometry of a star in a tracking-camera frame (photutils).

The night measures each star's flux in the camera too (``camera_flux_adu``
in the observation table); :func:`pointing.photometry.efficiency.camera_efficiency`
turns those fluxes into a relative transparency when detector counts are missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointing.errors import PointingError

__all__ = ["CameraPhotometry", "camera_aperture_photometry"]


@dataclass(frozen=True)
class CameraPhotometry:
    """Aperture photometry of one star in a camera frame (all in ADU)."""

    flux_adu: float  #: background-subtracted sum inside the aperture
    flux_err_adu: float  #: 1-σ uncertainty of flux_adu
    sky_adu_per_px: float  #: sigma-clipped median of the annulus, per pixel
    sky_sigma_adu: float  #: per-pixel scatter in the annulus
    n_pixels: float  #: pixels in the aperture (fractional at the edge)
    snr: float  #: flux_adu / flux_err_adu


def camera_aperture_photometry(frame: Any, x: float, y: float, *, radius_px: float = 6.0,
                               annulus_px: tuple[float, float] = (10.0, 16.0),
                               gain_e_per_adu: float | None = None) -> CameraPhotometry:
    """Aperture photometry (photutils) of a star at a known pixel position.

    Parameters
    ----------
    frame : 2-D array
        Camera frame in ADU (bias-subtracted or not: the annulus median removes
        any constant level).
    x, y : float
        Star position in pixels (0-based, x along columns), e.g. the
        calibration pixel or a measured centroid.
    radius_px : float
        Aperture radius (pixels).
    annulus_px : (float, float)
        Inner and outer radius of the sky annulus (pixels).
    gain_e_per_adu : float, optional
        Camera gain; with it the star's own Poisson noise enters the error.

    Returns
    -------
    CameraPhotometry
        The night records ``flux_adu``, ``flux_err_adu`` and ``sky_adu_per_px``
        as ``camera_flux_adu``, ``camera_flux_err_adu``, ``camera_sky_adu_per_px``.

    Raises
    ------
    PointingError
        The aperture and annulus do not fit inside the frame.
    """
    # photutils is imported here, not at the top: it costs ~1.2 s (measured with
    # python -X importtime) and pointing.photometry.efficiency re-exports this function
    # for the night, whose other photometry needs no photutils
    from photutils.aperture import (
        ApertureStats,
        CircularAnnulus,
        CircularAperture,
        aperture_photometry,
    )

    data = np.asarray(frame, dtype=float)
    if data.ndim != 2:
        raise PointingError(f"camera frame must be 2-D, got shape {data.shape}")
    r_in, r_out = annulus_px
    if not (0 < radius_px <= r_in < r_out):
        raise PointingError("need 0 < radius_px <= annulus inner < annulus outer radius")
    ny, nx = data.shape
    if not (r_out <= x <= nx - 1 - r_out and r_out <= y <= ny - 1 - r_out):
        raise PointingError(f"star at ({x:.1f}, {y:.1f}) px is too close to the edge of the "
                            f"{nx}x{ny} frame for an annulus of radius {r_out:g} px")
    aperture = CircularAperture((x, y), r=radius_px)
    annulus = CircularAnnulus((x, y), r_in=r_in, r_out=r_out)
    sky_stats = ApertureStats(data, annulus)  # sigma-clipped statistics by default
    sky = float(sky_stats.median)
    sky_sigma = float(sky_stats.std)
    n_sky = float(sky_stats.sum_aper_area.value)
    phot = aperture_photometry(data, aperture)
    n_pix = float(aperture.area)
    flux = float(phot["aperture_sum"][0]) - sky * n_pix
    var = n_pix * sky_sigma**2 + (n_pix * sky_sigma) ** 2 / max(n_sky, 1.0)
    if gain_e_per_adu:
        var += max(flux, 0.0) / gain_e_per_adu
    err = math.sqrt(var) if var > 0 else float("nan")
    return CameraPhotometry(flux_adu=flux, flux_err_adu=err, sky_adu_per_px=sky,
                            sky_sigma_adu=sky_sigma, n_pixels=n_pix,
                            snr=flux / err if err > 0 else float("nan"))
