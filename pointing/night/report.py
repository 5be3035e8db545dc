"""The night's report: model files, observations, plots, summary.json and one HTML page.

Also translates the fitted geometry into what a field crew can do about it:
how far and which way to turn the base toward true north (IA), and which feet
to raise by how much to level it (AN, AW and the ``[base]`` geometry).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pointing.night.config import BaseGeometry
from pointing.night.log import _json
from pointing.units import ARCSEC as ARCSEC_RAD

if TYPE_CHECKING:
    from pointing.night.run import _Night

__all__ = ["crew_actions", "verification_stats", "write_report"]



def verification_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    """RMS and largest pointing error of the verification stars (µrad)."""
    rows = [r for r in records if r["kind"] == "verify" and r["status"] == "ok"
            and r.get("error_dx_urad") is not None
            and math.isfinite(r.get("error_dx_urad", math.nan))]
    dx = np.array([r["error_dx_urad"] for r in rows])
    de = np.array([r["error_de_urad"] for r in rows])
    radial = np.hypot(dx, de)
    return {"n": len(rows),
            "rms_urad": float(np.sqrt(np.mean(radial**2))) if rows else None,
            "max_urad": float(radial.max()) if rows else None,
            "rms_dx_urad": float(np.sqrt(np.mean(dx**2))) if rows else None,
            "rms_de_urad": float(np.sqrt(np.mean(de**2))) if rows else None,
            "stars": [{"hip": r["hip"], "az_deg": r.get("az_deg"), "el_deg": r.get("el_deg"),
                       "dx_urad": r["error_dx_urad"], "de_urad": r["error_de_urad"],
                       "found_by": r.get("error_found_by")} for r in rows]}


def crew_actions(values: dict[str, float], base: BaseGeometry) -> dict[str, Any]:
    """What the crew should do to the base, from IA, AN and AW (arcsec).

    The mount's encoder zero points at true azimuth −IA; the azimuth axis leans
    AN toward north and AW toward west.  Feet heights are the changes that
    bring the axis vertical (the lowest change set to zero, so only raises).
    """
    ia = values.get("IA", 0.0)
    an = values.get("AN", 0.0) * ARCSEC_RAD
    aw = values.get("AW", 0.0) * ARCSEC_RAD
    turn_deg = ia / 3600.0
    direction = "clockwise (toward east, seen from above)" if turn_deg > 0 else \
        "anticlockwise (toward west, seen from above)"
    rotate = (f"The mount's zero direction points {abs(turn_deg):.2f}° "
              f"{'west' if turn_deg > 0 else 'east'} of true north: turn the base "
              f"{abs(turn_deg):.2f}° {direction}, or keep it and let the model carry IA.")
    tilt_arcmin = math.hypot(an, aw) / ARCSEC_RAD / 60.0
    # plane of the base: the axis leans toward (north AN, west AW) → raise that side
    feet = []
    for name, az_mount_deg, radius in base.feet:
        phi = math.radians(az_mount_deg) - ia * ARCSEC_RAD  # foot's true azimuth
        north, east = radius * math.cos(phi), radius * math.sin(phi)
        feet.append((name, 1000.0 * (an * north - aw * east)))
    low = min(h for _, h in feet)
    rows = []
    for name, h in feet:
        raise_mm = h - low
        row = {"foot": name, "raise_mm": round(raise_mm, 2)}
        if base.screw_pitch_mm:
            row["turns"] = round(raise_mm / base.screw_pitch_mm, 2)
        rows.append(row)
    toward = math.degrees(math.atan2(-aw, an)) % 360.0
    level = (f"The azimuth axis leans {tilt_arcmin:.1f}′ toward azimuth {toward:.0f}° "
             "(north = 0°, east = 90°): raise " + ", ".join(
                 f"foot {r['foot']} by {r['raise_mm']:.2f} mm"
                 + (f" ({r['turns']:.2f} turns)" if "turns" in r else "")
                 for r in rows if r["raise_mm"] > 0.005) + ".")
    return {"rotate_base_deg": turn_deg, "rotate": rotate, "tilt_arcmin": tilt_arcmin,
            "tilt_toward_deg": toward, "feet": rows, "level": level}


def _records_table(records: list[dict[str, Any]]) -> Any:
    from astropy.table import Table

    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    cols = {}
    for k in keys:
        vals = [r.get(k) for r in records]
        if all((isinstance(v, int | float) and not isinstance(v, bool)) or v is None
               for v in vals):
            cols[k] = np.array([math.nan if v is None else float(v) for v in vals])
        else:
            cols[k] = np.array(["" if v is None else (json.dumps(v) if isinstance(v, list)
                                                       else str(v)) for v in vals])
    return Table(cols)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def write_report(night: _Night, results: dict[str, Any] | None, *,
                 failure: str | None = None) -> dict[str, Any]:
    """Write every file of the report into the night's folder; returns summary.json."""
    from pointing.model.formats import write_mod, write_tpoint
    from pointing.night.steps import photometry_results
    from pointing.plots.fit import error_scatter, plot_fit

    out = night.out
    files: dict[str, str] = {}
    hw = night.hw
    records = night.records
    skipped = [{"seq": r["seq"], "kind": r["kind"], "target": r["target"],
                "reason": r["reason"]} for r in records if r["status"] != "ok"]
    summary: dict[str, Any] = {
        "station": night.station.name,
        "night_id": night.night_id,
        "backend": hw.name,
        "status": "failed" if failure else "complete",
        "failure": failure,
        "start_utc": records[0]["time"] if records else None,
        "end_utc": hw.clock.now().utc.isot,
        "virtual_duration_s": None,
        "n_model_stars": sum(1 for r in records if r["kind"] == "model" and r["status"] == "ok"),
        "n_observations": len(records),
        "skipped": skipped,
    }
    start = night.db.night(night.night_id).started_utc
    from astropy.time import Time

    summary["virtual_duration_s"] = float((hw.clock.now() - Time(start)).sec)
    fit_result = results["fit"] if results else None
    if fit_result is not None:
        model = fit_result.model.replace(info={**fit_result.model.info,
                                               "created_utc": hw.clock.now().utc.isot})
        files["model_json"] = str(model.save(out / "model.json"))
        files["model_mod"] = str(write_mod(out / "model.mod", model))
        files["observations_dat"] = str(write_tpoint(out / "observations.dat",
                                                     fit_result.observations))
        files["fit_plot"] = str(plot_fit(fit_result, out / "fit_residuals.png"))
        summary["fit"] = fit_result.to_dict()
        if results.get("auto") is not None:
            summary["fit"]["auto"] = {"selected_terms": list(results["auto"].selected_terms),
                                      "rejected": list(results["auto"].rejected)}
        summary["crew_actions"] = crew_actions(model.values,
                                               BaseGeometry.from_section(
                                                   night.station.section("base")))
    ver = verification_stats(records)
    summary["verification"] = {k: ver[k] for k in ("n", "rms_urad", "max_urad")}
    summary["verification_detail"] = ver
    if ver["n"]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 6.5), constrained_layout=True)
        dx = np.array([s["dx_urad"] for s in ver["stars"]])
        de = np.array([s["de_urad"] for s in ver["stars"]])
        error_scatter(ax, dx, de, title=f"verification: {ver['n']} fresh stars pointed with "
                                        "the new model")
        path = out / "verification.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files["verification_plot"] = str(path)
    files["sky_plot"] = str(_sky_coverage(night, out / "sky_coverage.png"))
    if records:
        from pointing.photometry.table import write_observation_table

        table = _records_table(records)
        table.write(out / "observations_all.ecsv", format="ascii.ecsv", overwrite=True)
        files["observations_all_ecsv"] = str(out / "observations_all.ecsv")
        phot = photometry_results(night)
        if phot.get("table") is not None:
            files["observations_ecsv"] = str(write_observation_table(
                phot["table"], out / "observations.ecsv"))
        _photometry_summary(night, phot, summary, files, out)
    if hw.truth is not None:
        summary["truth"] = _truth(night, hw.truth)
        summary["noise_floor_urad"] = hw.noise_floor_urad
    summary["files"] = files
    summary["events"] = night.db.events(night.night_id)
    (out / "summary.json").write_text(_pretty(summary) + "\n", encoding="utf-8")
    files["summary"] = str(out / "summary.json")
    files["html"] = str(_html(night, summary, out / "report.html"))
    summary["files"] = files
    (out / "summary.json").write_text(_pretty(summary) + "\n", encoding="utf-8")
    return summary


