"""Output paths checked before the work starts, so a bad one fails in one line, early.

A figure, model file or report written after minutes of work must not die at
the end on a missing directory, a read-only file system or a path that is a
directory.  The commands check each output path they were given first:

    plot = writable_file(args.plot, "--plot")    # ConfigError naming --plot and the path

:func:`writable_file` checks that the parent directory exists and accepts a new
file (by creating and removing a probe beside the target: permission bits do not
tell root about read-only mounts), and that the path is not a directory.
:func:`writable_dir` does the same for an output folder, creating it when asked.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pointing.errors import ConfigError

__all__ = ["writable_dir", "writable_file"]


def _probe(directory: Path, option: str, target: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"{option}: cannot write {target}: "
                          f"{exc.strerror or exc} ({directory})") from None
    os.close(fd)
    os.unlink(probe)


def writable_file(path: str | os.PathLike | None, option: str) -> Path | None:
    """*path* as a Path after checking a file can be written there (None passes through).

    Raises :class:`ConfigError` naming *option* and the path: no such directory,
    the path is a directory, or the directory refuses new files.
    """
    if path is None:
        return None
    target = Path(path).expanduser()
    if str(path) == "" or target.is_dir():
        raise ConfigError(f"{option}: {target} is a directory, not a file name")
    parent = target.parent
    if not parent.is_dir():
        raise ConfigError(f"{option}: cannot write {target}: no such directory {parent}")
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"{option}: cannot write {target}: permission denied")
    _probe(parent, option, target)
    return target


def writable_dir(path: str | os.PathLike, option: str, *, create: bool = True) -> Path:
    """*path* as a directory that accepts new files (created with its parents if asked)."""
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{option}: {target} exists and is not a directory")
    if not target.exists():
        if not create:
            raise ConfigError(f"{option}: no such directory {target}")
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{option}: cannot create {target}: "
                              f"{exc.strerror or exc}") from None
    _probe(target, option, target)
    return target
