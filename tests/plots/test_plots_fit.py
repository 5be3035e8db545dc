"""Fit figures: large runs drawn as densities and binned means, small runs point by point."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver

from pointing.model.fit import fit
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_run
from pointing.plots.fit import POINTS_LIMIT, plot_fit
from pointing.units import URAD_PER_ARCSEC

TRUE = PointingModel(["IA", "IE", "CA", "AN", "AW"], [30.0, -20.0, 10.0, 40.0, -30.0])


def _result(n: int):
    return fit(simulate_run(TRUE, n, seed=2), ["IA", "IE", "CA", "AN", "AW"])


def _drawn_points(fig: Figure) -> int:
    """The largest number of markers or arrows any one artist of the figure draws."""
    most = 0
    for ax in fig.axes:
        for c in ax.collections:
            if isinstance(c, PathCollection | Quiver):
                most = max(most, len(c.get_offsets()))
    return most


def test_large_run_draws_what_a_reader_can_see():
    result = _result(4 * POINTS_LIMIT)
    fig = plot_fit(result)
    assert isinstance(fig, Figure)
    assert _drawn_points(fig) < POINTS_LIMIT / 2  # binned arrows, no marker per star
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith(f"RMS = {result.sky_rms_urad:.2f}") for t in texts)
    assert any("cell" in ax.get_title() for ax in fig.axes)


def test_small_run_draws_every_star(tmp_path):
    result = _result(60)
    fig = plot_fit(result)
    assert _drawn_points(fig) == 60
    path = tmp_path / "fit.png"
    plot_fit(result, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("n", [60, 4 * POINTS_LIMIT])
def test_rms_circle_is_the_used_rms(n):
    result = _result(n)
    fig = plot_fit(result)
    panel = fig.axes[0]
    circle = max(panel.lines, key=lambda line: len(line.get_xdata()))
    radius = np.hypot(circle.get_xdata(), circle.get_ydata())
    dx, de = result.dx[result.used], result.de[result.used]
    rms = np.sqrt(np.mean(dx**2 + de**2)) * URAD_PER_ARCSEC
    np.testing.assert_allclose(radius, rms, rtol=1e-9)


def test_importing_the_figures_leaves_the_backend_alone():
    code = ("import matplotlib; b = matplotlib.get_backend(); import pointing.plots.fit, sys; "
            "assert 'matplotlib.pyplot' not in sys.modules; "
            "assert matplotlib.get_backend() == b, b")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "MPLBACKEND": "svg"})
