"""The ``pointing centroid`` command."""

from __future__ import annotations

import json
from pathlib import Path

import astropy
import numpy as np
import pytest
from astropy.io import fits
from star_frames import frame

from pointing.cli import main

KEYS = {"x", "y", "sigma_x", "sigma_y", "crlb_x", "crlb_y", "flux", "background", "snr",
        "fwhm", "peak", "flags", "offset_urad"}
M13 = Path(astropy.__file__).parent / "io/fits/hdu/compressed/tests/data/m13.fits"


@pytest.fixture
def star_fits(tmp_path):
    rng = np.random.default_rng(3)
    img = frame((128, 128), [(60.3, 70.6, 20000), (20.0, 20.0, 40000)], rng)
    img[71, 61] = 65535
    path = tmp_path / "star.fits"
    fits.PrimaryHDU(img).writeto(path)
    return path


def test_json_output(star_fits, capsys):
    assert main(["centroid", str(star_fits), "--expect", "58,72", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out)
    assert out["x"] == pytest.approx(60.3, abs=0.1) and out["y"] == pytest.approx(70.6, abs=0.1)
    assert out["flags"] == ["HOT_PIXELS_MASKED"]
    assert out["offset_urad"] is None
    assert out["crlb_x"] <= out["sigma_x"] * 1.001
    assert main(["centroid", str(star_fits), "--json", "--fast"]) == 0  # the brightest
    out = json.loads(capsys.readouterr().out)
    assert out["x"] == pytest.approx(20.0, abs=0.1) and out["mode"] == "fast"


def test_text_output_and_plot(star_fits, tmp_path, capsys):
    png = tmp_path / "cutout.png"
    assert main(["centroid", str(star_fits), "--expect", "60,70", "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "star at x = 60.3" in text and "flags: HOT_PIXELS_MASKED" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_star_exits_1_with_a_json_result(tmp_path, capsys):
    path = tmp_path / "empty.fits"
    fits.PrimaryHDU(frame((64, 64), [], np.random.default_rng(1))).writeto(path)
    png = tmp_path / "empty.png"
    assert main(["centroid", str(path), "--json", "--plot", str(png)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["flags"] == ["NO_STAR"] and out["x"] is None
    assert png.is_file()


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["centroid", str(tmp_path / "missing.fits")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pointing centroid: error:") and "missing.fits" in err
    with pytest.raises(SystemExit) as exc:
        main(["centroid", "x.fits", "--expect", "12"])
    assert exc.value.code == 2
    assert "expected X,Y" in capsys.readouterr().err
    assert main(["centroid", "x.fits", "--search-radius", "5"]) == 2


def test_station_camera_gives_the_offset(star_fits, capsys):
    assert main(["centroid", str(star_fits), "--expect", "60,70", "--station", "shanghai",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["offset_urad"] is not None and len(out["offset_urad"]) == 2


def test_real_frame(capsys):
    if not M13.is_file():
        pytest.skip(f"astropy's test image is not installed at {M13}")
    assert main(["centroid", str(M13), "--expect", "81.5,50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["x"] == pytest.approx(81.5, abs=0.1) and out["flags"] == []
