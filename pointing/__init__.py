"""Calibration toolkit for portable optical ground stations.

The public API is re-exported here and imported lazily, so that the station
daemon, which only needs :class:`PointingModel`, pays for numpy alone and never
imports astropy, photutils or matplotlib.

Conventions used throughout the package:

* angles are radians inside the code; pointing-model coefficients are
  arcseconds (TPOINT convention); residuals are reported in arcsec and µrad;
* azimuth is measured from north (0) through east (90°);
* times are UTC, as :class:`astropy.time.Time`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "PointingModel": "pointing.model.model",
    "Term": "pointing.model.terms",
    "parse_term": "pointing.model.terms",
    "fit": "pointing.model.fit",
    "FitResult": "pointing.model.fit",
    "Observations": "pointing.model.formats",
    "read_observations": "pointing.model.formats",
    "read_tpoint": "pointing.model.formats",
    "write_tpoint": "pointing.model.formats",
    "read_mod": "pointing.model.formats",
    "write_mod": "pointing.model.formats",
    "read_gpoint": "pointing.model.formats",
    "measure_star": "pointing.camera.measure",
    "StarMeasurement": "pointing.camera.measure",
    "StarFlag": "pointing.camera.measure",
    "CameraGeometry": "pointing.camera.geometry",
    "Camera": "pointing.camera.config",
    "Sensor": "pointing.camera.sensor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'pointing' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
