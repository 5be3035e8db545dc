"""Measure the star in a tracking-camera frame: position, uncertainty, flux, flags.

:func:`measure_star` takes a 2-D frame (8/16-bit integers or floats, or a FITS
file) and returns a :class:`StarMeasurement`.  It never raises for a bad frame
(no star, star on the edge, saturated, trailed, hot pixels, clouds, an empty
or all-NaN frame): the result carries :class:`StarFlag` flags instead.

The rooms of the measurement, in order:

* :mod:`pointing.camera.frames` — the frame in: arrays, FITS files checked
  before they are read;
* :mod:`pointing.camera.detect` — candidate stars: binned matched filter,
  background mesh, spike rejection.  The target is the candidate nearest
  ``expected_xy``, else the brightest (AMBIGUOUS when another is as bright or
  as near);
* :mod:`pointing.camera.starfit` — the cut-out fit: local background plane,
  masks (saturation, spikes, neighbours), Gaussian fit and clean-up, a typed
  :class:`~pointing.camera.starfit.StarFit`;
* :mod:`pointing.camera.compiled` — numba kernels of the hot loops (binning,
  the mesh filter, peaks and candidate confirmation of the detection, the
  cut-out's preparation: saturation, background plane, spikes; the LM fit,
  moments, the Cramér–Rao bound, the aperture figures), the same arithmetic
  as the numpy code they stand in for (which stays the reference and the
  fallback);
* this module — the orchestration and the report: the uncertainty from the fit
  covariance beside the Cramér–Rao bound of the same star
  (:mod:`pointing.camera.crlb`), an aperture flux, the SNR (flux over its
  Cramér–Rao error: what optimal PSF photometry reaches), FWHM, peak, an
  elongation from Gaussian-weighted second moments, and the flags.

photutils is not used by the measurement: its ``Background2D`` (precise mode
used it for the detection background) is replaced by vectorised
sigma-clipped mesh medians at a fraction of its fixed cost, and its
centroids (``centroid_2dg``, ``centroid_quadratic``) neither weight by the
pixels' Poisson variance nor mask hot pixels; the benchmark and the tests
keep them as peers.  photutils' aperture photometry serves
:mod:`pointing.photometry`.

Pixel coordinates are 0-based with pixel centres at integers (photutils
convention); ``x`` is the column, ``y`` the row.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pointing.camera import compiled
from pointing.camera.config import Camera
from pointing.camera.crlb import gaussian_crlb
from pointing.camera.detect import Candidate, Detection, detect
from pointing.camera.frames import load_frame, load_frame_and_origin
from pointing.camera.geometry import CameraGeometry
from pointing.camera.psf import FWHM_PER_SIGMA, star_model
from pointing.camera.sensor import Sensor
from pointing.camera.starfit import MeasureOptions, StarFit, fit_star, moments

__all__ = ["Cutout", "StarFlag", "StarMeasurement", "load_frame", "measure_star"]


class StarFlag(enum.Flag):
    """Quality flags of a star measurement (combine with ``|``, test with ``in``)."""

    NONE = 0
    #: no star above the detection threshold (or the fit found none)
    NO_STAR = enum.auto()
    #: signal-to-noise ratio below ``min_snr``
    LOW_SNR = enum.auto()
    #: saturated pixels in the star's aperture (they were masked)
    SATURATED = enum.auto()
    #: another star close enough to bias the centroid (it was masked)
    CROWDED = enum.auto()
    #: the photometric aperture crosses the frame edge
    EDGE = enum.auto()
    #: major/minor axis ratio above ``max_elongation`` (trail, wind shake)
    ELONGATED = enum.auto()
    #: hot/dead pixels or cosmic-ray hits near the star were masked
    HOT_PIXELS_MASKED = enum.auto()
    #: the Gaussian fit failed; x, y are a windowed centroid
    FIT_FAILED = enum.auto()
    #: another star as bright (without ``expected_xy``) or as near ``expected_xy``
    #: as the one measured: which star is meant is a guess
    AMBIGUOUS = enum.auto()


@dataclass(frozen=True)
class Cutout:
    """The pixels a measurement used, for plots and diagnostics.

    ``data`` are the frame values (ADU) of the cutout whose pixel ``[0, 0]``
    is frame pixel ``(x0, y0)``; ``background`` the fitted background plane;
    ``masked`` every pixel left out of the fit, of which ``hot`` are spikes
    and ``saturated`` saturated pixels; ``window`` the fitted region as
    ``(xmin, xmax, ymin, ymax)`` frame pixels (inclusive); radii in pixels.
    """

    data: np.ndarray
    x0: int
    y0: int
    background: np.ndarray
    masked: np.ndarray
    hot: np.ndarray
    saturated: np.ndarray
    window: tuple[int, int, int, int]
    aperture_radius: float
    annulus: tuple[float, float]


@dataclass(frozen=True)
class StarMeasurement:
    """A star measured on a frame; field names are the JSON keys.

    Attributes
    ----------
    x, y : centroid, 0-based pixels (photutils convention)
    sigma_x, sigma_y : 1-sigma uncertainty of the centroid, pixels (for a
        SATURATED star with a systematic term: its position rests on the wings)
    crlb_x, crlb_y : Cramér–Rao lower bound for this star, pixels
    flux : background-subtracted flux in an aperture of radius 2 FWHM, ADU
    background : background level under the star, ADU per pixel
    snr : flux over its Cramér–Rao error (optimal PSF photometry)
    fwhm : full width at half maximum of the fitted Gaussian, pixels
        (geometric mean of the two axes, pixel integration removed)
    peak : highest frame value in the star's core, ADU (background included)
    flags : :class:`StarFlag`
    flux_e, background_e : the same in electrons (``None`` if the gain is
        unknown; ``background_e`` is above the bias)
    offset_urad : (ΔA·cosE, ΔE) of the star from the calibration pixel, µrad,
        when the camera geometry is known (azimuth from north through east;
        a FITS frame of a region of interest is placed on the sensor by its
        ``XORGSUBF``/``YORGSUBF`` header keywords)
    elongation : major/minor axis ratio from second moments
    mode : ``"precise"`` or ``"fast"``
    cutout : the pixels used (not part of the JSON)
    """

    x: float
    y: float
    sigma_x: float
    sigma_y: float
    crlb_x: float
    crlb_y: float
    flux: float
    background: float
    snr: float
    fwhm: float
    peak: float
    flags: StarFlag
    flux_e: float | None = None
    background_e: float | None = None
    offset_urad: tuple[float, float] | None = None
    elongation: float = math.nan
    mode: str = "precise"
    cutout: Cutout | None = field(default=None, repr=False, compare=False)

    @property
    def found(self) -> bool:
        """True when a star was measured (no ``NO_STAR`` flag)."""
        return StarFlag.NO_STAR not in self.flags

    def flag_names(self) -> list[str]:
        """Names of the flags set, in definition order."""
        return [f.name for f in StarFlag if f.value and f in self.flags]

    def flags_text(self) -> str:
        """Flags as ``"EDGE|LOW_SNR"`` (``"OK"`` if none)."""
        return "|".join(self.flag_names()) or "OK"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: NaN becomes ``None``, flags a list of names."""

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        out: dict[str, Any] = {
            k: num(getattr(self, k))
            for k in ("x", "y", "sigma_x", "sigma_y", "crlb_x", "crlb_y", "flux",
                      "background", "snr", "fwhm", "peak")
        }
        out["flags"] = self.flag_names()
        out["offset_urad"] = (None if self.offset_urad is None
                              else [num(self.offset_urad[0]), num(self.offset_urad[1])])
        if self.flux_e is not None:
            out["flux_e"] = num(self.flux_e)
            out["background_e"] = num(self.background_e)
        out["elongation"] = num(self.elongation)
        out["mode"] = self.mode
        return out


