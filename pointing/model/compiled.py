"""Compiled (numba) kernels of the sequential model: the daemon's fast path.

The same convention as :mod:`pointing.model.kernels` (the reference, and the
fallback without numba), written on the sines and cosines of azimuth and
elevation: every term moves them by angle addition (exact rotations: the
sideways and non-perpendicularity maps written without cancellation near the
zenith, the tilt through the unit vector), so no trigonometric call is needed
between terms; harmonics come from the one sine-cosine pair of each coordinate
by the multiple-angle recurrence; small angles take short series exact to
machine precision, and the outputs are taken as small angles from the input.

TPOINT's parallel (``&``) terms (:attr:`pointing.model.kernels.Plan.par`): the
state is kept where a later term is evaluated (its head's input) and those
terms are evaluated there; a group whose terms all move along A or E
(they commute) is applied as its summed moves.  The inverse finds the
evaluation point P of each group by a fixed point — undo the group's terms in
reverse with their functions at P, then the head exactly — with a chord step
((I + J)⁻¹, J the group's derivative by P at the target) on each pass, until
the step is below 1e-13 (4 passes on the 2020-03-14 FAUTO model); positions
that do not settle in 16 passes go to the checked path.

Positions are processed in blocks (:mod:`pointing.model.numba_kernels`): each
term is one loop over a block, which the compiler vectorises, and the input's
sines and cosines come from a vectorisable polynomial; the input is validated
inside the kernel (NaN and a status where it is not finite or out of range).

The inverse undoes the terms in reverse order: rotations and the sideways and
non-perpendicularity maps in closed form; terms along E or A evaluated where
they act from a first-order solution and one chord-Newton step (error bounded
per position below 1e-14 rad, Newton to convergence where the bound fails);
sky terms and NRX/NRY by a fixed point.  Positions where this is not safe — a
state within 1° of the zenith, a step that does not contract, the zenith hole,
a demand outside the range — get status :data:`CHECK`, and the caller solves
them on the checked (numpy) path.

Threads: arrays of :data:`PARALLEL_MIN` positions or more are split over
numba's threads (:func:`threads`: ``NUMBA_NUM_THREADS`` or
``numba.set_num_threads`` in the calling thread; 1 runs serially), smaller
ones — the servo cycle's calls — run serially on the calling thread.  One
threaded call runs at a time; a call that finds the pool busy runs serially.
Results do not depend on the number of threads.

numba is imported lazily (its import costs ~0.3 s; ``import pointing`` must
stay numpy-only) and is optional: :func:`available` says whether it is
installed.  The first calls in a fresh environment compile the kernels into
numba's on-disk cache (~20 s serial, ~15 s more for the threaded ones on this
machine; a daemon should make one call of each at start); later processes load
them in well under a second.  Positions
beyond the zenith keep the side they were given through the whole chain (the
numpy path may switch side where a term itself moves a position across the
zenith, a band as wide as that term's correction: there the two differ in how
the later terms see the azimuth; the checked path is the reference).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from pointing.jit import lazy_module
from pointing.model.compiled_layout import (
    CHECK,
    COEF,
    COLS,
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
from pointing.model.kernels import tilt_matrix
from pointing.model.terms import TX_COT_LIMIT

__all__ = ["CHECK", "PARALLEL_MIN", "available", "encode", "encode_arrays", "forward", "inverse",
           "threads"]

#: positions from which the array kernels run on numba's threads: below, a thread
#: wake-up would cost more than it saves (and the servo cycle's calls stay serial)
PARALLEL_MIN = 32768
_CHUNK = 16384  # positions per task of the threaded kernels
#: one threaded call at a time: a call that finds the pool busy (another Python thread
#: inside it) runs serially instead, so no threading layer is ever entered concurrently
_pool = threading.Lock()

_KIND = {"az": 0, "el": 1, "ca": 2, "npae": 3, "tilt": 4, "nrx": 5, "nry": 6}
_FCODE = {"TF": 1, "TX": 2, "ECES": 3, "ECEC": 4}
#: bound of |f″| of TX (−cot E held at the limit: 2·cos E / sin³ E at its largest)
_TX_CURVATURE = 2.0 * (1.0 + TX_COT_LIMIT ** 2) ** 1.5

#: lazy: numba's import cost is paid by the first model application only
_kernels = lazy_module("pointing.model.numba_kernels")


def available() -> bool:
    """Whether the compiled kernels can be used (numba importable)."""
    return _kernels() is not None


def encode(ops: tuple[tuple[Any, ...], ...], par: tuple[int, ...] = ()
           ) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a plan's operations into the compiled kernels' model: (table, off).

    ``ops`` are :class:`pointing.model.kernels.Plan` operations with float
    coefficients (radians).  One row of ``table`` per operation, columns
    :data:`KIND`, :data:`COEF`, :data:`FCODE` (TF, TX, ECES, ECEC), :data:`NFAC`
    and three (function, coordinate, multiplier) triples from :data:`FAC` for
    harmonics, nine :data:`PAR` (cos and sin of the coefficient; the tilt's
    rotation; for additive terms a bound of |f″| in ``PAR + 2``) and :data:`WIDE`
    (the correction may exceed the kernels' short series), :data:`EVAL` and
    :data:`HEAD` (TPOINT's parallel terms, from the plan's ``par``).  ``off`` holds the
    constant azimuth shift (−ΣIA), the wrap reference, and the most the chain can
    move a position in elevation (radians).  One float table, so a
    call passes two arrays (each array argument costs the servo cycle a little).
    """
    tab = np.zeros((len(ops), COLS), np.float64)
    off = np.zeros(2, np.float64)
    tab[:, EVAL] = -1.0
    for i, k in enumerate(par):
        if k >= 0:
            tab[i, EVAL] = k
            tab[k, HEAD] = 1.0
    for i, op in enumerate(ops):
        k, row = op[0], tab[i]
        off[1] += _elevation_reach(op)
        if k in ("az", "el") and op[2] is None:
            row[KIND] = _KIND[k]
            if k == "az":
                off[0] -= op[1]
            row[COEF] = op[1]
            row[PAR], row[PAR + 1] = math.cos(op[1]), math.sin(op[1])
        elif k in ("az", "el", "sky"):
            row[KIND] = {"el": 7, "az": 8, "sky": 9}[k]
            row[COEF] = op[1]
            row[WIDE] = abs(op[1]) * (TX_COT_LIMIT if op[2] == "TX" else 1.0) >= SERIES_MAX
            if isinstance(op[2], str):
                row[FCODE] = _FCODE[op[2]]
                row[PAR + 2] = _TX_CURVATURE if op[2] == "TX" else 1.0
            else:
                row[NFAC] = len(op[2])
                for j, (func, coord, mult) in enumerate(op[2]):
                    row[FAC + 3 * j:FAC + 3 * j + 3] = (0 if func == "S" else 1,
                                                        "AEZ".index(coord), mult)
                row[PAR + 2] = float(sum(mult for _, _, mult in op[2])) ** 2
        elif k == "tilt":
            row[KIND] = 4
            row[PAR:PAR + 9] = tilt_matrix(float(op[1]), float(op[2]))
        else:
            row[KIND] = _KIND[k]
            row[COEF] = op[1]
            row[WIDE] = abs(op[1]) >= SERIES_MAX  # NRX, NRY: |correction| ≤ |c|
            row[PAR], row[PAR + 1] = math.cos(op[1]), math.sin(op[1])
    return tab, off


