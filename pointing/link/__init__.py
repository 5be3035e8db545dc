"""The quantum link after calibration: decoy-state key analysis, link budget, pass forecast.

* :mod:`pointing.link.decoy` -- finite-key analysis of a measured pass (vacuum + weak decoy);
* :mod:`pointing.link.keyfile` -- its TOML input files;
* :mod:`pointing.link.budget` -- link budget at a point of a pass from a night's calibration;
* :mod:`pointing.link.source` -- transmitter (source) files, with shipped Micius and Tiangong-2;
* :mod:`pointing.link.forecast` -- second-by-second forecast of a pass and its secure key.
"""
