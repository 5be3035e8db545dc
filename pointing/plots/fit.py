"""Figures of a pointing fit: the Fig. 4 error panel, residuals on the sky and against A, E.

Figures are readable without a caption: axes carry units and the key figure
(RMS, number of stars) is written on the plot.  The figures are
:class:`matplotlib.figure.Figure` objects made without pyplot, so no backend
is chosen or switched and nothing stays open; PNG is written when a path is
given.

Large runs (more than :data:`POINTS_LIMIT` observations) are drawn as what a
reader can see: the error panel as a density of points, the sky as the mean
residual vector of each sky cell, the residuals against azimuth and
elevation as binned means with their ±1σ band over a density.  Small runs
keep one marker and one arrow per star.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from pointing.plots.figure import save
from pointing.plots.sky import SKY_CHART_CONVENTION, sky_chart
from pointing.units import URAD_PER_ARCSEC as ARCSEC_URAD

__all__ = ["POINTS_LIMIT", "error_scatter", "plot_equatorial_fit", "plot_fit"]

#: above this many observations, figures draw densities and binned means, not points
POINTS_LIMIT = 500
#: sky cells of the large-run chart: azimuth and elevation steps, degrees
_SKY_CELL_DEG = (30.0, 10.0)


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

    More than :data:`POINTS_LIMIT` points are drawn as a density (points per
    bin, logarithmic colours) instead of markers.
    """
    dx = np.asarray(dx_urad, float)
    de = np.asarray(de_urad, float)
    used = np.ones(dx.size, bool) if used is None else np.asarray(used, bool)
    rms = float(np.sqrt(np.mean(dx[used] ** 2 + de[used] ** 2))) if used.any() else np.nan
    lim = 1.15 * max(np.nanmax(np.abs(np.concatenate([dx, de, [rms if np.isfinite(rms) else 0]]))),
                     1e-9)
    if dx.size > POINTS_LIMIT:
        lim = 1.15 * max(float(np.nanpercentile(np.abs(np.concatenate([dx, de])), 99.9)),
                         2 * rms if np.isfinite(rms) else 0.0, 1e-9)
        _density(ax, dx[used], de[used], lim, f"{used.sum()} stars (points per bin)")
        if (~used).any():
            ax.plot([], [], " ", label=f"{(~used).sum()} not used (not drawn)")
    else:
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
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("cross-elevation error ΔA·cos E (µrad)")
    ax.set_ylabel("elevation error ΔE (µrad)")
    ax.set_title(title or "pointing error per star")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(True, alpha=0.3)
    return rms


def _density(ax: Any, x: np.ndarray, y: np.ndarray, lim: float, label: str) -> None:
    """A 2-D histogram of points on ±lim, logarithmic colours, with a colour bar."""
    edges = np.linspace(-lim, lim, 121)
    counts, _, _ = np.histogram2d(x, y, bins=(edges, edges))
    mesh = ax.pcolormesh(edges, edges, np.ma.masked_equal(counts.T, 0), cmap="Blues",
                         norm=LogNorm(vmin=1, vmax=max(counts.max(), 2)), zorder=2)
    ax.figure.colorbar(mesh, ax=ax, shrink=0.8, label="points per bin")
    ax.plot([], [], "s", color="tab:blue", label=label)


def plot_fit(result: Any, path: str | Path | None = None, *,
             title: str | None = None) -> Figure:
    """Residual figure of a pointing fit: Fig. 4 panel, sky chart, residuals against A and E.

    Parameters
    ----------
    result : pointing.model.fit.FitResult
    path : str or Path, optional
        PNG file to write.
    title : str, optional
        Figure title (default: the run's caption, RMS figures and terms).
    """
    obs = result.observations
    if obs.is_equatorial:
        return plot_equatorial_fit(result, path, title=title)
    used = np.asarray(result.used, bool)
    dx_u = np.asarray(result.dx) * ARCSEC_URAD
    de_u = np.asarray(result.de) * ARCSEC_URAD
    az = np.degrees(obs.az_true) % 360.0
    el = np.degrees(obs.el_true)
    fig = Figure(figsize=(12, 10), layout="constrained")
    gs = fig.add_gridspec(2, 2)
    error_scatter(fig.add_subplot(gs[0, 0]), dx_u, de_u, used=used,
                  title=f"residuals after fit: {result.n_used} stars, "
                        f"{len(result.fitted_terms)} terms")
    sky = fig.add_subplot(gs[0, 1], projection="polar")
    if az.size > POINTS_LIMIT:
        _sky_binned(sky, az[used], el[used], dx_u[used], de_u[used])
    else:
        _sky_arrows(sky, az, el, dx_u, de_u, used)
    for k, (x, label) in enumerate(((az, "azimuth (°)"), (el, "elevation (°)"))):
        ax = fig.add_subplot(gs[1, k])
        if az.size > POINTS_LIMIT:
            _binned_residuals(ax, x[used], dx_u[used], de_u[used], label)
        else:
            _point_residuals(ax, x, dx_u, de_u, used)
        _residual_axes(ax, label, label.split(" ")[0])
    fig.suptitle(title or _fit_title(result, obs.caption or "pointing fit"))
    return save(fig, path)


