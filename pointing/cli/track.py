"""``pointing track``: fly one pass (simulated, or a station's backend) and judge it."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from pointing.cli.options import add_model_option, load_model
from pointing.cli.pass_ import add_pass_options, load_passes
from pointing.cli.registry import arguments, command
from pointing.errors import PointingError


def _add(p: argparse.ArgumentParser) -> None:
    add_pass_options(p)
    p.add_argument("--pass", dest="pass_number", type=int, required=True, metavar="N",
                   help="the pass to fly (1-based, as `pointing pass` lists them)")
    p.add_argument("--simulate", action="store_true",
                   help="fly it on the simulated station (true orbit off the TLE, beacon, "
                        "image motion, servo mount)")
    p.add_argument("--backend", default=None, metavar="MODULE:FACTORY",
                   help="fly it on a station's devices (a Backend with a TrajectoryMount)")
    add_model_option(p, "the night's pointing model (default with --simulate: the simulated "
                        "station's true terms, i.e. a perfectly calibrated night)")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the files go")
    p.add_argument("--qkd-min-el", type=float, default=20.0, metavar="DEG",
                   help="the analysis counts locked samples at or above this (default 20)")
    g = p.add_argument_group("simulation")
    g.add_argument("--image-motion", type=float, default=3.0, metavar="URAD",
                   help="atmospheric tip-tilt, RMS per axis (default 3)")
    g.add_argument("--wind", type=float, default=15.0, metavar="M/S",
                   help="effective wind across the aperture (default 15)")
    g.add_argument("--beacon-el", type=float, default=0.0, metavar="DEG",
                   help="the satellite's beacon comes on once it has risen this high (after "
                        "it has seen the station's uplink beacon; default 0: from the start)")
    g.add_argument("--servo-bandwidth", type=float, default=8.0, metavar="HZ",
                   help="mount position-loop bandwidth (default 8; speed loop 5x)")
    g.add_argument("--timing-error", type=float, default=None, metavar="S",
                   help="the TLE's true along-track timing error (default: drawn, sigma 2 s)")
    g.add_argument("--cross-track", type=float, default=None, metavar="KM",
                   help="the TLE's true cross-track offset (default: drawn, sigma 1 km)")
    g = p.add_argument_group("tracking")
    g.add_argument("--rate", type=float, default=50.0, metavar="HZ",
                   help="tracking-camera frame rate (default 50)")
    g.add_argument("--loop-bandwidth", type=float, default=2.5, metavar="HZ",
                   help="closed-loop crossover on the tracking camera (default 2.5)")
    g.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after this long (default: the whole pass)")


def _backend(args: argparse.Namespace, station, sat, pass_):
    if args.simulate == bool(args.backend):
        raise PointingError("give exactly one of --simulate and --backend")
    if args.backend:
        from pointing.hardware.base import load_backend

        return load_backend(args.backend, station)
    from pointing.hardware.simulator.beacon import PassConfig, pass_station
    from pointing.hardware.simulator.satellite import TleError
    from pointing.hardware.simulator.servo import ServoConfig

    err = TleError.draw(args.seed)
    if args.timing_error is not None or args.cross_track is not None:
        err = TleError(err.timing_error_s if args.timing_error is None else args.timing_error,
                       err.cross_track_km if args.cross_track is None else args.cross_track,
                       err.radial_km)
    bw = args.servo_bandwidth
    if not (math.isfinite(bw) and 0.5 <= bw <= 20):
        raise PointingError(f"--servo-bandwidth {bw:g}: must be 0.5 .. 20 Hz")
    servo = ServoConfig(position_bandwidth_hz=bw, speed_bandwidth_hz=5 * bw,
                        rate_hz=max(500.0, 25 * bw))
    config = PassConfig(seed=args.seed, tle_error=err, image_motion_urad=args.image_motion,
                        wind_m_s=args.wind, servo=servo, beacon_on_el_deg=args.beacon_el)
    return pass_station(station, sat, pass_, config=config)


def _model(args: argparse.Namespace, station):
    from pointing.model import PointingModel

    if args.model or args.mod_plain_amp:
        return load_model(args)
    if not args.simulate:
        return None
    from pointing.hardware.simulator.station import SimulatorConfig

    sim = SimulatorConfig.from_section(station.section("simulator"))
    return PointingModel(list(sim.terms), list(sim.terms.values()))


def _cameras(station):
    from pointing.camera.config import Camera

    wide = dict(station.section("wide_camera") or {})
    wide.pop("aperture_m", None)
    if not wide:
        raise PointingError(f"station {station.name}: no [wide_camera] section: the pass "
                            "needs the wide acquisition camera's geometry")
    return Camera.from_config(station.section("camera")), Camera.from_config(wide)


def summary(record, analysis, backend, pass_) -> dict[str, Any]:
    """summary.json: the analysis plus the acquisition and feed-forward figures."""
    events = dict((name, t) for t, name in reversed(record.events))
    first = record.estimates[0] if record.estimates else None
    acq = {
        "open_loop_s": events.get("open loop"), "acquired_s": events.get("acquired"),
        "locked_s": events.get("locked"),
        "time_to_acquire_s": (None if "acquired" not in events
                              else events["acquired"] - events["open loop"]),
        "time_to_lock_s": (None if "locked" not in events or "acquired" not in events
                           else events["locked"] - events["acquired"]),
        "n_acquisitions": len(record.estimates),
        "n_lost": sum(1 for _, n in record.events if n == "lost"),
        "timing_error_estimate_s": first.time_offset_s if first else None,
        "timing_error_estimate_detections": first.n_detections if first else 0,
        "cross_track_estimate_urad": list(first.cross_urad) if first else None,
        "timing_error_final_s": record.time_offset_final_s,
        "events": [[round(t, 4), n] for t, n in record.events],
    }
    truth = backend.truth or {}
    true_dt = truth.get("tle_error", {}).get("timing_error_s")
    if true_dt is not None:
        acq["timing_error_true_s"] = true_dt
        if first:
            acq["timing_error_estimate_minus_true_s"] = first.time_offset_s - true_dt
        acq["timing_error_final_minus_true_s"] = record.time_offset_final_s - true_dt
    log = analysis.log
    counts = log.extra.get("counts")
    photons = None
    if counts is not None and (counts >= 0).any():
        sel = analysis.selected & (counts >= 0)
        seconds = analysis.duration_s
        photons = {"total": int(counts[counts >= 0].sum()), "selected": int(counts[sel].sum()),
                   "selected_rate_cps": (float(counts[sel].sum() / seconds) if seconds > 0
                                         else None)}
    return {"analysis": analysis.to_dict(), "acquisition": acq, "photon_counts": photons,
            "pass": pass_.to_dict(), "truth": truth or None, "backend": backend.name}


@command("track", "fly one satellite pass: open loop on the trajectory, acquire the beacon "
                  "in the wide camera, feed the TLE's timing error forward, close the loop "
                  "on the tracking camera; writes the tracking log, summary and Fig. 5")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    from pointing.passes import NoPassError, pass_trajectory
    from pointing.plots.tracking import plot_tracking, plot_tracking_spectrum
    from pointing.tracking import analyse_tracking, write_tracking_log
    from pointing.tracking.fly import FlyConfig, fly_pass

    if args.simulate == bool(args.backend):
        raise PointingError("give exactly one of --simulate and --backend")
    fly = FlyConfig(rate_hz=args.rate, loop_bandwidth_hz=args.loop_bandwidth,
                    max_duration_s=args.duration)
    fly.check()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise PointingError(f"--out {out}: exists and is not a directory")
    station, sat, passes = load_passes(args, "track")
    if not passes.passes:
        raise NoPassError(passes.no_pass_message())
    pass_ = passes.get(args.pass_number)
    tracking_cam, wide_cam = _cameras(station)
    traj = pass_trajectory(station, sat, pass_, _model(args, station))
    backend = _backend(args, station, sat, pass_)
    record = fly_pass(backend, traj, tracking_cam, wide_cam, fly)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PointingError(f"--out {out}: cannot create the directory: {exc}") from None
    meta = {"station": station.name, "satellite": sat.label, "pass": pass_.number,
            "backend": backend.name, "rate_hz": fly.rate_hz}
    log = record.to_log(str(traj.utc[0])[:26], meta)
    log_path = write_tracking_log(log, out / "tracking.ecsv")
    analysis = analyse_tracking(log, min_el_deg=args.qkd_min_el)
    doc = summary(record, analysis, backend, pass_)
    (out / "summary.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n",
                                      encoding="utf-8")
    plot_tracking(analysis, out / "tracking.png")
    plot_tracking_spectrum(analysis, out / "tracking_spectrum.png")
    print(_text(doc))
    for name in (log_path.name, "summary.json", "tracking.png", "tracking_spectrum.png"):
        print(f"wrote {out / name}")
    return 0


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "n/a" if v is None else f"{v:{spec}}"


def _text(doc: dict[str, Any]) -> str:
    a, q = doc["analysis"], doc["acquisition"]
    lines = [f"pass {doc['pass']['number']} ({doc['backend']}): acquired "
             f"{_fmt(q['time_to_acquire_s'], '.1f')} s after the start, locked "
             f"{_fmt(q['time_to_lock_s'], '.1f')} s later, lost {q['n_lost']} time(s)",
             f"  timing error: estimated {_fmt(q['timing_error_estimate_s'], '+.3f')} s from "
             f"{q['timing_error_estimate_detections']} detections, final "
             f"{_fmt(q['timing_error_final_s'], '+.3f')} s"
             + (f", true {q['timing_error_true_s']:+.3f} s" if "timing_error_true_s" in q
                else "")]
    if a["n_samples"]:
        lines.append(f"  locked at el >= {a['min_el_deg']:g} deg: RMS X {a['rms_x_urad']:.2f}, "
                     f"Y {a['rms_y_urad']:.2f}, total {a['rms_urad']:.2f} µrad; in the "
                     f"{a['fov_urad']:g} µrad field {100 * a['fraction_in_fov']:.2f} %; max "
                     f"{a['max_urad']:.1f} µrad")
    else:
        lines.append(f"  no locked samples at el >= {a['min_el_deg']:g} deg")
    return "\n".join(lines)
