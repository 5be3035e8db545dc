"""Photometry: stellar flux in the band, efficiency and extinction, background.

* :mod:`~pointing.photometry.efficiency` -- bands, stellar photon flux, airmass,
  per-star efficiency, the extinction fit, camera aperture photometry;
* :mod:`~pointing.photometry.background` -- the background estimator (noise map);
* :mod:`~pointing.photometry.sky_model` -- the physical sky-brightness model;
* :mod:`~pointing.photometry.table` -- the night's observation table (ECSV);
* :mod:`~pointing.photometry.gonogo` -- the go/no-go verdict.
"""
