"""Figures of tracking-camera measurements.

One function per figure, each ``(result, path=None, ax=None)`` returning the
Figure (a PNG is written when *path* is given); each is readable without a
caption: axis labels with units, the key figures written on the plot.  The
figures are built on :class:`matplotlib.figure.Figure` directly, never through
pyplot, so the caller's backend is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from pointing.camera.frames import load_frame
from pointing.plots.figure import save

__all__ = ["plot_star_cutout"]


def plot_star_cutout(result: Any, path: str | Path | None = None, ax: Any = None, *,
                     frame: Any = None, title: str | None = None) -> Figure:
    """The cutout a star was measured on: centroid, aperture, annulus, masked pixels.

    Parameters
    ----------
    result : :class:`~pointing.camera.measure.StarMeasurement`
    path : PNG file to write, if any
    ax : matplotlib Axes to draw on (default: a new figure)
    frame : the frame, shown whole when no star was found (no cutout)
    title : figure title (default: the flags)

    Returns the Figure.  Pixel coordinates are 0-based frame pixels; the
    image shows the signal above the fitted background, asinh-stretched.
    """
    if ax is None:
        fig = Figure(figsize=(6.4, 5.6), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    cut = result.cutout
    if cut is None:
        _draw_frame(fig, ax, result, frame)
    else:
        _draw_cutout(fig, ax, result, cut)
        if result.found:
            _write_figures(ax, result)
    ax.set_xlabel("x [px]")
    ax.set_ylabel("y [px]")
    ax.set_title(title or f"star measurement ({result.mode} mode): {result.flags_text()}",
                 fontsize=10)
    return save(fig, path)


def _draw_frame(fig: Figure, ax: Any, result: Any, frame: Any) -> None:
    """The whole frame (when no star was found), asinh-stretched, and the flags."""
    if frame is not None:
        img = np.asarray(load_frame(frame), dtype=float)
        med = np.nanmedian(img)
        scale = max(float(np.nanstd(img)), 1e-12)
        im = ax.imshow(np.arcsinh((img - med) / scale), origin="lower", cmap="gray",
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label="asinh((value − median) / RMS)")
    ax.text(0.5, 0.5, result.flags_text(), transform=ax.transAxes, ha="center",
            va="center", color="red", fontsize=16)


def _draw_cutout(fig: Figure, ax: Any, result: Any, cut: Any) -> None:
    """The cut-out's signal, its masked pixels and the windows of the measurement."""
    signal = np.asarray(cut.data, dtype=float) - cut.background
    ny, nx = signal.shape
    extent = (cut.x0 - 0.5, cut.x0 + nx - 0.5, cut.y0 - 0.5, cut.y0 + ny - 0.5)
    finite = np.isfinite(signal) & ~cut.masked
    noise = (float(np.median(np.abs(signal[finite] - np.median(signal[finite])))) * 1.4826
             if finite.any() else 1.0) or 1.0
    im = ax.imshow(np.arcsinh(signal / noise), origin="lower", cmap="viridis",
                   extent=extent, interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(f"asinh(signal above background / {noise:.3g} ADU)")
    # masked pixels: red = hot / cosmic, orange = saturated, grey = neighbour / bad
    kind = np.zeros(signal.shape)
    kind[cut.masked] = 1
    kind[cut.saturated] = 2
    kind[cut.hot] = 3
    overlay = np.ma.masked_equal(kind, 0)
    ax.imshow(overlay, origin="lower", extent=extent, interpolation="nearest",
              cmap=ListedColormap(["0.6", "orange", "red"]), vmin=0.5, vmax=3.5,
              alpha=0.85)
    if result.found:
        x, y = result.x, result.y
        ax.add_patch(Circle((x, y), cut.aperture_radius, fill=False, color="white",
                            lw=1.2, label=f"aperture r = {cut.aperture_radius:.1f} px"))
        for r in cut.annulus:
            ax.add_patch(Circle((x, y), r, fill=False, color="cyan", lw=1.0, ls="--"))
        ax.plot([], [], color="cyan", ls="--",
                label=f"background annulus {cut.annulus[0]:.1f}–{cut.annulus[1]:.1f} px")
        wx0, wx1, wy0, wy1 = cut.window
        ax.add_patch(Rectangle((wx0 - 0.5, wy0 - 0.5), wx1 - wx0 + 1, wy1 - wy0 + 1,
                               fill=False, color="white", lw=0.8, ls=":",
                               label="fit window"))
        ax.plot(x, y, marker="+", color="red", ms=14, mew=1.5, ls="none",
                label="centroid")
    for colour, text, n in (("red", "hot / cosmic", int(cut.hot.sum())),
                            ("orange", "saturated", int(cut.saturated.sum())),
                            ("0.6", "neighbour / bad",
                             int((cut.masked & ~cut.hot & ~cut.saturated).sum()))):
        if n:
            ax.plot([], [], marker="s", ls="none", color=colour,
                    label=f"masked: {text} ({n} px)")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.legend(loc="lower right", fontsize=7, framealpha=0.7)


def _write_figures(ax: Any, result: Any) -> None:
    """The measured figures, written on the plot."""
    lines = [
        f"x = {result.x:.3f} ± {result.sigma_x:.3f} px (CRLB {result.crlb_x:.3f})",
        f"y = {result.y:.3f} ± {result.sigma_y:.3f} px (CRLB {result.crlb_y:.3f})",
        f"SNR {result.snr:.1f}   FWHM {result.fwhm:.2f} px   "
        f"elongation {result.elongation:.2f}",
        f"flux {result.flux:.4g} ADU   background {result.background:.4g} ADU/px",
    ]
    if result.offset_urad is not None:
        lines.append(f"offset ΔA·cosE {result.offset_urad[0]:+.1f} µrad, "
                     f"ΔE {result.offset_urad[1]:+.1f} µrad")
    lines.append(f"flags: {result.flags_text()}")
    ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, va="top",
            ha="left", fontsize=8, family="monospace",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
