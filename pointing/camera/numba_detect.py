"""The numba-compiled kernels of the detection (:mod:`pointing.camera.detect`) and the
selection helpers the cut-out kernels share; re-exported by
:mod:`pointing.camera.numba_kernels`, the kernels' one namespace (see
:mod:`pointing.camera.compiled`).  Imported lazily, with numba.
"""

from __future__ import annotations

import math

import numba
import numpy as np

njit = numba.njit(cache=True, nogil=True)
helper = numba.njit(cache=True, nogil=True, inline="always")


@njit
def bin_sum_int(img, k):
    """k×k block sums (k ≤ 8) of a 16-bit integer frame as float32, exact.

    float32 sums of up to 8×8 16-bit values are exact (< 2^24): rows are
    added first into one buffer (a vectorised pass over contiguous memory),
    then each block's k columns.
    """
    h, w = img.shape[0] // k, img.shape[1] // k
    out = np.empty((h, w), np.float32)
    acc = np.empty(w * k, np.float32)
    for j in range(h):
        r0 = j * k
        for i in range(w * k):
            acc[i] = np.float32(img[r0, i])
        for r in range(r0 + 1, r0 + k):
            for i in range(w * k):
                acc[i] += np.float32(img[r, i])
        o = out[j]
        # the columns written out for the usual k: a loop over c does not vectorise
        if k == 2:
            for i in range(w):
                o[i] = acc[2 * i] + acc[2 * i + 1]
        elif k == 4:
            for i in range(w):
                o[i] = acc[4 * i] + acc[4 * i + 1] + acc[4 * i + 2] + acc[4 * i + 3]
        elif k == 8:
            for i in range(w):
                c = 8 * i
                o[i] = (acc[c] + acc[c + 1] + acc[c + 2] + acc[c + 3] + acc[c + 4]
                        + acc[c + 5] + acc[c + 6] + acc[c + 7])
        else:
            for i in range(w):
                t = acc[i * k]
                for c in range(1, k):
                    t += acc[i * k + c]
                o[i] = t
    return out


@helper
def neighbour(r, j, i):
    """A neighbour's value; +inf outside the array or where not finite (cannot judge)."""
    if j < 0 or i < 0 or j >= r.shape[0] or i >= r.shape[1]:
        return math.inf
    v = r[j, i]
    return v if math.isfinite(v) else math.inf


@njit
def spikes(r, floor, axis_ratio, diag_ratio):
    """:func:`pointing.camera.detect.spikes` with ``floor`` = 5·noise per pixel."""
    ny, nx = r.shape
    out = np.zeros((ny, nx), np.bool_)
    for j in range(ny):
        for i in range(nx):
            v = r[j, i]
            f = floor[j, i]
            if not (math.isfinite(v) and v > f):
                continue
            for dy, dx, ratio in ((0, 1, axis_ratio), (1, 0, axis_ratio),
                                  (1, 1, diag_ratio), (1, -1, diag_ratio)):
                top = max(max(neighbour(r, j - dy, i - dx), neighbour(r, j + dy, i + dx)), 0.0)
                if v > ratio * top + f:
                    out[j, i] = True
                    break
    return out


@helper
def pymax(a, b):
    """Python's ``max(a, b)``: *a* unless *b* is greater (a NaN *a* stays)."""
    return b if b > a else a


@njit
def select(a, k):
    """The k-th smallest value of *a* (``np.partition(a, k)[k]``), reordering *a* in place
    so that the k values before it are no larger (Hoare's quickselect, median-of-three
    pivots: some times faster than numba's ``np.sort`` on the few hundred values of a
    background annulus)."""
    lo, hi = 0, a.size - 1
    while hi > lo:
        mid = (lo + hi) >> 1
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pv = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pv:
                i += 1
            while a[j] > pv:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


