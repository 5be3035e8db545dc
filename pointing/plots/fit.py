"""Every figure of the toolkit: matplotlib, one function per figure, PNG out.

Figures are readable without a caption: axes carry units and the key figure
(RMS, number of stars) is written on the plot.  Functions return the path
written.  The Agg backend is used, so no display is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pointing.units import URAD_PER_ARCSEC as ARCSEC_URAD

__all__ = ["error_scatter", "plot_equatorial_fit", "plot_fit"]



def error_scatter(ax: Any, dx_urad: np.ndarray, de_urad: np.ndarray, *,
                  used: np.ndarray | None = None, title: str = "") -> float:
    """Draw the reference paper's Fig. 4: pointing errors in µrad, RMS as a circle.

    Parameters
    ----------
    ax : matplotlib Axes
    dx_urad, de_urad : ndarray
        Cross-elevation (ΔA·cosE) and elevation errors, µrad.
    used : ndarray of bool, optional
        Points drawn hollow and left out of the RMS where False.
    title : str

    Returns
    -------
    float
        The RMS (µrad) drawn, ``sqrt(mean(dx² + de²))`` over used points.
    """
    dx = np.asarray(dx_urad, float)
    de = np.asarray(de_urad, float)
    used = np.ones(dx.size, bool) if used is None else np.asarray(used, bool)
    rms = float(np.sqrt(np.mean(dx[used] ** 2 + de[used] ** 2))) if used.any() else np.nan
    ax.scatter(dx[used], de[used], s=22, color="tab:blue", zorder=3,
               label=f"{used.sum()} stars")
    if (~used).any():
        ax.scatter(dx[~used], de[~used], s=22, facecolors="none", edgecolors="tab:gray",
                   zorder=3, label=f"{(~used).sum()} not used")
    if np.isfinite(rms):
        t = np.linspace(0, 2 * np.pi, 361)
        ax.plot(rms * np.cos(t), rms * np.sin(t), color="tab:red", lw=1.5,
                label=f"RMS {rms:.2f} µrad")
        ax.annotate(f"RMS = {rms:.2f} µrad", xy=(rms * 0.7071, rms * 0.7071),
                    xytext=(6, 6), textcoords="offset points", color="tab:red")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    lim = 1.15 * max(np.nanmax(np.abs(np.concatenate([dx, de, [rms if np.isfinite(rms) else 0]]))),
                     1e-9)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("cross-elevation error ΔA·cos E (µrad)")
    ax.set_ylabel("elevation error ΔE (µrad)")
    ax.set_title(title or "pointing error per star")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(True, alpha=0.3)
    return rms


def plot_fit(result: Any, path: str | Path, *, title: str | None = None) -> Path:
    """Residual figure of a pointing fit: Fig. 4 panel, sky map, residuals vs A and E.

    Parameters
    ----------
    result : pointing.model.fit.FitResult
    path : str or Path
        PNG file to write.
    title : str, optional
        Figure title (default: the run's caption and the fitted terms).
    """
    obs = result.observations
    if obs.is_equatorial:
        return plot_equatorial_fit(result, path, title=title)
    used = result.used
    dx_u = result.dx * ARCSEC_URAD
    de_u = result.de * ARCSEC_URAD
    az = np.degrees(obs.az_true) % 360.0
    el = np.degrees(obs.el_true)
    fig = plt.figure(figsize=(12, 10), constrained_layout=True)
    gs = fig.add_gridspec(2, 2)
    ax0 = fig.add_subplot(gs[0, 0])
    error_scatter(ax0, dx_u, de_u, used=used,
                  title=f"residuals after fit: {result.n_used} stars, "
                        f"{len(result.fitted_terms)} terms")

    ax1 = fig.add_subplot(gs[0, 1], projection="polar")
    ax1.set_theta_zero_location("N")
    ax1.set_theta_direction(-1)  # azimuth clockwise from north, as on a sky chart seen from above
    r = 90.0 - el
    ax1.scatter(np.radians(az[used]), r[used], s=10, color="tab:blue", zorder=3)
    if (~used).any():
        ax1.scatter(np.radians(az[~used]), r[~used], s=10, facecolors="none",
                    edgecolors="tab:gray", zorder=3)
    scale = 20.0 / max(np.nanmax(np.hypot(dx_u, de_u)), 1e-9)  # longest arrow = 20° on the chart
    # residual vectors: east component along increasing azimuth, elevation toward the centre
    th = np.radians(az)
    x0, y0 = r * np.sin(th), r * np.cos(th)
    ex, ey = np.cos(th), -np.sin(th)  # unit vector of increasing azimuth in chart coordinates
    rx, ry = -np.sin(th), -np.cos(th)  # unit vector toward the zenith
    x1 = x0 + scale * (dx_u * ex + de_u * rx)
    y1 = y0 + scale * (dx_u * ey + de_u * ry)
    for i in range(az.size):
        ax1.annotate("", xy=(np.arctan2(x1[i], y1[i]), np.hypot(x1[i], y1[i])),
                     xytext=(th[i], r[i]),
                     arrowprops=dict(arrowstyle="->", color="tab:red" if used[i] else "0.6",
                                     lw=1))
    ax1.set_rlim(0, 90)
    ax1.set_rticks([30, 60, 90])
    ax1.set_yticklabels(["60°", "30°", "0°"])
    ax1.set_title(f"residual vectors on the sky (longest = "
                  f"{np.nanmax(np.hypot(dx_u, de_u)):.1f} µrad)\nN up, E right, "
                  "radius = zenith distance")

    for k, (x, label) in enumerate(((az, "azimuth (°)"), (el, "elevation (°)"))):
        ax = fig.add_subplot(gs[1, k])
        ax.scatter(x[used], dx_u[used], s=12, color="tab:blue", label="ΔA·cos E")
        ax.scatter(x[used], de_u[used], s=12, color="tab:orange", marker="s", label="ΔE")
        if (~used).any():
            ax.scatter(x[~used], dx_u[~used], s=12, facecolors="none", edgecolors="0.6",
                       label="not used")
            ax.scatter(x[~used], de_u[~used], s=12, facecolors="none", edgecolors="0.6",
                       marker="s")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xlabel(label)
        ax.set_ylabel("residual (µrad)")
        ax.set_title(f"residuals against {label.split(' ')[0]}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or f"{obs.caption or 'pointing fit'} — sky RMS "
                 f"{result.sky_rms_urad:.2f} µrad ({result.sky_rms:.2f}″), "
                 f"leave-one-out {result.loo_rms * ARCSEC_URAD:.2f} µrad\n"
                 f"terms: {' '.join(result.model.names)}")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_equatorial_fit(result: Any, path: str | Path, *, title: str | None = None) -> Path:
    """Residuals of an equatorial fit in sky units against hour angle and declination.

    Residuals are turned to the sky's directions (west, north) on both pier
    sides; far-side observations (German equatorial, declination beyond the
    pole) are drawn as triangles.
    """
    obs = result.observations
    used, far = result.used, obs.far_side
    sign = np.where(far, -1.0, 1.0)  # far side: the mechanical axes point the other way
    dx_u, de_u = sign * result.dx * ARCSEC_URAD, sign * result.de * ARCSEC_URAD
    dec = np.degrees(np.where(far, np.pi - obs.dec_true, obs.dec_true))
    dec = np.where(dec > 180.0, dec - 360.0, dec)
    ha = (np.degrees(np.where(far, obs.ha_true + np.pi, obs.ha_true)) / 15.0 + 12.0) % 24 - 12
    fig, axes = plt.subplots(1, 3, figsize=(15, 5), constrained_layout=True)
    error_scatter(axes[0], dx_u, de_u, used=used,
                  title=f"residuals after fit: {result.n_used} stars, "
                        f"{len(result.fitted_terms)} terms")
    axes[0].set_xlabel("east-west error Δh·cos δ (µrad)")
    axes[0].set_ylabel("declination error Δδ (µrad)")
    for ax, x, label in ((axes[1], ha, "hour angle (h, west +)"),
                         (axes[2], dec, "declination (°)")):
        for side, marker, name in ((~far, "o", "near side"), (far, "^", "far side of pier")):
            pick = used & side
            if not pick.any():
                continue
            ax.scatter(x[pick], dx_u[pick], s=14, color="tab:blue", marker=marker,
                       label=f"Δh·cos δ, {name} ({pick.sum()})")
            ax.scatter(x[pick], de_u[pick], s=14, color="tab:orange", marker=marker,
                       label=f"Δδ, {name}")
        if (~used).any():
            ax.scatter(x[~used], dx_u[~used], s=14, facecolors="none", edgecolors="0.6",
                       label="not used")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xlabel(label)
        ax.set_ylabel("residual (µrad)")
        ax.set_title(f"residuals against {label.split(' (')[0]}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or f"{obs.caption or 'pointing fit'} ({obs.mount}) — sky RMS "
                 f"{result.sky_rms_urad:.2f} µrad ({result.sky_rms:.2f}″), "
                 f"leave-one-out {result.loo_rms * ARCSEC_URAD:.2f} µrad\n"
                 f"terms: {' '.join(result.model.names)}")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_history(rows: list[dict], path: str | Path, *, station: str = "") -> Path:
    """Coefficients (arcsec) and verification RMS (µrad) of a station, night by night."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True,
                                   constrained_layout=True)
    nights = [r["night_id"] for r in rows]
    terms = sorted({t for r in rows for t in r["terms"]} - {"IA"})
    for t in terms:
        ax1.plot(nights, [r["terms"].get(t, np.nan) for r in rows], "o-", label=t)
    ax1.set_ylabel("coefficient (arcsec)")
    ax1.set_title(f"{station}: model coefficients by night (IA not shown: it is the "
                  "compass setting)" if station else "model coefficients by night")
    ax1.grid(True, alpha=0.3)
    if terms:
        ax1.legend(ncol=4, fontsize="small")
    rms = [r["verification_rms_urad"] for r in rows]
    ax2.plot(nights, [np.nan if v is None else v for v in rms], "s-", color="tab:red")
    ax2.axhline(100.0, color="0.5", ls="--", lw=1)
    ax2.text(nights[0] if nights else 0, 100.0, " 100 µrad", va="bottom", color="0.4")
    ax2.set_ylabel("verification RMS (µrad)")
    ax2.set_xlabel("night (station log id)")
    ax2.grid(True, alpha=0.3)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
