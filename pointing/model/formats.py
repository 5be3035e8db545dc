"""Pointing-run and model files: TPOINT input (``.dat``), TPOINT ``.mod``, RTS2 gpoint.

TPOINT input files for alt-az mounts::

    ! comment lines may appear anywhere
    <caption line>
    : ALTAZ                                 option lines
    -30 14 40.2                             latitude (d m s), or a run record:
    +31 41 19.6 2021 8 21 13.0 741 2608.0 0.75   lat d m s, y m d, T(°C), p(mbar), h(m), RH
    Aobs Eobs Araw Eraw [more]              one observation per line, degrees
    ; Aobs Eobs Araw Eraw                   an observation rejected by the user (kept, masked)
    ... ; text                              a comment after the data
    END                                     optional

Azimuths are read as written (TPOINT files written by observatories use north
= 0°, east = 90°).  Every error names the file, the line and what was expected.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError, TermError
from pointing.model.model import PointingModel
from pointing.model.run import Observations
from pointing.model.terms import parse_term

__all__ = [
    "MMT_LATITUDE_DEG",
    "read_gpoint",
    "read_mmt",
    "read_mod",
    "read_observations",
    "read_tpoint",
    "write_mod",
    "write_tpoint",
]

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_RUN_RECORD_FIELDS = ("year", "month", "day", "temperature_c", "pressure_mbar", "height_m",
                      "humidity", "wavelength_um", "lapse_rate_k_per_m")


def _read_lines(path: str | Path) -> list[str]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FileFormatError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines()


def _floats(fields: list[str], path: Any = None, lineno: int | None = None
            ) -> list[float] | None:
    """The fields as floats, or None when one is not a number.

    A number too large for a float (``1e400``) is an error naming the file and
    line, not an infinity that a later step would drop with a numpy warning.
    """
    if not all(_NUMBER.match(f) for f in fields):
        return None
    nums = [float(f) for f in fields]
    for f, v in zip(fields, nums, strict=True):
        if not math.isfinite(v):
            raise FileFormatError(path if path is not None else "<input>", lineno,
                                  f"number {f} is too large")
    return nums


_INTEGER = re.compile(r"^[+-]?\d+$")


def _parse_latitude(fields: list[str], path: Any, lineno: int) -> dict[str, Any]:
    nums = _floats(fields, path, lineno)
    if nums is None or len(nums) < 3:
        raise FileFormatError(path, lineno, "expected the latitude as 'd m s' (three numbers), "
                              f"optionally followed by the run record; found {' '.join(fields)!r}")
    if not (_INTEGER.match(fields[0]) and _INTEGER.match(fields[1])):
        # an observation line read as the latitude would give a wrong site silently
        raise FileFormatError(path, lineno, "expected the latitude line 'd m s' (whole degrees "
                              "and minutes) before the observations, found "
                              f"{' '.join(fields)!r}: is the latitude line missing?")
    d, m, s = fields[0], nums[1], nums[2]
    sign = -1.0 if d.strip().startswith("-") else 1.0
    lat = sign * (abs(float(d)) + m / 60.0 + s / 3600.0)
    if not -90.0 <= lat <= 90.0 or not 0 <= m < 60 or not 0 <= s < 60:
        raise FileFormatError(path, lineno, f"latitude {' '.join(fields[:3])} is out of range")
    site: dict[str, Any] = {"latitude_deg": lat}
    for name, value in zip(_RUN_RECORD_FIELDS, nums[3:], strict=False):
        site[name] = int(value) if name in ("year", "month", "day") else value
    return site


def read_tpoint(path: str | Path) -> Observations:
    """Read a TPOINT input file of an alt-az run.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Observations
        Every observation in file order; ``;``-prefixed ones have ``used``
        False.  Extra numeric columns are kept as ``extra["col5"]`` ... (the
        fifth column is also ``extra["rotator"]`` when a ``ROTNL``/``ROTNR``
        option is present), degrees.

    Raises
    ------
    FileFormatError
        With the file and line number for anything malformed.
    """
    # Over 80 lines: one pass over the lines of the format with an error per malformed
    # kind, each naming the line; splitting it would scatter the format's grammar.
    lines = _read_lines(path)
    caption: str | None = None
    options: list[str] = []
    site: dict[str, Any] | None = None
    rows: list[list[float]] = []
    used: list[bool] = []
    comments: list[str] = []
    linenos: list[int] = []
    width: int | None = None
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if caption is None:
            caption = stripped
            continue
        if stripped.upper() == "END" or stripped.upper().startswith("END "):
            break
        if stripped.startswith(":"):
            if site is not None:
                raise FileFormatError(path, lineno, "option line after the latitude line: "
                                      "options must come before the data")
            options.extend(stripped[1:].split())
            continue
        rejected = stripped.startswith(";")
        body = stripped[1:] if rejected else stripped
        body, _, comment = body.partition(";")
        fields = body.split()
        if site is None:
            if rejected:
                continue  # a comment line before the data
            site = _parse_latitude(fields, path, lineno)
            continue
        nums = _floats(fields, path, lineno)
        if nums is None or len(nums) < 4:
            if rejected:
                continue  # ';' followed by text: a plain comment line
            raise FileFormatError(
                path, lineno,
                "expected an observation 'Aobs Eobs Araw Eraw [more]' (at least four numbers, "
                f"degrees), found {body.strip()!r}")
        if width is None:
            width = len(nums)
        elif len(nums) != width:
            raise FileFormatError(path, lineno, f"observation has {len(nums)} columns, "
                                  f"earlier observations have {width}")
        el_t, el_r = nums[1], nums[3]
        if not -90.0 <= el_t <= 90.0:
            raise FileFormatError(path, lineno, f"observed elevation {el_t} is outside ±90°")
        if not -90.0 <= el_r <= 180.0:
            raise FileFormatError(path, lineno, f"raw elevation {el_r} is outside -90..180°")
        rows.append(nums)
        used.append(not rejected)
        comments.append(comment.strip())
        linenos.append(lineno)
    if caption is None:
        raise FileFormatError(path, None, "empty file: expected a caption line")
    upper = {o.upper() for o in options}
    if "ALTAZ" not in upper:
        raise FileFormatError(path, None, "no ': ALTAZ' option line: this toolkit reads "
                              "alt-az runs only (equatorial TPOINT files are not supported)")
    if site is None or not rows:
        raise FileFormatError(path, None, "no observations found")
    data = np.radians(np.array([r[:4] for r in rows]))
    extra: dict[str, np.ndarray] = {}
    for j in range(4, width or 4):
        extra[f"col{j + 1}"] = np.array([r[j] for r in rows])
    if "col5" in extra and upper & {"ROTNL", "ROTNR"}:
        extra["rotator"] = extra["col5"]
    return Observations(
        data[:, 0], data[:, 1], data[:, 2], data[:, 3], used=np.array(used), extra=extra,
        comments=tuple(comments), lines=tuple(linenos), caption=caption,
        options=tuple(options), site=site, source=str(path),
    )


def _format_latitude(lat: float) -> str:
    sign = "-" if lat < 0 else "+"
    total = round(abs(lat) * 3600.0, 1)
    d, rem = divmod(total, 3600.0)
    m, s = divmod(rem, 60.0)
    return f"{sign}{int(d):02d} {int(m):02d} {s:04.1f}"


def write_tpoint(path: str | Path, obs: Observations, *, caption: str | None = None) -> Path:
    """Write observations as a TPOINT alt-az input file (degrees, 7 decimals).

    Rejected observations (``used`` False) are written as ``;``-prefixed
    lines, comments after ``;``.  A latitude is required (``obs.site``).
    """
    path = Path(path)
    lat = obs.latitude_deg
    if lat is None:
        raise FileFormatError(path, None, "cannot write a TPOINT file without a latitude")
    head = [caption or obs.caption or "Pointing run"]
    opts = [o for o in obs.options if o.upper() != "ALTAZ"]
    head.append(": ALTAZ")
    head.extend(f": {o}" for o in opts)
    record = [_format_latitude(lat)]
    for name in _RUN_RECORD_FIELDS:
        if name not in obs.site:
            break
        record.append(f"{obs.site[name]:g}" if isinstance(obs.site[name], float)
                      else str(obs.site[name]))
    head.append(" ".join(record))
    extra_cols = sorted((k for k in obs.extra if re.fullmatch(r"col\d+", k)),
                        key=lambda k: int(k[3:]))
    deg = np.degrees(np.column_stack([obs.az_true, obs.el_true, obs.az_raw, obs.el_raw]))
    body = []
    for i in range(len(obs)):
        fields = [f"{v:.7f}" for v in deg[i]] + [f"{float(obs.extra[k][i]):.7f}"
                                                 for k in extra_cols]
        line = ("; " if not obs.used[i] else "") + " ".join(fields)
        if obs.comments[i]:
            line += " ; " + obs.comments[i]
        body.append(line)
    path.write_text("\n".join([*head, *body, "END"]) + "\n", encoding="utf-8")
    return path


def read_mod(path: str | Path) -> PointingModel:
    """Read a TPOINT model file (OUTMOD layout) into a :class:`PointingModel`.

    ``=`` before a name marks a term held fixed, ``&`` a harmonic; the ``T``
    line's observation count and sky RMS are kept in ``model.info["fit"]``.
    """
    lines = _read_lines(path)
    if not lines or not lines[0].strip():
        raise FileFormatError(path, 1, "expected a caption line")
    caption = lines[0].strip()
    names: list[str] = []
    values: list[float] = []
    sigmas: list[float | None] = []
    fixed: list[bool] = []
    fit_info: dict[str, Any] = {}
    ended = False
    for lineno, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.upper() == "END":
            ended = True
            break
        if stripped.startswith("T") and (len(stripped) == 1 or stripped[1] in " \t"):
            fields = stripped[1:].split()
            nums = _floats(fields, path, lineno)
            if nums is None or len(nums) < 2:
                raise FileFormatError(path, lineno, "expected 'T n_obs sky_rms ...' on the T line")
            fit_info = {"n_used": int(nums[0]), "sky_rms_arcsec": nums[1],
                        "t_line_extra": nums[2:]}
            continue
        prefix, rest = line[:2], line[2:]
        if set(prefix) - set(" =&"):
            prefix, rest = "", stripped
        fields = rest.split()
        if len(fields) not in (2, 3):
            raise FileFormatError(path, lineno, "expected a term line 'NAME value [sigma]' "
                                  f"(arcsec), found {stripped!r}")
        try:
            name = parse_term(fields[0]).name
        except TermError as exc:
            raise FileFormatError(path, lineno, str(exc)) from None
        nums = _floats(fields[1:], path, lineno)
        if nums is None:
            raise FileFormatError(path, lineno, f"term {name}: value and sigma must be numbers, "
                                  f"found {' '.join(fields[1:])!r}")
        try:  # coefficient and sigma checked where the line is known
            PointingModel([name], [nums[0]], sigmas=[nums[1] if len(nums) > 1 else None])
        except TermError as exc:
            raise FileFormatError(path, lineno, str(exc)) from None
        names.append(name)
        values.append(nums[0])
        sigmas.append(nums[1] if len(nums) > 1 else None)
        fixed.append("=" in prefix)
    if not ended:
        raise FileFormatError(path, len(lines), "model file has no END line")
    if not names:
        raise FileFormatError(path, None, "model file lists no terms")
    try:
        return PointingModel(names, values, sigmas=sigmas, fixed=fixed,
                             info={"caption": caption, "fit": fit_info,
                                   "provenance": {"source": str(path)}})
    except TermError as exc:
        raise FileFormatError(path, None, str(exc)) from None


def write_mod(path: str | Path, model: PointingModel) -> Path:
    """Write a model in TPOINT's OUTMOD layout (values and sigmas in arcsec)."""
    path = Path(path)
    info = model.info
    fit = info.get("fit") or {}
    n_used = int(fit.get("n_used", 0) or 0)
    rms = float(fit.get("sky_rms_arcsec", 0.0) or 0.0)
    out = [info.get("caption") or "Pointing model", f"T{n_used:5d}{rms:9.4f}{0.0:9.3f}{0.0:9.4f}"]
    for term, value, sigma, is_fixed in zip(model.terms, model.values.values(),
                                            model.sigmas.values(), model.fixed.values(),
                                            strict=True):
        prefix = " =" if is_fixed else ("& " if term.is_harmonic else "  ")
        line = f"{prefix}{term.name:<8s}{value:+10.4f}"
        if not is_fixed and sigma is not None:
            line += f"{sigma:12.5f}"
        out.append(line)
    out.append("END")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def read_gpoint(path: str | Path) -> Observations:
    """Read an RTS2 ``gpoint`` alt-az file (``# altaz-manual`` or ``# altaz``).

    ``altaz-manual`` rows are ``id JD ra dec e_alt e_az a_alt a_az`` (degrees):
    ``a_*`` is the star's true position and ``e_*`` the offset to where the
    mount pointed, so raw = true + e.  ``altaz`` rows are
    ``id MJD LST az_mnt alt_mnt ax_az ax_alt az_true alt_true``.  RTS2 reckons
    azimuth from south (libnova); it is converted to north = 0°, east = 90°.
    The header's ``lon lat alt`` give the site.
    """
    lines = _read_lines(path)
    fmt: str | None = None
    site: dict[str, Any] = {}
    rows: list[list[float]] = []
    ids: list[str] = []
    linenos: list[int] = []
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            fields = stripped[1:].split()
            if fields and fields[0] in ("altaz-manual", "altaz"):
                nums = _floats(fields[1:4], path, lineno)
                if nums is None or len(nums) != 3:
                    raise FileFormatError(path, lineno, f"expected '# {fields[0]} lon lat alt'")
                _check_site(nums, path, lineno)
                fmt = fields[0]
                site = {"longitude_deg": nums[0], "latitude_deg": nums[1], "height_m": nums[2]}
            elif fmt is None and _equatorial_header(fields):
                raise FileFormatError(path, lineno, f"RTS2 gpoint '{fields[0]}' header: "
                                      "equatorial runs are not supported yet (alt-az only)")
            continue
        if fmt is None:
            raise FileFormatError(path, lineno, "data before the '# altaz-manual lon lat alt' "
                                  "(or '# altaz ...') header line")
        fields = stripped.split()
        want = 8 if fmt == "altaz-manual" else 9
        nums = _floats(fields[1:want], path, lineno)
        if len(fields) < want or nums is None:
            raise FileFormatError(path, lineno, f"expected {want} columns for the {fmt} format, "
                                  f"found {stripped!r}")
        _check_gpoint_row(fmt, nums, path, lineno)
        rows.append(nums)
        ids.append(fields[0])
        linenos.append(lineno)
    if fmt is None or not rows:
        raise FileFormatError(path, None, "no gpoint alt-az header or no observations")
    d = np.array(rows)
    if fmt == "altaz-manual":
        time_mjd = d[:, 0] - 2400000.5
        el_t, az_t = d[:, 5], d[:, 6] + 180.0
        el_r, az_r = el_t + d[:, 3], az_t + d[:, 4]
    else:
        time_mjd = d[:, 0]
        az_r, el_r = d[:, 2] + 180.0, d[:, 3]
        az_t, el_t = d[:, 6] + 180.0, d[:, 7]
    wrap = lambda a: np.radians((a + 180.0) % 360.0 - 180.0)  # noqa: E731
    return Observations(
        wrap(az_t), np.radians(el_t), wrap(az_r), np.radians(el_r), time_mjd=time_mjd,
        comments=tuple(ids), lines=tuple(linenos), caption=f"RTS2 gpoint {fmt}",
        options=("ALTAZ",), site=site, source=str(path),
    )


