"""The night's observation table: one row per pointing, what photometry reads.

The calibration night writes it (astropy ECSV, or CSV); :mod:`pointing.photometry.efficiency`
and :mod:`pointing.photometry.background` read it, through the helpers at the end
(:func:`star_rows`, :func:`star_labels`, :func:`excluded_by_flags`).
Columns (extra columns are kept):

=====================  =====  =========================================================
column                 need   meaning
=====================  =====  =========================================================
time                   req.   UTC, ISO 8601 string
kind                   req.   "model", "verify" (star pointings) or "background" (blank sky)
hip                    req.   Hipparcos number; −1 for blank sky
imag                   req.   Cousins I magnitude (NaN for blank sky)
az_deg, el_deg         req.   true (apparent, refracted) azimuth, north through east, and
                              elevation, degrees
count_time_s           req.   counting time of each detector measurement (s), > 0
counts_star            req.   total counts over the quantum channels, star on the fibre
                              (NaN when not measured; for blank sky: more sky counts)
counts_off             req.   total counts, telescope offset beside the star: sky + dark
vmag, v_minus_i        opt.   V magnitude and Cousins V−I colour (NaN: unknown)
dark_cps               opt.   total dark rate of the channels (counts/s) from the station
moon_az_deg,           opt.   the Moon's azimuth and elevation (degrees) and illuminated
moon_el_deg,                  fraction 0..1
moon_phase
camera_flux_adu,       opt.   tracking-camera aperture photometry of the star (ADU), its
camera_flux_err_adu           uncertainty,
camera_sky_adu_per_px  opt.   the camera's sky level (ADU per pixel),
camera_exposure_s      opt.   and the camera exposure (s)
flags                  opt.   free text; tokens bad, lost, no_star, saturated, cloud, skip
                              exclude the row from the efficiency fit
=====================  =====  =========================================================

Optional columns that are absent are added as NaN (flags as "").
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning

from pointing.errors import FileFormatError

__all__ = [
    "FLOAT_COLUMNS",
    "KINDS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SKIP_FLAGS",
    "excluded_by_flags",
    "flag_tokens",
    "make_observation_table",
    "read_observation_table",
    "star_labels",
    "star_rows",
    "validate_observation_table",
    "write_observation_table",
]

KINDS = ("model", "verify", "background")
REQUIRED_COLUMNS = ("time", "kind", "hip", "imag", "az_deg", "el_deg", "count_time_s",
                    "counts_star", "counts_off")
OPTIONAL_COLUMNS = ("vmag", "v_minus_i", "dark_cps", "moon_az_deg", "moon_el_deg",
                    "moon_phase", "camera_flux_adu", "camera_flux_err_adu",
                    "camera_sky_adu_per_px", "camera_exposure_s", "flags")
FLOAT_COLUMNS = ("imag", "vmag", "v_minus_i", "az_deg", "el_deg", "count_time_s",
                 "counts_star", "counts_off", "dark_cps", "moon_az_deg", "moon_el_deg",
                 "moon_phase", "camera_flux_adu", "camera_flux_err_adu",
                 "camera_sky_adu_per_px", "camera_exposure_s")
# (column, lowest, highest, NaN allowed)
#: largest count or flux a table may hold: far beyond any detector (a SPAD saturates near
#: 1e8 counts/s), small enough that squares and sums stay finite
_BIG = 1e15
_RANGES = (
    ("imag", -30.0, 30.0, True),
    ("vmag", -30.0, 30.0, True),
    ("v_minus_i", -10.0, 10.0, True),
    ("az_deg", -720.0, 720.0, False),
    ("el_deg", -10.0, 95.0, False),
    ("count_time_s", 0.0, 1e5, False),
    ("counts_star", 0.0, _BIG, True),
    ("counts_off", 0.0, _BIG, True),
    ("dark_cps", 0.0, _BIG, True),
    ("moon_az_deg", -720.0, 720.0, True),
    ("moon_el_deg", -90.0, 90.0, True),
    ("moon_phase", 0.0, 1.0, True),
    ("camera_flux_adu", -_BIG, _BIG, True),
    ("camera_flux_err_adu", 0.0, _BIG, True),
    ("camera_sky_adu_per_px", -_BIG, _BIG, True),
    ("camera_exposure_s", 0.0, 1e5, True),
)


def _first_data_line(path: Path) -> int | None:
    """1-based line number of the first data row (after ECSV header and column names)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip() and not line.lstrip().startswith("#"):
                    return number + 1  # this line holds the column names
    except OSError:
        return None
    return None


