"""Find the stars of a frame: binning, background map, detection, spike rejection.

The frame is binned by 1–8 (sums of k×k blocks: a cheap matched filter for a
star of a few pixels), a background map is subtracted and 2×2 (3×3 unbinned)
sums of binned pixels above ``detect_sigma`` times their robust RMS are
candidates.  The background map is a mesh of medians with a 3×3 median
filter over the meshes, bilinear in between (:func:`mesh_background`): in
precise mode sigma-clipped on every pixel of each mesh, in fast mode the
plain median of every other pixel.  Both are vectorised numpy
(``np.sort``/``np.partition`` on reshaped blocks, ``scipy.ndimage.median_filter``
over the mesh); photutils' ``Background2D``, which precise mode used before,
computes the same kind of map at a fixed cost of 4–5 ms per frame, more than
the whole measurement may take.  Each candidate is checked at full
resolution: a lone spike (hot pixel, cosmic-ray hit) that carries the
detection is rejected (:func:`spikes`).

With numba (:mod:`pointing.camera.compiled`) the binning, the mesh filter
and flat test, the box sums, the peak search and each candidate's check run
compiled, the same arithmetic in one call each; the medians stay numpy's
``np.partition``, whose vectorised selection no compiled loop here beats.
Peaks of equal value are taken in raster order on both paths.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from pointing.camera import compiled
from pointing.camera.psf import FWHM_PER_SIGMA, integrated_gaussian_1d

__all__ = ["Candidate", "Detection", "bin_sum", "clipped_medians", "detect", "median",
           "mesh_background", "robust_sigma", "spike_ratios", "spikes", "upsample"]


@dataclass
class Candidate:
    """A detected star: its brightest pixel (frame coordinates) and detection score."""

    x: int
    y: int
    score: float  # detection-image value (background-subtracted sum)


@dataclass
class Detection:
    """The candidates of a frame and its typical background level and noise (ADU/px)."""

    candidates: list[Candidate]
    background: float  # typical background per pixel, ADU
    noise: float  # typical background RMS per pixel, ADU
    hot_pixels: int  # lone spikes rejected as candidates


def bin_sum(img: np.ndarray, k: int) -> np.ndarray:
    """Sum k×k blocks (the remainder rows/columns are dropped)."""
    h, w = (img.shape[0] // k) * k, (img.shape[1] // k) * k
    jit = compiled.kernels()
    if jit is not None and img.dtype.kind in "ui" and img.dtype.itemsize <= 2 and k <= 8:
        return jit.bin_sum_int(img, k)  # one pass, the same exact sums
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
    # integer sums up to 8×8×65535 are exact in float32 (< 2^24)
    b = np.add(a[:, 0::k], a[:, 1::k], dtype=np.float32 if acc is np.int32 else acc)
    for c in range(2, k):
        b += a[:, c::k]
    return b


def upsample(mesh: np.ndarray, box: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a mesh of box×box cells to *shape* (edges held flat)."""

    def axis(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = np.clip((np.arange(n) + 0.5) / box - 0.5, 0.0, m - 1.0)
        i0 = np.minimum(f.astype(int), max(m - 2, 0))
        return i0, np.minimum(i0 + 1, m - 1), f - i0

    y0, y1, fy = axis(shape[0], mesh.shape[0])
    x0, x1, fx = axis(shape[1], mesh.shape[1])
    rows = mesh[y0] * (1.0 - fy)[:, None] + mesh[y1] * fy[:, None]
    return rows[:, x0] * (1.0 - fx) + rows[:, x1] * fx


def mesh_background(b: np.ndarray, *, clipped: bool = False) -> np.ndarray | float:
    """Background map: medians of meshes, a 3×3 median filter over them, bilinear between.

    Meshes are ``max(16, side / 8)`` pixels square, of which every other
    pixel (a quarter, plenty for a median) is used on images of more than
    65536 pixels; fewer than 4 × 4 meshes give one median for the image (a
    search region about the expected star).  With *clipped* (precise mode)
    each mesh's median is sigma-clipped (:func:`clipped_medians`), so the
    stars in a mesh do not lift it; without, the plain median.  Returns a
    scalar when the meshes agree to 0.3 of the pixel noise (a flat
    background: the common case, and a cheap one; a mesh median's own noise
    is 0.08–0.16 of it, and what is left shifts a detection box by less than
    half its noise).
    """
    ny, nx = b.shape
    mesh = max(16, min(ny, nx) // 8) // 2 * 2  # even: every other pixel
    my, mx = ny // mesh, nx // mesh
    if my < 4 or mx < 4:
        return median(b)
    # every other pixel of a big image's meshes (a quarter, plenty for a median);
    # every pixel of a small one's, whose meshes hold few
    step = 2 if b.size > 65536 else 1
    m2 = mesh // step
    sub = b[: my * mesh: step, : mx * mesh: step]
    blocks = sub.reshape(my, m2, mx, m2).transpose(0, 2, 1, 3).reshape(my * mx, m2 * m2)
    if clipped:
        med = clipped_medians(blocks).reshape(my, mx)
    else:
        half = m2 * m2 // 2
        if np.may_share_memory(blocks, b):  # a view (one mesh wide): never reorder b
            blocks = blocks.copy()
        blocks.partition(half, axis=1)
        med = blocks[:, half].astype(float).reshape(my, mx)
    _, noise = robust_sigma(b[::4, ::4])
    jit = compiled.kernels()
    if jit is not None:  # the filter, the flat test and the level in one compiled call
        med, flat, level = jit.mesh_level(med, noise)
        return float(level) if flat else upsample(med, mesh, b.shape)
    if my >= 3 and mx >= 3:
        med = median_filter(med, size=3, mode="nearest")
    if float(np.ptp(med)) < 0.3 * noise:
        return median(med)
    return upsample(med, mesh, b.shape)


def clipped_medians(blocks: np.ndarray, sigma: float = 3.0, iterations: int = 2) -> np.ndarray:
    """Sigma-clipped median of each row of *blocks* (m, n), all rows at once.

    Sigma clipping as astropy's ``SigmaClip`` with a robust scale (centre the
    median, scale half the 15.9–84.1 percentile range, which is the standard
    deviation for Gaussian noise and ignores the stars; clip at ±*sigma*, at
    most *iterations* times), vectorised: after one sort the pixels a clip
    keeps are a contiguous run of each sorted row, so its median and
    percentiles are indices, and the new run's ends one ``searchsorted`` on
    the rows laid end to end.  Returns an array of m floats.
    """
    m, n = blocks.shape
    s = np.sort(blocks, axis=1)
    lo_v, hi_v = s[:, 0].astype(float), s[:, -1].astype(float)
    # rows laid end to end in one increasing sequence, for one searchsorted
    shift = np.arange(m) * (3.0 * float(np.max(hi_v - lo_v)) + 1.0) - lo_v
    flat = (s + shift[:, None]).ravel()  # float64
    base = np.arange(m) * n
    lo = np.zeros(m, dtype=np.intp)
    hi = np.full(m, n, dtype=np.intp)
    for _ in range(iterations):
        cnt = hi - lo
        med = 0.5 * (flat[base + lo + (cnt - 1) // 2] + flat[base + lo + cnt // 2]) - shift
        scale = 0.5 * (flat[base + lo + (cnt * 841) // 1000]
                       - flat[base + lo + (cnt * 159) // 1000])
        # clip bounds, kept inside each row's own stretch of the sequence
        low = np.maximum(med - sigma * scale, lo_v) + shift
        high = np.minimum(med + sigma * scale, hi_v) + shift
        new_lo = np.searchsorted(flat, low, side="left") - base
        new_hi = np.maximum(np.searchsorted(flat, high, side="right") - base, new_lo + 1)
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break
        lo, hi = new_lo, new_hi
    cnt = hi - lo
    return 0.5 * (flat[base + lo + (cnt - 1) // 2] + flat[base + lo + cnt // 2]) - shift


def median(a: np.ndarray) -> float:
    """``np.median`` of a (finite) array by one partition, without its overhead."""
    a = np.ravel(a)
    k = a.size // 2
    if a.size % 2:
        return float(np.partition(a, k)[k])
    part = np.partition(a, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2)  # in the array's own type, as np.median


def robust_sigma(a: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based sigma of a (finite) array."""
    a = a.ravel()
    if a.size > 20000:
        a = a[:: a.size // 10000]
    mid = a.size // 2
    med = float(np.partition(a, mid)[mid])
    dev = a - med
    np.abs(dev, out=dev)
    dev.partition(mid)  # in place: dev is our own
    return med, 1.4826 * float(dev[mid])


@functools.lru_cache(maxsize=64)
def spike_ratios(fwhm: float) -> tuple[float, float]:
    """Largest pixel/neighbour ratios a real star may show, with a safety margin.

    For a centred star 30 % sharper than the expected FWHM, times 1.5: along a
    row or column, and along a diagonal.
    """
    sigma = 0.7 * fwhm / FWHM_PER_SIGMA
    p = integrated_gaussian_1d(np.array([0.0, 1.0]), 0.0, sigma)[0]
    q = float(p[0] / max(p[1], 1e-300))
    return 1.5 * q, 1.5 * q * q


def spikes(r: np.ndarray, noise: np.ndarray | float,
            ratios: tuple[float, float]) -> np.ndarray:
    """Pixels that stand alone along some direction: hot pixels, cosmic-ray hits.

    *r* is background-subtracted (NaN where unusable).  A pixel is a spike when,
    along a row, a column or a diagonal, it exceeds both its neighbours by more
    than a real star allows (:func:`spike_ratios`) plus 5 sigma.  A star's core
    never qualifies: along every direction its neighbours hold a fixed fraction
    of its light.  Lines one pixel wide (cosmic-ray tracks) qualify pixel by
    pixel across the line.
    """
    jit = compiled.kernels()
    if jit is not None:
        floor = np.broadcast_to(5.0 * np.asarray(noise, dtype=float), r.shape)
        return jit.spikes(np.asarray(r, dtype=float), np.ascontiguousarray(floor), *ratios)
    finite = np.isfinite(r)
    v = np.where(finite, r, -np.inf)
    ny, nx = v.shape
    # a direction with a neighbour missing (outside, masked) cannot judge
    pad = np.full((ny + 2, nx + 2), np.inf)
    pad[1:-1, 1:-1] = np.where(finite, r, np.inf)

    def nb(dy: int, dx: int) -> np.ndarray:
        return pad[1 + dy:1 + dy + ny, 1 + dx:1 + dx + nx]

    axis, diag = ratios
    floor = 5.0 * np.asarray(noise)
    out = np.zeros(v.shape, bool)
    for (a, b), ratio in ((((0, -1), (0, 1)), axis), (((-1, 0), (1, 0)), axis),
                          (((-1, -1), (1, 1)), diag), (((-1, 1), (1, -1)), diag)):
        top = np.maximum(np.maximum(nb(*a), nb(*b)), 0.0)
        out |= v > ratio * top + floor
    return out & (v > floor)


def detect(img: np.ndarray, *, fwhm: float, fast: bool, detect_sigma: float,
           expected_xy: tuple[float, float] | None = None,
           search_radius: float | None = None) -> Detection:
    """Candidate stars of a frame, brightest first (see the module docstring).

    *fwhm* (pixels) sizes the spike test and the candidates' separation;
    *fast* bins coarser and takes the plain mesh median as background;
    candidates are detection-image values above *detect_sigma* times its
    robust RMS; with *expected_xy* and *search_radius* only that part of the
    frame is searched.
    """
    region = _search_region(img, fwhm, expected_xy, search_radius)
    if region is None:
        return Detection([], math.nan, math.nan, 0)
    sub, ox, oy = region
    # bin to a side of 256 (precise) or 128 (fast) pixels, by at most 4 or 8: a
    # 3 px FWHM star stays whole in the 2×2-bin detection box
    side = min(sub.shape)
    kmax, keep = (8, 128) if fast else (4, 256)
    k = 1
    while k < kmax and side // (2 * k) >= keep:
        k *= 2
    if k > 1:
        b = bin_sum(sub, k)
    else:
        b = sub.astype(np.float32) if sub.dtype.kind != "f" else sub
    if sub.dtype.kind == "f":  # (sums of integers are finite)
        finite = np.isfinite(b)
        if not finite.all():
            if not finite.any():
                return Detection([], math.nan, math.nan, 0)
            b = np.where(finite, b, median(b[finite]))
    big = min(b.shape) >= 64
    bkg_map = mesh_background(b, clipped=big and not fast)
    n = 2 if k > 1 else 3  # detection box: n×n bins
    d = _box_sums(b, bkg_map, n)
    _, sig_d = robust_sigma(d)
    # typical level per pixel (for the spike tests)
    back_pix = (bkg_map if isinstance(bkg_map, float) else median(bkg_map)) / (k * k)
    if not sig_d > 0:
        # a constant (or nearly) frame: noise from the data's own quantisation
        sig_d = max(float(np.std(d)), 1e-12)
    noise_pix = sig_d / (n * k)
    thr = detect_sigma * sig_d
    peaks = _peaks(d, thr)
    if peaks is None:
        return Detection([], back_pix, noise_pix, 0)
    return _confirm(sub, ox, oy, d, k, n, peaks, thr, back_pix, noise_pix, fwhm)


def _box_sums(b: np.ndarray, bkg: np.ndarray | float, n: int) -> np.ndarray:
    """Sums of n×n boxes (n = 2 or 3) of ``b - bkg``, rows first, in that difference's type."""
    jit = compiled.kernels()
    if jit is not None and isinstance(bkg, float):  # one pass, the same differences and sums
        return jit.box_sums(np.ascontiguousarray(b), np.array([bkg], dtype=b.dtype), n)
    r = b - bkg
    if jit is not None:
        return jit.box_sums(np.ascontiguousarray(r), np.zeros(1, r.dtype), n)
    rows = r[:-1] + r[1:] if n == 2 else r[:-2] + r[1:-1] + r[2:]
    return rows[:, :-1] + rows[:, 1:] if n == 2 else rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]


def _search_region(img: np.ndarray, fwhm: float, expected_xy: tuple[float, float] | None,
                   search_radius: float | None) -> tuple[np.ndarray, int, int] | None:
    """The part of the frame to search and its origin; None if too small."""
    if expected_xy is None or search_radius is None:
        return img, 0, 0
    r = float(search_radius) + 2 * fwhm
    x0 = max(0, math.floor(expected_xy[0] - r))
    x1 = min(img.shape[1], math.ceil(expected_xy[0] + r) + 1)
    y0 = max(0, math.floor(expected_xy[1] - r))
    y1 = min(img.shape[0], math.ceil(expected_xy[1] + r) + 1)
    if x1 - x0 < 5 or y1 - y0 < 5:
        return None
    return img[y0:y1, x0:x1], x0, y0


#: the 8 neighbours of a pixel, as row and column offsets
_DJ = np.array([-1, -1, -1, 0, 0, 1, 1, 1])
_DI = np.array([-1, 0, 1, -1, 1, -1, 0, 1])


def _peaks(d: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Local maxima of the detection image above *thr*, brightest 60 first."""
    jit = compiled.kernels()
    if jit is not None:  # the same maxima in the same order, one compiled call
        jj, ii, vals = jit.peaks(d, float(thr), 4000, 60)
        return (jj, ii, vals) if vals.size else None
    above = np.flatnonzero(d > thr)
    if above.size == 0:
        return None
    if above.size > 4000:  # the 4000 brightest (ties in raster order), in raster order
        above = np.sort(above[np.argsort(-d.ravel()[above], kind="stable")[:4000]])
    # a local maximum: no neighbour higher (off the edge: compared with itself)
    ny, nx = d.shape
    jj, ii = np.divmod(above, nx)
    nbj = np.clip(jj[:, None] + _DJ, 0, ny - 1)
    nbi = np.clip(ii[:, None] + _DI, 0, nx - 1)
    vals = d.ravel()[above]
    is_max = np.all(d[nbj, nbi] <= vals[:, None], axis=1)
    order = np.argsort(-vals[is_max], kind="stable")[:60]  # ties in raster order
    return jj[is_max][order], ii[is_max][order], vals[is_max][order]


def _confirm(sub: np.ndarray, ox: int, oy: int, d: np.ndarray, k: int, n: int,
             peaks: tuple[np.ndarray, np.ndarray, np.ndarray], thr: float, back_pix: float,
             noise_pix: float, fwhm: float) -> Detection:
    """Check each peak at full resolution: drop lone spikes, duplicates and trail pieces."""
    ratios = spike_ratios(fwhm)
    sep2 = max(1.5 * fwhm, 2.0) ** 2
    cands: list[Candidate] = []
    hot = 0
    h, w = sub.shape
    jit = compiled.kernels()
    for j, i, v in zip(*(a.tolist() for a in peaks), strict=True):
        # the detection box plus a 1-pixel margin, at full resolution
        ya, yb = max(0, j * k - 1), min(h, (j + n) * k + 1)
        xa, xb = max(0, i * k - 1), min(w, (i + n) * k + 1)
        box = (j * k - ya, (j + n) * k - ya, i * k - xa, (i + n) * k - xa)
        if jit is not None:  # the same test and peak in one compiled call
            in_spikes, _, py, px = jit.confirm_box(sub, ya, yb, xa, xb, float(back_pix),
                                                   float(noise_pix), *ratios, *box)
            score = v - in_spikes
        else:
            score, py, px = _confirm_numpy(sub[ya:yb, xa:xb], back_pix, noise_pix, ratios,
                                           v, box)
        if score <= thr:
            hot += 1
            continue
        y, x = oy + ya + py, ox + xa + px
        if any((c.x - x) ** 2 + (c.y - y) ** 2 < sep2 or _same_object(d, k, n, c, x - ox, y - oy,
                                                                     ox, oy, score)
               for c in cands):
            continue
        cands.append(Candidate(x, y, score))
        if len(cands) >= 30:
            break
    return Detection(cands, back_pix, noise_pix, hot)


def _confirm_numpy(part: np.ndarray, back_pix: float, noise_pix: float,
                   ratios: tuple[float, float], v: float,
                   box: tuple[int, int, int, int]) -> tuple[float, int, int]:
    """A peak's score less the spikes in its detection *box* (rows, columns of *part*),
    and its brightest pixel that is no spike (row, column of *part*)."""
    reg = part.astype(float) - back_pix
    spiky = spikes(reg, noise_pix, ratios)
    score = v
    if spiky.any():
        inbox = np.zeros_like(spiky)
        inbox[box[0]:box[1], box[2]:box[3]] = True
        score -= float(np.sum(reg[spiky & inbox]))
        reg = np.where(spiky, -np.inf, reg)
    py, px = np.unravel_index(int(np.nanargmax(np.where(np.isnan(reg), -np.inf, reg))),
                              reg.shape)
    return score, int(py), int(px)


def _same_object(d: np.ndarray, k: int, n: int, c: Candidate, x: int, y: int,
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
