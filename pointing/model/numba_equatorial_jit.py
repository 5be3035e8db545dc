"""The numba-compiled equatorial kernels behind :mod:`pointing.model.numba_equatorial`.

The polar-frame twin of :mod:`pointing.model.numba_kernels` (whose angle-addition
helpers it uses): per position on the sines and cosines of the frame's azimuth
(−h) and elevation (δ, beyond 90° on a German equatorial's far side), the
equatorial laws (harmonics in H and D, FO, DAF, TF, TX) and pier-side terms.
Module-level functions, so numba's on-disk cache serves every later process.
Imported only by :mod:`pointing.model.numba_equatorial`, lazily.
"""

from __future__ import annotations

import math

import numba

from pointing.model.numba_kernels import (
    across,
    el_step,
    guard,
    half_pi,
    multiple,
    small_angle,
    small_sc,
    state,
    turn,
    undo_across,
)
from pointing.model.terms import TX_COT_LIMIT

njit = numba.njit(cache=True, nogil=True)
helper = numba.njit(cache=True, nogil=True, inline="always")
tx_limit = TX_COT_LIMIT
#: fixed-point passes of a term evaluated where it acts (contraction ~c·f′ ≈ 1e-4 a pass)
passes = 12


@helper
def fvalue(fcode, nf, fac, par, i, sa, ca, se, ce):
    """f of an additive term: harmonic product (0), FO (11), DAF (12)."""
    if fcode == 11:
        return ca
    if fcode == 12:
        return par[i, 3] * ca * ce + par[i, 2] * se
    v = 1.0
    for j in range(nf):
        if fac[i, j, 1] == 0:  # hour angle h = −a
            s1, c1 = -sa, ca
        else:  # declination
            s1, c1 = se, ce
        s, c = multiple(s1, c1, fac[i, j, 2])
        v *= s if fac[i, j, 0] == 0 else c
    return v


@helper
def tube(fcode, par, i, sa, ca, se, ce):
    """TF (13) / TX (14): (Δe, sideways) per radian, as equatorial._flexure."""
    sl, cl = par[i, 2], par[i, 3]
    de = -(cl * ca * se - sl * ce)
    x = -cl * sa
    if fcode == 14:
        cz = sl * se + cl * ce * ca
        sz = math.sqrt(max(1.0 - cz * cz, 0.0))
        cz = max(cz, sz / tx_limit)
        de, x = de / cz, x / cz
    return de, x


@helper
def skip(onside, i, side):
    """A pier-side term off its side: 1 acts on the near side only, 2 on the far."""
    return (onside[i] == 1 and side < 0.0) or (onside[i] == 2 and side > 0.0)


@njit
def fwd(kind, coef, fcode, nfac, fac, par, onside, off, a, e):
    # One branch per term kind, flat as in numba_kernels.fwd.  The flag marks a chain
    # that passes within 1° of a pole or changes pier side there: the numpy kernels
    # (the reference) decide on which side later terms see such a state.
    side = -1.0 if e > half_pi else 1.0
    side0 = side
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    flag = False
    for i in range(kind.size):
        if not (abs(ce) >= guard) or side != side0:
            flag = True
        if skip(onside, i, side):
            continue
        k = kind[i]
        if k == 0:  # A −= c
            sa, ca = turn(sa, ca, -par[i, 1], par[i, 0])
        elif k == 1:  # E += c
            se, ce, side = el_step(se, ce, par[i, 1], par[i, 0])
        elif k == 2:  # CH: across by −c
            sa, ca, se, ce = across(sa, ca, se, ce, side, -par[i, 1], par[i, 0])
        elif k == 3:  # NP: about the declination axis
            sn, cn = par[i, 1], par[i, 0]
            se2 = se * cn
            ce2 = side * math.sqrt(ce * ce + se * se * sn * sn)
            if ce2 != 0.0:
                sa, ca = turn(sa, ca, -se * sn / ce2, ce / ce2)
            se, ce = se2, ce2
        elif k == 4:  # MA/ME: one rotation of the polar axis
            vx, vy, vz = ce * ca, ce * sa, se
            vx, vy, vz = (par[i, 0] * vx + par[i, 1] * vy + par[i, 2] * vz,
                          par[i, 3] * vx + par[i, 4] * vy + par[i, 5] * vz,
                          par[i, 6] * vx + par[i, 7] * vy + par[i, 8] * vz)
            sa, ca, se, ce = state(vx, vy, vz, side, sa, ca)
        elif k == 10:  # TF/TX: E step, then across, both at this position
            de, x = tube(fcode[i], par, i, sa, ca, se, ce)
            s, c = small_sc(coef[i] * de)
            se, ce, side = el_step(se, ce, s, c)
            s, c = small_sc(coef[i] * x)
            sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
        else:
            d = coef[i] * fvalue(fcode[i], nfac[i], fac, par, i, sa, ca, se, ce)
            s, c = small_sc(d)
            if k == 7:
                se, ce, side = el_step(se, ce, s, c)
            elif k == 8:
                sa, ca = turn(sa, ca, s, c)
            else:
                sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
    if not (abs(ce) >= guard) or side != side0:
        flag = True
    el = e + small_angle(se * ce0 - ce * se0, ce * ce0 + se * se0)
    sr, cr = turn(sa0, ca0, math.sin(off[0]), math.cos(off[0]))
    az = a + off[0] + small_angle(sa * cr - ca * sr, ca * cr + sa * sr)
    return az, el, flag


