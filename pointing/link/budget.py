"""Link budget of a satellite downlink from the station's own calibration night.

At a point of a pass (range R, elevation h, azimuth A) the link efficiency is
the product of

* geometric: (D² − d²) / (θ R)², the clear receiving aperture (diameter D,
  central obstruction d) over the beam's footprint, beam diameter = full
  divergence θ × range (the domain brief's rule; capped at 1);
* atmosphere: 10^(−0.4 k X(h)), the night's extinction k (mag/airmass) and the
  Kasten & Young airmass;
* station: η₀ measured on the night (telescope entrance to detector counts:
  it *includes* the detectors' efficiency, so ``detector_db`` is then 0); a
  design chain or a given η₀ without detectors adds ``detector_db``;
* pointing: the mean coupling of the received spot into the receiving field
  under a circular Gaussian pointing error of radial RMS σ (the night's
  verification RMS, or a tracking RMS), from :mod:`pointing.link.coupling`
  (spot of 10 µrad FWHM in a field of full width FOV); and the transmitter's
  jitter (per-axis RMS σ_t) on a Gaussian beam of 1/e² full angle θ:
  1 / (1 + 16 σ_t²/θ²);
* transmitter optics (the source's ``tx_efficiency``).

Background (counts/s over the quantum channels): the night's noise map at
(A, h) (its fitted model, the Moon where it stood during the night), with the
sky part scaled by the collecting area when the aperture differs from the
station's; without a noise map, the detectors' dark counts only.

:class:`Calibration` holds what the night measured; it is read from a night
folder's ``summary.json`` (:meth:`Calibration.from_night_dir`), the station
log (:meth:`Calibration.from_station_log`), or built from the design values
(:meth:`Calibration.design`).  Angles are radians in arguments; dB are
10 log10 of efficiencies (negative = loss).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import ConfigError, FileFormatError
from pointing.link.coupling import field_coupling_for_jitter
from pointing.photometry.background import BackgroundModel
from pointing.photometry.config import DetectorConfig, PhotometryConfig
from pointing.photometry.extinction import airmass

__all__ = ["Calibration", "LinkBudget", "db", "link_budget", "load_calibration"]

#: extinction used when nothing was measured (mag/airmass near 850 nm, a hazy city)
DEFAULT_K = 0.10


def db(eff: Any) -> Any:
    """10 log10 of an efficiency (−inf for 0)."""
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(np.asarray(eff, dtype=float))
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class Calibration:
    """What a calibration night measured, for the link budget.

    ``eta0`` is the station's efficiency above the atmosphere (telescope
    entrance to detector counts when ``eta0_includes_detector``);
    ``background`` the night's noise model (None: dark counts only) with the
    Moon's mean position ``moon`` (radians, phase 0..1); ``aperture_m`` and
    ``obstruction_m`` the station's telescope (the background was measured
    with it).
    """

    station: str
    eta0: float
    k_mag_per_airmass: float
    dark_cps: float
    aperture_m: float
    obstruction_m: float
    fov_urad: float = 100.0
    verification_rms_urad: float | None = None
    eta0_includes_detector: bool = True
    detector_efficiency: float = 1.0
    background: BackgroundModel | None = None
    moon: tuple[float, float, float] = (math.nan, math.nan, 0.0)
    source: str = "design"
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (0 < self.eta0 <= 1):
            raise ConfigError(f"calibration eta0: must lie in (0, 1], got {self.eta0!r}")
        if not (self.k_mag_per_airmass >= 0 and math.isfinite(self.k_mag_per_airmass)):
            raise ConfigError(f"calibration k: must be >= 0, got {self.k_mag_per_airmass!r}")

    # -- the background ----------------------------------------------------------------------
    def background_cps(self, az: Any, el: Any, aperture_m: float | None = None,
                       obstruction_m: float | None = None) -> np.ndarray:
        """Background (counts/s, all channels, dark included) at (az, el) radians.

        *az* None: the worst azimuth at each elevation (every 2°).
        """
        if az is None:
            grid = np.radians(np.arange(0.0, 360.0, 2.0))
            el = np.asarray(el, dtype=float)
            rates = self.background_cps(grid[:, None], el.reshape(1, -1), aperture_m,
                                        obstruction_m)
            return np.max(rates, axis=0).reshape(el.shape)
        az = np.asarray(az, dtype=float)
        el = np.asarray(el, dtype=float)
        if self.background is None:
            return np.full(np.broadcast(az, el).shape, self.dark_cps)
        m = self.background
        total = m.rate(az, el, *self.moon)
        scale = 1.0
        if aperture_m is not None:
            d = self.obstruction_m if obstruction_m is None else obstruction_m
            scale = (aperture_m**2 - d**2) / (self.aperture_m**2 - self.obstruction_m**2)
        return m.dark_cps + np.clip(total - m.dark_cps, 0.0, None) * scale

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def design(cls, station: Any) -> Calibration:
        """Design values: η₀ of the efficiency chain, k = 0.10, dark counts only."""
        phot = PhotometryConfig.from_station(station)
        det = DetectorConfig.from_station(station)
        return cls(station=station.name, eta0=phot.design_efficiency,
                   k_mag_per_airmass=DEFAULT_K, dark_cps=det.total_dark_cps,
                   aperture_m=phot.aperture_m, obstruction_m=phot.obstruction_m,
                   fov_urad=phot.field_of_view_urad, source="design",
                   detector_efficiency=float(phot.efficiency_chain.get("detector", 1.0)),
                   notes=("no calibration night: design efficiency, extinction "
                          f"{DEFAULT_K} mag/airmass assumed, background = dark counts",))

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], station: Any, where: str = "summary"
                     ) -> Calibration:
        """From a night's ``summary.json`` content; missing parts fall back to the design."""
        base = cls.design(station)
        notes = []
        if summary.get("station") not in (None, station.name):
            notes.append(f"{where}: the night is of station {summary.get('station')!r}, "
                         f"not {station.name!r}")
        eff = summary.get("efficiency") or {}
        eta0, k, source = base.eta0, base.k_mag_per_airmass, f"{where}"
        if eff.get("source") == "detectors" and eff.get("eta0"):
            eta0 = float(eff["eta0"])
            k = float(eff.get("k_mag_per_airmass", k))
        else:
            notes.append(f"{where}: no detector efficiency on this night "
                         f"({eff.get('error') or eff.get('source') or 'none'}): design "
                         f"efficiency {base.eta0:.3f}, k = {k} assumed")
        ver = (summary.get("verification") or {}).get("rms_urad")
        bg, moon = _background(summary.get("background") or {})
        if bg is None:
            notes.append(f"{where}: no noise map: background = dark counts")
        return replace(base, eta0=eta0, k_mag_per_airmass=k, background=bg, moon=moon,
                       verification_rms_urad=None if ver is None else float(ver),
                       eta0_includes_detector=True, source=source, notes=tuple(notes),
                       dark_cps=bg.dark_cps if bg is not None else base.dark_cps)

    @classmethod
    def from_night_dir(cls, folder: str | Path, station: Any) -> Calibration:
        """From a night folder (its ``summary.json``)."""
        path = Path(folder)
        path = path / "summary.json" if path.is_dir() else path
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FileFormatError(path, None, f"cannot read the night's summary: "
                                  f"{exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise FileFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
        if not isinstance(summary, dict):
            raise FileFormatError(path, None, "expected a JSON object")
        return cls.from_summary(summary, station, where=str(path))

    @classmethod
    def from_station_log(cls, station: Any, log_path: str | Path | None = None
                         ) -> Calibration:
        """The station's last complete night in its log, else the design values."""
        from pointing.night.log import StationLog, default_log_path

        path = Path(log_path) if log_path is not None else default_log_path(station.name)
        if not path.is_file():
            return replace(cls.design(station), notes=(
                f"no station log at {path}: " + cls.design(station).notes[0],))
        with StationLog(path) as db_:
            nights = [n for n in db_.nights(station.name)
                      if n["status"] == "complete" and n["summary"]]
        if not nights:
            return replace(cls.design(station), notes=(
                f"no complete night in {path}: " + cls.design(station).notes[0],))
        last = nights[-1]
        return cls.from_summary(last["summary"], station,
                                where=f"night {last['id']} of {path.name}")

    def to_dict(self) -> dict:
        return {"station": self.station, "source": self.source, "eta0": self.eta0,
                "eta0_includes_detector": self.eta0_includes_detector,
                "detector_efficiency": self.detector_efficiency,
                "k_mag_per_airmass": self.k_mag_per_airmass, "dark_cps": self.dark_cps,
                "verification_rms_urad": self.verification_rms_urad,
                "fov_urad": self.fov_urad, "aperture_m": self.aperture_m,
                "obstruction_m": self.obstruction_m,
                "noise_map": self.background is not None, "notes": list(self.notes)}


def _background(bg: Mapping[str, Any]) -> tuple[BackgroundModel | None,
                                                 tuple[float, float, float]]:
    model = bg.get("model")
    nomoon = (math.nan, math.nan, 0.0)
    if not isinstance(model, Mapping):
        return None, nomoon
    try:
        m = BackgroundModel(**{k: float(v) for k, v in model.items()})
    except (TypeError, ValueError):
        return None, nomoon
    moon = bg.get("moon") or {}
    if moon.get("az_deg") is None or moon.get("el_deg") is None:
        return m, nomoon
    return m, (math.radians(moon["az_deg"]), math.radians(moon["el_deg"]),
               float(moon.get("phase") or 0.0))


# --- the budget ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkBudget:
    """Link terms (linear efficiencies) at each point; dB via :attr:`terms_db`."""

    range_km: np.ndarray
    el_rad: np.ndarray
    az_rad: np.ndarray
    geometric: np.ndarray
    atmosphere: np.ndarray
    station: np.ndarray
    detector: np.ndarray
    pointing: np.ndarray
    transmitter: np.ndarray
    background_cps: np.ndarray
    aperture_m: float
    obstruction_m: float
    divergence_urad: float
    pointing_rms_urad: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> np.ndarray:
        """Link efficiency from the transmitter's output to detector counts."""
        return (self.geometric * self.atmosphere * self.station * self.detector
                * self.pointing * self.transmitter)

    def points(self) -> list[dict]:
        """One JSON row per point (dB terms, background counts/s)."""
        rows = []
        for i in range(self.range_km.size):
            rows.append({
                "range_km": float(self.range_km[i]),
                "el_deg": float(np.degrees(self.el_rad[i])),
                "az_deg": (float(np.degrees(self.az_rad[i]) % 360.0)
                           if np.isfinite(self.az_rad[i]) else None),
                "geometric_db": db(self.geometric[i]),
                "atmosphere_db": db(self.atmosphere[i]),
                "station_db": db(self.station[i]),
                "detector_db": db(self.detector[i]),
                "pointing_db": db(self.pointing[i]),
                "transmitter_db": db(self.transmitter[i]),
                "total_db": db(self.total[i]),
                "background_cps": float(self.background_cps[i]),
            })
        return rows


def link_budget(range_km: Any, el: Any, az: Any, calibration: Calibration, *,
                divergence_urad: float, jitter_urad: float = 0.0, tx_efficiency: float = 1.0,
                aperture_m: float | None = None, obstruction_m: float | None = None,
                pointing_rms_urad: float | None = None) -> LinkBudget:
    """The link budget at each (range km, el rad, az rad); see the module docstring.

    *aperture_m*/*obstruction_m* default to the station's (a given aperture
    without obstruction means none); *pointing_rms_urad* to the night's
    verification RMS (None with no night: no receive pointing loss).
    """
    cal = calibration
    r = np.atleast_1d(np.asarray(range_km, dtype=float))
    e = np.broadcast_to(np.atleast_1d(np.asarray(el, dtype=float)), r.shape)
    a = None if az is None else np.broadcast_to(np.atleast_1d(np.asarray(az, dtype=float)),
                                                r.shape)
    if np.any(~(r > 0)):
        raise ConfigError("range_km: every range must be > 0")
    if not (divergence_urad > 0):
        raise ConfigError(f"divergence_urad: must be > 0, got {divergence_urad!r}")
    ap = cal.aperture_m if aperture_m is None else float(aperture_m)
    ob = (cal.obstruction_m if aperture_m is None else 0.0) if obstruction_m is None \
        else float(obstruction_m)
    if not (ap > 0 and 0 <= ob < ap):
        raise ConfigError(f"aperture_m: need aperture > obstruction >= 0, got {ap!r} m "
                          f"and {ob!r} m")
    beam = divergence_urad * 1e-6 * r * 1e3  # beam diameter, m
    geometric = np.minimum((ap**2 - ob**2) / beam**2, 1.0)
    x = airmass(np.clip(e, math.radians(-5.0), None))
    atmosphere = 10.0 ** (-0.4 * cal.k_mag_per_airmass * np.atleast_1d(x))
    rms = cal.verification_rms_urad if pointing_rms_urad is None else pointing_rms_urad
    notes = list(cal.notes)
    if rms is None or rms <= 0:
        rx = 1.0
        if rms is None:
            notes.append("no pointing RMS known: receive pointing loss not counted")
    else:
        rx = field_coupling_for_jitter(rms / math.sqrt(2.0), cal.fov_urad)
    tx = 1.0 / (1.0 + 16.0 * jitter_urad**2 / divergence_urad**2)
    det = 1.0 if cal.eta0_includes_detector else cal.detector_efficiency
    ones = np.ones_like(r)
    bg = np.atleast_1d(cal.background_cps(a, e, aperture_m, ob if aperture_m is not None
                                          else None))
    if a is None:
        notes.append("no azimuth given: background at the worst azimuth of each elevation")
        a = np.full(r.shape, np.nan)
    return LinkBudget(r, np.asarray(e, dtype=float), np.asarray(a, dtype=float), geometric,
                      atmosphere, cal.eta0 * ones, det * ones, rx * tx * ones,
                      tx_efficiency * ones, bg * ones, ap, ob, divergence_urad, rms, notes)


def load_calibration(station: Any, night: str | Path | None = None,
                     log_path: str | Path | None = None) -> Calibration:
    """The calibration of *night* (a folder or summary.json), else the station log's last."""
    if night is not None:
        return Calibration.from_night_dir(night, station)
    return Calibration.from_station_log(station, log_path)
