"""Subcommands of the ``pointing`` command line, one module per job.

Importing this package registers every subcommand with :mod:`pointing.cli`.
"""

from pointing.cli import (  # noqa: F401
    centroid,
    efficiency,
    fit,
    forecast,
    history,
    key,
    link,
    nightly,
    noise_map,
    pass_,
    select,
    track,
    tracking,
)