@helper
def undo_where(kind, coef, fcode, nfac, fac, par, i, tsa, tca, tse, tce, tside):
    """Terms evaluated where they act (kinds 7–10): fixed point on the pre-image of
    the target ``t``; returns the pre-image and whether it settled."""
    sa, ca, se, ce, side = tsa, tca, tse, tce, tside
    k = kind[i]
    last_a, last_b = 1e300, 1e300
    for _ in range(passes):
        if k == 10:
            de, x = tube(fcode[i], par, i, sa, ca, se, ce)
            da, db = coef[i] * de, coef[i] * x
            s, c = small_sc(db)
            qsa, qca, qse, qce = undo_across(tsa, tca, tse, tce, tside, s, c)
            s, c = small_sc(da)
            se, ce, side = el_step(qse, qce, -s, c)
            sa, ca = qsa, qca
        else:
            da = coef[i] * fvalue(fcode[i], nfac[i], fac, par, i, sa, ca, se, ce)
            db = 0.0
            s, c = small_sc(da)
            if k == 7:
                se, ce, side = el_step(tse, tce, -s, c)
            elif k == 8:
                sa, ca = turn(tsa, tca, -s, c)
            else:
                sa, ca, se, ce = undo_across(tsa, tca, tse, tce, tside, s, c)
        if abs(da - last_a) <= 1e-12 and abs(db - last_b) <= 1e-12:
            return sa, ca, se, ce, side, True
        last_a, last_b = da, db
    return sa, ca, se, ce, side, False


@njit
def inv(kind, coef, fcode, nfac, fac, par, onside, off, a, e):
    side = -1.0 if e > half_pi else 1.0
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    flag = abs(ce) < guard
    for i in range(kind.size - 1, -1, -1):
        if skip(onside, i, side):
            continue
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
        else:
            sa, ca, se, ce, side, settled = undo_where(kind, coef, fcode, nfac, fac, par, i,
                                                       sa, ca, se, ce, side)
            if not settled:
                flag = True
        if not (abs(ce) >= guard):  # also NaN
            flag = True
    el = e + small_angle(se * ce0 - ce * se0, ce * ce0 + se * se0)
    sr, cr = turn(sa0, ca0, -math.sin(off[0]), math.cos(off[0]))
    az = a - off[0] + small_angle(sa * cr - ca * sr, ca * cr + sa * sr)
    return az, el, flag


@njit
def forward_many(kind, coef, fcode, nfac, fac, par, onside, off, a, e, out_a, out_e, flag):
    for j in range(a.size):
        out_a[j], out_e[j], flag[j] = fwd(kind, coef, fcode, nfac, fac, par, onside, off,
                                          a[j], e[j])


@njit
def inverse_many(kind, coef, fcode, nfac, fac, par, onside, off, a, e, out_a, out_e, flag):
    for j in range(a.size):
        out_a[j], out_e[j], flag[j] = inv(kind, coef, fcode, nfac, fac, par, onside, off,
                                          a[j], e[j])
