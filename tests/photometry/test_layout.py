"""The photometry room's layout (issue 11): one-way imports, the estimator on its own."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import pointing
from pointing.photometry import background, sky_model
from pointing.photometry.efficiency import station_efficiency

ROOM = Path(background.__file__).parent


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOM / f"{module}.py").read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_estimator_and_the_truth_do_not_import_each_other():
    assert "pointing.photometry.sky_model" not in _imports("background")
    assert "pointing.photometry.background" not in _imports("sky_model")


@pytest.mark.parametrize("module", ["bands", "config", "extinction", "efficiency", "aperture",
                                    "table", "profile", "skyglow", "background", "sky_model"])
def test_imports_run_one_way_and_name_no_private_names(module):
    order = ["bands", "config", "extinction", "table", "aperture", "efficiency", "profile",
             "skyglow", "background", "sky_model"]
    tree = ast.parse((ROOM / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pointing."):
            assert not any(a.name.startswith("_") for a in node.names), node.module
            if node.module.startswith("pointing.photometry."):
                other = node.module.rsplit(".", 1)[1]
                assert order.index(other) < order.index(module), (module, other)


def test_public_names_point_at_the_modules_that_define_them():
    for name, module in pointing._EXPORTS.items():
        if module.startswith("pointing.photometry."):
            obj = getattr(pointing, name)
            assert getattr(obj, "__module__", module) == module, name


def test_estimator_shapes_have_the_documented_limits():
    assert background.layer_path(math.pi / 2) == pytest.approx(1.0)
    assert background.layer_path(0.0) == pytest.approx(5.0)
    assert np.all(background.moonlight_shape(0.3, 0.5, np.nan, np.nan, 0.5) == 0.0)
    assert background.moonlight_shape(0.3, 0.5, 0.0, 0.6, 1.0) > 0
    # the estimator and the truth share the published forms (photometry/skyglow.py)
    el = np.radians([5.0, 30.0, 80.0])
    assert np.allclose(background.layer_path(el), sky_model.van_rhijn_airmass(el))


def test_station_efficiency_chooses_detectors_or_camera():
    from _synth_night import synth_night

    table = synth_night(1).table
    found = station_efficiency(table)
    assert found.result.source == "detectors" and found.camera is None and not found.notes
    no_counts = table.copy()
    no_counts["counts_star"] = np.nan
    no_counts["camera_flux_adu"] = 1000.0
    no_counts["camera_flux_err_adu"] = 10.0
    no_counts["camera_exposure_s"] = 1.0
    chosen = station_efficiency(no_counts)
    assert chosen.result.source == "camera"
    assert "using the camera photometry" in chosen.notes[0]
