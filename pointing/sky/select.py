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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy import units as u
from astropy.table import Column, Table
from astropy.time import Time

from pointing.config.station import Station, load_station
from pointing.errors import PointingError
from pointing.model.design import DEFAULT_TERMS, condition_number, design_matrix
from pointing.model.terms import parse_terms
from pointing.sky.catalog import FLAG_COLUMNS, load_catalog
from pointing.sky.places import (
    catalog_j2000_deg,
    check_times,
    moon_altaz,
    observed_altaz,
    star_astrometry,
    sun_altaz,
)
from pointing.sky.slews import SlewPlanner, naive_order, plan_slews
from pointing.units import angular_separation

__all__ = [
    "DEFAULT_TERMS",
    "Candidates",
    "StarSelection",
    "check_sun",
    "condition_number",
    "design_matrix",
    "qualifying_stars",
    "select_stars",
]

#: grid step (s) on which the constraints are checked over the run
_GRID_STEP_S = 120.0


# --------------------------------------------------------------------------
# design blocks (the matrix itself is pointing.model.design's)
# --------------------------------------------------------------------------


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


def check_sun(station: Any, start: Any, duration_s: float, sun_max_el_deg: float) -> None:
    """Raise :class:`PointingError` when the Sun is above *sun_max_el_deg* during the run."""
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
    st = station if isinstance(station, Station) else load_station(station)
    t0 = check_times(Time.now() if time is None else time)
    if t0.ndim != 0:
        raise PointingError("select_stars needs one start time, not an array")
    terms = tuple(str(t).upper() for t in terms)
    _check_args(st, n, terms, el_min_deg, el_max_deg, imag_min, imag_max, dwell_s,
                duration_s, strategy, exclude)
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
    pool = cands.stars
    maz, mel = cands.moon_az, cands.moon_el

    sky = _CandidateSky.of(cands, el_min_deg, el_max_deg)
    chosen = _choose(sky, cands, strategy, n, terms, math.radians(min_separation_deg), seed,
                     st.name, el_min_deg, el_max_deg)
    route = _route(cands, sky, chosen, st, t0, dwell_s, start)
    end = (route.times[-1] - t0).to_value(u.s) + dwell_s
    if end > duration + 1e-6:
        raise PointingError(
            f"the plan needs {end:.0f} s but the run is limited to {duration:.0f} s; "
            "give a longer duration_s or fewer stars"
        )
    table = _selection_table(pool, cands.astrometry, chosen, route)
    paz, pel, moves, naive_total = route.az, route.el, route.slew_s, route.naive_slew_s

    pair = sky.sky_separation(chosen[:, None], chosen[None, :])
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


@dataclass(frozen=True)
class _Route:
    """The visiting plan of the chosen stars (indices into the chosen set, in order)."""

    order: list[int]
    mount_az_deg: list[float]
    slew_s: list[float]
    times: Any
    az: np.ndarray
    el: np.ndarray
    naive_slew_s: float


def _route(cands: Candidates, sky: _CandidateSky, chosen: np.ndarray, st: Station, t0: Any,
           dwell_s: float, start: tuple[float, float] | None) -> _Route:
    """Order the chosen stars on mid-run positions, then follow them in time; the
    azimuth-sorted order is kept where the moving sky makes it the faster one."""
    sub = {key: v[chosen] for key, v in cands.astrometry.items()}
    mount = st.mount
    order, _, _ = plan_slews(np.degrees(sky.az[chosen]), np.degrees(sky.el[chosen]), mount,
                             start=start)
    planned = _follow(sub, st, t0, order, dwell_s, mount, start)
    naive = _follow(sub, st, t0, naive_order(np.degrees(sky.az[chosen])), dwell_s, mount,
                    start)
    if sum(naive[2]) < sum(planned[2]):
        planned = naive
    return _Route(*planned, naive_slew_s=float(sum(naive[2])))


