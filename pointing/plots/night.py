"""Figures of the calibration night: verification errors, a station's history.

Plot functions take ``(result, path=None, ax=None)`` and return the Figure;
they write a PNG when *path* is given.  No backend is switched here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pointing.plots.figure import new_figure, save
from pointing.plots.fit import error_scatter

__all__ = ["plot_history", "plot_quick_and_full", "plot_verification"]


def plot_verification(verification: dict[str, Any], path: str | Path | None = None,
                      ax: Any = None) -> Any:
    """The reference paper's Fig. 4 for the night's verification stars (µrad).

    *verification* is :func:`pointing.night.analysis.verification_stats`'s dict.
    """
    if ax is None:
        ax = new_figure((6.5, 6.5)).add_subplot()
    dx = np.array([s["dx_urad"] for s in verification["stars"]], dtype=float)
    de = np.array([s["de_urad"] for s in verification["stars"]], dtype=float)
    error_scatter(ax, dx, de, title=f"verification: {verification['n']} fresh stars pointed "
                                    "with the new model")
    return save(ax.figure, path)


def plot_quick_and_full(quick: dict[str, Any], verification: dict[str, Any],
                        path: str | Path | None = None, ax: Any = None) -> Any:
    """Fig. 4 twice, side by side and on one scale: the verification stars pointed with a
    quick calibration (a few stars, the basic terms) and with the night's full model.

    *quick* is :func:`pointing.night.analysis.quick_calibration`'s dict,
    *verification* :func:`pointing.night.analysis.verification_stats`'; *ax*:
    two axes.
    """
    if ax is None:
        ax = new_figure((12.0, 6.0)).subplots(1, 2)
    left, right = ax
    qx = np.array([s["dx_urad"] for s in quick["stars"]], dtype=float)
    qy = np.array([s["de_urad"] for s in quick["stars"]], dtype=float)
    fx = np.array([s["dx_urad"] for s in verification["stars"]], dtype=float)
    fy = np.array([s["de_urad"] for s in verification["stars"]], dtype=float)
    error_scatter(left, qx, qy, title=f"quick calibration: {' '.join(quick['terms'])} on "
                                      f"{quick['n_stars']} stars")
    error_scatter(right, fx, fy, title="the night's full model")
    lim = 1.1 * max(np.max(np.abs(np.concatenate([qx, qy, fx, fy])), initial=1.0), 1.0)
    for a in (left, right):
        a.set_xlim(-lim, lim)
        a.set_ylim(-lim, lim)
    left.figure.suptitle(f"the same {quick['n']} verification stars, one scale: what the "
                         "model buys")
    return save(left.figure, path)


def plot_history(rows: list[dict[str, Any]], path: str | Path | None = None, ax: Any = None,
                 *, station: str = "", limit_urad: float = 100.0) -> Any:
    """Verification RMS (µrad) and model coefficients (arcsec) of a station, night by night.

    Reads with one night (points, the x range padded) as with a hundred (lines,
    thinned ticks); the receiving-field limit is drawn only when the data come
    near it, otherwise written on the panel so it does not squash the RMS flat.
    Simulated nights are drawn hollow.  *ax*: two axes (RMS, coefficients).
    """
    if ax is None:
        ax = new_figure((9, 7)).subplots(2, 1, sharex=True)
    ax_rms, ax_terms = ax
    fig = ax_rms.figure
    x = np.arange(len(rows))
    many = len(rows) > 30
    style = dict(ls="-" if len(rows) > 1 else "none", marker="" if many else "o", ms=5)
    sim = np.array([bool(r.get("simulated")) for r in rows], dtype=bool)
    rms = np.array([np.nan if r["verification_rms_urad"] is None else r["verification_rms_urad"]
                    for r in rows], dtype=float)
    ax_rms.plot(x, rms, color="tab:red", **style)
    if sim.any() and not many:
        ax_rms.plot(x[sim], rms[sim], "o", mfc="white", mec="tab:red", ls="none",
                    label="simulated night")
        ax_rms.legend(fontsize="small")
    top = float(np.nanmax(rms)) if np.isfinite(rms).any() else limit_urad
    if top >= limit_urad / 3:
        ax_rms.axhline(limit_urad, color="0.5", ls="--", lw=1)
        ax_rms.text(0.01, limit_urad, f" receiving field {limit_urad:g} µrad", va="bottom",
                    color="0.4", transform=ax_rms.get_yaxis_transform())
        ax_rms.set_ylim(0, max(top, limit_urad) * 1.15)
    else:
        ax_rms.set_ylim(0, top * 1.4)
        ax_rms.text(0.99, 0.95, f"receiving-field limit {limit_urad:g} µrad: off scale above",
                    ha="right", va="top", color="0.4", transform=ax_rms.transAxes,
                    fontsize="small")
    last = rms[np.isfinite(rms)]
    ax_rms.set_title((f"{station}: " if station else "") + f"{len(rows)} night"
                     + ("s" if len(rows) != 1 else "")
                     + (f"; last verification RMS {last[-1]:.1f} µrad" if last.size else ""))
    ax_rms.set_ylabel("verification RMS (µrad)")
    ax_rms.grid(True, alpha=0.3)
    terms = sorted({t for r in rows for t in r["terms"]} - {"IA"})
    for t in terms:
        ax_terms.plot(x, [r["terms"].get(t, np.nan) for r in rows], label=t, **style)
    ax_terms.set_ylabel("coefficient (arcsec)")
    ax_terms.set_title("model coefficients (IA not shown: it is the compass setting)",
                       fontsize="medium")
    ax_terms.grid(True, alpha=0.3)
    if terms:
        ax_terms.legend(ncol=min(len(terms), 7), fontsize="small")
    step = max(1, len(rows) // 10)
    ax_terms.set_xticks(x[::step])
    ax_terms.set_xticklabels([f"{r['night_id']}\n{r['started_utc'][:10]}" for r in rows][::step],
                             fontsize="small")
    ax_terms.set_xlim(-0.6 if len(rows) > 1 else -1, len(rows) - 0.4 if len(rows) > 1 else 1)
    ax_terms.set_xlabel("night (station log id, start date UTC)")
    save(fig, path)
    return fig
