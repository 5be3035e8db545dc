"""Tracking a pass: the tracking-log format (:mod:`~pointing.tracking.log`), its
analysis in the style of the published Fig. 5 (:mod:`~pointing.tracking.analysis`),
and the error spectrum (:mod:`~pointing.tracking.spectrum`).  The pointing-loss
coupling model it uses is the link room's (:mod:`pointing.link.coupling`).

This room never imports the simulator: a simulated pass builds a
:class:`TrackingLog` with ``TrackingLog.from_arrays`` (checked like a file),
writes it with :func:`write_tracking_log` and analyses it with
:func:`analyse_tracking`, exactly as a station's log.
"""

from pointing.tracking.analysis import TrackingAnalysis, analyse_tracking
from pointing.tracking.log import (
    TrackingLog,
    parse_column_mapping,
    parse_offset_scale,
    read_tracking_csv,
    read_tracking_log,
    write_tracking_log,
)
from pointing.tracking.spectrum import ErrorSpectrum, corner_frequency, error_spectrum

__all__ = [
    "ErrorSpectrum",
    "TrackingAnalysis",
    "TrackingLog",
    "analyse_tracking",
    "corner_frequency",
    "error_spectrum",
    "parse_column_mapping",
    "parse_offset_scale",
    "read_tracking_csv",
    "read_tracking_log",
    "write_tracking_log",
]
