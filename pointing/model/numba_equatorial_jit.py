"""The numba-compiled equatorial kernels behind :mod:`pointing.model.numba_equatorial`.

The polar-frame twin of :mod:`pointing.model.numba_kernels`: per position, on the
sines and cosines of the frame's azimuth (−h) and elevation (δ, beyond 90° on a
German equatorial's far side), the equatorial plan's operations, both ways.  Of
the alt-az kernels it uses only the four exact moves (``el_step``, ``turn``,
``across``, ``undo_across``); each operation here is written once, for both
directions (:func:`fixed` for the exact ones, :func:`amounts` and :func:`move`
for those evaluated where they act).  Pier-side operations act by the raw
declination's side: fixed at the start of the forward chain, assumed and then
checked in the inverse.  Module-level functions, so numba's on-disk cache serves
every later process.  Imported only by :mod:`pointing.model.numba_equatorial`, lazily.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pointing.model.numba_kernels import across, el_step, guard, half_pi, turn, undo_across
from pointing.model.terms import TX_COT_LIMIT

njit = numba.njit(cache=True, nogil=True)
helper = numba.njit(cache=True, nogil=True, inline="always")
tx_limit = TX_COT_LIMIT
#: fixed-point passes of a term evaluated where it acts (contraction ~c·f′ ≈ 1e-4 a pass)
passes = 12


@helper
def sc(d):
    """sin d, cos d: for the small moves of a model's terms (|d| < 1e-3) by their series
    (error below 1e-22; a library call costs as much as the rest of a term), else the
    library's."""
    if abs(d) >= 1e-3:
        return math.sin(d), math.cos(d)
    d2 = d * d
    return (d * (1.0 - d2 * (1.0 / 6.0 - d2 / 120.0)),
            1.0 - d2 * (0.5 - d2 * (1.0 / 24.0 - d2 / 720.0)))


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
            s, c = -sa, ca
        else:  # declination
            s, c = se, ce
        s1, c1 = s, c
        for _ in range(fac[i, j, 2] - 1):  # k times the angle, by angle addition
            s, c = s * c1 + c * s1, c * c1 - s * s1
        v *= s if fac[i, j, 0] == 0 else c
    return v


@helper
def amounts(kind, coef, fcode, nfac, fac, par, i, sa, ca, se, ce):
    """What an operation of kinds 7–10 moves by, evaluated at (sa, ca, se, ce): the
    step along its coordinate and, for TF/TX (10), the sideways one (as equatorial._flexure)."""
    if kind[i] != 10:
        return coef[i] * fvalue(fcode[i], nfac[i], fac, par, i, sa, ca, se, ce), 0.0
    sl, cl = par[i, 2], par[i, 3]
    de = -(cl * ca * se - sl * ce)
    x = -cl * sa
    if fcode[i] == 14:  # TX: the TF displacement / cos z, cos z held ≥ sin z / 10
        cz = sl * se + cl * ce * ca
        sz = math.sqrt(max(1.0 - cz * cz, 0.0))
        cz = max(cz, sz / tx_limit)
        de, x = de / cz, x / cz
    return coef[i] * de, coef[i] * x


@helper
def move(k, sa, ca, se, ce, side, da, db, back):
    """Kinds 7 (δ), 8 (azimuth), 9 (across) by ``da``; 10 by ``da`` in δ then ``db``
    across.  ``back``: the exact inverse for the same amounts."""
    s, c = sc(da)
    if k == 7:
        se, ce, side = el_step(se, ce, -s if back else s, c)
    elif k == 8:
        sa, ca = turn(sa, ca, -s if back else s, c)
    elif k == 9:
        if back:
            sa, ca, se, ce = undo_across(sa, ca, se, ce, side, s, c)
        else:
            sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
    elif back:
        sb, cb = sc(db)
        sa, ca, se, ce = undo_across(sa, ca, se, ce, side, sb, cb)
        se, ce, side = el_step(se, ce, -s, c)
    else:
        se, ce, side = el_step(se, ce, s, c)
        sb, cb = sc(db)
        sa, ca, se, ce = across(sa, ca, se, ce, side, sb, cb)
    return sa, ca, se, ce, side


