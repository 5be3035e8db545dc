"""Photometry: stellar flux in the band, efficiency and extinction, background.

* :mod:`~pointing.photometry.bands` -- receive bands, a star's photon flux, colour;
* :mod:`~pointing.photometry.config` -- the ``[photometry]`` and ``[detectors]``
  sections, collecting area, design efficiency, dead time;
* :mod:`~pointing.photometry.extinction` -- air mass and the extinction fit (η₀, k);
* :mod:`~pointing.photometry.efficiency` -- per-star efficiency, the night's and
  the camera's efficiency, which of the two a table supports;
* :mod:`~pointing.photometry.aperture` -- camera aperture photometry (photutils);
* :mod:`~pointing.photometry.table` -- the night's observation table (ECSV);
* :mod:`~pointing.photometry.profile` -- noise profile and rural-like elevation
  (one definition for estimate and truth);
* :mod:`~pointing.photometry.background` -- the background estimator (noise map),
  with its own functional form;
* :mod:`~pointing.photometry.sky_model` -- the simulator's truth sky;
* :mod:`~pointing.photometry.gonogo` -- the go/no-go verdict.

Imports run one way: bands <- config <- extinction <- efficiency; table, profile
<- background; bands, config, profile <- sky_model (the estimator never imports
the truth, nor the truth the estimator).
"""