def threads() -> int:
    """Threads the array kernels use at and above :data:`PARALLEL_MIN` positions:
    numba's setting (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``); 1 without numba."""
    k = _kernels()
    return 1 if k is None else int(k.numba.get_num_threads())


def _parallel(n: int) -> bool:
    """Whether n positions go to the threaded kernel (and take its lock: see below)."""
    return n >= PARALLEL_MIN and threads() > 1 and _pool.acquire(blocking=False)


def encode_arrays(ops: tuple[tuple[Any, ...], ...]) -> tuple[np.ndarray, ...]:
    """The table of :func:`encode` as per-kind arrays, one position at a time's layout:
    (kind, coef, fcode, nfac, fac (n, 3, 3), par (n, 9), off (1,)) — what the fit's
    compiled Jacobian (:mod:`pointing.model.numba_jacobian`) reads."""
    tab, off = encode(ops)
    n = tab.shape[0]
    ints = tab[:, [KIND, FCODE, NFAC]].astype(np.int64)
    fac = tab[:, FAC:FAC + 9].astype(np.int64).reshape(n, 3, 3)
    return (np.ascontiguousarray(ints[:, 0]), tab[:, COEF].copy(),
            np.ascontiguousarray(ints[:, 1]), np.ascontiguousarray(ints[:, 2]), fac,
            tab[:, PAR:PAR + 9].copy(), off[:1].copy())