@njit
def upper_median(a):
    """``np.partition(a, n // 2)[n // 2]``."""
    return select(a.copy(), a.size // 2)


@njit
def median(a):
    """:func:`pointing.camera.detect.median`."""
    b = a.copy()
    k = b.size // 2
    v = select(b, k)
    if b.size % 2:
        return v
    below = b[0]  # the largest of the k values before the k-th
    for i in range(1, k):
        below = max(below, b[i])
    return (below + v) / 2


@njit
def box_sums(r, level, n):
    """Sums of n×n boxes (n = 2 or 3) of ``r - level[0]``, in *r*'s type, rows first
    (as numpy: each difference rounded to the type, then the sums)."""
    ny, nx = r.shape[0] - n + 1, r.shape[1] - n + 1
    out = np.empty((ny, nx), r.dtype)
    rows = np.empty(r.shape[1], r.dtype)
    lv = level[0]
    for j in range(ny):
        for i in range(r.shape[1]):
            if n == 2:
                rows[i] = (r[j, i] - lv) + (r[j + 1, i] - lv)
            else:
                rows[i] = (r[j, i] - lv) + (r[j + 1, i] - lv) + (r[j + 2, i] - lv)
        for i in range(nx):
            if n == 2:
                out[j, i] = rows[i] + rows[i + 1]
            else:
                out[j, i] = rows[i] + rows[i + 1] + rows[i + 2]
    return out


@njit
def mesh_level(med, noise):
    """The end of :func:`pointing.camera.detect.mesh_background`: the 3×3 median filter
    over the meshes (``scipy.ndimage.median_filter``, mode "nearest"), then flat or not.

    Returns the filtered meshes, whether they agree to 0.3 of *noise* and, if
    they do, their median.
    """
    my, mx = med.shape
    out = med.copy()
    if my >= 3 and mx >= 3:
        nine = np.empty(9)
        for j in range(my):
            for i in range(mx):
                k = 0
                for a in range(j - 1, j + 2):
                    for c in range(i - 1, i + 2):
                        v = med[min(max(a, 0), my - 1), min(max(c, 0), mx - 1)]
                        m = k  # insertion sort, no allocation
                        while m > 0 and nine[m - 1] > v:
                            nine[m] = nine[m - 1]
                            m -= 1
                        nine[m] = v
                        k += 1
                out[j, i] = nine[4]
    lo, hi = out[0, 0], out[0, 0]
    for j in range(my):
        for i in range(mx):
            lo, hi = min(lo, out[j, i]), max(hi, out[j, i])
    if hi - lo < 0.3 * noise:
        return out, True, median(out.ravel())
    return out, False, math.nan


@njit
def peaks(d, thr, keep, most):
    """:func:`pointing.camera.detect._peaks`: local maxima of *d* above *thr*.

    Of the pixels above, the *keep* brightest (ties in raster order) are
    tested; a local maximum has no neighbour higher (off the edge: compared
    with the edge pixel, as the numpy clip does); the *most* brightest
    maxima are returned, brightest first, ties in raster order.
    """
    ny, nx = d.shape
    flat = d.ravel()
    n = 0
    for k in range(flat.size):
        if flat[k] > thr:
            n += 1
    above = np.empty(n, np.int64)
    n = 0
    for k in range(flat.size):
        if flat[k] > thr:
            above[n] = k
            n += 1
    if n > keep:
        order = np.argsort(-flat[above], kind="mergesort")[:keep]
        above = np.sort(above[order])
    is_max = np.zeros(above.size, np.bool_)
    for m in range(above.size):
        j, i = above[m] // nx, above[m] % nx
        v = flat[above[m]]
        ok = True
        for a in range(j - 1, j + 2):
            for c in range(i - 1, i + 2):
                nb = d[min(max(a, 0), ny - 1), min(max(c, 0), nx - 1)]
                if (a != j or c != i) and not nb <= v:  # as numpy's test (NaN: no maximum)
                    ok = False
        is_max[m] = ok
    idx = above[is_max]
    vals = flat[idx]
    order = np.argsort(-vals, kind="mergesort")[:most]
    idx = idx[order]
    return idx // nx, idx % nx, vals[order]


@njit
def confirm_box(sub, ya, yb, xa, xb, back, noise, axis_ratio, diag_ratio, by0, by1, bx0, bx1):
    """One candidate of :func:`pointing.camera.detect._confirm` at full resolution.

    The region ``sub[ya:yb, xa:xb]`` less *back*: its spikes, the sum of those
    in the detection box (rows *by0:by1*, columns *bx0:bx1* of the region)
    and the brightest pixel that is no spike (first in raster order; NaN
    counts as -inf).  Returns the sum, whether any spike was found, the row
    and the column.
    """
    reg = np.empty((yb - ya, xb - xa))
    for j in range(ya, yb):
        for i in range(xa, xb):
            reg[j - ya, i - xa] = float(sub[j, i]) - back
    floor = np.full(reg.shape, 5.0 * noise)
    spiky = spikes(reg, floor, axis_ratio, diag_ratio)
    total = 0.0
    found = False
    best, bj, bi = -math.inf, 0, 0
    for j in range(reg.shape[0]):
        for i in range(reg.shape[1]):
            if spiky[j, i]:
                found = True
                if by0 <= j < by1 and bx0 <= i < bx1:
                    total += reg[j, i]
            elif reg[j, i] > best:
                best, bj, bi = reg[j, i], j, i
    return total, found, bj, bi
