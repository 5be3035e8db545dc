"""Figures of a tracked pass: the published Fig. 5 (errors against time) and the error spectrum.

Both take a :class:`~pointing.tracking.analysis.TrackingAnalysis` first,
``path=None`` and ``ax=None``, and return the Figure (PNG written when *path*
is given).  They build a bare :class:`matplotlib.figure.Figure` when no axes
are given, so no backend is selected or switched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pointing.plots.figure import save

__all__ = ["plot_tracking", "plot_tracking_spectrum"]


def _axes(ax: Any, size: tuple[float, float]):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _limits(result: Any) -> float:
    """Half-range of the error axis: the selected samples', else every seen sample's."""
    log, sel = result.log, result.selected
    r = np.hypot(log.x_urad, log.y_urad)
    pool = r[sel] if sel.any() else r[np.isfinite(r)]
    top = float(np.max(pool)) if pool.size else 1.0
    return 1.15 * max(top, 1e-3)


def plot_tracking(result: Any, path: str | Path | None = None, ax: Any = None) -> Figure:
    """Fig. 5: X (cross-elevation) and Y (elevation) errors in µrad against time.

    Elevation on a second axis; the selection (locked, el >= min) shaded; RMS
    per axis and total, time in the field and lock time written on the plot.
    The error axis is scaled to the selected samples: earlier, larger offsets
    (acquisition) run off the plot and the largest is written.
    """
    fig, ax = _axes(ax, (9.0, 4.8))
    log, sel = result.log, result.selected
    t = log.t_s
    seen = log.detected | log.locked
    ax.plot(t[seen], log.x_urad[seen], ".", ms=1.5, color="tab:blue", label="X (cross-el)")
    ax.plot(t[seen], log.y_urad[seen], ".", ms=1.5, color="tab:orange", label="Y (elevation)")
    lim = _limits(result)
    ax.set_ylim(-lim, lim)
    ax.axhline(0, color="0.6", lw=0.8)
    if sel.any():
        ax.axvspan(t[sel][0], t[sel][-1], color="tab:green", alpha=0.07, lw=0,
                   label=f"locked, el ≥ {result.min_el_deg:g}°")
    ax.set_xlabel(f"time since {log.t0[:19]} UTC (s)")
    ax.set_ylabel("tracking error (µrad)")
    ax2 = ax.twinx()
    ax2.plot(t, log.el_deg, color="0.35", lw=1.2, label="elevation")
    ax2.axhline(result.min_el_deg, color="0.35", lw=0.8, ls=":")
    ax2.set_ylabel("elevation (°)")
    ax2.set_ylim(0, 90)
    ax.text(0.01, 0.98, _summary(result), transform=ax.transAxes, va="top", ha="left",
            fontsize=9, family="monospace", bbox={"fc": "white", "ec": "0.7", "alpha": 0.85})
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower right", fontsize=8, markerscale=6)
    ax.set_title("Tracking errors against time")
    return save(fig, path)


def _summary(result: Any) -> str:
    if result.n_samples == 0:
        return f"no locked samples at el ≥ {result.min_el_deg:g}°"
    lines = [f"RMS X {result.rms_x_urad:.2f} µrad   Y {result.rms_y_urad:.2f} µrad   "
             f"total {result.rms_urad:.2f} µrad",
             f"in the {result.fov_urad:g} µrad field {100 * result.fraction_in_fov:.2f} %   "
             f"max {result.max_urad:.1f} µrad   n = {result.n_samples}"]
    if result.lock_time_s is not None:
        lines.append(f"lock {result.lock_time_s:.1f} s after acquisition")
    return "\n".join(lines)


def plot_tracking_spectrum(result: Any, path: str | Path | None = None,
                           ax: Any = None) -> Figure:
    """Welch PSDs of the X and Y errors (µrad²/Hz, log-log) with the corner frequencies marked."""
    fig, ax = _axes(ax, (6.4, 4.6))
    sp = result.spectrum
    if sp is None:
        ax.text(0.5, 0.5, "too few regular locked samples for a spectrum",
                transform=ax.transAxes, ha="center")
        return save(fig, path)
    f = sp.freq_hz[1:]
    ax.loglog(f, sp.psd_x[1:], color="tab:blue", lw=1, label="X (cross-el)")
    ax.loglog(f, sp.psd_y[1:], color="tab:orange", lw=1, label="Y (elevation)")
    for corner, color, name in ((sp.corner_x_hz, "tab:blue", "X"),
                                (sp.corner_y_hz, "tab:orange", "Y")):
        if corner is not None:
            ax.axvline(corner, color=color, ls="--", lw=0.9,
                       label=f"{name} corner {corner:.2f} Hz")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("error PSD (µrad²/Hz)")
    ax.set_title(f"Tracking error spectrum ({sp.n_samples} samples at "
                 f"{sp.sample_rate_hz:.4g} Hz)")
    ax.legend(fontsize=8)
    return save(fig, path)
