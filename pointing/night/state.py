"""The state of one calibration night while it runs: a public, typed :class:`Night`.

Everything the steps (:mod:`pointing.night.steps`), the acquisition
(:mod:`pointing.night.acquire`) and the analysis (:mod:`pointing.night.analysis`)
share lives here: the station and its devices, the log, the plan, every record
committed so far and the model in use.  A resumed night is rebuilt from the log
alone (:meth:`Night.restore`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pointing.camera.config import Camera, wide_camera_section
from pointing.config.station import Station
from pointing.errors import FitError, PointingError
from pointing.hardware.base import Backend
from pointing.model.fit import fit
from pointing.model.model import PointingModel
from pointing.model.run import Observations
from pointing.night.config import NightConfig
from pointing.night.log import StationLog
from pointing.photometry.config import DetectorConfig, PhotometryConfig
from pointing.sky.catalog import load_catalog
from pointing.sky.places import moon_altaz, moon_phase, observed_altaz, star_astrometry
from pointing.units import ARCSEC, DEG

__all__ = ["Night", "NightInterrupted", "Star", "zero_offsets"]

log = logging.getLogger("pointing.night")


class NightInterrupted(PointingError):
    """The night was stopped on purpose (tests; operator interrupt)."""


@dataclass(frozen=True)
class Star:
    """A catalog star the night points at (magnitudes; astrometry for places)."""

    hip: int
    name: str
    imag: float
    vmag: float
    v_minus_i: float
    row: dict[str, np.ndarray]  #: astrometry of this star (1-element arrays)


@dataclass
class Night:
    """One night: configuration, devices, log and everything observed so far.

    Attributes
    ----------
    records : list of dict
        Every committed observation, in order (``seq`` from 1).
    done : dict
        ``(kind, target)`` → record, for the observations a resumed night skips.
    plan : dict
        The star lists chosen so far (``zero``, ``model``, ``verify``), kept in the log.
    flux_scale : dict
        Measured / expected flux of each camera, from the zero-offset star.
    """

    station: Station
    hw: Backend
    cfg: NightConfig
    db: StationLog
    night_id: int
    out: Path
    model: PointingModel
    interrupt_after: int | None = None
    progress: bool = False
    initial_model: PointingModel = field(init=False)
    camera: Camera = field(init=False)
    wide: Camera = field(init=False)
    wide_aperture_m: float = field(init=False)
    photometry: PhotometryConfig = field(init=False)
    detectors: DetectorConfig = field(init=False)
    catalog: Any = field(init=False)
    astrometry: dict[str, np.ndarray] = field(init=False)
    seq: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    done: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    flux_scale: dict[str, float] = field(
        default_factory=lambda: {"tracking": 1.0, "wide": 1.0})
    calibrated: bool = False
    last_wide_ratio: float | None = None

    def __post_init__(self) -> None:
        self.initial_model = self.model
        self.camera = Camera.from_config(self.station.section("camera"))
        wide, self.wide_aperture_m = wide_camera_section(self.station)
        self.wide = Camera.from_config(wide)
        self.photometry = PhotometryConfig.from_station(self.station)
        self.detectors = DetectorConfig.from_station(self.station)
        self.catalog = load_catalog()
        self.astrometry = star_astrometry(self.catalog)

    # -- bookkeeping ---------------------------------------------------------
    def now_iso(self) -> str:
        return self.hw.clock.now().utc.isot

    def say(self, message: str, level: str = "info") -> None:
        """Log a line (logger ``pointing.night``) and keep it in the station log."""
        getattr(log, level if level != "warn" else "warning")(message)
        self.db.event(self.night_id, level, message, self.now_iso())

    def commit(self, kind: str, target: str, record: dict[str, Any], status: str = "ok",
               reason: str | None = None) -> None:
        """Commit one observation to the log (with the backend's state) and say so."""
        self.seq += 1
        record = {**record, "seq": self.seq, "kind": kind, "target": target, "status": status,
                  "reason": reason}
        state = self.hw.state() if self.hw.state else None
        self.db.add_observation(self.night_id, self.seq, kind, target, status, record,
                                reason=reason, time_utc=record.get("time"),
                                checkpoint={"backend": state, "model": self.model.to_dict()})
        self.records.append(record)
        self.say(observation_line(record), "info" if status == "ok" else "warn")
        if self.interrupt_after is not None and self.seq >= self.interrupt_after:
            raise NightInterrupted(f"interrupted after observation {self.seq}")

    def save_plan(self, stage: str) -> None:
        """Keep the plan and the devices' state in the log (a resume starts from here)."""
        self.db.set_stage(self.night_id, stage, plan=self.plan,
                          checkpoint={"backend": self.hw.state() if self.hw.state else None,
                                      "after_seq": self.seq})

    def ok(self, kind: str, target: str) -> bool:
        """Whether an observation of that kind and target succeeded."""
        return any(r["kind"] == kind and r["target"] == target and r["status"] == "ok"
                   for r in self.records)

    def star(self, hip: int) -> Star:
        idx = int(np.nonzero(np.asarray(self.catalog["hip"]) == hip)[0][0])
        row = {k: v[idx:idx + 1] for k, v in self.astrometry.items()}
        c = self.catalog
        return Star(hip=hip, name=str(c["name"][idx]) if "name" in c.colnames else "",
                    imag=float(c["imag"][idx]), vmag=float(c["vmag"][idx]),
                    v_minus_i=float(c["vi"][idx]), row=row)

    def place(self, star: Star, time: Any) -> tuple[float, float]:
        """Observed (refracted) az/el of a star at a time, radians."""
        az, el = observed_altaz(star.row, self.station, time)
        return float(az[0]), float(el[0])

    def moon(self) -> dict[str, float]:
        """Where the Moon is now and how much of it is lit (for the photometry table)."""
        now = self.hw.clock.now()
        az, el = moon_altaz(self.station, now)
        return {"moon_az_deg": float(az) / DEG, "moon_el_deg": float(el) / DEG,
                "moon_phase": moon_phase(now)}

    # -- model ------------------------------------------------------------------
    def observations(self, kinds: tuple[str, ...] = ("zero", "model")) -> Observations:
        rows = [r for r in self.records if r["kind"] in kinds and r["status"] == "ok"]
        if not rows:
            raise FitError("no star was observed")
        deg = np.array([[r["az_deg"], r["el_deg"], r["raw_az_deg"], r["raw_el_deg"]]
                        for r in rows])
        return Observations.from_degrees(
            deg[:, 0], deg[:, 1], deg[:, 2], deg[:, 3],
            comments=tuple(f"{r['kind']} HIP {r['hip']} seq {r['seq']}" for r in rows),
            caption=f"{self.station.name} calibration night {self.night_id}",
            options=("ALTAZ",), site={"latitude_deg": self.station.latitude_deg})

    def provisional_model(self) -> PointingModel:
        """The model to point with next, from the observations so far (deterministic).

        One star fixes the zero offsets; two or more refit IA IE; four or more
        also the axis tilt (``provisional_terms``); other terms keep the
        initial model's values.
        """
        try:
            obs = self.observations()
        except FitError:
            return self.initial_model
        base = self.initial_model
        if len(obs) == 1:
            return zero_offsets(base, obs)
        free = list(self.cfg.provisional_terms) if len(obs) >= 4 else ["IA", "IE"]
        fixed = {k: v for k, v in base.values.items() if k not in free}
        # the initial model's order and spelling ('&' flags); free terms it lacks follow it
        # (for the usual initial IA IE: IA IE AN AW, the order the night always used)
        missing = [n for n in free if n not in base.names]
        try:
            return fit(obs, [*base.spellings, *missing], fix=fixed).model
        except FitError:
            return zero_offsets(base, obs.select(np.array([0])))

    # -- resume -------------------------------------------------------------------
    def restore(self) -> None:
        """Reload what an interrupted night already did: observations, plan, devices.

        The devices go back to the latest state the log holds: the last
        observation's, or the plan's when it was saved after that observation.
        """
        rec = self.db.night(self.night_id)
        for obs in rec.observations:
            self.records.append(obs["record"])
            self.done[(obs["kind"], obs["target"])] = obs["record"]
            self.seq = obs["seq"]
        last = rec.observations[-1]["checkpoint"] if rec.observations else None
        if rec.checkpoint and rec.checkpoint.get("after_seq", -1) >= self.seq:
            last = rec.checkpoint
        if last and last.get("backend") and self.hw.restore:
            self.hw.restore(last["backend"])
        self.plan = rec.plan or {}
        self.say(f"resuming night {self.night_id} after observation {self.seq}")


def observation_line(r: dict[str, Any]) -> str:
    """One log line per observation: what, where, result."""
    where = ""
    if r.get("az_deg") is not None and r.get("el_deg") is not None:
        where = f" at az {r['az_deg']:5.1f}° el {r['el_deg']:4.1f}°"
    head = f"#{r['seq']:<3d} {r['kind']:10s} {r['target']:12s}{where}"
    if r["status"] != "ok":
        return f"{head}: skipped — {r['reason']}"
    parts = []
    if r.get("n_frames"):
        parts.append(f"{r['n_frames']} frames")
    if r.get("error_dx_urad") is not None and math.isfinite(r["error_dx_urad"]):
        parts.append(f"pointing error {math.hypot(r['error_dx_urad'], r['error_de_urad']):.1f}"
                     " µrad")
    if r.get("counts_star") is not None and math.isfinite(r["counts_star"]):
        parts.append(f"{r['counts_star']:.0f} counts on the star")
    elif r.get("counts_off") is not None and math.isfinite(r["counts_off"]):
        parts.append(f"{r['counts_off']:.0f} sky counts")
    return f"{head}: ok" + (f" ({', '.join(parts)})" if parts else "")


def zero_offsets(model: PointingModel, obs: Observations) -> PointingModel:
    """``model`` with IA and IE set so that it maps the first observation exactly.

    The rest of the model (order, ``&`` flags, mount) is kept; IA/IE it lacks
    are added in front.
    """
    ia = model.values.get("IA", 0.0)
    ie = model.values.get("IE", 0.0)
    current = model.with_values({"IA": ia, "IE": ie})
    for _ in range(4):  # rigorous: iterate the two index terms on one star
        a, e = current.true_from_raw(float(obs.az_raw[0]), float(obs.el_raw[0]))
        ia -= ((float(obs.az_true[0]) - a + math.pi) % (2 * math.pi) - math.pi) / ARCSEC
        ie += (float(obs.el_true[0]) - e) / ARCSEC
        current = current.with_values({"IA": ia, "IE": ie})
    return current
