"""The night's report: model files, observation tables, figures, summary.json, one HTML page.

Render only: :func:`write_report` receives the
:class:`~pointing.night.analysis.NightResults` (every number already computed
by :mod:`pointing.night.analysis`), writes the files and draws through
:mod:`pointing.plots`.  The HTML page is built for a tired operator at 3 a.m.:
the verdict as a coloured banner first, then the headline numbers, what the
field crew should do, the figures in a grid that reflows to a phone's width,
the detail tables, and the whole log of the night.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from pointing.model.formats import write_mod, write_tpoint
from pointing.night.analysis import NightResults
from pointing.night.log import to_json
from pointing.photometry.table import write_observation_table
from pointing.plots.fit import plot_fit
from pointing.plots.night import plot_quick_and_full, plot_verification
from pointing.plots.photometry import plot_efficiency, plot_noise_map, plot_noise_profile
from pointing.plots.sky import plot_sky_coverage
from pointing.units import URAD_PER_ARCSEC

__all__ = ["NOISE_FLOOR_TEXT", "write_report"]

#: the one line that says what the simulator's noise floor is made of
NOISE_FLOOR_TEXT = ("the pointing error a perfect model would still leave in one pointing: "
                    "mount repeatability, seeing image motion in one exposure, encoder steps "
                    "and the drive's gear harmonics no model term describes; a fit can absorb "
                    "part of the harmonics, so verification may come in a little below it")


def write_report(out: Path, results: NightResults) -> dict[str, Any]:
    """Write every file of the report into *out*; returns summary.json's content."""
    summary = dict(results.summary)
    files: dict[str, str] = {}
    fitted = results.fit
    if fitted is not None:
        r = fitted.result
        model = r.model.replace(info={**r.model.info, "created_utc": summary["end_utc"]})
        files["model_json"] = str(model.save(out / "model.json"))
        files["model_mod"] = str(write_mod(out / "model.mod", model))
        files["observations_dat"] = str(write_tpoint(out / "observations.dat", r.observations))
        plot_fit(r, out / "fit_residuals.png")
        files["fit_plot"] = str(out / "fit_residuals.png")
    if results.verification.get("n"):
        plot_verification(results.verification, out / "verification.png")
        files["verification_plot"] = str(out / "verification.png")
        if summary.get("quick_calibration"):
            plot_quick_and_full(summary["quick_calibration"], results.verification,
                                out / "quick_and_full.png")
            files["quick_and_full_plot"] = str(out / "quick_and_full.png")
    plot_sky_coverage(results.records, out / "sky_coverage.png", station=summary["station"])
    files["sky_plot"] = str(out / "sky_coverage.png")
    if results.records:
        _records_table(results.records).write(out / "observations_all.ecsv",
                                              format="ascii.ecsv", overwrite=True)
        files["observations_all_ecsv"] = str(out / "observations_all.ecsv")
    phot = results.photometry
    if phot.get("table") is not None:
        files["observations_ecsv"] = str(write_observation_table(phot["table"],
                                                                 out / "observations.ecsv"))
    if phot.get("efficiency") is not None:
        plot_efficiency(phot["efficiency"], out / "efficiency.png")
        files["efficiency_plot"] = str(out / "efficiency.png")
    if phot.get("background") is not None:
        plot_noise_map(phot["background"], out / "noise_map.png")
        plot_noise_profile(phot["background"], out / "noise_profile.png")
        files["noise_map_plot"] = str(out / "noise_map.png")
        files["noise_profile_plot"] = str(out / "noise_profile.png")
    files["summary"] = str(out / "summary.json")
    files["html"] = str(out / "report.html")
    summary["files"] = files
    (out / "summary.json").write_text(_pretty(summary) + "\n", encoding="utf-8")
    (out / "report.html").write_text(render_html(summary), encoding="utf-8")
    return summary


def _pretty(value: Any) -> str:
    return json.dumps(json.loads(to_json(value)), indent=2)


def _records_table(records: list[dict[str, Any]]) -> Table:
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


# -- HTML ----------------------------------------------------------------------------

_esc = html.escape


