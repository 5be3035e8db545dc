"""The plot contract's two pieces: a new figure and its PNG, the same for every subject.

Figures are plain :class:`matplotlib.figure.Figure` objects, never pyplot's:
drawing one changes no global state and no backend (a notebook user keeps
theirs, and a figure returned to IPython displays itself).  Every plotting
function of :mod:`pointing.plots` takes its result first, ``path=None`` and
``ax=None``, draws on *ax* when given (on its figure) or on a new figure, saves
the PNG through :func:`save` when *path* is given and returns the Figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from pointing.errors import FileFormatError

__all__ = ["DPI", "axes_or_new", "new_figure", "save"]

#: resolution of every PNG the toolkit writes
DPI = 120


def new_figure(figsize: tuple[float, float], **kwargs: Any) -> Figure:
    """A new figure of *figsize* inches (``layout="constrained"`` unless told otherwise)."""
    kwargs.setdefault("layout", "constrained")
    return Figure(figsize=figsize, **kwargs)


def axes_or_new(ax: Any, figsize: tuple[float, float], projection: str | None = None) -> Any:
    """*ax* itself, or the single axes of a new figure (polar with ``projection="polar"``)."""
    if ax is not None:
        return ax
    return new_figure(figsize).add_subplot(projection=projection)


def save(fig: Figure, path: str | Path | None) -> Figure:
    """Write *fig* as PNG to *path* (nothing when None); returns the figure.

    Raises :class:`~pointing.errors.FileFormatError` naming the path when it
    cannot be written (a missing folder, no permission, a directory).
    """
    if path is not None:
        try:
            fig.savefig(Path(path), dpi=DPI)
        except OSError as exc:
            raise FileFormatError(path, None, f"cannot write the figure: "
                                  f"{exc.strerror or exc}") from None
    return fig
