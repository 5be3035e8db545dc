"""Figures of the quantum link: the pass forecast (like the published pass figures).

:func:`plot_forecast` -- distance and link efficiency, sifted key rate, QBER
with the elevation, against time.  Takes the result, an optional PNG path and
optional axes (three, top to bottom); returns the figure.  No pyplot state:
figures are plain :class:`matplotlib.figure.Figure` objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pointing.plots.figure import save

__all__ = ["plot_forecast"]


def _shade(ax: Any, t: np.ndarray, usable: np.ndarray) -> None:
    if usable.any():
        ax.axvspan(t[usable].min(), t[usable].max(), color="tab:green", alpha=0.08, lw=0)


def plot_forecast(result: Any, path: str | Path | None = None, ax: Any = None) -> Any:
    """Forecast of a pass (:class:`pointing.link.forecast.PassForecast`)."""
    if ax is None:
        fig = Figure(figsize=(8.0, 9.0), constrained_layout=True)
        axes = fig.subplots(3, 1, sharex=True)
    else:
        axes = list(ax)
        if len(axes) != 3:
            raise ValueError("plot_forecast: ax must be three axes (top to bottom)")
        fig = axes[0].figure
    t, u = result.t_s, result.usable
    a1, a2, a3 = axes
    a1.plot(t, result.range_km, color="tab:blue")
    a1.set_ylabel("distance (km)", color="tab:blue")
    b1 = a1.twinx()
    b1.plot(t, result.efficiency_db, color="tab:red")
    b1.set_ylabel("link efficiency (dB)", color="tab:red")
    a2.plot(t, result.sifted_bps / 1e3, color="tab:purple")
    a2.set_ylabel("sifted key rate (kbit/s)")
    a2.text(0.02, 0.92, f"sifted {result.sifted_bits / 1e3:.1f} kbit in {result.usable_s:.0f} s"
            f" (mean {result.sifted_bits / max(result.usable_s, 1e-9) / 1e3:.2f} kbit/s)",
            transform=a2.transAxes, va="top", fontsize="small")
    q = np.where(u, result.qber, np.nan) * 100.0
    a3.plot(t, result.qber * 100.0, color="0.7", lw=1)
    a3.plot(t, q, color="tab:orange")
    a3.set_ylabel("QBER (%)", color="tab:orange")
    top = np.nanmax(q) if np.isfinite(q).any() else 5.0
    a3.set_ylim(0.0, min(50.0, max(3.0, 2.5 * top)))  # the usable part, not the horizon
    a3.set_xlabel("time from culmination (s)" if t.size and t.min() < 0 else "time (s)")
    b3 = a3.twinx()
    b3.plot(t, np.degrees(result.el_rad), color="tab:green", ls="--")
    b3.set_ylabel("elevation (°)", color="tab:green")
    b3.axhline(result.min_el_deg, color="tab:green", lw=0.6, ls=":")
    for a in axes:
        _shade(a, t, u)
        a.grid(alpha=0.3)
    key = result.key_bits
    mean_q = result.mean_qber
    a1.set_title(f"{result.source.name} → {result.calibration.station}: max elevation "
                 f"{np.degrees(np.max(result.el_rad)):.0f}°; sifted "
                 f"{result.sifted_bits / 1e3:.1f} kbit, QBER "
                 f"{mean_q * 100:.2f} %, secure key {key} bits\n{result.verdict()}"
                 " (shaded: key counted)", fontsize="medium")
    return save(fig, path)
