"""One validator for every ``[section]`` of a station file, with one error wording.

A station file is TOML; :meth:`pointing.config.station.Station.section` returns
each section owned by another room (``camera``, ``night``, ``photometry``, ...)
as a plain dict, and the room reads it through a declarative :class:`Section`::

    CAMERA = Section("camera", {
        "pixel_scale_urad": Field(float, 3.0, above=0),
        "width": Field(int, 1024, min=1, max=1 << 20),
        "parity": Field(int, 1, choices=(1, -1)),
        "calibration_pixel": Field(list, None, item=Field(float), length=2),
    })
    values = CAMERA.read(station.section("camera"))   # dict, defaults filled in

Every bad value raises :class:`~pointing.errors.ConfigError` in ONE wording,
``<section>.<key>: <problem>, got <value>``, for example::

    camera.pixel_scale_urad: expected a number, got 'x'
    camera.width: must be within 1..1048576, got 0
    camera.colour: unknown key (known keys: ...)
    site.height_m: required key missing
    base.feet[1].azimuth_deg: expected a number, got 'north'

(:func:`pointing.config.station.load_station` puts the file name in front.)
A check that involves two keys raises :meth:`Section.error` with the key it
blames (``mount.el_min_deg: must be below mount.el_max_deg (40), got 50``), so it
reads the same way; a key that is not a plain name is quoted
(``simulator.terms['I A']``).

Fields
------
``Field(kind, default=OMIT, *, min, max, above, below, choices, item, length,
min_length, scalar, nonempty, check, doc)``; *kind* is one of

* ``float`` -- a finite number (TOML integer or float; booleans refused);
* ``int`` -- an integer (an integral float such as ``4.0`` is accepted);
* ``bool`` -- ``true`` / ``false``;
* ``str`` -- a string (``nonempty=True`` refuses ``""``; stripped);
* ``list`` -- a list whose items are read by *item* (a Field); ``length`` or
  ``min_length`` count them; ``scalar=True`` accepts one bare value as a list
  of one; returned as a tuple;
* ``dict`` -- a table with free keys whose values are read by *item*
  (e.g. term name -> arcsec);
* ``object`` -- any value, left to *check* (``"auto"`` or a list of terms);
* a :class:`Section` -- a nested table with known keys (``photometry.efficiency``,
  or with ``kind=list, item=Field(Section(...))`` a list of tables).

*default*: :data:`REQUIRED` (absent is an error), :data:`OMIT` (absent keys
are left out of the result, so a dataclass can apply its own defaults; an
absent nested Section gives its own defaults), or any value (filled in;
``None`` means "not given").  Range limits: ``min``/``max``
inclusive, ``above``/``below`` exclusive.  ``choices`` lists the allowed values.
``check(value) -> value`` runs last and may convert; a ``ValueError`` it raises
becomes the error's problem text, followed by ``, got <value>`` (so
``parse_terms`` errors name the key).

Adding a section (for the rooms to come: ``[passes]``, ``[source]``, ``[tracking]``)
------------------------------------------------------------------------------------
1. Declare it beside its reader, in the room that owns it (e.g.
   ``pointing/passes/config.py``)::

       PASSES = Section("passes", {"min_elevation_deg": Field(float, 20.0, min=0, max=90)})

       @dataclass(frozen=True)
       class PassesConfig:
           min_elevation_deg: float = 20.0

           @classmethod
           def from_station(cls, station: Station | None) -> PassesConfig:
               return cls(**PASSES.read(section_of(station, "passes")))

2. Add the name to :data:`pointing.config.station.EXTRA_SECTIONS` (so that a
   station file may contain it; any other top-level table is refused as a typo).
3. Add the reader to ``READERS`` in ``tests/config/test_schema.py``: the test
   walks every section of every shipped station file through its reader and
   throws a table of bad values at each, checking the wording above.
4. Document the keys in the reader's docstring and, if the shipped stations use
   it, in ``pointing/config/stations/*.toml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pointing.errors import ConfigError

__all__ = [
    "OMIT",
    "REQUIRED",
    "Field",
    "HasSections",
    "Section",
    "check_keys",
    "get_number",
    "get_numbers",
    "get_section",
    "get_subsection",
    "section_of",
]


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: default of a key that must be given
REQUIRED: Any = _Marker("REQUIRED")
#: default of a key left out of :meth:`Section.read`'s result when absent
OMIT: Any = _Marker("OMIT")


def _show(value: Any) -> str:
    """A value as the error shows it (short: a huge list is not printed whole)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(where: str, key: Any) -> str:
    """``section.key``; a key that is not a plain name is shown quoted: ``section['a b']``."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{where}.{key}"
    return f"{where}[{key!r}]"


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Field:
    """How one key is read: its kind, default and limits (see the module docstring)."""

    kind: Any
    default: Any = OMIT
    min: float | None = None
    max: float | None = None
    above: float | None = None
    below: float | None = None
    choices: tuple | None = None
    item: Field | None = None
    length: int | None = None
    min_length: int | None = None
    scalar: bool = False
    nonempty: bool = False
    check: Callable[[Any], Any] | None = None
    doc: str = ""

    def read(self, value: Any, where: str) -> Any:
        """Validate and convert *value*; ConfigError names *where* (``section.key``)."""
        kind = self.kind
        if isinstance(kind, Section):
            out: Any = kind.read(value, where=where)
        elif kind is float:
            out = self._range(_number(value, where), where)
        elif kind is int:
            out = int(self._range(_integer(value, where), where))
        elif kind is bool:
            if not isinstance(value, bool):
                raise _problem(where, "expected true or false", value)
            out = value
        elif kind is str:
            if not isinstance(value, str):
                raise _problem(where, "expected a string", value)
            out = value.strip()
            if self.nonempty and not out:
                raise ConfigError(f"{where}: must not be empty")
        elif kind is list:
            out = self._list(value, where)
        elif kind is dict:
            out = self._table(value, where)
        elif kind is object:  # any value: *check* does the work
            out = value
        else:  # pragma: no cover - a programming error in a Section declaration
            raise TypeError(f"unsupported field kind {kind!r}")
        if self.choices is not None and out not in self.choices:
            raise _problem(where, "expected one of " + ", ".join(map(repr, self.choices)),
                           value)
        if self.check is not None:
            try:
                out = self.check(out)
            except ConfigError:
                raise
            except ValueError as exc:
                raise _problem(where, str(exc), value) from None
        return out

    def _range(self, v: float, where: str) -> float:
        lo, hi = self.min, self.max
        ok = ((lo is None or v >= lo) and (hi is None or v <= hi)
              and (self.above is None or v > self.above)
              and (self.below is None or v < self.below))
        if ok:
            return v
        if lo is not None and hi is not None and self.above is None and self.below is None:
            rule = f"within {_fmt(lo)}..{_fmt(hi)}"
        else:
            parts = [f"{op} {_fmt(x)}" for op, x in ((">=", lo), (">", self.above),
                                                    ("<=", hi), ("<", self.below))
                     if x is not None]
            rule = " and ".join(parts)
        raise ConfigError(f"{where}: must be {rule}, got {_fmt(v)}")

    def _list(self, value: Any, where: str) -> tuple:
        items = value
        if self.scalar and not isinstance(value, (list, tuple, Mapping, str, bytes)):
            items = [value]
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
            raise _problem(where, "expected a list", value)
        if self.length is not None and len(items) != self.length:
            raise _problem(where, f"expected a list of {self.length} values", value)
        if self.min_length is not None and len(items) < self.min_length:
            raise _problem(where, f"expected at least {self.min_length} values", value)
        item = self.item or Field(float)
        return tuple(item.read(v, f"{where}[{i}]") for i, v in enumerate(items))

    def _table(self, value: Any, where: str) -> dict:
        if not isinstance(value, Mapping):
            raise _problem(where, "expected a table of keys", value)
        item = self.item or Field(float)
        return {str(k): item.read(v, _join(where, k)) for k, v in value.items()}


def _problem(where: str, what: str, value: Any) -> ConfigError:
    return ConfigError(f"{where}: {what}, got {_show(value)}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _problem(where, "expected a number", value)
    try:
        v = float(value)
    except OverflowError:  # a TOML integer too large for a float
        raise _problem(where, "expected a finite number", value) from None
    if not math.isfinite(v):
        raise _problem(where, "expected a finite number", value)
    return v


def _integer(value: Any, where: str) -> float:
    v = _number(value, where) if not isinstance(value, int) or isinstance(value, bool) \
        else value
    if isinstance(v, float) and v != int(v):
        raise _problem(where, "expected an integer", value)
    if abs(v) > 2**62:
        raise _problem(where, "expected an integer of reasonable size", value)
    return int(v)


@dataclass(frozen=True)
class Section:
    """A station-file table: its name (``camera``, ``photometry.efficiency``) and keys.

    ``fields`` maps each known key to its :class:`Field`; any other key is an
    error (a typo must not silently fall back to a default).
    """

    name: str
    fields: Mapping[str, Field] = field(default_factory=dict)
    doc: str = ""

    def read(self, mapping: Mapping[str, Any] | None, *, where: str | None = None
             ) -> dict[str, Any]:
        """Validate *mapping* (None: empty) and return a dict of converted values.

        Keys with a default are filled in, :data:`OMIT` keys are left out when
        absent; *where* overrides the name used in errors (for a nested table).
        """
        where = where or self.name
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, Mapping):
            raise _problem(where, "expected a table of keys", mapping)
        for key in mapping:
            if key not in self.fields:
                raise ConfigError(f"{_join(where, key)}: unknown key (known keys: "
                                  f"{', '.join(self.fields)})")
        out: dict[str, Any] = {}
        for key, spec in self.fields.items():
            if key in mapping:
                out[key] = spec.read(mapping[key], f"{where}.{key}")
            elif spec.default is REQUIRED:
                raise ConfigError(f"{where}.{key}: required key missing")
            elif spec.default is not OMIT:
                out[key] = spec.default
            elif isinstance(spec.kind, Section):  # an absent nested table: its defaults
                out[key] = spec.kind.read({}, where=f"{where}.{key}")
        return out

    def error(self, key: str, rule: str, value: Any) -> ConfigError:
        """A ConfigError for a check across keys, blamed on *key*, in the one wording:
        ``section.key: must be <rule>, got <value>``."""
        return ConfigError(f"{self.name}.{key}: must be {rule}, got {_show(value)}")

    def renamed(self, name: str) -> Section:
        """The same keys under another section name (``wide_camera`` takes camera keys)."""
        return Section(name, self.fields, self.doc)

    def extended(self, name: str, fields: Mapping[str, Field]) -> Section:
        """A section with these keys plus *fields* (later ones win)."""
        return Section(name, {**self.fields, **fields}, self.doc)


class HasSections(Protocol):
    """Anything with ``section(name) -> dict``: a :class:`~pointing.config.station.Station`."""

    def section(self, name: str) -> Mapping[str, Any]: ...


def section_of(station: HasSections | Mapping[str, Any] | None, name: str) -> dict:
    """Section *name* of a station as a dict (``{}`` when absent).

    *station* is a :class:`~pointing.config.station.Station` (anything with a
    ``section(name)`` method), a mapping of section names to tables, or None
    (no station: every key takes its default).
    """
    if station is None:
        return {}
    if hasattr(station, "section"):
        value = station.section(name)
    elif isinstance(station, Mapping):
        value = station.get(name, {})
    else:
        raise ConfigError(f"{name}: cannot read a section from a {type(station).__name__}")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _problem(name, "expected a table of keys", value)
    return dict(value)


# --- the helpers of the first schema, kept for readers not yet declared as a Section --------
# (photometry/gonogo.py reads [thresholds] with them); they share the wording above.

get_section = section_of


def get_subsection(section: Mapping, name: str, key: str) -> dict:
    """Nested table ``section[key]`` (e.g. ``photometry.efficiency``) as a dict."""
    value = section.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _problem(f"{name}.{key}", "expected a table of keys", value)
    return dict(value)


def check_keys(section: Mapping, name: str, known: Iterable[str]) -> None:
    """Refuse keys the owner does not know (typos would silently use defaults)."""
    known = list(known)
    for key in section:
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key (known keys: {', '.join(known)})")


def get_number(section: Mapping, name: str, key: str, default: float | None, *,
               minimum: float | None = None, maximum: float | None = None,
               exclusive_min: bool = False) -> float | None:
    """``section[key]`` as a float in [minimum, maximum], or *default* when absent."""
    if key not in section or section[key] is None:
        return default
    spec = Field(float, min=None if exclusive_min else minimum,
                 above=minimum if exclusive_min else None, max=maximum)
    return spec.read(section[key], f"{name}.{key}")


def get_numbers(section: Mapping, name: str, key: str, default: Sequence[float] | None, *,
                minimum: float | None = None, maximum: float | None = None,
                exclusive_min: bool = False, min_length: int = 1) -> tuple[float, ...] | None:
    """``section[key]`` as a tuple of floats (a single number is accepted as one item)."""
    if key not in section or section[key] is None:
        return None if default is None else tuple(float(v) for v in default)
    item = Field(float, min=None if exclusive_min else minimum,
                 above=minimum if exclusive_min else None, max=maximum)
    spec = Field(list, item=item, scalar=True, min_length=min_length or None)
    return spec.read(section[key], f"{name}.{key}")