def num(value: Any, digits: int = 1, unit: str = "", *, sign: bool = False) -> str:
    """A number to *digits* decimals with its unit; "–" when missing."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        return "–"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return f"{text}{'' if not unit or unit in '°″′' else ' '}{unit}"


def _table(rows: list[list[Any]], head: list[str], cls: str = "") -> str:
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{th}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _check_value(c: dict[str, Any]) -> str:
    v = c.get("value")
    if isinstance(v, bool) or v is None:
        return "yes" if v is True else ("no" if v is False else "not measured")
    digits = 0 if c.get("unit") in ("counts/s", "stars") else (3 if not c.get("unit") else 1)
    if "condition" in c["name"]:
        return f"{v:.3g}"
    return num(v, digits, c.get("unit", ""))


def _banner(s: dict[str, Any]) -> str:
    g = s.get("go_no_go") or {}
    verdict = g.get("verdict", "FAIL")
    failed = [c["text"] for c in g.get("checks", []) if not c.get("passed")]
    why = ("every check passed" if verdict == "PASS"
           else "; ".join(failed) or (s.get("failure") or "nothing could be checked"))
    sim = " · SIMULATED" if s.get("simulated") else ""
    return (f'<header class="banner {verdict.lower()}" id="verdict"><div class="verdict">'
            f"{_esc(verdict)}</div><div><b>{_esc(s['station'])}</b> · night {s['night_id']}"
            f"{sim} · {_esc(str(s['start_utc'] or '')[:16])} → {_esc(str(s['end_utc'])[:16])}"
            f" UTC<br>{_esc(why)}</div></header>")


def _headline(s: dict[str, Any]) -> str:
    v = s.get("verification") or {}
    eff = s.get("efficiency") or {}
    bg = s.get("background") or {}
    fit = s.get("fit") or {}
    items = []
    if v.get("n"):
        rms = v["rms_urad"]
        items.append(("pointing (verification RMS)",
                      f"{num(rms, 1, 'µrad')} <small>({num(rms / URAD_PER_ARCSEC, 2, '″')}) on "
                      f"{v['n']} fresh stars; worst {num(v['max_urad'], 1, 'µrad')}</small>"))
    else:
        items.append(("pointing (verification RMS)", "not measured"))
    quick = s.get("quick_calibration")
    if quick:
        items.append(("quick calibration, same stars",
                      f"{num(quick['rms_urad'], 1, 'µrad')} <small>({' '.join(quick['terms'])} "
                      f"on {quick['n_stars']} stars; worst {num(quick['max_urad'], 1, 'µrad')})"
                      "</small>"))
    if "eta0" in eff:
        items.append(("efficiency η₀ (zenith, outside the atmosphere)",
                      f"{num(eff['eta0'], 3)} ± {num(eff['eta0_sigma'], 3)}"))
        items.append(("extinction k", f"{num(eff['k_mag_per_airmass'], 3)} ± "
                      f"{num(eff['k_sigma'], 3)} mag/airmass"))
    else:
        items.append(("efficiency", _esc(eff.get("error", "not measured"))))
    if "zenith_cps" in bg:
        noise = next((c for c in (s.get("go_no_go") or {}).get("checks", [])
                      if c["name"].startswith("noise_at")), None)
        at20 = (f"{num(noise['value'], 0, 'counts/s')} at "
                f"{noise['name'].split('_')[2].removesuffix('deg')}° (worst azimuth), "
                if noise and noise.get("value") is not None else "")
        items.append(("background", f"{at20}{num(bg['zenith_cps'], 0, 'counts/s')} at the "
                                    "zenith"))
    else:
        items.append(("background", _esc(bg.get("error", "not measured"))))
    if fit:
        items.append(("model", f"{len([t for t in fit['terms'].values() if not t['fixed']])}"
                               f" terms on {fit['n_used']} stars, sky RMS "
                               f"{num(fit['sky_rms_urad'], 1, 'µrad')} "
                               f"({num(fit['sky_rms_arcsec'], 2, '″')})"))
    rows = "".join(f"<div class=kv><span>{_esc(k)}</span><b>{val}</b></div>" for k, val in items)
    floor = s.get("noise_floor_urad")
    note = (f'<p class="note">Noise floor {num(floor, 1, "µrad")} (simulator): '
            f"{_esc(NOISE_FLOOR_TEXT)}.</p>" if floor else "")
    return f'<section id="headline"><h2>Headline</h2><div class="grid kvs">{rows}</div>{note}' \
           "</section>"


def _crew(s: dict[str, Any]) -> str:
    crew = s.get("crew_actions")
    if not crew:
        return ""
    return (f'<section id="crew"><h2>For the field crew</h2><ol><li>{_esc(crew["rotate"])}'
            f"</li><li>{_esc(crew['level'])}</li></ol></section>")


def _passes(s: dict[str, Any]) -> str:
    """Tonight's passes with their forecast key (stations with a ``[passes]`` section)."""
    tp = s.get("passes")
    if not tp:
        return ""
    if tp.get("error"):
        return (f'<section id="passes"><h2>Tonight\'s passes</h2><p class="note">not '
                f"forecast: {_esc(tp['error'])}</p></section>")
    rows = [[p["number"], p["rise"][:19].replace("T", " "), num(p["max_el_deg"], 1, "°"),
             num(p["usable_s"], 0, " s"), num(p["sifted_kbit"], 1, " kbit"),
             f"{p['key_bits']:,} bits", "GO" if p["go"] else "NO-GO"] for p in tp["passes"]]
    head = ["pass", "rise (UTC)", "max el", "usable", "sifted key", "secure key", "verdict"]
    intro = (f"{_esc(tp['satellite'])} in the {num(tp['hours'], 0)} h from "
             f"{_esc(tp['start'][:16].replace('T', ' '))} UTC: {len(tp['passes'])} of "
             f"{tp['n_passes']} passes usable for QKD (station dark, satellite in Earth's "
             f"shadow), forecast for source {_esc(tp['source'])} with tonight's calibration; "
             f"GO from {tp['min_key_bits']:,.0f} bits.")
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in tp.get("notes", []))
    table = _table(rows, head) if rows else "<p>no usable pass in the window</p>"
    return (f'<section id="passes"><h2>Tonight\'s passes</h2><p>{intro}</p>{notes}'
            f"{table}</section>")