@helper
def fixed(k, par, i, sa, ca, se, ce, side, back):
    """The exact operations, applied or (``back``) undone: 0 IH, 1 ID (shifts), 2 CH
    (across), 3 NP (about the declination axis), 4 MA/ME (the polar axis' rotation).
    NaN where no position undoes NP (within NP of the pole)."""
    sn, cn = par[i, 1], par[i, 0]
    if k == 0:
        sa, ca = turn(sa, ca, sn if back else -sn, cn)
    elif k == 1:
        se, ce, side = el_step(se, ce, -sn if back else sn, cn)
    elif k == 2:
        if back:
            sa, ca, se, ce = undo_across(sa, ca, se, ce, side, -sn, cn)
        else:
            sa, ca, se, ce = across(sa, ca, se, ce, side, -sn, cn)
    elif k == 3:
        if back:  # cos δ₀ from sin δ₀ = sin δ / cos NP
            rest = ce * ce - sn * sn
            s0 = se / cn
            c0 = side * math.sqrt(rest) / cn if rest >= 0.0 else math.nan
            sa, ca = turn(sa, ca, s0 * sn / ce, c0 / ce)
        else:
            s0 = se * cn
            c0 = side * math.sqrt(ce * ce + se * se * sn * sn)
            if c0 != 0.0:
                sa, ca = turn(sa, ca, -se * sn / c0, ce / c0)
        se, ce = s0, c0
    else:  # the rotation (its transpose to undo), then the state of the new vector
        vx, vy, vz = ce * ca, ce * sa, se
        r, t = (1, 3) if back else (3, 1)  # strides of the matrix' rows and columns
        wx = par[i, 0] * vx + par[i, t] * vy + par[i, 2 * t] * vz
        wy = par[i, r] * vx + par[i, 4] * vy + par[i, r + 2 * t] * vz
        vz = par[i, 2 * r] * vx + par[i, 2 * r + t] * vy + par[i, 8] * vz
        h = math.sqrt(wx * wx + wy * wy)
        se, ce = vz, side * h
        if h > 0.0:
            sa, ca = wy / ce, wx / ce
    return sa, ca, se, ce, side


@helper
def skip(onside, i, far):
    """A pier-side operation off the raw side: 1 acts on the near side only, 2 on the far."""
    return (onside[i] == 1 and far) or (onside[i] == 2 and not far)


@helper
def result(a, e, off, far, sa0, ca0, se0, ce0, sa, ca, se, ce, sign):
    """(azimuth, elevation) of the state as increments from the input's (a, e); the
    azimuth on the turn of the input moved by ``sign`` × the side's constant shift."""
    shift = sign * off[1 if far else 0]
    el = e + math.atan2(se * ce0 - ce * se0, ce * ce0 + se * se0)
    sr, cr = turn(sa0, ca0, math.sin(shift), math.cos(shift))
    return a + shift + math.atan2(sa * cr - ca * sr, ca * cr + sa * sr), el



@njit
def fwd(kind, coef, fcode, nfac, fac, par, onside, off, a, e):
    """True (a, e) at raw (a, e), and a flag where the chain passes within 1° of a pole
    (where the numpy kernels, the reference, answer)."""
    far = e > half_pi  # the mount's pier side: what the pier-side operations follow
    side = -1.0 if far else 1.0
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    flag = False
    for i in range(kind.size):
        flag = flag or not (abs(ce) >= guard)
        if skip(onside, i, far):
            continue
        k = kind[i]
        if k <= 4:
            sa, ca, se, ce, side = fixed(k, par, i, sa, ca, se, ce, side, False)
        else:
            da, db = amounts(kind, coef, fcode, nfac, fac, par, i, sa, ca, se, ce)
            sa, ca, se, ce, side = move(k, sa, ca, se, ce, side, da, db, False)
    flag = flag or not (abs(ce) >= guard)
    az, el = result(a, e, off, far, sa0, ca0, se0, ce0, sa, ca, se, ce, 1.0)
    return az, el, flag


