"""The ``[simulator]`` section: every key checked, errors name ``simulator.key``."""

from __future__ import annotations

import pytest

from pointing.camera.config import wide_camera_section
from pointing.errors import ConfigError
from pointing.hardware.simulator import (
    COMPASS_SETUP,
    Faults,
    SimulatorConfig,
    VirtualClock,
    simulated_station,
)
from pointing.sky.places import moon_phase


def test_public_names_stay_where_they_were():
    assert callable(simulated_station) and callable(moon_phase) and callable(wide_camera_section)
    assert COMPASS_SETUP["IA"] > 3600 and Faults() == Faults()
    assert VirtualClock("2026-12-01T12:00:00").elapsed_s == 0.0


def test_good_section_is_read():
    cfg = SimulatorConfig.from_section({
        "sky": "city", "seed": 3, "jitter_arcsec": 1, "encoder_bits": 24,
        "terms": {"IA": 10.0, "CA": -3}, "clouds": [[90, 45, 5, 0.3]],
        "settle_s": 1.5,
    })
    assert cfg.sky == "city" and cfg.seed == 3 and cfg.jitter_arcsec == 1.0
    assert cfg.terms == {"IA": 10.0, "CA": -3.0}
    assert cfg.clouds == ((90.0, 45.0, 5.0, 0.3),)
    assert SimulatorConfig.from_section(None) == SimulatorConfig()


@pytest.mark.parametrize("section, where", [
    ({"sky": "moon"}, "simulator.sky"),
    ({"sky": 3}, "simulator.sky"),
    ({"seed": 1.5}, "simulator.seed"),
    ({"seed": "1"}, "simulator.seed"),
    ({"seed": True}, "simulator.seed"),
    ({"hot_pixels": -1}, "simulator.hot_pixels"),
    ({"encoder_bits": 4}, "simulator.encoder_bits"),
    ({"jitter_arcsec": "0.6"}, "simulator.jitter_arcsec"),
    ({"jitter_arcsec": -0.1}, "simulator.jitter_arcsec"),
    ({"seeing_fwhm_arcsec": 0}, "simulator.seeing_fwhm_arcsec"),
    ({"eta0": 1.5}, "simulator.eta0"),
    ({"moffat_beta": 1.0}, "simulator.moffat_beta"),
    ({"dark_e_per_s": float("nan")}, "simulator.dark_e_per_s"),
    ({"terms": [1, 2]}, "simulator.terms"),
    ({"terms": {"IA": "big"}}, "simulator.terms.IA"),
    ({"terms": {"NOTATERM": 1.0}}, "simulator.terms.NOTATERM"),
    ({"clouds": [[1, 2, 3]]}, "simulator.clouds[0]"),
    ({"clouds": [[1, 2, 3, "x"]]}, "simulator.clouds[0][3]"),
    ({"clouds": "cirrus"}, "simulator.clouds"),
    ({"faults": {}}, "simulator.faults"),
    ({"seeing": 2.0}, "simulator.seeing"),
])
def test_bad_values_name_the_key(section, where):
    with pytest.raises(ConfigError) as err:
        SimulatorConfig.from_section(section)
    assert str(err.value).startswith(where + ":")


def test_presets():
    from pointing.hardware.simulator.config import FIELD

    ideal = SimulatorConfig.from_section({"preset": "ideal"})
    assert ideal == SimulatorConfig(preset="ideal") and ideal.hysteresis_arcsec == 0.0
    field = SimulatorConfig.from_section({"preset": "field", "jitter_arcsec": 0.9})
    assert field.preset == "field" and field.jitter_arcsec == 0.9  # the section wins
    assert field.hysteresis_arcsec == FIELD["hysteresis_arcsec"] > 0
    assert field.terms["CA"] == FIELD["terms"]["CA"]
    assert SimulatorConfig.from_section({}, preset="field").settle_arcsec > 0
    with pytest.raises(ConfigError, match=r"^simulator\.preset:"):
        SimulatorConfig.from_section({"preset": "lab"})
    with pytest.raises(ConfigError, match=r"^simulator\.drift_arcsec_per_h"):
        SimulatorConfig.from_section({"drift_arcsec_per_h": [1.0]})
