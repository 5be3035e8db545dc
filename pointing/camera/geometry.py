"""Tracking-camera geometry: pixels ↔ pointing offsets in the mount's axes.

On an alt-az mount with the camera fixed to the tube, the azimuth and
elevation directions are fixed in the image.  The geometry is a similarity
transform (scale, rotation, optional mirror) about the **calibration pixel**,
where the quantum detectors see the most signal:

* ``rotation_deg`` θ is the angle from the image +x axis to the direction in
  which a star's image moves when the star lies at larger azimuth than the
  calibration-pixel direction, counter-clockwise in the image (x right, y up
  as displayed with ``origin="lower"``);
* ``parity`` p is +1 when +elevation is 90° counter-clockwise from +azimuth in
  the image, −1 when the image is mirrored.

A star at pixel ``(x, y)`` (0-based, photutils convention) has the offset::

    d = (x − xc, y − yc)
    ΔA·cos E = s·( cos θ·dx + sin θ·dy)
    ΔE       = s·p·(−sin θ·dx + cos θ·dy)

with ``s`` the pixel scale in radians.  The offset is the star's direction
minus the calibration-pixel direction, in radians, azimuth from north
through east: moving the mount by this offset brings the star onto the
calibration pixel.  The camera knows nothing of the pointing model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pointing.camera.config import read_camera_section
from pointing.errors import FitError
from pointing.units import URAD

__all__ = ["CameraCalibration", "CameraGeometry"]



@dataclass(frozen=True)
class CameraGeometry:
    """Pixel scale, orientation and calibration pixel of a tracking camera.

    Parameters
    ----------
    pixel_scale_urad : angle of one pixel on the sky, µrad
    rotation_deg : angle from image +x to +azimuth, counter-clockwise, degrees
    parity : +1 or −1 (mirrored image)
    calibration_pixel : ``(x, y)`` 0-based pixel of best quantum-detector signal
    width, height : frame size in pixels
    """

    pixel_scale_urad: float = 3.0
    rotation_deg: float = 0.0
    parity: int = 1
    calibration_pixel: tuple[float, float] = (511.5, 511.5)
    width: int = 1024
    height: int = 1024

    def __post_init__(self) -> None:
        if self.parity not in (1, -1):
            raise ValueError(f"parity must be +1 or -1, got {self.parity!r}")
        if not self.pixel_scale_urad > 0:
            raise ValueError(f"pixel_scale_urad must be > 0, got {self.pixel_scale_urad!r}")

    # -- construction --------------------------------------------------------
    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> CameraGeometry:
        """From a station file's ``[camera]`` mapping.

        Raises :class:`~pointing.errors.ConfigError` naming the key, e.g.
        ``camera.pixel_scale_urad``.
        """
        v = read_camera_section(section)
        return cls(
            pixel_scale_urad=v["pixel_scale_urad"],
            rotation_deg=v["rotation_deg"],
            parity=v["parity"],
            calibration_pixel=v["calibration_pixel"],
            width=v["width"],
            height=v["height"],
        )

    def to_config(self) -> dict[str, Any]:
        """The ``[camera]`` keys of this geometry (for writing a station file)."""
        return {
            "pixel_scale_urad": self.pixel_scale_urad,
            "rotation_deg": self.rotation_deg,
            "parity": self.parity,
            "calibration_pixel": list(self.calibration_pixel),
            "width": self.width,
            "height": self.height,
        }

    # -- transforms ----------------------------------------------------------
    @property
    def matrix(self) -> np.ndarray:
        """2×2 matrix from pixel displacement to (ΔA·cosE, ΔE), radians per pixel."""
        s = self.pixel_scale_urad * URAD
        c, n = math.cos(math.radians(self.rotation_deg)), math.sin(math.radians(self.rotation_deg))
        p = self.parity
        return s * np.array([[c, n], [-p * n, p * c]])

    def offset(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Pointing offset (ΔA·cosE, ΔE) in radians of a star at pixel ``(x, y)``.

        Vectorised over arrays; see the module docstring for the convention.
        """
        dx = np.asarray(x, dtype=float) - self.calibration_pixel[0]
        dy = np.asarray(y, dtype=float) - self.calibration_pixel[1]
        m = self.matrix
        return m[0, 0] * dx + m[0, 1] * dy, m[1, 0] * dx + m[1, 1] * dy

    def offset_urad(self, x: Any, y: Any) -> tuple[Any, Any]:
        """As :meth:`offset`, in µrad."""
        a, e = self.offset(x, y)
        return a / URAD, e / URAD

    def pixel(self, d_az_cos_el: Any, d_el: Any) -> tuple[Any, Any]:
        """Pixel ``(x, y)`` where a star at offset (ΔA·cosE, ΔE) radians appears."""
        a = np.asarray(d_az_cos_el, dtype=float)
        e = np.asarray(d_el, dtype=float)
        # the matrix is s × orthogonal: its inverse is its transpose over s²
        m = self.matrix
        s2 = (self.pixel_scale_urad * URAD) ** 2
        dx = (m[0, 0] * a + m[1, 0] * e) / s2
        dy = (m[0, 1] * a + m[1, 1] * e) / s2
        return dx + self.calibration_pixel[0], dy + self.calibration_pixel[1]

    def contains(self, x: Any, y: Any, margin: float = 0.0) -> Any:
        """Whether pixel ``(x, y)`` lies inside the frame, at least *margin* px from its edge."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        return ((x >= margin - 0.5) & (x <= self.width - 0.5 - margin)
                & (y >= margin - 0.5) & (y <= self.height - 0.5 - margin))

    @property
    def field_urad(self) -> tuple[float, float]:
        """Field of view (width, height) in µrad."""
        return self.width * self.pixel_scale_urad, self.height * self.pixel_scale_urad

    # -- calibration ---------------------------------------------------------
    def check_steps(
        self,
        steps: Sequence[tuple[float, float]] | np.ndarray,
        start_xy: tuple[float, float],
        margin: float = 10.0,
    ) -> None:
        """Refuse mount steps that would take the star out of the field.

        *steps* are mount moves (ΔA·cosE, ΔE) in radians, *start_xy* where the
        star is before the first step; the prediction uses this geometry (a
        rough one is enough).  Raises :class:`~pointing.errors.FitError`
        naming the first offending step.
        """
        steps = _as_steps(steps)
        a0, e0 = self.offset(*start_xy)
        # moving the mount by δ moves the star's offset by −δ
        xs, ys = self.pixel(a0 - steps[:, 0], e0 - steps[:, 1])
        inside = self.contains(xs, ys, margin)
        for i in np.flatnonzero(~inside)[:1]:
            raise FitError(
                f"calibration step {i} ({steps[i, 0] / URAD:+.1f}, {steps[i, 1] / URAD:+.1f}) "
                f"µrad would put the star at pixel ({xs[i]:.0f}, {ys[i]:.0f}), outside the "
                f"{self.width}x{self.height} field less {margin:g} px: use smaller steps"
            )

    @classmethod
    def calibrate(
        cls,
        steps: Sequence[tuple[float, float]] | np.ndarray,
        stars: Sequence[Any],
        *,
        prior: CameraGeometry | None = None,
        **measure_kwargs: Any,
    ) -> CameraCalibration:
        """Fit scale, rotation and parity from a star seen at known mount steps.

        Parameters
        ----------
        steps : (n, 2) mount moves (ΔA·cosE, ΔE) in radians from any fixed
            reference position, one per frame (azimuth from north through east)
        stars : one per step: a :class:`~pointing.camera.measure.StarMeasurement`,
            an ``(x, y)`` pixel pair, or a frame (array or FITS path) that is
            measured with :func:`~pointing.camera.measure.measure_star`
        prior : geometry giving the frame size and calibration pixel to keep
            (default: the ``[camera]`` defaults)
        measure_kwargs : passed to ``measure_star`` for frames

        Returns
        -------
        CameraCalibration
            with the fitted geometry and 1-sigma uncertainties.

        Raises
        ------
        FitError
            when a step left the field (star not found, on the edge or outside
            the frame), when there are fewer than 3 frames, or when the steps
            do not move along two independent directions.
        """
        prior = prior or cls()
        steps = _as_steps(steps)
        if len(stars) != len(steps):
            raise FitError(f"calibration: {len(steps)} mount steps but {len(stars)} frames")
        if len(steps) < 3:
            raise FitError(f"calibration: needs at least 3 frames, got {len(steps)}")
        xy, sig, known = _star_positions(steps, stars, prior, measure_kwargs)
        centred = steps - steps.mean(axis=0)
        sv = np.linalg.svd(centred, compute_uv=False)
        if sv.size < 2 or sv[1] <= 1e-3 * max(sv[0], 1e-30):
            raise FitError("calibration: the mount steps must move in both azimuth and "
                           "elevation (they lie on one line)")
        fits = {p: _fit_similarity(steps, xy, sig, p, known) for p in (1, -1)}
        parity = min(fits, key=lambda p: fits[p]["chi2"])
        f = fits[parity]
        alpha, beta = f["params"][2], f["params"][3]
        norm2 = alpha * alpha + beta * beta
        scale = 1.0 / math.sqrt(norm2) / URAD
        rot = math.degrees(math.atan2(beta, alpha))
        # propagate (α, β) covariance: s = (α²+β²)^−½, θ = atan2(β, α)
        cov = f["cov"][2:, 2:]
        j_s = -np.array([alpha, beta]) / norm2**1.5 / URAD
        j_t = np.degrees(np.array([-beta, alpha]) / norm2)
        geometry = replace(prior, pixel_scale_urad=scale, rotation_deg=rot, parity=parity)
        return CameraCalibration(
            geometry=geometry,
            sigma_pixel_scale_urad=float(math.sqrt(j_s @ cov @ j_s)),
            sigma_rotation_deg=float(math.sqrt(j_t @ cov @ j_t)),
            residual_rms_px=f["rms"],
            chi2={p: fits[p]["chi2"] for p in fits},
            residuals_px=f["residuals"],
            zero_step_xy=(float(f["params"][0]), float(f["params"][1])),
        )


@dataclass(frozen=True)
class CameraCalibration:
    """Result of :meth:`CameraGeometry.calibrate`.

    ``geometry`` carries the fitted scale, rotation and parity;
    ``sigma_*`` are 1-sigma uncertainties (µrad/px, degrees);
    ``residual_rms_px`` the RMS distance between measured and fitted star
    positions; ``chi2`` the weighted sum of squares for each parity (the
    chosen one is the smaller; a ratio near 1 means parity is not
    determined); ``zero_step_xy`` where the star would sit with no step.
    """

    geometry: CameraGeometry
    sigma_pixel_scale_urad: float
    sigma_rotation_deg: float
    residual_rms_px: float
    chi2: dict[int, float]
    residuals_px: np.ndarray
    zero_step_xy: tuple[float, float]


def _as_steps(steps: Any) -> np.ndarray:
    arr = np.asarray(steps, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)):
        raise FitError("calibration steps must be finite (ΔA·cosE, ΔE) pairs in radians")
    return arr


def _star_positions(steps: np.ndarray, stars: Sequence[Any], prior: CameraGeometry,
                    measure_kwargs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Pixel positions and 1-sigma errors of the calibration stars, measured if frames.

    Returns positions (n, 2), errors (n, 2; ones when unknown) and whether
    every position came with its uncertainty.  Raises FitError naming the
    step whose star left the field.
    """
    # lazy: measure imports this module (the geometry gives offset_urad)
    from pointing.camera.measure import StarFlag, StarMeasurement, measure_star

    xy = np.empty((len(steps), 2))
    sig = np.ones((len(steps), 2))
    known = True
    for i, star in enumerate(stars):
        if isinstance(star, tuple | list) and len(star) == 2 and np.isscalar(star[0]):
            m = None
            xy[i] = star
            known = False
        else:
            m = star if isinstance(star, StarMeasurement) else measure_star(
                star, **measure_kwargs)
            xy[i] = (m.x, m.y)
            if np.isfinite(m.sigma_x) and np.isfinite(m.sigma_y):
                sig[i] = (max(m.sigma_x, 1e-3), max(m.sigma_y, 1e-3))
            else:
                known = False
        where = (f"calibration step {i} ({steps[i, 0] / URAD:+.1f}, "
                 f"{steps[i, 1] / URAD:+.1f}) µrad")
        if m is not None and m.flags & (StarFlag.NO_STAR | StarFlag.EDGE):
            raise FitError(f"{where}: star {m.flags_text()}; the steps leave the "
                           "field: use smaller steps")
        if not (np.all(np.isfinite(xy[i])) and prior.contains(*xy[i])):
            raise FitError(f"{where}: star at {xy[i].tolist()} is outside the "
                           f"{prior.width}x{prior.height} field: use smaller steps")
    return xy, sig, known



