"""The sky: the embedded star catalog, observed places, star selection.

* :mod:`pointing.sky.catalog` -- :func:`load_catalog`, :func:`refresh_catalog`
* :mod:`pointing.sky.places` -- :func:`observed_altaz`, :func:`moon_altaz`
* :mod:`pointing.sky.select` -- :func:`select_stars`, :func:`plan_slews`

Azimuth is reckoned from north (0) through east (90°) everywhere.  Names are
imported lazily so that ``import pointing.sky`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_catalog": "pointing.sky.catalog",
    "refresh_catalog": "pointing.sky.catalog",
    "observed_altaz": "pointing.sky.places",
    "moon_altaz": "pointing.sky.places",
    "select_stars": "pointing.sky.select",
    "qualifying_stars": "pointing.sky.select",
    "plan_slews": "pointing.sky.select",
    "StarSelection": "pointing.sky.select",
    "condition_number": "pointing.sky.select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'pointing.sky' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
