"""Equatorial mounts (forks and German equatorials): TPOINT's equatorial terms.

Positions are hour angle ``h`` (west positive) and declination ``δ``,
radians.  Corrections are **true minus raw**, evaluated at the raw
(mechanical) position, with TPOINT's names::

    IH    Δh = −IH                                  hour-angle zero point
    ID    Δδ = −ID                                  declination zero point
    CH    Δh·cosδ = −CH                             east-west collimation
    NP    Δh·cosδ = −NP·sinδ                        polar/declination axes non-perpendicular
    MA    Δh = +MA·cos h·tanδ, Δδ = −MA·sin h       polar axis left-right of the pole
    ME    Δh = −ME·sin h·tanδ, Δδ = −ME·cos h       polar axis above the pole
    TF    Δh·cosδ = −TF·cosφ·sin h,
          Δδ = −TF·(cosφ·cos h·sinδ − sinφ·cosδ)    tube flexure, sin z law
    TX    TF's displacement / cos z (cos z held ≥ sin z / 10, TPOINT's TX10)
    FO    Δδ = −FO·cos h                            fork flexure
    DAF   Δh·cosδ = −DAF·(cosφ·cos h·cosδ + sinφ·sinδ)   declination axis flexure
    HH…   Δh = +c·f;  HD…/HV… Δδ = +c·f;  HX…/HL… Δh·cosδ = +c·f
          f a product of S/C factors of H (hour angle) and D (declination),
          e.g. HDSD, HHSH2, HXCH2SD

``φ`` is the site latitude, needed by TF, TX and DAF.  These signs are RTS2
gpoint's for its GEM terms (which carry TPOINT's names; checked by
reproducing RTS2's published GEM fit) and, for the harmonics, TPOINT's
stated convention (Δh positive west, Δδ positive north for the corrected
position), the same rule that fixes the alt-az harmonics' signs.  They are
the alt-az conventions carried over to the polar axis: ME is the alt-az AN
and MA the alt-az AW of a mount whose azimuth axis is the polar axis.

How they are applied: exactly as the alt-az terms
(:mod:`pointing.model.kernels`), one after the other in the listed order,
each at the position reached so far, on the *polar frame* (azimuth ``−h``,
elevation ``δ``): IH and ID are exact shifts, CH and NP the exact
collimation and non-perpendicularity rotations, MA/ME together one exact
rotation of the polar axis (a polar axis set up by eye, degrees off, stays
exact), the rest small corrections at the position reached.

German equatorial mounts: the far side of the pier is written as TPOINT and
RTS2 write it, the raw declination beyond the pole, ``(h + 180°, 180° − δ)``
(RTS2's southern ``−180° − δ`` is the same position: declinations below
−90° are read as +360°).  Every term is evaluated at that mechanical
position, so CH, NP, ID and DAF change sign on the sky between the pier
sides, as they do on the mount.  True positions of the far side are written
the same way (declination beyond the pole); :func:`to_sky` gives the plain
sky position.

The compiled (numba) twin of these kernels, used by equatorial models when
numba is installed, is :mod:`pointing.model.numba_equatorial`; these numpy
kernels stay the reference and its fallback.

Pier-side terms (``ID@FAR``, ``CH@NEAR``, ``HDSD@FAR``, ...): any term but MA
and ME (one polar axis serves both sides) restricted to one pier side, for
what differs between the sides beyond the sign flips above (a declination
index that shifts when the tube swings over, flexure that differs with the
counterweight on the other side).  The pier side is a mechanical state of
the mount: it is taken from the **raw** declination (``far``: beyond the
pole) at the start of the chain, and a pier-side term acts, exactly as its
plain form and in its place in the model's order, on the positions whose raw
side is its own, wherever the earlier terms have moved them (so ``ID,
ID@FAR`` and ``ID@FAR, ID`` are the same model, as two index shifts
commute; the fit's check of a term's side uses the same raw declination).
:func:`side_plan` gives the plan of one side; :func:`forward` runs each
position on its side's plan.  A plain term and its far-side form together
give the far side ``plain + far``.
The inverse solves for the raw side too: it assumes the side the target is
written on, solves, and keeps the solution only if it lies on that side
(targets within the terms' shifts of the pole may be reached from the other
side only), else solves on the other side; what neither side reaches is
status 3.  The ``@NEAR``/``@FAR`` spelling is this toolkit's own: TPOINT
documents subsets of observations and terms restricted to them, but the
text of that section could not be read here, so its syntax is not claimed.
Such terms need a German equatorial (mount ``gem``); a fit refuses one whose
side has no observations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.errors import TermError
from pointing.model import kernels
from pointing.model.terms import TX_COT_LIMIT, Term
from pointing.units import wrap_pi

__all__ = [
    "DEC_LIMITS",
    "DEFAULT_TERMS",
    "MOUNTS",
    "check_mount_terms",
    "compile_plan",
    "forward",
    "forward_batch",
    "mount_family",
    "pier_side",
    "polar_frame",
    "solve_inverse",
    "term_design",
    "to_far_side",
    "to_sky",
]

#: mount types: TPOINT's ALTAZ, and its EQUAT as a fork or a German equatorial (pier sides)
MOUNTS = ("altaz", "fork", "gem")
#: (lowest, highest input, highest raw) declination in the polar frame, radians
DEC_LIMITS = (-0.5 * math.pi, 1.5 * math.pi, 1.5 * math.pi)
#: the basic equatorial model: zero points, collimation, axes, polar axis
DEFAULT_TERMS = ("IH", "ID", "CH", "NP", "MA", "ME")
_NEEDS_LATITUDE = ("TF", "TX", "TX10", "DAF")
_TX_LIMIT = TX_COT_LIMIT


def mount_family(mount: str) -> str:
    """``"altaz"`` or ``"equatorial"`` for a mount type; TermError for anything else."""
    if mount not in MOUNTS:
        raise TermError(f"unknown mount type {mount!r}: expected one of {', '.join(MOUNTS)}")
    return "altaz" if mount == "altaz" else "equatorial"


def polar_frame(ha: Any, dec: Any) -> tuple[Any, Any]:
    """Hour angle and declination → the kernels' (azimuth, elevation) = (−h, δ in −90°..270°)."""
    dec = np.where(dec < -0.5 * math.pi, dec + 2.0 * math.pi, dec) if isinstance(
        dec, np.ndarray) else (dec + 2.0 * math.pi if dec < -0.5 * math.pi else dec)
    return -ha, dec


