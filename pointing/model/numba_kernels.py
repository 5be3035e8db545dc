"""The numba-compiled kernels behind :mod:`pointing.model.compiled` (see there).

Layout: positions are processed in blocks of :data:`BLOCK`; the state of a
block (sines and cosines of azimuth and elevation, the side of the zenith)
lives in the rows of a small workspace, and each term of the model is one
loop over the block.  Those loops have no calls and no data-dependent
branches, so the compiler turns them into SIMD code; the rare positions that
need a trigonometric call (a correction too large for the short series) are
handled by a term-level switch or a fix-up pass, never inside the hot loop.

Module-level functions, so numba's on-disk cache serves every later process.
Imported only by :mod:`pointing.model.compiled`, lazily.  One long module on
purpose: numba keys its cache on the file of the entry point alone, so the
pieces it inlines (TPOINT's parallel terms included) stay in this file, where
an edit always recompiles them.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pointing.model.compiled_layout import (
    CHECK,
    COEF,
    EVAL,
    FAC,
    FCODE,
    HEAD,
    KIND,
    NFAC,
    PAR,
    SERIES_MAX,
    WIDE,
)
from pointing.model.terms import TX_COT_LIMIT

# error_model="numpy": a float division by zero gives inf/NaN (handled where it matters)
# instead of a Python exception, which would keep the loops from vectorising
njit = numba.njit(cache=True, nogil=True, error_model="numpy")
helper = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
parallel_njit = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
half_pi = 0.5 * math.pi
cot_limit = TX_COT_LIMIT
#: sine and cosine of the elevation where TX meets its limit (cot E = cot_limit)
sin_kink = 1.0 / math.sqrt(1.0 + cot_limit * cot_limit)
cos_kink = cot_limit * sin_kink
#: |cos E| below this (1° from the zenith): the caller solves on the checked path
guard = 0.0175
#: positions per block (the workspace, 44 rows of it, stays in the L2 cache)
BLOCK = 1024

#: π/2 in three parts (33, 33 and 53 significant bits: q·P1 and q·P2 are exact for
#: |q| < 2²⁰), for the argument reduction of :func:`sin_cos`
PIO2_1 = float.fromhex("0x1.921fb54400000p+0")
PIO2_2 = float.fromhex("0x1.0b4611a600000p-34")
PIO2_3 = float.fromhex("0x1.3198a2e037073p-69")
TWO_OVER_PI = 2.0 / math.pi
#: largest |x| sin_cos reduces (well inside 2²⁰·π/2); beyond it the library is called
REDUCE_MAX = 1e5
# Taylor coefficients (−1)ᵏ/(2k+1)! and (−1)ᵏ/(2k)!, k ≥ 1, to the 17th and 18th power:
# on |r| ≤ π/4 the first term left out is below 1e-19
S1, S2, S3, S4, S5, S6, S7, S8 = ((-1) ** k / math.factorial(2 * k + 1) for k in range(1, 9))
C1, C2, C3, C4, C5, C6, C7, C8, C9 = ((-1) ** k / math.factorial(2 * k) for k in range(1, 10))
# and of atan: (−1)ᵏ/(2k+1)
A1, A2, A3, A4 = ((-1) ** k / (2 * k + 1) for k in range(1, 5))

# workspace rows (P…: the evaluation point of TPOINT's parallel terms; X…: the state
# set aside while they are evaluated; G…: the target of a group's inverse; K…: its chord;
# SUM…: the summed moves of its terms along A and E)
SA, CA, SE, CE, SIDE, SA0, CA0, SE0, CE0, V, DV, S, C, D, LAST, TSA, TCA, TSE, TCE, \
    TSIDE, FLAG, BAD, STEP, MARK, CURV, PSA, PCA, PSE, PCE, XSA, XCA, XSE, XCE, \
    GSA, GCA, GSE, GCE, GSIDE, KAA, KAE, KEA, KEE, SUMA, SUME = range(44)
ROWS = 44
#: a group of parallel terms is undone by a fixed point on its evaluation point: the
#: step (sines, cosines) below which it is done, and the passes before a flag
GROUP_TOL = 1e-13
GROUP_MAX = 16


# ---- per-position pieces (scalars only: they vectorise inside the block loops) -------

@helper
def series_sc(d):
    """sin d, cos d for |d| ≤ SERIES_MAX by their series (multiplications only: a
    division costs as much as the whole series)."""
    d2 = d * d
    s = d + d * d2 * (S1 + d2 * (S2 + d2 * (S3 + d2 * S4)))
    c = 1.0 + d2 * (C1 + d2 * (C2 + d2 * (C3 + d2 * C4)))
    return s, c


@helper
def sin_cos(x):
    """sin x, cos x for |x| ≤ REDUCE_MAX without a library call (so the loops calling
    it vectorise): reduction by π/2 in three parts, Taylor polynomials on ±π/4; within
    an ulp or two of the library."""
    q = math.floor(x * TWO_OVER_PI + 0.5)
    r = ((x - q * PIO2_1) - q * PIO2_2) - q * PIO2_3
    r2 = r * r
    s = r + r * r2 * (S1 + r2 * (S2 + r2 * (S3 + r2 * (S4 + r2 * (S5 + r2 * (
        S6 + r2 * (S7 + r2 * S8)))))))
    c = 1.0 + r2 * (C1 + r2 * (C2 + r2 * (C3 + r2 * (C4 + r2 * (C5 + r2 * (
        C6 + r2 * (C7 + r2 * (C8 + r2 * C9))))))))
    n = q - 4.0 * math.floor(q * 0.25)  # the quadrant, 0..3
    odd = (n == 1.0) | (n == 3.0)
    sin_x = c if odd else s
    cos_x = s if odd else c
    return (-sin_x if n >= 2.0 else sin_x), (-cos_x if (n == 1.0) | (n == 2.0) else cos_x)


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
    return sa0, ca0, (se / c if rest >= 0.0 else math.nan), ce0


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
def rotate(tab, i, vx, vy, vz, transpose):
    if transpose:
        return (tab[i, PAR + 0] * vx + tab[i, PAR + 3] * vy + tab[i, PAR + 6] * vz,
                tab[i, PAR + 1] * vx + tab[i, PAR + 4] * vy + tab[i, PAR + 7] * vz,
                tab[i, PAR + 2] * vx + tab[i, PAR + 5] * vy + tab[i, PAR + 8] * vz)
    return (tab[i, PAR + 0] * vx + tab[i, PAR + 1] * vy + tab[i, PAR + 2] * vz,
            tab[i, PAR + 3] * vx + tab[i, PAR + 4] * vy + tab[i, PAR + 5] * vz,
            tab[i, PAR + 6] * vx + tab[i, PAR + 7] * vy + tab[i, PAR + 8] * vz)


@helper
def from_vector(vx, vy, vz, side, sa, ca):
    h = math.sqrt(vx * vx + vy * vy)
    ce = side * h
    r = 1.0 / ce if h > 0.0 else 0.0
    return (vy * r if h > 0.0 else sa), (vx * r if h > 0.0 else ca), vz, ce


@helper
def series_angle(s, c):
    """atan2(s, c) by its series where the angle is small; NaN flags the others."""
    t = s / c
    t2 = t * t
    ok = c > 0.0 and abs(t) < SERIES_MAX
    return t + t * t2 * (A1 + t2 * (A2 + t2 * (A3 + t2 * A4))) if ok else math.nan


@helper
def coordinate(coord, sa, ca, se, ce):
    # sine and cosine of a harmonic's argument: TPOINT's azimuth is 180° − A
    # (sin = sin A, cos = −cos A); elevation; zenith distance (sin = cos E)
    if coord == 0:
        return sa, -ca
    if coord == 1:
        return se, ce
    return ce, se


@helper
def at(w, j):
    """The state at position j of the block: sin A, cos A, sin E, cos E, side."""
    return w[SA, j], w[CA, j], w[SE, j], w[CE, j], w[SIDE, j]


# ---- per-position helpers of the Jacobian and equatorial kernels -----------------------
# (pointing.model.numba_jacobian, pointing.model.numba_equatorial_jit import these; they
# take the per-kind arrays of compiled.encode_arrays, one position at a time)

@helper
def small_sc(d):
    if abs(d) < 1e-3:  # series: error below d⁷/5040 ≈ 2e-25
        d2 = d * d
        return (d * (1.0 - d2 / 6.0 * (1.0 - d2 / 20.0)),
                1.0 - d2 / 2.0 * (1.0 - d2 / 12.0 * (1.0 - d2 / 30.0)))
    return math.sin(d), math.cos(d)


@helper
def multiple(s1, c1, k):
    s, c = s1, c1
    for _ in range(k - 1):
        s, c = s * c1 + c * s1, c * c1 - s * s1
    return s, c


@helper
def fvalue_d(fcode, nf, fac, i, sa, ca, se, ce, wrt_e):
    """f and its derivative along E (``wrt_e``) or along A, at one position."""
    if fcode == 1:
        return -ce, (se if wrt_e else 0.0)
    if fcode == 2:
        if se > ce / cot_limit:
            return -ce / se, (1.0 / (se * se) if wrt_e else 0.0)
        return -cot_limit, 0.0
    if fcode == 3:
        return se, (ce if wrt_e else 0.0)
    if fcode == 4:
        return ce, (-se if wrt_e else 0.0)
    v, dv = 1.0, 0.0
    for j in range(nf):
        coord = fac[i, j, 1]
        k = fac[i, j, 2]
        if coord == 0:  # harmonic azimuth 180° − A: d/dA = −d/dA'
            s1, c1, sign = sa, -ca, (0.0 if wrt_e else -1.0)
        elif coord == 1:
            s1, c1, sign = se, ce, (1.0 if wrt_e else 0.0)
        else:  # zenith distance: d/dE = −d/dZ
            s1, c1, sign = ce, se, (-1.0 if wrt_e else 0.0)
        s, c = multiple(s1, c1, k)
        if fac[i, j, 0] == 0:
            g, dg = s, sign * k * c
        else:
            g, dg = c, -sign * k * s
        dv = dv * g + v * dg
        v = v * g
    return v, dv


@helper
def state(vx, vy, vz, side, sa, ca):
    h = math.sqrt(vx * vx + vy * vy)
    ce = side * h
    if h > 0.0:
        return vy / ce, vx / ce, vz, ce
    return sa, ca, vz, ce


@helper
def small_angle(s, c):
    # atan2(s, c) for the small angles of a model's correction, by its series
    if c > 0.0 and abs(s) < 1e-3 * c:
        t = s / c
        t2 = t * t
        return t * (1.0 - t2 * (1.0 / 3.0 - t2 * (0.2 - t2 / 7.0)))
    return math.atan2(s, c)


# ---- per-term block loops (every branch on the term outside the loop over positions) --

@helper
def sc_block(w, m, src, dst_s, dst_c, wide):
    """Sine and cosine of row ``src`` into rows ``dst_s``, ``dst_c``."""
    if wide:  # the term may exceed the series' range: library calls (rare, large terms)
        for j in range(m):
            w[dst_s, j], w[dst_c, j] = math.sin(w[src, j]), math.cos(w[src, j])
    else:
        for j in range(m):
            w[dst_s, j], w[dst_c, j] = series_sc(w[src, j])


@helper
def function_block(w, m, fc, deriv):
    """TF, TX, ECES, ECEC (``fc`` 1..4) and their derivative along E."""
    e_only = 1.0 if deriv == 1 else 0.0
    if fc == 1:
        for j in range(m):
            w[V, j], w[DV, j] = -w[CE, j], e_only * w[SE, j]
    elif fc == 2:  # cot E, held at the limit low down (TPOINT's TX10)
        for j in range(m):
            low = not w[SE, j] > w[CE, j] / cot_limit
            r = 1.0 / w[SE, j]
            w[V, j] = -cot_limit if low else -w[CE, j] * r
            w[DV, j] = 0.0 if low else e_only * r * r
    elif fc == 3:
        for j in range(m):
            w[V, j], w[DV, j] = w[SE, j], e_only * w[CE, j]
    else:
        for j in range(m):
            w[V, j], w[DV, j] = w[CE, j], -e_only * w[SE, j]


@helper
def harmonic_block(w, m, i, tab, deriv):
    """A harmonic's product of factors (and its derivative) from one sine-cosine pair
    per coordinate: multipliers 1 and 2 directly, higher ones by the multiple-angle
    recurrence."""
    for q in range(int(tab[i, NFAC])):
        col = FAC + 3 * q
        func, coord, k = int(tab[i, col]), int(tab[i, col + 1]), int(tab[i, col + 2])
        # d(argument)/d(E or A): TPOINT's azimuth is 180° − A, Z = 90° − E
        sign = 0.0
        if deriv == 1:
            sign = 1.0 if coord == 1 else (-1.0 if coord == 2 else 0.0)
        elif deriv == 2:
            sign = -1.0 if coord == 0 else 0.0
        scale = sign * k
        first = q == 0
        # the coordinate's (sin, cos): (sin A, −cos A), (sin E, cos E) or (cos E, sin E)
        r1, r2 = (SA, CA) if coord == 0 else ((SE, CE) if coord == 1 else (CE, SE))
        cs = -1.0 if coord == 0 else 1.0
        if k > 2:
            for j in range(m):
                w[S, j], w[C, j] = w[r1, j], cs * w[r2, j]
            for _ in range(k - 1):
                for j in range(m):
                    x, y = w[r1, j], cs * w[r2, j]
                    w[S, j], w[C, j] = w[S, j] * y + w[C, j] * x, w[C, j] * y - w[S, j] * x
        for j in range(m):
            x, y = w[r1, j], cs * w[r2, j]
            if k > 2:
                s, c = w[S, j], w[C, j]
            else:
                s, c = (x, y) if k == 1 else (2.0 * x * y, y * y - x * x)
            g, dg = (s, scale * c) if func == 0 else (c, -scale * s)
            if first:
                w[V, j], w[DV, j] = g, dg
            else:
                w[V, j], w[DV, j] = w[V, j] * g, w[DV, j] * g + w[V, j] * dg


@njit  # a call per term and block (not inlined: keeps compile time down)
def value_block(w, m, i, tab, deriv):
    """f of additive term i into row V, its derivative (deriv 1: along E, 2: along A)
    into row DV."""
    if int(tab[i, FCODE]) != 0:
        function_block(w, m, int(tab[i, FCODE]), deriv)
    else:
        harmonic_block(w, m, i, tab, deriv)


@njit  # a call per term and block (not inlined: keeps compile time down)
def step_block(w, m, k, wide):
    """Move the state by row D along E (k 7), A (8) or across (9)."""
    if wide:
        sc_block(w, m, D, S, C, wide)
    if k == 7:
        for j in range(m):
            s, c = (w[S, j], w[C, j]) if wide else series_sc(w[D, j])
            w[SE, j], w[CE, j], w[SIDE, j] = el_step(w[SE, j], w[CE, j], s, c)
    elif k == 8:
        for j in range(m):
            s, c = (w[S, j], w[C, j]) if wide else series_sc(w[D, j])
            w[SA, j], w[CA, j] = turn(w[SA, j], w[CA, j], s, c)
    else:
        for j in range(m):
            s, c = (w[S, j], w[C, j]) if wide else series_sc(w[D, j])
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = across(sa, ca, se, ce, side, s, c)


@helper
def nasmyth_block(w, m, k, c0, wide):
    """NRX (k 5) / NRY (6): E step, then across, both evaluated at this E."""
    for j in range(m):
        w[D, j] = -c0 * w[SE, j] if k == 5 else c0 * w[CE, j]
        w[V, j] = -c0 * w[CE, j] if k == 5 else -c0 * w[SE, j]
    step_block(w, m, 7, wide)
    for j in range(m):
        w[D, j] = w[V, j]
    step_block(w, m, 9, wide)


@njit  # a call per term and block (not inlined: keeps compile time down)
def forward_term(w, m, i, tab):
    k = int(tab[i, KIND])
    p0, p1 = tab[i, PAR + 0], tab[i, PAR + 1]
    if k == 0:  # A −= c
        for j in range(m):
            w[SA, j], w[CA, j] = turn(w[SA, j], w[CA, j], -p1, p0)
    elif k == 1:  # E += c
        for j in range(m):
            w[SE, j], w[CE, j], w[SIDE, j] = el_step(w[SE, j], w[CE, j], p1, p0)
    elif k == 2:  # CA: across by −c
        for j in range(m):
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = across(sa, ca, se, ce, side, -p1, p0)
    elif k == 3:
        for j in range(m):
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = npae(sa, ca, se, ce, side, p1, p0)
    elif k == 4:
        for j in range(m):
            vx, vy, vz = rotate(tab, i, w[CE, j] * w[CA, j], w[CE, j] * w[SA, j], w[SE, j], False)
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = from_vector(vx, vy, vz, side, sa, ca)
    elif k == 5 or k == 6:
        nasmyth_block(w, m, k, tab[i, COEF], (tab[i, WIDE] != 0.0))
    else:  # additive terms along E (7), A (8) or across (9)
        value_block(w, m, i, tab, 0)
        c0 = tab[i, COEF]
        for j in range(m):
            w[D, j] = c0 * w[V, j]
        step_block(w, m, k, (tab[i, WIDE] != 0.0))


@helper
def keep_target(w, m, k):
    """Copy the state to the target rows (the position a term must be undone from): for
    a term along E (k 7) or A (8) only the rows it moves."""
    if k != 8:
        copy_rows(w, m, SE, TSE, 2)
        for j in range(m):
            w[TSIDE, j] = w[SIDE, j]
    if k != 7:
        copy_rows(w, m, SA, TSA, 2)


@helper
def from_target(w, m, k):
    if k != 8:
        copy_rows(w, m, TSE, SE, 2)
        for j in range(m):
            w[SIDE, j] = w[TSIDE, j]
    if k != 7:
        copy_rows(w, m, TSA, SA, 2)


@njit  # a call per term and block (not inlined: keeps compile time down)
def undo_across_block(w, m, wide):
    """State ← the position that moving across by row D takes to the target."""
    sc_block(w, m, D, S, C, wide)
    for j in range(m):
        tsa, tca, tse, tce, tside = w[TSA, j], w[TCA, j], w[TSE, j], w[TCE, j], w[TSIDE, j]
        w[SA, j], w[CA, j], w[SE, j], w[CE, j] = undo_across(tsa, tca, tse, tce, tside,
                                                             w[S, j], w[C, j])


@helper
def chord_block(w, m, i, k, tab, c0, curvature, wide):
    """Undo a term along E (k 7) or A (8) evaluated where it acts, t = p + c·f(p), in
    two evaluations: x₀ = c·f(t) / (1 + c·f′(t)), then a chord-Newton step with the
    same slope, x₁ = x₀ + (c·f(t − x₀) − x₀) / (1 + c·f′(t)); the state moves to
    t − x₀ and then by the step.  The error left is ~ |c·f″·x| times the step
    (``curvature`` bounds |f″|); where that may exceed 1e-13 rad (the numpy
    kernels' own tolerance) in a block, a second chord step is taken.  Positions
    where a chord is not safe (a steep slope, TX near its limit, NaN) or not sure
    after two get a mark in row MARK; returns how many.
    """
    value_block(w, m, i, tab, 1 if k == 7 else 2)
    tx = int(tab[i, FCODE]) == 2
    for j in range(m):
        slope = c0 * w[DV, j]
        w[MARK, j] = 0.0 if abs(slope) < 0.5 else 2.0  # also NaN; 2: whatever the step
        w[CURV, j] = curvature
        w[STEP, j] = 1.0 / (1.0 + slope)
        w[LAST, j] = c0 * w[V, j] * w[STEP, j]
        w[D, j] = -w[LAST, j]
    if tx:  # TX's f′ jumps where it meets its limit: the chord must not cross that
        for j in range(m):
            apart = abs(w[SE, j] * cos_kink - w[CE, j] * sin_kink)  # sin(E − E_limit)
            w[MARK, j] = w[MARK, j] if apart > 1.5 * abs(w[LAST, j]) + 1e-12 else 2.0
            # |f″| = 2 cos E / sin³ E here, twice for its change over x (|x| ≤ 1e-2 rad)
            r = 1.0 / abs(w[SE, j])
            w[CURV, j] = min(4.0 * abs(w[CE, j]) * r * r * r, curvature)
    step_block(w, m, k, wide)
    marked = 0
    for _ in range(2):
        value_block(w, m, i, tab, 0)
        unsure = 0
        bound = 2.0 * abs(c0)  # 1 / (1 + slope) ≤ 2 where not marked
        for j in range(m):  # the state moves in step_block (in here: no SIMD)
            step = (c0 * w[V, j] - w[LAST, j]) * w[STEP, j]
            w[LAST, j] += step
            w[D, j] = -step
            sure = bound * w[CURV, j] * abs(w[LAST, j]) * abs(step) < 1e-13  # also NaN
            mark = w[MARK, j]
            mark = mark if mark == 2.0 else (0.0 if sure else 1.0)
            w[MARK, j] = mark
            unsure += 1 if mark == 1.0 else 0
            marked += 1 if mark == 2.0 else 0
        step_block(w, m, k, False)  # a tiny step
        if unsure == 0:
            return marked
        marked = 0
    for j in range(m):
        marked += 1 if w[MARK, j] != 0.0 else 0
    return marked


@helper
def newton_marked(w, w1, m, i, k, tab, c0, wide):
    """Newton to convergence for the positions chord_block marked, one at a time in
    the one-column workspace ``w1`` (a few per block: TX near its limit)."""
    for j in range(m):
        if w[MARK, j] != 0.0:
            for r in range(ROWS):
                w1[r, 0] = w[r, j]
            from_target(w1, 1, k)
            newton_block(w1, 1, i, k, tab, c0, wide)
            for r in (SA, CA, SE, CE, SIDE, FLAG):
                w[r, j] = w1[r, 0]


@helper
def newton_block(w, m, i, k, tab, c0, wide):
    """Undo a term along E (k 7) or A (8) evaluated where it acts: t = p + c·f(p).

    From x = c·f(t), Newton steps on x with f′ (row LAST holds x); after one step
    the error is ~ (c·f″)·(c·f′·c·f)², below 1e-14 rad, and a second is taken
    only where a step exceeded 3e-7 rad.  A slope |c·f′| ≥ 0.5 (no contraction)
    or no convergence in three steps flags the position.
    """
    keep_target(w, m, k)
    value_block(w, m, i, tab, 0)
    for j in range(m):
        w[LAST, j] = c0 * w[V, j]
    done = False
    for _ in range(3):
        for j in range(m):
            w[D, j] = -w[LAST, j]
        from_target(w, m, k)
        step_block(w, m, k, wide)
        value_block(w, m, i, tab, 1 if k == 7 else 2)
        large = 0
        for j in range(m):
            slope = c0 * w[DV, j]
            steep = not abs(slope) < 0.5  # also NaN
            step = 0.0 if steep else (c0 * w[V, j] - w[LAST, j]) / (1.0 + slope)
            w[LAST, j] += step
            w[FLAG, j] = 1.0 if steep else w[FLAG, j]
            w[STEP, j] = abs(step)
            large += 0 if w[STEP, j] < 3e-7 else 1
        if large == 0:
            done = True
            break
    for j in range(m):
        w[D, j] = -w[LAST, j]
    from_target(w, m, k)
    step_block(w, m, k, wide)
    if not done:
        for j in range(m):
            w[FLAG, j] = w[FLAG, j] if w[STEP, j] < 3e-7 else 1.0


@helper
def fixed_point_block(w, m, i, k, tab, c0, wide):
    """Undo a sky term (k 9) or NRX/NRY (5, 6): fixed point on the pre-image (its
    contraction is ~1e-4 per pass); positions that do not settle in 12 are flagged."""
    keep_target(w, m, k)
    for j in range(m):
        w[LAST, j] = 1e300
    for _ in range(12):
        if k == 9:
            value_block(w, m, i, tab, 0)
            for j in range(m):
                w[D, j] = c0 * w[V, j]
            undo_across_block(w, m, wide)
        else:
            for j in range(m):  # across by x(E₀), then E by de(E₀), both at the pre-image
                w[V, j] = -c0 * w[SE, j] if k == 5 else c0 * w[CE, j]  # de
                w[D, j] = -c0 * w[CE, j] if k == 5 else -c0 * w[SE, j]  # x
            undo_across_block(w, m, wide)
            for j in range(m):
                w[D, j], w[V, j] = -w[V, j], w[D, j] + w[V, j]
            step_block(w, m, 7, wide)
            for j in range(m):
                w[D, j] = w[V, j]
        busy = 0
        for j in range(m):
            moved = ~(abs(w[D, j] - w[LAST, j]) <= 1e-12)  # the error left is ~1e-4 of this
            busy += 1 if moved & (w[D, j] == w[D, j]) else 0  # NaN (the hole) is flagged below
            w[LAST, j] = w[D, j]
        if busy == 0:
            return
    for j in range(m):
        w[FLAG, j] = 1.0


@njit  # a call per term and block (not inlined: keeps compile time down)
def inverse_term(w, w1, m, i, tab):
    k = int(tab[i, KIND])
    p0, p1 = tab[i, PAR + 0], tab[i, PAR + 1]
    if k == 0:
        for j in range(m):
            w[SA, j], w[CA, j] = turn(w[SA, j], w[CA, j], p1, p0)
    elif k == 1:
        for j in range(m):
            w[SE, j], w[CE, j], w[SIDE, j] = el_step(w[SE, j], w[CE, j], -p1, p0)
    elif k == 2:
        for j in range(m):
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = undo_across(sa, ca, se, ce, side, -p1, p0)
    elif k == 3:
        for j in range(m):
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = undo_npae(sa, ca, se, ce, side, p1, p0)
    elif k == 4:
        for j in range(m):
            vx, vy, vz = rotate(tab, i, w[CE, j] * w[CA, j], w[CE, j] * w[SA, j], w[SE, j], True)
            sa, ca, se, ce, side = at(w, j)
            w[SA, j], w[CA, j], w[SE, j], w[CE, j] = from_vector(vx, vy, vz, side, sa, ca)
    elif k == 7 or k == 8:
        keep_target(w, m, k)
        c0, wide = tab[i, COEF], tab[i, WIDE] != 0.0
        marked = chord_block(w, m, i, k, tab, c0, tab[i, PAR + 2], wide)
        if marked > m // 16:  # large terms, steep places: Newton to convergence
            from_target(w, m, k)
            newton_block(w, m, i, k, tab, c0, wide)
        elif marked:
            newton_marked(w, w1, m, i, k, tab, c0, wide)
    else:
        fixed_point_block(w, m, i, k, tab, tab[i, COEF], (tab[i, WIDE] != 0.0))


# ---- TPOINT's parallel (&) terms: evaluated at their head's input (rows PSA..PCE) -------

@helper
def value_at_head(w, m, i, tab):
    """Row D ← c·f of additive term i at the saved evaluation point (rows PSA..PCE)."""
    copy_rows(w, m, SA, XSA, 4)
    copy_rows(w, m, PSA, SA, 4)
    value_block(w, m, i, tab, 0)
    copy_rows(w, m, XSA, SA, 4)
    c0 = tab[i, COEF]
    for j in range(m):
        w[D, j] = c0 * w[V, j]


@njit  # a call per term and block (not inlined: keeps compile time down)
def forward_at_head(w, m, i, tab):
    """A parallel additive term (along E 7, A 8, across 9), evaluated at its head's input."""
    value_at_head(w, m, i, tab)
    step_block(w, m, int(tab[i, KIND]), tab[i, WIDE] != 0.0)


@njit  # a call per term and block (not inlined: keeps compile time down)
def undo_at_head(w, m, i, tab):
    """Exact inverse of :func:`forward_at_head` for the evaluation point in rows PSA..PCE."""
    value_at_head(w, m, i, tab)
    k, wide = int(tab[i, KIND]), tab[i, WIDE] != 0.0
    if k == 9:
        keep_target(w, m, 9)
        undo_across_block(w, m, wide)
    else:
        for j in range(m):
            w[D, j] = -w[D, j]
        step_block(w, m, k, wide)


@njit  # a call per group and block
def group_chord(w, m, h, last, tab):
    """Rows KAA..KEE ← (I + J)⁻¹ − I at the state (the group's target), J the derivative
    of the parallel terms' summed move (A, E) by their evaluation point: the chord of
    :func:`undo_group`'s iteration (where J is not small: no chord, the plain fixed
    point).  Rows SUMA, SUME ← the moves of its terms along A and E there."""
    for r in (KAA, KAE, KEA, KEE, SUMA, SUME):
        for j in range(m):
            w[r, j] = 0.0
    for i in range(h, last + 1):
        if int(tab[i, EVAL]) != h:
            continue  # the head itself: its derivative is left out of the chord
        k, c0 = int(tab[i, KIND]), tab[i, COEF]
        on_a, on_e = False, int(tab[i, FCODE]) != 0  # which coordinates f depends on
        for q in range(int(tab[i, NFAC])):
            coord = int(tab[i, FAC + 3 * q + 1])
            on_a, on_e = on_a or coord == 0, on_e or coord != 0
        summed = k == 9  # the sums are not wanted for terms across
        for deriv, col in ((1, 1), (2, 0)):  # along E: KAE, KEE; along A: KAA, KEA
            if (deriv == 1 and not on_e and on_a) or (deriv == 2 and not on_a):
                continue  # a derivative known to be 0
            value_block(w, m, i, tab, deriv)
            if not summed:
                summed = True
                to = SUMA if k == 8 else SUME
                for j in range(m):
                    w[to, j] += c0 * w[V, j]
            for j in range(m):
                g = c0 * w[DV, j]
                if k == 9:  # across: A by ~ x / cos E
                    w[KAA + col, j] += g / w[CE, j]
                elif k == 8:
                    w[KAA + col, j] += g
                else:
                    w[KEA + col, j] += g
    for j in range(m):
        jaa, jae, jea, jee = w[KAA, j], w[KAE, j], w[KEA, j], w[KEE, j]
        small = max(abs(jaa), abs(jae), abs(jea), abs(jee)) < 0.25  # also NaN
        r = 1.0 / ((1.0 + jaa) * (1.0 + jee) - jae * jea) if small else 0.0
        w[KAA, j] = (1.0 + jee) * r - 1.0 if small else 0.0
        w[KAE, j] = -jae * r
        w[KEA, j] = -jea * r
        w[KEE, j] = (1.0 + jaa) * r - 1.0 if small else 0.0


@njit  # a call per pass of a group and block
def chord_step(w, m):
    """State ← state + (K) (state − P): the chord step on the residual of one pass."""
    for j in range(m):
        sa, ca, se, ce, _ = at(w, j)
        ra = sa * w[PCA, j] - ca * w[PSA, j]  # sin of the residual (small: ~ its angle)
        re = se * w[PCE, j] - ce * w[PSE, j]
        u = w[KAA, j] * ra + w[KAE, j] * re
        v = w[KEA, j] * ra + w[KEE, j] * re
        ok = (abs(u) < SERIES_MAX) & (abs(v) < SERIES_MAX)  # also NaN
        su, cu = series_sc(u if ok else 0.0)
        sv, cv = series_sc(v if ok else 0.0)
        w[SA, j], w[CA, j] = turn(sa, ca, su, cu)
        w[SE, j], w[CE, j], w[SIDE, j] = el_step(se, ce, sv, cv)


@njit  # a call per pass of a group and block
def group_sums(w, m, h, last, tab):
    """Rows SUMA, SUME ← the summed moves along A and E of the group's parallel terms at
    the state (P)."""
    for j in range(m):
        w[SUMA, j], w[SUME, j] = 0.0, 0.0
    for i in range(h, last + 1):
        if int(tab[i, EVAL]) == h:
            value_block(w, m, i, tab, 0)
            to, c0 = (SUMA if int(tab[i, KIND]) == 8 else SUME), tab[i, COEF]
            for j in range(m):
                w[to, j] += c0 * w[V, j]


@njit  # a call per pass of a group and block
def undo_sums(w, m, wide):
    """Undo the summed moves (rows SUMA, SUME) of a group along A and E."""
    for j in range(m):
        w[D, j] = -w[SUMA, j]
    step_block(w, m, 8, wide)
    for j in range(m):
        w[D, j] = -w[SUME, j]
    step_block(w, m, 7, wide)


@njit  # a call per group and block
def undo_group(w, w1, m, h, last, tab):
    """Undo operations h..last: a head (h) and its parallel terms, which are evaluated
    at the head's input P.  P by a fixed point: from P = the target, undo the parallel
    terms in reverse with their functions at P, then the head exactly; the result,
    moved by the chord step (:func:`group_chord`, which takes the contraction from
    Σ|c·f′| (~5e-2 on TPOINT's FAUTO models) to ~1e-3), is the next P.  Terms along A
    and E commute: a group of those only is undone by their summed moves, evaluated
    at P without setting the state aside.  Positions whose step is not below
    GROUP_TOL after GROUP_MAX passes are flagged."""
    _, summed, wide = group_end(tab, h)
    copy_rows(w, m, SA, GSA, 5)  # sin A, cos A, sin E, cos E, side
    copy_rows(w, m, SA, PSA, 4)
    group_chord(w, m, h, last, tab)
    for n in range(GROUP_MAX):
        if summed and n > 0:
            group_sums(w, m, h, last, tab)  # the state is P
        copy_rows(w, m, GSA, SA, 5)
        if summed:
            undo_sums(w, m, wide)
        for i in range(last, h - 1, -1):
            if int(tab[i, EVAL]) != h:  # the head, evaluated at its own input: P
                inverse_term(w, w1, m, i, tab)
            elif not summed:
                undo_at_head(w, m, i, tab)
        chord_step(w, m)
        busy = 0
        for j in range(m):
            step = max(abs(w[SA, j] - w[PSA, j]), abs(w[CA, j] - w[PCA, j]),
                       abs(w[SE, j] - w[PSE, j]), abs(w[CE, j] - w[PCE, j]))
            w[STEP, j] = step
            busy += 1 if step > GROUP_TOL else 0  # NaN (the hole) is flagged by the caller
        copy_rows(w, m, SA, PSA, 4)
        if busy == 0:
            return
    for j in range(m):
        w[FLAG, j] = 1.0 if w[STEP, j] > GROUP_TOL else w[FLAG, j]


@helper
def group_end(tab, h):
    """The last operation of the group whose evaluation point is op h's input, and
    whether its parallel terms all move along A or E (they commute: summed moves)."""
    last, summed, reach = h, int(tab[h, EVAL]) != h or int(tab[h, KIND]) != 9, 0.0
    if int(tab[h, EVAL]) == h:
        reach += abs(tab[h, COEF])
    while last + 1 < tab.shape[0] and int(tab[last + 1, EVAL]) == h:
        last += 1
        summed = summed and int(tab[last, KIND]) != 9
        reach += abs(tab[last, COEF])  # harmonics: |f| ≤ 1
    return last, summed, reach >= SERIES_MAX


@njit  # a call per pass of a group and block
def apply_sums(w, m, wide):
    """Apply the summed moves (rows SUMA, SUME) of a group along A and E."""
    for j in range(m):
        w[D, j] = w[SUME, j]
    step_block(w, m, 7, wide)
    for j in range(m):
        w[D, j] = w[SUMA, j]
    step_block(w, m, 8, wide)


@helper
def forward_chain(w, m, tab):
    i = 0
    while i < tab.shape[0]:
        if tab[i, HEAD] != 0.0:  # later terms are evaluated here
            last, summed, wide = group_end(tab, i)
            if summed:  # their moves at this state, applied after the head's
                group_sums(w, m, i, last, tab)
                if int(tab[i, EVAL]) != i:
                    forward_term(w, m, i, tab)
                apply_sums(w, m, wide)
                i = last + 1
                continue
            copy_rows(w, m, SA, PSA, 4)
        if tab[i, EVAL] < 0.0:
            forward_term(w, m, i, tab)
        else:
            forward_at_head(w, m, i, tab)
        i += 1


@helper
def inverse_chain(w, w1, m, tab):
    i = tab.shape[0] - 1
    while i >= 0:
        h = int(tab[i, EVAL])
        if h < 0:
            inverse_term(w, w1, m, i, tab)
            i -= 1
        else:  # the group of parallel terms ending here, with its head
            undo_group(w, w1, m, h, i, tab)
            i = h - 1


# ---- loading and storing a block -----------------------------------------------------

@helper
def load_block(w, m, a, e, lo, top):
    """Sines and cosines of the block's input (``a``, ``e``: its slices); row BAD holds
    0 (valid), 1 (not finite) or 2 (elevation outside lo..top); invalid positions are
    computed at (0, 0)."""
    far = 0  # integer counts (not a float max) keep these loops vectorised
    for j in range(m):
        x, y = a[j], e[j]
        finite = (abs(x) < math.inf) & (abs(y) < math.inf)
        bad = 0.0 if finite & (y >= lo) & (y <= top) else (2.0 if finite else 1.0)
        x = x if bad == 0.0 else 0.0
        y = y if bad == 0.0 else 0.0
        far += 1 if (abs(x) > REDUCE_MAX) | (abs(y) > REDUCE_MAX) else 0
        w[SA0, j], w[CA0, j] = sin_cos(x)
        w[SE0, j], w[CE0, j] = sin_cos(y)
        w[SIDE, j] = -1.0 if y > half_pi else 1.0
        w[BAD, j] = bad
        w[FLAG, j] = 0.0
    if far:  # many turns of cable wrap: the library reduces those
        for j in range(m):
            x, y = a[j], e[j]
            if w[BAD, j] == 0.0 and max(abs(x), abs(y)) > REDUCE_MAX:
                w[SA0, j], w[CA0, j] = math.sin(x), math.cos(x)
                w[SE0, j], w[CE0, j] = math.sin(y), math.cos(y)
    copy_rows(w, m, SA0, SA, 4)


@helper
def copy_rows(w, m, src, dst, n):
    """Rows src..src+n−1 to dst..dst+n−1 (sin A, cos A, sin E, cos E keep that order)."""
    for r in range(n):
        for j in range(m):
            w[dst + r, j] = w[src + r, j]


@helper
def differences(w, j, sr, cr):
    # sine, cosine of E − E₀ and of A − (A₀ + shift), the shift's sine and cosine sr, cr
    sa, ca, se, ce, _ = at(w, j)
    se0, ce0 = w[SE0, j], w[CE0, j]
    rs, rc = turn(w[SA0, j], w[CA0, j], sr, cr)
    return se * ce0 - ce * se0, ce * ce0 + se * se0, sa * rc - ca * rs, ca * rc + sa * rs


@helper
def store_block(w, m, a, e, shift, sr, cr, out_a, out_e):
    """The outputs as small angles from the input (moved by the constant azimuth
    shift), so no atan2 in general; a fix-up pass takes the large ones.  ``a``, ``e``,
    ``out_a``, ``out_e``: the block's slices."""
    for j in range(m):
        es, ec, az_s, az_c = differences(w, j, sr, cr)
        out_e[j] = e[j] + series_angle(es, ec)
        out_a[j] = a[j] + shift + series_angle(az_s, az_c)
    for j in range(m):
        if w[BAD, j] != 0.0:
            out_a[j], out_e[j] = math.nan, math.nan
        elif math.isnan(out_a[j]) or math.isnan(out_e[j]):
            es, ec, az_s, az_c = differences(w, j, sr, cr)
            out_e[j] = e[j] + math.atan2(es, ec)
            out_a[j] = a[j] + shift + math.atan2(az_s, az_c)


# ---- entry points ----------------------------------------------------------------------
# The model is (tab, off): see compiled.encode.
# Array entry points validate the input themselves: positions that are not finite or
# whose elevation is outside lo..top give NaN; the inverse writes a status per
# position (0 done, 1 not finite, 2 elevation outside lo..top, CHECK: the caller solves
# it on the checked path) and returns how many it left to check.

@njit
def forward_range(tab, off, lo, top, a, e, out_a, out_e,
                  start, stop):
    w = np.empty((ROWS, min(BLOCK, max(stop - start, 1))))
    sr, cr = math.sin(off[0]), math.cos(off[0])
    for b in range(start, stop, BLOCK):
        m = min(BLOCK, stop - b)
        load_block(w, m, a[b:b + m], e[b:b + m], lo, top)
        forward_chain(w, m, tab)
        store_block(w, m, a[b:b + m], e[b:b + m], off[0], sr, cr, out_a[b:b + m],
                    out_e[b:b + m])


@njit
def inverse_range(tab, off, lo, top, hi, a, e,
                  out_a, out_e, status, start, stop):
    w = np.empty((ROWS, min(BLOCK, max(stop - start, 1))))
    w1 = np.empty((ROWS, 1))  # one position apart (see newton_marked)
    sr, cr = math.sin(off[0]), math.cos(off[0])
    n = 0
    for b in range(start, stop, BLOCK):
        m = min(BLOCK, stop - b)
        load_block(w, m, a[b:b + m], e[b:b + m], lo, top)
        inverse_chain(w, w1, m, tab)
        re, st = out_e[b:b + m], status[b:b + m]
        store_block(w, m, a[b:b + m], e[b:b + m], -off[0], -sr, cr, out_a[b:b + m], re)
        # a state of the chain within 1° of the zenith (also NaN: the hole) goes to the
        # checked path; no state is farther than off[1] from the result in elevation
        near = guard + off[1]
        for j in range(m):
            check = (w[FLAG, j] != 0.0) | ~(abs(w[CE, j]) >= near)
            check = check | ~((re[j] >= lo) & (re[j] <= hi))
            code = 1 if w[BAD, j] == 1.0 else (2 if w[BAD, j] == 2.0 else (CHECK if check else 0))
            st[j] = code
            n += 1 if code == CHECK else 0
    return n


@njit
def fwd(tab, off, a, e):
    """One position (the servo cycle's call)."""
    x, y, out_a, out_e = np.full(1, a), np.full(1, e), np.empty(1), np.empty(1)
    forward_range(tab, off, -np.inf, np.inf, x, y,
                  out_a, out_e, 0, 1)
    return out_a[0], out_e[0]


@njit
def inv(tab, off, lo, top, hi, a, e):
    """One position: (az, el, status)."""
    x, y, out_a, out_e = np.full(1, a), np.full(1, e), np.empty(1), np.empty(1)
    status = np.empty(1, np.int8)
    inverse_range(tab, off, lo, top, hi, x, y,
                  out_a, out_e, status, 0, 1)
    return out_a[0], out_e[0], status[0]


@parallel_njit
def forward_parallel(tab, off, lo, top, a, e,
                     out_a, out_e, chunk):
    """forward_range over chunks of positions on numba's threads."""
    n = a.size
    for c in numba.prange((n + chunk - 1) // chunk):
        forward_range(tab, off, lo, top, a, e,
                      out_a, out_e, c * chunk, min(n, (c + 1) * chunk))


@parallel_njit
def inverse_parallel(tab, off, lo, top, hi, a, e,
                     out_a, out_e, status, chunk):
    """inverse_range over chunks of positions on numba's threads."""
    n = a.size
    left = 0
    for c in numba.prange((n + chunk - 1) // chunk):
        left += inverse_range(tab, off, lo, top, hi,
                              a, e, out_a, out_e, status, c * chunk, min(n, (c + 1) * chunk))
    return left