# ---------------------------------------------------------------------------
# the public entry point


def measure_star(
    frame: Any,
    *,
    expected_xy: tuple[float, float] | None = None,
    camera: Camera | Sensor | CameraGeometry | Mapping[str, Any] | None = None,
    fast: bool = False,
    fwhm: float | None = None,
    search_radius: float | None = None,
    gain: float | None = None,
    saturation: float | None = None,
    detect_sigma: float = 5.0,
    min_snr: float | None = None,
    max_elongation: float | None = None,
) -> StarMeasurement:
    """Find and measure the star in a tracking-camera frame.

    Parameters
    ----------
    frame : 2-D array (uint8/uint16/int/float, ADU) or path of a FITS file
    expected_xy : where the star should be (pixels); the nearest detected star
        is measured.  Without it, the brightest.
    camera : a :class:`~pointing.camera.config.Camera`, a
        :class:`~pointing.camera.sensor.Sensor`, a
        :class:`~pointing.camera.geometry.CameraGeometry` or a station file's
        ``[camera]`` mapping; gives gain, read noise, saturation, expected
        FWHM and, with a geometry, ``offset_urad``
    fast : tracking-loop mode: circular Gaussian on a small window, the
        residual check only when the fit is visibly poor (see
        ``benchmarks/bench_centroid.py`` for the time per frame beside sep)
    fwhm : expected FWHM in pixels (default: the camera's, else 3)
    search_radius : only look within this many pixels of ``expected_xy``
    gain : e⁻/ADU, overrides the camera's
    saturation : saturation level in ADU, overrides the camera's; without
        either, an integer frame saturates at its type's largest value, and
        in any case a flat top of equal maximal pixels is saturation
    detect_sigma : detection threshold in RMS of the detection image
    min_snr : LOW_SNR below this (default: the camera's, else 10)
    max_elongation : ELONGATED above this axis ratio (default: camera, else 1.5)

    Returns
    -------
    StarMeasurement
        Never raises for a bad frame; see its ``flags``.  Raises
        :class:`~pointing.errors.FileFormatError` only for an unreadable file
        and ``ValueError`` for an array that is not a 2-D image.
    """
    img, origin = load_frame_and_origin(frame)
    cam = _resolve_camera(camera)
    opts = _options(img, cam, fast=fast, fwhm=fwhm, gain=gain, saturation=saturation,
                    detect_sigma=detect_sigma, min_snr=min_snr, max_elongation=max_elongation)
    # absurd pixel values (±1e300) overflow to inf/NaN, which the flags handle: no
    # warning for a bad frame, as no exception
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = _measure(img, opts, expected_xy, search_radius)
    geometry = cam.geometry if cam is not None else None
    if geometry is not None and result.found:
        # a region of interest: the geometry is the whole sensor's
        a, e = geometry.offset_urad(result.x + origin[0], result.y + origin[1])
        result = replace(result, offset_urad=(float(a), float(e)))
    return result