def _fit_similarity(steps: np.ndarray, xy: np.ndarray, sig: np.ndarray, parity: int,
                    known: bool) -> dict:
    """Weighted linear fit of ``xy = q − M⁻¹·step`` for one parity.

    ``M⁻¹ = [[α, −pβ], [β, pα]]`` with ``α = cos θ / s``, ``β = sin θ / s``.
    With *known* centroid uncertainties the covariance is scaled up by the
    reduced χ² when above 1; without, the residual scatter sets it.
    """
    n = len(steps)
    da, de = steps[:, 0], steps[:, 1]
    a = np.zeros((2 * n, 4))
    a[:n, 0] = 1.0
    a[:n, 2] = -da
    a[:n, 3] = parity * de
    a[n:, 1] = 1.0
    a[n:, 2] = -parity * de
    a[n:, 3] = -da
    b = np.concatenate([xy[:, 0], xy[:, 1]])
    w = 1.0 / np.concatenate([sig[:, 0], sig[:, 1]])
    aw, bw = a * w[:, None], b * w
    params, *_ = np.linalg.lstsq(aw, bw, rcond=None)
    res = b - a @ params
    chi2 = float(np.sum((res * w) ** 2))
    dof = 2 * n - 4
    cov = np.linalg.inv(aw.T @ aw)
    if dof > 0:
        cov = cov * (max(1.0, chi2 / dof) if known else chi2 / dof)
    resid = np.stack([res[:n], res[n:]], axis=1)
    return {"params": params, "cov": cov, "chi2": chi2,
            "rms": float(np.sqrt(np.mean(np.sum(resid**2, axis=1)))), "residuals": resid}
