"""Numeric kernels of the pointing model: TPOINT's sequential application, both ways.

Convention (raw → true, the direction TPOINT's model predicts):

* The terms are applied **one after the other in the model's listed order**;
  each is evaluated at the position reached so far (the output of the term
  before it), starting from the raw encoder position.
* Except TPOINT's **parallel terms** (``&`` in the first column of a ``.mod``
  file; ``Term.parallel``, spelled ``"&HESE"``; alt-az harmonics only): such
  a term is evaluated where the nearest term before it without ``&`` (its
  *head*) is evaluated, i.e. at the head's input, also when the head moves
  nothing (TPOINT's FAUTO lists ``=IE 0`` and ``=CA 0`` as heads); it is still
  applied in its place in the order.  Evidence: the AuxTel 2020-03-14 FAUTO
  coefficients reproduce TPOINT's sky RMS (5.4570″ vs 5.4571″) only with this
  rule; with every term at the position reached so far they give 5.6512″,
  with the ``&`` terms at the raw position 5.4691″
  (``tests/model/test_reference_runs.py``).  The other AuxTel runs, without
  ``&`` terms, give TPOINT's RMS to 1e-4 one after the other.  (The compiled
  kernels, :mod:`pointing.model.compiled`, follow the same rule.)
* Every term is an exact map of the sphere:

  - ``IA``: ``A −= IA``; ``IE``: ``E += IE`` (exact);
  - ``CA`` and sky (``HS…``/``HL…``) terms move the direction across its
    vertical circle by the angle ``x`` (the rotation whose first order is
    ``A += x / cos E``; finite through the zenith), ``x = −CA`` or ``−c·f``;
  - ``NPAE``: rotation by ``NPAE`` about the horizontal axis at the current
    azimuth (the tilted elevation axis);
  - ``AN``/``AW`` together are one tilt of the azimuth axis: one exact rotation
    of the sky (Rodrigues, axial vector ``(AW, AN, 0)`` in north, east, up),
    applied at the place of the first of them in the list;
  - ``NRX``/``NRY``: Nasmyth displacement, evaluated at the current elevation:
    ``E += −NRX·sinE`` (``+NRY·cosE``), then across by ``−NRX·cosE`` (``−NRY·sinE``);
  - elevation terms (``TF``, ``TX``, ``ECES``, ``ECEC``, ``HE…``, ``HZ…``,
    ``HV…``) add to E, azimuth terms (``HA…``) to A.

  So IA of degrees and tilts of tenths of a degree stay exact, as for a
  compass-and-level setup.
* Positions beyond the zenith (raw elevation above 90°, reachable on a mount
  whose range ends at 93°) are written ``(A, E)`` with ``E > 90°`` meaning the
  direction ``(A + 180°, 180° − E)``; every term keeps the side it was given.
* The inverse (true → raw) undoes the terms in reverse order, each exactly
  (closed form for the rotations, a converging fixed point for terms evaluated
  at the position they move, and for a head with its parallel terms, on the
  head's input), then checks the result with the forward model
  and, where that check fails (close to the zenith, where a term's azimuth
  dependence is strong), solves the whole chain by Newton's method from both
  sides of the zenith; where that fails too (alt-az), it follows every branch of
  the chain inverse: near the zenith a term evaluated where it acts can take
  several inputs to the same output, and NPAE/CA fold the region round their
  hole, so each stage's inputs are searched from rings of starts
  (:func:`_inverse_branches`).  Where no encoder position inside the range
  reaches the target the result is NaN with a reason (:data:`STATUS`).

The equatorial mounts reuse these kernels in their polar frame (azimuth
``−h``, elevation ``δ`` up to 270° on a German equatorial's far side), with
two more operations: additive functions compiled with the site latitude and
``xy`` terms moving both coordinates (see :mod:`pointing.model.equatorial`).
A German equatorial's pier-side terms compile to ``("side", far, inner)``;
the chains here never see one: the pier side is the raw declination's, a
state of the mount fixed before the chain, so
:func:`pointing.model.equatorial.side_plan` resolves the plan for it (the
inner operation kept, or left out) and the equatorial inverse solves for the
side (an operation ``"side"`` reaching these chains is an error).

Kernels run on numpy arrays (``xp=numpy``) or on Python floats
(``xp=MATH``): the same code for the daemon's scalar path and vectorised
path.  Coefficients in the compiled plan are radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointing.model.terms import MATH, TX_COT_LIMIT, Term
from pointing.units import ARCSEC
from pointing.units import wrap_pi as _wrap

__all__ = [
    "ELEVATION_MAX",
    "ELEVATION_MIN",
    "STATUS",
    "Plan",
    "compile_plan",
    "forward",
    "inverse",
    "solve_inverse",
    "tilt_matrix",
]

_HALF_PI = 0.5 * math.pi
#: highest raw elevation the mount reaches (radians): 93°, the far side of the zenith
ELEVATION_MAX = math.radians(93.0)
#: lowest elevation accepted (radians)
ELEVATION_MIN = -_HALF_PI
#: highest elevation accepted as input (radians): the range plus 2° for the model itself
INPUT_MAX = math.radians(95.0)
#: reasons a demand is NaN: code → text (see PointingModel.raw_from_true_status)
STATUS = {
    0: "ok",
    1: "input not finite",
    2: "input elevation outside −90°..95°",
    3: "no encoder position inside the mount's range reaches this direction",
}
_INNER_TOL = 1e-13  # fixed-point step (radians) below which a term's inverse is done
_INNER_MAX = 40
_CHECK_TOL = 1e-11  # forward check of an inverse (radians on the sky)


@dataclass(frozen=True)
class Plan:
    """A model compiled for the kernels: its operations in application order.

    ``par`` (empty when every operation is evaluated where it acts) gives per
    operation ``-1``, or for a parallel (``&``) term the index ``k`` of the
    operation before which its evaluation point was reached (the input of its
    head; ``k`` is its own index when the head itself moved nothing).
    """

    ops: tuple[tuple[Any, ...], ...]
    par: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.ops

    @property
    def sequential(self) -> bool:
        """True when no operation is a parallel (``&``) one (the plain chain applies)."""
        return all(k < 0 for k in self.par)

    @property
    def az_offset(self) -> Any:
        """The constant azimuth shift of the model (−ΣIA, radians): outputs are put on
        the input's cable-wrap turn moved by it, so both directions agree on the turn."""
        return sum((-op[1] for op in self.ops if op[0] == "az" and op[2] is None), 0.0)


