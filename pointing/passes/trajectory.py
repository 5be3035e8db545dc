"""The mount's trajectory for one pass: samples, the pointing model, wrap and keyhole.

:func:`pass_trajectory` samples a pass (default every 0.1 s from rise to
set), applies the night's :class:`~pointing.model.PointingModel`
(``raw_from_true``) and plans the pass before it starts:

* **Keyhole.**  Near the zenith an alt-az mount's azimuth must turn fast
  (the rate is the satellite's angular speed over its zenith distance).
  Two ways through are compared: the azimuth flip (stay on the normal side,
  elevation ≤ 90°) and "over the top" (follow the part of the track within
  ``180° − el_max`` of the zenith on the other side of the zenith, raw
  elevation up to ``el_max``, e.g. 93°; the mount's azimuth then differs by
  180°).  Every candidate demand is checked against the axis speed and
  acceleration limits of the station's ``[mount]``; where it cannot be
  followed the mount leaves the track on a bridge that respects both limits
  (accelerate, coast, decelerate: near time-optimal) and rejoins it.  The
  candidate that loses the fewest seconds wins (then the lower peak rate).
  The report names every lost interval and why.
* **Cable wrap.**  The whole (continuous) raw azimuth path is shifted by a
  whole number of turns to lie inside ``az_min_deg .. az_max_deg`` (e.g.
  −270° … +270°) so that no unwrap is needed during the pass; of the
  shifts that fit, the one starting nearest the park azimuth (default 0°).

The demands are jump-free (every sample-to-sample step within the speed
limit).  Rates and accelerations are of the raw demands (central differences).
The trajectory interpolates between samples with a cubic spline (error far
below 1 µrad at 0.1 s).

``Trajectory.utc`` is ``numpy.datetime64[us]`` UTC; angles inside are
radians; files use degrees.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError, PointingError
from pointing.passes.orbit import Satellite, TrackComputer
from pointing.passes.polarisation import SourcePolarisation, hwp_angles
from pointing.passes.predict import Pass, datetime64_to_jd, iso, jd_to_datetime64

__all__ = [
    "Gap",
    "Plan",
    "Trajectory",
    "load_trajectory",
    "pass_trajectory",
    "plan_pass",
]

_DEG = math.pi / 180.0
_RATE_MARGIN = 0.98  # plan to this fraction of the limits (numerical headroom)


@dataclass(frozen=True)
class Gap:
    """An interval of the pass the mount cannot follow (seconds from the first sample)."""

    start_s: float
    end_s: float
    start_utc: str
    end_utc: str
    reason: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Plan:
    """How the mount flies the pass.

    ``keyhole``: ``"none"`` (no special handling needed), ``"flip"`` or
    ``"over_the_top"``; ``wrap_turns``: whole turns added to the continuous
    azimuth path; ``gaps``: what cannot be followed; ``start_*``: where to
    wait (raw encoder degrees) and until when (the first followed sample,
    normally the rise); ``candidates``: the plans compared.
    """

    keyhole: str
    wrap_turns: int
    gaps: list[Gap]
    start_utc: str
    start_raw_az_deg: float
    start_raw_el_deg: float
    az_range_deg: tuple[float, float]
    candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lost_s(self) -> float:
        return float(sum(g.duration_s for g in self.gaps))

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyhole": self.keyhole, "wrap_turns": self.wrap_turns,
            "followed_whole_pass": not self.gaps, "lost_s": round(self.lost_s, 3),
            "gaps": [dict(g.__dict__) for g in self.gaps],
            "start_utc": self.start_utc, "start_raw_az_deg": round(self.start_raw_az_deg, 6),
            "start_raw_el_deg": round(self.start_raw_el_deg, 6),
            "raw_az_range_deg": [round(v, 4) for v in self.az_range_deg],
            "candidates": self.candidates,
        }


@dataclass
class Trajectory:
    """Time-tagged demands for one pass; arrays of shape ``(n,)``.

    ``utc`` (numpy datetime64[us], UTC), ``t_s`` (s from the first sample);
    the satellite's observed track ``az_rad``, ``el_rad`` (refracted),
    ``el_unrefracted_rad``, ``range_km``, ``range_rate_km_s``, ``sunlit``;
    the mount's demands ``raw_az_rad``, ``raw_el_rad`` (encoder, after the
    pointing model, on the planned wrap turn; elevation above π/2 over the
    top) with ``az_rate_rad_s``, ``el_rate_rad_s``, ``az_accel_rad_s2``,
    ``el_accel_rad_s2``; ``on_track`` (False where the plan leaves the track);
    ``hwp_deg`` (half-wave-plate angle).  ``meta``: station, satellite, pass,
    plan, model and settings.
    """

    utc: np.ndarray
    t_s: np.ndarray
    az_rad: np.ndarray
    el_rad: np.ndarray
    el_unrefracted_rad: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray
    sunlit: np.ndarray
    raw_az_rad: np.ndarray
    raw_el_rad: np.ndarray
    az_rate_rad_s: np.ndarray
    el_rate_rad_s: np.ndarray
    az_accel_rad_s2: np.ndarray
    el_accel_rad_s2: np.ndarray
    on_track: np.ndarray
    hwp_deg: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = None
    _splines: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.t_s.size)

    def seconds(self, when: Any) -> np.ndarray:
        """Seconds from the first sample of ``when`` (s, datetime64, ISO text or astropy Time)."""
        if isinstance(when, str):
            when = np.datetime64(when.rstrip("Z"))
        if hasattr(when, "jd1") and hasattr(when, "utc"):  # astropy Time
            jd = when.utc.jd1 + when.utc.jd2
            return (np.asarray(jd) - datetime64_to_jd(self.utc[0])) * 86400.0
        arr = np.asarray(when)
        if np.issubdtype(arr.dtype, np.datetime64):
            return (arr - self.utc[0]).astype("timedelta64[ns]").astype(float) * 1e-9
        return arr.astype(float)

    def demand_at(self, when: Any) -> tuple[np.ndarray, np.ndarray]:
        """Raw encoder demand (az, el; radians) at any time(s) between the samples.

        ``when``: seconds from the first sample, numpy datetime64, ISO text or
        astropy Time.  Cubic-spline interpolation of the samples.

        Raises
        ------
        PointingError
            A time outside the trajectory.
        """
        t = self.seconds(when)
        if np.any((t < self.t_s[0] - 1e-9) | (t > self.t_s[-1] + 1e-9)):
            raise PointingError(f"time outside the trajectory ({iso(self.utc[0])} .. "
                                f"{iso(self.utc[-1])})")
        if self._splines is None:
            from scipy.interpolate import CubicSpline  # lazy: scipy only when interpolating

            self._splines = (CubicSpline(self.t_s, self.raw_az_rad),
                             CubicSpline(self.t_s, self.raw_el_rad))
        return self._splines[0](t), self._splines[1](t)

    # -- files ----------------------------------------------------------------
    def to_table(self):
        """The trajectory as an astropy Table (the ECSV columns, degrees)."""
        from astropy.table import Table

        deg = np.degrees
        cols = {
            "time": np.array([iso(u)[:-1] for u in self.utc.astype("datetime64[ms]")]),
            "t_s": self.t_s, "az_deg": deg(self.az_rad), "el_deg": deg(self.el_rad),
            "el_unrefracted_deg": deg(self.el_unrefracted_rad), "range_km": self.range_km,
            "range_rate_km_s": self.range_rate_km_s,
            "raw_az_deg": deg(self.raw_az_rad), "raw_el_deg": deg(self.raw_el_rad),
            "az_rate_deg_s": deg(self.az_rate_rad_s), "el_rate_deg_s": deg(self.el_rate_rad_s),
            "az_accel_deg_s2": deg(self.az_accel_rad_s2),
            "el_accel_deg_s2": deg(self.el_accel_rad_s2),
            "sunlit": self.sunlit.astype(bool), "on_track": self.on_track.astype(bool),
            "hwp_deg": self.hwp_deg,
        }
        table = Table(cols, meta={"ogs_trajectory": _jsonable(self.meta)})
        for name, unit in _UNITS.items():
            table[name].unit = unit
        return table

    def write_ecsv(self, path: str | Path) -> Path:
        """Write the ECSV trajectory file (columns and units in the README)."""
        path = Path(path)
        self.to_table().write(path, format="ascii.ecsv", overwrite=True)
        return path

    def write_text(self, path: str | Path) -> Path:
        """Plain text a mount controller can stream: ``UTC raw_az_deg raw_el_deg``."""
        path = Path(path)
        m = self.meta
        lines = [
            f"# ogs-pointing trajectory: {m.get('satellite')} over {m.get('station')}, "
            f"pass {m.get('pass', {}).get('number')}",
            "# raw encoder demands after the pointing model; azimuth from north through east,",
            "# on the planned cable-wrap turn; elevation above 90 deg = over the top",
            "# columns: utc_iso raw_az_deg raw_el_deg",
        ]
        times = np.datetime_as_string(self.utc.astype("datetime64[ms]"), unit="ms")
        az, el = np.degrees(self.raw_az_rad), np.degrees(self.raw_el_rad)
        lines += [f"{t}Z {a:12.7f} {e:11.7f}" for t, a, e in zip(times, az, el, strict=True)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def summary(self) -> dict[str, Any]:
        """JSON summary: the pass, the plan, peak rates against the limits."""
        deg = np.degrees
        return _jsonable({
            **{k: v for k, v in self.meta.items() if k != "polarisation_columns"},
            "samples": len(self), "first_sample": iso(self.utc[0]),
            "last_sample": iso(self.utc[-1]),
            "peak_az_rate_deg_s": float(np.max(np.abs(deg(self.az_rate_rad_s)))),
            "peak_el_rate_deg_s": float(np.max(np.abs(deg(self.el_rate_rad_s)))),
            "peak_az_accel_deg_s2": float(np.max(np.abs(deg(self.az_accel_rad_s2)))),
            "peak_el_accel_deg_s2": float(np.max(np.abs(deg(self.el_accel_rad_s2)))),
            "range_km": [float(self.range_km.min()), float(self.range_km.max())],
            "hwp_deg": [float(np.nanmin(self.hwp_deg)), float(np.nanmax(self.hwp_deg))],
            "plan": self.plan.to_dict() if self.plan else None,
        })

    def write_summary(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.summary(), indent=1) + "\n", encoding="utf-8")
        return path


_UNITS = {"t_s": "s", "az_deg": "deg", "el_deg": "deg", "el_unrefracted_deg": "deg",
          "range_km": "km", "range_rate_km_s": "km / s", "raw_az_deg": "deg",
          "raw_el_deg": "deg", "az_rate_deg_s": "deg / s", "el_rate_deg_s": "deg / s",
          "az_accel_deg_s2": "deg / s2", "el_accel_deg_s2": "deg / s2", "hwp_deg": "deg"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.datetime64):
        return iso(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return round(value, 9) if math.isfinite(value) else None
    return value


def load_trajectory(path: str | Path) -> Trajectory:
    """Read a trajectory ECSV written by :meth:`Trajectory.write_ecsv`.

    Raises
    ------
    FileFormatError
        Unreadable file or missing columns.
    """
    from astropy.table import Table

    path = Path(path)
    try:
        t = Table.read(path, format="ascii.ecsv")
    except (OSError, ValueError) as exc:
        raise FileFormatError(path, None, f"cannot read trajectory ECSV: {exc}") from None
    missing = [c for c in ("time", "t_s", *_UNITS, "sunlit", "on_track") if c not in t.colnames]
    if missing:
        raise FileFormatError(path, None, f"trajectory lacks columns {', '.join(missing)}")
    r = np.radians
    col = lambda n: np.asarray(t[n], dtype=float)  # noqa: E731
    meta = dict(t.meta.get("ogs_trajectory", {}))
    return Trajectory(
        utc=np.array([np.datetime64(s) for s in t["time"]], dtype="datetime64[us]"),
        t_s=col("t_s"), az_rad=r(col("az_deg")), el_rad=r(col("el_deg")),
        el_unrefracted_rad=r(col("el_unrefracted_deg")), range_km=col("range_km"),
        range_rate_km_s=col("range_rate_km_s"), sunlit=np.asarray(t["sunlit"], dtype=bool),
        raw_az_rad=r(col("raw_az_deg")), raw_el_rad=r(col("raw_el_deg")),
        az_rate_rad_s=r(col("az_rate_deg_s")), el_rate_rad_s=r(col("el_rate_deg_s")),
        az_accel_rad_s2=r(col("az_accel_deg_s2")), el_accel_rad_s2=r(col("el_accel_deg_s2")),
        on_track=np.asarray(t["on_track"], dtype=bool), hwp_deg=col("hwp_deg"), meta=meta,
    )


# -- planning -------------------------------------------------------------------
@dataclass(frozen=True)
class _Axis:
    vmax: float  # rad/s
    amax: float  # rad/s²


def _axes(mount) -> tuple[_Axis, _Axis]:
    return (_Axis(mount.az_speed_deg_s * _DEG, mount.az_accel_deg_s2 * _DEG),
            _Axis(mount.el_speed_deg_s * _DEG, mount.el_accel_deg_s2 * _DEG))


def _derivatives(p: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    if p.size < 3:
        return np.zeros_like(p), np.zeros_like(p)
    v = np.gradient(p, h)
    return v, np.gradient(v, h)


def _infeasible(az: np.ndarray, el: np.ndarray, h: float, axes, mount) -> np.ndarray:
    """Samples where the demand breaks a speed, acceleration or elevation limit."""
    bad = (el < mount.el_min_deg * _DEG - 1e-9) | (el > mount.el_max_deg * _DEG + 1e-9)
    for p, ax in zip((az, el), axes, strict=True):
        v, a = _derivatives(p, h)
        bad |= (np.abs(v) > ax.vmax * _RATE_MARGIN) | (np.abs(a) > ax.amax * _RATE_MARGIN)
        jump = np.abs(np.diff(p)) > ax.vmax * h
        bad[:-1] |= jump
        bad[1:] |= jump
    return bad


def _profile(p0: float, v0: float, p1: float, v1: float, T: float, ax: _Axis,
             tau: np.ndarray) -> np.ndarray | None:
    """Accelerate–coast–decelerate from (p0, v0) to (p1, v1) in time T, or None.

    The coast velocity is found by bisection; both limits are respected.
    """
    a, vmax = ax.amax * _RATE_MARGIN * 0.97, ax.vmax * _RATE_MARGIN * 0.99
    if abs(v0) > vmax or abs(v1) > vmax or abs(v1 - v0) > a * T:
        return None

    def dist(vc: float) -> float:
        t1, t2 = abs(vc - v0) / a, abs(vc - v1) / a
        return 0.5 * (v0 + vc) * t1 + vc * (T - t1 - t2) + 0.5 * (vc + v1) * t2

    lo = max(-vmax, 0.5 * (v0 + v1 - a * T))
    hi = min(vmax, 0.5 * (v0 + v1 + a * T))
    d = p1 - p0
    if lo > hi or not dist(lo) - 1e-12 <= d <= dist(hi) + 1e-12:
        return None
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if dist(mid) < d else (lo, mid)
    vc = 0.5 * (lo + hi)
    t1, t2 = abs(vc - v0) / a, abs(vc - v1) / a
    s1, s2 = np.sign(vc - v0), np.sign(v1 - vc)
    x1 = v0 * t1 + 0.5 * s1 * a * t1 * t1
    tc = T - t1 - t2
    x2 = x1 + vc * tc
    u = np.clip(tau - t1 - tc, 0.0, t2)
    coast = x1 + vc * (tau - t1)
    last = x2 + vc * u + 0.5 * s2 * a * u * u
    out = np.where(tau < t1, v0 * tau + 0.5 * s1 * a * tau * tau,
                   np.where(tau < t1 + tc, coast, last))
    return p0 + out


def _brake(p0: float, v0: float, ax: _Axis, tau: np.ndarray) -> np.ndarray:
    """Decelerate from (p0, v0) to rest at the acceleration limit, then hold."""
    a = ax.amax * _RATE_MARGIN * 0.97
    ts = abs(v0) / a
    tt = np.minimum(tau, ts)
    return p0 + v0 * tt - 0.5 * np.sign(v0) * a * tt * tt


def _try_bridge(t, paths, vels, axes, ia, ib):
    T = t[ib] - t[ia]
    tau = t[ia:ib + 1] - t[ia]
    out = []
    for p, v, ax in zip(paths, vels, axes, strict=True):
        prof = _profile(p[ia], v[ia], p[ib], v[ib], T, ax, tau)
        if prof is None:
            return None
        out.append(prof)
    return out


def _bridge_segment(t, paths, axes, i0, i1, bad, lo_limit):
    """Smallest [ia, ib] around [i0, i1] that a limited bridge can cross; fills it in."""
    n = t.size
    h = t[1] - t[0]
    vels = [_derivatives(p, h)[0] for p in paths]
    step = max(1, round(0.1 / h))
    ia, ib = i0 - 1, i1 + 1
    while True:
        while ia > lo_limit and bad[ia]:
            ia -= 1
        while ib < n - 1 and bad[ib]:
            ib += 1
        if ia <= lo_limit and lo_limit >= 0:
            return None  # runs into the previous bridge: the caller merges the two
        if ia <= lo_limit or ib >= n - 1:
            return _bridge_open_end(t, paths, vels, axes, max(ia, lo_limit), min(ib, n - 1),
                                    at_start=ia <= lo_limit, at_end=ib >= n - 1)
        fill = _try_bridge(t, paths, vels, axes, ia, ib)
        if fill is not None:
            break
        ia, ib = ia - step, ib + step
    # shrink each side while the bridge still works
    for side in (0, 1):
        while True:
            ja, jb = (ia + step, ib) if side == 0 else (ia, ib - step)
            if ja > i0 - 1 or jb < i1 + 1 or bad[ja] or bad[jb]:
                break
            trial = _try_bridge(t, paths, vels, axes, ja, jb)
            if trial is None:
                break
            ia, ib, fill = ja, jb, trial
    for p, f in zip(paths, fill, strict=True):
        p[ia:ib + 1] = f
    return ia, ib


def _bridge_open_end(t, paths, vels, axes, ia, ib, at_start, at_end):
    """No rejoin possible before an end of the pass: brake and hold (or wait, at the start)."""
    n = t.size
    if at_end and not at_start:
        tau = t[ia:] - t[ia]
        for p, v, ax in zip(paths, vels, axes, strict=True):
            p[ia:] = _brake(p[ia], v[ia], ax, tau)
        return ia, n - 1
    if at_start and not at_end:
        tau = t[ib] - t[:ib + 1]  # backwards in time from the rejoin point
        for p, v, ax in zip(paths, vels, axes, strict=True):
            p[:ib + 1] = _brake(p[ib], -v[ib], ax, tau)
        return 0, ib
    for p in paths:
        p[:] = p[0]
    return 0, n - 1


def _plan_demand(t, az, el, axes, mount):
    """Bridge every unfollowable part of a demand; returns (az, el, gaps as index pairs)."""
    h = t[1] - t[0] if t.size > 1 else 1.0
    paths = [az.copy(), el.copy()]
    done = np.zeros(t.size, dtype=bool)
    gaps: list[tuple[int, int]] = []
    lo_limit = -1
    for _ in range(100):
        bad = _infeasible(paths[0], paths[1], h, axes, mount) & ~done
        idx = np.flatnonzero(bad)
        if idx.size == 0:
            break
        i0 = int(idx[0])
        run_end = np.flatnonzero(~bad[i0:])
        i1 = i0 + (int(run_end[0]) - 1 if run_end.size else t.size - 1 - i0)
        span = _bridge_segment(t, paths, axes, i0, i1, bad, lo_limit)
        while span is None:  # merge with the previous bridge and try again
            i0 = gaps.pop()[0] + 1
            lo_limit = gaps[-1][1] if gaps else -1
            bad[i0:i1 + 1] = True
            span = _bridge_segment(t, paths, axes, i0, i1, bad, lo_limit)
        ia, ib = span
        gaps.append((ia, ib))
        done[ia:ib + 1] = True
        lo_limit = ib
    return paths[0], paths[1], gaps


def _gap_reason(az, el, sat_el, flipped, ia, ib, mount, h) -> str:
    """Why the demand between samples ia and ib cannot be followed (original demand)."""
    seg = slice(max(ia, 0), ib + 1)
    parts = []
    for name, p, lim_v, lim_a in (("azimuth", az, mount.az_speed_deg_s, mount.az_accel_deg_s2),
                                  ("elevation", el, mount.el_speed_deg_s,
                                   mount.el_accel_deg_s2)):
        vm = math.degrees(np.max(np.abs(np.diff(p[seg])))) / h if ib > ia else 0.0
        am = math.degrees(np.max(np.abs(_derivatives(p, h)[1][seg])))
        if vm > lim_v * _RATE_MARGIN:
            parts.append(f"{name} rate {vm:.1f} deg/s needed (limit {lim_v:g})")
        elif am > lim_a * _RATE_MARGIN:
            parts.append(f"{name} acceleration {am:.1f} deg/s2 needed (limit {lim_a:g})")
    if np.any(np.diff(flipped[seg].astype(int))):
        parts.append("the demand changes between the over-the-top and the normal side")
    lo, hi = mount.el_min_deg * _DEG, mount.el_max_deg * _DEG
    if np.any(el[seg] > hi) or np.any(el[seg] < lo):
        parts.append(f"elevation outside {mount.el_min_deg:g} .. {mount.el_max_deg:g} deg")
    where = f"satellite up to {math.degrees(np.max(sat_el[seg])):.2f} deg elevation"
    return "; ".join(parts or ["mount limits"]) + f" ({where})"


def _branch_options(el: np.ndarray, mount) -> list[tuple[str, np.ndarray]]:
    """Normal side, and over the top after / before culmination where the mount reaches."""
    options = [("flip", np.zeros(el.size, dtype=bool))]
    cap = math.pi - mount.el_max_deg * _DEG  # over the top reaches elevations above this
    if mount.el_max_deg > 90.0 and el.max() > cap:
        k = int(np.argmax(el))
        high = el > cap
        after, before = high.copy(), high.copy()
        after[:k + 1], before[k + 1:] = False, False
        options.append(("over_the_top", after))
        options.append(("over_the_top_early", before))
    return options


def _raw_demand(model, az: np.ndarray, el: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if model is None:
        return az.copy(), el.copy()
    a, e = model.raw_from_true(az, el)
    return np.asarray(a, dtype=float), np.asarray(e, dtype=float)


def _evaluate(t, az, el, flipped, model, axes, mount):
    """One candidate: the demand on its side of the zenith, through the model, bridged."""
    a_true = np.unwrap(np.where(flipped, az + math.pi, az))
    e_true = np.where(flipped, math.pi - el, el)
    raw_az, raw_el = _raw_demand(model, a_true, e_true)
    raw_az = np.unwrap(raw_az)
    bridged_az, bridged_el, gaps = _plan_demand(t, raw_az, raw_el, axes, mount)
    return raw_az, raw_el, bridged_az, bridged_el, gaps


def _choose_wrap(raw_az: np.ndarray, mount, park_az_deg: float) -> int | None:
    lo, hi = mount.az_min_deg * _DEG, mount.az_max_deg * _DEG
    fits = [k for k in range(-3, 4)
            if raw_az.min() + 2 * math.pi * k >= lo - 1e-9
            and raw_az.max() + 2 * math.pi * k <= hi + 1e-9]
    if not fits:
        return None
    return min(fits, key=lambda k: abs(raw_az[0] + 2 * math.pi * k - park_az_deg * _DEG))


def plan_pass(t: np.ndarray, az: np.ndarray, el: np.ndarray, mount, model=None,
              park_az_deg: float = 0.0, utc: np.ndarray | None = None):
    """Plan the wrap and the keyhole for a sampled track.

    Parameters
    ----------
    t : ndarray
        Uniform sample times, s.
    az, el : ndarray
        Observed azimuth and elevation of the satellite, rad.
    mount : pointing.station.Mount
    model : PointingModel, optional
    park_az_deg : float
        Where the mount waits (the wrap turn nearest to it is preferred).

    Returns
    -------
    plan : Plan
    raw_az, raw_el : ndarray
        The demands (rad), on the chosen wrap turn.
    on_track : ndarray of bool
    """
    axes = _axes(mount)
    h = t[1] - t[0] if t.size > 1 else 1.0
    results = []
    for name, flipped in _branch_options(el, mount):
        raw_az, raw_el, baz, bel, gaps = _evaluate(t, az, el, flipped, model, axes, mount)
        k = _choose_wrap(baz, mount, park_az_deg)
        lost = sum(t[b] - t[a] for a, b in gaps)
        peak = float(np.max(np.abs(_derivatives(baz, h)[0]))) if t.size > 2 else 0.0
        results.append(dict(name=name, flipped=flipped, raw=(raw_az, raw_el), demand=(baz, bel),
                            gaps=gaps, wrap=k, lost=lost, peak=peak))
    usable = [r for r in results if r["wrap"] is not None]
    if not usable:
        span = math.degrees(np.ptp(results[0]["demand"][0]))
        raise PointingError(f"the pass needs {span:.0f} deg of azimuth travel, more than the "
                            f"cable wrap allows ({mount.az_min_deg:g} .. {mount.az_max_deg:g})")
    best = min(usable, key=lambda r: (round(r["lost"], 3), r["peak"]))
    shift = 2 * math.pi * best["wrap"]
    raw_az, raw_el = best["demand"][0] + shift, best["demand"][1]
    on_track = np.ones(t.size, dtype=bool)
    stamps = utc if utc is not None else t.astype("datetime64[s]")
    gaps = []
    for a, b in best["gaps"]:
        on_track[a:b + 1] = False
        reason = _gap_reason(best["raw"][0], best["raw"][1], el, best["flipped"], a, b, mount,
                             h)
        gaps.append(Gap(float(t[a]), float(t[b]), iso(stamps[a]), iso(stamps[b]), reason))
    keyhole = best["name"] if (best["name"] != "flip" or best["gaps"]
                               or any(r["name"] != "flip" for r in results)) else "none"
    i0 = int(np.argmax(on_track)) if on_track.any() else 0  # the first followed sample
    plan = Plan(
        keyhole=keyhole if keyhole != "over_the_top_early" else "over_the_top",
        wrap_turns=int(best["wrap"]), gaps=gaps, start_utc=iso(stamps[i0]),
        start_raw_az_deg=math.degrees(raw_az[i0]), start_raw_el_deg=math.degrees(raw_el[i0]),
        az_range_deg=(math.degrees(raw_az.min()), math.degrees(raw_az.max())),
        candidates=[dict(keyhole=r["name"], lost_s=round(float(r["lost"]), 3),
                         peak_az_rate_deg_s=round(math.degrees(r["peak"]), 3),
                         wrap_turns=r["wrap"], chosen=r is best) for r in results],
    )
    return plan, raw_az, raw_el, on_track


def pass_trajectory(station, satellite: Satellite, pass_: Pass, model=None,
                    step_s: float = 0.1, *, polarisation: SourcePolarisation | None = None,
                    park_az_deg: float = 0.0, refraction: bool = True,
                    apparent: bool = True) -> Trajectory:
    """Sample a pass for the mount, with the pointing model applied and the pass planned.

    Parameters
    ----------
    station : pointing.station.Station
    satellite : Satellite
    pass_ : Pass
        From :func:`~pointing.passes.predict.predict_passes`.
    model : PointingModel, optional
        The night's model (default: none, raw = true).
    step_s : float
        Sample interval, s (0.01 .. 10).
    polarisation : SourcePolarisation, optional
        The satellite's polarisation reference (default: along-track, 0°).
    park_az_deg : float
        Where the mount waits; the cable-wrap turn starting nearest is chosen.

    Raises
    ------
    PointingError
        Bad step, or a pass the cable wrap cannot hold.
    """
    if not (math.isfinite(step_s) and 0.01 <= step_s <= 10.0):
        raise PointingError(f"--step {step_s:g}: must be 0.01 .. 10 s")
    rise = float(datetime64_to_jd(pass_.rise))
    span = float(datetime64_to_jd(pass_.set) - rise) * 86400.0
    n = math.floor(span / step_s + 1e-9) + 1
    t = np.arange(n) * step_s
    tc = TrackComputer(station, satellite, rise, span, refraction=refraction, apparent=apparent)
    tr = tc.track(t)
    utc = jd_to_datetime64(rise) + np.round(t * 1e6).astype("int64").astype("timedelta64[us]")
    plan, raw_az, raw_el, on_track = plan_pass(t, tr.az, tr.el, station.mount, model,
                                               park_az_deg, utc)
    az_v, az_a = _derivatives(raw_az, step_s)
    el_v, el_a = _derivatives(raw_el, step_s)
    pol = polarisation or SourcePolarisation()
    hwp = hwp_angles(tr, tc, pol)
    meta = {
        "station": station.name, "satellite": satellite.label,
        "catalog_number": satellite.catalog_number, "elements": list(satellite.lines),
        "elements_source": satellite.source, "elements_epoch": satellite.epoch_iso + "Z",
        "pass": pass_.to_dict(), "step_s": step_s,
        "model": None if model is None else {"terms": list(model.spellings),
                                             "values_arcsec": list(model.values.values())},
        "refraction": {"pressure_hpa": station.weather.pressure_hpa if refraction else 0.0,
                       "temperature_c": station.weather.temperature_c,
                       "humidity": station.weather.humidity,
                       "wavelength_um": station.wavelengths.quantum_um},
        "mount_limits": {k: getattr(station.mount, k) for k in station.mount.__dataclass_fields__},
        "polarisation": pol.to_dict(),
        "conventions": "azimuth from north (0) through east (90 deg); UTC; raw elevation "
                       "above 90 deg = over the top",
    }
    return Trajectory(
        utc=utc, t_s=t, az_rad=tr.az, el_rad=tr.el, el_unrefracted_rad=tr.el_unrefracted,
        range_km=tr.range_km, range_rate_km_s=tr.range_rate_km_s, sunlit=tr.sunlit,
        raw_az_rad=raw_az, raw_el_rad=raw_el, az_rate_rad_s=az_v, el_rate_rad_s=el_v,
        az_accel_rad_s2=az_a, el_accel_rad_s2=el_a, on_track=on_track, hwp_deg=hwp,
        meta=meta, plan=plan,
    )