_LABELS = {"zero_offset_star": "zero-offset star found",
           "model_condition_number": "model well determined (condition number)",
           "verification_stars": "verification stars measured",
           "verification_rms_urad": "verification RMS",
           "worst_verification_urad": "worst verification star",
           "eta0": "efficiency η₀", "photometric": "photometric sky"}


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    if name.startswith("noise_at_"):
        return f"noise at {name.split('_')[2].removesuffix('deg')}° elevation (worst azimuth)"
    if name.startswith("total_efficiency_at_"):
        return f"efficiency at {name.split('_')[3].removesuffix('deg')}° elevation"
    return name.replace("_", " ")


def _checks(s: dict[str, Any]) -> str:
    g = s.get("go_no_go") or {}
    rows = [[_label(c["name"]), _check_value(c),
             "required" if isinstance(c["limit"], bool) else
             ("≥ " if c["name"] in ("eta0", "verification_stars")
              or c["name"].startswith("total_eff") else "≤ ")
             + _check_value({**c, "value": c["limit"]}),
             "pass" if c.get("passed") else "FAIL"] for c in g.get("checks", [])]
    notes = "".join(f"<li>{_esc(n)}</li>" for n in g.get("notes", []))
    return ('<section id="checks"><h2>Go / no-go checks</h2>'
            + _table(rows, ["check", "value", "limit", "result"], "checks")
            + (f"<ul>{notes}</ul>" if notes else "") + "</section>")


def _figures(s: dict[str, Any]) -> str:
    captions = {"fit_plot": "fit residuals", "verification_plot": "verification errors",
                "quick_and_full_plot": "quick calibration against the full model",
                "sky_plot": "sky coverage", "efficiency_plot": "efficiency against airmass",
                "noise_map_plot": "background map", "noise_profile_plot": "background profile"}
    figs = [_img(Path(s["files"][k]), c) for k, c in captions.items()
            if s["files"].get(k) and Path(s["files"][k]).is_file()]
    return f'<section id="figures"><h2>Figures</h2><div class="grid figs">{"".join(figs)}' \
           "</div></section>" if figs else ""