# ---------------------------------------------------------------------------
# internals


def _measure(img: np.ndarray, opts: MeasureOptions, expected_xy: tuple[float, float] | None,
             search_radius: float | None) -> StarMeasurement:
    """Detect, choose the target, fit it; a NO_STAR result when there is none."""
    mode = "fast" if opts.fast else "precise"
    if img.size == 0 or min(img.shape) < 5:
        return _no_star(img, mode, None)
    det = detect(img, fwhm=opts.fwhm, fast=opts.fast, detect_sigma=opts.detect_sigma,
                 expected_xy=expected_xy, search_radius=search_radius)
    if not det.candidates:
        return _no_star(img, mode, det)
    result, target = None, None
    ranked = _ranked(det.candidates, expected_xy)
    # the preferred candidate; if it turns out to be no star, the next ones
    for target in ranked[:3]:
        others = [c for c in det.candidates if c is not target]
        result = _measure_local(img, target, others, det, opts)
        if result is not None:
            break
    if result is None or target is None:
        return _no_star(img, mode, det)
    if _ambiguous(img, result, target, ranked, det, opts, expected_xy):
        result = replace(result, flags=result.flags | StarFlag.AMBIGUOUS)
    return result


def _options(img: np.ndarray, cam: Camera | None, *, fast: bool, fwhm: float | None,
             gain: float | None, saturation: float | None, detect_sigma: float,
             min_snr: float | None, max_elongation: float | None) -> MeasureOptions:
    """The caller's values, else the camera's, else the defaults."""
    sensor = cam.sensor if cam is not None else None
    if gain is None and sensor is not None:
        gain = sensor.gain_e_per_adu
    if saturation is None and sensor is not None:
        saturation = sensor.saturation_adu
    return MeasureOptions(
        fast=fast,
        fwhm=float(fwhm or (cam.fwhm_px if cam else 3.0)),
        gain=gain,
        read_noise_adu=(sensor.read_noise_adu if sensor and gain else None),
        bias=(sensor.bias_adu if sensor else 0.0),
        saturation=saturation,
        detect_sigma=float(detect_sigma),
        min_snr=float(min_snr if min_snr is not None else (cam.min_snr if cam else 10.0)),
        max_elongation=float(max_elongation if max_elongation is not None
                             else (cam.max_elongation if cam else 1.5)),
        dtype_max=_dtype_max(img.dtype),
    )


