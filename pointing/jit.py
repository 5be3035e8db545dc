"""Lazy loading of the numba-compiled kernel modules: one rule for every room.

numba's import costs ~0.3 s and ``import pointing`` must stay numpy-only, so a
room's compiled kernels live in a module of their own that is imported at its
first use.  :func:`lazy_module` gives the loader: the module, or ``None`` when
numba is not installed (the numpy path then runs).  Only numba's absence
means "no compiled kernels": an error inside the kernel module itself is a
bug and is raised, never turned into a silent fall-back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

__all__ = ["lazy_module"]


def lazy_module(name: str) -> Callable[[], ModuleType | None]:
    """A loader of the compiled module ``name``: imported once, ``None`` without numba."""
    loaded: list[ModuleType | None] = []

    def load() -> ModuleType | None:
        if not loaded:
            try:
                import numba  # noqa: F401
            except ImportError:  # pragma: no cover - numba is a declared dependency
                loaded.append(None)
            else:
                loaded.append(importlib.import_module(name))
        return loaded[0]

    return load