def plot_equatorial_fit(result: Any, path: str | Path | None = None, *,
                        title: str | None = None) -> Figure:
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
    fig = Figure(figsize=(15, 5), layout="constrained")
    axes = fig.subplots(1, 3)
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
        _residual_axes(ax, label, label.split(" (")[0])
    fig.suptitle(title or _fit_title(result, f"{obs.caption or 'pointing fit'} ({obs.mount})"))
    return save(fig, path)


def _residual_axes(ax: Any, label: str, against: str) -> None:
    """Zero line, labels, grid and legend of a residuals-against-coordinate panel (µrad)."""
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel(label)
    ax.set_ylabel("residual (µrad)")
    ax.set_title(f"residuals against {against}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")


def _fit_title(result: Any, caption: str) -> str:
    """A fit figure's title: caption, sky RMS, leave-one-out RMS and the terms."""
    return (f"{caption} — sky RMS {result.sky_rms_urad:.2f} µrad ({result.sky_rms:.2f}″), "
            f"leave-one-out {result.loo_rms * ARCSEC_URAD:.2f} µrad\n"
            f"terms: {' '.join(result.model.spellings)}")



def _sky_axes(ax: Any, title: str) -> None:
    """The toolkit's one sky-chart convention (:func:`pointing.plots.sky.sky_chart`)."""
    sky_chart(ax, note=False)
    ax.set_title(f"{title}\n{SKY_CHART_CONVENTION}", fontsize=9)


