"""The numba-compiled kernels behind :mod:`pointing.model.compiled` (see there).

Module-level functions, so numba's on-disk cache serves every later process.
Imported only by :mod:`pointing.model.compiled`, lazily.
"""

from __future__ import annotations

import math

import numba

from pointing.model.terms import TX_COT_LIMIT

njit = numba.njit(cache=True, nogil=True)
helper = numba.njit(cache=True, nogil=True, inline="always")
half_pi = 0.5 * math.pi
cot_limit = TX_COT_LIMIT
#: |cos E| below this (1° from the zenith): the caller solves on the checked path
guard = 0.0175


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
def fvalue(fcode, nf, fac, i, sa, ca, se, ce):
    if fcode == 1:
        return -ce
    if fcode == 2:
        return -ce / max(se, ce / cot_limit)
    if fcode == 3:
        return se
    if fcode == 4:
        return ce
    v = 1.0
    for j in range(nf):
        coord = fac[i, j, 1]
        if coord == 0:  # harmonic azimuth 180° − A: sin = sin A, cos = −cos A
            s1, c1 = sa, -ca
        elif coord == 1:
            s1, c1 = se, ce
        else:  # zenith distance
            s1, c1 = ce, se
        s, c = multiple(s1, c1, fac[i, j, 2])
        v *= s if fac[i, j, 0] == 0 else c
    return v

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
    se2 = c * se
    ce2 = side * math.sqrt(ce * ce + se * se * s * s)  # = cos E', without cancellation
    if ce2 == 0.0:
        return sa, ca, se2, ce2
    sa2, ca2 = turn(sa, ca, s / ce2, c * ce / ce2)
    return sa2, ca2, se2, ce2

@helper
def small_angle(s, c):
    # atan2(s, c) for the small angles of a model's correction, by its series
    if c > 0.0 and abs(s) < 1e-3 * c:
        t = s / c
        t2 = t * t
        return t * (1.0 - t2 * (1.0 / 3.0 - t2 * (0.2 - t2 / 7.0)))
    return math.atan2(s, c)

@njit
def fwd(kind, coef, fcode, nfac, fac, par, off, a, e):
    side = -1.0 if e > half_pi else 1.0
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    for i in range(kind.size):
        k = kind[i]
        if k == 0:  # A −= c
            sa, ca = turn(sa, ca, -par[i, 1], par[i, 0])
        elif k == 1:  # E += c
            se, ce, side = el_step(se, ce, par[i, 1], par[i, 0])
        elif k == 2:  # CA: across by −c
            sa, ca, se, ce = across(sa, ca, se, ce, side, -par[i, 1], par[i, 0])
        elif k == 3:  # NPAE: about the horizontal axis at A
            sn, cn = par[i, 1], par[i, 0]
            se2 = se * cn
            ce2 = side * math.sqrt(ce * ce + se * se * sn * sn)
            if ce2 != 0.0:
                sa, ca = turn(sa, ca, -se * sn / ce2, ce / ce2)
            se, ce = se2, ce2
        elif k == 4:
            vx, vy, vz = ce * ca, ce * sa, se
            vx, vy, vz = (par[i, 0] * vx + par[i, 1] * vy + par[i, 2] * vz,
                          par[i, 3] * vx + par[i, 4] * vy + par[i, 5] * vz,
                          par[i, 6] * vx + par[i, 7] * vy + par[i, 8] * vz)
            sa, ca, se, ce = state(vx, vy, vz, side, sa, ca)
        elif k == 5 or k == 6:  # Nasmyth: E step, then across, both at this E
            c0 = coef[i]
            de = -c0 * se if k == 5 else c0 * ce
            x = -c0 * ce if k == 5 else -c0 * se
            s, c = small_sc(de)
            se, ce, side = el_step(se, ce, s, c)
            s, c = small_sc(x)
            sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
        else:
            d = coef[i] * fvalue(fcode[i], nfac[i], fac, i, sa, ca, se, ce)
            s, c = small_sc(d)
            if k == 7:
                se, ce, side = el_step(se, ce, s, c)
            elif k == 8:
                sa, ca = turn(sa, ca, s, c)
            else:
                sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
    # the outputs as small angles from the input (moved by IA): no atan2 in general
    el = e + small_angle(se * ce0 - ce * se0, ce * ce0 + se * se0)
    sr, cr = turn(sa0, ca0, math.sin(off[0]), math.cos(off[0]))
    az = a + off[0] + small_angle(sa * cr - ca * sr, ca * cr + sa * sr)
    return az, el

@helper
def undo_across(sa, ca, se, ce, side, s, c):
    # the position that across(…, s, c) takes to (A, E); NaN inside the hole
    rest = ce * ce - s * s
    if rest < 0.0:
        return math.nan, math.nan, math.nan, math.nan
    se0 = se / c
    ce0 = side * math.sqrt(rest) / c
    sa0, ca0 = turn(sa, ca, -s / ce, c * ce0 / ce)
    return sa0, ca0, se0, ce0