def _check_site(nums: list[float], path: Any, lineno: int) -> None:
    lon, lat, height = nums
    if not -90.0 <= lat <= 90.0:
        raise FileFormatError(path, lineno, f"latitude {lat:g} is outside ±90°")
    if not -360.0 <= lon <= 360.0:
        raise FileFormatError(path, lineno, f"longitude {lon:g} is outside ±360°")
    if not -500.0 <= height <= 10000.0:
        raise FileFormatError(path, lineno, f"site height {height:g} m is not on the Earth")


def _equatorial_header(fields: list[str]) -> bool:
    """A gpoint header naming a site but not an alt-az run (RTS2's equatorial runs)."""
    if len(fields) < 4 or fields[0].startswith(("alt", "Observation")):
        return False
    return _NUMBER.match(fields[1]) is not None and fields[0].isalpha()


def _check_gpoint_row(fmt: str, nums: list[float], path: Any, lineno: int) -> None:
    if fmt == "altaz-manual":
        true_el, raw_el = nums[5], nums[5] + nums[3]
    else:
        true_el, raw_el = nums[7], nums[3]
    if not -90.0 <= true_el <= 90.0:
        raise FileFormatError(path, lineno, f"true altitude {true_el:g} is outside ±90°")
    if not -90.0 <= raw_el <= 180.0:
        raise FileFormatError(path, lineno, f"mount altitude {raw_el:g} is outside -90..180°")


