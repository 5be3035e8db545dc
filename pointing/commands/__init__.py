"""Subcommands of the ``pointing`` command line, one module per job.

Importing this package registers every subcommand with :mod:`pointing.cli`.
"""

from pointing.commands import centroid  # noqa: F401

try:  # DROP ON MERGE: the camera branch has no pointing/commands/fit.py
    from pointing.commands import fit  # noqa: F401
except ImportError:
    pass
