"""The calibration night: acquire, observe, fit, verify, measure efficiency and noise.

:func:`run_night` drives any :class:`~pointing.hardware.base.Backend` through
the steps of the domain brief and writes everything into the station log as
it happens (:mod:`pointing.night.log`), then the report
(:mod:`pointing.night.report`):

1. **Zero offsets** — point at a bright, isolated star with the current
   model; if the wide camera does not show it (a compass setup can be off by
   degrees), search in a spiral of overlapping wide-camera fields; centre it
   on the tracking camera's calibration pixel; fit IA and IE to it.
2. **Stars** — select and order the calibration stars
   (:func:`pointing.sky.select.select_stars`).
3. **Observe** each: slew with the current model, track, expose, measure
   (:func:`pointing.camera.measure_star`); a miss is searched for with the
   wide camera, a flagged frame retried with a better exposure; centre the
   star, record true and raw positions, count photons on the star and beside
   it.  After four stars a provisional model (IA IE AN AW) keeps the next ones
   in the tracking camera.
4. **Fit** the station's term list (or ``auto``) and write the model.
5. **Verify** on fresh stars: the offset of each from the calibration pixel,
   pointing with the new model, is the number of the reference paper's Fig. 4.
6. **Background** on a grid of blank-sky positions, then efficiency,
   extinction and noise maps from all counts.

Every observation is committed to the log with the backend's state; with
``resume=True`` an interrupted night continues where it stopped and, on a
deterministic backend, ends with the same observations as an uninterrupted one.
Faults (timeouts, limits, clouds, lost stars) are logged and the star skipped.

Before the mount moves, :func:`preflight` validates every station section the
night reads, the output folder and the Sun; one night runs per output folder
and per log at a time (:class:`~pointing.night.log.NightLock`).  The state of
the night is :class:`~pointing.night.state.Night`; pointing and measuring are
in :mod:`pointing.night.acquire`, the order of the steps in
:mod:`pointing.night.steps`, the numbers in :mod:`pointing.night.analysis`, the
files in :mod:`pointing.night.report`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pointing.camera.config import Camera, wide_camera_section
from pointing.config.station import Station
from pointing.errors import ConfigError, PointingError
from pointing.hardware.base import Backend, ConnectionLost, HardwareError
from pointing.model.model import PointingModel
from pointing.night.analysis import FitOutcome, analyse
from pointing.night.config import BaseGeometry, NightConfig
from pointing.night.log import NightLock, StationLog, default_log_path
from pointing.night.report import write_report
from pointing.night.state import Night, NightInterrupted
from pointing.night.steps import run_steps
from pointing.photometry.background import BackgroundConfig
from pointing.photometry.config import DetectorConfig, PhotometryConfig
from pointing.photometry.gonogo import Thresholds
from pointing.sky.places import sun_altaz

__all__ = ["NightInterrupted", "log_path_for", "preflight", "run_night"]


def log_path_for(station: Station, backend: Backend, cfg: NightConfig,
                 log_path: str | Path | None = None) -> Path:
    """The station log a night writes to.

    An explicit *log_path* wins.  A simulated backend never writes to the real
    station's log (``[night] log_path`` or the default): its nights go to
    ``<station>-simulated.sqlite`` (:func:`~pointing.night.log.default_log_path`).
    """
    if log_path is not None:
        return Path(log_path).expanduser()
    if backend.simulated:
        return default_log_path(station.name, simulated=True)
    return Path(cfg.log_path).expanduser() if cfg.log_path else default_log_path(station.name)


def check_output_folder(out: Path) -> None:
    """Create the report folder and prove it writable, before anything moves."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write the report there "
                          f"({exc.strerror or exc})") from None


def preflight(station: Station, backend: Backend, cfg: NightConfig) -> PointingModel:
    """Validate everything the night will read, before the first slew.

    Every station section the night uses (camera, wide camera, photometry,
    detectors, background, base, thresholds, model), the backend's devices, and the Sun:
    ConfigError / PointingError naming the section, key or condition.
    Returns the model to start with.
    """
    Camera.from_config(station.section("camera"))
    Camera.from_config(wide_camera_section(station)[0])
    PhotometryConfig.from_station(station)
    DetectorConfig.from_station(station)
    BackgroundConfig.from_station(station)
    BaseGeometry.from_section(station.section("base"))
    Thresholds.from_station(station)
    model = _station_model(station)
    for name in ("clock", "mount", "tracking_camera"):
        if getattr(backend, name, None) is None:
            raise ConfigError(f"backend {backend.name}: no {name.replace('_', ' ')}")
    if not (cfg.daylight or backend.sees_stars_in_daylight):
        el = float(np.degrees(sun_altaz(station, backend.clock.now())[1]))
        if el > cfg.sun_max_el_deg:
            raise PointingError(
                f"the Sun is {el:.0f}° up at {station.name} at "
                f"{backend.clock.now().utc.isot[:16]} UTC (night.sun_max_el_deg "
                f"{cfg.sun_max_el_deg:g}°): a calibration night needs stars; start after "
                "dusk, or allow daylight explicitly (--daylight, [night] daylight = true)")
    return model