def to_sky(ha: Any, dec: Any) -> tuple[Any, Any]:
    """The plain sky position (δ within ±90°) of a position that may be on the far side."""
    h = np.asarray(ha, float)
    d = np.asarray(polar_frame(h, np.asarray(dec, float))[1])
    far = d > 0.5 * math.pi
    return np.where(far, h + math.pi, h), np.where(far, math.pi - d, d)


def to_far_side(ha: Any, dec: Any) -> tuple[Any, Any]:
    """The far-side (pier flipped) writing of a sky position: ``(h + 180°, 180° − δ)``."""
    return np.asarray(ha, float) + math.pi, math.pi - np.asarray(dec, float)


def pier_side(dec: Any) -> np.ndarray:
    """``"far"`` where a (raw) declination is beyond the pole, else ``"near"``."""
    d = np.asarray(polar_frame(0.0, np.asarray(dec, float))[1])
    return np.where(d > 0.5 * math.pi, "far", "near")


# ---- the terms' functions in the polar frame (a = −h, e = δ) ------------------------

# Each function carries ``spec`` (its name and the latitude's sine and cosine): what
# the compiled kernels (pointing.model.numba_equatorial) read to evaluate the same law.

def _fo(a: Any, e: Any, xp: Any) -> Any:
    return xp.cos(a)


_fo.spec = ("FO", 0.0, 1.0)  # type: ignore[attr-defined]


def _daf(sin_lat: float, cos_lat: float) -> Any:
    def daf(a: Any, e: Any, xp: Any) -> Any:
        return cos_lat * xp.cos(a) * xp.cos(e) + sin_lat * xp.sin(e)
    daf.spec = ("DAF", sin_lat, cos_lat)  # type: ignore[attr-defined]
    return daf


def _flexure(sin_lat: float, cos_lat: float, tan_law: bool) -> Any:
    """TF (or TX) as (Δe, sideways) per radian in the polar frame."""
    def tube(a: Any, e: Any, xp: Any) -> tuple[Any, Any]:
        de = -(cos_lat * xp.cos(a) * xp.sin(e) - sin_lat * xp.cos(e))
        x = -cos_lat * xp.sin(a)
        if tan_law:
            cz = sin_lat * xp.sin(e) + cos_lat * xp.cos(e) * xp.cos(a)
            sz = xp.sqrt(xp.maximum(1.0 - cz * cz, 0.0))
            cz = xp.maximum(cz, sz / _TX_LIMIT)  # tan z held at 10, and below the horizon
            de, x = de / cz, x / cz
        return de, x
    tube.spec = ("TX" if tan_law else "TF", sin_lat, cos_lat)  # type: ignore[attr-defined]
    return tube