# ---- compiling -------------------------------------------------------------

def _harmonic_factors(t: Term) -> tuple[tuple[str, str, int], ...]:
    return t.factors


def _term_op(t: Term, c: Any, tilt: dict[str, Any]) -> tuple[Any, ...] | None:
    """The operation of one term with coefficient ``c`` (radians, float or array)."""
    n = t.name
    if n == "IA":
        return ("az", c, None)
    if n == "IE":
        return ("el", c, None)
    if n == "CA":
        return ("ca", c)
    if n == "NPAE":
        return ("npae", c)
    if n in ("AN", "AW"):
        if tilt["placed"]:
            return None
        tilt["placed"] = True
        return ("tilt", tilt["AN"], tilt["AW"])
    if n in ("NRX", "NRY"):
        return (n.lower(), c)
    if n == "TF":
        return ("el", c, "TF")
    if n in ("TX", "TX10"):
        return ("el", c, "TX")
    if n == "ECES":
        return ("el", c, "ECES")
    if n == "ECEC":
        return ("el", c, "ECEC")
    kind = {"A": "az", "S": "sky", "L": "sky", "E": "el", "V": "el", "Z": "el"}[t.result]
    sign = -1.0 if t.result in ("A", "S", "L", "Z") else 1.0
    return (kind, c * sign, t.factors)


def compile_plan(terms: tuple[Term, ...], coefs: Any) -> Plan:
    """Compile terms and coefficients (radians; floats, or arrays for batches)."""
    tilt = {"placed": False, "AN": 0.0, "AW": 0.0}
    for t, c in zip(terms, coefs, strict=True):
        if t.name in ("AN", "AW"):
            tilt[t.name] = c
    ops: list[tuple[Any, ...]] = []
    par: list[int] = []
    head = 0  # where the evaluation point of parallel terms is reached: before ops[head]
    for t, c in zip(terms, coefs, strict=True):
        if not t.parallel:
            head = len(ops)  # this term's input, even when it moves nothing
        if isinstance(c, float) and c == 0.0 and t.name not in ("AN", "AW"):
            continue
        op = _term_op(t, c, tilt)
        if op is None:
            continue
        if op[0] == "tilt" and all(isinstance(v, float) and v == 0.0 for v in op[1:]):
            continue
        ops.append(op)
        par.append(head if t.parallel else -1)
    return Plan(tuple(ops), tuple(par) if any(k >= 0 for k in par) else ())


# ---- the pieces --------------------------------------------------------------

def _factor_value(factors: Any, a: Any, e: Any, xp: Any) -> Any:
    """The function ``f`` of an additive term at (a, e)."""
    if callable(factors):  # an equatorial term's function, compiled with its latitude
        return factors(a, e, xp)
    se, ce = xp.sin(e), xp.cos(e)
    if factors == "TF":
        return -ce
    if factors == "TX":  # cot E, held at the limit low down (TPOINT's TX10)
        return -ce / xp.maximum(se, ce / TX_COT_LIMIT)
    if factors == "ECES":
        return se
    if factors == "ECEC":
        return ce
    v: Any = 1.0
    for func, coord, k in factors:
        # TPOINT's harmonic azimuth is reckoned from south through east
        x = (math.pi - a if coord == "A" else e if coord == "E" else _HALF_PI - e
             if coord == "Z" else -a if coord == "H" else e)  # H, D: the polar frame
        x = x if k == 1 else k * x
        v = v * (xp.sin(x) if func == "S" else xp.cos(x))
    return v


def _to_local(a: Any, e: Any, xp: Any) -> tuple[Any, Any, Any]:
    return xp.cos(e) * xp.cos(a), xp.cos(e) * xp.sin(a), xp.sin(e)


