"""Choose calibration stars for a pointing model and plan the slews between them.

:func:`select_stars` picks ``n`` stars that stay inside the elevation band,
the I-magnitude window and away from the Moon for the whole run, are not
flagged as poor calibrators, and are spread so that the pointing-model terms
are well separated: it minimises the condition number of the model's design
matrix (default terms IA IE CA NPAE AN AW TF TX, columns scaled to unit norm)
under a minimum star separation, with every azimuth quadrant and both halves
of the elevation band covered.  :func:`plan_slews` then orders the stars to
minimise the total slew time of an alt-az mount with the station's axis
speeds and accelerations, choosing the cable-wrap side of each azimuth.

Conventions: azimuth from north (0) through east (90°); angles in degrees in
the public results (radians inside); times UTC.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.errors import ConfigError, PointingError
from pointing.sky.catalog import FLAG_COLUMNS, load_catalog
from pointing.sky.places import (
    catalog_j2000_deg,
    check_times,
    moon_altaz,
    observed_altaz,
    star_astrometry,
)

__all__ = [
    "DEFAULT_TERMS",
    "Candidates",
    "StarSelection",
    "check_sun",
    "condition_number",
    "design_matrix",
    "plan_slews",
    "qualifying_stars",
    "select_stars",
    "slew_time",
]

#: pointing-model terms whose separation the selection optimises
DEFAULT_TERMS = ("IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX")

#: grid step (s) on which the constraints are checked over the run
_GRID_STEP_S = 120.0


# --------------------------------------------------------------------------
# design matrix and its condition number
# --------------------------------------------------------------------------


def design_matrix(az: Any, el: Any, terms: Sequence[str] = DEFAULT_TERMS) -> np.ndarray:
    """First-order design matrix of a pointing model at the given positions.

    Parameters
    ----------
    az, el : array_like
        Positions in radians (azimuth from north through east), ``n`` stars.
    terms : sequence of str
        TPOINT term names (see :mod:`pointing.model.terms`).

    Returns
    -------
    ndarray, shape (2n, len(terms))
        Rows ``0..n-1``: ΔA·cosE per radian of each coefficient; rows
        ``n..2n-1``: ΔE.
    """
    from pointing.model.terms import parse_term

    az = np.atleast_1d(np.asarray(az, dtype=float))
    el = np.atleast_1d(np.asarray(el, dtype=float))
    cols = []
    for name in terms:
        bx, be = parse_term(name).basis(az, el)
        cols.append(np.concatenate([np.broadcast_to(bx, az.shape),
                                    np.broadcast_to(be, az.shape)]))
    return np.stack(cols, axis=-1)


def condition_number(az: Any, el: Any, terms: Sequence[str] = DEFAULT_TERMS) -> float:
    """Condition number of :func:`design_matrix` with columns scaled to unit norm.

    Infinite when the terms cannot be separated (fewer than ``len(terms)``
    independent rows).
    """
    a = design_matrix(az, el, terms)
    norms = np.linalg.norm(a, axis=0)
    if a.shape[0] < a.shape[1] or np.any(norms == 0):
        return math.inf
    s = np.linalg.svd(a / norms, compute_uv=False)
    return math.inf if s[-1] <= s[0] * 1e-14 else float(s[0] / s[-1])


def _blocks(az: np.ndarray, el: np.ndarray, terms: Sequence[str]) -> np.ndarray:
    """Per-star 2×p design blocks, shape (k, 2, p)."""
    a = design_matrix(az, el, terms)
    k = az.size
    return np.stack([a[:k], a[k:]], axis=1)


def _normal_cond2(normal: np.ndarray) -> np.ndarray:
    """Squared condition numbers of column-scaled designs from their normal matrices."""
    d = np.sqrt(np.einsum("...ii->...i", normal))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = normal / (d[..., :, None] * d[..., None, :])
        w = np.linalg.eigvalsh(scaled)
        c2 = w[..., -1] / w[..., 0]
    return np.where((w[..., 0] > 0) & np.isfinite(c2), c2, np.inf)


# --------------------------------------------------------------------------
# slew plan
# --------------------------------------------------------------------------


def slew_time(distance_deg: Any, speed_deg_s: float, accel_deg_s2: float) -> np.ndarray:
    """Time (s) to move one axis by ``distance_deg`` from rest to rest.

    Trapezoidal velocity profile: accelerate at ``accel_deg_s2`` to
    ``speed_deg_s``, cruise, decelerate; triangular when the move is too short
    to reach full speed.
    """
    d = np.abs(np.asarray(distance_deg, dtype=float))
    v, a = float(speed_deg_s), float(accel_deg_s2)
    return np.where(d > v * v / a, d / v + v / a, 2.0 * np.sqrt(d / a))


def _wrap_options(az_deg: np.ndarray, az_min: float, az_max: float) -> list[list[float]]:
    """Mount azimuths (deg) that reach each sky azimuth within the cable wrap."""
    out = []
    for a in np.mod(az_deg, 360.0):
        opts = [a + k * 360.0 for k in range(-3, 3) if az_min <= a + k * 360.0 <= az_max]
        if not opts:
            raise ConfigError(f"azimuth {a:.1f} deg is outside the mount's range "
                              f"{az_min:g} .. {az_max:g} deg")
        out.append(opts)
    return out


class _Planner:
    """Slew costs between every (star, wrap side) state; exact wrap DP for any order."""

    def __init__(self, az_deg, el_deg, mount, start=None):
        self.mount = mount
        options = _wrap_options(np.asarray(az_deg), mount.az_min_deg, mount.az_max_deg)
        el = np.asarray(el_deg, dtype=float)
        self.states: list[list[int]] = []
        s_az, s_el = [], []
        for i, opts in enumerate(options):
            self.states.append(list(range(len(s_az), len(s_az) + len(opts))))
            s_az += opts
            s_el += [float(el[i])] * len(opts)
        self.s_az, self.s_el = np.array(s_az), np.array(s_el)
        self.c = self.move(self.s_az[:, None], self.s_el[:, None],
                           self.s_az[None, :], self.s_el[None, :]).tolist()
        if start is None:
            self.c0 = [0.0] * len(s_az)
        else:
            self.c0 = self.move(float(start[0]), float(start[1]), self.s_az, self.s_el).tolist()

    def move(self, az1, el1, az2, el2):
        """Slew plus settling time (s) between mount positions (deg); 0 for no move."""
        m = self.mount
        daz, delv = np.subtract(az2, az1), np.subtract(el2, el1)
        t = np.maximum(slew_time(daz, m.az_speed_deg_s, m.az_accel_deg_s2),
                       slew_time(delv, m.el_speed_deg_s, m.el_accel_deg_s2))
        return np.where((daz != 0) | (delv != 0), t + m.settle_s, 0.0)

    def total(self, order: Sequence[int]) -> float:
        """Total slew time of ``order`` with the best wrap sides."""
        c, states = self.c, self.states
        prev = states[order[0]]
        best = [self.c0[s] for s in prev]
        for i in order[1:]:
            cur = states[i]
            best = [min(b + c[p][s] for b, p in zip(best, prev, strict=True)) for s in cur]
            prev = cur
        return min(best)

    def cost(self, order: Sequence[int]) -> tuple[float, list[float], list[float]]:
        """(total, mount azimuth per star, slew time arriving at each star) for ``order``."""
        c, states = self.c, self.states
        prev = states[order[0]]
        best = [self.c0[s] for s in prev]
        back: list[list[int]] = []
        for i in order[1:]:
            cur = states[i]
            arg, nb = [], []
            for s in cur:
                vals = [b + c[p][s] for b, p in zip(best, prev, strict=True)]
                k = int(np.argmin(vals))
                arg.append(k)
                nb.append(vals[k])
            back.append(arg)
            best, prev = nb, cur
        k = int(np.argmin(best))
        total = best[k]
        picks = [k]
        for arg in reversed(back):
            k = arg[k]
            picks.append(k)
        picks.reverse()
        chosen = [states[i][k] for i, k in zip(order, picks, strict=True)]
        moves = [self.c0[chosen[0]]] + [c[a][b] for a, b in itertools.pairwise(chosen)]
        return float(total), [float(self.s_az[s]) for s in chosen], [float(m) for m in moves]


def _improve(planner: _Planner, order: list[int]) -> tuple[float, list[int]]:
    """2-opt and single-star moves until no improvement."""
    best = planner.total(order)
    n = len(order)
    improved = True
    while improved:
        improved = False
        for i in range(n - 1):
            for j in range(i + 2, n + 1):
                cand = order[:i] + order[i:j][::-1] + order[j:]
                c = planner.total(cand)
                if c < best - 1e-9:
                    best, order, improved = c, cand, True
        for i in range(n):
            rest = order[:i] + order[i + 1:]
            for j in range(n):
                if j == i:
                    continue
                cand = [*rest[:j], order[i], *rest[j:]]
                c = planner.total(cand)
                if c < best - 1e-9:
                    best, order, improved = c, cand, True
                    break
    return best, order


def plan_slews(
    az_deg: Any,
    el_deg: Any,
    mount,
    *,
    start: tuple[float, float] | None = None,
) -> tuple[list[int], list[float], list[float]]:
    """Order stars to minimise total slew time on an alt-az mount.

    Parameters
    ----------
    az_deg, el_deg : array_like
        Sky positions in degrees (azimuth from north through east).
    mount : pointing.station.Mount
        Limits, axis speeds and accelerations, settling time.
    start : (float, float), optional
        Mount azimuth and elevation (deg) before the first slew; ``None``
        starts on the first star.

    Returns
    -------
    order : list of int
        Indices into the inputs, in visiting order.
    mount_az_deg : list of float
        Mount azimuth for each visited star (the cable-wrap side chosen).
    slew_s : list of float
        Time of the slew (plus settling) arriving at each visited star.

    Notes
    -----
    Each axis moves with a trapezoidal velocity profile; a slew lasts as long
    as the slower axis, plus ``mount.settle_s``.  Mount azimuth runs over
    ``mount.az_min_deg .. az_max_deg`` without wrapping round, so a sky
    azimuth may have two mount azimuths; for a given order the best choice is
    exact (dynamic programming), and the order is improved from several
    starts (azimuth sweeps, nearest neighbours) by reversing segments and
    moving single stars.
    """
    az = np.asarray(az_deg, dtype=float)
    el = np.asarray(el_deg, dtype=float)
    n = az.size
    if n == 0:
        return [], [], []
    planner = _Planner(az, el, mount, start)
    starts = [list(np.argsort(np.mod(az, 360.0), kind="stable"))]
    starts.append(starts[0][::-1])
    # nearest neighbour on the best wrap side, from a few starting stars
    cm = np.asarray(planner.c)
    d = np.array([[cm[np.ix_(planner.states[i], planner.states[j])].min() for j in range(n)]
                  for i in range(n)])
    for s in range(0, n, max(1, n // 6)):
        order, left = [s], set(range(n)) - {s}
        while left:
            nxt = min(left, key=lambda j, o=order: d[o[-1], j])
            order.append(nxt)
            left.remove(nxt)
        starts.append(order)
    best_cost, best_order = math.inf, starts[0]
    for order in starts:
        c, o = _improve(planner, [int(i) for i in order])
        if c < best_cost:
            best_cost, best_order = c, o
    _, wraps, moves = planner.cost(best_order)
    return best_order, wraps, moves


def naive_order(az_deg: Any) -> list[int]:
    """The azimuth-sorted order (north through east) used as a reference plan."""
    return [int(i) for i in np.argsort(np.mod(np.asarray(az_deg, dtype=float), 360.0),
                                       kind="stable")]


# --------------------------------------------------------------------------
# selection
# --------------------------------------------------------------------------


@dataclass
class StarSelection:
    """Chosen stars in slew order, with the figures that judge the choice.

    ``stars`` is an :class:`astropy.table.Table` with columns ``order``
    (1..n), ``hip``, ``name``, ``ra``/``dec`` (deg, ICRS at epoch J2000),
    ``imag``, ``vmag`` (mag), ``az``/``el`` (deg, observed at the planned
    time; azimuth from north through east), ``mount_az`` (deg, cable-wrap
    side chosen), ``slew_s`` (s, slew arriving at the star) and ``time``
    (planned UTC).
    """

    station: Any
    start: Any
    stars: Any
    terms: tuple[str, ...]
    condition_number: float
    min_separation_deg: float
    slew_time_s: float
    naive_slew_time_s: float
    moon_az_deg: float
    moon_el_deg: float
    dwell_s: float
    n_candidates: int
    criteria: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the ``pointing select --json`` output)."""
        stars = []
        for row in self.stars:
            stars.append({
                "hip": int(row["hip"]),
                "name": str(row["name"]),
                "ra_deg": round(float(row["ra"]), 6),
                "dec_deg": round(float(row["dec"]), 6),
                "imag": _finite(row["imag"], 3),
                "vmag": _finite(row["vmag"], 3),
                "az_deg": round(float(row["az"]), 4),
                "el_deg": round(float(row["el"]), 4),
                "mount_az_deg": round(float(row["mount_az"]), 4),
                "order": int(row["order"]),
                "time": row["time"].utc.isot + "Z",
                "slew_s": round(float(row["slew_s"]), 2),
            })
        return {
            "station": self.station.name,
            "start": self.start.utc.isot + "Z",
            "terms": list(self.terms),
            "stars": stars,
            "condition_number": round(self.condition_number, 3),
            "min_separation_deg": round(self.min_separation_deg, 3),
            "slew_time_s": round(self.slew_time_s, 2),
            "naive_slew_time_s": round(self.naive_slew_time_s, 2),
            "moon_az_deg": round(self.moon_az_deg, 3),
            "moon_el_deg": round(self.moon_el_deg, 3),
            "dwell_s": self.dwell_s,
            "n_candidates": self.n_candidates,
            "criteria": self.criteria,
        }


