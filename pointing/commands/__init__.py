"""Subcommands of the ``pointing`` command line, one module per job.

Importing this package registers every subcommand with :mod:`pointing.cli`.
"""

from pointing.commands import centroid, fit  # noqa: F401
