"""Exceptions the toolkit raises for input a user can fix.

Every message names what is wrong and where (file, line, field or term), so
the command line can print it as one line without a traceback.
"""

from __future__ import annotations


class PointingError(Exception):
    """Base class for errors caused by bad input, configuration or data."""


class FileFormatError(PointingError, ValueError):
    """A file could not be read; the message names the file and line."""

    def __init__(self, path: object, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class TermError(PointingError, ValueError):
    """A pointing-model term name that cannot be parsed or is not allowed."""


class FitError(PointingError, ValueError):
    """A fit that cannot be done: too few observations, degenerate coverage."""

    def __init__(self, message: str, terms: tuple[str, ...] = ()):
        self.terms = tuple(terms)
        super().__init__(message)


class ConfigError(PointingError, ValueError):
    """Invalid station or run configuration; the message names the key."""
