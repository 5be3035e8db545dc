"""The numba-compiled kernels behind :mod:`pointing.model.compiled` (see there).

Layout: positions are processed in blocks of :data:`BLOCK`; the state of a
block (sines and cosines of azimuth and elevation, the side of the zenith)
lives in the rows of a small workspace, and each term of the model is one
loop over the block.  Those loops have no calls and no data-dependent
branches, so the compiler turns them into SIMD code; the rare positions that
need a trigonometric call (a correction too large for the short series) are
handled by a term-level switch or a fix-up pass, never inside the hot loop.

Module-level functions, so numba's on-disk cache serves every later process.
Imported only by :mod:`pointing.model.compiled`, lazily.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pointing.model.terms import TX_COT_LIMIT

# error_model="numpy": a float division by zero gives inf/NaN (handled where it matters)
# instead of a Python exception, which would keep the loops from vectorising
njit = numba.njit(cache=True, nogil=True, error_model="numpy")
helper = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
parallel_njit = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
half_pi = 0.5 * math.pi
cot_limit = TX_COT_LIMIT
#: |cos E| below this (1° from the zenith): the caller solves on the checked path
guard = 0.0175
#: positions per block (the workspace rows stay in L1)
BLOCK = 256
#: status the inverse writes where the caller must solve on the checked path
CHECK = 9
#: largest angle the short series below take (sin/cos: error < d⁹/9! ≈ 5e-21 at 0.03;
#: atan: error < t¹¹/11 ≈ 2e-18)
SERIES_MAX = 0.03

# workspace rows
SA, CA, SE, CE, SIDE, SA0, CA0, SE0, CE0, V, DV, S, C, D, LAST, TSA, TCA, TSE, TCE, \
    TSIDE, FLAG, BAD, STEP = range(23)
ROWS = 23


# ---- per-position pieces (scalars only: they vectorise inside the block loops) -------

@helper
def series_sc(d):
    """sin d, cos d for |d| ≤ SERIES_MAX by their series."""
    d2 = d * d
    s = d * (1.0 - d2 / 6.0 * (1.0 - d2 / 20.0 * (1.0 - d2 / 42.0 * (1.0 - d2 / 72.0))))
    c = 1.0 - d2 / 2.0 * (1.0 - d2 / 12.0 * (1.0 - d2 / 30.0 * (1.0 - d2 / 56.0)))
    return s, c


@helper
def sincos(d, wide):
    # wide: the term can exceed the series' range (decided per term, not per position)
    if wide:
        return math.sin(d), math.cos(d)
    return series_sc(d)


@helper
def el_step(se, ce, s, c):
    # E += d by angle addition, as the numpy kernels do (E may pass 90°: the side
    # follows the sign of cos E)
    se2, ce2 = se * c + ce * s, ce * c - se * s
    return se2, ce2, (-1.0 if ce2 < 0.0 else 1.0)


@helper
def turn(sa, ca, s, c):
    # azimuth moved by the angle whose sine and cosine are s, c
    return sa * c + ca * s, ca * c - sa * s


@helper
def across(sa, ca, se, ce, side, s, c):
    # across the vertical circle by x (sin s, cos c): E' from sin E' = cos x sin E,
    # A' = A + Δ with (cos Δ, sin Δ) = (cos x cos E, sin x) / cos E'
    ce2 = side * math.sqrt(ce * ce + se * se * s * s)  # = cos E', without cancellation
    r = 1.0 / ce2 if ce2 != 0.0 else 0.0
    ts, tc = (s * r, c * ce * r) if ce2 != 0.0 else (0.0, 1.0)
    sa2, ca2 = turn(sa, ca, ts, tc)
    return sa2, ca2, c * se, ce2


@helper
def undo_across(sa, ca, se, ce, side, s, c):
    # the position that across(…, s, c) takes to (A, E); NaN inside the hole
    rest = ce * ce - s * s
    root = math.sqrt(rest) if rest >= 0.0 else math.nan
    ce0 = side * root / c
    r = 1.0 / ce
    sa0, ca0 = turn(sa, ca, -s * r, c * ce0 * r)
    return sa0, ca0, se / c, ce0


@helper
def npae(sa, ca, se, ce, side, sn, cn):
    # rotation by NPAE about the horizontal axis at the current azimuth
    ce2 = side * math.sqrt(ce * ce + se * se * sn * sn)
    r = 1.0 / ce2 if ce2 != 0.0 else 0.0
    ts, tc = (-se * sn * r, ce * r) if ce2 != 0.0 else (0.0, 1.0)
    sa2, ca2 = turn(sa, ca, ts, tc)
    return sa2, ca2, se * cn, ce2


@helper
def undo_npae(sa, ca, se, ce, side, sn, cn):
    rest = ce * ce - sn * sn  # negative within NPAE of the zenith: NaN
    root = math.sqrt(rest) if rest >= 0.0 else math.nan
    se1 = se / cn
    ce1 = side * root / cn
    r = 1.0 / ce
    sa2, ca2 = turn(sa, ca, se1 * sn * r, ce1 * r)
    return sa2, ca2, se1, ce1


@helper
def rotate(par, i, vx, vy, vz, transpose):
    if transpose:
        return (par[i, 0] * vx + par[i, 3] * vy + par[i, 6] * vz,
                par[i, 1] * vx + par[i, 4] * vy + par[i, 7] * vz,
                par[i, 2] * vx + par[i, 5] * vy + par[i, 8] * vz)
    return (par[i, 0] * vx + par[i, 1] * vy + par[i, 2] * vz,
            par[i, 3] * vx + par[i, 4] * vy + par[i, 5] * vz,
            par[i, 6] * vx + par[i, 7] * vy + par[i, 8] * vz)


@helper
def from_vector(vx, vy, vz, side, sa, ca):
    h = math.sqrt(vx * vx + vy * vy)
    ce = side * h
    r = 1.0 / ce if h > 0.0 else 0.0
    return (vy * r if h > 0.0 else sa), (vx * r if h > 0.0 else ca), vz, ce


@helper
def small_angle(s, c):
    """atan2(s, c) by its series where the angle is small; NaN flags the others."""
    t = s / c
    t2 = t * t
    ok = c > 0.0 and abs(t) < SERIES_MAX
    return (t * (1.0 - t2 * (1.0 / 3.0 - t2 * (0.2 - t2 * (1.0 / 7.0 - t2 / 9.0))))
            if ok else math.nan)


@helper
def coordinate(coord, sa, ca, se, ce):
    # sine and cosine of a harmonic's argument: TPOINT's azimuth is 180° − A
    # (sin = sin A, cos = −cos A); elevation; zenith distance (sin = cos E)
    if coord == 0:
        return sa, -ca
    if coord == 1:
        return se, ce
    return ce, se


# ---- per-term block loops (every branch on the term outside the loop over positions) --

@helper
def sc_block(w, m, src, dst_s, dst_c, wide):
    """Sine and cosine of row ``src`` into rows ``dst_s``, ``dst_c``."""
    x, s_, c_ = w[src], w[dst_s], w[dst_c]
    if wide:  # the term may exceed the series' range: library calls (rare, large terms)
        for j in range(m):
            s_[j], c_[j] = math.sin(x[j]), math.cos(x[j])
    else:
        for j in range(m):
            s_[j], c_[j] = series_sc(x[j])


@helper
def function_block(w, m, fc, deriv):
    """TF, TX, ECES, ECEC (``fc`` 1..4) and their derivative along E."""
    se, ce, v, dv = w[SE], w[CE], w[V], w[DV]
    e_only = 1.0 if deriv == 1 else 0.0
    if fc == 1:
        for j in range(m):
            v[j], dv[j] = -ce[j], e_only * se[j]
    elif fc == 2:  # cot E, held at the limit low down (TPOINT's TX10)
        for j in range(m):
            low = not se[j] > ce[j] / cot_limit
            r = 1.0 / se[j]
            v[j] = -cot_limit if low else -ce[j] * r
            dv[j] = 0.0 if low else e_only * r * r
    elif fc == 3:
        for j in range(m):
            v[j], dv[j] = se[j], e_only * ce[j]
    else:
        for j in range(m):
            v[j], dv[j] = ce[j], -e_only * se[j]


@helper
def harmonic_block(w, m, i, nfac, fac, deriv):
    """A harmonic's product of factors (and its derivative) from one sine-cosine pair
    per coordinate, by the multiple-angle recurrence."""
    sa, ca, se, ce, v, dv, s_, c_ = w[SA], w[CA], w[SE], w[CE], w[V], w[DV], w[S], w[C]
    for j in range(m):
        v[j], dv[j] = 1.0, 0.0
    for q in range(nfac[i]):
        func, coord, k = fac[i, q, 0], fac[i, q, 1], fac[i, q, 2]
        # d(argument)/d(E or A): TPOINT's azimuth is 180° − A, Z = 90° − E
        sign = 0.0
        if deriv == 1:
            sign = 1.0 if coord == 1 else (-1.0 if coord == 2 else 0.0)
        elif deriv == 2:
            sign = -1.0 if coord == 0 else 0.0
        # the coordinate's (sin, cos): (sin A, −cos A), (sin E, cos E) or (cos E, sin E)
        s1, c1 = (sa, ca) if coord == 0 else ((se, ce) if coord == 1 else (ce, se))
        cs = -1.0 if coord == 0 else 1.0
        for j in range(m):
            s_[j], c_[j] = s1[j], cs * c1[j]
        for _ in range(k - 1):
            for j in range(m):
                x, y = s1[j], cs * c1[j]
                s_[j], c_[j] = s_[j] * y + c_[j] * x, c_[j] * y - s_[j] * x
        if func == 0:
            for j in range(m):
                dv[j] = dv[j] * s_[j] + v[j] * sign * k * c_[j]
                v[j] = v[j] * s_[j]
        else:
            for j in range(m):
                dv[j] = dv[j] * c_[j] - v[j] * sign * k * s_[j]
                v[j] = v[j] * c_[j]


@helper
def value_block(w, m, i, fcode, nfac, fac, deriv):
    """f of additive term i into row V, its derivative (deriv 1: along E, 2: along A)
    into row DV."""
    if fcode[i] != 0:
        function_block(w, m, fcode[i], deriv)
    else:
        harmonic_block(w, m, i, nfac, fac, deriv)


@helper
def step_block(w, m, k, wide):
    """Move the state by row D along E (k 7), A (8) or across (9)."""
    sa, ca, se, ce, side, s_, c_ = w[SA], w[CA], w[SE], w[CE], w[SIDE], w[S], w[C]
    sc_block(w, m, D, S, C, wide)
    if k == 7:
        for j in range(m):
            se[j], ce[j], side[j] = el_step(se[j], ce[j], s_[j], c_[j])
    elif k == 8:
        for j in range(m):
            sa[j], ca[j] = turn(sa[j], ca[j], s_[j], c_[j])
    else:
        for j in range(m):
            sa[j], ca[j], se[j], ce[j] = across(sa[j], ca[j], se[j], ce[j], side[j],
                                                s_[j], c_[j])


@helper
def nasmyth_block(w, m, k, c0, wide):
    """NRX (k 5) / NRY (6): E step, then across, both evaluated at this E."""
    se, ce, d, v = w[SE], w[CE], w[D], w[V]
    for j in range(m):
        d[j] = -c0 * se[j] if k == 5 else c0 * ce[j]
        v[j] = -c0 * ce[j] if k == 5 else -c0 * se[j]
    step_block(w, m, 7, wide)
    for j in range(m):
        d[j] = v[j]
    step_block(w, m, 9, wide)


@helper
def forward_term(w, m, i, kind, coef, fcode, nfac, fac, par, wide):
    sa, ca, se, ce, side = w[SA], w[CA], w[SE], w[CE], w[SIDE]
    k = kind[i]
    p0, p1 = par[i, 0], par[i, 1]
    if k == 0:  # A −= c
        for j in range(m):
            sa[j], ca[j] = turn(sa[j], ca[j], -p1, p0)
    elif k == 1:  # E += c
        for j in range(m):
            se[j], ce[j], side[j] = el_step(se[j], ce[j], p1, p0)
    elif k == 2:  # CA: across by −c
        for j in range(m):
            sa[j], ca[j], se[j], ce[j] = across(sa[j], ca[j], se[j], ce[j], side[j], -p1, p0)
    elif k == 3:
        for j in range(m):
            sa[j], ca[j], se[j], ce[j] = npae(sa[j], ca[j], se[j], ce[j], side[j], p1, p0)
    elif k == 4:
        for j in range(m):
            vx, vy, vz = rotate(par, i, ce[j] * ca[j], ce[j] * sa[j], se[j], False)
            sa[j], ca[j], se[j], ce[j] = from_vector(vx, vy, vz, side[j], sa[j], ca[j])
    elif k == 5 or k == 6:
        nasmyth_block(w, m, k, coef[i], wide[i])
    else:  # additive terms along E (7), A (8) or across (9)
        value_block(w, m, i, fcode, nfac, fac, 0)
        d, v, c0 = w[D], w[V], coef[i]
        for j in range(m):
            d[j] = c0 * v[j]
        step_block(w, m, k, wide[i])


@helper
def keep_target(w, m):
    """Copy the state to the target rows (the position a term must be undone from)."""
    for j in range(m):
        w[TSA, j], w[TCA, j], w[TSE, j], w[TCE, j] = w[SA, j], w[CA, j], w[SE, j], w[CE, j]
        w[TSIDE, j] = w[SIDE, j]


@helper
def from_target(w, m):
    for j in range(m):
        w[SA, j], w[CA, j], w[SE, j], w[CE, j] = w[TSA, j], w[TCA, j], w[TSE, j], w[TCE, j]
        w[SIDE, j] = w[TSIDE, j]


@helper
def undo_across_block(w, m, wide):
    """State ← the position that moving across by row D takes to the target."""
    sc_block(w, m, D, S, C, wide)
    for j in range(m):
        w[SA, j], w[CA, j], w[SE, j], w[CE, j] = undo_across(
            w[TSA, j], w[TCA, j], w[TSE, j], w[TCE, j], w[TSIDE, j], w[S, j], w[C, j])


@helper
def newton_block(w, m, i, k, fcode, nfac, fac, c0, wide):
    """Undo a term along E (k 7) or A (8) evaluated where it acts: t = p + c·f(p).

    From x = c·f(t), Newton steps on x with f′ (row LAST holds x); after one step
    the error is ~ (c·f″)·(c·f′·c·f)², below 1e-14 rad, and a second is taken
    only where a step exceeded 3e-7 rad.  A slope |c·f′| ≥ 0.5 (no contraction)
    or no convergence in three steps flags the position.
    """
    x, d, v, dv, flag, size = w[LAST], w[D], w[V], w[DV], w[FLAG], w[STEP]
    keep_target(w, m)
    value_block(w, m, i, fcode, nfac, fac, 0)
    for j in range(m):
        x[j] = c0 * v[j]
    done = False
    for _ in range(3):
        for j in range(m):
            d[j] = -x[j]
        from_target(w, m)
        step_block(w, m, k, wide)
        value_block(w, m, i, fcode, nfac, fac, 1 if k == 7 else 2)
        largest = 0.0
        for j in range(m):
            slope = c0 * dv[j]
            steep = not abs(slope) < 0.5  # also NaN
            step = 0.0 if steep else (c0 * v[j] - x[j]) / (1.0 + slope)
            x[j] += step
            flag[j] = 1.0 if steep else flag[j]
            size[j] = abs(step)
            largest = max(largest, size[j])
        if largest < 3e-7:
            done = True
            break
    for j in range(m):
        d[j] = -x[j]
    from_target(w, m)
    step_block(w, m, k, wide)
    if not done:
        for j in range(m):
            flag[j] = flag[j] if size[j] < 3e-7 else 1.0


@helper
def fixed_point_block(w, m, i, k, fcode, nfac, fac, c0, wide):
    """Undo a sky term (k 9) or NRX/NRY (5, 6): fixed point on the pre-image (its
    contraction is ~1e-4 per pass); positions that do not settle in 12 are flagged."""
    d, v, last, flag = w[D], w[V], w[LAST], w[FLAG]
    keep_target(w, m)
    for j in range(m):
        last[j] = 1e300
    for _ in range(12):
        if k == 9:
            value_block(w, m, i, fcode, nfac, fac, 0)
            for j in range(m):
                d[j] = c0 * v[j]
            undo_across_block(w, m, wide)
        else:
            for j in range(m):  # across by x(E₀), then E by de(E₀), both at the pre-image
                v[j] = -c0 * w[SE, j] if k == 5 else c0 * w[CE, j]  # de
                d[j] = -c0 * w[CE, j] if k == 5 else -c0 * w[SE, j]  # x
            undo_across_block(w, m, wide)
            for j in range(m):
                d[j], v[j] = -v[j], d[j] + v[j]
            step_block(w, m, 7, wide)
            for j in range(m):
                d[j] = v[j]
        busy = False
        for j in range(m):
            moved = not abs(d[j] - last[j]) <= 1e-12  # the error left is ~1e-4 of this
            busy = busy or (moved and d[j] == d[j])  # NaN (the hole) is flagged below
            last[j] = d[j]
        if not busy:
            return
    for j in range(m):
        flag[j] = 1.0


@helper
def inverse_term(w, m, i, kind, coef, fcode, nfac, fac, par, wide):
    sa, ca, se, ce, side = w[SA], w[CA], w[SE], w[CE], w[SIDE]
    k = kind[i]
    p0, p1 = par[i, 0], par[i, 1]
    if k == 0:
        for j in range(m):
            sa[j], ca[j] = turn(sa[j], ca[j], p1, p0)
    elif k == 1:
        for j in range(m):
            se[j], ce[j], side[j] = el_step(se[j], ce[j], -p1, p0)
    elif k == 2:
        for j in range(m):
            sa[j], ca[j], se[j], ce[j] = undo_across(sa[j], ca[j], se[j], ce[j], side[j],
                                                     -p1, p0)
    elif k == 3:
        for j in range(m):
            sa[j], ca[j], se[j], ce[j] = undo_npae(sa[j], ca[j], se[j], ce[j], side[j], p1, p0)
    elif k == 4:
        for j in range(m):
            vx, vy, vz = rotate(par, i, ce[j] * ca[j], ce[j] * sa[j], se[j], True)
            sa[j], ca[j], se[j], ce[j] = from_vector(vx, vy, vz, side[j], sa[j], ca[j])
    elif k == 7 or k == 8:
        newton_block(w, m, i, k, fcode, nfac, fac, coef[i], wide[i])
    else:
        fixed_point_block(w, m, i, k, fcode, nfac, fac, coef[i], wide[i])
    flag = w[FLAG]
    for j in range(m):  # near the zenith (also NaN: the hole): the checked path
        flag[j] = flag[j] if abs(ce[j]) >= guard else 1.0


# ---- loading and storing a block -----------------------------------------------------

@helper
def load_block(w, m, a, e, b, lo, top):
    """Sines and cosines of the block's input; row V holds 0 (valid), 1 (not finite)
    or 2 (elevation outside lo..top); invalid positions are computed at (0, 0)."""
    for j in range(m):
        x, y = a[b + j], e[b + j]
        bad = 0.0 if math.isfinite(x) and math.isfinite(y) else 1.0
        bad = bad if bad != 0.0 or lo <= y <= top else 2.0
        x, y = (x, y) if bad == 0.0 else (0.0, 0.0)
        s, c, se, ce = math.sin(x), math.cos(x), math.sin(y), math.cos(y)
        w[SA0, j], w[CA0, j], w[SE0, j], w[CE0, j] = s, c, se, ce
        w[SA, j], w[CA, j], w[SE, j], w[CE, j] = s, c, se, ce
        w[SIDE, j] = -1.0 if y > half_pi else 1.0
        w[BAD, j] = bad
        w[FLAG, j] = 0.0


@helper
def differences(w, j, sr, cr):
    # sine, cosine of E − E₀ and of A − (A₀ + shift), the shift's sine and cosine sr, cr
    se, ce, se0, ce0 = w[SE, j], w[CE, j], w[SE0, j], w[CE0, j]
    rs, rc = turn(w[SA0, j], w[CA0, j], sr, cr)
    sa, ca = w[SA, j], w[CA, j]
    return se * ce0 - ce * se0, ce * ce0 + se * se0, sa * rc - ca * rs, ca * rc + sa * rs


@helper
def store_block(w, m, a, e, b, shift, sr, cr, out_a, out_e):
    """The outputs as small angles from the input (moved by the constant azimuth
    shift), so no atan2 in general; a fix-up pass takes the large ones."""
    for j in range(m):
        es, ec, az_s, az_c = differences(w, j, sr, cr)
        out_e[b + j] = e[b + j] + small_angle(es, ec)
        out_a[b + j] = a[b + j] + shift + small_angle(az_s, az_c)
    for j in range(m):
        if w[BAD, j] != 0.0:
            out_a[b + j], out_e[b + j] = math.nan, math.nan
        elif math.isnan(out_a[b + j]) or math.isnan(out_e[b + j]):
            es, ec, az_s, az_c = differences(w, j, sr, cr)
            out_e[b + j] = e[b + j] + math.atan2(es, ec)
            out_a[b + j] = a[b + j] + shift + math.atan2(az_s, az_c)


# ---- entry points ----------------------------------------------------------------------
# The model is (kind, coef, fcode, nfac, fac, par, wide, off): see compiled.encode.
# Array entry points validate the input themselves: positions that are not finite or
# whose elevation is outside lo..top give NaN; the inverse writes a status per
# position (0 done, 1 not finite, 2 elevation outside lo..top, CHECK: the caller solves
# it on the checked path) and returns how many it left to check.

@njit
def forward_range(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, a, e, out_a, out_e,
                  start, stop):
    w = np.empty((ROWS, min(BLOCK, max(stop - start, 1))))
    sr, cr = math.sin(off[0]), math.cos(off[0])
    for b in range(start, stop, BLOCK):
        m = min(BLOCK, stop - b)
        load_block(w, m, a, e, b, lo, top)
        for i in range(kind.size):
            forward_term(w, m, i, kind, coef, fcode, nfac, fac, par, wide)
        store_block(w, m, a, e, b, off[0], sr, cr, out_a, out_e)


@njit
def inverse_range(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, hi, a, e,
                  out_a, out_e, status, start, stop):
    w = np.empty((ROWS, min(BLOCK, max(stop - start, 1))))
    sr, cr = math.sin(off[0]), math.cos(off[0])
    n = 0
    for b in range(start, stop, BLOCK):
        m = min(BLOCK, stop - b)
        load_block(w, m, a, e, b, lo, top)
        for i in range(kind.size - 1, -1, -1):
            inverse_term(w, m, i, kind, coef, fcode, nfac, fac, par, wide)
        store_block(w, m, a, e, b, -off[0], -sr, cr, out_a, out_e)
        for j in range(m):
            check = w[FLAG, j] != 0.0 or not lo <= out_e[b + j] <= hi
            bad = w[BAD, j]
            st = 1 if bad == 1.0 else (2 if bad == 2.0 else (CHECK if check else 0))
            status[b + j] = st
            n += 1 if st == CHECK else 0
    return n


@njit
def fwd(kind, coef, fcode, nfac, fac, par, wide, off, a, e):
    """One position (the servo cycle's call)."""
    x, y, out_a, out_e = np.full(1, a), np.full(1, e), np.empty(1), np.empty(1)
    forward_range(kind, coef, fcode, nfac, fac, par, wide, off, -np.inf, np.inf, x, y,
                  out_a, out_e, 0, 1)
    return out_a[0], out_e[0]


@njit
def inv(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, hi, a, e):
    """One position: (az, el, status)."""
    x, y, out_a, out_e = np.full(1, a), np.full(1, e), np.empty(1), np.empty(1)
    status = np.empty(1, np.int8)
    inverse_range(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, hi, x, y,
                  out_a, out_e, status, 0, 1)
    return out_a[0], out_e[0], status[0]


@parallel_njit
def forward_parallel(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, a, e,
                     out_a, out_e, chunk):
    """forward_range over chunks of positions on numba's threads."""
    n = a.size
    for c in numba.prange((n + chunk - 1) // chunk):
        forward_range(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, a, e,
                      out_a, out_e, c * chunk, min(n, (c + 1) * chunk))


@parallel_njit
def inverse_parallel(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, hi, a, e,
                     out_a, out_e, status, chunk):
    """inverse_range over chunks of positions on numba's threads."""
    n = a.size
    left = 0
    for c in numba.prange((n + chunk - 1) // chunk):
        left += inverse_range(kind, coef, fcode, nfac, fac, par, wide, off, lo, top, hi,
                              a, e, out_a, out_e, status, c * chunk, min(n, (c + 1) * chunk))
    return left
