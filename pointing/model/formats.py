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

TPOINT input files for equatorial mounts (issue 18)::

    <caption line>
    : EQUAT
    +40 00 00                               latitude (or run record), as above
    RA Dec RAraw Decraw ST                  h m s ±d m s h m s ±d m s h m (or five decimals:
                                            hours, degrees, hours, degrees, hours)

Hour angles are ``ST − RA``.  A German equatorial's far side of the pier has
the raw declination beyond the pole (``180° − δ``, raw RA 12 h away), as in
TPOINT and RTS2; the true position of such an observation is put on the same
side when read (and back on the sky when written).  The run's mount is
``gem`` when any observation is on the far side (or the file carries this
toolkit's ``! ogs-pointing mount: gem`` comment line, which TPOINT ignores),
else ``fork``.  ``.mod`` files do not state the mount: see :func:`read_mod`.
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
from pointing.model.terms import EQUATORIAL_TERMS, parse_term

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
    """Read a TPOINT input file of an alt-az (``: ALTAZ``) or equatorial (``: EQUAT``) run.

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
    mount_note: str | None = None
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("!"):
            note = _MOUNT_NOTE.match(stripped)
            mount_note = note.group(1).lower() if note else mount_note
            continue
        if not stripped:
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
            kinds = {o.upper() for o in options} & {"ALTAZ", "EQUAT"}
            if len(kinds) == 2:
                raise FileFormatError(path, lineno, "options ': ALTAZ' and ': EQUAT' both "
                                      "given: a run mixing mount types")
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
        if "EQUAT" in {o.upper() for o in options}:
            nums = _equatorial_row(fields, path, lineno, rejected)
            if nums is None:
                continue
            rows.append(nums)
            used.append(not rejected)
            comments.append(comment.strip())
            linenos.append(lineno)
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
    if not upper & {"ALTAZ", "EQUAT"}:
        raise FileFormatError(path, None, "no ': ALTAZ' or ': EQUAT' option line: the mount "
                              "type of the run is not given")
    if site is None or not rows:
        raise FileFormatError(path, None, "no observations found")
    if "EQUAT" in upper:
        return _equatorial_run(np.array(rows), used, comments, linenos, caption, options, site,
                               path, mount_note)
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


_MOUNT_NOTE = re.compile(r"^!\s*ogs-pointing mount:\s*(fork|gem)\s*$", re.IGNORECASE)
#: sexagesimal equatorial record: RA h m s, Dec ±d m s (true), the same (raw), ST h m
_EQ_FIELDS = 14


def _sexagesimal(fields: list[str], path: Any, lineno: int) -> float:
    """``d m s`` (or ``h m s``, or ``h m``) with the sign on the first field, as one number."""
    nums = _floats(fields, path, lineno)
    if nums is None:
        raise FileFormatError(path, lineno, f"expected numbers, found {' '.join(fields)!r}")
    for v in nums[1:]:
        if not 0.0 <= v < 60.0:
            raise FileFormatError(path, lineno, f"minutes/seconds {v:g} outside 0..60 in "
                                  f"{' '.join(fields)!r}")
    sign = -1.0 if fields[0].startswith("-") else 1.0
    return sign * sum(abs(v) / 60.0 ** k for k, v in enumerate(nums))


def _equatorial_row(fields: list[str], path: Any, lineno: int, rejected: bool
                    ) -> list[float] | None:
    """One ``: EQUAT`` observation: [RA_true h, Dec_true °, RA_raw h, Dec_raw °, ST h].

    Either TPOINT's sexagesimal record (14 fields: ``h m s ±d m s h m s ±d m s
    h m``) or five decimal numbers in the same order (hours and degrees).
    """
    if len(fields) == 5:
        nums = _floats(fields, path, lineno)
    elif len(fields) >= _EQ_FIELDS and _floats(fields[:_EQ_FIELDS], path, lineno):
        cuts = ((0, 3), (3, 6), (6, 9), (9, 12), (12, 14))
        nums = [_sexagesimal(fields[a:b], path, lineno) for a, b in cuts]
    else:
        nums = None
    if nums is None:
        if rejected:
            return None  # ';' followed by text: a comment line
        raise FileFormatError(path, lineno, "expected an equatorial observation 'RA Dec RAraw "
                              "Decraw ST' (h m s ±d m s h m s ±d m s h m, or five decimal "
                              f"numbers), found {' '.join(fields)!r}")
    if not -90.0 <= nums[1] <= 90.0:
        raise FileFormatError(path, lineno, f"observed declination {nums[1]:g} is outside ±90°")
    if not -270.0 <= nums[3] <= 270.0:
        raise FileFormatError(path, lineno, f"raw declination {nums[3]:g} is outside ±270° "
                              "(beyond the pole is the far side of the pier)")
    return nums


def _far_side_true(ha_t: np.ndarray, dec_t: np.ndarray, dec_raw: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised raw δ (−90°..270°) and the true position written on the raw's pier side."""
    d_raw = np.where(dec_raw < -90.0, dec_raw + 360.0, dec_raw)
    far = d_raw > 90.0
    return (d_raw, np.where(far, ha_t + 180.0, ha_t), np.where(far, 180.0 - dec_t, dec_t))


