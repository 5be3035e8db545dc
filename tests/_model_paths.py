"""The pointing model's numpy kernels on demand, for tests comparing them with the compiled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pointing.model import model as model_module


@contextmanager
def numpy_kernels() -> Iterator[None]:
    """Run the block on the numpy kernels (the compiled ones switched off)."""
    model_module.USE_COMPILED = False
    try:
        yield
    finally:
        model_module.USE_COMPILED = True


def numpy_path(model: Any, fn: str, *args: Any) -> Any:
    """``model.fn(*args)`` on the numpy kernels."""
    with numpy_kernels():
        return getattr(model, fn)(*args)
