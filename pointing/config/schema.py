"""Small helpers that read and validate one section of a station file.

A station file is TOML; :meth:`pointing.station.Station.section` returns each
extra section (``photometry``, ``detectors``, ``thresholds``, ``background``, …)
as a plain dict.  The module that owns a section validates it with these
helpers, so every bad value raises :class:`~pointing.errors.ConfigError`
naming the key as ``"section.key"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pointing.errors import ConfigError

__all__ = ["check_keys", "get_number", "get_numbers", "get_section", "get_subsection"]


def get_section(station: Any, name: str) -> dict:
    """Section *name* of *station* as a dict.

    *station* may be a :class:`pointing.station.Station` (anything with a
    ``section(name)`` method), a mapping of section names to dicts, or None
    (no station: every key takes its default).
    """
    if station is None:
        return {}
    if hasattr(station, "section"):
        value = station.section(name)
    elif isinstance(station, Mapping):
        value = station.get(name, {})
    else:
        raise ConfigError(f"cannot read section {name!r} from {type(station).__name__}")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: expected a table of keys, got {type(value).__name__}")
    return dict(value)


def get_subsection(section: Mapping, name: str, key: str) -> dict:
    """Nested table ``section[key]`` (e.g. ``photometry.efficiency``) as a dict."""
    value = section.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}.{key}: expected a table of keys, got {value!r}")
    return dict(value)


def check_keys(section: Mapping, name: str, known: Iterable[str]) -> None:
    """Refuse keys the owner does not know (typos would silently use defaults)."""
    known = set(known)
    for key in section:
        if key not in known:
            raise ConfigError(
                f"{name}.{key}: unknown key (known keys: {', '.join(sorted(known))})"
            )


def _as_float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return value


def _check_range(value: float, where: str, minimum: float | None, maximum: float | None,
                 exclusive_min: bool) -> None:
    if minimum is not None:
        if exclusive_min and not value > minimum:
            raise ConfigError(f"{where}: must be > {minimum:g}, got {value:g}")
        if not exclusive_min and not value >= minimum:
            raise ConfigError(f"{where}: must be >= {minimum:g}, got {value:g}")
    if maximum is not None and not value <= maximum:
        raise ConfigError(f"{where}: must be <= {maximum:g}, got {value:g}")


def get_number(section: Mapping, name: str, key: str, default: float | None, *,
               minimum: float | None = None, maximum: float | None = None,
               exclusive_min: bool = False) -> float | None:
    """``section[key]`` as a float in [minimum, maximum], or *default* when absent."""
    if key not in section or section[key] is None:
        return default
    where = f"{name}.{key}"
    value = _as_float(section[key], where)
    _check_range(value, where, minimum, maximum, exclusive_min)
    return value


def get_numbers(section: Mapping, name: str, key: str, default: Sequence[float] | None, *,
                minimum: float | None = None, maximum: float | None = None,
                exclusive_min: bool = False, min_length: int = 1) -> tuple[float, ...] | None:
    """``section[key]`` as a tuple of floats (a single number is accepted as one item)."""
    if key not in section or section[key] is None:
        return None if default is None else tuple(float(v) for v in default)
    where = f"{name}.{key}"
    raw = section[key]
    items = [raw] if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ConfigError(f"{where}: expected a list of numbers, got {raw!r}")
    values = []
    for i, item in enumerate(items):
        value = _as_float(item, f"{where}[{i}]")
        _check_range(value, f"{where}[{i}]", minimum, maximum, exclusive_min)
        values.append(value)
    if len(values) < min_length:
        raise ConfigError(f"{where}: expected at least {min_length} values, got {len(values)}")
    return tuple(values)