def _selection_table(pool: Any, astrometry: dict[str, np.ndarray], chosen: np.ndarray,
                     route: _Route) -> Table:
    """The chosen stars in visiting order, with their planned positions and slews."""
    rows = chosen[route.order]
    ra2000, dec2000 = catalog_j2000_deg({key: v[rows] for key, v in astrometry.items()})
    table = Table()
    table["order"] = np.arange(1, len(rows) + 1)
    table["hip"] = np.asarray(pool["hip"])[rows]
    table["name"] = np.asarray(pool["name"]).astype(str)[rows]
    table["ra"] = Column(ra2000, unit="deg", description="ICRS at epoch J2000")
    table["dec"] = Column(dec2000, unit="deg", description="ICRS at epoch J2000")
    table["imag"] = Column(np.asarray(pool["imag"])[rows], unit="mag")
    table["vmag"] = Column(np.asarray(pool["vmag"])[rows], unit="mag")
    table["az"] = Column(np.degrees(route.az), unit="deg", description="north=0, east=90")
    table["el"] = Column(np.degrees(route.el), unit="deg")
    table["mount_az"] = Column(np.asarray(route.mount_az_deg), unit="deg")
    table["slew_s"] = Column(np.asarray(route.slew_s), unit="s")
    table["time"] = route.times
    return table


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
    sep = angular_separation(az, el, maz[None, :], mel[None, :])
    ok &= np.all(sep >= math.radians(moon_min_sep_deg), axis=1)
    steps.append((f"at least {moon_min_sep_deg:g} deg from the Moon", int(ok.sum())))
    return Candidates(
        stars=pool[ok], grid=grid, az=az[ok], el=el[ok], moon_az=maz, moon_el=mel,
        astrometry={key: v[ok] for key, v in astro.items()}, steps=steps,
    )


def _check_args(st: Station, n: int, terms: Sequence[str], el_min: float, el_max: float,
                imag_min: float, imag_max: float, dwell_s: float, duration_s: float | None,
                strategy: str, exclude: Sequence[str]) -> None:
    """Refuse inconsistent selection options with a message naming the option."""
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


def _follow(sub: dict[str, np.ndarray], st: Station, t0: Any, order: Sequence[int],
            dwell_s: float, mount: Any, start: tuple[float, float] | None,
            iterations: int = 3) -> tuple:
    """Planned times and positions for an order, slews computed on the moving sky."""
    order = list(order)
    astro = {key: v[order] for key, v in sub.items()}
    m = len(order)
    offsets = np.arange(m) * dwell_s
    for _ in range(iterations):
        times = t0 + offsets * u.s
        az, el = observed_altaz(astro, st, times)
        paz, pel = az[np.arange(m), np.arange(m)], el[np.arange(m), np.arange(m)]
        planner = SlewPlanner(np.degrees(paz), np.degrees(pel), mount, start)
        _, wraps, moves = planner.cost(list(range(m)))
        new = np.cumsum(moves) + np.arange(m) * dwell_s
        if np.allclose(new, offsets, atol=0.05):
            break
        offsets = new
    times = t0 + offsets * u.s
    return order, wraps, moves, times, paz, pel


@dataclass(frozen=True)
class _CandidateSky:
    """Where the candidate stars are, for choosing among them (radians).

    ``az``/``el`` at mid-run; ``ra``/``dec`` (ICRS) for separations that do
    not change during the run; ``quad`` (0–3, azimuth quadrant) and ``half``
    (0 lower, 1 upper half of the elevation band) where the star stays in one
    for the whole run, -1 where it changes.
    """

    az: np.ndarray
    el: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    quad: np.ndarray
    half: np.ndarray

    @classmethod
    def of(cls, cands: Candidates, el_min_deg: float, el_max_deg: float) -> _CandidateSky:
        quad = np.floor(np.mod(np.degrees(cands.az), 360.0) / 90.0).astype(int)
        half = (np.degrees(cands.el) >= 0.5 * (el_min_deg + el_max_deg)).astype(int)
        mid = cands.az.shape[1] // 2
        return cls(az=cands.az[:, mid], el=cands.el[:, mid],
                   ra=np.radians(np.asarray(cands.stars["ra"], dtype=float)),
                   dec=np.radians(np.asarray(cands.stars["dec"], dtype=float)),
                   quad=np.where(np.all(quad == quad[:, :1], axis=1), quad[:, 0], -1),
                   half=np.where(np.all(half == half[:, :1], axis=1), half[:, 0], -1))

    def horizon_separation(self, i: Any, j: Any) -> np.ndarray:
        """Angle (rad) between candidates *i* and *j* at mid-run (alt-az)."""
        return angular_separation(self.az[i], self.el[i], self.az[j], self.el[j])

    def sky_separation(self, i: Any, j: Any) -> np.ndarray:
        """Angle (rad) between candidates *i* and *j* on the sky (ICRS)."""
        return angular_separation(self.ra[i], self.dec[i], self.ra[j], self.dec[j])


def _choose(sky: _CandidateSky, cands: Candidates, strategy: str, n: int,
            terms: Sequence[str], min_sep: float, seed: int, name: str,
            el_min: float, el_max: float) -> np.ndarray:
    """Indices of the *n* chosen candidates for *strategy*."""
    if strategy == "spread":
        _check_coverage(sky, name, el_min, el_max)
        chosen = _farthest_points(sky, n, min_sep, name)
        chosen = _swap_for_conditioning(sky, chosen, terms, min_sep)
    elif strategy == "brightest":
        chosen = list(np.argsort(np.asarray(cands.stars["imag"]), kind="stable")[:n])
    else:
        rng = np.random.default_rng(seed)
        chosen = list(rng.choice(len(cands.stars), size=n, replace=False))
    return np.asarray(chosen, dtype=int)