def _elevation_reach(op: tuple[Any, ...]) -> float:
    """The most one operation can move a position in elevation (radians)."""
    k = op[0]
    if k == "az":
        return 0.0
    if k == "tilt":
        return math.hypot(float(op[1]), float(op[2]))
    if k in ("el", "sky") and op[2] is not None:
        return abs(op[1]) * (TX_COT_LIMIT if op[2] == "TX" else 1.0)
    return abs(op[1]) * (2.0 if k in ("nrx", "nry") else 1.0)


def _threaded(kernel: Any, *args: Any) -> Any:
    """Run a threaded kernel (the caller holds ``_pool``), its chunks handed out one at a
    time: on a shared machine a thread that gets less of its core does less of the work."""
    numba = _kernels().numba
    before = numba.set_parallel_chunksize(1)
    try:
        return kernel(*args)
    finally:
        numba.set_parallel_chunksize(before)
        _pool.release()


def forward(arrays: tuple[np.ndarray, ...], a: np.ndarray, e: np.ndarray,
            lo: float = -math.inf, top: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Forward chain at flat float arrays; NaN where a is not finite or e outside lo..top."""
    k = _kernels()
    a, e = np.ascontiguousarray(a, np.float64), np.ascontiguousarray(e, np.float64)
    out_a, out_e = np.empty_like(a), np.empty_like(e)
    if _parallel(a.size):
        _threaded(k.forward_parallel, *arrays, lo, top, a, e, out_a, out_e, _CHUNK)
    else:
        k.forward_range(*arrays, lo, top, a, e, out_a, out_e, 0, a.size)
    return out_a, out_e


def inverse(arrays: tuple[np.ndarray, ...], a: np.ndarray, e: np.ndarray, lo: float,
            top: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Chain inverse at flat float arrays: (az, el, status, how many to check).

    Status: 0 done, 1 input not finite, 2 input elevation outside lo..top, CHECK
    where the caller must solve on the checked path (near the zenith, the hole, a
    term that does not contract, a result outside lo..hi).
    """
    k = _kernels()
    a, e = np.ascontiguousarray(a, np.float64), np.ascontiguousarray(e, np.float64)
    out_a, out_e = np.empty_like(a), np.empty_like(e)
    status = np.empty(a.shape, np.int8)
    if _parallel(a.size):
        left = _threaded(k.inverse_parallel, *arrays, lo, top, hi, a, e, out_a, out_e,
                         status, _CHUNK)
    else:
        left = k.inverse_range(*arrays, lo, top, hi, a, e, out_a, out_e, status, 0, a.size)
    return out_a, out_e, status, int(left)


def forward_scalar(arrays: tuple[np.ndarray, ...], a: float, e: float) -> tuple[float, float]:
    return _kernels().fwd(*arrays, a, e)


def inverse_scalar(arrays: tuple[np.ndarray, ...], a: float, e: float, lo: float,
                   top: float, hi: float) -> tuple[float, float, int]:
    """One position: (az, el, status) as :func:`inverse`."""
    return _kernels().inv(*arrays, lo, top, hi, a, e)
