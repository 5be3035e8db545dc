"""Tracking logs: the record of one pass, as the station (or the simulator) writes it.

Format (ECSV, one row per tracking-camera sample, rows in time order)
---------------------------------------------------------------------
=========== ====== ========= ==========================================================
column      type   unit      meaning
=========== ====== ========= ==========================================================
time        str    UTC       ISO 8601 (``2026-12-01T18:03:12.250``, a trailing ``Z`` is
                             accepted); strictly increasing, no duplicates
x_urad      float  µrad      target's offset from the calibration pixel, cross-elevation
                             (ΔA·cos E, positive towards increasing azimuth)
y_urad      float  µrad      target's offset from the calibration pixel, elevation
                             (positive up)
el_deg      float  deg       mount elevation at the sample
az_deg      float  deg       mount azimuth (north 0°, east 90°); optional
locked      bool             the tracking loop is closed on the target
detected    bool             the target is seen in this sample; optional (default: the
                             offsets are finite)
(others)    any              whatever else the station records, e.g. ``counts``
                             (photon counts in the sample) or ``camera``; kept as is
=========== ====== ========= ==========================================================

Before acquisition there is no target: ``x_urad`` and ``y_urad`` may then be
empty/NaN, but only on rows that are not locked (and, when the column exists,
not ``detected``).  Every other NaN, a missing column, a time that repeats or
goes backwards, or a value of the wrong type is an error
(:class:`~pointing.errors.FileFormatError`) that names the file, line, column
and row.  The table's ``meta`` (station, pass, sample rate, spot size, …) is
kept in :attr:`TrackingLog.meta`.

A log in another layout (a station's CSV) reads with :func:`read_tracking_csv`
and a column mapping ``{"time": "t", "x_urad": "dx", …}`` plus a scale that
turns its offsets into µrad; :func:`write_tracking_log` always writes the
format above, so ``read_tracking_log(write_tracking_log(log))`` round-trips.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from astropy.time import Time, TimeDelta

from pointing.errors import FileFormatError, PointingError

__all__ = [
    "OFFSET_SCALES",
    "REQUIRED_COLUMNS",
    "TrackingLog",
    "parse_column_mapping",
    "parse_offset_scale",
    "read_tracking_csv",
    "read_tracking_log",
    "write_tracking_log",
]

REQUIRED_COLUMNS = ("time", "x_urad", "y_urad", "el_deg", "locked")
OPTIONAL_COLUMNS = ("az_deg", "detected")
#: factors that turn an offset unit into µrad (for CSV logs)
OFFSET_SCALES = {"urad": 1.0, "mrad": 1e3, "rad": 1e6, "arcsec": math.pi / 648000 * 1e6,
                 "deg": math.pi / 180 * 1e6}
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


@dataclass(frozen=True)
class TrackingLog:
    """One pass's tracking record: numpy arrays of equal length, times in seconds.

    ``t_s`` are seconds (UTC, leap seconds counted) since ``t0`` (ISO UTC of
    the first sample); offsets in µrad, angles in degrees.  ``detected`` is
    True where the target was seen; ``extra`` holds the other columns.
    """

    t0: str
    t_s: np.ndarray
    x_urad: np.ndarray
    y_urad: np.ndarray
    el_deg: np.ndarray
    locked: np.ndarray
    detected: np.ndarray
    az_deg: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        n = len(self.t_s)
        arrays = {"x_urad": self.x_urad, "y_urad": self.y_urad, "el_deg": self.el_deg,
                  "locked": self.locked, "detected": self.detected}
        if self.az_deg is not None:
            arrays["az_deg"] = self.az_deg
        arrays.update(self.extra)
        for name, a in arrays.items():
            if len(a) != n:
                raise PointingError(f"tracking log {self.source}: column {name!r} has "
                                    f"{len(a)} values, time has {n}")

    def __len__(self) -> int:
        return len(self.t_s)

    @classmethod
    def from_arrays(cls, t_s: Any, x_urad: Any, y_urad: Any, el_deg: Any, locked: Any, *,
                    t0: str = "2000-01-01T00:00:00", detected: Any = None, az_deg: Any = None,
                    extra: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                    ) -> TrackingLog:
        """A log from arrays (a simulated pass writes this way), checked like a file.

        *t_s* are seconds since *t0* (ISO UTC); *detected* defaults to finite offsets.
        """
        cols: dict[str, Any] = {"x_urad": x_urad, "y_urad": y_urad, "el_deg": el_deg,
                                "locked": locked}
        if detected is not None:
            cols["detected"] = detected
        if az_deg is not None:
            cols["az_deg"] = az_deg
        t0 = _iso(Time(t0, format="isot", scale="utc"))
        return _build("<memory>", None, t0, np.asarray(t_s, float), cols, dict(extra or {}),
                      dict(meta or {}))

    def times(self) -> Time:
        """The sample times as an astropy :class:`~astropy.time.Time` (UTC)."""
        start = Time(self.t0, format="isot", scale="utc", precision=6)
        return start + TimeDelta(self.t_s, format="sec")

    def time_iso(self) -> np.ndarray:
        """The sample times as ISO UTC strings (microseconds)."""
        t = self.times()
        t.precision = 6
        return np.asarray(t.isot)


def _iso(t: Time) -> str:
    t = t.utc
    t.precision = 6
    return str(t.isot)


# ---------------------------------------------------------------- checks and building


def _fail(source: str, lines: np.ndarray | None, row: int, column: str, msg: str):
    """Raise the error for data row *row* (0-based): ``file:line: row N: column 'c': msg``."""
    line = int(lines[row]) if lines is not None else None
    raise FileFormatError(source, line, f"row {row + 1}: column {column!r}: {msg}")


def _floats(source: str, lines, name: str, values: Any) -> np.ndarray:
    """A float column, or an error naming the first row that is not a number."""
    a = _unmask(values)
    if a.dtype.kind in "fiu":
        return a.astype(float)
    if a.dtype.kind == "b":
        _fail(source, lines, 0, name, "expected numbers, got booleans")
    out = np.empty(len(a))
    for i, v in enumerate(a):
        text = str(v).strip()
        try:
            out[i] = float(text) if text not in ("", "--") else np.nan
        except ValueError:
            _fail(source, lines, i, name, f"expected a number, got {text!r}")
    return out


def _unmask(values: Any) -> np.ndarray:
    """A plain array: masked (empty) numbers become NaN, masked strings ``""``."""
    if not np.ma.isMaskedArray(values):
        return np.asarray(values)
    m = np.ma.asarray(values)
    if m.dtype.kind in "fiu":
        return m.astype(float).filled(np.nan)
    return m.astype(str).filled("") if m.dtype.kind in "US" else m.filled()


def _bools(source: str, lines, name: str, values: Any) -> np.ndarray:
    """A boolean column: bools, 0/1, or the words true/false/yes/no."""
    if np.ma.isMaskedArray(values) and np.ma.getmaskarray(values).any():
        row = int(np.flatnonzero(np.ma.getmaskarray(values))[0])
        _fail(source, lines, row, name, "empty value (expected true or false)")
    a = np.asarray(values)
    if a.dtype.kind == "b":
        return a.astype(bool)
    if a.dtype.kind in "iu":
        bad = np.flatnonzero((a != 0) & (a != 1))
        if bad.size:
            _fail(source, lines, int(bad[0]), name, f"expected true/false or 0/1, got {a[bad[0]]}")
        return a.astype(bool)
    out = np.empty(len(a), bool)
    for i, v in enumerate(a):
        text = str(v).strip().lower()
        if text not in _TRUE | _FALSE:
            _fail(source, lines, i, name, f"expected true or false, got {str(v)!r}")
        out[i] = text in _TRUE
    return out


def _times(source: str, lines, values: Any) -> tuple[str, np.ndarray]:
    """(ISO of the first sample, seconds since it) from ISO strings or an astropy Time."""
    if isinstance(values, Time):
        t = values.utc
    else:
        a = np.asarray(values)
        if a.dtype.kind not in "US":
            _fail(source, lines, 0, "time", f"expected ISO UTC strings, got {a.dtype} values")
        text = [str(v).strip().removesuffix("Z") for v in a]
        try:
            t = Time(text, format="isot", scale="utc")
        except ValueError:
            for i, s in enumerate(text):  # find the row for the message
                try:
                    Time(s, format="isot", scale="utc")
                except ValueError:
                    _fail(source, lines, i, "time", f"not an ISO UTC time: {s!r}")
            raise
    if len(t) == 0:
        raise FileFormatError(source, None, "the log has no rows")
    return _iso(t[0]), np.asarray((t - t[0]).to_value("s"), float)


def _check_times(source: str, lines, t_s: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(t_s))
    if bad.size:
        _fail(source, lines, int(bad[0]), "time", "not a finite time")
    dt = np.diff(t_s)
    if (dt <= 0).any():
        i = int(np.flatnonzero(dt <= 0)[0]) + 1
        what = "duplicate time" if dt[i - 1] == 0 else "time goes backwards"
        _fail(source, lines, i, "time", f"{what} (rows must be in strictly increasing time; "
                                        f"row {i} is at {t_s[i - 1]:.6f} s, this one at "
                                        f"{t_s[i]:.6f} s)")


def _build(source: str, lines, t0: str, t_s: np.ndarray, cols: dict[str, Any],
           extra: dict[str, Any], meta: dict[str, Any]) -> TrackingLog:
    """Check and convert the columns (by canonical name) into a :class:`TrackingLog`."""
    missing = [c for c in REQUIRED_COLUMNS[1:] if c not in cols]
    if missing:
        raise FileFormatError(source, None, f"missing column(s) "
                              f"{', '.join(map(repr, missing))} (a tracking log needs "
                              f"{', '.join(REQUIRED_COLUMNS)})")
    _check_times(source, lines, t_s)
    x = _floats(source, lines, "x_urad", cols["x_urad"])
    y = _floats(source, lines, "y_urad", cols["y_urad"])
    el = _floats(source, lines, "el_deg", cols["el_deg"])
    locked = _bools(source, lines, "locked", cols["locked"])
    az = _floats(source, lines, "az_deg", cols["az_deg"]) if "az_deg" in cols else None
    seen = np.isfinite(x) & np.isfinite(y)
    detected = _bools(source, lines, "detected", cols["detected"]) if "detected" in cols else seen
    for name, a in (("el_deg", el), ("az_deg", az)):
        if a is not None and not np.isfinite(a).all():
            _fail(source, lines, int(np.flatnonzero(~np.isfinite(a))[0]), name, "NaN or empty")
    if (np.abs(el) > 90).any():
        i = int(np.flatnonzero(np.abs(el) > 90)[0])
        _fail(source, lines, i, "el_deg", f"elevation {el[i]:g}° outside [-90, 90]")
    for name, a in (("x_urad", x), ("y_urad", y)):
        bad = np.flatnonzero(~np.isfinite(a) & (locked | detected))
        if bad.size:
            state = "locked" if locked[bad[0]] else "detected"
            _fail(source, lines, int(bad[0]), name,
                  f"NaN or empty on a {state} sample (offsets may be empty only before "
                  "the target is seen)")
    return TrackingLog(t0, t_s, x, y, el, locked, detected & seen, az,
                       {k: np.asarray(v) for k, v in extra.items()}, meta, source)


# ---------------------------------------------------------------- reading and writing


def read_tracking_log(path: str | Path) -> TrackingLog:
    """Read a tracking log in the ECSV format of this module (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise PointingError(f"{path}: no such tracking log")
    table = _read_ecsv(path)
    if "time" not in table.colnames:
        raise FileFormatError(path, None, f"missing column 'time' (a tracking log needs "
                                          f"{', '.join(REQUIRED_COLUMNS)})")
    lines = _ecsv_data_lines(path, len(table))
    t0, t_s = _times(str(path), lines, table["time"])
    cols = {c: table[c] for c in REQUIRED_COLUMNS[1:] + OPTIONAL_COLUMNS if c in table.colnames}
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    extra = {c: np.asarray(table[c]) for c in table.colnames if c not in known}
    return _build(str(path), lines, t0, t_s, cols, extra, dict(table.meta))


def _read_ecsv(path: Path) -> Table:
    """The ECSV table; a value that breaks its declared type is re-read untyped, so the
    checks below can name its row."""
    try:
        return Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many kinds for a malformed file
        first = exc
    if "failed to convert" in str(first):
        try:
            return Table.read(path, format="ascii.basic", comment="#", guess=False)
        except Exception:  # fall through to the ECSV reader's message
            pass
    raise FileFormatError(path, None, f"not a readable ECSV tracking log ({first}); a CSV "
                                      "log reads with --columns / read_tracking_csv")


def _ecsv_data_lines(path: Path, n: int) -> np.ndarray | None:
    """1-based file line of every data row of an ECSV file (None if they don't match)."""
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        header_seen = False
        for k, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            if not header_seen:
                header_seen = True  # the column-name line
                continue
            out.append(k)
    return np.array(out) if len(out) == n else None


def parse_column_mapping(text: str) -> dict[str, str]:
    """``"time=t,x_urad=dx"`` → ``{"time": "t", "x_urad": "dx"}`` (canonical = file name)."""
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise PointingError(f"--columns: expected NAME=CSV_COLUMN, got {item!r}")
        if key not in known:
            raise PointingError(f"--columns: unknown log column {key!r} (known: "
                                f"{', '.join(sorted(known))})")
        out[key] = value
    return out


def parse_offset_scale(text: str | float) -> float:
    """A factor to µrad: a positive number or a unit name (urad, mrad, rad, arcsec, deg)."""
    if isinstance(text, str) and text.strip().lower() in OFFSET_SCALES:
        return OFFSET_SCALES[text.strip().lower()]
    try:
        value = float(text)
    except ValueError:
        raise PointingError(f"--offset-scale: expected a number or one of "
                            f"{', '.join(OFFSET_SCALES)}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise PointingError(f"--offset-scale: must be a positive number, got {text!r}")
    return value


def read_tracking_csv(path: str | Path, columns: Mapping[str, str] | None = None, *,
                      offset_scale: float = 1.0, delimiter: str | None = None) -> TrackingLog:
    """Read a station's CSV log: *columns* maps log names to the file's column names.

    Columns not mapped are looked up by their log name; *offset_scale*
    multiplies ``x_urad`` and ``y_urad`` (e.g. 4.848 for arcseconds).  Lines
    starting with ``#`` are comments; the first other line names the columns;
    the delimiter (comma, semicolon, tab) is guessed unless given.  ``time``
    is ISO UTC.
    """
    path = Path(path)
    if not path.is_file():
        raise PointingError(f"{path}: no such tracking log")
    header, rows, lines = _read_csv_rows(path, delimiter)
    mapping = {c: c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if c in header}
    mapping.update(columns or {})
    missing = [f"{k!r} (file column {v!r})" if k != v else repr(k)
               for k, v in mapping.items() if v not in header]
    missing += [repr(c) for c in REQUIRED_COLUMNS if c not in mapping]
    if missing:
        raise FileFormatError(path, None, f"missing column(s) {', '.join(missing)}; the "
                                          f"file has {', '.join(header)}")
    index = {name: i for i, name in enumerate(header)}
    data = {name: np.array([r[index[name]] if index[name] < len(r) else "" for r in rows])
            for name in header}
    t0, t_s = _times(str(path), lines, data[mapping["time"]])
    cols = {k: data[v] for k, v in mapping.items() if k != "time"}
    for k in ("x_urad", "y_urad"):
        cols[k] = _floats(str(path), lines, k, cols[k]) * float(offset_scale)
    used = set(mapping.values())
    extra = {c: _maybe_numbers(data[c]) for c in header if c not in used}
    meta = {"source_format": "csv", "columns": dict(mapping), "offset_scale": offset_scale}
    return _build(str(path), lines, t0, t_s, cols, extra, meta)


def _read_csv_rows(path: Path, delimiter: str | None):
    """(header, rows, 1-based line of each row) of a CSV file, comments skipped."""
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        text = f.read()
    body = [(k, ln) for k, ln in enumerate(text.splitlines(), 1)
            if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise FileFormatError(path, None, "no header line and no rows")
    if delimiter is None:
        first = body[0][1]
        delimiter = max((",", ";", "\t"), key=first.count)
    parsed = list(csv.reader([ln for _, ln in body], delimiter=delimiter))
    header = [h.strip() for h in parsed[0]]
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise FileFormatError(path, body[0][0], f"column {dup!r} appears twice in the header")
    return header, parsed[1:], np.array([k for k, _ in body[1:]])


def _maybe_numbers(a: np.ndarray) -> np.ndarray:
    try:
        return a.astype(float)
    except ValueError:
        return a


def write_tracking_log(log: TrackingLog, path: str | Path) -> Path:
    """Write *log* as ECSV in this module's format (offsets to 1e-4 µrad); returns the path."""
    path = Path(path)
    table = Table(meta=dict(log.meta))
    table["time"] = log.time_iso()
    table["x_urad"] = np.round(log.x_urad, 4)
    table["y_urad"] = np.round(log.y_urad, 4)
    table["el_deg"] = np.round(log.el_deg, 6)
    if log.az_deg is not None:
        table["az_deg"] = np.round(log.az_deg, 6)
    table["locked"] = log.locked
    table["detected"] = log.detected
    for name, values in log.extra.items():
        table[name] = values
    table["x_urad"].unit = table["y_urad"].unit = "urad"
    table["el_deg"].unit = "deg"
    if "az_deg" in table.colnames:
        table["az_deg"].unit = "deg"
    table.write(path, format="ascii.ecsv", overwrite=True)
    return path
