"""Tonight's passes: every usable pass of the station's satellite with its forecast key.

A station whose file has a ``[passes]`` section gets, at the end of each
calibration night, the passes of the next hours forecast with that night's own
calibration (η₀, extinction, verification RMS, noise map)::

    [passes]
    tle = "micius.tle"        # element file (TLE or OMM); relative to the station file
    satellite = "MICIUS"      # name, or catalogue number as text ("41731"), if several
    source = "micius"         # shipped source name or a TOML file (pointing/link/sources)
    hours = 24.0              # window from the end of the night, h
    min_el_deg = 10.0         # passes that rise this high
    min_key_bits = 1000       # the key a pass must give to be a GO
    max_age_days = 3.0        # older elements: a note with their age

:func:`tonight_passes` returns one JSON-ready row per pass the QKD conditions
allow (station dark, satellite in Earth's shadow, > 60 s usable), with its
forecast sifted key, secure key and verdict.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from pointing.config.schema import Field, Section, section_of
from pointing.config.station import Station
from pointing.link.budget import Calibration
from pointing.link.forecast import forecast_trajectory
from pointing.link.source import load_source
from pointing.passes import load_satellite, pass_trajectory, predict_passes

__all__ = ["PASSES", "tonight_passes"]

#: the station file's ``[passes]`` section
PASSES = Section("passes", {
    "tle": Field(str, nonempty=True),
    "satellite": Field(str, None, nonempty=True),  # a name, or the catalogue number as text
    "source": Field(str, "micius", nonempty=True),
    "hours": Field(float, 24.0, above=0, max=240),
    "min_el_deg": Field(float, 10.0, min=0, max=89),
    "min_key_bits": Field(float, 1000.0, min=0),
    "max_age_days": Field(float, 3.0, above=0, max=3650),
})


def _relative_to(station: Station, name: str) -> Path:
    """An element or source file named in the station file, relative to its folder."""
    path = Path(name).expanduser()
    if not path.is_absolute() and station.path is not None:
        path = Path(station.path).parent / path
    return path


def tonight_passes(station: Station, summary: dict[str, Any], start: Any,
                   step_s: float = 1.0) -> dict[str, Any] | None:
    """The usable passes after *start* (UTC) with their forecast, or None without ``[passes]``.

    *summary* is the night's summary (its efficiency, verification and noise
    map are the calibration).  Raises :class:`~pointing.errors.PointingError`
    for a bad ``[passes]`` section or element file.
    """
    section = section_of(station, "passes")
    if not section:
        return None
    cfg = PASSES.read(section)
    sat = load_satellite(_relative_to(station, cfg["tle"]), cfg["satellite"])
    source_name = cfg["source"]
    source = load_source(_relative_to(station, source_name) if source_name.endswith(".toml")
                         else source_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        passes = predict_passes(station, sat, start, cfg["hours"], cfg["min_el_deg"],
                                max_age_days=cfg["max_age_days"])
    calibration = Calibration.from_summary(summary, station, where="this night")
    rows = []
    for p in passes.passes:
        if not p.qkd_possible:
            continue
        f = forecast_trajectory(pass_trajectory(station, sat, p, None, step_s), source,
                                calibration, min_key_bits=cfg["min_key_bits"])
        d = p.to_dict()
        rows.append({"number": p.number, "rise": d["rise"], "culmination": d["culmination"],
                     "set": d["set"], "max_el_deg": round(p.max_el_deg, 2),
                     "usable_s": round(f.usable_s, 1),
                     "sifted_kbit": round(f.sifted_bits / 1e3, 1),
                     "mean_qber": round(f.mean_qber, 5) if math.isfinite(f.mean_qber) else None,
                     "key_bits": f.key_bits, "go": f.go})
    return {"satellite": sat.label, "source": source.name, "start": passes.to_dict()["start"],
            "hours": cfg["hours"], "n_passes": len(passes.passes),
            "min_key_bits": cfg["min_key_bits"], "passes": rows,
            "notes": [str(w.message) for w in caught if issubclass(w.category, UserWarning)]}
