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

from pointing._lazy import lazy_exports

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
    "Station": "pointing.station",
    "load_station": "pointing.station",
    "configure_astropy": "pointing.offline",
    "load_catalog": "pointing.sky.catalog",
    "refresh_catalog": "pointing.sky.catalog",
    "observed_altaz": "pointing.sky.places",
    "moon_altaz": "pointing.sky.places",
    "select_stars": "pointing.sky.select",
    "StarSelection": "pointing.sky.select",
    "plan_slews": "pointing.sky.select",
    "Band": "pointing.photometry",
    "EfficiencyResult": "pointing.photometry",
    "airmass": "pointing.photometry",
    "camera_aperture_photometry": "pointing.photometry",
    "camera_efficiency": "pointing.photometry",
    "fit_extinction": "pointing.photometry",
    "night_efficiency": "pointing.photometry",
    "star_efficiency": "pointing.photometry",
    "star_photon_flux": "pointing.photometry",
    "BackgroundFit": "pointing.background",
    "background_grid": "pointing.background",
    "night_background": "pointing.background",
    "SkyBackgroundModel": "pointing.skybackground",
    "GoNoGo": "pointing.gonogo",
    "go_no_go": "pointing.gonogo",
    "make_observation_table": "pointing.observation_table",
    "read_observation_table": "pointing.observation_table",
    "measure_star": "pointing.camera.measure",
    "StarMeasurement": "pointing.camera.measure",
    "StarFlag": "pointing.camera.measure",
    "CameraGeometry": "pointing.camera.geometry",
    "Camera": "pointing.camera.config",
    "Sensor": "pointing.camera.sensor",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("pointing", _EXPORTS, globals())
