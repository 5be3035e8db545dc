"""Shared fixtures: the reference datasets beside the checkout; hypothesis profiles.

Property tests are deterministic by default (profile ``repeatable``: the same
examples on every machine and every run, so CI cannot turn red by chance).
``HYPOTHESIS_PROFILE=explore`` draws fresh examples on every run (1000 per test
where a test does not set its own count): run it to hunt for new
counterexamples, then pin what it finds with ``@example``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets" / "pointing"


@pytest.fixture(scope="session")
def datasets() -> Path:
    """``../shared/datasets/pointing``; tests that need it skip when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"reference datasets not found at {DATASETS}")
    return DATASETS