def run_night(station: Station, backend: Backend, out_dir: str | Path, *,
              config: NightConfig | None = None, log_path: str | Path | None = None,
              resume: bool = False, initial_model: PointingModel | None = None,
              interrupt_after: int | None = None, progress: bool | None = None
              ) -> dict[str, Any]:
    """Run (or resume) a calibration night and write its report into ``out_dir``.

    Parameters
    ----------
    station : pointing.config.station.Station
    backend : Backend
        The devices (the simulator, INDI, or a station's own adapter).
    out_dir : str or Path
        Where the report goes (created; must be writable: checked first).
    config : NightConfig, optional
        Default: the station's ``[night]`` section.
    log_path : str or Path, optional
        The station log (default: :func:`log_path_for`: ``[night] log_path`` or
        the per-station default; a simulated backend's own log).
    resume : bool
        Continue the station's last unfinished night instead of starting anew.
    initial_model : PointingModel, optional
        The model to point with at first (default: the station's ``[model]``
        section, else zero offsets only).
    interrupt_after : int, optional
        Stop with :class:`NightInterrupted` after that many observations (for
        tests of resuming).
    progress : bool, optional
        Show progress bars (default: when standard error is a terminal).

    Returns
    -------
    dict
        The night's ``summary.json``.

    Raises
    ------
    PointingError
        Before the mount moves: a bad station section, output folder or option,
        daylight, another night on the same folder or log, a damaged log.
    """
    cfg = config or NightConfig.from_section(station.section("night"))
    out = Path(out_dir)
    db_path = log_path_for(station, backend, cfg, log_path)
    try:
        check_output_folder(out)
        model = initial_model or preflight(station, backend, cfg)
        if initial_model is not None:
            preflight(station, backend, cfg)
        if db_path.exists() and db_path.is_dir():
            raise ConfigError(f"--log {db_path}: is a folder, not a station log")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with NightLock(out / ".night.lock", f"the report folder {out}"), \
                NightLock(db_path.with_name(db_path.name + ".lock"), f"the station log {db_path}"):
            return _run_locked(station, backend, out, cfg, db_path, model, resume=resume,
                               interrupt_after=interrupt_after,
                               progress=sys.stderr.isatty() if progress is None else progress)
    finally:
        if backend.close:
            backend.close()


def _run_locked(station: Station, backend: Backend, out: Path, cfg: NightConfig,
                db_path: Path, model: PointingModel, *, resume: bool,
                interrupt_after: int | None, progress: bool) -> dict[str, Any]:
    """The night itself, with both locks held."""
    with StationLog(db_path) as db:
        night_id = db.unfinished_night(station.name) if resume else None
        if resume and night_id is None:
            raise PointingError(f"--resume: no unfinished night of {station.name} in {db_path}")
        if night_id is None:
            night_id = db.start_night(station.name, backend.name,
                                      {"night": cfg.to_dict(), "out_dir": str(out),
                                       "simulated": bool(backend.simulated),
                                       "pid": os.getpid()},
                                      backend.clock.now().utc.isot)
            db.add_model(night_id, "initial", model.to_dict())
        else:
            db.check_night(night_id)
            db.reopen(night_id)
        night = Night(station, backend, cfg, db, night_id, out, model,
                      interrupt_after=interrupt_after, progress=progress)
        if resume:
            night.restore()
        fitted: FitOutcome | None = None
        failure = None
        try:
            fitted = run_steps(night)
        except NightInterrupted:
            db.finish_night(night_id, "interrupted", summary=None, reason="interrupted")
            raise
        except (HardwareError, PointingError) as exc:  # PointingError: FitError, no zero star
            failure = str(exc)
            if isinstance(exc, ConnectionLost):
                failure = (f"the night stopped after observation {night.seq}: {exc}; every "
                           "observation so far is in the station log: continue with --resume "
                           "once the devices are back")
            night.say(f"night failed: {failure}", "error")
        results = analyse(night, fitted, failure=failure)
        night.say(f"go/no-go {results.verdict.summary()}",
                  "info" if results.verdict.passed else "warn")
        night.say(f"report: {out / 'report.html'}")
        results.summary["events"] = db.events(night_id)
        summary = write_report(out, results)
        db.finish_night(night_id, "failed" if failure else "complete", summary=summary,
                        reason=failure)
        return summary


def _station_model(station: Station) -> PointingModel:
    """The model to start with: the station's ``[model]`` section, else nothing."""
    section = station.section("model")
    if not section:
        return PointingModel(["IA", "IE"], [0.0, 0.0])
    if "file" in section:
        path = Path(section["file"]).expanduser()
        if not path.is_absolute() and station.path is not None:
            path = Path(station.path).parent / path
        return PointingModel.load(path)
    terms = section.get("terms", {})
    if not isinstance(terms, Mapping):
        raise ConfigError("model.terms: expected a table NAME = value_arcsec")
    names = list(terms) or ["IA", "IE"]
    values = []
    for n in names:
        v = terms.get(n, 0.0)
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ConfigError(f"model.terms.{n}: expected a number of arcsec, got {v!r}")
        values.append(float(v))
    try:
        return PointingModel(names, values)
    except (ValueError, PointingError) as exc:
        raise ConfigError(f"model.terms: {exc}") from None
