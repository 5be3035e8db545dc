"""Tracking a pass: the tracking log format, its analysis (Fig. 5 style) and the
pointing-loss coupling model.

This room never imports the simulator; a simulated pass builds a
:class:`TrackingLog` (``TrackingLog.from_arrays``) and analyses it like a file.
"""

from pointing.tracking.log import (
    TrackingLog,
    parse_column_mapping,
    parse_offset_scale,
    read_tracking_csv,
    read_tracking_log,
    write_tracking_log,
)

__all__ = [
    "TrackingLog",
    "parse_column_mapping",
    "parse_offset_scale",
    "read_tracking_csv",
    "read_tracking_log",
    "write_tracking_log",
]