def _wrap_deg(a: np.ndarray) -> np.ndarray:
    return np.radians((a + 180.0) % 360.0 - 180.0)


def _equatorial_run(d: np.ndarray, used: list[bool], comments: list[str], linenos: list[int],
                    caption: str, options: list[str], site: dict[str, Any], path: Any,
                    mount_note: str | None) -> Observations:
    """The equatorial run of a TPOINT file: hour angles from the sidereal time."""
    st = d[:, 4] * 15.0
    d_raw, ha_t, dec_t = _far_side_true(st - d[:, 0] * 15.0, d[:, 1], d[:, 3])
    far = d_raw > 90.0
    mount = "gem" if far.any() or mount_note == "gem" else "fork"
    return Observations(
        _wrap_deg(ha_t), np.radians(dec_t), _wrap_deg(st - d[:, 2] * 15.0), np.radians(d_raw),
        used=np.array(used), extra={"sidereal_time_h": d[:, 4]}, comments=tuple(comments),
        lines=tuple(linenos), caption=caption, options=tuple(options), site=site,
        source=str(path), mount=mount)


def _hms(value: float, hours: bool) -> str:
    """TPOINT's sexagesimal field: ``hh mm ss.ssssss`` / ``±dd mm ss.sssss`` / ``hh mm.mmmm``."""
    sign = "-" if value < 0 else "+"
    v = abs(value)
    d, rem = divmod(v, 1.0)
    m, sec = divmod(rem * 60.0, 1.0)
    sec *= 60.0
    if round(sec, 6) >= 60.0:  # carry, so the written seconds stay below 60
        sec, m = 0.0, m + 1
        if m >= 60:
            m, d = 0, d + 1
    text = f"{int(d):02d} {int(m):02d} {sec:09.6f}"
    return text if hours else sign + text