#: MMT's latitude (31° 41′ 19.6″ N), for its raw mount logs which carry no site line
MMT_LATITUDE_DEG = 31.0 + 41.0 / 60.0 + 19.6 / 3600.0
_MMT_KEY = re.compile(r"^([A-Z][A-Z_]*):(.*)$")


def read_mmt(path: str | Path) -> Observations:
    """Read an MMT raw mount pointing log (``point_YYYYMMDD.dat``), as pytelpoint reads it.

    Each star is a block of ``KEY: values`` lines starting at ``CAT:``;
    ``RAA: el az`` is the raw (encoder) position and ``TAA: el az`` the
    star's computed (true) position, degrees.  The mount reckons azimuth from
    south through west; it is converted to north = 0°, east = 90° as
    ``A = 180° − A_mount`` (wrapped to 0..360°).  Other keys are ignored.
    """
    lines = _read_lines(path)
    rows: list[list[float]] = []
    linenos: list[int] = []
    names: list[str] = []
    block: dict[str, tuple[list[float], int]] = {}
    cat = ""

    def close(lineno: int | None) -> None:
        if not block and not cat:
            return
        missing = [k for k in ("RAA", "TAA") if k not in block]
        if missing:
            raise FileFormatError(path, lineno, f"star {cat or '?'}: no {' or '.join(missing)} "
                                  "line before the next CAT: line or the end of the file")
        (r_el, r_az), n = block["RAA"]
        (t_el, t_az), _ = block["TAA"]
        rows.append([(180.0 - t_az) % 360.0, t_el, (180.0 - r_az) % 360.0, r_el])
        linenos.append(n)
        names.append(cat)

    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        m = _MMT_KEY.match(stripped)
        if m is None:
            raise FileFormatError(path, lineno, "expected a 'KEY: values' line of an MMT "
                                  f"pointing log, found {stripped[:40]!r}")
        key, rest = m.group(1), m.group(2).split()
        if key == "CAT":
            close(lineno)
            block, cat = {}, (rest[0] if rest else "")
        elif key in ("RAA", "TAA"):
            nums = _floats(rest[:2], path, lineno)
            if nums is None or len(rest) < 2:
                raise FileFormatError(path, lineno, f"expected '{key}: elevation azimuth' "
                                      f"(degrees), found {stripped!r}")
            limit = 90.0 if key == "TAA" else 180.0
            if not -90.0 <= nums[0] <= limit:
                raise FileFormatError(path, lineno, f"{key} elevation {nums[0]:g} is outside "
                                      f"-90..{limit:g}°")
            block[key] = (nums, lineno)
    close(None)
    if not rows:
        raise FileFormatError(path, None, "no RAA:/TAA: observations found")
    d = np.radians(np.array(rows))
    return Observations(
        d[:, 0], d[:, 1], d[:, 2], d[:, 3], comments=tuple(names), lines=tuple(linenos),
        caption=f"MMT pointing log {Path(path).name}", options=("ALTAZ",),
        site={"latitude_deg": MMT_LATITUDE_DEG}, source=str(path),
    )


def read_observations(path: str | Path) -> Observations:
    """Read a pointing run in any supported format (TPOINT input, RTS2 gpoint, MMT log)."""
    for line in _read_lines(path):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            return read_gpoint(path)
        if _MMT_KEY.match(s) and s.split(":", 1)[0] in ("CAT", "RAA", "TAA"):
            return read_mmt(path)
        break
    return read_tpoint(path)

