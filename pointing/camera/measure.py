"""Measure the star in a tracking-camera frame: position, uncertainty, flux, flags.

:func:`measure_star` takes a 2-D frame (8/16-bit integers or floats, or a FITS
file) and returns a :class:`StarMeasurement`.  It never raises for a bad frame
(no star, star on the edge, saturated, trailed, hot pixels, clouds): the
result carries :class:`StarFlag` flags instead.

The pipeline, in both modes:

1. **Find** candidate stars on the frame binned by 2–8 (a cheap matched
   filter): background map, then 2×2 sums of binned pixels above
   ``detect_sigma`` times their robust RMS.  In precise mode the background is
   photutils' :class:`~photutils.background.Background2D` on the binned frame;
   in fast mode a median mesh.  Each candidate is checked at full resolution:
   a lone spike (hot pixel, cosmic-ray hit) that carries the detection is
   rejected.  The target is the candidate nearest ``expected_xy``, else the
   brightest.
2. **Background** on a cutout: a robust (sigma-clipped) plane fitted to an
   annulus around the star, so gradients and glow (Moon, city light) are
   removed locally; its scatter is the per-pixel background noise.
3. **Masking** before the fit: pixels at or above the saturation level
   (from the camera, the integer type, or a flat top), non-finite pixels,
   isolated spikes (brighter than any star of the expected width allows
   relative to their brightest neighbour, so a sharp 3 px FWHM core is never
   masked) and discs around neighbouring stars.
4. **Fit** a pixel-integrated Gaussian (elliptical, axis-aligned, 6
   parameters in precise mode; circular, 5 parameters in fast mode) by
   iteratively reweighted Levenberg–Marquardt with the per-pixel variance
   ``σ_b² + star/gain`` (the error array of the model, i.e. the Poisson
   maximum-likelihood estimate).  Precise mode then masks isolated residual
   outliers (hot pixels the first test let through, cosmic rays of several
   pixels) and faint neighbours found in the residuals, and refits.
5. **Report** the uncertainty from the fit covariance (scaled by the reduced
   χ² when above 1) beside the Cramér–Rao bound of the same star
   (:mod:`pointing.camera.crlb`), an aperture flux, the SNR (flux over its
   Cramér–Rao error: what optimal PSF photometry reaches), FWHM, peak and an
   elongation from Gaussian-weighted second moments.

Pixel coordinates are 0-based with pixel centres at integers (photutils
convention); ``x`` is the column, ``y`` the row.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pointing.camera.config import Camera
from pointing.camera.crlb import gaussian_crlb
from pointing.camera.geometry import CameraGeometry
from pointing.camera.psf import FWHM_PER_SIGMA, integrated_gaussian_1d, model_and_jacobian
from pointing.camera.sensor import Sensor
from pointing.errors import FileFormatError

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
    sigma_x, sigma_y : 1-sigma uncertainty of the centroid, pixels
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
        when the camera geometry is known (azimuth from north through east)
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
# input


def load_frame(frame: Any) -> np.ndarray:
    """A frame as a 2-D native-endian array: an array-like or a FITS file path.

    The first HDU holding a 2-D image is used (a leading axis of length 1 is
    dropped).  Raises :class:`~pointing.errors.FileFormatError` naming the
    file when it cannot be read or holds no image, ``ValueError`` for arrays
    that are not 2-D.
    """
    if isinstance(frame, str | os.PathLike):
        return _read_fits(Path(frame))
    arr = np.asarray(frame)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"frame must be a 2-D image, got an array of shape {arr.shape}")
    if arr.dtype.kind not in "uif":
        raise ValueError(f"frame must hold integers or floats, got dtype {arr.dtype}")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _read_fits(path: Path) -> np.ndarray:
    from astropy.io import fits

    if not path.is_file():
        raise FileFormatError(path, None, "no such file")
    try:
        with fits.open(path, memmap=False) as hdul:
            for hdu in hdul:
                data = getattr(hdu, "data", None)
                if isinstance(data, np.ndarray) and data.dtype.fields is None:
                    if data.ndim == 3 and data.shape[0] == 1:
                        data = data[0]
                    if data.ndim == 2 and data.size:
                        return load_frame(np.array(data))
    except (OSError, ValueError, TypeError) as exc:
        raise FileFormatError(path, None, f"cannot read as FITS: {exc}") from None
    raise FileFormatError(path, None, "no 2-D image in any HDU")


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
        residual check only when the fit is visibly poor (about 2 ms for a
        whole 1024×1024 frame, 1.3 ms with ``expected_xy`` and
        ``search_radius``; precise mode about 8 ms)
    fwhm : expected FWHM in pixels (default: the camera's, else 3)
    search_radius : only look within this many pixels of ``expected_xy``
    gain : e⁻/ADU, overrides the camera's
    saturation : saturation level in ADU, overrides the camera's
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
    img = load_frame(frame)
    cam = _resolve_camera(camera)
    sensor = cam.sensor if cam is not None else None
    geometry = cam.geometry if cam is not None else None
    if gain is None and sensor is not None:
        gain = sensor.gain_e_per_adu
    if saturation is None:
        if sensor is not None:
            saturation = sensor.saturation_adu
        elif img.dtype.kind in "ui":
            saturation = float(np.iinfo(img.dtype).max)
    opts = _Options(
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
    )
    mode = "fast" if fast else "precise"
    if img.size == 0 or min(img.shape) < 5:
        return _no_star(img, mode, None)
    det = _detect(img, opts, expected_xy, search_radius)
    if not det.candidates:
        return _no_star(img, mode, det)
    result = None
    # the preferred candidate; if it turns out to be no star, the next ones
    for target in _ranked(det.candidates, expected_xy)[:3]:
        others = [c for c in det.candidates if c is not target]
        result = _measure_local(img, target, others, det, opts)
        if result is not None:
            break
    if result is None:
        return _no_star(img, mode, det)
    if geometry is not None and result.found:
        a, e = geometry.offset_urad(result.x, result.y)
        result = _replace(result, offset_urad=(float(a), float(e)))
    return result


# ---------------------------------------------------------------------------
# internals


@dataclass(frozen=True)
class _Options:
    fast: bool
    fwhm: float
    gain: float | None
    read_noise_adu: float | None
    bias: float
    saturation: float | None
    detect_sigma: float
    min_snr: float
    max_elongation: float


@dataclass
class _Candidate:
    x: int  # brightest pixel, frame coordinates
    y: int
    score: float  # detection-image value (background-subtracted sum)


@dataclass
class _Detection:
    candidates: list[_Candidate]
    background: float  # typical background per pixel, ADU
    noise: float  # typical background RMS per pixel, ADU
    hot_pixels: int  # lone spikes rejected as candidates


def _replace(m: StarMeasurement, **kw: Any) -> StarMeasurement:
    from dataclasses import replace

    return replace(m, **kw)


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


def _no_star(img: np.ndarray, mode: str, det: _Detection | None) -> StarMeasurement:
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


def _ranked(cands: list[_Candidate],
            expected_xy: tuple[float, float] | None) -> list[_Candidate]:
    """Candidates nearest *expected_xy* first, else brightest first."""
    if expected_xy is None:
        return sorted(cands, key=lambda c: -c.score)
    ex, ey = expected_xy
    return sorted(cands, key=lambda c: (c.x - ex) ** 2 + (c.y - ey) ** 2)


# -- detection ----------------------------------------------------------------


def _bin(img: np.ndarray, k: int) -> np.ndarray:
    """Sum k×k blocks (the remainder rows/columns are dropped)."""
    h, w = (img.shape[0] // k) * k, (img.shape[1] // k) * k
    if img.dtype.kind in "ui" and img.dtype.itemsize <= 2:
        acc = np.int32
    elif img.dtype.kind == "f" and img.dtype.itemsize <= 4:
        acc = np.float32
    else:
        acc = np.float64
    # whole rows first (contiguous memory), then columns
    if img.flags.c_contiguous and w == img.shape[1]:
        a = np.add.reduce(img[:h].reshape(h // k, k, w), axis=1, dtype=acc)
    else:
        a = img[0:h:k, :w].astype(acc)
        for r in range(1, k):
            np.add(a, img[r:h:k, :w], out=a)
    b = a[:, 0::k].copy()
    for c in range(1, k):
        b += a[:, c::k]
    return b.astype(np.float32) if acc is np.int32 else b


def _upsample(mesh: np.ndarray, box: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a mesh of box×box cells to *shape* (edges held flat)."""

    def axis(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = np.clip((np.arange(n) + 0.5) / box - 0.5, 0.0, m - 1.0)
        i0 = np.minimum(f.astype(int), max(m - 2, 0))
        return i0, np.minimum(i0 + 1, m - 1), f - i0

    y0, y1, fy = axis(shape[0], mesh.shape[0])
    x0, x1, fx = axis(shape[1], mesh.shape[1])
    rows = mesh[y0] * (1.0 - fy)[:, None] + mesh[y1] * fy[:, None]
    return rows[:, x0] * (1.0 - fx) + rows[:, x1] * fx


def _mesh_background(b: np.ndarray) -> np.ndarray | float:
    """Median of meshes (a 3×3 median filter over them), bilinear in between.

    Returns a scalar when the meshes agree to a fifth of the pixel noise (a
    flat background: the common case, and a cheap one).
    """
    ny, nx = b.shape
    mesh = max(16, min(ny, nx) // 8)
    my, mx = ny // mesh, nx // mesh
    if my < 2 or mx < 2:
        return float(np.median(b))
    # every other pixel of each mesh is plenty for a median, at a quarter of the cost
    m2 = mesh // 2
    sub = b[: my * mesh: 2, : mx * mesh: 2]
    blocks = sub.reshape(my, m2, mx, m2).transpose(0, 2, 1, 3).reshape(my, mx, m2 * m2)
    half = m2 * m2 // 2
    med = np.partition(blocks, half, axis=2)[:, :, half].astype(float)
    if my >= 3 and mx >= 3:
        from scipy.ndimage import median_filter

        med = median_filter(med, size=3, mode="nearest")
    _, noise = _robust_sigma(b[::4, ::4])
    if float(np.ptp(med)) < 0.2 * noise:
        return float(np.median(med))
    return _upsample(med, mesh, b.shape)


def _photutils_background(b: np.ndarray) -> np.ndarray:
    """photutils Background2D meshes (sigma-clipped, 3×3 median-filtered), bilinear.

    Only the low-resolution mesh is taken from photutils: its spline
    interpolation to full size costs more than the rest of the measurement.
    """
    from photutils.background import Background2D

    box = max(16, min(b.shape) // 8)
    try:
        mesh = np.asarray(Background2D(b, box, filter_size=3).background_mesh, dtype=float)
    except ValueError:  # every mesh rejected (e.g. a frame full of stars)
        return _mesh_background(b)
    return _upsample(mesh, box, b.shape)


def _robust_sigma(a: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based sigma of a (finite) array."""
    a = a.ravel()
    if a.size > 20000:
        a = a[:: a.size // 10000]
    mid = a.size // 2
    med = float(np.partition(a, mid)[mid])
    mad = float(np.partition(np.abs(a - med), mid)[mid])
    return med, 1.4826 * mad


def _spike_ratios(fwhm: float) -> tuple[float, float]:
    """Largest pixel/neighbour ratios a real star may show, with a safety margin.

    For a centred star 30 % sharper than the expected FWHM, times 1.5: along a
    row or column, and along a diagonal.
    """
    sigma = 0.7 * fwhm / FWHM_PER_SIGMA
    p = integrated_gaussian_1d(np.array([0.0, 1.0]), 0.0, sigma)[0]
    q = float(p[0] / max(p[1], 1e-300))
    return 1.5 * q, 1.5 * q * q


def _spikes(r: np.ndarray, noise: np.ndarray | float,
            ratios: tuple[float, float]) -> np.ndarray:
    """Pixels that stand alone along some direction: hot pixels, cosmic-ray hits.

    *r* is background-subtracted (NaN where unusable).  A pixel is a spike when,
    along a row, a column or a diagonal, it exceeds both its neighbours by more
    than a real star allows (:func:`_spike_ratios`) plus 5 sigma.  A star's core
    never qualifies: along every direction its neighbours hold a fixed fraction
    of its light.  Lines one pixel wide (cosmic-ray tracks) qualify pixel by
    pixel across the line.
    """
    v = np.where(np.isfinite(r), r, -np.inf)
    ny, nx = v.shape
    # a direction with a neighbour missing (outside, masked) cannot judge
    pad = np.pad(np.where(np.isfinite(r), r, np.inf), 1, constant_values=np.inf)

    def nb(dy: int, dx: int) -> np.ndarray:
        return pad[1 + dy:1 + dy + ny, 1 + dx:1 + dx + nx]

    axis, diag = ratios
    floor = 5.0 * np.asarray(noise)
    out = np.zeros(v.shape, bool)
    for (a, b), ratio in ((((0, -1), (0, 1)), axis), (((-1, 0), (1, 0)), axis),
                          (((-1, -1), (1, 1)), diag), (((-1, 1), (1, -1)), diag)):
        top = np.clip(np.maximum(nb(*a), nb(*b)), 0.0, None)
        out |= v > ratio * top + floor
    return out & (v > floor)


def _detect(img: np.ndarray, opts: _Options, expected_xy: tuple[float, float] | None,
            search_radius: float | None) -> _Detection:
    oy = ox = 0
    sub = img
    if expected_xy is not None and search_radius is not None:
        r = float(search_radius) + 2 * opts.fwhm
        x0 = max(0, math.floor(expected_xy[0] - r))
        x1 = min(img.shape[1], math.ceil(expected_xy[0] + r) + 1)
        y0 = max(0, math.floor(expected_xy[1] - r))
        y1 = min(img.shape[0], math.ceil(expected_xy[1] + r) + 1)
        if x1 - x0 < 5 or y1 - y0 < 5:
            return _Detection([], math.nan, math.nan, 0)
        sub = img[y0:y1, x0:x1]
        ox, oy = x0, y0
    side = min(sub.shape)
    kmax = 8 if opts.fast else 4
    k = 1
    while k < kmax and side // (2 * k) >= 256:
        k *= 2
    if k > 1:
        b = _bin(sub, k)
    else:
        b = sub.astype(np.float32) if sub.dtype.kind != "f" else sub
    finite = np.isfinite(b)
    if not finite.all():
        if not finite.any():
            return _Detection([], math.nan, math.nan, 0)
        b = np.where(finite, b, np.median(b[finite]))
    big = min(b.shape) >= 64
    bkg_map = _photutils_background(b) if (big and not opts.fast) else _mesh_background(b)
    r = b - bkg_map
    n = 2 if k > 1 else 3  # detection box: n×n bins
    rows = r[:-1] + r[1:] if n == 2 else r[:-2] + r[1:-1] + r[2:]
    d = rows[:, :-1] + rows[:, 1:] if n == 2 else rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    _, sig_d = _robust_sigma(d)
    back_pix = float(np.median(bkg_map)) / (k * k)  # typical level (for spike tests)
    if not sig_d > 0:
        # a constant (or nearly) frame: noise from the data's own quantisation
        sig_d = max(float(np.std(d)), 1e-12)
    noise_pix = sig_d / (n * k)
    thr = opts.detect_sigma * sig_d
    above = np.flatnonzero(d > thr)
    if above.size == 0:
        return _Detection([], back_pix, noise_pix, 0)
    if above.size > 4000:
        above = above[np.argpartition(d.ravel()[above], -4000)[-4000:]]
    jj, ii = np.unravel_index(above, d.shape)
    vals = d[jj, ii]
    is_max = np.ones(above.size, bool)
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            if dj or di:  # (off the edge: compared with itself)
                is_max &= d[np.clip(jj + dj, 0, d.shape[0] - 1),
                            np.clip(ii + di, 0, d.shape[1] - 1)] <= vals
    order = np.argsort(-vals[is_max])[:60]
    jj, ii, vals = jj[is_max][order], ii[is_max][order], vals[is_max][order]

    ratios = _spike_ratios(opts.fwhm)
    sep2 = max(1.5 * opts.fwhm, 2.0) ** 2
    cands: list[_Candidate] = []
    hot = 0
    h, w = sub.shape
    for j, i, v in zip(jj.tolist(), ii.tolist(), vals.tolist(), strict=True):
        # the detection box plus a 1-pixel margin, at full resolution
        ya, yb = max(0, j * k - 1), min(h, (j + n) * k + 1)
        xa, xb = max(0, i * k - 1), min(w, (i + n) * k + 1)
        reg = sub[ya:yb, xa:xb].astype(float) - back_pix
        spikes = _spikes(reg, noise_pix, ratios)
        score = v
        if spikes.any():
            inbox = np.zeros_like(spikes)
            inbox[j * k - ya:(j + n) * k - ya, i * k - xa:(i + n) * k - xa] = True
            score -= float(np.sum(reg[spikes & inbox]))
            reg = np.where(spikes, -np.inf, reg)
        if score <= thr:
            hot += 1
            continue
        py, px = np.unravel_index(int(np.nanargmax(np.where(np.isnan(reg), -np.inf, reg))),
                                  reg.shape)
        y, x = oy + ya + py, ox + xa + px
        if any((c.x - x) ** 2 + (c.y - y) ** 2 < sep2 or _same_object(d, k, n, c, x - ox, y - oy,
                                                                     ox, oy, score)
               for c in cands):
            continue
        cands.append(_Candidate(x, y, score))
        if len(cands) >= 30:
            break
    return _Detection(cands, back_pix, noise_pix, hot)


def _same_object(d: np.ndarray, k: int, n: int, c: _Candidate, x: int, y: int,
                 ox: int, oy: int, score: float) -> bool:
    """Whether a ridge of light joins a new detection to candidate *c* (a trail).

    The detection image stays above 3/4 of the fainter peak all along the
    segment between them; two stars show a dip.
    """
    cx, cy = c.x - ox, c.y - oy
    length = math.hypot(x - cx, y - cy)
    if length > 64:
        return False
    t = np.linspace(0.0, 1.0, max(3, int(2 * length / k) + 2))
    half = (n * k - 1) / 2.0
    jj = np.clip(np.rint((cy + t * (y - cy) - half) / k).astype(int), 0, d.shape[0] - 1)
    ii = np.clip(np.rint((cx + t * (x - cx) - half) / k).astype(int), 0, d.shape[1] - 1)
    return bool(np.min(d[jj, ii]) >= 0.75 * min(score, c.score))


# -- local measurement ----------------------------------------------------------


def _measure_local(img: np.ndarray, target: _Candidate, others: list[_Candidate],
                   det: _Detection, opts: _Options) -> StarMeasurement | None:
    g = opts.fwhm
    state = None
    for _ in range(2):
        state = _fit_star(img, target, others, det, opts, g)
        if state is None:
            break
        # a star much wider than expected (defocus, trail): widen the windows
        wide = (state["fwhm"] if not state["fit_failed"]
                else g * state["elongation"][0] if math.isfinite(state["elongation"][0])
                else 2 * g)
        if not (wide > 1.3 * g and g < 20.0):
            break
        g = min(wide, 20.0)
    if state is None:
        return None
    return _finish(img, state, others, opts)


def _background_plane(r: np.ndarray, dx: np.ndarray, dy: np.ndarray, sel: np.ndarray,
                      iterations: int = 4) -> tuple[np.ndarray, float, int]:
    """Sigma-clipped (3 sigma) plane ``b0 + b1·dx + b2·dy`` through the selected pixels.

    Returns the coefficients, the RMS of the kept pixels about the plane and
    their number.
    """
    z, x, y = r[sel], dx[sel], dy[sel]
    coef = np.array([np.median(z), 0.0, 0.0])
    keep = np.ones(z.size, bool)
    sigma = math.nan
    fit_plane = z.size >= 30
    for _ in range(iterations):
        res = z - (coef[0] + coef[1] * x + coef[2] * y)
        med, sigma = _robust_sigma(res[keep]) if np.count_nonzero(keep) >= 5 else (0.0, math.nan)
        if not sigma > 0:
            sigma = float(np.std(res[keep])) if keep.any() else math.nan
        new_keep = np.abs(res - med) <= 3.0 * max(sigma, 1e-12)
        if fit_plane and new_keep.sum() >= 10:
            xk, yk, zk = x[new_keep], y[new_keep], z[new_keep]
            sx, sy = float(xk.sum()), float(yk.sum())
            normal = np.array([[xk.size, sx, sy],
                               [sx, float(xk @ xk), float(xk @ yk)],
                               [sy, float(xk @ yk), float(yk @ yk)]])
            rhs = np.array([float(zk.sum()), float(xk @ zk), float(yk @ zk)])
            try:
                coef = np.linalg.solve(normal, rhs)
            except np.linalg.LinAlgError:
                coef = np.array([np.median(zk), 0.0, 0.0])
        elif new_keep.any():
            coef = np.array([np.median(z[new_keep]), 0.0, 0.0])
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    res = z[keep] - (coef[0] + coef[1] * x[keep] + coef[2] * y[keep])
    # std of the kept residuals, corrected for the 3-sigma clip (factor 1.0135)
    std = float(np.std(res)) * 1.0135 if res.size > 3 else sigma
    return coef, std, int(keep.sum())


def _windowed_centroid(r: np.ndarray, xs: np.ndarray, ys: np.ndarray, ok: np.ndarray,
                       x: float, y: float, sigma: float) -> tuple[float, float]:
    rr = np.where(ok, r, 0.0)
    for _ in range(5):
        wx = np.exp(-0.5 * ((xs - x) / sigma) ** 2)
        wy = np.exp(-0.5 * ((ys - y) / sigma) ** 2)
        wgt = np.outer(wy, wx) * rr
        s = wgt.sum()
        if not s > 0:
            break
        nx, ny = float((wgt.sum(axis=0) * xs).sum() / s), float((wgt.sum(axis=1) * ys).sum() / s)
        if not (abs(nx - x) < 2 * sigma and abs(ny - y) < 2 * sigma):
            break
        done = abs(nx - x) < 1e-3 and abs(ny - y) < 1e-3
        x, y = nx, ny
        if done:
            break
    return x, y


def _lm_fit(r: np.ndarray, xs: np.ndarray, ys: np.ndarray, use: np.ndarray,
            p: np.ndarray, var_b: float, shot: float, circular: bool,
            max_iter: int, tol: float = 1e-2) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """Levenberg–Marquardt with iteratively reweighted variance ``var_b + shot·star``.

    Converged when a step moves the centre by less than *tol* times its
    uncertainty.  Returns parameters, covariance, chi², degrees of freedom,
    convergence.
    """
    free = np.array([0, 1, 2, 3, 5]) if circular else np.arange(6)
    d = r[use]
    lam = 1e-3
    # the centre may sit a little beyond the window (a star cut by the frame edge)
    margin = 2.0 * p[3] * FWHM_PER_SIGMA
    wide = 0.5 * (xs.size + ys.size)
    lo = np.array([xs[0] - 0.5 - margin, ys[0] - 0.5 - margin, 1e-12, 0.25, 0.25, -np.inf])
    hi = np.array([xs[-1] + 0.5 + margin, ys[-1] + 0.5 + margin, np.inf, wide, wide, np.inf])
    converged = False

    def evaluate(par: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        star, jac, _ = model_and_jacobian(xs, ys, par, circular)
        return star[use], jac[use.ravel()]

    star, jac = evaluate(p)
    for _ in range(max_iter):
        w = 1.0 / np.sqrt(var_b + shot * np.clip(star, 0.0, None))
        res = (d - star - p[5]) * w
        chi2 = float(res @ res)
        jw = jac * w[:, None]
        a = jw.T @ jw
        grad = jw.T @ res
        diag = np.diag(a).copy()
        improved = False
        for _ in range(8):
            try:
                step = np.linalg.solve(a + lam * np.diag(diag), grad)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            q = p.copy()
            q[free] += step
            if circular:
                q[4] = q[3]
            q = np.clip(q, lo, hi)
            s_new, j_new = evaluate(q)
            r_new = (d - s_new - q[5]) * w
            if float(r_new @ r_new) <= chi2:
                p, star, jac = q, s_new, j_new
                lam = max(lam * 0.1, 1e-9)
                improved = True
                break
            lam *= 10.0
        if not improved:
            converged = True  # no step lowers chi²: at the minimum
            break
        # converged when the step is far below the position's own uncertainty
        with np.errstate(invalid="ignore", divide="ignore"):
            limit = tol * np.sqrt(np.abs(1.0 / np.diag(a)[:2])) + 1e-6
        if abs(step[0]) < limit[0] and abs(step[1]) < limit[1]:
            converged = True
            break
    w = 1.0 / np.sqrt(var_b + shot * np.clip(star, 0.0, None))
    res = (d - star - p[5]) * w
    jw = jac * w[:, None]
    try:
        cov = np.linalg.inv(jw.T @ jw)
    except np.linalg.LinAlgError:
        cov = np.full((free.size, free.size), np.nan)
    full = np.full((6, 6), np.nan)
    full[np.ix_(free, free)] = cov
    if circular:
        full[4, 4] = full[3, 3]
    return p, full, float(res @ res), max(int(d.size) - free.size, 1), converged


def _fit_star(img: np.ndarray, target: _Candidate, others: list[_Candidate],
              det: _Detection, opts: _Options, g: float) -> dict | None:
    """Background, masks and Gaussian fit on a cutout about *target*; None if no star."""
    fast = opts.fast
    h, w = img.shape
    sigma0 = g / FWHM_PER_SIGMA
    if fast:
        r_fit = max(2.0 * g, 3.0)
        r_in, r_out = r_fit + 1.0, r_fit + 4.0
    else:
        r_fit = max(2.5 * g, 4.0)
        r_in = max(3.0 * g, r_fit + 1.0)
        r_out = r_in + max(4.0, 2.0 * g)
    half = math.ceil(r_out)
    cx, cy = target.x, target.y
    x0, x1 = max(0, cx - half), min(w, cx + half + 1)
    y0, y1 = max(0, cy - half), min(h, cy + half + 1)
    raw = img[y0:y1, x0:x1]
    data = raw.astype(float)
    xs = np.arange(x0, x1, dtype=float)
    ys = np.arange(y0, y1, dtype=float)
    dx = xs[None, :] - cx
    dy = ys[:, None] - cy
    rad2 = dx * dx + dy * dy

    bad = ~np.isfinite(data)
    data = np.where(bad, 0.0, data)
    # saturation: known level, else a flat top of >= 3 equal maximal pixels
    sat_level = opts.saturation
    core = rad2 <= (1.5 * g) ** 2
    if sat_level is None and np.any(core & ~bad):
        top = float(data[core & ~bad].max())
        if (np.count_nonzero((data == top) & core & ~bad) >= 3
                and top > det.background + 20 * max(det.noise, 1e-12)):
            sat_level = top
    at_limit = (data >= sat_level) & ~bad if sat_level is not None else np.zeros_like(bad)
    neighbour = np.zeros_like(bad)
    crowded = False
    crowd_r2 = (r_fit + 2.0 * g) ** 2
    for c in others:
        d2 = (c.x - cx) ** 2 + (c.y - cy) ** 2
        if d2 <= crowd_r2:
            crowded = True
        if (d2 > (2.0 * g) ** 2 and x0 - 2 * g <= c.x < x1 + 2 * g
                and y0 - 2 * g <= c.y < y1 + 2 * g):
            neighbour |= ((xs[None, :] - c.x) ** 2 + (ys[:, None] - c.y) ** 2) <= (1.5 * g) ** 2

    # background: sigma-clipped plane through the annulus
    ann = (rad2 >= r_in * r_in) & (rad2 <= r_out * r_out) & ~(bad | at_limit | neighbour)
    if np.count_nonzero(ann) < 12:
        ann = (rad2 >= (1.5 * g) ** 2) & ~(bad | at_limit | neighbour)
    if np.count_nonzero(ann) >= 8:
        coef, sig_b, _ = _background_plane(data, np.broadcast_to(dx, data.shape),
                                           np.broadcast_to(dy, data.shape), ann,
                                           iterations=1 if fast else 4)
    else:
        coef, sig_b = np.array([det.background, 0.0, 0.0]), det.noise
    if not (sig_b > 0):
        sig_b = det.noise if det.noise > 0 else 1.0
    if opts.read_noise_adu:
        sig_b = max(sig_b, 0.5 * opts.read_noise_adu)
    plane = coef[0] + coef[1] * dx + coef[2] * dy
    r = data - plane
    var_b = sig_b * sig_b
    shot = 1.0 / opts.gain if opts.gain else 0.0

    # lone spikes (hot pixels, cosmic-ray hits), including hot pixels stuck at
    # full scale; what is left at the saturation level is a saturated star
    noise = np.sqrt(var_b + shot * np.clip(r, 0.0, None))
    hot = _spikes(np.where(bad | neighbour, np.nan, r), noise, _spike_ratios(g))
    saturated = at_limit & ~hot
    masked = bad | saturated | neighbour | hot

    # fit window (square, about the brightest pixel)
    wx = (xs >= cx - r_fit) & (xs <= cx + r_fit)
    wy = (ys >= cy - r_fit) & (ys <= cy + r_fit)
    win = np.ix_(wy, wx)
    fx, fy = xs[wx], ys[wy]
    rw = r[win]
    ok = ~masked[win]
    if np.count_nonzero(ok) < 8:
        return None
    if fast:  # centre of mass of the 3×3 core: LM takes it from there
        core3 = (np.abs(fx[None, :] - cx) <= 1) & (np.abs(fy[:, None] - cy) <= 1) & ok
        wgt = np.where(core3, np.clip(rw, 0.0, None), 0.0)
        tot = float(wgt.sum())
        xc, yc = ((float((wgt.sum(axis=0) * fx).sum() / tot),
                   float((wgt.sum(axis=1) * fy).sum() / tot)) if tot > 0
                  else (float(cx), float(cy)))
    else:
        xc, yc = _windowed_centroid(rw, fx, fy, ok, float(cx), float(cy), sigma0)
    ap0 = ((fx[None, :] - xc) ** 2 + (fy[:, None] - yc) ** 2) <= (2.0 * g) ** 2
    f0 = float(np.sum(np.where(ok & ap0, rw, 0.0)))
    if not f0 > 0:
        f0 = max(float(np.max(np.where(ok, rw, 0.0))) * 2 * math.pi * sigma0**2, 1e-6)
    p0 = np.array([xc, yc, f0, sigma0, sigma0, 0.0])
    iters = 30

    def fit(use: np.ndarray, start: np.ndarray) -> tuple:
        return _lm_fit(rw, fx, fy, use, start, var_b, shot, circular=fast, max_iter=iters,
                       tol=0.05 if fast else 0.01)

    fit_failed = False
    elong, significant = math.nan, False
    try:
        p, cov, chi2, dof, conv = fit(ok, p0)
        if not opts.gain:
            # unknown gain: the star's shot noise from its own residuals, then refit
            shot = _shot_from_residuals(rw, fx, fy, ok, p, var_b, fast)
            if shot > 0:
                p, cov, chi2, dof, conv = fit(ok, p)
        # elongated (trail, wind shake): the Gaussian cannot fit it, so its
        # residuals say nothing about hot pixels or neighbours
        model = model_and_jacobian(fx, fy, p, False)[0]  # fills the masked pixels
        elong, significant = _moments(
            np.where(ok, rw - p[5], model), fx, fy, p[0], p[1], 2 * math.sqrt(p[3] * p[4]),
            var_b + shot * np.clip(model, 0.0, None))
        if not (significant and elong > opts.max_elongation):
            # residual outliers the spike test let through: mask, refit, keep the
            # mask only for pixels the refit cannot explain either
            # (fast mode looks only when the fit is visibly poor)
            for _ in range(0 if fast and chi2 < 1.5 * dof else 1 if fast else 3):
                cand = _residual_outliers(rw, fx, fy, ok, p, var_b, shot)
                if not cand.any():
                    break
                q = fit(ok & ~cand, p)
                confirmed = cand & _residual_outliers(rw, fx, fy, ok, q[0], var_b, shot,
                                                      local=False)
                if not confirmed.any():
                    break
                ok &= ~confirmed
                hot[win] |= confirmed
                p, cov, chi2, dof, conv = q if np.array_equal(cand, confirmed) else fit(ok, p)
            # a faint neighbour in the residuals
            if not fast:
                nb = _residual_neighbour(rw, fx, fy, ok, p, var_b, shot, opts.detect_sigma, g)
                if nb.any():
                    crowded = True
                    ok &= ~nb
                    neighbour[win] |= nb
                    p, cov, chi2, dof, conv = fit(ok, p)
        # a covariance that is not positive on the position (a fit run into a
        # spike or off the window) is a failed fit, not a measurement
        if not (conv and np.all(np.isfinite(p)) and p[2] > 0
                and not (cov[0, 0] < 0 or cov[1, 1] < 0)):
            fit_failed = True
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        fit_failed = True
    masked = bad | saturated | neighbour | hot
    if fit_failed:
        p = np.array([xc, yc, f0, sigma0, sigma0, 0.0])
        cov = np.full((6, 6), np.nan)
        chi2, dof = math.nan, 1
    return {
        "p": p, "cov": cov, "chi2": chi2, "dof": dof, "fit_failed": fit_failed,
        "fwhm": FWHM_PER_SIGMA * math.sqrt(abs(p[3] * p[4])),
        "raw": raw, "data": data, "r": r, "plane": plane, "coef": coef, "xs": xs, "ys": ys,
        "x0": x0, "y0": y0, "cx": cx, "cy": cy, "var_b": var_b, "shot": shot,
        "masked": masked, "hot": hot, "bad": bad, "saturated": saturated, "crowded": crowded,
        "window": (int(fx[0]), int(fx[-1]), int(fy[0]), int(fy[-1])),
        "r_fit": r_fit, "annulus": (r_in, r_out), "g": g, "sat_level": sat_level,
        "elongation": (elong, significant),
    }


def _shot_from_residuals(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                         p: np.ndarray, var_b: float, circular: bool) -> float:
    """Star shot-noise coefficient (1/gain) from the excess residual variance.

    Fits ``E[res²] = (1 − h)·(var_b + k·star)`` for ``k`` over the fitted
    pixels, ``h`` the leverage of each pixel in a fit weighted by the
    background alone (the core pixels fix flux and width, so their residuals
    are shrunk).
    """
    star, jac, _ = model_and_jacobian(fx, fy, p, circular)
    use = ok.ravel()
    m = star.ravel()[use]
    j = jac[use]
    try:
        hat = np.einsum("ij,jk,ik->i", j, np.linalg.inv(j.T @ j), j)
    except np.linalg.LinAlgError:
        return 0.0
    keep = hat < 0.9
    res2 = (rw.ravel()[use] - m - p[5]) ** 2
    excess = res2[keep] / (1.0 - hat[keep]) - var_b
    mk = m[keep]
    den = float(mk @ mk)
    if not den > 0:
        return 0.0
    return max(float(mk @ excess) / den, 0.0)


def _mismatch(res: np.ndarray, sig: np.ndarray, ok: np.ndarray) -> float:
    """Residual scatter beyond the noise (ADU): how badly the profile fits.

    Near zero when the Gaussian describes the star; large for a bright star
    of another shape (Moffat wings at SNR 1000), where the outlier and
    neighbour tests must not mistake the mismatch for hot pixels or stars.
    """
    if np.count_nonzero(ok) < 8:
        return 0.0
    _, scale = _robust_sigma(res[ok])
    noise2 = float(np.median(sig[ok] ** 2))
    return math.sqrt(max(scale * scale - noise2, 0.0))


def _residual_outliers(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                       p: np.ndarray, var_b: float, shot: float,
                       local: bool = True) -> np.ndarray:
    """Pixels more than 5 sigma off the fitted star.

    Sigma is the pixel's noise combined with the fit's profile mismatch
    (:func:`_mismatch`).  With *local* (finding candidates), the residual must
    also stand out from the median residual of its neighbours, by 5 times their
    own spread (a smooth mismatch is not an outlier), or be the worst pixel of
    the window; without (confirming after a refit that left the candidates
    out), it must stay off the refitted star.  In the star's core only what
    the model cannot be counts: a residual of more than half the model there.
    """
    star = model_and_jacobian(fx, fy, p, False)[0]
    res = rw - star - p[5]
    sig = np.sqrt(var_b + shot * np.clip(star, 0.0, None))
    extra = _mismatch(res, sig, ok)
    sig = np.sqrt(sig * sig + extra * extra)
    dev = res
    worst = np.zeros_like(ok)
    if local:
        # the single worst pixel, whatever its neighbours: a hot pixel that pulled
        # the fit blurs its own local contrast (the refit will tell)
        z = np.where(ok, np.abs(res) / sig, 0.0)
        k = int(np.argmax(z))
        if z.flat[k] > 5.0:
            worst.flat[k] = True
        # masked and outside neighbours count as zero residual
        pad = np.pad(np.where(ok, res, 0.0), 1)
        ny, nx = res.shape
        stack = np.stack([pad[a:a + ny, b:b + nx] for a in (0, 1, 2) for b in (0, 1, 2)
                          if a != 1 or b != 1])
        stack.sort(axis=0)
        nb_med = 0.5 * (stack[3] + stack[4])
        spread = np.abs(stack - nb_med)
        spread.sort(axis=0)
        nb_mad = 1.4826 * 0.5 * (spread[3] + spread[4])
        dev = res - nb_med
        sig = np.sqrt(sig * sig + nb_mad * nb_mad)
    d2 = (fx[None, :] - p[0]) ** 2 + (fy[:, None] - p[1]) ** 2
    core = d2 <= (FWHM_PER_SIGMA * max(p[3], p[4])) ** 2
    # in the core: more than half the model, or a third of it and lopsided (a
    # profile mismatch is symmetric about the centre, a hot pixel is not)
    core_ok = (np.abs(res) > 0.5 * star) | (
        (np.abs(res) > 0.3 * star)
        & (np.abs(res - _mirrored(np.where(ok, res, np.nan), fx, fy, p[0], p[1])) > 0.3 * star))
    return ok & ((np.abs(dev) > 5.0 * sig) | worst) & (~core | core_ok)


def _mirrored(a: np.ndarray, xs: np.ndarray, ys: np.ndarray, x0: float,
              y0: float) -> np.ndarray:
    """*a* at the point mirrored through (x0, y0), bilinear; NaN where unknown."""
    mx = 2.0 * x0 - xs - xs[0]
    my = 2.0 * y0 - ys - ys[0]
    ix = np.floor(mx).astype(int)
    iy = np.floor(my).astype(int)
    fx_, fy_ = mx - ix, my - iy
    ny, nx = a.shape
    okx = (ix >= 0) & (ix + 1 < nx)
    oky = (iy >= 0) & (iy + 1 < ny)
    ix, iy = np.clip(ix, 0, nx - 2), np.clip(iy, 0, ny - 2)
    out = ((a[np.ix_(iy, ix)] * (1 - fx_)[None, :] + a[np.ix_(iy, ix + 1)] * fx_[None, :])
           * (1 - fy_)[:, None]
           + (a[np.ix_(iy + 1, ix)] * (1 - fx_)[None, :] + a[np.ix_(iy + 1, ix + 1)]
              * fx_[None, :]) * fy_[:, None])
    return np.where(oky[:, None] & okx[None, :], out, np.nan)


def _residual_neighbour(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                        p: np.ndarray, var_b: float, shot: float, detect_sigma: float,
                        g: float) -> np.ndarray:
    """A disc around a faint neighbour: a significant 3×3 residual sum off the core."""
    star = model_and_jacobian(fx, fy, p, False)[0]
    res = rw - star - p[5]
    sig = np.sqrt(var_b + shot * np.clip(star, 0.0, None))
    noise = 3.0 * math.sqrt(var_b + _mismatch(res, sig, ok) ** 2)
    zz = np.where(ok, res, 0.0)
    c = np.cumsum(np.cumsum(np.pad(zz, ((2, 1), (2, 1))), axis=0), axis=1)
    s3 = c[3:, 3:] - c[:-3, 3:] - c[3:, :-3] + c[:-3, :-3]
    d2 = (fx[None, :] - p[0]) ** 2 + (fy[:, None] - p[1]) ** 2
    far = d2 > (2.0 * FWHM_PER_SIGMA * max(p[3], p[4])) ** 2
    cand = np.where(far & ok, s3, -np.inf)
    j, i = np.unravel_index(int(np.argmax(cand)), cand.shape)
    if not cand[j, i] > detect_sigma * noise:
        return np.zeros_like(ok)
    return ((fx[None, :] - fx[i]) ** 2 + (fy[:, None] - fy[j]) ** 2) <= (1.5 * g) ** 2


def _moments(f: np.ndarray, xs: np.ndarray, ys: np.ndarray, x: float, y: float,
             sigma_w: float, var: np.ndarray) -> tuple[float, bool]:
    """Elongation (axis ratio) from Gaussian-weighted moments, and its significance.

    *f* is the background-subtracted star, *var* its per-pixel variance.
    """
    dx = xs[None, :] - x
    dy = ys[:, None] - y
    wgt = np.exp(-0.5 * (dx * dx + dy * dy) / sigma_w**2)
    s = float(np.sum(wgt * f))
    if not s > 0:
        return math.nan, False
    a = float(np.sum(wgt * f * dx * dx))
    b = float(np.sum(wgt * f * dy * dy))
    c = float(np.sum(wgt * f * dx * dy))
    t = a + b
    if not t > 0:
        return math.nan, False
    e1, e2 = (a - b) / t, 2 * c / t
    # delta-method noise of (e1, e2)
    de1 = wgt * ((dx * dx - dy * dy) * t - (a - b) * (dx * dx + dy * dy)) / t**2
    de2 = wgt * (2 * dx * dy * t - 2 * c * (dx * dx + dy * dy)) / t**2
    var_e = 0.5 * float(np.sum((de1 * de1 + de2 * de2) * var))
    e = math.hypot(e1, e2)
    significant = e > 3.0 * math.sqrt(var_e)
    # undo the window (exact for a Gaussian star: Σ⁻¹ = M⁻¹ − W⁻¹), then the pixel width
    mxx, myy, mxy = a / s, b / s, c / s
    lo, hi = _eig2(mxx, myy, mxy)
    lower = math.sqrt(hi / lo) if lo > 0 else math.inf
    det = mxx * myy - mxy * mxy
    if not det > 0:
        return lower, significant
    w2 = 1.0 / sigma_w**2
    ixx, iyy, ixy = myy / det - w2, mxx / det - w2, -mxy / det
    det_i = ixx * iyy - ixy * ixy
    if not det_i > 0 or ixx <= 0:
        return lower, significant  # star larger than the window: the weighted ratio
    lo, hi = _eig2(iyy / det_i - 1 / 12, ixx / det_i - 1 / 12, -ixy / det_i)
    if lo <= 0:
        return lower, significant
    return max(math.sqrt(hi / lo), 1.0), significant


def _eig2(xx: float, yy: float, xy: float) -> tuple[float, float]:
    """Eigenvalues (ascending) of the symmetric matrix [[xx, xy], [xy, yy]]."""
    mean = 0.5 * (xx + yy)
    rad = math.hypot(0.5 * (xx - yy), xy)
    return mean - rad, mean + rad


def _finish(img: np.ndarray, st: dict, others: list[_Candidate],
            opts: _Options) -> StarMeasurement | None:
    p, cov = st["p"], st["cov"]
    x, y, flux_fit, sx, sy, b_const = (float(v) for v in p)
    flags = StarFlag.NONE
    if st["fit_failed"]:
        flags |= StarFlag.FIT_FAILED
    xs, ys, r, masked = st["xs"], st["ys"], st["r"], st["masked"]
    h, w = img.shape
    reach = 0.5 + st["g"]
    if not (xs[0] - reach <= x <= xs[-1] + reach and ys[0] - reach <= y <= ys[-1] + reach):
        return None
    var_b, shot = st["var_b"], st["shot"]
    # uncertainty: the fit's covariance with the measured noise.  Not scaled by
    # the reduced chi²: a symmetric profile mismatch (Moffat wings) inflates chi²
    # at high SNR but does not move the centroid.
    sigma_x = math.sqrt(cov[0, 0]) if np.isfinite(cov[0, 0]) else math.nan
    sigma_y = math.sqrt(cov[1, 1]) if np.isfinite(cov[1, 1]) else math.nan
    gain_eff = opts.gain if opts.gain else (1.0 / shot if shot > 0 else None)
    bound = gaussian_crlb(flux_fit, sx, sy, background_var=var_b, gain=gain_eff, x0=x, y0=y,
                          circular=opts.fast)
    snr = bound.snr if math.isfinite(bound.snr) else 0.0
    if st["fit_failed"]:
        sigma_x = sigma_y = math.nan
    if snr < 3.0 and not st["fit_failed"]:
        return None  # nothing distinguishable from noise
    fwhm = FWHM_PER_SIGMA * math.sqrt(sx * sy)
    r_ap = 2.0 * fwhm
    r_ap = min(r_ap, max(st["annulus"][0] - 0.5, 1.5))
    dx = xs[None, :] - x
    dy = ys[:, None] - y
    d2 = dx * dx + dy * dy
    star = np.outer(integrated_gaussian_1d(ys, y, sy)[0], integrated_gaussian_1d(xs, x, sx)[0])
    star *= flux_fit
    fill = np.where(masked, star + b_const, r)
    aper = d2 <= r_ap * r_ap
    flux = float(np.sum(fill[aper] - b_const))
    coef = st["coef"]
    background = float(coef[0] + coef[1] * (x - st["cx"]) + coef[2] * (y - st["cy"]) + b_const)
    core = d2 <= max(1.0, fwhm) ** 2
    valid = core & ~st["hot"] & ~st["bad"]
    peak = float(st["data"][valid].max()) if valid.any() else math.nan
    var = var_b + shot * np.clip(star, 0.0, None)
    elong, significant = st["elongation"]  # on the fit window
    if not opts.fast:  # on the whole cutout, with every pixel's noise
        el, sg = _moments(fill - b_const, xs, ys, x, y, 2.0 * math.sqrt(sx * sy), var)
        if math.isfinite(el):
            elong, significant = el, sg

    if snr < opts.min_snr:
        flags |= StarFlag.LOW_SNR
    if np.any(st["saturated"] & aper):
        flags |= StarFlag.SATURATED
    if st["crowded"]:
        flags |= StarFlag.CROWDED
    if x - r_ap < -0.5 or y - r_ap < -0.5 or x + r_ap > w - 0.5 or y + r_ap > h - 0.5:
        flags |= StarFlag.EDGE
    if significant and elong > opts.max_elongation:
        flags |= StarFlag.ELONGATED
    wx0, wx1, wy0, wy1 = st["window"]
    in_win = ((xs[None, :] >= wx0 - 1) & (xs[None, :] <= wx1 + 1)
              & (ys[:, None] >= wy0 - 1) & (ys[:, None] <= wy1 + 1))
    if np.any(st["hot"] & in_win):
        flags |= StarFlag.HOT_PIXELS_MASKED
    gain = opts.gain
    cut = Cutout(
        data=st["raw"], x0=st["x0"], y0=st["y0"], background=st["plane"] + b_const,
        masked=masked, hot=st["hot"], saturated=st["saturated"], window=st["window"],
        aperture_radius=r_ap, annulus=st["annulus"],
    )
    return StarMeasurement(
        x=x, y=y, sigma_x=sigma_x, sigma_y=sigma_y, crlb_x=bound.x, crlb_y=bound.y,
        flux=flux, background=background, snr=snr, fwhm=fwhm, peak=peak, flags=flags,
        flux_e=flux * gain if gain else None,
        background_e=(background - opts.bias) * gain if gain else None,
        elongation=elong, mode="fast" if opts.fast else "precise", cutout=cut,
    )