def _write_equatorial_body(obs: Observations) -> list[str]:
    st = np.asarray(obs.extra.get("sidereal_time_h", np.zeros(len(obs))), float)
    h_t, d_t = np.degrees(obs.ha_true), np.degrees(obs.dec_true)
    far = obs.far_side
    h_t = np.where(far, h_t - 180.0, h_t)  # the star's own position
    d_t = np.where(far, 180.0 - np.where(d_t < -90.0, d_t + 360.0, d_t), d_t)
    ra_t = (st * 15.0 - h_t) % 360.0 / 15.0
    ra_r = (st * 15.0 - np.degrees(obs.ha_raw)) % 360.0 / 15.0
    d_r = np.degrees(obs.dec_raw)
    body = []
    for i in range(len(obs)):
        st_m = (st[i] % 24.0) * 60.0
        fields = [_hms(ra_t[i], True), _hms(d_t[i], False), _hms(ra_r[i], True),
                  _hms(d_r[i], False), f"{int(st_m // 60):02d} {st_m % 60:011.8f}"]
        line = ("; " if not obs.used[i] else "") + "  ".join(fields)
        if obs.comments[i]:
            line += " ; " + obs.comments[i]
        body.append(line)
    return body


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
    kind = "EQUAT" if obs.is_equatorial else "ALTAZ"
    opts = [o for o in obs.options if o.upper() not in ("ALTAZ", "EQUAT")]
    if obs.is_equatorial:  # TPOINT skips '!' lines; this toolkit reads the pier layout back
        head.append(f"! ogs-pointing mount: {obs.mount}")
    head.append(f": {kind}")
    head.extend(f": {o}" for o in opts)
    record = [_format_latitude(lat)]
    for name in _RUN_RECORD_FIELDS:
        if name not in obs.site:
            break
        record.append(f"{obs.site[name]:g}" if isinstance(obs.site[name], float)
                      else str(obs.site[name]))
    head.append(" ".join(record))
    if obs.is_equatorial:
        body = _write_equatorial_body(obs)
        path.write_text("\n".join([*head, *body, "END"]) + "\n", encoding="utf-8")
        return path
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


def _mod_mount(lines: list[str]) -> str:
    """A ``.mod`` file's mount, from its term names (the format does not state it):
    ``fork`` when a term is equatorial-only (IH, ID, CH, NP, MA, ME, FO, DAF or a
    harmonic in H, D or X), ``gem`` when one acts on one pier side (``ID@FAR``), else
    ``altaz``."""
    found = "altaz"
    for line in lines[1:]:
        fields = line.replace("=", " ").replace("&", " ").split()
        if not fields:
            continue
        name = fields[0].upper()
        if "@" in name:  # a pier-side term (ID@FAR): only German equatorials have two sides
            return "gem"
        if name in EQUATORIAL_TERMS and name not in ("TF", "TX", "TX10"):
            found = "fork"
        if re.match(r"^H[HDX](?:[SC][A-Z][0-9]*)+$", name) and not re.search(
                r"[SC][AEZ]", name[2:]):
            found = "fork"
    return found


#: a term name and its signed value with no blank between them (``HSCA5CE8-1234.5000``)
_GLUED = re.compile(r"^([A-Za-z0-9@&]+)([+-](?:\d|\.\d).*)$")


def _unglue(fields: list[str]) -> list[str]:
    """Split a name glued to its value: OUTMOD's fixed columns (name in 8, signed value
    in 10) leave no blank when an 8-character name has a value of 1000″ or more."""
    m = _GLUED.match(fields[0]) if fields else None
    return [m[1], m[2], *fields[1:]] if m else fields


def _mod_spelling(prefix: str, word: str, parallel: bool) -> str:
    """The term as :func:`parse_term` reads it: ``&`` in the first column (``& HESE``) or
    glued to the name (``&HESE``) alike; dropped when ``parallel`` is false."""
    bare = word.lstrip("&")
    amps = prefix.count("&") + len(word) - len(bare)
    if amps > 1:  # '&&' stays an error either way
        return "&&" + bare
    return ("&" if amps and parallel else "") + bare


