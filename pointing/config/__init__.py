"""Station configuration: one schema for every ``[section]``, the typed Station.

* :mod:`pointing.config.schema` -- the validators every section reader uses
  (one wording for every error: ``section.key: ...``);
* :mod:`pointing.config.station` -- :class:`Station` and :func:`load_station`;
* :mod:`pointing.config.paths` -- output paths checked before the work starts;
* ``stations/*.toml`` -- the shipped reference sites.
"""

from __future__ import annotations

from pointing._lazy import lazy_exports

_EXPORTS = {
    "Station": "pointing.config.station",
    "load_station": "pointing.config.station",
    "station_names": "pointing.config.station",
    "DEFAULT_STATION": "pointing.config.station",
    "Section": "pointing.config.schema",
    "Field": "pointing.config.schema",
    "writable_file": "pointing.config.paths",
    "writable_dir": "pointing.config.paths",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("pointing.config", _EXPORTS, globals())