def _from_vector(vx: Any, vy: Any, vz: Any, a_ref: Any, over: Any, xp: Any) -> tuple[Any, Any]:
    """(A, E) of a vector on the side ``over`` says, azimuth near ``a_ref``."""
    s = xp.where(over, -1.0, 1.0)
    az = xp.arctan2(s * vy, s * vx)
    el = xp.arcsin(xp.clip(vz, -1.0, 1.0))
    el = xp.where(over, math.pi - el, el)
    return a_ref + _wrap(az - a_ref), el


def _sideways(a: Any, e: Any, x: Any, xp: Any) -> tuple[Any, Any]:
    """Move a direction by ``x`` across its vertical circle, exactly; keeps its side."""
    ce, se = xp.cos(e), xp.sin(e)
    cx, sx = xp.cos(x), xp.sin(x)
    over = e > _HALF_PI
    s = xp.where(over, -1.0, 1.0)
    new_el = xp.arcsin(xp.clip(cx * se, -1.0, 1.0))
    new_el = xp.where(over, math.pi - new_el, new_el)
    return a + xp.arctan2(s * sx, s * cx * ce), new_el


def _sideways_inverse(a: Any, e: Any, x: Any, xp: Any, rim: bool = False) -> tuple[Any, Any]:
    """The position that :func:`_sideways` by ``x`` takes to (a, e); NaN in the hole."""
    over = e > _HALF_PI
    s = xp.where(over, -1.0, 1.0)
    cx, sx = xp.cos(x), xp.sin(x)
    sin_e = _edge(xp.sin(e) / cx, xp, rim)
    ce = s * xp.sqrt(1.0 - sin_e * sin_e)  # NaN where |sin e| > cos x: the hole
    e0 = _far(xp.arctan2(sin_e, ce), xp)
    return a - xp.arctan2(s * sx, s * cx * ce), e0


def _edge(sin_e: Any, xp: Any, rim: bool = False) -> Any:
    """``sin E`` of a rotation's input, held at ±1 when rounding puts it just past: a
    target on the rim of the zenith hole (within ~1e-11 rad) comes from the zenith
    itself, where the rotation's inverse folds (both sides' inputs meet).  ``rim``:
    held at ±1 however far past, so that a solve's trial point inside the hole goes on
    from the rim instead of stopping on NaN (its forward check still judges it)."""
    if rim:
        return xp.clip(sin_e, -1.0, 1.0)
    return xp.where(sin_e * sin_e < 1.0 + 2e-14, xp.clip(sin_e, -1.0, 1.0), sin_e)


def _far(e: Any, xp: Any) -> Any:
    """Elevations past −90° from arctan2 are the far side's 180°..270° (equatorial mounts:
    the declination beyond the south pole); alt-az elevations never get there."""
    return xp.where(e < -_HALF_PI, e + 2.0 * math.pi, e)


def _npae(a: Any, e: Any, n: Any, xp: Any) -> tuple[Any, Any]:
    ce, se = xp.cos(e), xp.sin(e)
    over = e > _HALF_PI
    s = xp.where(over, -1.0, 1.0)
    new_el = xp.arcsin(xp.clip(se * xp.cos(n), -1.0, 1.0))
    new_el = xp.where(over, math.pi - new_el, new_el)
    return a + xp.arctan2(-s * se * xp.sin(n), s * ce), new_el


def _npae_inverse(a: Any, e: Any, n: Any, xp: Any, rim: bool = False) -> tuple[Any, Any]:
    over = e > _HALF_PI
    s = xp.where(over, -1.0, 1.0)
    sin_e = _edge(xp.sin(e) / xp.cos(n), xp, rim)
    ce = s * xp.sqrt(1.0 - sin_e * sin_e)  # NaN within NPAE of the zenith
    return a - xp.arctan2(-s * sin_e * xp.sin(n), s * ce), _far(xp.arctan2(sin_e, ce), xp)


def _tilt_rows(an: Any, aw: Any, xp: Any) -> tuple[Any, ...]:
    """Rotation moving the azimuth axis AN toward north and AW toward west.

    Rodrigues' formula for the axial vector (AW, AN, 0) in (north, east, up):
    ``R = I + sin θ K̂ + (1 − cos θ) K̂²``, written out element by element.
    """
    theta = xp.sqrt(an * an + aw * aw)
    safe = xp.where(theta > 0.0, theta, 1.0)
    u, w = an / safe, aw / safe
    s, c1 = xp.sin(theta), 1.0 - xp.cos(theta)
    return (1.0 - c1 * u * u, c1 * u * w, s * u,
            c1 * u * w, 1.0 - c1 * w * w, -s * w,
            -s * u, s * w, 1.0 - c1)


def tilt_matrix(an: float, aw: float) -> tuple[float, ...]:
    """The tilt rotation of AN/AW (radians) as nine floats, row-major."""
    return tuple(float(v) for v in _tilt_rows(an, aw, MATH))