def read_mod(path: str | Path, mount: str | None = None,
             latitude_deg: float | None = None, *, parallel: bool = True) -> PointingModel:
    """Read a TPOINT model file (OUTMOD layout) into a :class:`PointingModel`.

    ``=`` before a name marks a term held fixed, ``&`` in the first column
    (``& HESE`` or ``&HESE``) a parallel term (alt-az harmonics, evaluated with
    the term before them: see :mod:`pointing.model.kernels`; an error naming
    the line on equatorial models and on other terms); the ``T`` line's
    observation count and sky RMS are kept in ``model.info["fit"]``.
    ``parallel=False`` reads every ``&`` as a plain flag, each term evaluated
    where it acts: for ``.mod`` files this toolkit wrote before it read ``&``
    (it put ``&`` before every free harmonic; read as parallel terms they
    point differently by up to ~0.3″), which the layout cannot tell apart.
    The format does not say the mount: give ``mount`` (``"altaz"``, ``"fork"``,
    ``"gem"``), or it is ``fork`` when the file lists an equatorial-only term
    and ``altaz`` otherwise (fork and German equatorial models apply alike;
    the JSON model file keeps which).  An equatorial model with TF, TX or
    DAF needs ``latitude_deg`` before it is applied.
    """
    lines = _read_lines(path)
    mount = mount or _mod_mount(lines)
    family = "altaz" if mount == "altaz" else "equatorial"
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
        fields = _unglue(rest.split())
        if len(fields) not in (2, 3):
            raise FileFormatError(path, lineno, "expected a term line 'NAME value [sigma]' "
                                  f"(arcsec), found {stripped!r}")
        try:
            name = parse_term(_mod_spelling(prefix, fields[0], parallel), family).spelling
        except TermError as exc:
            hint = (" (read_mod(..., parallel=False) reads '&' as a plain flag)"
                    if "&" in prefix + fields[0] and parallel else "")
            raise FileFormatError(path, lineno, f"{exc}{hint}") from None
        nums = _floats(fields[1:], path, lineno)
        if nums is None:
            raise FileFormatError(path, lineno, f"term {name}: value and sigma must be numbers, "
                                  f"found {' '.join(fields[1:])!r}")
        try:  # coefficient and sigma checked where the line is known
            PointingModel([name], [nums[0]], sigmas=[nums[1] if len(nums) > 1 else None],
                          mount=mount)
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
        return PointingModel(names, values, sigmas=sigmas, fixed=fixed, mount=mount,
                             latitude_deg=latitude_deg if family == "equatorial" else None,
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
        prefix = ("&" if term.parallel else " ") + ("=" if is_fixed else " ")
        line = f"{prefix}{term.name:<8s}{value:+10.4f}"
        if not is_fixed and sigma is not None:
            line += f"{sigma:12.5f}"
        out.append(line)
    out.append("END")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def read_gpoint(path: str | Path) -> Observations:
    """Read an RTS2 ``gpoint`` file: alt-az (``# altaz-manual``/``# altaz``) or equatorial.

    ``altaz-manual`` rows are ``id JD ra dec e_alt e_az a_alt a_az`` (degrees):
    ``a_*`` is the star's true position and ``e_*`` the offset to where the
    mount pointed, so raw = true + e.  ``altaz`` rows are
    ``id MJD LST az_mnt alt_mnt ax_az ax_alt az_true alt_true``.  RTS2 reckons
    azimuth from south (libnova); it is converted to north = 0°, east = 90°.

    Equatorial files (header ``# observatory lon lat alt``, or ``# gem ...``)
    have rows ``id JD LST RA-MNT DEC-MNT AXRA AXDEC RA-TRUE DEC-TRUE``
    (degrees; axis counts kept as ``extra["axis_ra"]``/``["axis_dec"]``): raw
    ``h = LST − RA-MNT``, ``δ = DEC-MNT`` and true ``h = LST − RA-TRUE``.  A
    German equatorial's far side has DEC-MNT beyond ±90° (RTS2 writes
    ``180° − δ`` north, ``−180° − δ`` south; read as −90°..270°); its true
    position is put on the same side, as RTS2 does.  The run's mount is
    ``gem`` (RTS2's model for these files).  The header's ``lon lat alt``
    give the site; a file with both an alt-az and an equatorial header is a
    run mixing mount types and is refused at the second header's line.
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
            header = _gpoint_header(fields)
            if header is None:
                continue
            nums = _floats(fields[1:4], path, lineno)
            if nums is None or len(nums) != 3:
                raise FileFormatError(path, lineno, f"expected '# {fields[0]} lon lat alt'")
            if fmt is not None and (header == "equatorial") != (fmt == "equatorial"):
                raise FileFormatError(path, lineno, f"'# {fields[0]}' header after a '{fmt}' "
                                      "one: a run mixing mount types (alt-az and equatorial)")
            _check_site(nums, path, lineno)
            fmt = header
            site = {"longitude_deg": nums[0], "latitude_deg": nums[1], "height_m": nums[2]}
            continue
        if fmt is None:
            raise FileFormatError(path, lineno, "data before the '# altaz-manual lon lat alt' "
                                  "(or '# altaz ...', '# observatory ...') header line")
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
        raise FileFormatError(path, None, "no gpoint header or no observations")
    d = np.array(rows)
    common = dict(comments=tuple(ids), lines=tuple(linenos), site=site, source=str(path))
    if fmt == "equatorial":
        return _gpoint_equatorial(d, common)
    if fmt == "altaz-manual":
        time_mjd = d[:, 0] - 2400000.5
        el_t, az_t = d[:, 5], d[:, 6] + 180.0
        el_r, az_r = el_t + d[:, 3], az_t + d[:, 4]
    else:
        time_mjd = d[:, 0]
        az_r, el_r = d[:, 2] + 180.0, d[:, 3]
        az_t, el_t = d[:, 6] + 180.0, d[:, 7]
    return Observations(
        _wrap_deg(az_t), np.radians(el_t), _wrap_deg(az_r), np.radians(el_r), time_mjd=time_mjd,
        caption=f"RTS2 gpoint {fmt}", options=("ALTAZ",), **common,
    )


def _gpoint_header(fields: list[str]) -> str | None:
    """The format a gpoint header line names, or None for a plain comment."""
    if fields and fields[0] in ("altaz-manual", "altaz"):
        return fields[0]
    if fields and fields[0] in ("observatory", "gem"):
        return "equatorial"
    return None


def _gpoint_equatorial(d: np.ndarray, common: dict[str, Any]) -> Observations:
    """RTS2's equatorial rows (JD LST RA-MNT DEC-MNT AXRA AXDEC RA-TRUE DEC-TRUE)."""
    lst = d[:, 1]
    time_mjd = np.where(d[:, 0] > 2400000.5, d[:, 0] - 2400000.5, d[:, 0])
    d_raw, ha_t, dec_t = _far_side_true(lst - d[:, 6], d[:, 7], d[:, 3])
    return Observations(
        _wrap_deg(ha_t), np.radians(dec_t), _wrap_deg(lst - d[:, 2]), np.radians(d_raw),
        time_mjd=time_mjd, extra={"lst_deg": lst, "axis_ra": d[:, 4], "axis_dec": d[:, 5]},
        caption="RTS2 gpoint equatorial", options=("EQUAT",), mount="gem", **common,
    )


def _check_site(nums: list[float], path: Any, lineno: int) -> None:
    lon, lat, height = nums
    if not -90.0 <= lat <= 90.0:
        raise FileFormatError(path, lineno, f"latitude {lat:g} is outside ±90°")
    if not -360.0 <= lon <= 360.0:
        raise FileFormatError(path, lineno, f"longitude {lon:g} is outside ±360°")
    if not -500.0 <= height <= 10000.0:
        raise FileFormatError(path, lineno, f"site height {height:g} m is not on the Earth")


def _check_gpoint_row(fmt: str, nums: list[float], path: Any, lineno: int) -> None:
    if fmt == "equatorial":
        if not -90.0 <= nums[7] <= 90.0:
            raise FileFormatError(path, lineno, f"true declination {nums[7]:g} is outside ±90°")
        if not -270.0 <= nums[3] <= 270.0:
            raise FileFormatError(path, lineno, f"mount declination {nums[3]:g} is outside "
                                  "±270°")
        return
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

