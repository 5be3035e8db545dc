"""Shared fixtures: the reference datasets beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets" / "pointing"


@pytest.fixture(scope="session")
def datasets() -> Path:
    """``../shared/datasets/pointing``; tests that need it skip when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"reference datasets not found at {DATASETS}")
    return DATASETS
