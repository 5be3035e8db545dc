"""Reading a TOML file (station, source, key file) with errors that name the file and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pointing.errors import FileFormatError

__all__ = ["read_toml"]


def read_toml(path: str | Path, what: str = "file") -> dict[str, Any]:
    """The table of a TOML file.

    Raises :class:`~pointing.errors.FileFormatError` naming *path* (and the
    line, for invalid TOML) when it cannot be read, is not UTF-8 text or is
    not valid TOML; *what* names the kind of file in the message.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(path, None, f"cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, None, f"{what} is not UTF-8 text: {exc.reason}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FileFormatError(path, int(m.group(1)) if m else None,
                              f"invalid TOML: {exc}") from None