def _pretty(value: Any) -> str:
    return json.dumps(json.loads(_json(value)), indent=2)


def _photometry_summary(night: _Night, phot: dict[str, Any], summary: dict[str, Any],
                        files: dict[str, str], out: Path) -> None:
    from pointing.plots.photometry import plot_efficiency, plot_noise_map, plot_noise_profile

    eff, bg, gng = phot.get("efficiency"), phot.get("background"), phot.get("go_no_go")
    if eff is not None:
        summary["efficiency"] = eff.to_dict()
        plot_efficiency(eff, out / "efficiency.png")
        files["efficiency_plot"] = str(out / "efficiency.png")
    else:
        summary["efficiency"] = {"error": phot.get("efficiency_error", "no star counts")}
    if bg is not None:
        summary["background"] = bg.to_dict()
        plot_noise_map(bg, out / "noise_map.png")
        plot_noise_profile(bg, out / "noise_profile.png")
        files["noise_map_plot"] = str(out / "noise_map.png")
        files["noise_profile_plot"] = str(out / "noise_profile.png")
    else:
        summary["background"] = {"error": phot.get("background_error", "no sky counts")}
    if gng is not None:
        summary["go_no_go"] = gng.to_dict()


def _truth(night: _Night, truth: dict[str, Any]) -> dict[str, Any]:
    out = dict(truth)
    try:
        from pointing.photometry.sky_model import Receiver, SkyBackgroundModel, truth_background

        bg_rows = [r for r in night.records if r["kind"] == "background" and r["status"] == "ok"]
        if bg_rows:
            maz = math.radians(float(np.nanmean([r["moon_az_deg"] for r in bg_rows])))
            mel = math.radians(float(np.nanmean([r["moon_el_deg"] for r in bg_rows])))
            ph = float(np.nanmean([r["moon_phase"] for r in bg_rows]))
            sky = (SkyBackgroundModel.city() if truth.get("sky") == "city"
                   else SkyBackgroundModel.rural())
            receiver = Receiver.from_station(night.station,
                                             efficiency=truth["efficiency"]["eta0"])
            out["background"] = truth_background(sky, receiver, moon_az=maz, moon_el=mel,
                                                 moon_phase=ph)
    except Exception as exc:  # the truth is informative only; never fail a report on it
        out["background_error"] = f"{type(exc).__name__}: {exc}"
    return out


