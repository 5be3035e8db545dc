"""Figures for a satellite pass (:class:`pointing.passes.Trajectory`).

Every function takes ``(trajectory, path=None, ax=None)``, returns the
Figure and writes a PNG when ``path`` is given.  The sky chart follows
:mod:`pointing.plots.sky`: north up, east to the left (the sky seen from
below), radius = zenith distance, rings labelled in elevation.
:func:`plot_pass_overview` puts them all on one page (``pointing pass --plot``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pointing.plots.figure import save

__all__ = ["plot_hwp", "plot_pass_accelerations", "plot_pass_angles", "plot_pass_overview",
           "plot_pass_range", "plot_pass_rates", "plot_pass_sky"]


def _axes(ax, polar: bool = False, size=(7.0, 4.0)):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.add_subplot(projection="polar" if polar else None)


def _minutes(traj) -> np.ndarray:
    return traj.t_s / 60.0


def _title(traj) -> str:
    m = traj.meta
    p = m.get("pass", {})
    return (f"{m.get('satellite', '')} over {m.get('station', '')}, pass {p.get('number', '')}"
            f" (max {p.get('max_el_deg', float('nan')):.1f}°)")


def _shade_gaps(ax, traj) -> None:
    if traj.plan is None:
        return
    for i, g in enumerate(traj.plan.gaps):
        ax.axvspan(g.start_s / 60.0, g.end_s / 60.0, color="tab:red", alpha=0.15,
                   label="not followed" if i == 0 else None)


def plot_pass_sky(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """The pass on the polar sky chart, with the keyhole, the limits and the gaps."""
    fig, ax = _axes(ax, polar=True, size=(6.5, 6.5))
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)  # counter-clockwise: east on the left, as in plots_sky
    ax.set_rlim(0, 90)
    ticks = [15, 30, 45, 60, 75, 90]
    ax.set_rticks(ticks)
    ax.set_yticklabels([f"{90 - r}°" for r in ticks], fontsize=7)
    ax.set_rlabel_position(202.5)
    ax.set_xticks(np.radians(np.arange(0, 360, 45)))
    ax.set_xticklabels(["N", "NE", "E", "SE", "S", "SW", "W", "NW"])
    theta = np.linspace(0, 2 * np.pi, 361)
    limits = traj.meta.get("mount_limits", {})
    el_max = float(limits.get("el_max_deg", 93.0))
    cap = el_max - 90.0 if el_max > 90 else 3.0  # over the top reaches this zenith distance
    ax.fill_between(theta, 0, cap, color="0.7", zorder=0,
                    label=f"keyhole: within {cap:.0f}° of the zenith (over-the-top reach)")
    p = traj.meta.get("pass", {})
    min_el = float(p.get("min_el_deg", 10.0))
    ax.fill_between(theta, 90 - min_el, 90, color="0.88", zorder=0,
                    label=f"below {min_el:g}° (pass limit)")
    q = float(p.get("qkd_min_el_deg", 20.0))
    ax.plot(theta, np.full(theta.shape, 90 - q), color="0.5", ls=":", lw=1,
            label=f"{q:g}° quantum threshold")
    az, zd = traj.az_rad, 90.0 - np.degrees(traj.el_rad)
    ax.plot(az, zd, color="tab:blue", lw=1.5, label="satellite track")
    off = ~traj.on_track
    if np.any(off):
        ax.plot(np.where(off, az, np.nan), np.where(off, zd, np.nan), color="tab:red", lw=3,
                label="cannot be followed")
    dark = ~traj.sunlit
    ax.scatter(az[::50][dark[::50]], zd[::50][dark[::50]], s=6, c="k", zorder=3,
               label="satellite in Earth's shadow")
    ax.scatter([az[0]], [zd[0]], marker="o", s=50, c="tab:green", zorder=4,
               label="start: wait here")
    ax.scatter([az[-1]], [zd[-1]], marker="s", s=30, c="tab:purple", zorder=4, label="set")
    plan = traj.plan
    note = ""
    if plan is not None:
        note = (f"keyhole plan: {plan.keyhole}, wrap turn {plan.wrap_turns:+d}, "
                f"lost {plan.lost_s:.1f} s")
    ax.set_title(_title(traj) + "\nnorth up, east left; rings labelled in elevation\n" + note,
                 fontsize=8, y=1.06)
    ax.legend(loc="upper left", bbox_to_anchor=(-0.12, -0.06), fontsize=6, ncol=2,
              frameon=False)
    return save(fig, path)


def _limit_lines(ax, value: float, label: str) -> None:
    ax.axhline(value, color="tab:red", ls="--", lw=0.8, label=label)
    ax.axhline(-value, color="tab:red", ls="--", lw=0.8)


def plot_pass_angles(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """Raw azimuth and elevation demands against time, with the mount's ranges."""
    fig, ax = _axes(ax)
    lim = traj.meta.get("mount_limits", {})
    x = _minutes(traj)
    ax.plot(x, np.degrees(traj.raw_az_rad), color="tab:blue", label="raw azimuth")
    ax.plot(x, np.degrees(traj.raw_el_rad), color="tab:orange", label="raw elevation")
    for key, c in (("az_min_deg", "tab:blue"), ("az_max_deg", "tab:blue"),
                   ("el_max_deg", "tab:orange")):
        if key in lim:
            ax.axhline(lim[key], color=c, ls="--", lw=0.7)
    _shade_gaps(ax, traj)
    ax.set_xlabel("time from the first sample (min)")
    ax.set_ylabel("axis angle (deg)")
    span = np.ptp(np.degrees(traj.raw_az_rad))
    ax.set_title(f"axis demands; azimuth travel {span:.1f}° (dashed: mount range)", fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, path)