def _chart_vectors(az_deg: np.ndarray, dx: np.ndarray, de: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Screen components (right, up) of residuals on the chart: ΔA along +azimuth, ΔE inward."""
    th = np.radians(az_deg)
    # chart position of (az, zenith distance r): x = −r sin az, y = r cos az (east left)
    east_x, east_y = -np.cos(th), -np.sin(th)  # direction of increasing azimuth
    up_x, up_y = np.sin(th), -np.cos(th)  # toward the zenith (decreasing r)
    return dx * east_x + de * up_x, dx * east_y + de * up_y


def _sky_arrows(ax: Any, az: np.ndarray, el: np.ndarray, dx: np.ndarray, de: np.ndarray,
                used: np.ndarray) -> None:
    """One marker and one residual arrow per star (longest arrow = 20° of the chart)."""
    longest = float(np.nanmax(np.hypot(dx, de))) if dx.size else 0.0
    _sky_axes(ax, f"residual vectors on the sky (longest = {longest:.1f} µrad)")
    r = 90.0 - el
    th = np.radians(az)
    ax.scatter(th[used], r[used], s=10, color="tab:blue", zorder=3)
    if (~used).any():
        ax.scatter(th[~used], r[~used], s=10, facecolors="none", edgecolors="tab:gray", zorder=3)
    u, v = _chart_vectors(az, dx, de)
    for sel, colour in ((used, "tab:red"), (~used, "0.6")):
        if sel.any():
            # arrow lengths in chart degrees: the axes' width spans 180° of the chart
            ax.quiver(th[sel], r[sel], u[sel], v[sel], angles="uv", scale_units="width",
                      scale=180.0 * longest / 20.0 if longest > 0 else 1.0, color=colour,
                      width=0.003, zorder=4)


def _sky_binned(ax: Any, az: np.ndarray, el: np.ndarray, dx: np.ndarray,
                de: np.ndarray) -> None:
    """Mean residual vector per sky cell, cells coloured by their RMS."""
    a_step, e_step = _SKY_CELL_DEG
    a_edges = np.arange(0.0, 360.0 + a_step / 2, a_step)
    e_edges = np.arange(0.0, 90.0 + e_step / 2, e_step)
    ia = np.clip(np.digitize(az, a_edges) - 1, 0, a_edges.size - 2)
    ie = np.clip(np.digitize(el, e_edges) - 1, 0, e_edges.size - 2)
    cell = ia * (e_edges.size - 1) + ie
    shape = (a_edges.size - 1, e_edges.size - 1)
    n = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)
    sum_dx = np.bincount(cell, dx, minlength=n.size).reshape(shape)
    sum_de = np.bincount(cell, de, minlength=n.size).reshape(shape)
    sum_r2 = np.bincount(cell, dx**2 + de**2, minlength=n.size).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_dx, mean_de, rms = sum_dx / n, sum_de / n, np.sqrt(sum_r2 / n)
    mesh = ax.pcolormesh(np.radians(a_edges), 90.0 - e_edges, np.ma.masked_invalid(rms.T),
                         cmap="magma_r", shading="flat", alpha=0.8)
    ax.figure.colorbar(mesh, ax=ax, shrink=0.7, pad=0.1, label="cell RMS (µrad)")
    ok = n > 0
    a_mid = (a_edges[:-1] + a_step / 2)[:, None] * np.ones(shape)
    r_mid = 90.0 - (e_edges[:-1] + e_step / 2)[None, :] * np.ones(shape)
    longest = float(np.nanmax(np.hypot(mean_dx, mean_de)[ok])) if ok.any() else 0.0
    u, v = _chart_vectors(a_mid[ok], mean_dx[ok], mean_de[ok])
    ax.quiver(np.radians(a_mid[ok]), r_mid[ok], u, v, angles="uv", scale_units="width",
              scale=180.0 * longest / 12.0 if longest > 0 else 1.0, color="tab:blue",
              width=0.004, zorder=4)
    _sky_axes(ax, f"mean residual per {a_step:.0f}° × {e_step:.0f}° cell "
                  f"(longest = {longest:.2f} µrad, {int(n.sum())} stars)")


def _point_residuals(ax: Any, x: np.ndarray, dx: np.ndarray, de: np.ndarray,
                     used: np.ndarray) -> None:
    """Residuals of every star against one axis angle."""
    ax.scatter(x[used], dx[used], s=12, color="tab:blue", label="ΔA·cos E")
    ax.scatter(x[used], de[used], s=12, color="tab:orange", marker="s", label="ΔE")
    if (~used).any():
        ax.scatter(x[~used], dx[~used], s=12, facecolors="none", edgecolors="0.6",
                   label="not used")
        ax.scatter(x[~used], de[~used], s=12, facecolors="none", edgecolors="0.6", marker="s")


def _binned_residuals(ax: Any, x: np.ndarray, dx: np.ndarray, de: np.ndarray,
                      label: str) -> None:
    """Binned mean ± 1σ of both residual components over the density of all residuals."""
    lo, hi = (0.0, 360.0) if label.startswith("azimuth") else (float(x.min()), float(x.max()))
    edges = np.linspace(lo, hi + 1e-9, 37)
    spread = max(float(np.nanpercentile(np.abs(np.concatenate([dx, de])), 99.5)), 1e-9)
    y_edges = np.linspace(-1.1 * spread, 1.1 * spread, 81)
    counts, _, _ = np.histogram2d(np.concatenate([x, x]), np.concatenate([dx, de]),
                                  bins=(edges, y_edges))
    ax.pcolormesh(edges, y_edges, np.ma.masked_equal(counts.T, 0), cmap="Greys",
                  norm=LogNorm(vmin=1, vmax=max(counts.max(), 2)), alpha=0.6)
    mid = 0.5 * (edges[1:] + edges[:-1])
    idx = np.clip(np.digitize(x, edges) - 1, 0, mid.size - 1)
    n = np.bincount(idx, minlength=mid.size)
    for values, colour, name in ((dx, "tab:blue", "ΔA·cos E"), (de, "tab:orange", "ΔE")):
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(idx, values, minlength=mid.size) / n
            sd = np.sqrt(np.maximum(np.bincount(idx, values**2, minlength=mid.size) / n
                                    - mean**2, 0.0))
        ax.plot(mid, mean, color=colour, lw=1.8, label=f"{name}: mean per bin")
        ax.fill_between(mid, mean - sd, mean + sd, color=colour, alpha=0.2,
                        label=f"{name}: ±1σ")
    ax.set_xlim(lo, hi)
    ax.set_ylim(y_edges[0], y_edges[-1])
