"""Sky charts: the one convention every polar figure of the toolkit uses, and the
star-selection and sky-coverage charts.

The convention (:func:`sky_chart`): **north up, east to the LEFT** (the sky as
seen from below, looking up), radius = zenith distance (zenith at the centre,
horizon at the rim), rings labelled with the *elevation* they mark
("el 60°" on the ring 30° from the zenith).  Every polar figure calls
:func:`sky_chart` on its axes and says so on the figure
(:data:`SKY_CHART_CONVENTION`).  Plot functions take ``(result, path=None,
ax=None)`` and return the Figure; no backend is switched here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u

from pointing.plots.figure import new_figure, save

__all__ = ["SKY_CHART_CONVENTION", "plot_sky_coverage", "plot_sky_selection", "sky_chart",
           "zenith_distance"]

#: written on every polar figure
SKY_CHART_CONVENTION = ("N up, E left (sky seen from below); "
                        "radius = zenith distance, rings labelled with elevation")


def zenith_distance(el_deg: Any) -> Any:
    """The chart radius of an elevation (degrees): 90° − el."""
    return 90.0 - np.asarray(el_deg, dtype=float)


def sky_chart(ax: Any, *, rings_el_deg: tuple[float, ...] = (75, 60, 45, 30, 15, 0),
              compass: int = 8, fontsize: float = 7, note: bool = True) -> Any:
    """Set a polar axes to the toolkit's sky-chart convention; returns the axes.

    Plot on it with ``theta`` = azimuth (radians, north 0, east π/2) and
    ``r`` = :func:`zenith_distance` of the elevation.  ``note`` writes
    :data:`SKY_CHART_CONVENTION` under the chart.
    """
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)  # counter-clockwise: east (90°) on the left, seen from below
    ax.set_rlim(0, 90)
    ax.set_rticks([90 - e for e in rings_el_deg])
    ax.set_yticklabels([f"el {e:g}°" for e in rings_el_deg], fontsize=fontsize)
    ax.set_rlabel_position(202.5)
    names = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"] if compass == 8 else ["N", "E", "S", "W"]
    ax.set_xticks(np.radians(np.arange(0, 360, 360 / len(names))))
    ax.set_xticklabels(names)
    if note:
        ax.text(0.5, -0.1, SKY_CHART_CONVENTION, transform=ax.transAxes, ha="center",
                va="top", fontsize=fontsize, color="0.3")
    return ax


def plot_sky_coverage(records: list[dict[str, Any]], path: str | Path | None = None,
                      ax: Any = None, *, station: str = "") -> Any:
    """Where the night pointed: zero star, model and verification stars, sky grid.

    *records* are the night's observation records (``kind``, ``status``,
    ``az_deg``, ``el_deg``); skipped ones are counted in the legend.
    """
    if ax is None:
        fig = new_figure((6.5, 6.8))
        ax = fig.add_subplot(projection="polar")
    fig = ax.figure
    sky_chart(ax, rings_el_deg=(60, 30, 0), note=False)
    styles = {"zero": ("*", "tab:red", "zero offsets"), "model": ("o", "tab:blue", "model"),
              "verify": ("s", "tab:green", "verification"),
              "background": ("x", "0.5", "background grid")}
    for kind, (marker, color, label) in styles.items():
        rows = [r for r in records if r["kind"] == kind and r.get("az_deg") is not None
                and r["status"] == "ok"]
        if rows:
            ax.scatter(np.radians([r["az_deg"] for r in rows]),
                       zenith_distance([r["el_deg"] for r in rows]), marker=marker,
                       color=color, label=f"{label} ({len(rows)})", s=30)
        bad = [r for r in records if r["kind"] == kind and r["status"] != "ok"]
        if bad:
            ax.scatter([], [], marker=marker, facecolors="none", edgecolors=color,
                       label=f"{label} skipped ({len(bad)})")
    ax.set_title((f"{station}: " if station else "") + "sky coverage of the night\n"
                 + SKY_CHART_CONVENTION, fontsize=9)
    ax.legend(loc="lower left", bbox_to_anchor=(-0.1, -0.12), fontsize="small", ncol=2)
    save(fig, path)
    return fig


def plot_sky_selection(selection: Any, path: str | Path | None = None, ax: Any = None
                       ) -> Any:
    """Polar sky chart of a :class:`~pointing.sky.select.StarSelection`; returns the Figure.

    The sky-chart convention (:func:`sky_chart`).  The chosen stars are
    labelled in slew order and joined by the mount's path (azimuth and
    elevation moving together, on the cable-wrap side chosen); the Moon and the
    elevation limits are drawn.  Writes a PNG when *path* is given.
    """
    sel = selection
    crit = sel.criteria
    stars = sel.stars
    if ax is None:
        fig = new_figure((8.0, 8.0), layout=None)
        ax = fig.add_axes((0.08, 0.17, 0.68, 0.68), projection="polar")
    fig = ax.figure
    sky_chart(ax, note=False)

    # outside the elevation band: shaded
    theta = np.linspace(0, 2 * np.pi, 361)
    zmax = 90 - crit.get("el_min_deg", 20.0)
    zmin = 90 - crit.get("el_max_deg", 85.0)
    ax.fill_between(theta, zmax, 90, color="0.85", zorder=0,
                    label=f"below {crit.get('el_min_deg', 20.0):g}° elevation")
    ax.fill_between(theta, 0, zmin, color="0.7", zorder=0,
                    label=f"above {crit.get('el_max_deg', 85.0):g}° (az-axis keyhole)")

    # the path: mount azimuth and elevation interpolated together
    maz = np.radians(np.asarray(stars["mount_az"], dtype=float))
    el = np.asarray(stars["el"], dtype=float)
    az = np.radians(np.asarray(stars["az"], dtype=float))
    steps = np.linspace(0.0, 1.0, 40)
    for i in range(1, len(stars)):
        a = maz[i - 1] + (maz[i] - maz[i - 1]) * steps
        e = el[i - 1] + (el[i] - el[i - 1]) * steps
        ax.plot(a, 90 - e, color="tab:blue", lw=1.0, alpha=0.7,
                label="slew path" if i == 1 else None)
    imag = np.asarray(stars["imag"], dtype=float)
    sc = ax.scatter(az, 90 - el, c=imag, cmap="viridis_r", s=60 - 8 * imag, zorder=3,
                    edgecolors="k", linewidths=0.5)
    for i, row in enumerate(stars):
        ax.annotate(str(int(row["order"])), (az[i], 90 - el[i]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8, zorder=4)
    cb = fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.08)
    cb.set_label("Cousins I magnitude (mag)")

    moon_text = f"Moon az {sel.moon_az_deg:.0f}°, el {sel.moon_el_deg:.0f}°"
    if sel.moon_el_deg > 0:
        ax.scatter([np.radians(sel.moon_az_deg)], [90 - sel.moon_el_deg], s=220, c="gold",
                   edgecolors="k", zorder=5, label="Moon")
        circle = np.radians(crit.get("moon_min_sep_deg", 30.0))
        _moon_circle(ax, np.radians(sel.moon_az_deg), np.radians(sel.moon_el_deg), circle)
    else:
        moon_text += " (below the horizon)"

    local = sel.start + sel.station.utc_offset_h * u.hour
    ax.set_title(
        f"{sel.station.name}: {len(stars)} calibration stars from "
        f"{sel.start.utc.iso[:16]} UTC ({local.utc.iso[11:16]} local)\n"
        + SKY_CHART_CONVENTION,
        fontsize=9, y=1.08,
    )
    fig.text(
        0.02, 0.03,
        f"condition number ({' '.join(sel.terms)}): {sel.condition_number:.1f}    "
        f"closest pair: {sel.min_separation_deg:.1f}°\n"
        f"slew time {sel.slew_time_s:.0f} s (azimuth-sorted order: "
        f"{sel.naive_slew_time_s:.0f} s), dwell {sel.dwell_s:.0f} s per star    {moon_text}",
        fontsize=8,
    )
    fig.legend(loc="lower right", bbox_to_anchor=(0.99, 0.0), fontsize=7, frameon=False)
    save(fig, path)
    return fig


def _moon_circle(ax, az: float, el: float, radius: float) -> None:
    """Dashed circle of angular ``radius`` (rad) around the Moon, above the horizon."""
    t = np.linspace(0, 2 * np.pi, 181)
    # points at distance `radius` from (az, el) on the sphere
    se = np.sin(el) * np.cos(radius) + np.cos(el) * np.sin(radius) * np.cos(t)
    e = np.arcsin(np.clip(se, -1, 1))
    a = az + np.arctan2(np.sin(t) * np.sin(radius) * np.cos(el),
                        np.cos(radius) - np.sin(el) * se)
    z = 90 - np.degrees(e)
    z = np.where(z <= 90, z, np.nan)
    ax.plot(a, z, color="goldenrod", ls="--", lw=1, label=f"{np.degrees(radius):.0f}° from Moon")