def _plot_pair(traj, path, ax, az, el, unit, lim_keys, what) -> Figure:
    fig, ax = _axes(ax)
    lim = traj.meta.get("mount_limits", {})
    x = _minutes(traj)
    ax.plot(x, np.degrees(az), color="tab:blue", label=f"azimuth {what}")
    ax.plot(x, np.degrees(el), color="tab:orange", label=f"elevation {what}")
    for key, c in zip(lim_keys, ("tab:blue", "tab:orange"), strict=True):
        if key in lim:
            ax.axhline(lim[key], color=c, ls="--", lw=0.8)
            ax.axhline(-lim[key], color=c, ls="--", lw=0.8)
    _shade_gaps(ax, traj)
    peak_a, peak_e = np.max(np.abs(np.degrees(az))), np.max(np.abs(np.degrees(el)))
    ax.set_title(f"{what} (dashed: limits): peak az {peak_a:.2f}, el {peak_e:.2f} {unit}",
                 fontsize=9)
    ax.set_xlabel("time from the first sample (min)")
    ax.set_ylabel(f"{what} ({unit})")
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_pass_rates(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """Axis rates of the raw demands against time, with the speed limits."""
    return _plot_pair(traj, path, ax, traj.az_rate_rad_s, traj.el_rate_rad_s, "deg/s",
                      ("az_speed_deg_s", "el_speed_deg_s"), "rate")


def plot_pass_accelerations(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """Axis accelerations of the raw demands against time, with the limits."""
    return _plot_pair(traj, path, ax, traj.az_accel_rad_s2, traj.el_accel_rad_s2, "deg/s²",
                      ("az_accel_deg_s2", "el_accel_deg_s2"), "acceleration")


def plot_pass_range(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """Range and elevation against time (elevation on the right-hand axis)."""
    fig, ax = _axes(ax)
    x = _minutes(traj)
    ax.plot(x, traj.range_km, color="tab:green", label="range")
    ax.set_xlabel("time from the first sample (min)")
    ax.set_ylabel("range (km)", color="tab:green")
    ax2 = ax.twinx()
    ax2.plot(x, np.degrees(traj.el_rad), color="tab:orange", label="elevation (observed)")
    ax2.set_ylabel("elevation (deg)", color="tab:orange")
    _shade_gaps(ax, traj)
    ax.set_title(f"range {traj.range_km.min():.0f} – {traj.range_km.max():.0f} km; "
                 f"max elevation {np.degrees(traj.el_rad.max()):.1f}°", fontsize=9)
    return save(fig, path)


def plot_hwp(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """Half-wave-plate angle against time."""
    fig, ax = _axes(ax)
    x = _minutes(traj)
    ax.plot(x, traj.hwp_deg, color="tab:purple")
    _shade_gaps(ax, traj)  # where the mount is off the track the angle is the track's
    pol = traj.meta.get("polarisation", {})
    rate = np.nanmax(np.abs(np.gradient(traj.hwp_deg, traj.t_s))) if len(traj) > 2 else 0.0
    ax.set_title(f"HWP ({pol.get('axis', '?')} {pol.get('offset_deg', 0):+g}°): "
                 f"{np.nanmin(traj.hwp_deg):.1f} – {np.nanmax(traj.hwp_deg):.1f}°, "
                 f"peak {rate:.2f}°/s", fontsize=9)
    ax.set_xlabel("time from the first sample (min)")
    ax.set_ylabel("HWP fast-axis angle (deg)")
    return save(fig, path)


def plot_pass_overview(traj: Any, path: str | Path | None = None, ax=None) -> Figure:
    """All the pass figures on one page (``ax`` is ignored: the page is its own)."""
    fig = Figure(figsize=(15.0, 10.0))
    grid = fig.add_gridspec(3, 3, hspace=0.55, wspace=0.35)
    plot_pass_sky(traj, ax=fig.add_subplot(grid[0:2, 0], projection="polar"))
    plot_pass_angles(traj, ax=fig.add_subplot(grid[0, 1]))
    plot_pass_rates(traj, ax=fig.add_subplot(grid[1, 1]))
    plot_pass_accelerations(traj, ax=fig.add_subplot(grid[2, 1]))
    plot_pass_range(traj, ax=fig.add_subplot(grid[0, 2]))
    plot_hwp(traj, ax=fig.add_subplot(grid[1, 2]))
    text = fig.add_subplot(grid[2, 2])
    text.axis("off")
    text.text(0.0, 1.0, _summary_text(traj), va="top", fontsize=8, family="monospace")
    fig.suptitle(_title(traj), fontsize=11)
    return save(fig, path)


def _summary_text(traj) -> str:
    p = traj.meta.get("pass", {})
    lines = [f"rise {p.get('rise')}", f"set  {p.get('set')}",
             f"above {p.get('qkd_min_el_deg', 20):g}°: {p.get('duration_above_20_s', 0):.0f} s",
             f"usable (dark, shadow): {p.get('usable_s', 0):.0f} s",
             f"QKD possible: {p.get('qkd_possible')}"]
    if traj.plan is not None:
        pl = traj.plan
        lines += [f"start: raw az {pl.start_raw_az_deg:.3f}°, el {pl.start_raw_el_deg:.3f}°",
                  f"       at {pl.start_utc}", f"keyhole: {pl.keyhole}, lost {pl.lost_s:.1f} s"]
        lines += [f"gap {g.start_s:.1f}-{g.end_s:.1f} s" for g in pl.gaps[:4]]
    return "\n".join(lines)