def _finite(value: Any, digits: int) -> float | None:
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def _unit(az: np.ndarray, el: np.ndarray) -> np.ndarray:
    ce = np.cos(el)
    return np.stack([ce * np.cos(az), ce * np.sin(az), np.sin(el)], axis=-1)


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle (rad) between unit vectors, numerically safe."""
    return 2.0 * np.arcsin(np.clip(np.linalg.norm(u - v, axis=-1) / 2.0, 0.0, 1.0))


def check_sun(station: Any, start: Any, duration_s: float, sun_max_el_deg: float) -> None:
    """Raise :class:`PointingError` when the Sun is above *sun_max_el_deg* during the run."""
    from astropy import units as u

    from pointing.sky.places import sun_altaz

    times = start + np.linspace(0.0, max(float(duration_s), 0.0), 5) * u.s
    el = np.degrees(sun_altaz(station, times)[1])
    if np.max(el) > sun_max_el_deg:
        k = int(np.argmax(el))
        raise PointingError(
            f"the Sun is {el[k]:.0f}° up at {station.name} at {times[k].utc.isot[:16]} UTC "
            f"(limit {sun_max_el_deg:g}°): no stars in daylight; start after dusk, or allow "
            "daylight explicitly (select_stars(sun_max_el_deg=None), pointing nightly "
            "--daylight)")


def select_stars(
    station: Any = None,
    time: Any = None,
    n: int = 18,
    *,
    el_min_deg: float = 20.0,
    el_max_deg: float = 85.0,
    imag_min: float = 1.0,
    imag_max: float = 5.0,
    moon_min_sep_deg: float = 30.0,
    sun_max_el_deg: float | None = -6.0,
    min_separation_deg: float = 10.0,
    dwell_s: float = 120.0,
    duration_s: float | None = None,
    exclude: Sequence[str] = FLAG_COLUMNS,
    terms: Sequence[str] = DEFAULT_TERMS,
    start: tuple[float, float] | None = None,
    strategy: str = "spread",
    seed: int = 0,
    catalog: Any = None,
) -> StarSelection:
    """Choose ``n`` calibration stars for a station and time, and plan the slews.

    Parameters
    ----------
    station : Station, str or Path, optional
        A :class:`~pointing.station.Station`, a shipped station name or a
        station file (default: Shanghai).
    time : astropy Time or str, optional
        Start of the run, UTC (default: now).
    n : int
        Number of stars (15–20 typical; at least half the number of terms).
    el_min_deg, el_max_deg : float
        Elevation band (deg) every star stays in for the whole run; the upper
        limit keeps away from the azimuth-axis keyhole.
    imag_min, imag_max : float
        Cousins I window (mag): bright enough for signal, faint enough not to
        saturate the tracking camera or the detectors.
    moon_min_sep_deg : float
        Minimum distance from the Moon's centre (deg) over the run.
    sun_max_el_deg : float or None
        Highest elevation of the Sun (deg) over the run (default −6°, civil
        twilight): daytime is refused with a clear error; None allows it.
    min_separation_deg : float
        Minimum distance between chosen stars (deg); strategy ``spread`` only.
    dwell_s : float
        Time spent on each star (centring, measuring), s.
    duration_s : float, optional
        Length of the run over which the limits must hold, s.  Default:
        ``n × (dwell_s + 60 s)``; the plan must fit in it.
    exclude : sequence of str
        Catalog flag columns that disqualify a star (default: all of
        ``nonsingle``, ``variable``, ``colour_missing``, ``colour_suspect``).
    terms : sequence of str
        Pointing-model terms whose design matrix is conditioned.
    start : (float, float), optional
        Mount azimuth and elevation (deg) before the first slew.
    strategy : {"spread", "brightest", "random"}
        ``spread`` minimises the condition number (with the separation and
        coverage constraints); ``brightest`` and ``random`` (with ``seed``)
        are the reference choices among the same qualifying stars.
    catalog : Table, optional
        Star catalog (default: :func:`pointing.load_catalog`).

    Returns
    -------
    StarSelection

    Raises
    ------
    PointingError
        Too few qualifying stars (the message gives the count after each
        cut), an azimuth quadrant or elevation half with no qualifying star,
        times outside the supported range, inconsistent limits.
    """
    from astropy import units as u
    from astropy.table import Column, Table
    from astropy.time import Time

    from pointing.config.station import Station, load_station

    st = station if isinstance(station, Station) else load_station(station)
    t0 = check_times(Time.now() if time is None else time)
    if t0.ndim != 0:
        raise PointingError("select_stars needs one start time, not an array")
    terms = tuple(str(t).upper() for t in terms)
    _check_args(st, n, terms, el_min_deg, el_max_deg, imag_min, imag_max, dwell_s,
                duration_s, strategy, exclude)
    mount = st.mount
    duration = float(duration_s) if duration_s is not None else n * (dwell_s + 60.0)
    if sun_max_el_deg is not None:
        check_sun(st, t0, duration, sun_max_el_deg)

    cands = qualifying_stars(
        st, t0, el_min_deg=el_min_deg, el_max_deg=el_max_deg, imag_min=imag_min,
        imag_max=imag_max, moon_min_sep_deg=moon_min_sep_deg, duration_s=duration,
        exclude=exclude, catalog=catalog,
    )
    if len(cands.stars) < n:
        detail = "; ".join(f"{c} {what}" for what, c in cands.steps)
        raise PointingError(
            f"only {len(cands.stars)} stars qualify at {st.name} from {t0.utc.isot} UTC for "
            f"{duration / 60:.0f} min, {n} needed ({detail})"
        )
    pool, astro = cands.stars, cands.astrometry
    az, el, maz, mel = cands.az, cands.el, cands.moon_az, cands.moon_el

    # quadrant / elevation-half membership that holds over the whole run (-1: changes)
    quad = np.floor(np.mod(np.degrees(az), 360.0) / 90.0).astype(int)
    quad_fixed = np.where(np.all(quad == quad[:, :1], axis=1), quad[:, 0], -1)
    half = (np.degrees(el) >= 0.5 * (el_min_deg + el_max_deg)).astype(int)
    half_fixed = np.where(np.all(half == half[:, :1], axis=1), half[:, 0], -1)

    mid = az.shape[1] // 2
    caz, cel = az[:, mid], el[:, mid]
    radec = _unit(np.radians(np.asarray(pool["ra"])), np.radians(np.asarray(pool["dec"])))

    if strategy == "spread":
        chosen = _spread(caz, cel, radec, quad_fixed, half_fixed, n, terms,
                         math.radians(min_separation_deg), st.name, el_min_deg, el_max_deg)
    elif strategy == "brightest":
        chosen = list(np.argsort(np.asarray(pool["imag"]), kind="stable")[:n])
    else:
        rng = np.random.default_rng(seed)
        chosen = list(rng.choice(len(pool), size=n, replace=False))
    chosen = np.asarray(chosen, dtype=int)
    sub = {key: v[chosen] for key, v in astro.items()}

    # slew plan: order on mid-run positions, then follow the stars in time
    order, _, _ = plan_slews(np.degrees(caz[chosen]), np.degrees(cel[chosen]), mount,
                             start=start)
    planned = _follow(sub, st, t0, order, dwell_s, mount, start)
    naive = _follow(sub, st, t0, naive_order(np.degrees(caz[chosen])), dwell_s, mount, start)
    if sum(naive[2]) < sum(planned[2]):  # the sky moved under the plan: keep the better
        planned = naive
    order, wraps, moves, times, paz, pel = planned
    naive_total = sum(naive[2])
    end = (times[-1] - t0).to_value(u.s) + dwell_s
    if end > duration + 1e-6:
        raise PointingError(
            f"the plan needs {end:.0f} s but the run is limited to {duration:.0f} s; "
            "give a longer duration_s or fewer stars"
        )

    rows = chosen[order]
    ra2000, dec2000 = catalog_j2000_deg({key: v[order] for key, v in sub.items()})
    table = Table()
    table["order"] = np.arange(1, n + 1)
    table["hip"] = np.asarray(pool["hip"])[rows]
    table["name"] = np.asarray(pool["name"]).astype(str)[rows]
    table["ra"] = Column(ra2000, unit="deg", description="ICRS at epoch J2000")
    table["dec"] = Column(dec2000, unit="deg", description="ICRS at epoch J2000")
    table["imag"] = Column(np.asarray(pool["imag"])[rows], unit="mag")
    table["vmag"] = Column(np.asarray(pool["vmag"])[rows], unit="mag")
    table["az"] = Column(np.degrees(paz), unit="deg", description="north=0, east=90")
    table["el"] = Column(np.degrees(pel), unit="deg")
    table["mount_az"] = Column(np.asarray(wraps), unit="deg")
    table["slew_s"] = Column(np.asarray(moves), unit="s")
    table["time"] = times

    unit_sel = radec[chosen]
    pair = _angle(unit_sel[:, None, :], unit_sel[None, :, :])
    pair[np.diag_indices(n)] = np.inf
    return StarSelection(
        station=st,
        start=t0,
        stars=table,
        terms=terms,
        condition_number=condition_number(paz, pel, terms),
        min_separation_deg=float(np.degrees(pair.min())),
        slew_time_s=float(sum(moves)),
        naive_slew_time_s=float(naive_total),
        moon_az_deg=float(np.degrees(maz[0])),
        moon_el_deg=float(np.degrees(mel[0])),
        dwell_s=float(dwell_s),
        n_candidates=len(pool),
        criteria={
            "el_min_deg": el_min_deg, "el_max_deg": el_max_deg,
            "imag_min": imag_min, "imag_max": imag_max,
            "moon_min_sep_deg": moon_min_sep_deg, "min_separation_deg": min_separation_deg,
            "duration_s": duration, "exclude": list(exclude), "strategy": strategy,
        },
    )


@dataclass
class Candidates:
    """Stars that meet every constraint of a run, with their tracks.

    ``stars`` are the qualifying catalog rows; ``az``/``el`` (radians,
    azimuth from north through east) have shape ``(len(stars), len(grid))``
    on the time grid ``grid`` spanning the run; ``moon_az``/``moon_el`` on the
    same grid; ``astrometry`` as from
    :func:`~pointing.sky.places.star_astrometry`; ``steps`` the star count
    after each cut.
    """

    stars: Any
    grid: Any
    az: np.ndarray
    el: np.ndarray
    moon_az: np.ndarray
    moon_el: np.ndarray
    astrometry: dict[str, np.ndarray]
    steps: list[tuple[str, int]]


def qualifying_stars(
    station: Any,
    time: Any,
    *,
    el_min_deg: float = 20.0,
    el_max_deg: float = 85.0,
    imag_min: float = 1.0,
    imag_max: float = 5.0,
    moon_min_sep_deg: float = 30.0,
    duration_s: float = 3600.0,
    exclude: Sequence[str] = FLAG_COLUMNS,
    catalog: Any = None,
) -> Candidates:
    """Catalog stars that meet the constraints for the whole run.

    The elevation band, the Moon distance are checked on a grid every
    2 minutes from ``time`` to ``time + duration_s``; the magnitude window
    and the flags on the catalog.  Parameters as in :func:`select_stars`.
    """
    from astropy import units as u

    from pointing.config.station import Station, load_station

    st = station if isinstance(station, Station) else load_station(station)
    t0 = check_times(time)
    cat = load_catalog() if catalog is None else catalog
    steps: list[tuple[str, int]] = [("in the catalog", len(cat))]
    imag = np.asarray(cat["imag"], dtype=float)
    with np.errstate(invalid="ignore"):
        keep = (imag >= imag_min) & (imag <= imag_max)
    steps.append((f"with {imag_min:g} <= I <= {imag_max:g}", int(keep.sum())))
    for flag in exclude:
        keep &= ~np.asarray(cat[flag], dtype=bool)
    if exclude:
        steps.append(("not flagged " + "/".join(exclude), int(keep.sum())))
    pool = cat[keep]

    k = max(2, math.ceil(duration_s / _GRID_STEP_S) + 1)
    grid = t0 + np.linspace(0.0, duration_s, k) * u.s
    astro = star_astrometry(pool)
    az, el = observed_altaz(astro, st, grid)  # (m, k) radians
    lo, hi = math.radians(el_min_deg), math.radians(el_max_deg)
    ok = np.all(el >= lo, axis=1)
    steps.append((f"above {el_min_deg:g} deg for the whole run", int(ok.sum())))
    ok &= np.all(el <= hi, axis=1)
    steps.append((f"below {el_max_deg:g} deg for the whole run", int(ok.sum())))
    maz, mel = moon_altaz(st, grid)
    sep = _angle(_unit(az, el), _unit(maz, mel)[None, :, :])
    ok &= np.all(sep >= math.radians(moon_min_sep_deg), axis=1)
    steps.append((f"at least {moon_min_sep_deg:g} deg from the Moon", int(ok.sum())))
    return Candidates(
        stars=pool[ok], grid=grid, az=az[ok], el=el[ok], moon_az=maz, moon_el=mel,
        astrometry={key: v[ok] for key, v in astro.items()}, steps=steps,
    )


def _check_args(st, n, terms, el_min, el_max, imag_min, imag_max, dwell_s, duration_s,
                strategy, exclude):
    from pointing.model.terms import parse_terms

    parse_terms(list(terms))
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise PointingError(f"n must be an integer, not {n!r}")
    need = (len(terms) + 1) // 2
    if n < need:
        raise PointingError(f"n = {n} stars cannot separate {len(terms)} terms; "
                            f"use at least {need}")
    if not el_min < el_max:
        raise PointingError(f"el_min_deg ({el_min:g}) must be below el_max_deg ({el_max:g})")
    if el_min < st.mount.el_min_deg or el_max > st.mount.el_max_deg:
        raise PointingError(
            f"elevation band {el_min:g} .. {el_max:g} deg is outside the mount's limits "
            f"{st.mount.el_min_deg:g} .. {st.mount.el_max_deg:g} deg ({st.name})"
        )
    if not imag_min < imag_max:
        raise PointingError(f"imag_min ({imag_min:g}) must be below imag_max ({imag_max:g})")
    if dwell_s < 0 or (duration_s is not None and duration_s <= 0):
        raise PointingError("dwell_s must be >= 0 and duration_s > 0")
    if strategy not in ("spread", "brightest", "random"):
        raise PointingError(f"unknown strategy {strategy!r}: spread, brightest or random")
    unknown = [f for f in exclude if f not in FLAG_COLUMNS]
    if unknown:
        raise PointingError(f"unknown catalog flag(s) {unknown}; known: {list(FLAG_COLUMNS)}")


def _follow(sub, st, t0, order, dwell_s, mount, start, iterations: int = 3):
    """Planned times and positions for an order, slews computed on the moving sky."""
    from astropy import units as u

    order = list(order)
    astro = {key: v[order] for key, v in sub.items()}
    m = len(order)
    offsets = np.arange(m) * dwell_s
    for _ in range(iterations):
        times = t0 + offsets * u.s
        az, el = observed_altaz(astro, st, times)
        paz, pel = az[np.arange(m), np.arange(m)], el[np.arange(m), np.arange(m)]
        planner = _Planner(np.degrees(paz), np.degrees(pel), mount, start)
        _, wraps, moves = planner.cost(list(range(m)))
        new = np.cumsum(moves) + np.arange(m) * dwell_s
        if np.allclose(new, offsets, atol=0.05):
            break
        offsets = new
    times = t0 + offsets * u.s
    return order, wraps, moves, times, paz, pel


def _spread(caz, cel, radec, quad, half, n, terms, min_sep, name, el_min, el_max):
    """Indices of ``n`` stars minimising the scaled condition number."""
    m = caz.size
    missing_q = [q for q in range(4) if not np.any(quad == q)]
    missing_h = [h for h in range(2) if not np.any(half == h)]
    if missing_q or missing_h:
        what = [f"azimuth {90 * q}-{90 * q + 90} deg" for q in missing_q]
        mid = 0.5 * (el_min + el_max)
        what += [("elevation below" if h == 0 else "elevation above") + f" {mid:g} deg"
                 for h in missing_h]
        raise PointingError(f"no qualifying star at {name} in " + ", ".join(what)
                            + " for the whole run; relax the limits or change the time")
    blocks = _blocks(caz, cel, terms)  # (m, 2, p)
    bnorm = np.einsum("kri,krj->kij", blocks, blocks)  # per-star normal contribution
    horizon = _unit(caz, cel)

    # farthest-point start, seeded with the lowest and the highest star
    chosen = [int(np.argmin(cel)), int(np.argmax(cel))]
    dist = np.minimum(_angle(horizon, horizon[chosen[0]]), _angle(horizon, horizon[chosen[1]]))
    while len(chosen) < n:
        score = dist.copy()
        score[chosen] = -1.0
        cov_q = {int(quad[i]) for i in chosen}
        cov_h = {int(half[i]) for i in chosen}
        need_q = [q for q in range(4) if q not in cov_q]
        need_h = [h for h in range(2) if h not in cov_h]
        slots = n - len(chosen)
        if len(need_q) >= slots or len(need_h) >= slots:
            helps = np.isin(quad, need_q) | np.isin(half, need_h)
            score[~helps] = -1.0
        score[dist < min_sep] = -1.0
        j = int(np.argmax(score))
        if score[j] < 0:
            raise PointingError(
                f"cannot place {n} qualifying stars at least {math.degrees(min_sep):g} deg "
                f"apart at {name} (got {len(chosen)}); lower min_separation_deg or n"
            )
        chosen.append(j)
        dist = np.minimum(dist, _angle(horizon, horizon[j]))

    sky_sep = _angle(radec[:, None, :], radec[None, chosen, :])  # (m, n) to current set
    normal = bnorm[chosen].sum(axis=0)
    current = _normal_cond2(normal[None])[0]
    for _ in range(6):
        improved = False
        for slot in range(n):
            others = [c for s, c in enumerate(chosen) if s != slot]
            base = normal - bnorm[chosen[slot]]
            trial = base[None] + bnorm  # (m, p, p)
            c2 = _normal_cond2(trial)
            valid = np.ones(m, dtype=bool)
            valid[chosen] = False
            other_cols = [s for s in range(n) if s != slot]
            valid &= np.all(sky_sep[:, other_cols] >= min_sep, axis=1)
            q_left = {int(quad[i]) for i in others}
            h_left = {int(half[i]) for i in others}
            for q in range(4):
                if q not in q_left:
                    valid &= quad == q
            for h in range(2):
                if h not in h_left:
                    valid &= half == h
            c2 = np.where(valid, c2, np.inf)
            j = int(np.argmin(c2))
            if c2[j] < current * (1.0 - 1e-9):
                chosen[slot] = j
                normal = base + bnorm[j]
                current = c2[j]
                sky_sep[:, slot] = _angle(radec, radec[j])
                improved = True
        if not improved:
            break
    return chosen