def read_observation_table(path: str | Path) -> Any:
    """Read and validate a night's observation table (ECSV, or CSV by extension).

    Returns an :class:`astropy.table.Table` with every column of the contract
    (absent optional columns filled with NaN / ""), float columns as float64,
    and ``meta["source"]`` set to the path.

    Raises
    ------
    FileFormatError
        Naming the file (and line, for bad values) and the missing or bad column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, None, "no such file")
    fmt = "ascii.ecsv" if path.suffix.lower() == ".ecsv" else None
    if fmt is None and path.suffix.lower() == ".csv":
        fmt = "ascii.csv"
    try:
        with warnings.catch_warnings():
            # a value such as 1e400 overflows to inf with a warning: the check below
            # refuses it with the file and line
            warnings.simplefilter("ignore", AstropyWarning)
            table = Table.read(path, format=fmt) if fmt else Table.read(path)
    except Exception as exc:  # astropy raises many types for a malformed file
        raise FileFormatError(path, None, f"cannot read as an observation table "
                              f"({type(exc).__name__}: {exc})") from None
    return validate_observation_table(table, source=path, first_line=_first_data_line(path))


def _filled(col: Any, dtype: Any, fill: Any) -> np.ndarray:
    """A column as a plain array of *dtype*, masked cells set to *fill*.

    A CSV column with every cell empty comes back from astropy as a masked
    integer column: it is filled after the conversion, not before.
    """
    if hasattr(col, "mask") and np.any(np.asarray(col.mask)):
        values = np.asarray(np.ma.getdata(col)).astype(dtype)
        values[np.asarray(col.mask)] = fill
        return values
    return np.asarray(col, dtype=dtype)


def validate_observation_table(table: Any, source: Any = None,
                               first_line: int | None = None) -> Any:
    """Check an observation table against the contract; return a normalised copy.

    *source* names the table in error messages (default ``table.meta["source"]``
    or "<observation table>"); *first_line* is the file line of row 0, so that
    errors can give the line of a bad value.
    """
    if source is None:
        source = getattr(table, "meta", {}).get("source", "<observation table>")
    def where(i: int) -> tuple[int | None, str]:
        if first_line is not None:
            return first_line + i, ""
        return None, f"row {i}: "

    names = list(table.colnames)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise FileFormatError(source, None, f"missing column(s) {', '.join(missing)} "
                              f"(required: {', '.join(REQUIRED_COLUMNS)})")
    n = len(table)
    out = Table(table, copy=True)
    out.meta["source"] = str(source)
    for name in FLOAT_COLUMNS:
        if name not in names:
            out[name] = np.full(n, np.nan)
            continue
        try:
            out[name] = _filled(table[name], float, np.nan)
        except (TypeError, ValueError):
            for i, value in enumerate(table[name]):
                try:
                    float(value)
                except (TypeError, ValueError):
                    line, prefix = where(i)
                    raise FileFormatError(source, line, f"{prefix}column {name!r}: "
                                          f"not a number: {value!r}") from None
            raise
    try:
        out["hip"] = _filled(table["hip"], float, np.nan)
    except (TypeError, ValueError):
        raise FileFormatError(source, None, "column 'hip': not integers") from None
    hip = np.asarray(out["hip"], dtype=float)
    bad = np.flatnonzero(~np.isfinite(hip) | (hip != np.round(hip)))
    if bad.size:
        line, prefix = where(int(bad[0]))
        raise FileFormatError(source, line, f"{prefix}column 'hip': expected an integer "
                              f"(-1 for blank sky), got {table['hip'][bad[0]]!r}")
    out["hip"] = hip.astype(np.int64)
    kind = np.char.strip(_filled(table["kind"], str, "").astype(str))
    bad = np.flatnonzero(~np.isin(kind, KINDS))
    if bad.size:
        line, prefix = where(int(bad[0]))
        raise FileFormatError(source, line, f"{prefix}column 'kind': {kind[bad[0]]!r} is "
                              f"not one of {', '.join(KINDS)}")
    out["kind"] = kind
    # object dtype, so that a flag written into a row later is not truncated to the
    # width of the longest flag so far
    out["flags"] = (np.full(n, "", dtype=object) if "flags" not in names
                    else _filled(table["flags"], str, "").astype(str).astype(object))
    times = _filled(table["time"], str, "").astype(str)
    try:
        if n:
            Time(list(times), scale="utc")
    except (ValueError, TypeError):
        for i, text in enumerate(times):
            try:
                Time(text, scale="utc")
            except (ValueError, TypeError):
                line, prefix = where(i)
                raise FileFormatError(source, line, f"{prefix}column 'time': cannot read "
                                      f"{text!r} as a UTC ISO time") from None
    out["time"] = times
    _check_ranges(out, source, where)
    return out


def _check_ranges(out: Any, source: Any, where: Any) -> None:
    """Refuse the first value outside its column's range (``_RANGES``) or infinite."""
    ranged = {r[0] for r in _RANGES}
    for name in FLOAT_COLUMNS:
        bad = np.flatnonzero(np.isinf(np.asarray(out[name], dtype=float)))
        if name not in ranged and bad.size:
            line, prefix = where(int(bad[0]))
            raise FileFormatError(source, line, f"{prefix}column {name!r}: "
                                  f"{out[name][bad[0]]:g} is not finite")
    for name, lo, hi, nan_ok in _RANGES:
        values = np.asarray(out[name], dtype=float)
        finite = np.isfinite(values)
        bad_mask = ~finite if not nan_ok else np.isinf(values)
        bad_mask |= finite & ((values < lo) | (values > hi))
        if name in ("count_time_s",):
            bad_mask |= finite & (values <= 0)
        bad = np.flatnonzero(bad_mask)
        if bad.size:
            i = int(bad[0])
            line, prefix = where(i)
            rng = "> 0" if name == "count_time_s" else f"within {lo:g}..{hi:g}"
            raise FileFormatError(source, line, f"{prefix}column {name!r}: "
                                  f"{values[i]:g} is not {rng}")