@functools.lru_cache(maxsize=16)
def _dtype_max(dtype: np.dtype) -> float | None:
    """An integer type's largest value (a hard saturation level), None for floats."""
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else None


def _resolve_camera(camera: Any) -> Camera | None:
    if camera is None or isinstance(camera, Camera):
        return camera
    if isinstance(camera, Sensor):
        return Camera(geometry=None, sensor=camera)  # type: ignore[arg-type]
    if isinstance(camera, CameraGeometry):
        return Camera(geometry=camera, sensor=None)  # type: ignore[arg-type]
    if isinstance(camera, Mapping):
        return Camera.from_config(camera)
    raise TypeError(f"camera must be a Camera, Sensor, CameraGeometry or mapping, "
                    f"got {type(camera).__name__}")


def _no_star(img: np.ndarray, mode: str, det: Detection | None) -> StarMeasurement:
    nan = math.nan
    bkg = det.background if det is not None else nan
    if det is None and img.size and img.dtype.kind in "uif":
        finite = img[np.isfinite(img)] if img.dtype.kind == "f" else img
        bkg = float(np.median(finite)) if finite.size else nan
    peak = nan
    if img.size:
        with np.errstate(invalid="ignore"):
            peak = float(np.nanmax(img)) if np.any(np.isfinite(img)) else nan
    return StarMeasurement(nan, nan, nan, nan, nan, nan, nan, bkg, nan, nan, peak,
                           StarFlag.NO_STAR, mode=mode)


def _ranked(cands: list[Candidate],
            expected_xy: tuple[float, float] | None) -> list[Candidate]:
    """Candidates nearest *expected_xy* first, else brightest first."""
    if expected_xy is None:
        return sorted(cands, key=lambda c: -c.score)
    ex, ey = expected_xy
    return sorted(cands, key=lambda c: (c.x - ex) ** 2 + (c.y - ey) ** 2)


def _ambiguous(img: np.ndarray, result: StarMeasurement, target: Candidate,
               ranked: list[Candidate], det: Detection, opts: MeasureOptions,
               expected_xy: tuple[float, float] | None) -> bool:
    """Whether another star could as well be the one meant.

    Without ``expected_xy``: another candidate whose detection score is at
    least half the target's is measured, and one within 20 % of the
    target's flux makes the choice ambiguous.  With it: another star within
    one FWHM as near to ``expected_xy`` as the target (and not a neighbour
    sitting on the target).
    """
    if not result.found or len(ranked) < 2:
        return False
    rivals = [c for c in ranked if c is not target]
    if expected_xy is not None:
        ex, ey = expected_xy
        d_t = math.hypot(result.x - ex, result.y - ey)
        return any(abs(math.hypot(c.x - ex, c.y - ey) - d_t) < opts.fwhm
                   and math.hypot(c.x - result.x, c.y - result.y) > 3 * opts.fwhm
                   for c in rivals)
    for c in rivals[:3]:
        if c.score < 0.5 * target.score:
            break
        others = [o for o in det.candidates if o is not c]
        rival = _measure_local(img, c, others, det, opts)
        if (rival is not None and rival.found and rival.flux >= 0.8 * result.flux
                and math.hypot(rival.x - result.x, rival.y - result.y) > 3 * opts.fwhm):
            return True
    return False


