"""Figures for efficiency and background: one function per figure, PNG via matplotlib.

* :func:`plot_efficiency` -- per-star efficiency against airmass with the fit;
* :func:`plot_noise_map` -- polar map of the background count rate;
* :func:`plot_noise_profile` -- background against elevation with the model;
* :func:`plot_background` -- the last two side by side (``pointing noise-map --plot``).

Each takes the fit result, an optional output path (PNG) and returns the figure.
The module leaves matplotlib's backend alone (a notebook keeps its own).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm

from pointing.plots.figure import axes_or_new, new_figure, save
from pointing.plots.sky import sky_chart

__all__ = ["plot_background", "plot_efficiency", "plot_noise_map", "plot_noise_profile"]


def plot_efficiency(result: Any, path: str | Path | None = None, ax: Any = None) -> Any:
    """Efficiency of each star against airmass, the fitted line, rejected stars marked.

    *result* is a :class:`pointing.photometry.EfficiencyResult`.
    """
    ax = axes_or_new(ax, (7.5, 5.0))
    fig = ax.figure
    rows = result.per_star
    x = np.array([r["airmass"] for r in rows], dtype=float)
    eta = np.array([r["eta"] for r in rows], dtype=float)
    sig = np.array([r["eta_sigma"] for r in rows], dtype=float)
    used = np.array([r["used"] for r in rows], dtype=bool)
    ok = np.isfinite(x) & np.isfinite(eta) & (eta > 0)
    unit = "counts/photon" if result.source == "detectors" else result.units
    ax.errorbar(x[used & ok], eta[used & ok], yerr=sig[used & ok], fmt="o", ms=4,
                color="tab:blue", ecolor="0.6", label=f"stars used ({int(used.sum())})")
    rej = ~used & ok
    if rej.any():
        ax.plot(x[rej], eta[rej], "x", color="tab:red", ms=7,
                label=f"rejected ({int(rej.sum())})")
        for xi, yi, r in zip(x[rej], eta[rej], np.array(rows, dtype=object)[rej],
                             strict=True):
            if "hip" in r:
                ax.annotate(f"HIP {r['hip']}", (xi, yi), textcoords="offset points",
                            xytext=(4, -10), fontsize=7, color="tab:red")
    hi = max(float(np.nanmax(x[ok])) if ok.any() else 2.0, 1.5) * 1.05
    xx = np.linspace(0.0, hi, 100)
    fit = result.eta0 * 10.0 ** (-0.4 * result.k_mag_per_airmass * xx)
    ax.plot(xx, fit, "-", color="k", lw=1.2,
            label="fit: η₀·10^(−0.4·k·X)")
    ax.plot([0.0], [result.eta0], "s", color="k", ms=6)
    if result.design_efficiency:
        ax.axhline(result.design_efficiency, color="tab:green", ls=":", lw=1,
                   label=f"design efficiency {result.design_efficiency:.2f}")
    ax.set_yscale("log")
    ax.set_xlim(0.0, hi)
    ax.set_xlabel("airmass X (Kasten & Young 1989)")
    ax.set_ylabel(f"efficiency η ({unit})")
    phot = "photometric" if result.photometric else "NOT photometric"
    ax.set_title(f"Station efficiency vs airmass ({result.source}, {result.band})",
                 fontsize=10)
    text = (f"η₀ = {result.eta0:.4g} ± {result.eta0_sigma:.2g}\n"
            f"k = {result.k_mag_per_airmass:.3f} ± {result.k_sigma:.3f} mag/airmass"
            f"{'' if result.k_fitted else ' (held)'}\n"
            f"{phot}: scatter {result.scatter_mag:.3f} mag, "
            f"χ²/dof {result.chi2_reduced:.2f}")
    ax.text(0.02, 0.97, text, transform=ax.transAxes, fontsize=9, va="top",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    lo_y = float(np.nanmin(eta[ok])) if ok.any() else result.eta0 / 3
    hi_y = max(result.eta0, result.design_efficiency or 0.0, float(np.nanmax(eta[ok]))
               if ok.any() else result.eta0)
    ax.set_ylim(lo_y / 1.3, hi_y * 1.6)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(True, which="both", alpha=0.3)
    save(fig, path)
    return fig


def _polar_axes(ax: Any) -> None:
    sky_chart(ax, rings_el_deg=(60, 30, 0), compass=4)  # the toolkit's one sky-chart convention
    ax.tick_params(axis="y", colors="0.85")


def plot_noise_map(fit: Any, path: str | Path | None = None, ax: Any = None) -> Any:
    """Polar map of the background (counts/s): model as colour, samples as dots.

    The sky-chart convention (:func:`pointing.plots.sky.sky_chart`: north up,
    east left, radius = zenith distance);
    *fit* is a :class:`pointing.photometry.background.BackgroundFit`.
    """
    ax = axes_or_new(ax, (6.5, 6.0), projection="polar")
    fig = ax.figure
    _polar_axes(ax)
    az = np.radians(np.arange(0.0, 360.1, 3.0))
    el = np.radians(np.arange(0.0, 90.1, 1.5))
    az_g, el_g = np.meshgrid(az, el)
    rate = fit.rate(az_g, el_g)
    s = fit.samples
    lo = float(min(np.nanmin(rate), np.nanmin(s.rate_cps) if len(s) else np.inf))
    hi = float(max(np.nanmax(rate), np.nanmax(s.rate_cps) if len(s) else -np.inf))
    norm = LogNorm(vmin=max(lo, 1e-3), vmax=max(hi, lo * 1.01, 1e-2))
    mesh = ax.pcolormesh(az_g, 90.0 - np.degrees(el_g), rate, norm=norm, cmap="magma",
                         shading="auto")
    ax.scatter(s.az, 90.0 - np.degrees(s.el), c=s.rate_cps, norm=norm, cmap="magma",
               edgecolors="cyan", linewidths=0.6, s=22, zorder=3)
    if fit.moon.get("el_deg") is not None and fit.moon["el_deg"] > 0:
        ax.plot(math.radians(fit.moon["az_deg"]), 90.0 - fit.moon["el_deg"], "o",
                ms=11, mfc="lightyellow", mec="k", zorder=4)
        ax.annotate(f"Moon {fit.moon['phase']:.0%}", (math.radians(fit.moon["az_deg"]),
                    90.0 - fit.moon["el_deg"]), textcoords="offset points", xytext=(8, 8),
                    fontsize=8, color="white")
    r = 90.0 - fit.rural_like_above_deg
    ax.plot(np.radians(np.arange(0, 361, 2)), np.full(181, r), "--", color="cyan", lw=1)
    cb = fig.colorbar(mesh, ax=ax, pad=0.1, shrink=0.8)
    cb.set_label("background (counts/s, all channels)")
    ax.set_title(f"Background map: zenith {fit.zenith_cps:.0f} counts/s; within "
                 f"{fit.config.rural_tolerance:.0%} of it above "
                 f"{fit.rural_like_above_deg:.0f}° (dashed)", fontsize=9, pad=14)
    save(fig, path)
    return fig


def plot_noise_profile(fit: Any, path: str | Path | None = None, ax: Any = None) -> Any:
    """Background against elevation: samples (coloured by azimuth) and the model."""
    ax = axes_or_new(ax, (7.0, 5.0))
    fig = ax.figure
    s = fit.samples
    sc = ax.scatter(np.degrees(s.el), s.rate_cps, c=np.degrees(s.az) % 360.0, cmap="twilight",
                    vmin=0, vmax=360, s=18, edgecolors="k", linewidths=0.3, zorder=3)
    ax.errorbar(np.degrees(s.el), s.rate_cps, yerr=s.sigma_cps, fmt="none", ecolor="0.7",
                lw=0.6, zorder=2)
    ax.plot(fit.profile_el_deg, fit.profile_mean_cps, "-", color="k", lw=1.4,
            label="model, azimuth mean")
    ax.plot(fit.profile_el_deg, fit.profile_max_cps, "--", color="tab:red", lw=1.0,
            label="model, worst azimuth")
    tol = fit.config.rural_tolerance
    ax.axhline((1 + tol) * fit.zenith_cps, color="tab:green", ls=":", lw=1,
               label=f"zenith + {tol:.0%}")
    ax.axvline(fit.rural_like_above_deg, color="tab:green", lw=1)
    ax.axhline(fit.model.dark_cps, color="0.5", ls="-.", lw=0.8,
               label=f"dark {fit.model.dark_cps:.0f} counts/s")
    ax.set_yscale("log")
    ax.set_xlim(0, 90)
    ax.set_xlabel("elevation (deg)")
    ax.set_ylabel("background (counts/s, all channels)")
    ax.set_title("Background vs elevation", fontsize=10)
    ax.text(0.98, 0.97,
            f"zenith {fit.zenith_cps:.0f} ± {fit.zenith_sigma_cps:.0f} counts/s\n"
            f"within {tol:.0%} of zenith above {fit.rural_like_above_deg:.1f}° "
            f"± {fit.rural_like_above_sigma_deg:.1f}°\n"
            f"(worst azimuth: {fit.rural_like_above_worst_deg:.1f}°)",
            transform=ax.transAxes, ha="right", va="top", fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    cb = fig.colorbar(sc, ax=ax, pad=0.02)
    cb.set_label("azimuth (deg, N=0, E=90)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(True, which="both", alpha=0.3)
    save(fig, path)
    return fig


def plot_background(fit: Any, path: str | Path | None = None) -> Any:
    """Polar noise map and elevation profile side by side in one figure."""
    fig = new_figure((14.0, 5.8))
    ax1 = fig.add_subplot(1, 2, 1, projection="polar")
    ax2 = fig.add_subplot(1, 2, 2)
    plot_noise_map(fit, ax=ax1)
    plot_noise_profile(fit, ax=ax2)
    save(fig, path)
    return fig