def _without_latitude(name: str) -> Any:
    def refuse(a: Any, e: Any, xp: Any) -> Any:
        raise TermError(f"{name} on an equatorial mount needs the site latitude: give the "
                        "model latitude_deg (or a site with latitude_deg)")
    return refuse


def _harmonic_op(t: Term, c: Any) -> tuple[Any, ...]:
    if t.result == "H":  # Δh = +c·f: the frame's azimuth moves by −c·f
        return ("az", -c, t.factors)
    if t.result in ("D", "V"):
        return ("el", c, t.factors)
    return ("sky", -c, t.factors)  # X, L: Δh·cosδ = +c·f


def check_mount_terms(terms: Sequence[Term], mount: str) -> None:
    """Pier-side terms (``ID@FAR``) belong to German equatorials: TermError naming the
    first one on any other mount."""
    if mount == "gem":
        return
    for t in terms:
        if t.side:
            raise TermError(f"{t.name} acts on one side of the pier only: it needs a German "
                            f"equatorial (mount 'gem'), and this is a {mount} model")


def _term_op(t: Term, c: Any, lat: float | None, tilt: dict[str, Any]) -> tuple[Any, ...] | None:
    if t.side:  # the same term's operation, applied on its pier side only
        base = Term(t.name.partition("@")[0], t.kind, t.result, t.factors, t.mount)
        inner = _term_op(base, c, lat, tilt)
        return None if inner is None else ("side", t.side == "far", inner)
    n = t.name
    if t.mount != "equatorial":
        raise TermError(f"{n} is an alt-az term: it has no meaning on an equatorial mount")
    if t.is_harmonic:
        return _harmonic_op(t, c)
    if n in _NEEDS_LATITUDE and lat is None:  # a model read without its site: refused when used
        return ("el", c, _without_latitude(n))
    if n == "IH":
        return ("az", -c, None)
    if n == "ID":
        return ("el", -c, None)
    if n == "CH":
        return ("ca", -c)
    if n == "NP":
        return ("npae", -c)
    if n in ("MA", "ME"):
        if tilt["placed"]:
            return None
        tilt["placed"] = True
        return ("tilt", tilt["ME"], tilt["MA"])
    if n == "FO":
        return ("el", -c, _fo)
    sl, cl = math.sin(lat), math.cos(lat)  # type: ignore[arg-type]
    if n == "DAF":
        return ("sky", c, _daf(sl, cl))
    return ("xy", c, _flexure(sl, cl, n != "TF"))


def compile_plan(terms: Sequence[Term], coefs: Any, latitude_rad: float | None) -> kernels.Plan:
    """Compile equatorial terms and coefficients (radians) into a kernel plan (polar frame)."""
    tilt: dict[str, Any] = {"placed": False, "MA": 0.0, "ME": 0.0}
    for t, c in zip(terms, coefs, strict=True):
        if t.name in ("MA", "ME"):
            tilt[t.name] = c
    ops = []
    for t, c in zip(terms, coefs, strict=True):
        op = _term_op(t, c, latitude_rad, tilt)
        if op is None or (isinstance(c, float) and c == 0.0 and op[0] != "tilt"):
            continue
        if op[0] == "tilt" and all(isinstance(v, float) and v == 0.0 for v in op[1:]):
            continue
        ops.append(op)
    return kernels.Plan(tuple(ops))


def has_sides(plan: kernels.Plan) -> bool:
    """Whether a plan holds pier-side operations (``("side", far, inner)``)."""
    return any(op[0] == "side" for op in plan.ops)


def side_plan(plan: kernels.Plan, far: bool) -> kernels.Plan:
    """The plan a German equatorial follows on one pier side: its pier-side operations
    for that side as plain ones, those of the other side left out."""
    ops = tuple(op[2] if op[0] == "side" else op for op in plan.ops
                if op[0] != "side" or op[1] == far)
    return kernels.Plan(ops, plan.par)


def _far(e: Any) -> Any:
    return e > 0.5 * math.pi


