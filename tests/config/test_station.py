"""Station files: shipped examples, validation errors that name the key."""

from __future__ import annotations

import math

import pytest

from pointing.config.station import EXTRA_SECTIONS, load_station, station_names
from pointing.errors import ConfigError, FileFormatError

REFERENCE_SITES = {
    # name: (latitude, longitude, height) from the domain brief
    "shanghai": (31.1263, 121.5424, 25.0),
    "beijing": (39.8853, 116.3514, 120.0),
    "jinan": (36.6768, 117.1233, 85.0),
    "weihai": (37.5340, 122.0513, 46.0),
    "mohe": (53.4852, 122.3537, 300.0),
    "lijiang": (26.6939, 100.0293, 3233.0),
}

MINIMAL = """
name = "Test site"
[site]
latitude_deg = 10.0
longitude_deg = 20.0
height_m = 100.0
"""


def write(tmp_path, text, name="station.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_stations_match_reference_sites():
    assert set(REFERENCE_SITES) <= set(station_names())
    for name, (lat, lon, h) in REFERENCE_SITES.items():
        st = load_station(name.upper())  # names are case-insensitive
        assert (st.latitude_deg, st.longitude_deg, st.height_m) == (lat, lon, h)
        assert st.wavelengths.quantum_um == 0.85
        assert (st.mount.el_min_deg, st.mount.el_max_deg) == (-3.0, 93.0)
        assert (st.mount.az_min_deg, st.mount.az_max_deg) == (-270.0, 270.0)
        assert st.telescope.aperture_m == 0.28
        assert st.utc_offset_h == 8.0
        loc = st.location
        assert math.isclose(loc.lat.deg, lat, abs_tol=1e-9)
        assert math.isclose(loc.lon.deg, lon, abs_tol=1e-9)
        assert math.isclose(loc.height.to_value("m"), h, abs_tol=1e-6)


def test_default_station_is_shanghai():
    assert load_station().name == "Shanghai"
    assert load_station(None).latitude_deg == 31.1263


def test_lijiang_pressure_is_for_its_altitude():
    st = load_station("lijiang")
    assert 650 < st.weather.pressure_hpa < 700


def test_minimal_file_gets_defaults(tmp_path):
    st = load_station(write(tmp_path, MINIMAL))
    assert st.name == "Test site"
    assert st.mount.az_speed_deg_s > 0 and st.mount.el_accel_deg_s2 > 0
    assert st.weather.pressure_hpa == pytest.approx(1001.3, abs=0.2)  # standard atmosphere
    assert 0 <= st.weather.humidity <= 1
    assert st.wavelengths.camera_um > 0
    assert st.section("camera") == {}


def test_load_by_path_string(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert load_station(str(path)).latitude_deg == 10.0


def test_extra_sections_kept_as_dicts(tmp_path):
    text = MINIMAL + """
[camera]
pixel_scale_urad = 5.2
calibration_pixel = [320.5, 240.5]
[detectors]
dark_counts = [100, 120, 90, 110]
"""
    st = load_station(write(tmp_path, text))
    cam = st.section("camera")
    assert cam == {"pixel_scale_urad": 5.2, "calibration_pixel": [320.5, 240.5]}
    cam["pixel_scale_urad"] = 0  # a copy: the station is not changed
    assert st.section("camera")["pixel_scale_urad"] == 5.2
    assert st.section("detectors")["dark_counts"][1] == 120
    for name in EXTRA_SECTIONS:
        assert isinstance(st.section(name), dict)
    with pytest.raises(ConfigError, match="mount"):
        st.section("mount")


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ("colour = 'red'\n", r"colour: unknown key"),
        ("[mount]\nel_speed = 3\n", r"mount\.el_speed: unknown key"),
        ("[mount]\nel_max_deg = 'high'\n", r"mount\.el_max_deg: expected a number, got 'high'"),
        ("[mount]\naz_speed_deg_s = true\n", r"mount\.az_speed_deg_s: expected a number, got True"),
        ("[weather]\nhumidity = 60\n", r"weather\.humidity: must be within 0\.\.1, got 60"),
        ("[mount]\nel_min_deg = 50\nel_max_deg = 40\n",
         r"mount\.el_min_deg: must be below mount\.el_max_deg"),
        ("[mount]\naz_min_deg = 0\naz_max_deg = 180\n",
         r"mount\.az_max_deg: must be at least mount\.az_min_deg \+ 360"),
        ("[telescope]\nobstruction_m = 0.3\n", r"telescope\.obstruction_m: must be smaller"),
        ("camera = 3\n", r"camera: expected a table of keys"),
    ],
)
def test_bad_values_name_the_key(tmp_path, extra, pattern):
    if extra.startswith("["):
        text = MINIMAL + extra
    else:  # a top-level key must come before the first table
        text = MINIMAL.replace('name = "Test site"', 'name = "Test site"\n' + extra)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_station(path)
    assert str(path) in str(info.value)


def test_duplicate_section_merges_are_toml_errors(tmp_path):
    path = write(tmp_path, MINIMAL + "[mount]\nsettle_s = 1\n[mount]\nsettle_s = 2\n")
    with pytest.raises(FileFormatError) as info:
        load_station(path)
    assert info.value.line is not None and info.value.line >= 8


def test_missing_required_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"site\.height_m: required key missing"):
        load_station(write(tmp_path, MINIMAL.replace("height_m = 100.0\n", "")))
    with pytest.raises(ConfigError, match=r"name: required key missing"):
        load_station(write(tmp_path, MINIMAL.replace('name = "Test site"\n', "")))
    with pytest.raises(ConfigError, match=r"site: required section missing"):
        load_station(write(tmp_path, 'name = "x"\n'))


def test_syntax_error_names_line(tmp_path):
    path = write(tmp_path, MINIMAL + "[mount\nel_min_deg = 1\n")
    with pytest.raises(FileFormatError) as info:
        load_station(path)
    assert info.value.line == 7
    assert str(path) in str(info.value)


def test_unknown_station_lists_the_shipped_ones(tmp_path):
    with pytest.raises(ConfigError, match="shanghai"):
        load_station("atlantis")
    with pytest.raises(ConfigError, match="not found"):
        load_station(tmp_path / "missing.toml")
