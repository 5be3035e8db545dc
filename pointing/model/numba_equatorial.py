"""Compiled (numba) kernels of the equatorial model: the daemon's fast path in h/δ.

The same plan as :mod:`pointing.model.equatorial` compiles (its operations on
the polar frame: azimuth −h, elevation δ up to 270° on a German equatorial's
far side), flattened into arrays and run per position by the kernels of
:mod:`pointing.model.numba_equatorial_jit`, which move sines and cosines by
angle addition as :mod:`pointing.model.compiled` does for alt-az mounts.

The numpy kernels stay the reference and the fallback: without numba, for a
plan with a law the compiled kernels do not know (an equatorial term that
still needs the site latitude, so the numpy path raises its error), and, in
the inverse, for every position the compiled kernel flags (within 1° of the
pole, a fixed point that does not settle, a demand outside −90°..270°),
which :func:`pointing.model.equatorial.solve_inverse` solves and checks; in the
forward direction for chains that pass within 1° of a pole (where the numpy
kernels decide on which pier side the later terms see a state).

numba is imported lazily (``import pointing`` stays numpy-only).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pointing.jit import lazy_module
from pointing.model import equatorial
from pointing.model.kernels import Plan, tilt_matrix
from pointing.model.terms import MATH

__all__ = ["available", "encode", "forward", "forward_scalar", "solve_inverse",
           "solve_inverse_scalar"]

_KIND = {"az": 0, "el": 1, "ca": 2, "npae": 3, "tilt": 4}
_ADDITIVE = {"el": 7, "az": 8, "sky": 9, "xy": 10}
_LAW = {"FO": 11, "DAF": 12, "TF": 13, "TX": 14}
_LO, _HI = equatorial.DEC_LIMITS[0], equatorial.DEC_LIMITS[2]

#: lazy: numba's import cost is paid by the first compiled call only
_kernels = lazy_module("pointing.model.numba_equatorial_jit")


def available() -> bool:
    """Whether the compiled equatorial kernels can be used (numba importable)."""
    return _kernels() is not None


def _encode_law(i: int, factors: Any, fcode: np.ndarray, nfac: np.ndarray, fac: np.ndarray,
                par: np.ndarray) -> bool:
    """The function of an additive operation into the arrays; False if unknown."""
    if callable(factors):
        spec = getattr(factors, "spec", None)
        if spec is None:  # e.g. a law still waiting for the site latitude
            return False
        fcode[i] = _LAW[spec[0]]
        par[i, 2], par[i, 3] = spec[1], spec[2]
        return True
    nfac[i] = len(factors)
    for j, (func, coord, mult) in enumerate(factors):
        fac[i, j] = (0 if func == "S" else 1, "HD".index(coord), mult)
    return True


def encode(plan: Plan) -> tuple[np.ndarray, ...] | None:
    """Flatten an equatorial plan (float coefficients, radians) into the kernels' arrays;
    None when an operation has no compiled form (the numpy path then runs)."""
    ops = plan.ops
    n = len(ops)
    kind, fcode, nfac, onside = (np.zeros(n, np.int64) for _ in range(4))
    coef = np.zeros(n, np.float64)
    fac = np.zeros((n, 3, 3), np.int64)
    par = np.zeros((n, 9), np.float64)
    for i, op in enumerate(ops):
        if op[0] == "side":
            onside[i] = 2 if op[1] else 1
            op = op[2]
        if not all(isinstance(v, float) for v in op[1:3 if op[0] == "tilt" else 2]):
            return None
        k = op[0]
        if k == "tilt":
            kind[i] = 4
            par[i] = tilt_matrix(float(op[1]), float(op[2]))
        elif k in ("ca", "npae") or (k in ("az", "el") and op[2] is None):
            kind[i] = _KIND[k]
            coef[i] = op[1]
            par[i, 0], par[i, 1] = math.cos(op[1]), math.sin(op[1])
        else:
            kind[i] = _ADDITIVE[k]
            coef[i] = op[1]
            if not _encode_law(i, op[2], fcode, nfac, fac, par):
                return None
    # the constant hour-angle shift (−ΣIH) of each pier side's plan: the outputs' turn
    off = np.array([float(equatorial.side_plan(plan, far).az_offset) for far in (False, True)])
    return kind, coef, fcode, nfac, fac, par, onside, off


def forward(plan: Plan, arrays: tuple[np.ndarray, ...], ha: np.ndarray, dec: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """True (h, δ) at raw (h, δ) (1-D float arrays, δ within −270°..270°), as
    :func:`pointing.model.equatorial.forward`; positions whose chain passes within 1°
    of a pole are run on the numpy kernels."""
    h, d = np.asarray(ha, float), np.asarray(dec, float)
    a, e = equatorial.polar_frame(h, d)
    out_a, out_e = np.empty_like(a), np.empty_like(e)
    flag = np.zeros(a.shape, np.bool_)
    _kernels().forward_many(*arrays, a, e, out_a, out_e, flag)
    th = -out_a
    if np.any(flag):
        idx = np.nonzero(flag)[0]
        th[idx], out_e[idx] = equatorial.forward(plan, h[idx], d[idx])
    return th, out_e


def forward_scalar(plan: Plan, arrays: tuple[np.ndarray, ...], ha: float, dec: float
                   ) -> tuple[float, float]:
    """:func:`forward` for one position (Python floats)."""
    a, e = equatorial.polar_frame(ha, dec)
    ta, te, flag = _kernels().fwd(*arrays, a, e)
    if flag:
        return equatorial.forward(plan, ha, dec, MATH)
    return -ta, te


def solve_inverse(plan: Plan, arrays: tuple[np.ndarray, ...], ha: np.ndarray, dec: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw (h, δ) reaching true (h, δ) with kernels' status codes, as
    :func:`pointing.model.equatorial.solve_inverse`: the compiled chain inverse where it
    is safe, the checked numpy solver for every position it flags."""
    h, d = np.asarray(ha, float), np.asarray(dec, float)
    a, e = equatorial.polar_frame(h, d)
    ok = np.isfinite(a) & np.isfinite(e) & (e >= _LO) & (e <= _HI)
    ra, re = np.empty_like(a), np.empty_like(e)
    flag = np.zeros(a.shape, np.bool_)
    _kernels().inverse_many(*arrays, np.where(ok, a, 0.0), np.where(ok, e, 0.5), ra, re, flag)
    flag |= ~ok | ~((re >= _LO) & (re <= _HI))
    rh, st = -ra, np.zeros(a.shape, np.int8)
    if np.any(flag):
        idx = np.nonzero(flag)[0]
        rh[idx], re[idx], st[idx] = equatorial.solve_inverse(plan, h[idx], d[idx])
    return rh, re, st


def solve_inverse_scalar(plan: Plan, arrays: tuple[np.ndarray, ...], ha: float, dec: float
                         ) -> tuple[float, float, int]:
    """:func:`solve_inverse` for one position (Python floats)."""
    a, e = equatorial.polar_frame(ha, dec)
    if math.isfinite(a) and _LO <= e <= _HI:
        ra, re, flag = _kernels().inv(*arrays, a, e)
        if not flag and _LO <= re <= _HI:
            return -ra, re, 0
    rh, rd, st = equatorial.solve_inverse(plan, np.array([ha], float), np.array([dec], float))
    return float(rh[0]), float(rd[0]), int(st[0])
