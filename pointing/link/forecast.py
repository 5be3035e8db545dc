"""Forecast of a pass: link, counts, sifted key, QBER second by second, and the secure key.

For each sample of the pass geometry (time, range, elevation, azimuth) the link
efficiency η comes from :func:`pointing.link.budget.link_budget` with the
station's calibration and the source's divergence, jitter and optics.  Per
pulse of intensity μ_i (the standard decoy-state channel model):

    Y0   = R_bg · τ                    background within the time gate τ
    D_i  = 1 − (1 − Y0) e^(−η μ_i)     a detection
    Q_i  = s · D_i                     sifted gain, s = ½ (bases chosen at random)
    E_i Q_i = s · (Y0 / 2 + e_d (1 − e^(−η μ_i)))   errors; e_d the misalignment

The sifted key rate is rep × p_μ × Q_μ (bits/s from the signal pulses;
``sifted_all_bps`` counts every intensity); the QBER is E_μ.  Over the usable
part of the pass (elevation ≥ ``min_el_deg``, and the satellite in Earth's
shadow when the geometry says whether it is sunlit) the gains and errors are
averaged, weighted by time, and handed to the finite-key analysis
(:func:`pointing.link.decoy.analyse_key`) with the source's f_ec.  Go when the
secure key reaches ``min_key_bits``.

:func:`forecast_pass` takes plain arrays; :func:`forecast_trajectory` any
object with ``t_s``, ``range_km``, ``el_rad``, ``az_rad`` (and optionally
``sunlit``, ``utc``) attributes, e.g. a ``pointing.passes`` Trajectory.
:func:`circular_pass` makes a synthetic pass over the station for tests and
demonstrations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.errors import ConfigError
from pointing.link.budget import Calibration, LinkBudget, db, link_budget
from pointing.link.decoy import BasisData, KeyInput, KeyResult, analyse_key
from pointing.link.source import Source

__all__ = ["PassForecast", "PassGeometry", "circular_pass", "forecast_pass",
           "forecast_trajectory"]

_RE_KM = 6371.0
_GM_KM3_S2 = 398600.4418
#: sifting: both ends choose the same basis with probability ½
_SIFT = 0.5


@dataclass(frozen=True)
class PassGeometry:
    """A pass as seen from the station (the attributes of a passes Trajectory)."""

    t_s: np.ndarray
    range_km: np.ndarray
    el_rad: np.ndarray
    az_rad: np.ndarray
    sunlit: np.ndarray | None = None
    utc: Any = None


def circular_pass(altitude_km: float = 500.0, max_el_deg: float = 75.0, *,
                  step_s: float = 1.0, min_el_deg: float = 0.0,
                  az_culmination_deg: float = 90.0) -> PassGeometry:
    """A circular-orbit pass over a spherical Earth culminating at *max_el_deg*.

    Time 0 at culmination (toward *az_culmination_deg*); samples every
    *step_s* while the elevation is above *min_el_deg*.  The orbit's plane is
    inertial (Earth rotation neglected).
    """
    if not (100.0 <= altitude_km <= 40000.0) or not (0.0 < max_el_deg <= 90.0):
        raise ConfigError("circular_pass: altitude 100..40000 km, max elevation 0..90°")
    r = _RE_KM + altitude_km
    el_max = math.radians(max_el_deg)
    psi0 = math.acos(_RE_KM * math.cos(el_max) / r) - el_max  # central angle at culmination
    omega = math.sqrt(_GM_KM3_S2 / r**3)
    # station at z; the closest point of the orbit toward local azimuth A at central angle ψ0
    half = math.acos(math.cos(math.acos(_RE_KM / r)) / math.cos(psi0)) / omega
    t = np.arange(-math.ceil(half / step_s), math.ceil(half / step_s) + 1) * step_s
    phi = omega * t
    a = math.radians(az_culmination_deg)
    north, east, up = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0])
    toward = math.cos(a) * north + math.sin(a) * east
    along = np.cross(up, toward)
    u = (np.cos(phi)[:, None] * (math.sin(psi0) * toward + math.cos(psi0) * up)
         + np.sin(phi)[:, None] * along)
    d = r * u - _RE_KM * up
    rng = np.linalg.norm(d, axis=1)
    el = np.arcsin(d @ up / rng)
    az = np.mod(np.arctan2(d @ east, d @ north), 2 * math.pi)
    keep = el >= math.radians(min_el_deg)
    return PassGeometry(t[keep], rng[keep], el[keep], az[keep])


@dataclass(frozen=True)
class PassForecast:
    """Second-by-second link and key of a pass, and its secure key."""

    t_s: np.ndarray
    range_km: np.ndarray
    el_rad: np.ndarray
    az_rad: np.ndarray
    usable: np.ndarray
    budget: LinkBudget
    signal_cps: np.ndarray  #: detected signal photons/s, all intensities, before sifting
    background_cps: np.ndarray  #: noise map + dark counts, ungated
    noise_in_gate_cps: np.ndarray  #: background counted inside the time gates
    sifted_bps: np.ndarray  #: sifted bits/s from the signal pulses
    sifted_all_bps: np.ndarray  #: sifted bits/s, every intensity
    qber: np.ndarray  #: QBER of the signal pulses
    key: KeyResult | None
    source: Source
    calibration: Calibration
    min_el_deg: float
    min_key_bits: float
    margin_db: float = 0.0
    sunlit: np.ndarray | None = None
    utc: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def efficiency_db(self) -> np.ndarray:
        """Link efficiency (dB) used for the counts, the margin included."""
        return db(self.budget.total) - self.margin_db

    @property
    def weights_s(self) -> np.ndarray:
        return _weights(self.t_s)

    @property
    def usable_s(self) -> float:
        return float(np.sum(self.weights_s[self.usable]))

    @property
    def sifted_bits(self) -> float:
        """Sifted key (signal pulses) over the usable part, bits."""
        return float(np.sum((self.sifted_bps * self.weights_s)[self.usable]))

    @property
    def mean_qber(self) -> float:
        w = (self.sifted_bps * self.weights_s)[self.usable]
        return float(np.sum(w * self.qber[self.usable]) / np.sum(w)) if w.sum() > 0 else math.nan

    @property
    def key_bits(self) -> int:
        return 0 if self.key is None else self.key.key_bits

    @property
    def go(self) -> bool:
        return self.key_bits >= self.min_key_bits and self.key_bits > 0

    def verdict(self) -> str:
        word = "GO" if self.go else "NO-GO"
        return (f"{word}: secure key {self.key_bits} bits "
                f"{'>=' if self.go else '<'} {self.min_key_bits:g} required "
                f"({self.usable_s:.0f} s above {self.min_el_deg:g}°)")

    def to_dict(self, samples: bool = True) -> dict:
        out = {
            "source": self.source.to_dict(), "calibration": self.calibration.to_dict(),
            "min_el_deg": self.min_el_deg, "min_key_bits": self.min_key_bits,
            "margin_db": self.margin_db,
            "max_el_deg": float(np.degrees(np.max(self.el_rad))) if self.t_s.size else None,
            "usable_s": self.usable_s, "sifted_bits": self.sifted_bits,
            "mean_qber": _finite(self.mean_qber),
            "mean_sifted_bps": self.sifted_bits / self.usable_s if self.usable_s else 0.0,
            "key_bits": self.key_bits, "go": self.go, "verdict": self.verdict(),
            "key": None if self.key is None else self.key.to_dict(), "notes": list(self.notes),
        }
        if samples:
            eff = self.efficiency_db
            out["samples"] = [
                {"t_s": float(self.t_s[i]), "range_km": float(self.range_km[i]),
                 "el_deg": float(np.degrees(self.el_rad[i])),
                 "az_deg": float(np.degrees(self.az_rad[i]) % 360.0),
                 "efficiency_db": float(eff[i]), "signal_cps": float(self.signal_cps[i]),
                 "background_cps": float(self.background_cps[i]),
                 "sifted_bps": float(self.sifted_bps[i]), "qber": float(self.qber[i]),
                 "usable": bool(self.usable[i])}
                for i in range(self.t_s.size)]
        return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _weights(t: np.ndarray) -> np.ndarray:
    """Time each sample stands for (s): half the gaps to its neighbours."""
    if t.size < 2:
        return np.ones_like(t)
    edges = np.concatenate([[t[0] - 0.5 * (t[1] - t[0])], 0.5 * (t[1:] + t[:-1]),
                            [t[-1] + 0.5 * (t[-1] - t[-2])]])
    return np.diff(edges)


def _channel(eta: np.ndarray, y0: np.ndarray, mu: float, e_d: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Sifted gain and sifted error probability per pulse of intensity mu."""
    signal = -np.expm1(-eta * mu)
    gain = _SIFT * (1.0 - (1.0 - y0) * np.exp(-eta * mu))
    errors = _SIFT * (0.5 * y0 + e_d * signal)
    return gain, errors


