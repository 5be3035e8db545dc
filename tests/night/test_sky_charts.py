"""One sky-chart convention for every polar figure: N up, E left, radius = zenith distance,
rings labelled with elevation, and the convention written on the figure."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from _synth_night import synth_night

from pointing.config.station import load_station
from pointing.model.fit import fit
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_run
from pointing.photometry.background import night_background
from pointing.plots.fit import plot_fit
from pointing.plots.photometry import plot_noise_map
from pointing.plots.sky import (
    SKY_CHART_CONVENTION,
    plot_sky_coverage,
    plot_sky_selection,
    sky_chart,
    zenith_distance,
)
from pointing.sky.select import select_stars


def _polar(fig):
    return [ax for ax in fig.axes if ax.name == "polar"]


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title()] + [t.get_text() for t in ax.texts]
    return " ".join(out)


def _figures(tmp_path):
    station = load_station("shanghai")
    sel = select_stars(station, "2026-12-01T13:00:00", n=12)
    yield "selection", plot_sky_selection(sel, tmp_path / "sel.png")
    records = [{"kind": "model", "status": "ok", "az_deg": 90.0, "el_deg": 30.0},
               {"kind": "verify", "status": "ok", "az_deg": 0.0, "el_deg": 60.0}]
    yield "coverage", plot_sky_coverage(records, tmp_path / "cov.png", station="Shanghai")
    yield "noise map", plot_noise_map(night_background(synth_night(1).table),
                                      tmp_path / "noise.png")
    truth = PointingModel(["IA", "IE", "CA", "AN", "AW"], [30.0, -20.0, 10.0, 15.0, -8.0])
    yield "fit residuals", plot_fit(fit(simulate_run(truth, 20, seed=2),
                                        ["IA", "IE", "CA", "AN", "AW"]), tmp_path / "fit.png")


def test_every_polar_figure_uses_the_one_convention(tmp_path):
    seen = []
    for name, fig in _figures(tmp_path):
        polar = _polar(fig)
        assert polar, name
        for ax in polar:
            assert ax.get_theta_direction() == 1, name  # counter-clockwise: east on the left
            assert ax.get_theta_offset() == pytest.approx(math.pi / 2), name  # north up
            assert ax.get_ylim() == pytest.approx((0, 90)), name  # zenith distance
            labels = [t.get_text() for t in ax.get_yticklabels()]
            ticks = ax.get_yticks()
            for tick, label in zip(ticks, labels, strict=True):
                assert label == f"el {90 - tick:g}°", (name, label)
            compass = [t.get_text() for t in ax.get_xticklabels()]
            assert compass[0] == "N" and "E" in compass, name
        assert "E left" in _texts(fig) and "zenith distance" in _texts(fig), name
        seen.append(name)
    assert len(seen) == 4


def test_east_is_drawn_on_the_left():
    fig = plt.figure()
    ax = sky_chart(fig.add_subplot(projection="polar"))
    east = ax.transData.transform((math.pi / 2, 45.0))
    north = ax.transData.transform((0.0, 45.0))
    centre = ax.transData.transform((0.0, 0.0))
    assert east[0] < centre[0] and north[1] > centre[1]
    assert SKY_CHART_CONVENTION in _texts(fig)
    assert zenith_distance(np.array([90.0, 0.0])).tolist() == [0.0, 90.0]
    plt.close(fig)