def _check_coverage(sky: _CandidateSky, name: str, el_min: float, el_max: float) -> None:
    """Refuse when a quadrant or elevation half has no star for the whole run."""
    missing_q = [q for q in range(4) if not np.any(sky.quad == q)]
    missing_h = [h for h in range(2) if not np.any(sky.half == h)]
    if missing_q or missing_h:
        what = [f"azimuth {90 * q}-{90 * q + 90} deg" for q in missing_q]
        mid = 0.5 * (el_min + el_max)
        what += [("elevation below" if h == 0 else "elevation above") + f" {mid:g} deg"
                 for h in missing_h]
        raise PointingError(f"no qualifying star at {name} in " + ", ".join(what)
                            + " for the whole run; relax the limits or change the time")


def _farthest_points(sky: _CandidateSky, n: int, min_sep: float, name: str) -> list[int]:
    """A spread first choice: farthest points on the horizon grid, covering every
    quadrant and elevation half, seeded with the lowest and the highest star."""
    chosen = [int(np.argmin(sky.el)), int(np.argmax(sky.el))]
    dist = np.minimum(sky.horizon_separation(slice(None), chosen[0]),
                      sky.horizon_separation(slice(None), chosen[1]))
    while len(chosen) < n:
        score = dist.copy()
        score[chosen] = -1.0
        need_q = [q for q in range(4) if q not in {int(sky.quad[i]) for i in chosen}]
        need_h = [h for h in range(2) if h not in {int(sky.half[i]) for i in chosen}]
        slots = n - len(chosen)
        if len(need_q) >= slots or len(need_h) >= slots:
            helps = np.isin(sky.quad, need_q) | np.isin(sky.half, need_h)
            score[~helps] = -1.0
        score[dist < min_sep] = -1.0
        j = int(np.argmax(score))
        if score[j] < 0:
            raise PointingError(
                f"cannot place {n} qualifying stars at least {math.degrees(min_sep):g} deg "
                f"apart at {name} (got {len(chosen)}); lower min_separation_deg or n"
            )
        chosen.append(j)
        dist = np.minimum(dist, sky.horizon_separation(slice(None), j))
    return chosen


def _swap_for_conditioning(sky: _CandidateSky, chosen: list[int], terms: Sequence[str],
                           min_sep: float, sweeps: int = 6) -> list[int]:
    """Swap single stars while the scaled condition number falls, keeping the
    separation and coverage constraints."""
    m, n = sky.az.size, len(chosen)
    blocks = _blocks(sky.az, sky.el, terms)  # (m, 2, p)
    bnorm = np.einsum("kri,krj->kij", blocks, blocks)  # per-star normal contribution
    sky_sep = sky.sky_separation(np.arange(m)[:, None], np.asarray(chosen)[None, :])
    normal = bnorm[chosen].sum(axis=0)
    current = _normal_cond2(normal[None])[0]
    for _ in range(sweeps):
        improved = False
        for slot in range(n):
            base = normal - bnorm[chosen[slot]]
            c2 = _normal_cond2(base[None] + bnorm)  # (m,): every candidate in this slot
            valid = _swap_allowed(sky, chosen, slot, sky_sep, min_sep)
            c2 = np.where(valid, c2, np.inf)
            j = int(np.argmin(c2))
            if c2[j] < current * (1.0 - 1e-9):
                chosen[slot] = j
                normal = base + bnorm[j]
                current = c2[j]
                sky_sep[:, slot] = sky.sky_separation(slice(None), j)
                improved = True
        if not improved:
            break
    return chosen


def _swap_allowed(sky: _CandidateSky, chosen: list[int], slot: int, sky_sep: np.ndarray,
                  min_sep: float) -> np.ndarray:
    """Candidates that may replace ``chosen[slot]`` (separation and coverage kept)."""
    others = [c for s, c in enumerate(chosen) if s != slot]
    valid = np.ones(sky.az.size, dtype=bool)
    valid[chosen] = False
    valid &= np.all(np.delete(sky_sep, slot, axis=1) >= min_sep, axis=1)
    q_left = {int(sky.quad[i]) for i in others}
    h_left = {int(sky.half[i]) for i in others}
    for q in range(4):
        if q not in q_left:
            valid &= sky.quad == q
    for h in range(2):
        if h not in h_left:
            valid &= sky.half == h
    return valid
