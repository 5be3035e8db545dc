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
    "Observations": "pointing.model.run",
    "PointingRun": "pointing.model.run",
    "read_observations": "pointing.model.formats",
    "read_tpoint": "pointing.model.formats",
    "write_tpoint": "pointing.model.formats",
    "read_mod": "pointing.model.formats",
    "write_mod": "pointing.model.formats",
    "read_gpoint": "pointing.model.formats",
    "Station": "pointing.config.station",
    "load_station": "pointing.config.station",
    "configure_astropy": "pointing.offline",
    "load_catalog": "pointing.sky.catalog",
    "refresh_catalog": "pointing.sky.catalog",
    "observed_altaz": "pointing.sky.places",
    "moon_altaz": "pointing.sky.places",
    "select_stars": "pointing.sky.select",
    "StarSelection": "pointing.sky.select",
    "plan_slews": "pointing.sky.slews",
    "Band": "pointing.photometry.bands",
    "EfficiencyResult": "pointing.photometry.extinction",
    "airmass": "pointing.photometry.extinction",
    "camera_aperture_photometry": "pointing.photometry.aperture",
    "camera_efficiency": "pointing.photometry.efficiency",
    "fit_extinction": "pointing.photometry.extinction",
    "night_efficiency": "pointing.photometry.efficiency",
    "star_efficiency": "pointing.photometry.efficiency",
    "station_efficiency": "pointing.photometry.efficiency",
    "PhotometryConfig": "pointing.photometry.config",
    "DetectorConfig": "pointing.photometry.config",
    "star_photon_flux": "pointing.photometry.bands",
    "BackgroundFit": "pointing.photometry.background",
    "background_grid": "pointing.photometry.background",
    "night_background": "pointing.photometry.background",
    "SkyBackgroundModel": "pointing.photometry.sky_model",
    "GoNoGo": "pointing.photometry.gonogo",
    "go_no_go": "pointing.photometry.gonogo",
    "make_observation_table": "pointing.photometry.table",
    "read_observation_table": "pointing.photometry.table",
    "measure_star": "pointing.camera.measure",
    "StarMeasurement": "pointing.camera.measure",
    "StarFlag": "pointing.camera.measure",
    "CameraGeometry": "pointing.camera.geometry",
    "Camera": "pointing.camera.config",
    "Sensor": "pointing.camera.sensor",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("pointing", _EXPORTS, globals())
