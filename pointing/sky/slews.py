"""Slews of an alt-az mount: axis move times and the order that minimises them.

:func:`slew_time` is the rest-to-rest time of one axis (trapezoidal velocity
profile); :class:`SlewPlanner` holds the slew costs between every star and
cable-wrap side; :func:`plan_slews` orders a set of stars to minimise the
total slew time with the station's axis speeds and accelerations, choosing the
cable-wrap side of each azimuth exactly (dynamic programming for an order).

Conventions: azimuth from north (0) through east (90°), degrees in and out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.errors import ConfigError

__all__ = ["SlewPlanner", "naive_order", "plan_slews", "slew_time"]




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


class SlewPlanner:
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


def _improve(planner: SlewPlanner, order: list[int]) -> tuple[float, list[int]]:
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
    mount : pointing.config.station.Mount
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
    planner = SlewPlanner(az, el, mount, start)
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