def _tilt(a: Any, e: Any, an: Any, aw: Any, xp: Any, transpose: bool = False
          ) -> tuple[Any, Any]:
    r = _tilt_rows(an, aw, xp)
    if transpose:
        r = (r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8])
    vx, vy, vz = _to_local(a, e, xp)
    return _from_vector(r[0] * vx + r[1] * vy + r[2] * vz,
                        r[3] * vx + r[4] * vy + r[5] * vz,
                        r[6] * vx + r[7] * vy + r[8] * vz, a, e > _HALF_PI, xp)


def _nasmyth(op: tuple[Any, ...], a: Any, e: Any, xp: Any) -> tuple[Any, Any, Any]:
    """Elevation step and sideways angle of NRX/NRY evaluated at elevation ``e``."""
    c = op[1]
    if op[0] == "xy":  # an equatorial term moving both coordinates: (de, x) per radian
        de, x = op[2](a, e, xp)
        return c * de, c * x, None
    ce, se = xp.cos(e), xp.sin(e)
    if op[0] == "nrx":
        return -c * se, -c * ce, None
    return c * ce, -c * se, None


def _unresolved(op: tuple[Any, ...]) -> Any:
    """A pier-side operation (``("side", far, inner)``) reached the chain: the caller
    should have resolved the plan for the raw position's pier side
    (:func:`pointing.model.equatorial.side_plan`)."""
    raise ValueError(f"pier-side operation {op[:2]!r} in a chain: resolve the plan by the "
                     "raw pier side first")


def _apply_at(op: tuple[Any, ...], a: Any, e: Any, pa: Any, pe: Any, xp: Any
              ) -> tuple[Any, Any]:
    """An additive operation on (a, e), its function evaluated at (pa, pe)."""
    v = op[1] * _factor_value(op[2], pa, pe, xp)
    if op[0] == "az":
        return a + v, e
    if op[0] == "el":
        return a, e + v
    return _sideways(a, e, v, xp)


def _undo_at(op: tuple[Any, ...], a: Any, e: Any, pa: Any, pe: Any, xp: Any,
             rim: bool = False) -> tuple[Any, Any]:
    """Exact inverse of :func:`_apply_at` for a known evaluation point (``rim``: see
    :func:`_edge`)."""
    v = op[1] * _factor_value(op[2], pa, pe, xp)
    if op[0] == "az":
        return a - v, e
    if op[0] == "el":
        return a, e - v
    return _sideways_inverse(a, e, v, xp, rim)


def _apply(op: tuple[Any, ...], a: Any, e: Any, xp: Any) -> tuple[Any, Any]:
    kind = op[0]
    if kind == "side":
        return _unresolved(op)
    if kind in ("az", "el") and op[2] is None:
        return (a - op[1], e) if kind == "az" else (a, e + op[1])
    if kind in ("az", "el", "sky"):
        return _apply_at(op, a, e, a, e, xp)
    if kind == "ca":
        return _sideways(a, e, -op[1], xp)
    if kind == "npae":
        return _npae(a, e, op[1], xp)
    if kind == "tilt":
        return _tilt(a, e, op[1], op[2], xp)
    de, x, _ = _nasmyth(op, a, e, xp)  # nrx / nry / xy
    return _sideways(a, e + de, x, xp)