def _details(s: dict[str, Any]) -> str:
    parts = ['<section id="details"><h2>Details</h2>']
    fit = s.get("fit")
    if fit:
        truth = (s.get("truth") or {}).get("terms", {})
        rows = [[n, num(t["value_arcsec"], 2, "″", sign=True),
                 "fixed" if t["sigma_arcsec"] is None else num(t["sigma_arcsec"], 2, "″"),
                 num(truth.get(n), 2, "″", sign=True) if n in truth else ""]
                for n, t in fit["terms"].items()]
        parts.append("<h3>Model</h3>" + _table(rows, ["term", "value", "σ", "truth"])
                     + f"<p>{fit['n_used']} of {fit['n_obs']} stars used; sky RMS "
                     f"{num(fit['sky_rms_urad'], 1, 'µrad')} "
                     f"({num(fit['sky_rms_arcsec'], 2, '″')}); leave-one-out "
                     f"{num(fit['loo_rms_arcsec'] * URAD_PER_ARCSEC, 1, 'µrad')} "
                     f"({num(fit['loo_rms_arcsec'], 2, '″')}); condition number "
                     f"{fit['condition_number']:.3g}</p>")
    ver = s.get("verification_detail") or {}
    if ver.get("stars"):
        rows = [[f"HIP {v['hip']}", num(v["az_deg"], 1, "°"), num(v["el_deg"], 1, "°"),
                 num(v["dx_urad"], 1, "µrad", sign=True), num(v["de_urad"], 1, "µrad", sign=True),
                 num(v.get("error_urad"), 1, "µrad"), v.get("found_by")]
                for v in ver["stars"]]
        parts.append("<h3>Verification stars</h3>" + _table(
            rows, ["star", "azimuth", "elevation", "ΔA·cosE", "ΔE", "error", "found by"]))
    eff = s.get("efficiency") or {}
    if "eta0" in eff:
        parts.append(f"<h3>Efficiency</h3><p>{eff['n_used']} stars; photometric: "
                     f"{'yes' if eff.get('photometric') else 'no'}"
                     + (f" ({_esc(eff['photometric_reason'])})"
                        if eff.get("photometric_reason") else "")
                     + f"; scatter {num(eff.get('scatter_mag'), 3, 'mag')}</p>")
    bg = s.get("background") or {}
    if "zenith_cps" in bg:
        parts.append(f"<h3>Background</h3><p>zenith {num(bg['zenith_cps'], 0, 'counts/s')}; "
                     "rural-like above "
                     f"{num(bg.get('rural_like_above_deg'), 0, '°')} elevation (worst "
                     f"azimuth: above {num(bg.get('rural_like_above_worst_deg'), 0, '°')})</p>")
    if s["skipped"]:
        parts.append("<h3>Skipped</h3>" + _table(
            [[k["seq"], k["kind"], k["target"], k["reason"]] for k in s["skipped"]],
            ["#", "step", "target", "why"]))
    return "".join(parts) + "</section>"


_CSS = """
*{box-sizing:border-box}body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#111}
main{max-width:1200px;margin:auto;padding:0 12px 2em}
.banner{display:flex;gap:16px;align-items:center;padding:14px 16px;color:#fff}
.banner.pass{background:#17803d}.banner.fail{background:#b91c1c}
.verdict{font-size:2.4em;font-weight:800;letter-spacing:.05em}
.grid{display:grid;gap:12px}.kvs{grid-template-columns:repeat(auto-fit,minmax(260px,1fr))}
.kv{border:1px solid #ddd;border-radius:6px;padding:8px 10px}
.kv span{display:block;color:#555;font-size:.85em}.kv b{font-size:1.25em}
.figs{grid-template-columns:repeat(auto-fit,minmax(340px,1fr))}
figure{margin:0;border:1px solid #eee;padding:4px}img{width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#555;text-align:center}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;white-space:nowrap}
pre{white-space:pre-wrap;word-break:break-word;font-size:.8em;background:#f6f6f6;padding:8px}
.note{color:#444;font-size:.9em}
@media (max-width:600px){.banner{flex-direction:column;align-items:flex-start}
.verdict{font-size:2em}body{font-size:15px}table.checks td{white-space:normal}}
"""


def render_html(s: dict[str, Any]) -> str:
    """The self-contained page (images inline) for a night's summary."""
    log = "\n".join(f"{e['time_utc'][:19]} {e['level']:5s} {e['message']}"
                    for e in s.get("events", []))
    parts = [_banner(s), "<main>", _headline(s), _crew(s), _passes(s), _checks(s),
             _figures(s),
             _details(s),
             f'<section id="log"><h2>Log ({len(s.get("events", []))} lines)</h2><pre>'
             f"{_esc(log)}</pre></section>", "</main>"]
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_esc((s.get('go_no_go') or {}).get('verdict', ''))} — calibration night "
            f"{s['night_id']} — {_esc(s['station'])}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
