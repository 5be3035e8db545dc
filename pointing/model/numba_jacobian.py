"""Compiled Jacobian of the sequential alt-az model with respect to its coefficients.

The fit's exact Gauss–Newton step needs ``d(A, E)/dc`` of the rigorous model
(:func:`pointing.model.numba_kernels.fwd`) at every observation.  This kernel
follows ``fwd``'s chain of operations on the same encoded plan
(:func:`pointing.model.compiled.encode`) and carries, beside the state, the
derivatives of its azimuth and elevation with respect to every coefficient
(forward-mode differentiation): each operation multiplies them by its own
2×2 Jacobian and adds its derivative with respect to its coefficient,
analytically; TPOINT's parallel (``&``) terms take their function at their head's
input, and its derivatives, kept there.  One pass per observation, instead of
the ``2M + 1`` passes of central differences; the positions come out of the
same pass, as ``fwd`` gives them (the same state updates in the same order;
``tests/model/test_fit_jacobian.py`` checks the two agree; ``fwd`` sums the moves
of a group of parallel terms along A and E, which differs in the last bits).

Imported lazily by :mod:`pointing.model.fit` (numba's import is slow);
module-level functions so numba's on-disk cache serves later processes.
numba keys that cache on this file alone: after a change to the helpers it
inlines from :mod:`pointing.model.numba_kernels`, touch this file (or delete
its ``__pycache__/*.nbi``) so the kernel is compiled again.
Checked against central differences of the numpy kernels in
``tests/model/test_fit_jacobian.py``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pointing.model.numba_kernels import (
    across,
    el_step,
    fvalue_d,
    small_angle,
    small_sc,
    state,
    turn,
)

njit = numba.njit(cache=True, nogil=True)
helper = numba.njit(cache=True, nogil=True, inline="always")


@helper
def across_d(se, ce, side, s, c):
    """Derivatives of ``across`` by x (sin s, cos c) at (E: se, ce): (A_e, A_x, E_e, E_x)."""
    ce2 = side * math.sqrt(ce * ce + se * se * s * s)
    if ce2 == 0.0:
        return 0.0, 0.0, 1.0, 0.0
    q = 1.0 / (ce2 * ce2)
    return s * c * se * q, ce * q, c * ce / ce2, -s * se / ce2


@helper
def propagate(da, de, hi, jaa, jae, jea, jee):
    # columns from hi on are still zero: no operation of theirs has been met
    for m in range(hi):
        x, y = da[m], de[m]
        da[m] = jaa * x + jae * y
        de[m] = jea * x + jee * y


@helper
def add(da, de, hi, col, ga, ge):
    if col >= 0:
        da[col] += ga
        de[col] += ge
        return max(hi, col + 1)
    return hi


@helper
def at_head(k, c0, f, f_a, f_e, sa, ca, se, ce, side, da, de, hi, dap, dep, col, sg):
    """A parallel (&) additive term whose f (and f_a, f_e) was taken at its head's input
    P, whose derivatives are ``dap``, ``dep``: the state moved, ``da``, ``de`` updated."""
    s, c = small_sc(c0 * f)
    if k == 9:
        a_e, a_x, e_e, e_x = across_d(se, ce, side, s, c)
    for m in range(hi):
        dx = c0 * (f_a * dap[m] + f_e * dep[m])  # the correction's derivative, through P
        if k == 7:
            de[m] += dx
        elif k == 8:
            da[m] += dx
        else:
            da[m], de[m] = da[m] + a_e * de[m] + a_x * dx, e_e * de[m] + e_x * dx
    if k == 7:
        hi = add(da, de, hi, col, 0.0, sg * f)
        se, ce, side = el_step(se, ce, s, c)
    elif k == 8:
        hi = add(da, de, hi, col, sg * f, 0.0)
        sa, ca = turn(sa, ca, s, c)
    else:
        hi = add(da, de, hi, col, sg * a_x * f, sg * e_x * f)
        sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
    return sa, ca, se, ce, side, hi


@njit
def jacobian_one(kind, coef, fcode, nfac, fac, par, off, col, sgn, dtilt, ev, hd, a, e,
                 da, de, dap, dep):
    """fwd's azimuth and elevation at one position, and their derivatives (radians per
    radian) into ``da``, ``de``.

    ``col[i]`` names the Jacobian column of operation ``i``'s coefficient (−1: not
    wanted) and ``sgn[i]`` the sign between it and the encoded coefficient; a tilt
    has two (AN, AW) with ``dtilt[i]`` the derivatives of its rotation matrix.
    TPOINT's parallel terms: ``ev[i]`` is the operation at whose input operation ``i``
    is evaluated (−1: where it acts), ``hd[i]`` 1 where a later one is (the state and
    its derivatives are kept in ``p…``, ``dap``, ``dep`` there).
    """
    # Over 80 lines: one branch per operation kind, in the order and shape of
    # numba_kernels.fwd, so the two can be read side by side.
    da[:] = 0.0
    de[:] = 0.0
    hi = 0
    side = -1.0 if e > 0.5 * math.pi else 1.0
    sa0, ca0, se0, ce0 = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    sa, ca, se, ce = sa0, ca0, se0, ce0
    psa, pca, pse, pce = sa, ca, se, ce
    for i in range(kind.size):
        k = kind[i]
        if hd[i]:  # a later parallel term is evaluated here
            psa, pca, pse, pce = sa, ca, se, ce
            dap[:] = da
            dep[:] = de
        if ev[i] >= 0:
            c0 = coef[i]
            f, f_a = fvalue_d(fcode[i], nfac[i], fac, i, psa, pca, pse, pce, False)
            _, f_e = fvalue_d(fcode[i], nfac[i], fac, i, psa, pca, pse, pce, True)
            sa, ca, se, ce, side, hi = at_head(k, c0, f, f_a, f_e, sa, ca, se, ce, side, da,
                                               de, hi, dap, dep, col[i, 0], sgn[i])
        elif k == 0:  # A −= c
            hi = add(da, de, hi, col[i, 0], -sgn[i], 0.0)
            sa, ca = turn(sa, ca, -par[i, 1], par[i, 0])
        elif k == 1:  # E += c
            hi = add(da, de, hi, col[i, 0], 0.0, sgn[i])
            se, ce, side = el_step(se, ce, par[i, 1], par[i, 0])
        elif k == 2:  # CA: across by −c
            s, c = -par[i, 1], par[i, 0]
            a_e, a_x, e_e, e_x = across_d(se, ce, side, s, c)
            propagate(da, de, hi, 1.0, a_e, 0.0, e_e)
            hi = add(da, de, hi, col[i, 0], -sgn[i] * a_x, -sgn[i] * e_x)
            sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
        elif k == 3:  # NPAE: about the horizontal axis at A
            sn, cn = par[i, 1], par[i, 0]
            se2 = se * cn
            ce2 = side * math.sqrt(ce * ce + se * se * sn * sn)
            if ce2 != 0.0:
                q = 1.0 / (ce2 * ce2)
                propagate(da, de, hi, 1.0, -sn * q, 0.0, cn * ce / ce2)
                hi = add(da, de, hi, col[i, 0], -sgn[i] * ce * se * cn * q,
                         -sgn[i] * se * sn / ce2)
                sa, ca = turn(sa, ca, -se * sn / ce2, ce / ce2)
            se, ce = se2, ce2
        elif k == 4:  # tilt: v' = R v
            vx, vy, vz = ce * ca, ce * sa, se
            r = par[i]
            wx = r[0] * vx + r[1] * vy + r[2] * vz
            wy = r[3] * vx + r[4] * vy + r[5] * vz
            wz = r[6] * vx + r[7] * vy + r[8] * vz
            h2 = wx * wx + wy * wy
            ce2 = side * math.sqrt(h2)
            if h2 > 0.0:
                # dv/dA = (−ce sa, ce ca, 0), dv/dE = (−se ca, −se sa, ce), rotated by R
                ax, ay, az_ = -ce * sa, ce * ca, 0.0
                ex, ey, ez = -se * ca, -se * sa, ce
                jaa = (wx * (r[3] * ax + r[4] * ay) - wy * (r[0] * ax + r[1] * ay)) / h2
                jae = (wx * (r[3] * ex + r[4] * ey + r[5] * ez)
                       - wy * (r[0] * ex + r[1] * ey + r[2] * ez)) / h2
                jea = (r[6] * ax + r[7] * ay + r[8] * az_) / ce2
                jee = (r[6] * ex + r[7] * ey + r[8] * ez) / ce2
                propagate(da, de, hi, jaa, jae, jea, jee)
                for t in range(2):
                    d = dtilt[i, t]
                    ux = d[0] * vx + d[1] * vy + d[2] * vz
                    uy = d[3] * vx + d[4] * vy + d[5] * vz
                    uz = d[6] * vx + d[7] * vy + d[8] * vz
                    hi = add(da, de, hi, col[i, t], (wx * uy - wy * ux) / h2, uz / ce2)
            sa, ca, se, ce = state(wx, wy, wz, side, sa, ca)
        elif k == 5 or k == 6:  # Nasmyth: E step, then across, both at this E
            c0 = coef[i]
            if k == 5:
                d1, x = -c0 * se, -c0 * ce
                e1_e, e1_c, x_e, x_c = 1.0 - c0 * ce, -se, c0 * se, -ce
            else:
                d1, x = c0 * ce, -c0 * se
                e1_e, e1_c, x_e, x_c = 1.0 - c0 * se, ce, -c0 * ce, -se
            s, c = small_sc(d1)
            se, ce, side = el_step(se, ce, s, c)
            s, c = small_sc(x)
            a_e, a_x, e_e, e_x = across_d(se, ce, side, s, c)
            propagate(da, de, hi, 1.0, a_e * e1_e + a_x * x_e, 0.0, e_e * e1_e + e_x * x_e)
            hi = add(da, de, hi, col[i, 0], sgn[i] * (a_e * e1_c + a_x * x_c),
                sgn[i] * (e_e * e1_c + e_x * x_c))
            sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
        else:  # additive: d = c·f(A, E) into E (7), A (8) or across (9)
            c0 = coef[i]
            f, f_a = fvalue_d(fcode[i], nfac[i], fac, i, sa, ca, se, ce, False)
            _, f_e = fvalue_d(fcode[i], nfac[i], fac, i, sa, ca, se, ce, True)
            s, c = small_sc(c0 * f)
            if k == 7:
                propagate(da, de, hi, 1.0, 0.0, c0 * f_a, 1.0 + c0 * f_e)
                hi = add(da, de, hi, col[i, 0], 0.0, sgn[i] * f)
                se, ce, side = el_step(se, ce, s, c)
            elif k == 8:
                propagate(da, de, hi, 1.0 + c0 * f_a, c0 * f_e, 0.0, 1.0)
                hi = add(da, de, hi, col[i, 0], sgn[i] * f, 0.0)
                sa, ca = turn(sa, ca, s, c)
            else:
                a_e, a_x, e_e, e_x = across_d(se, ce, side, s, c)
                propagate(da, de, hi, 1.0 + a_x * c0 * f_a, a_e + a_x * c0 * f_e,
                          e_x * c0 * f_a, e_e + e_x * c0 * f_e)
                hi = add(da, de, hi, col[i, 0], sgn[i] * a_x * f, sgn[i] * e_x * f)
                sa, ca, se, ce = across(sa, ca, se, ce, side, s, c)
    # the state to angles exactly as fwd ends (small angles from the input, moved by IA)
    el = e + small_angle(se * ce0 - ce * se0, ce * ce0 + se * se0)
    sr, cr = turn(sa0, ca0, math.sin(off[0]), math.cos(off[0]))
    az = a + off[0] + small_angle(sa * cr - ca * sr, ca * cr + sa * sr)
    return az, el


@njit
def forward_jacobian_many(kind, coef, fcode, nfac, fac, par, off, col, sgn, dtilt, ev, hd,
                          a, e, out_a, out_e, jac):
    """Positions (fwd) and the 2N×M Jacobian: rows d(A)·cos E, then dE, per radian."""
    n = a.size
    m = jac.shape[1]
    da, de, dap, dep = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    for j in range(n):
        out_a[j], out_e[j] = jacobian_one(kind, coef, fcode, nfac, fac, par, off, col, sgn,
                                          dtilt, ev, hd, a[j], e[j], da, de, dap, dep)
        cos_e = math.cos(out_e[j])
        for k in range(m):
            jac[j, k] = da[k] * cos_e
            jac[n + j, k] = de[k]
