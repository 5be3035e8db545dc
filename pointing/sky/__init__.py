"""The sky: the embedded star catalog, observed places, star selection.

* :mod:`pointing.sky.catalog` -- :func:`load_catalog`, :func:`refresh_catalog`
* :mod:`pointing.sky.places` -- :func:`observed_altaz`, :func:`moon_altaz`
* :mod:`pointing.sky.select` -- :func:`select_stars`, :func:`qualifying_stars`
* :mod:`pointing.sky.slews` -- :func:`plan_slews`, :func:`slew_time`

Azimuth is reckoned from north (0) through east (90°) everywhere.  Names are
imported lazily so that ``import pointing.sky`` stays cheap.
"""

from __future__ import annotations

from pointing._lazy import lazy_exports

_EXPORTS = {
    "load_catalog": "pointing.sky.catalog",
    "refresh_catalog": "pointing.sky.catalog",
    "observed_altaz": "pointing.sky.places",
    "moon_altaz": "pointing.sky.places",
    "select_stars": "pointing.sky.select",
    "qualifying_stars": "pointing.sky.select",
    "plan_slews": "pointing.sky.slews",
    "StarSelection": "pointing.sky.select",
    "condition_number": "pointing.sky.select",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("pointing.sky", _EXPORTS, globals())