def _check_arrays(t_s: Any, range_km: Any, el_rad: Any, az_rad: Any
                  ) -> tuple[np.ndarray, ...]:
    arrays = [np.atleast_1d(np.asarray(v, dtype=float)) for v in (t_s, range_km, el_rad,
                                                                  az_rad)]
    names = ("t_s", "range_km", "el_rad", "az_rad")
    n = arrays[0].size
    for name, a in zip(names, arrays, strict=True):
        if a.ndim != 1 or a.size != n:
            raise ConfigError(f"pass geometry: {name} must be 1-D with {n} samples")
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"pass geometry: {name} has non-finite values")
    if n and np.any(np.diff(arrays[0]) <= 0):
        raise ConfigError("pass geometry: t_s must increase")
    return tuple(arrays)


def forecast_pass(t_s: Any, range_km: Any, el_rad: Any, az_rad: Any, source: Source,
                  calibration: Calibration, *, sunlit: Any = None, utc: Any = None,
                  min_el_deg: float = 20.0, min_key_bits: float = 1.0,
                  epsilon: float = 1e-5, time_gate_ns: float | None = None,
                  misalignment: float | None = None, aperture_m: float | None = None,
                  pointing_rms_urad: float | None = None, require_shadow: bool = True,
                  rising_min_el_deg: float | None = None, margin_db: float = 0.0
                  ) -> PassForecast:
    """Forecast of one pass (see the module docstring); angles in radians.

    The key is counted above *min_el_deg*; before culmination only above
    *rising_min_el_deg* when given (acquisition and link stabilisation: the
    brief's typical pass starts the key at 35° rising and ends it at 25°).
    *margin_db* (≥ 0) is a loss the budget does not itemise (turbulence,
    transmitter optics, haze), taken off the link efficiency.
    """
    if not (margin_db >= 0 and math.isfinite(margin_db)):
        raise ConfigError(f"forecast: margin_db must be >= 0, got {margin_db!r}")
    t, rng, el, az = _check_arrays(t_s, range_km, el_rad, az_rad)
    gate = (source.time_gate_ns if time_gate_ns is None else time_gate_ns) * 1e-9
    e_d = source.misalignment if misalignment is None else misalignment
    if not (gate > 0) or not (0 <= e_d < 0.5):
        raise ConfigError("forecast: time gate must be > 0 and misalignment in [0, 0.5)")
    budget = link_budget(rng, el, az, calibration, divergence_urad=source.divergence_urad,
                         jitter_urad=source.pointing_jitter_urad,
                         tx_efficiency=source.tx_efficiency, aperture_m=aperture_m,
                         pointing_rms_urad=pointing_rms_urad)
    eta, bg = budget.total * 10.0 ** (-margin_db / 10.0), budget.background_cps
    y0 = -np.expm1(-bg * gate)  # background within one gate
    it = source.intensities
    rep = source.rep_rate_hz
    q_mu, eq_mu = _channel(eta, y0, it.mu, e_d)
    q_nu, eq_nu = _channel(eta, y0, it.nu, e_d)
    q_0 = _SIFT * y0
    signal = rep * (it.p_mu * -np.expm1(-eta * it.mu) + it.p_nu * -np.expm1(-eta * it.nu))
    usable = el >= math.radians(min_el_deg)
    if rising_min_el_deg is not None and t.size:
        rising = np.arange(t.size) < int(np.argmax(el))
        usable &= ~rising | (el >= math.radians(rising_min_el_deg))
    notes = list(budget.notes)
    sun = None if sunlit is None else np.asarray(sunlit, dtype=bool)
    if sun is not None and require_shadow:
        if sun.shape != t.shape:
            raise ConfigError("pass geometry: sunlit must have one value per sample")
        if np.any(sun & usable):
            notes.append(f"{int(np.sum(sun & usable))} s with the satellite sunlit left out")
        usable &= ~sun
    key = _pass_key(t, usable, q_mu, eq_mu, q_nu, eq_nu, q_0, source, epsilon)
    if key is None:
        notes.append(f"no usable time above {min_el_deg:g}°: no key")
    if np.max(signal + bg, initial=0.0) > 2e6:
        notes.append("count rates above 2 Mcps: detector saturation is not modelled")
    return PassForecast(t, rng, el, az, usable, budget, signal, bg, bg * gate * rep,
                        rep * it.p_mu * q_mu,
                        rep * (it.p_mu * q_mu + it.p_nu * q_nu + it.p_vac * q_0),
                        np.divide(eq_mu, q_mu, out=np.full_like(q_mu, 0.5), where=q_mu > 0),
                        key, source, calibration, min_el_deg, min_key_bits, margin_db, sun,
                        utc, notes)