def forward(plan: kernels.Plan, ha: Any, dec: Any, xp: Any = np) -> tuple[Any, Any]:
    """True (h, δ) at raw (h, δ) through a compiled plan; δ comes back in −90°..270°.

    Pier-side operations act by the raw declination's side (the mount's state),
    whatever the earlier terms did to the position.  Arrays of positions on both
    sides are split; coefficient arrays (:func:`forward_batch`) need positions on
    one side.
    """
    a, e = polar_frame(ha, dec)
    if not has_sides(plan):
        ta, te = kernels.forward(plan, a, e, xp)
        return -ta, te
    if xp is not np:
        ta, te = kernels.forward(side_plan(plan, _far(e)), a, e, xp)
        return -ta, te
    a, e = np.broadcast_arrays(np.asarray(a, float), np.asarray(e, float))
    far = _far(e)
    if far.all() or not far.any():
        ta, te = kernels.forward(side_plan(plan, bool(far.all()) and far.size > 0), a, e, xp)
        return -ta, te
    ta, te = np.empty(a.shape), np.empty(a.shape)
    for side in (False, True):
        m = far == side
        ta[m], te[m] = kernels.forward(side_plan(plan, side), a[m], e[m], xp)
    return -ta, te


def forward_batch(terms: Sequence[Term], coef_rows: np.ndarray, ha: np.ndarray, dec: np.ndarray,
                  latitude_rad: float | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`forward` for several coefficient vectors (R, M radians) at once: (R, N)."""
    cols = [coef_rows[:, k:k + 1] for k in range(coef_rows.shape[1])]
    plan = compile_plan(terms, cols, latitude_rad)
    ha, dec = np.broadcast_arrays(np.asarray(ha, float).ravel(), np.asarray(dec, float).ravel())
    far = pier_side(dec) == "far"
    out_h, out_d = np.empty((coef_rows.shape[0], ha.size)), np.empty((coef_rows.shape[0], ha.size))
    for side in (False, True):  # each call on one pier side (see forward)
        m = far == side
        shape = (coef_rows.shape[0], int(m.sum()))
        out_h[:, m], out_d[:, m] = forward(plan, np.broadcast_to(ha[m], shape),
                                           np.broadcast_to(dec[m], shape))
    return out_h, out_d


def solve_inverse(plan: kernels.Plan, ha: np.ndarray, dec: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw (h, δ) reaching true (h, δ), with kernels' status codes (1-D arrays).

    With pier-side terms the raw side is what is solved for: first the side the
    target is written on, then, where none is found there (targets within the
    terms' shifts of the pole may be reached from the other side only), the
    other; each side's plan is solved with the raw declination held on that side.
    """
    a, e = polar_frame(ha, dec)
    if not has_sides(plan):
        ra, re, st = kernels.solve_inverse(plan, a, e, DEC_LIMITS)
        return -ra, re, st
    ra, re = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    st = np.zeros(a.shape, np.int8)
    first = _far(e)
    done = np.zeros(a.shape, bool)
    # the kernels' solver on both sides first, the costly split solve for what is left
    for attempt, (wanted, split) in enumerate(((first, False), (~first, False),
                                               (first, True), (~first, True))):
        for far in (False, True):
            idx = np.nonzero(~done & (wanted == far))[0]
            if idx.size:
                sa, se, ss = _solve_on_side(side_plan(plan, far), far, a[idx], e[idx], split)
                if attempt == 0:  # input errors are final; not found on this side is not
                    st[idx] = ss
                    done[idx[(ss == 1) | (ss == 2)]] = True
                ok = idx[ss == 0]
                ra[ok], re[ok], st[ok], done[ok] = sa[ss == 0], se[ss == 0], 0, True
    return -ra, re, st


def _solve_on_side(p: kernels.Plan, far: bool, a: np.ndarray, e: np.ndarray, split: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pier side's plan solved with its raw declination held on that side (below or
    above the pole); with ``split``, what the kernels miss there is tried by
    :func:`_split_solve`.  Polar frame; status 3 also for a solution on the other side."""
    lo, top, hi = DEC_LIMITS
    # the target as written first (the far side's range not held yet: its lowest raw
    # value is also the kernels' lowest input), so the solution keeps the target's writing
    ra, re, st = kernels.solve_inverse(p, a, e, DEC_LIMITS if far else (lo, top, 0.5 * math.pi))
    st[(st == 0) & (_far(re) != far)] = 3
    limits = (0.5 * math.pi, top, hi) if far else (lo, top, 0.5 * math.pi)
    if far and np.any(st == 3):
        lost = np.nonzero(st == 3)[0]
        fa, fe = _far_writing(a[lost], e[lost])
        sa, se, ss = kernels.solve_inverse(p, fa, fe, limits)
        ra[lost], re[lost], st[lost] = sa, se, ss
    lost = np.nonzero(st == 3)[0]
    if split and lost.size:
        a, e = _far_writing(a[lost], e[lost]) if far else (a[lost], e[lost])
        sa, se = _split_solve(p, a, e, limits)
        found = np.isfinite(sa) & (_far(se) == far)
        ra[lost[found]], re[lost[found]], st[lost[found]] = sa[found], se[found], 0
    return ra, re, st


def _split_solve(p: kernels.Plan, a: np.ndarray, e: np.ndarray,
                 limits: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Raw positions the whole-chain solver missed, found in two parts (NaN where not).

    A chain whose middle passes close to the pole (two index terms carrying it
    across and back, as a pier-side term after the plain one can) is, seen
    from the target, stretched beyond the pole's neighbourhood, and the
    whole-chain Newton misses.  Each part alone is an ordinary chain: the
    operations after a split point solved from the target, those before it
    from that result; the split points tried from the end, and each raw
    position checked on the whole chain (1e-10 rad, what the kernels accept
    of Newton).
    """
    ra, re = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    far = limits[0] > DEC_LIMITS[0]  # the far side's range starts at the pole
    for k in range(len(p.ops) - 1, 0, -1):
        todo = np.nonzero(np.isnan(ra))[0]
        if todo.size == 0:
            break
        with np.errstate(invalid="ignore"):
            ma, me, ms = kernels.solve_inverse(kernels.Plan(p.ops[k:]), a[todo], e[todo],
                                               DEC_LIMITS)
            if far:
                ma, me = _far_writing(ma, me)
            ga, ge, gs = kernels.solve_inverse(kernels.Plan(p.ops[:k]), np.where(ms == 0, ma, 0.0),
                                               np.where(ms == 0, me, -10.0), limits)
            ta, te = kernels.forward(p, np.where(gs == 0, ga, 0.0), np.where(gs == 0, ge, 0.0))
        good = (gs == 0) & (_separation(ta, te, a[todo], e[todo]) < 1e-10)
        ra[todo[good]], re[todo[good]] = ga[good], ge[good]
    return ra, re


def _far_writing(a: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polar-frame positions written beyond the pole (δ 90°..270°); out of range ones
    (below −90° or beyond 270°) stay out of it."""
    inside = (e >= DEC_LIMITS[0]) & (e <= DEC_LIMITS[1])
    flip = inside & ~_far(e)
    a, e = np.where(flip, a + math.pi, a), np.where(flip, math.pi - e, e)
    return a, np.where(inside, e, -10.0)


def _separation(a1: np.ndarray, e1: np.ndarray, a2: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Angle (radians) between two directions of the polar frame."""
    c1, c2 = np.cos(e1), np.cos(e2)
    u = np.stack([c1 * np.cos(a1), c1 * np.sin(a1), np.sin(e1)])
    v = np.stack([c2 * np.cos(a2), c2 * np.sin(a2), np.sin(e2)])
    return np.arctan2(np.linalg.norm(np.cross(u, v, axis=0), axis=0), np.sum(u * v, axis=0))


def term_design(terms: Sequence[Term], ha: np.ndarray, dec: np.ndarray,
                latitude_rad: float | None) -> np.ndarray:
    """First-order design matrix (2N × M): (Δh·cosδ, Δδ) per radian of each coefficient.

    The exact first derivative of each term's map at zero coefficient (a
    central difference of the kernel, exact to ~1e-12), so the fit's bases
    and the applied model cannot disagree on a sign.
    """
    n = np.size(ha)
    out = np.empty((2 * n, len(terms)))
    h = 1e-6
    cos_d = np.cos(polar_frame(ha, dec)[1])
    for k, t in enumerate(terms):
        if t.side and n and not np.any(pier_side(dec) == t.side):
            raise TermError(f"{t.name} acts on the {t.side} side of the pier only, and none of "
                            f"these {n} observations is on that side (raw declination "
                            f"{'beyond the pole' if t.side == 'far' else 'within ±90°'})")
        up = forward(compile_plan((t,), (h,), latitude_rad), ha, dec)
        down = forward(compile_plan((t,), (-h,), latitude_rad), ha, dec)
        out[:n, k] = wrap_pi(up[0] - down[0]) / (2 * h) * cos_d
        out[n:, k] = (up[1] - down[1]) / (2 * h)
    return out