def _undo(op: tuple[Any, ...], a: Any, e: Any, xp: Any, newton: bool = False,
          start: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
    """Exact inverse of :func:`_apply` for one operation (``newton``, ``start``: where the
    term is evaluated at its input, see :func:`_solve_point`)."""
    kind = op[0]
    if kind == "side":
        return _unresolved(op)
    if kind == "az" and op[2] is None:
        return a + op[1], e
    if kind == "el" and op[2] is None:
        return a, e - op[1]
    if kind == "ca":
        return _sideways_inverse(a, e, -op[1], xp, newton)
    if kind == "npae":
        return _npae_inverse(a, e, op[1], xp, newton)
    if kind == "tilt":
        return _tilt(a, e, op[1], op[2], xp, transpose=True)
    # evaluated where they act: the input is the point P that the undo at P gives back
    def back(pa: Any, pe: Any) -> tuple[Any, Any]:
        if kind in ("az", "el", "sky"):
            return _undo_at(op, a, e, pa, pe, xp, newton)
        de, x, _ = _nasmyth(op, pa, pe, xp)  # nrx / nry: E += de(E0), then across by x(E0)
        na, ne = _sideways_inverse(a, e, x, xp, newton)
        return na, ne - de

    return _solve_point(back, *(start or (a, e)), xp, newton)


def _solve_point(back: Any, pa: Any, pe: Any, xp: Any, newton: bool = False
                 ) -> tuple[Any, Any]:
    """The point ``P = back(P)``, from ``P = (pa, pe)``: the input of a term evaluated at it.

    Plain iteration converges where the term's function varies slowly at the scale of
    the move.  Close to the zenith a sky term's function of azimuth turns fast as the
    point moves (a shift of 30″ at 50″ from the zenith turns the azimuth by 30°) and the
    iteration stalls; ``newton`` (numpy only) takes Newton steps on ``back(P) − P``
    instead, with a forward-difference Jacobian (the checked solve's route).
    """
    for _ in range(_INNER_MAX):
        na, ne = back(pa, pe)
        if newton:
            na, ne = _newton_point(back, pa, pe, na, ne)
        step = _largest(na - pa, ne - pe, xp)
        pa, pe = na, ne
        if not step > _INNER_TOL:  # also stops on NaN (the zenith hole)
            break
    return pa, pe


def _newton_point(back: Any, pa: np.ndarray, pe: np.ndarray, ba: np.ndarray, be: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One Newton step on ``back(P) − P`` at ``P``, ``back(P) = (ba, be)``; where the step is
    not finite, the plain iterate."""
    h = 1e-7
    with np.errstate(invalid="ignore", divide="ignore"):
        aa, ae = back(pa + h, pe)
        ea, ee = back(pa, pe + h)
        j11, j21 = (aa - ba) / h - 1.0, (ae - be) / h
        j12, j22 = (ea - ba) / h, (ee - be) / h - 1.0
        ra, re = ba - pa, be - pe
        det = j11 * j22 - j12 * j21
        na = pa - (j22 * ra - j12 * re) / det
        ne = pe - (j11 * re - j21 * ra) / det
    ok = np.isfinite(na) & np.isfinite(ne)
    return np.where(ok, na, ba), np.where(ok, ne, be)


def _largest(da: Any, de: Any, xp: Any) -> float:
    if xp is MATH:
        return max(abs(da), abs(de))
    if np.size(da) == 0:
        return 0.0
    return float(max(np.nanmax(np.abs(da), initial=0.0), np.nanmax(np.abs(de), initial=0.0)))


# ---- whole chains --------------------------------------------------------------

def forward(plan: Plan, a: Any, e: Any, xp: Any = np) -> tuple[Any, Any]:
    """True position at raw (a, e): every operation in order."""
    ref = a + plan.az_offset
    if plan.sequential:
        for op in plan.ops:
            a, e = _apply(op, a, e, xp)
        return ref + _wrap(a - ref), e
    heads = set(plan.par)
    saved: dict[int, tuple[Any, Any]] = {}
    for i, (op, k) in enumerate(zip(plan.ops, plan.par, strict=True)):
        if i in heads:
            saved[i] = (a, e)
        a, e = _apply(op, a, e, xp) if k < 0 else _apply_at(op, a, e, *saved[k], xp)
    return ref + _wrap(a - ref), e


def _undo_group(plan: Plan, h: int, last: int, a: Any, e: Any, xp: Any, newton: bool = False,
                start: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
    """Undo operations ``h..last``: parallel ones evaluated at the input ``P`` of op ``h``.

    ``P`` is the point that undoing the parallel operations (in reverse) with
    their functions at ``P``, then op ``h`` if it is the head, gives back
    (:func:`_solve_point`).
    """
    def back(pa: Any, pe: Any) -> tuple[Any, Any]:
        na, ne = a, e
        for i in range(last, h - 1, -1):
            if plan.par[i] == h:
                na, ne = _undo_at(plan.ops[i], na, ne, pa, pe, xp, newton)
            else:  # the head itself (evaluated at its own input: P)
                na, ne = _undo(plan.ops[i], na, ne, xp, newton)
        return na, ne

    return _solve_point(back, *(start or (a, e)), xp, newton)


def inverse(plan: Plan, a: Any, e: Any, xp: Any = np, newton: bool = False
            ) -> tuple[Any, Any]:
    """Raw position that :func:`forward` takes to (a, e): operations undone in reverse.

    ``newton`` (numpy only): Newton steps where a term is evaluated at the
    position it moves, for the zenith region (see :func:`_solve_point`).
    """
    ref = a - plan.az_offset
    if plan.sequential:
        for op in reversed(plan.ops):
            a, e = _undo(op, a, e, xp, newton)
        return ref + _wrap(a - ref), e
    i = len(plan.ops) - 1
    while i >= 0:
        h = plan.par[i]
        if h < 0:
            a, e = _undo(plan.ops[i], a, e, xp, newton)
            i -= 1
        else:  # the group of parallel operations ending here, with its head
            a, e = _undo_group(plan, h, i, a, e, xp, newton)
            i = h - 1
    return ref + _wrap(a - ref), e


def _unit(a: Any, e: Any) -> np.ndarray:
    ce = np.cos(e)
    return np.stack([ce * np.cos(a), ce * np.sin(a), np.sin(e)])


def _miss(plan: Plan, ra: np.ndarray, re: np.ndarray, ta: np.ndarray, te: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane offset (east, north at the target) of forward(raw) from the target."""
    fa, fe = forward(plan, ra, re, np)
    v = _unit(fa, fe)
    east = np.stack([-np.sin(ta), np.cos(ta), np.zeros_like(ta)])
    north = np.stack([-np.sin(te) * np.cos(ta), -np.sin(te) * np.sin(ta), np.cos(te)])
    toward = np.sum(v * _unit(ta, te), axis=0)
    rx, ry = np.sum(v * east, axis=0), np.sum(v * north, axis=0)
    # a point on the far hemisphere is a miss of more than 90°
    big = toward <= 0.0
    return np.where(big, 10.0, rx), np.where(big, 10.0, ry)


def _newton(plan: Plan, ta: np.ndarray, te: np.ndarray, ra: np.ndarray, re: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton on the whole chain from (ra, re); returns raw and its miss (rad)."""
    h = 1e-7
    for _ in range(40):
        rx, ry = _miss(plan, ra, re, ta, te)
        miss = np.hypot(rx, ry)
        if np.all(miss < 1e-13):
            break
        ax, ay = _miss(plan, ra + h, re, ta, te)
        ex, ey = _miss(plan, ra, re + h, ta, te)
        j11, j21 = (ax - rx) / h, (ay - ry) / h
        j12, j22 = (ex - rx) / h, (ey - ry) / h
        det = j11 * j22 - j12 * j21
        with np.errstate(divide="ignore", invalid="ignore"):
            da = -(j22 * rx - j12 * ry) / det
            de = -(j11 * ry - j21 * rx) / det
        step = np.hypot(da * np.cos(np.minimum(re, math.pi - re)), de)
        limit = 0.02  # radians per pass: keeps the iteration on its own branch
        scale = np.where(np.isfinite(step) & (step > limit), limit / np.maximum(step, 1e-300), 1.0)
        ok = np.isfinite(da) & np.isfinite(de)
        ra = np.where(ok, ra + scale * np.where(ok, da, 0.0), ra)
        re = np.where(ok, re + scale * np.where(ok, de, 0.0), re)
    rx, ry = _miss(plan, ra, re, ta, te)
    return ra, re, np.hypot(rx, ry)


def solve_inverse(plan: Plan, ta: np.ndarray, te: np.ndarray,
                  limits: tuple[float, float, float] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoder demand for true positions (1-D arrays), with a status code per element.

    The closed-form chain inverse is checked with the forward model; where it
    misses (the zenith region), Newton's method on the whole chain is started on
    the requested side of the zenith and then on the other, then (alt-az, no
    ``limits``) every branch of the chain inverse is followed, and the solution is
    kept only inside the mount's range (elevation −90°..93°).  ``limits``
    ``(lowest, highest input, highest raw)`` (radians) replace that range for
    other mounts (the equatorial kernels' declination −90°..270°).
    """
    lo, top, hi = (ELEVATION_MIN, INPUT_MAX, ELEVATION_MAX) if limits is None else limits
    status = np.zeros(ta.shape, dtype=np.int8)
    finite = np.isfinite(ta) & np.isfinite(te)
    status[~finite] = 1
    inside = finite & (te >= lo) & (te <= top)
    status[finite & ~inside] = 2
    a_in = np.where(inside, ta, 0.0)
    e_in = np.where(inside, te, 0.5)
    with np.errstate(invalid="ignore"):
        ra, re = inverse(plan, a_in, e_in, np)
    if plan.empty:
        bad = np.zeros(ta.shape, bool)
    else:
        rx, ry = _miss(plan, np.where(np.isfinite(ra), ra, a_in),
                       np.where(np.isfinite(re), re, e_in), a_in, e_in)
        bad = inside & ~(np.hypot(rx, ry) < _CHECK_TOL)
        bad |= inside & ~(np.isfinite(ra) & np.isfinite(re))
        bad |= inside & ~((re >= lo) & (re <= hi))
    if np.any(bad):
        idx = np.nonzero(bad)[0]
        fa, fe = _fallback(plan, a_in[idx], e_in[idx], lo, hi, branches=limits is None)
        # Newton's starts may lie half a turn away: the turn of the request (moved by IA)
        ref = a_in[idx] - plan.az_offset
        ra[idx], re[idx] = ref + _wrap(fa - ref), fe
        lost = idx[~np.isfinite(fa)]
        status[lost] = 3
    in_range = (re >= lo - 1e-12) & (re <= hi + 1e-12)
    status[inside & ~in_range & (status == 0)] = 3
    keep = status == 0
    # the chain inverse moves the azimuth by increments: it stays on the request's turn
    return np.where(keep, ra, np.nan), np.where(keep, re, np.nan), status


def _fallback(plan: Plan, ta: np.ndarray, te: np.ndarray, lo: float = ELEVATION_MIN,
              hi: float = ELEVATION_MAX, branches: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """Newton from both sides of the zenith, then (``branches``: alt-az) every branch of the
    chain inverse (:func:`_inverse_branches`); NaN where none reaches in range."""
    best_a = np.full(ta.shape, np.nan)
    best_e = np.full(ta.shape, np.nan)
    best_miss = np.full(ta.shape, np.inf)
    other_a, other_e = ta + math.pi, math.pi - te
    with np.errstate(invalid="ignore"):
        inv_a, inv_e = inverse(plan, ta, te, np, newton=True)
        oth_a, oth_e = inverse(plan, other_a, other_e, np, newton=True)
    # the requested side first, then the other (same direction, other representation);
    # each from the chain inverse where it is finite, else from the target itself
    starts = [(np.where(np.isfinite(inv_a + inv_e), inv_a, ta),
               np.where(np.isfinite(inv_a + inv_e), inv_e, te)),
              (np.where(np.isfinite(oth_a + oth_e), oth_a, other_a),
               np.where(np.isfinite(oth_a + oth_e), oth_e, other_e)),
              (ta, te), (other_a, other_e)]
    for sa, se in starts:
        todo = ~(best_miss < 1e-10)
        if not np.any(todo):
            break
        ra, re, miss = _newton(plan, ta[todo], te[todo], sa[todo].copy(), se[todo].copy())
        in_range = (re >= lo) & (re <= hi)
        good = in_range & (miss < 1e-10)
        idx = np.nonzero(todo)[0][good]
        best_a[idx], best_e[idx], best_miss[idx] = ra[good], re[good], miss[good]
    todo = ~(best_miss < 1e-10)
    if branches and np.any(todo):
        idx = np.nonzero(todo)[0]
        best_a[idx], best_e[idx] = _from_branches(plan, ta[idx], te[idx], lo, hi)
    return best_a, best_e


# ---- the zenith region: every branch of the chain inverse ------------------------------
#
# Close to the zenith a term evaluated at the position it moves can take several inputs
# to the same output (sky terms of 30" at 50" from the zenith turn the azimuth by tens
# of degrees), and NPAE or CA fold the region around their hole: the target may be
# reached only through one of those inputs, with Newton's basin on the whole chain a
# few microradians wide.  So the inverse follows every input it finds.

_RINGS = (0.5, 1.0)  # rings of starts around a term's output, fractions of its move bound
_DIRECTIONS = 8
_ZENITH_AZIMUTHS = 12  # and a polar grid of starts about the zenith
_ZENITH_RINGS = (1 / 32, 1 / 8, 1 / 2)  # fractions of the move bound
_BRANCHES = 4  # inputs followed per target
_ROOT_TOL = 1e-9  # forward check of one stage's input (radians; arcsin loses ~1e-11 at the zenith)


def _at_point(op: tuple[Any, ...]) -> bool:
    """Whether an operation is evaluated at the position it moves."""
    return op[0] in ("nrx", "nry") or (op[0] in ("az", "el", "sky") and op[2] is not None)


def _move_bound(ops: tuple[tuple[Any, ...], ...]) -> float:
    """An upper bound (radians on the sky) on how far alt-az ``ops`` move a direction."""
    total = 0.0
    for op in ops:
        if op[0] == "tilt":
            total += math.hypot(op[1], op[2])
        else:
            total += abs(op[1]) * (TX_COT_LIMIT if op[0] == "el" and op[2] == "TX" else 1.0)
    return total


def _spread(a: np.ndarray, e: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Starts around each (a, e) of (m, C) arrays: the point and rings out to ``radius``
    (radians on the sky), each on both sides of the zenith (an input may be on the other
    side: NRX's step in E can cross it), and a polar grid about the zenith out to
    ``radius / 2``; (m, C·K) arrays."""
    rho = np.array([0.0] + [r * radius for r in _RINGS for _ in range(_DIRECTIONS)])
    th = np.array([0.0] + [2 * math.pi * j / _DIRECTIONS for _ in _RINGS
                           for j in range(_DIRECTIONS)])
    k = rho.size
    aa, ee = np.repeat(a, k, axis=1), np.repeat(e, k, axis=1)
    rho, th = np.tile(rho, a.shape[1]), np.tile(th, a.shape[1])
    u = _to_local(aa, ee, np)
    east = (-np.sin(aa), np.cos(aa), 0.0)
    north = (-np.sin(ee) * np.cos(aa), -np.sin(ee) * np.sin(aa), np.cos(ee))
    v = [np.cos(rho) * u[i] + np.sin(rho) * (np.cos(th) * east[i] + np.sin(th) * north[i])
         for i in range(3)]
    sa, se = _from_vector(*v, aa, ee > _HALF_PI, np)
    oa, oe = _from_vector(*v, aa + math.pi, ee <= _HALF_PI, np)
    # and a polar grid about the zenith (where the inputs crowd): azimuths × distances
    za = np.array([2 * math.pi * j / _ZENITH_AZIMUTHS for j in range(_ZENITH_AZIMUTHS)
                   for _ in _ZENITH_RINGS for _ in (1, -1)])
    ze = np.array([_HALF_PI + side * r * radius for _ in range(_ZENITH_AZIMUTHS)
                   for r in _ZENITH_RINGS for side in (1, -1)])
    m, c = a.shape
    grid_a = a[:, :, None] + za
    grid_e = np.broadcast_to(ze, (m, c, ze.size))
    return (np.concatenate([np.stack([sa, oa], axis=2).reshape(m, c, -1), grid_a], axis=2)
            .reshape(m, -1),
            np.concatenate([np.stack([se, oe], axis=2).reshape(m, c, -1), grid_e], axis=2)
            .reshape(m, -1))


def _distinct(pa: np.ndarray, pe: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct good inputs per row (within 1e-9 rad on the sky, same side of the
    zenith), in order, at most _BRANCHES; NaN where a row has fewer."""
    m = pa.shape[0]
    out_a = np.full((m, _BRANCHES), np.nan)
    out_e = np.full((m, _BRANCHES), np.nan)
    rows = np.arange(m)
    left = ok.copy()
    scale = np.abs(np.cos(pe))
    for b in range(_BRANCHES):
        j = np.argmax(left, axis=1)
        has = left[rows, j]
        if not np.any(has):
            break
        ca, ce = pa[rows, j], pe[rows, j]
        out_a[has, b], out_e[has, b] = ca[has], ce[has]
        left &= ~((np.abs(_wrap(pa - ca[:, None])) * scale < 1e-9)
                  & (np.abs(pe - ce[:, None]) < 1e-9))
        left[rows, j] = False
    used = np.any(np.isfinite(out_a), axis=0)  # columns no row needs are dropped
    used[0] = True
    return out_a[:, used], out_e[:, used]


def _branch(solve: Any, sub: Plan, a: np.ndarray, e: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Every input of one stage (``sub``: a term evaluated where it acts, or a head with its
    parallel terms) that it takes to (a, e), found by ``solve`` from starts around it."""
    sa, se = _spread(a, e, _move_bound(sub.ops))
    k = sa.shape[1] // a.shape[1]
    qa, qe = np.repeat(a, k, axis=1), np.repeat(e, k, axis=1)
    pa, pe = solve(qa, qe, (sa, se))
    fa, fe = forward(sub, pa, pe, np)
    gap = np.linalg.norm(np.stack(_to_local(fa, fe, np)) - np.stack(_to_local(qa, qe, np)),
                         axis=0)
    ok = (gap < _ROOT_TOL) & ((fe > _HALF_PI) == (qe > _HALF_PI)) & np.isfinite(pa + pe)
    return _distinct(pa, pe, ok)


def _inverse_branches(plan: Plan, a: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw positions the chain inverse reaches from true (a, e) (1-D, m) along every branch:
    (m, B) arrays, NaN where a target has fewer (alt-az plans)."""
    par = plan.par or (-1,) * len(plan.ops)
    ra, re = a[:, None], e[:, None]
    i = len(plan.ops) - 1
    while i >= 0:
        h = par[i]
        if h >= 0:  # a head with its parallel terms: solved on the head's input
            sub = Plan(plan.ops[h:i + 1], tuple(-1 if k < 0 else k - h for k in par[h:i + 1]))
            def solve(qa, qe, st, h=h, i=i):
                return _undo_group(plan, h, i, qa, qe, np, True, st)
        elif _at_point(plan.ops[i]):
            h, sub = i, Plan((plan.ops[i],))
            def solve(qa, qe, st, op=plan.ops[i]):
                return _undo(op, qa, qe, np, True, st)
        else:
            ra, re = _undo(plan.ops[i], ra, re, np)
            i -= 1
            continue
        ra, re = _branch(solve, sub, ra, re)
        i = h - 1
    ref = a[:, None] - plan.az_offset
    return ref + _wrap(ra - ref), re


def _from_branches(plan: Plan, ta: np.ndarray, te: np.ndarray, lo: float, hi: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The first raw position in range among every branch of the inverse (the requested
    side of the zenith first) that reaches the target; NaN where none does."""
    best_a = np.full(ta.shape, np.nan)
    best_e = np.full(ta.shape, np.nan)
    for qa, qe in ((ta, te), (ta + math.pi, math.pi - te)):
        todo = np.isnan(best_a)
        if not np.any(todo):
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            ra, re = _inverse_branches(plan, qa[todo], qe[todo])
            rx, ry = _miss(plan, np.nan_to_num(ra), np.nan_to_num(re, nan=0.5),
                           ta[todo, None], te[todo, None])
        good = (np.hypot(rx, ry) < 1e-10) & (re >= lo) & (re <= hi) & np.isfinite(ra + re)
        first = np.argmax(good, axis=1)
        hit = np.any(good, axis=1)
        rows = np.nonzero(todo)[0][hit]
        best_a[rows] = ra[hit, first[hit]]
        best_e[rows] = re[hit, first[hit]]
    return best_a, best_e


# ---- the fit's derivatives ------------------------------------------------------------

def forward_batch(terms: tuple[Term, ...], coef_rows: np.ndarray, a: np.ndarray, e: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Forward model for several coefficient vectors at once.

    ``coef_rows`` is (R, M) radians; ``a``, ``e`` are (N,); returns (R, N).
    Used for the fit's Jacobian by central differences in one pass.
    """
    cols = [coef_rows[:, k:k + 1] for k in range(coef_rows.shape[1])]
    plan = compile_plan(terms, cols)
    aa = np.broadcast_to(a, (coef_rows.shape[0], a.size))
    ee = np.broadcast_to(e, (coef_rows.shape[0], e.size))
    return forward(plan, aa, ee, np)


def coefficient_step(value_rad: float) -> float:
    """Central-difference step for a coefficient (radians): ~0.2″, larger for big ones."""
    return max(1e-6, 1e-6 * abs(value_rad) / ARCSEC * 1e-3)