def make_observation_table(rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]
                           ) -> Any:
    """Build a validated observation table from a list of row dicts or a dict of columns.

    Absent optional columns become NaN / ""; the night can append rows as it
    goes and write the result with :func:`write_observation_table`.
    """
    if isinstance(rows, Mapping):
        table = Table(dict(rows))
    else:
        rows = list(rows)
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        table = Table({k: [row.get(k, np.nan if k != "flags" else "") for row in rows]
                       for k in keys}) if rows else Table(
            {k: [] for k in REQUIRED_COLUMNS})
    return validate_observation_table(table, source="<observation rows>")


def write_observation_table(table: Any, path: str | Path) -> Path:
    """Write an observation table as ECSV (overwrites); returns the path."""
    path = Path(path)
    out = table.copy(copy_data=False)
    out.meta.pop("source", None)  # where it was read from is not part of the data
    if "flags" in out.colnames:
        out["flags"] = np.asarray(out["flags"]).astype(str)
    out.write(path, format="ascii.ecsv", overwrite=True)
    return path


# --- what the fits take from a table ---------------------------------------------------------

#: flag tokens that exclude a row from the efficiency fit
SKIP_FLAGS = frozenset({"bad", "lost", "no_star", "saturated", "cloud", "skip"})


def flag_tokens(text: Any) -> set[str]:
    """The lower-case tokens of a ``flags`` cell (separated by commas, semicolons, blanks)."""
    return {t.strip().lower() for t in str(text or "").replace(";", ",").replace(" ", ",")
            .split(",") if t.strip()}


def excluded_by_flags(table: Any, rows: Iterable[int]) -> dict[int, str]:
    """Rows whose flags exclude them, as {position in rows: reason}."""
    out = {}
    for j, i in enumerate(rows):
        bad = flag_tokens(table["flags"][i]) & SKIP_FLAGS
        if bad:
            out[j] = f"flagged: {', '.join(sorted(bad))}"
    return out


def star_rows(table: Any) -> np.ndarray:
    """Indices of the star measurements: kind "model" or "verify" with hip >= 0."""
    kind = np.asarray(table["kind"]).astype(str)
    hip = np.asarray(table["hip"], dtype=int)
    return np.flatnonzero(np.isin(kind, ("model", "verify")) & (hip >= 0))


def star_labels(table: Any, rows: Iterable[int]) -> list[dict]:
    """One dict per row (hip, time, kind, az_deg, el_deg, imag, v_minus_i) for fit reports."""
    out = []
    for i in rows:
        el = float(table["el_deg"][i])
        out.append({"hip": int(table["hip"][i]), "time": str(table["time"][i]),
                    "kind": str(table["kind"][i]), "az_deg": float(table["az_deg"][i]),
                    "el_deg": el, "imag": float(table["imag"][i]),
                    "v_minus_i": float(table["v_minus_i"][i])})
    return out
