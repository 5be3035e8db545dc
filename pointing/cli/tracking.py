"""``pointing tracking``: judge a tracked pass from its tracking log (Fig. 5 figures)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pointing.cli.registry import arguments, command
from pointing.link.coupling import DEFAULT_SPOT_FWHM_URAD


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", help="tracking log: ECSV in the toolkit's format, or a CSV "
                               "(with --columns when its column names differ)")
    p.add_argument("--min-el", type=float, default=20.0, metavar="DEG",
                   help="only locked samples at or above this elevation count (default 20)")
    p.add_argument("--fov-urad", type=float, default=100.0, metavar="URAD",
                   help="receiving field's full width; inside = radial offset < half of it "
                        "(default 100)")
    p.add_argument("--spot-urad", type=float, default=DEFAULT_SPOT_FWHM_URAD, metavar="URAD",
                   help="FWHM of the received spot for the pointing loss "
                        f"(default {DEFAULT_SPOT_FWHM_URAD:g})")
    p.add_argument("--columns", metavar="NAME=COL,...",
                   help="read the log as CSV, mapping log columns to the file's, e.g. "
                        "time=t,x_urad=dx,y_urad=dy,el_deg=elev,locked=lock")
    p.add_argument("--offset-scale", default="1", metavar="FACTOR|UNIT",
                   help="CSV only: multiply the offsets by this to get µrad, or name their "
                        "unit (urad, mrad, rad, arcsec, deg); default 1")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--plot", metavar="PATH",
                   help="write the Fig. 5-style PNG (errors against time, elevation); "
                        "the spectrum goes beside it as PATH_spectrum.png")


def _read(args: argparse.Namespace):
    from pointing.tracking import (
        parse_column_mapping,
        parse_offset_scale,
        read_tracking_csv,
        read_tracking_log,
    )

    path = Path(args.log)
    scale = parse_offset_scale(args.offset_scale)
    if args.columns is not None or path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return read_tracking_csv(path, parse_column_mapping(args.columns or ""),
                                 offset_scale=scale)
    return read_tracking_log(path)


@command("tracking", "Judge a tracked pass from its tracking log: RMS per axis over the "
                     "locked samples above --min-el, time in the receiving field, largest "
                     "excursion, lock time, error spectrum, pointing loss and key cost")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    from pointing.tracking import analyse_tracking

    log = _read(args)
    result = analyse_tracking(log, min_el_deg=args.min_el, fov_urad=args.fov_urad,
                              spot_fwhm_urad=args.spot_urad)
    if args.plot:
        from pointing.plots.tracking import plot_tracking, plot_tracking_spectrum

        plot = Path(args.plot)
        plot_tracking(result, plot)
        plot_tracking_spectrum(result, plot.with_name(plot.stem + "_spectrum.png"))
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(_text(result))
    return 0


def _fmt(v: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def _text(r) -> str:
    d = r.to_dict()
    if r.n_samples == 0:
        head = f"{d['source']}: no locked samples at el ≥ {r.min_el_deg:g}° " \
               f"({d['n_log_samples']} samples in the log)"
    else:
        head = (f"{d['source']}: {r.n_samples} locked samples at el ≥ {r.min_el_deg:g}° "
                f"({r.duration_s:.1f} s): RMS X {r.rms_x_urad:.2f} µrad, "
                f"Y {r.rms_y_urad:.2f} µrad, total {r.rms_urad:.2f} µrad")
    lines = [head]
    if r.n_samples:
        lines.append(f"  in the {r.fov_urad:g} µrad field {100 * r.fraction_in_fov:.2f} % of the "
                     f"time; largest excursion {r.max_urad:.1f} µrad at {r.max_time_s:.1f} s; "
                     f"mean X {r.mean_x_urad:+.2f}, Y {r.mean_y_urad:+.2f} µrad")
    lines.append(f"  acquisition at {_fmt(d['acquisition_time_s'], '.1f', ' s')}, lock "
                 f"{_fmt(d['lock_time_s'], '.1f', ' s')} later, {r.n_lock_losses} lock loss(es)")
    lines.append(f"  error spectrum corner: X {_fmt(d['psd_corner_x_hz'], '.2f', ' Hz')}, "
                 f"Y {_fmt(d['psd_corner_y_hz'], '.2f', ' Hz')}")
    if r.n_samples:
        lines.append(f"  pointing loss {r.pointing_loss_db:.3g} dB against the field "
                     f"(spot {r.spot_fwhm_urad:g} µrad FWHM): key cost "
                     f"{100 * r.key_cost_fraction:.3g} %")
    return "\n".join(lines)