def _measure_local(img: np.ndarray, target: Candidate, others: list[Candidate],
                   det: Detection, opts: MeasureOptions) -> StarMeasurement | None:
    g = opts.fwhm
    fit = None
    for _ in range(2):
        fit = fit_star(img, target, others, det, opts, g)
        if fit is None:
            break
        # a star much wider than expected (defocus, trail): widen the windows
        wide = (fit.fwhm if not fit.failed
                else g * fit.elongation if math.isfinite(fit.elongation)
                else 2 * g)
        if not (wide > 1.3 * g and g < 20.0):
            break
        g = min(wide, 20.0)
    if fit is None:
        return None
    try:
        return _finish(img, fit, opts)
    except ArithmeticError:  # pixel values so absurd (±1e300) that the figures overflow
        return None


def _finish(img: np.ndarray, st: StarFit, opts: MeasureOptions) -> StarMeasurement | None:
    """The measurement from a fit: uncertainty, bound, flux, shape, flags; None if no star."""
    x, y, flux_fit, sx, sy, b_const = st.params.tolist()
    xs, ys = st.xs, st.ys
    reach = 0.5 + st.g
    if not (xs[0] - reach <= x <= xs[-1] + reach and ys[0] - reach <= y <= ys[-1] + reach):
        return None
    # uncertainty: the fit's covariance with the measured noise.  Not scaled by
    # the reduced chi²: a symmetric profile mismatch (Moffat wings) inflates chi²
    # at high SNR but does not move the centroid.
    cov = st.cov
    sigma_x = math.sqrt(cov[0, 0]) if math.isfinite(cov[0, 0]) else math.nan
    sigma_y = math.sqrt(cov[1, 1]) if math.isfinite(cov[1, 1]) else math.nan
    gain_eff = opts.gain if opts.gain else (1.0 / st.shot if st.shot > 0 else None)
    bound = gaussian_crlb(flux_fit, sx, sy, background_var=st.var_b, gain=gain_eff, x0=x, y0=y,
                          circular=opts.fast)
    snr = bound.snr if math.isfinite(bound.snr) else 0.0
    if st.failed:
        sigma_x = sigma_y = math.nan
    elif snr < 3.0:
        return None  # nothing distinguishable from noise
    fwhm = FWHM_PER_SIGMA * math.sqrt(sx * sy)
    r_ap = min(2.0 * fwhm, max(st.annulus[0] - 0.5, 1.5))
    jit = compiled.kernels()
    if jit is not None:  # the star, flux, peak and the saturation test in one compiled call
        star, flux, peak, sat_in_aperture, fill = jit.aperture_figures(
            xs, ys, st.params, r_ap, fwhm, st.masked, st.signal, st.hot, st.bad, st.data,
            st.saturated)
    else:
        star = star_model(xs, ys, st.params)
        d2 = (xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2
        fill = np.where(st.masked, star + b_const, st.signal)
        aper = d2 <= r_ap * r_ap
        flux = float(np.sum(fill[aper] - b_const))
        valid = (d2 <= max(1.0, fwhm) ** 2) & ~st.hot & ~st.bad
        peak = float(st.data[valid].max()) if valid.any() else math.nan
        sat_in_aperture = bool(np.any(st.saturated & aper))
    coef = st.plane_coef
    background = float(coef[0] + coef[1] * (x - st.cx) + coef[2] * (y - st.cy) + b_const)
    elong, significant = st.elongation, st.elongation_significant  # on the fit window
    if not opts.fast:  # on the whole cutout, with every pixel's noise
        var = st.var_b + st.shot * np.maximum(star, 0.0)
        el, sg = moments(fill - b_const, xs, ys, x, y, 2.0 * math.sqrt(sx * sy), var)
        if math.isfinite(el):
            elong, significant = el, sg
    flags = _flags(img, st, opts, x, y, r_ap, sat_in_aperture, snr, elong, significant)
    if StarFlag.SATURATED in flags and not st.failed:
        sigma_x, sigma_y = _saturated_sigma(st, sigma_x, sigma_y)
    gain = opts.gain
    cut = Cutout(
        data=st.raw, x0=st.x0, y0=st.y0, background=st.plane + b_const,
        masked=st.masked, hot=st.hot, saturated=st.saturated, window=st.window,
        aperture_radius=r_ap, annulus=st.annulus,
    )
    return StarMeasurement(
        x=x, y=y, sigma_x=sigma_x, sigma_y=sigma_y, crlb_x=bound.x, crlb_y=bound.y,
        flux=flux, background=background, snr=snr, fwhm=fwhm, peak=peak, flags=flags,
        flux_e=flux * gain if gain else None,
        background_e=(background - opts.bias) * gain if gain else None,
        elongation=elong, mode="fast" if opts.fast else "precise", cutout=cut,
    )


def _flags(img: np.ndarray, st: StarFit, opts: MeasureOptions, x: float, y: float,
           r_ap: float, sat_in_aperture: bool, snr: float, elong: float,
           significant: bool) -> StarFlag:
    """The quality flags of a measurement (see :class:`StarFlag`)."""
    # combined as integers, one StarFlag at the end (Flag arithmetic is slow in Python)
    h, w = img.shape
    bits = _F.FIT_FAILED if st.failed else 0
    if snr < opts.min_snr:
        bits |= _F.LOW_SNR
    if sat_in_aperture:
        bits |= _F.SATURATED
    if st.crowded:
        bits |= _F.CROWDED
    if x - r_ap < -0.5 or y - r_ap < -0.5 or x + r_ap > w - 0.5 or y + r_ap > h - 0.5:
        bits |= _F.EDGE
    if significant and elong > opts.max_elongation:
        bits |= _F.ELONGATED
    wx0, wx1, wy0, wy1 = st.window
    # the fit window and one pixel around it, as cut-out slices (whole-pixel coordinates)
    win = (slice(max(0, wy0 - 1 - st.y0), max(0, wy1 + 2 - st.y0)),
           slice(max(0, wx0 - 1 - st.x0), max(0, wx1 + 2 - st.x0)))
    if st.hot[win].any():
        bits |= _F.HOT_PIXELS_MASKED
    return StarFlag(bits)


class _F:
    """The flags' integer values (for :func:`_flags`)."""

    FIT_FAILED = StarFlag.FIT_FAILED.value
    LOW_SNR = StarFlag.LOW_SNR.value
    SATURATED = StarFlag.SATURATED.value
    CROWDED = StarFlag.CROWDED.value
    EDGE = StarFlag.EDGE.value
    ELONGATED = StarFlag.ELONGATED.value
    HOT_PIXELS_MASKED = StarFlag.HOT_PIXELS_MASKED.value


def _saturated_sigma(st: StarFit, sigma_x: float, sigma_y: float) -> tuple[float, float]:
    """The uncertainty of a saturated star's position, pixels.

    Its core is masked, so the position rests on the wings and on the
    profile model (a real star's wings are not Gaussian; blooming and a
    non-linear top near full well are asymmetric).  The fit's own error is
    scaled by the reduced χ² (when above 1) and a systematic term is added:
    a fiftieth of the saturated plateau's radius, at least 0.05 px.
    """
    scale = math.sqrt(max(st.chi2 / st.dof, 1.0)) if math.isfinite(st.chi2) else 1.0
    plateau = math.sqrt(np.count_nonzero(st.saturated) / math.pi)
    systematic = max(0.05, 0.02 * plateau)
    return math.hypot(sigma_x * scale, systematic), math.hypot(sigma_y * scale, systematic)
