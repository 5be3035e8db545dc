"""Figures for star selection (one function per figure, PNG via matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_sky_selection"]


def plot_sky_selection(selection: Any, path: str | Path) -> Path:
    """Polar sky chart of a :class:`~pointing.sky.select.StarSelection`.

    North up, east left: the sky as seen from below, looking up.  The radius
    is the zenith distance (zenith at the centre, horizon at the edge).  The
    chosen stars are labelled in slew order and joined by the mount's path
    (azimuth and elevation moving together, on the cable-wrap side chosen);
    the Moon and the elevation limits are drawn.  Returns the PNG path.
    """
    path = Path(path)
    sel = selection
    crit = sel.criteria
    stars = sel.stars
    fig = plt.figure(figsize=(8.0, 8.0))
    ax = fig.add_axes((0.08, 0.17, 0.68, 0.68), projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)  # counter-clockwise: east (90 deg) on the left
    ax.set_rlim(0, 90)
    ax.set_rticks([15, 30, 45, 60, 75, 90])
    ax.set_yticklabels([f"{90 - r}°" for r in (15, 30, 45, 60, 75, 90)], fontsize=7)
    ax.set_rlabel_position(202.5)
    ax.set_xticks(np.radians(np.arange(0, 360, 45)))
    ax.set_xticklabels(["N", "NE", "E", "SE", "S", "SW", "W", "NW"])

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
    cb = fig.colorbar(sc, cax=fig.add_axes((0.86, 0.3, 0.025, 0.42)))
    cb.set_label("Cousins I magnitude (mag)")

    moon_text = f"Moon az {sel.moon_az_deg:.0f}°, el {sel.moon_el_deg:.0f}°"
    if sel.moon_el_deg > 0:
        ax.scatter([np.radians(sel.moon_az_deg)], [90 - sel.moon_el_deg], s=220, c="gold",
                   edgecolors="k", zorder=5, label="Moon")
        circle = np.radians(crit.get("moon_min_sep_deg", 30.0))
        _moon_circle(ax, np.radians(sel.moon_az_deg), np.radians(sel.moon_el_deg), circle)
    else:
        moon_text += " (below the horizon)"

    local = sel.start + sel.station.utc_offset_h * 3600.0 * _seconds()
    ax.set_title(
        f"{sel.station.name}: {len(stars)} calibration stars from "
        f"{sel.start.utc.iso[:16]} UTC ({local.utc.iso[11:16]} local)\n"
        "north up, east left (the sky seen from below); rings labelled in elevation",
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _seconds():
    from astropy import units as u

    return u.s


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