def _pass_key(t: np.ndarray, usable: np.ndarray, q_mu: np.ndarray, eq_mu: np.ndarray,
              q_nu: np.ndarray, eq_nu: np.ndarray, q_0: np.ndarray, source: Source,
              epsilon: float) -> KeyResult | None:
    w = _weights(t) * usable
    duration = float(w.sum())
    if duration <= 0:
        return None

    def mean(x: np.ndarray) -> float:
        return float(np.sum(w * x) / duration)

    qm, qn = mean(q_mu), mean(q_nu)
    em = mean(eq_mu) / qm if qm > 0 else 0.0
    en = mean(eq_nu) / qn if qn > 0 else 0.0
    data = BasisData(q_mu=qm, q_nu=qn, y0=mean(q_0), e_mu=min(em, 0.4999),
                     e_nu=min(en, 0.4999), where="forecast")
    return analyse_key(KeyInput(duration_s=duration, rep_rate_hz=source.rep_rate_hz,
                                intensities=source.intensities, z=data, x=data,
                                epsilon=epsilon, f_ec=source.f_ec))


def forecast_trajectory(trajectory: Any, source: Source, calibration: Calibration,
                        **options: Any) -> PassForecast:
    """:func:`forecast_pass` for any object with the Trajectory attributes."""
    missing = [a for a in ("t_s", "range_km", "el_rad", "az_rad")
               if not hasattr(trajectory, a)]
    if missing:
        raise ConfigError(f"trajectory: missing attribute(s) {', '.join(missing)}")
    return forecast_pass(trajectory.t_s, trajectory.range_km, trajectory.el_rad,
                         trajectory.az_rad, source, calibration,
                         sunlit=getattr(trajectory, "sunlit", None),
                         utc=getattr(trajectory, "utc", None), **options)
