"""The ``pointing tracking`` command: JSON keys, plots written, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pointing.cli import main
from pointing.tracking import TrackingLog, write_tracking_log

KEYS = {"rms_x_urad", "rms_y_urad", "rms_urad", "fraction_in_fov", "n_samples", "max_urad",
        "lock_time_s", "acquisition_time_s", "psd_corner_hz", "key_cost_fraction"}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tracking_pass.ecsv"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def log_path(tmp_path):
    n = 2000
    t = np.arange(n) / 20.0
    x = 3.0 * np.sin(2 * np.pi * 0.25 * t)
    x[:40] = np.nan
    log = TrackingLog.from_arrays(t, x, np.where(np.isnan(x), np.nan, 4.0),
                                  np.linspace(15, 60, n), t >= 5.0)
    return write_tracking_log(log, tmp_path / "pass.ecsv")


def test_json_and_plots(log_path, tmp_path, capsys):
    png = tmp_path / "fig5.png"
    assert main(["tracking", str(log_path), "--json", "--min-el", "10", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out)
    assert out["n_samples"] == 1900
    assert out["rms_y_urad"] == pytest.approx(4.0)
    assert out["lock_time_s"] == pytest.approx(3.0, abs=1e-6)
    assert out["fraction_in_fov"] == 1.0
    assert png.read_bytes()[:8] == PNG
    assert (tmp_path / "fig5_spectrum.png").read_bytes()[:8] == PNG


def test_text_output(log_path, capsys):
    assert main(["tracking", str(log_path), "--fov-urad", "9"]) == 0
    text = capsys.readouterr().out
    assert "RMS X" in text and "in the 9 µrad field" in text and "lock 3.0 s later" in text


def test_csv_with_columns(tmp_path, capsys):
    rows = [f"2026-12-01T18:00:{s // 10:02d}.{s % 10}00,{s % 3 - 1},0.5,35,1,9"
            for s in range(300)]
    path = tmp_path / "station.csv"
    path.write_text("t,dx,dy,elev,lock,counts\n" + "\n".join(rows) + "\n")
    assert main(["tracking", str(path), "--json", "--columns",
                 "time=t,x_urad=dx,y_urad=dy,el_deg=elev,locked=lock",
                 "--offset-scale", "mrad"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_samples"] == 300
    assert out["rms_x_urad"] == pytest.approx(1000 * np.sqrt(2 / 3), rel=1e-3)
    assert out["rms_y_urad"] == pytest.approx(500.0)


@pytest.mark.parametrize("args, words", [
    (["--min-el", "95"], "--min-el"),
    (["--fov-urad", "-1"], "--fov-urad"),
    (["--columns", "bogus=x"], "unknown log column 'bogus'"),
    (["--offset-scale", "furlong"], "--offset-scale"),
])
def test_bad_options_exit_2_one_line(log_path, capsys, args, words):
    assert main(["tracking", str(log_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and err.startswith("pointing tracking: error:")


def test_bad_log_exit_2_names_row_and_column(log_path, capsys):
    lines = log_path.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("time ")) + 101
    cells = lines[k].split(" ")
    cells[3] = "nan"
    lines[k] = " ".join(cells)
    log_path.write_text("\n".join(lines) + "\n")
    assert main(["tracking", str(log_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{log_path}:{k + 1}: row 101: column 'el_deg'" in err and "\n" not in err
    assert main(["tracking", str(log_path.with_name("missing.ecsv"))]) == 2
    assert "no such tracking log" in capsys.readouterr().err


def test_example_log_runs_as_documented(capsys):
    """The README's command on the shipped example: the published regime, the servo's corner."""
    truth = json.loads(EXAMPLE.with_name("tracking_pass_truth.json").read_text())
    assert main(["tracking", str(EXAMPLE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 1.0 < out["rms_x_urad"] < 10.0 and 1.0 < out["rms_y_urad"] < 10.0
    assert out["fraction_in_fov"] >= 0.99
    assert out["lock_time_s"] == pytest.approx(truth["lock_time_s"], abs=1e-6)
    assert out["psd_corner_hz"] == pytest.approx(truth["servo_natural_frequency_hz"], rel=0.3)


def test_plot_contract(log_path):
    """(result, path=None, ax=None) → Figure; drawing on a given axes uses its figure."""
    from matplotlib.figure import Figure

    from pointing.plots.tracking import plot_tracking, plot_tracking_spectrum
    from pointing.tracking import analyse_tracking, read_tracking_log

    result = analyse_tracking(read_tracking_log(log_path), min_el_deg=10)
    fig = plot_tracking(result)
    assert isinstance(fig, Figure)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"Y {result.rms_y_urad:.2f} µrad" in texts
    host = Figure()
    ax = host.add_subplot()
    assert plot_tracking_spectrum(result, ax=ax) is host