@njit
def inv(kind, coef, fcode, nfac, fac, par, off, a, e):
    # Over 80 lines: one branch per term kind, undone in reverse order, flat because a
    # compiled kernel cannot dispatch through a table of functions without losing its speed.
    side = -1.0 if e > half_pi else 1.0
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    flag = abs(ce) < guard
    for i in range(kind.size - 1, -1, -1):
        k = kind[i]
        if k == 0:
            sa, ca = turn(sa, ca, par[i, 1], par[i, 0])
        elif k == 1:
            se, ce, side = el_step(se, ce, -par[i, 1], par[i, 0])
        elif k == 2:
            sa, ca, se, ce = undo_across(sa, ca, se, ce, side, -par[i, 1], par[i, 0])
        elif k == 3:
            sn, cn = par[i, 1], par[i, 0]
            rest = ce * ce - sn * sn
            if rest < 0.0:
                return math.nan, math.nan, True
            se1 = se / cn
            ce1 = side * math.sqrt(rest) / cn
            sa, ca = turn(sa, ca, se1 * sn / ce, ce1 / ce)
            se, ce = se1, ce1
        elif k == 4:
            vx, vy, vz = ce * ca, ce * sa, se
            vx, vy, vz = (par[i, 0] * vx + par[i, 3] * vy + par[i, 6] * vz,
                          par[i, 1] * vx + par[i, 4] * vy + par[i, 7] * vz,
                          par[i, 2] * vx + par[i, 5] * vy + par[i, 8] * vz)
            sa, ca, se, ce = state(vx, vy, vz, side, sa, ca)
        elif k == 7 or k == 8:  # along E or A, evaluated where they act: Newton
            # t = p + c·f(p): from p₀ = t − c·f(t), one Newton step on p with f′ leaves
            # an error ~ (c·f″)·(c·f′·c·f)², below 1e-14 rad; large terms take a second
            tsa, tca, tse, tce = sa, ca, se, ce
            d0 = coef[i] * fvalue(fcode[i], nfac[i], fac, i, sa, ca, se, ce)
            d = d0
            for _ in range(3):
                s, c = small_sc(d)
                if k == 7:
                    se, ce, side = el_step(tse, tce, -s, c)
                else:
                    sa, ca = turn(tsa, tca, -s, c)
                f1, df1 = fvalue_d(fcode[i], nfac[i], fac, i, sa, ca, se, ce, k == 7)
                slope = coef[i] * df1
                if not abs(slope) < 0.5:  # no contraction (or NaN): the checked path
                    flag = True
                    break
                step = (coef[i] * f1 - d) / (1.0 + slope)
                d = d + step
                if abs(step) < 3e-7:  # what is left is below (c·f″)·step² ≈ 1e-14
                    s, c = small_sc(d)
                    if k == 7:
                        se, ce, side = el_step(tse, tce, -s, c)
                    else:
                        sa, ca = turn(tsa, tca, -s, c)
                    break
            else:
                flag = True
        else:  # across (sky terms) and Nasmyth: fixed point on the pre-image
            tsa, tca, tse, tce, tside = sa, ca, se, ce, side
            last = 1e300
            settled = False
            for _ in range(12):
                if k == 5 or k == 6:
                    c0 = coef[i]
                    de = -c0 * se if k == 5 else c0 * ce
                    x = -c0 * ce if k == 5 else -c0 * se
                    s, c = small_sc(x)
                    qsa, qca, qse, qce = undo_across(tsa, tca, tse, tce, tside, s, c)
                    s, c = small_sc(de)
                    se, ce, side = el_step(qse, qce, -s, c)
                    sa, ca = qsa, qca
                    d = de + x
                else:
                    d = coef[i] * fvalue(fcode[i], nfac[i], fac, i, sa, ca, se, ce)
                    s, c = small_sc(d)
                    sa, ca, se, ce = undo_across(tsa, tca, tse, tce, tside, s, c)
                if abs(d - last) <= 1e-12:  # the error left is ~1e-4 of this step
                    settled = True
                    break
                last = d
            if not settled:
                flag = True
        if not (abs(ce) >= guard):  # also NaN (the zenith hole)
            flag = True
    el = e + small_angle(se * ce0 - ce * se0, ce * ce0 + se * se0)
    sr, cr = turn(sa0, ca0, -math.sin(off[0]), math.cos(off[0]))
    az = a - off[0] + small_angle(sa * cr - ca * sr, ca * cr + sa * sr)
    return az, el, flag

@njit
def forward_many(kind, coef, fcode, nfac, fac, par, off, a, e, out_a, out_e):
    for j in range(a.size):
        out_a[j], out_e[j] = fwd(kind, coef, fcode, nfac, fac, par, off, a[j], e[j])

@njit
def inverse_many(kind, coef, fcode, nfac, fac, par, off, a, e, out_a, out_e, flag):
    for j in range(a.size):
        out_a[j], out_e[j], flag[j] = inv(kind, coef, fcode, nfac, fac, par, off,
                                          a[j], e[j])