@helper
def undo_where(kind, coef, fcode, nfac, fac, par, i, tsa, tca, tse, tce, tside):
    """Kinds 7–10, evaluated where they act: fixed point on the pre-image of the target
    ``t``; returns the pre-image and whether it settled."""
    sa, ca, se, ce, side = tsa, tca, tse, tce, tside
    last_a, last_b = 1e300, 1e300
    for _ in range(passes):
        da, db = amounts(kind, coef, fcode, nfac, fac, par, i, sa, ca, se, ce)
        sa, ca, se, ce, side = move(kind[i], tsa, tca, tse, tce, tside, da, db, True)
        if abs(da - last_a) <= 1e-12 and abs(db - last_b) <= 1e-12:
            return sa, ca, se, ce, side, True
        last_a, last_b = da, db
    return sa, ca, se, ce, side, False


@helper
def inv_on(kind, coef, fcode, nfac, fac, par, onside, off, a, e, far):
    """The chain inverse for a raw position assumed on side ``far``; flagged where it
    passes within 1° of a pole or a fixed point does not settle."""
    side = -1.0 if e > half_pi else 1.0
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    flag = not (abs(ce) >= guard)
    for i in range(kind.size - 1, -1, -1):
        if skip(onside, i, far):
            continue
        k = kind[i]
        if k <= 4:
            sa, ca, se, ce, side = fixed(k, par, i, sa, ca, se, ce, side, True)
        else:
            sa, ca, se, ce, side, settled = undo_where(kind, coef, fcode, nfac, fac, par, i,
                                                       sa, ca, se, ce, side)
            flag = flag or not settled
        flag = flag or not (abs(ce) >= guard)  # also NaN
    az, el = result(a, e, off, far, sa0, ca0, se0, ce0, sa, ca, se, ce, -1.0)
    return az, el, flag


@helper
def inv_first(kind, coef, fcode, nfac, fac, par, onside, off, a, e):
    """The chain inverse on the target's side: (a, e, flag, whether the solution lies
    on the other side)."""
    far = e > half_pi
    az, el, flag = inv_on(kind, coef, fcode, nfac, fac, par, onside, off, a, e, far)
    return az, el, flag, not flag and (el > half_pi) != far


@njit  # not inlined: rarely reached (a second inlined chain slows every call)
def other_side(kind, coef, fcode, nfac, fac, par, onside, off, a, e):
    """The target's side's solution lies on the other side: without pier-side
    operations it is the answer; with them the other side's chain is solved and kept
    only if it lies there."""
    far = e > half_pi
    sided = False
    for i in range(onside.size):
        sided = sided or onside[i] != 0
    az, el, flag = inv_on(kind, coef, fcode, nfac, fac, par, onside, off, a, e,
                          far != sided)
    return az, el, flag or (sided and (el > half_pi) == far)


@njit
def inv(kind, coef, fcode, nfac, fac, par, onside, off, a, e):
    """Raw (a, e) reaching true (a, e), flagged where the checked numpy solver should
    answer.  With pier-side operations the raw side is assumed (first the target's,
    then the other) and kept only if the solution lies on it."""
    az, el, flag, other = inv_first(kind, coef, fcode, nfac, fac, par, onside, off, a, e)
    if other:
        return other_side(kind, coef, fcode, nfac, fac, par, onside, off, a, e)
    return az, el, flag


@njit
def forward_many(kind, coef, fcode, nfac, fac, par, onside, off, a, e, out_a, out_e, flag):
    for j in range(a.size):
        out_a[j], out_e[j], flag[j] = fwd(kind, coef, fcode, nfac, fac, par, onside, off,
                                          a[j], e[j])


@njit
def inverse_many(kind, coef, fcode, nfac, fac, par, onside, off, a, e, out_a, out_e, flag):
    # the rare second side in a loop of its own: a call in the first slows every position
    other = np.zeros(a.size, np.bool_)
    for j in range(a.size):
        out_a[j], out_e[j], flag[j], other[j] = inv_first(kind, coef, fcode, nfac, fac, par,
                                                          onside, off, a[j], e[j])
    for j in np.nonzero(other)[0]:
        out_a[j], out_e[j], flag[j] = other_side(kind, coef, fcode, nfac, fac, par, onside,
                                                 off, a[j], e[j])
