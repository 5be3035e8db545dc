"""Quantum sources (transmitters) for the link budget and the pass forecast.

A source is a TOML file with a ``[source]`` section (other top-level sections
are ignored, so a source may live inside a larger file)::

    [source]
    name = "Micius"
    provenance = "..."              # where the figures come from (free text)
    wavelength_nm = 850.0
    rep_rate_hz = 100e6
    divergence_urad = 10.0          # full angle; beam diameter = divergence × range
    pointing_jitter_urad = 1.2      # RMS per axis of the transmitter's pointing
    tx_efficiency = 1.0             # transmitter optics (1: not modelled)
    misalignment = 0.01             # intrinsic QBER of a detected signal photon
    time_gate_ns = 2.0              # receiver coincidence gate around each pulse
    f_ec = 1.16                     # error-correction efficiency
    [source.intensities]            # as in the key files
    mu = 0.8
    nu = 0.1
    p_mu = 0.5
    p_nu = 0.25
    p_vac = 0.25

Shipped: ``micius`` and ``tiangong2`` (:data:`SOURCES_DIR`), loaded by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pointing.config.toml import read_toml
from pointing.errors import ConfigError
from pointing.link.decoy import Intensities

__all__ = ["SOURCES_DIR", "Source", "load_source", "source_from_dict", "source_names"]

#: directory of the shipped source files
SOURCES_DIR = Path(__file__).resolve().parent / "sources"

_KEYS = ("name", "provenance", "wavelength_nm", "rep_rate_hz", "divergence_urad",
         "pointing_jitter_urad", "tx_efficiency", "misalignment", "time_gate_ns", "f_ec",
         "intensities")
_INTENS = ("mu", "nu", "p_mu", "p_nu", "p_vac")


@dataclass(frozen=True)
class Source:
    """A decoy-state BB84 transmitter (see the module docstring for units)."""

    name: str
    wavelength_nm: float
    rep_rate_hz: float
    intensities: Intensities
    divergence_urad: float
    pointing_jitter_urad: float = 0.0
    tx_efficiency: float = 1.0
    misalignment: float = 0.01
    time_gate_ns: float = 2.0
    f_ec: float = 1.16
    provenance: str = ""
    path: Path | None = None

    def to_dict(self) -> dict:
        i = self.intensities
        return {"name": self.name, "wavelength_nm": self.wavelength_nm,
                "rep_rate_hz": self.rep_rate_hz, "divergence_urad": self.divergence_urad,
                "pointing_jitter_urad": self.pointing_jitter_urad,
                "tx_efficiency": self.tx_efficiency, "misalignment": self.misalignment,
                "time_gate_ns": self.time_gate_ns, "f_ec": self.f_ec,
                "intensities": {"mu": i.mu, "nu": i.nu, "p_mu": i.p_mu, "p_nu": i.p_nu,
                                "p_vac": i.p_vac},
                "provenance": self.provenance,
                "path": None if self.path is None else str(self.path)}


def source_names() -> list[str]:
    """Names of the shipped sources."""
    return sorted(p.stem for p in SOURCES_DIR.glob("*.toml"))


def _num(sec: Mapping, key: str, default: Any = ..., *, lo: float | None = None,
         hi: float | None = None, lo_open: bool = False) -> float:
    w = f"source.{key}"
    if key not in sec:
        if default is ...:
            raise ConfigError(f"{w}: missing")
        return default
    v = sec[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) == float("inf"):
        raise ConfigError(f"{w}: expected a finite number, got {v!r}")
    v = float(v)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise ConfigError(f"{w}: must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise ConfigError(f"{w}: must be <= {hi:g}, got {v:g}")
    return v


def source_from_dict(data: Mapping[str, Any], path: Path | None = None) -> Source:
    """:class:`Source` from a parsed file's ``[source]`` section (errors name the key)."""
    sec = data.get("source")
    if not isinstance(sec, Mapping):
        raise ConfigError("source: missing [source] section")
    for k in sec:
        if k not in _KEYS:
            raise ConfigError(f"source.{k}: unknown key (known: {', '.join(_KEYS)})")
    it = sec.get("intensities")
    if not isinstance(it, Mapping):
        raise ConfigError("source.intensities: missing table (mu, nu, p_mu, p_nu, p_vac)")
    for k in it:
        if k not in _INTENS:
            raise ConfigError(f"source.intensities.{k}: unknown key")
    vals = []
    for k in _INTENS:
        try:
            vals.append(_num(it, k))
        except ConfigError as exc:
            raise ConfigError(f"source.intensities.{k}: {str(exc).split(': ', 1)[1]}"
                              ) from None
    try:
        intens = Intensities(*vals)
    except ConfigError as exc:
        raise ConfigError(f"source.{exc}") from None
    name = sec.get("name", path.stem if path else "source")
    return Source(
        name=str(name),
        wavelength_nm=_num(sec, "wavelength_nm", lo=200, hi=3000),
        rep_rate_hz=_num(sec, "rep_rate_hz", lo=0, lo_open=True, hi=1e11),
        intensities=intens,
        divergence_urad=_num(sec, "divergence_urad", lo=0, lo_open=True, hi=1e5),
        pointing_jitter_urad=_num(sec, "pointing_jitter_urad", 0.0, lo=0, hi=1e4),
        tx_efficiency=_num(sec, "tx_efficiency", 1.0, lo=0, lo_open=True, hi=1),
        misalignment=_num(sec, "misalignment", 0.01, lo=0, hi=0.499),
        time_gate_ns=_num(sec, "time_gate_ns", 2.0, lo=0, lo_open=True, hi=1e6),
        f_ec=_num(sec, "f_ec", 1.16, lo=1.0, hi=10),
        provenance=str(sec.get("provenance", "")),
        path=path,
    )


def load_source(name_or_path: str | Path) -> Source:
    """A shipped source by name (``micius``, ``tiangong2``) or a TOML file."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        p = SOURCES_DIR / f"{name_or_path}.toml"
        if not p.is_file():
            raise ConfigError(f"unknown source {str(name_or_path)!r}; shipped: "
                              f"{', '.join(source_names())}, or give a TOML file")
    data = read_toml(p, "source file")
    try:
        return source_from_dict(data, path=p)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