def _sky_coverage(night: _Night, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6.5, 6.8), constrained_layout=True)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(1)  # east to the left: the sky seen from below
    styles = {"zero": ("*", "tab:red", "zero offsets"), "model": ("o", "tab:blue", "model"),
              "verify": ("s", "tab:green", "verification"),
              "background": ("x", "0.5", "background grid")}
    for kind, (marker, color, label) in styles.items():
        rows = [r for r in night.records if r["kind"] == kind and r.get("az_deg") is not None
                and r["status"] == "ok"]
        if rows:
            ax.scatter(np.radians([r["az_deg"] for r in rows]),
                       [90.0 - r["el_deg"] for r in rows], marker=marker, color=color,
                       label=f"{label} ({len(rows)})", s=30)
        bad = [r for r in night.records if r["kind"] == kind and r["status"] != "ok"]
        if bad:
            ax.scatter([], [], marker=marker, facecolors="none", edgecolors=color,
                       label=f"{label} skipped ({len(bad)})")
    ax.set_rlim(0, 90)
    ax.set_rticks([0, 30, 60, 90])
    ax.set_yticklabels(["90°", "60°", "30°", "0°"])
    ax.set_title(f"{night.station.name}: sky coverage of the night\n"
                 "north up, east left (as seen looking up); radius = zenith distance")
    ax.legend(loc="lower left", bbox_to_anchor=(-0.1, -0.12), fontsize="small", ncol=2)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _html(night: _Night, s: dict[str, Any], path: Path) -> Path:
    """A single self-contained HTML page (images inline)."""
    esc = html.escape

    def table(rows: list[list[Any]], head: list[str]) -> str:
        th = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>"
                       for r in rows)
        return f"<table><tr>{th}</tr>{body}</table>"

    parts = [f"<h1>Calibration night — {esc(s['station'])}</h1>",
             f"<p>Night {s['night_id']} on {esc(s['backend'])}; {esc(str(s['start_utc']))} → "
             f"{esc(str(s['end_utc']))} UTC; virtual duration "
             f"{(s['virtual_duration_s'] or 0) / 60:.1f} min; status <b>{esc(s['status'])}</b>"
             + (f": {esc(s['failure'])}" if s.get("failure") else "") + "</p>"]
    v = s.get("verification") or {}
    if v.get("n"):
        floor = s.get("noise_floor_urad")
        parts.append(f"<h2>Pointing</h2><p class=big>Verification RMS "
                     f"<b>{v['rms_urad']:.1f} µrad</b> on {v['n']} fresh stars "
                     f"(largest {v['max_urad']:.1f} µrad)"
                     + (f"; the simulator's noise floor is {floor:.1f} µrad" if floor else "")
                     + "</p>")
    fit = s.get("fit")
    if fit:
        truth = (s.get("truth") or {}).get("terms", {})
        rows = [[n, f"{t['value_arcsec']:+.2f}",
                 "fixed" if t["sigma_arcsec"] is None else f"{t['sigma_arcsec']:.2f}",
                 f"{truth[n]:+.2f}" if n in truth else ""] for n, t in fit["terms"].items()]
        parts.append("<h3>Model</h3>" + table(rows, ["term", "value ″", "sigma ″", "truth ″"])
                     + f"<p>{fit['n_used']} stars, sky RMS {fit['sky_rms_arcsec']:.2f}″ "
                       f"({fit['sky_rms_urad']:.1f} µrad), leave-one-out "
                       f"{fit['loo_rms_arcsec']:.2f}″</p>")
    crew = s.get("crew_actions")
    if crew:
        parts.append(f"<h2>For the field crew</h2><ul><li>{esc(crew['rotate'])}</li>"
                     f"<li>{esc(crew['level'])}</li></ul>")
    gng = s.get("go_no_go")
    if gng:
        parts.append(f"<h2>Go / no-go: <b>{esc(gng.get('verdict', ''))}</b></h2>"
                     + table([[c["name"], c.get("value"), c.get("limit"),
                               "yes" if c.get("passed") else "NO", c.get("text", "")]
                              for c in gng.get("checks", [])],
                             ["check", "value", "limit", "passed", "detail"]))
    eff = s.get("efficiency") or {}
    if "eta0" in eff:
        parts.append(f"<h2>Efficiency</h2><p>η₀ = {eff['eta0']:.3f} ± {eff['eta0_sigma']:.3f},"
                     f" extinction k = {eff['k_mag_per_airmass']:.3f} ± {eff['k_sigma']:.3f} "
                     f"mag/airmass; photometric: {eff.get('photometric')}</p>")
    bg = s.get("background") or {}
    if "zenith_cps" in bg:
        parts.append(f"<h2>Background</h2><p>zenith {bg['zenith_cps']:.0f} counts/s; "
                     f"rural-like above {bg.get('rural_like_above_deg')}° elevation</p>")
    for key in ("fit_plot", "verification_plot", "sky_plot", "efficiency_plot",
                "noise_map_plot", "noise_profile_plot"):
        p = s["files"].get(key)
        if p and Path(p).is_file():
            parts.append(_img(Path(p)))
    if s["skipped"]:
        parts.append("<h2>Skipped</h2>" + table([[k["seq"], k["kind"], k["target"], k["reason"]]
                                                  for k in s["skipped"]],
                                                 ["#", "step", "target", "why"]))
    parts.append("<h2>Log</h2><pre>" + esc("\n".join(f"{e['time_utc']} {e['level']:5s} "
                                                     f"{e['message']}" for e in s["events"]))
                 + "</pre>")
    css = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
           "img{max-width:100%;display:block;margin:1em 0}.big{font-size:1.3em}")
    path.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>Calibration "
                    f"night {s['night_id']} — {esc(s['station'])}</title><style>{css}</style>"
                    f"</head><body>{''.join(parts)}</body></html>\n", encoding="utf-8")
    return path
