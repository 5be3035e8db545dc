"""Tracking logs: the ECSV format round-trips, CSV with a mapping reads, bad logs say where."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import FileFormatError, PointingError
from pointing.tracking import (
    TrackingLog,
    parse_column_mapping,
    parse_offset_scale,
    read_tracking_csv,
    read_tracking_log,
    write_tracking_log,
)

T0 = "2026-12-01T18:00:00.250000"


def small_log(n: int = 20) -> TrackingLog:
    t = np.arange(n) * 0.1
    x = np.cos(t) * 3.0
    y = np.sin(t) * 2.0
    x[:3] = y[:3] = np.nan  # no target yet
    return TrackingLog.from_arrays(t, x, y, np.linspace(15, 40, n), t >= 0.5, t0=T0,
                                   az_deg=np.linspace(100, 120, n),
                                   extra={"counts": np.arange(n)}, meta={"station": "x"})


def test_round_trip(tmp_path):
    log = small_log()
    path = write_tracking_log(log, tmp_path / "pass.ecsv")
    back = read_tracking_log(path)
    assert back.t0 == T0
    np.testing.assert_allclose(back.t_s, log.t_s, atol=1e-9)
    np.testing.assert_allclose(back.x_urad, np.round(log.x_urad, 4), equal_nan=True)
    np.testing.assert_array_equal(back.locked, log.locked)
    np.testing.assert_array_equal(back.detected, np.arange(20) >= 3)
    np.testing.assert_array_equal(back.extra["counts"], np.arange(20))
    assert back.meta["station"] == "x"
    assert back.time_iso()[1] == "2026-12-01T18:00:00.350000"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=2, max_size=30),
       st.floats(0.001, 10.0))
def test_round_trip_any_offsets(tmp_path_factory, xs, dt):
    n = len(xs)
    t = np.arange(n) * dt
    log = TrackingLog.from_arrays(t, xs, xs[::-1], np.full(n, 45.0), np.ones(n, bool), t0=T0)
    back = read_tracking_log(write_tracking_log(log, tmp_path_factory.mktemp("r") / "a.ecsv"))
    np.testing.assert_allclose(back.x_urad, xs, atol=1e-4)
    np.testing.assert_allclose(back.t_s, t, atol=1e-6)


def _csv(tmp_path, rows, header="t;dx;dy;elev;lock;counts", name="log.csv"):
    path = tmp_path / name
    path.write_text("# station log\n" + header + "\n" + "\n".join(rows) + "\n")
    return path


def test_csv_with_mapping_and_scale(tmp_path):
    rows = [f"2026-12-01T18:00:{s:02d}Z;{s};{-s};{30 + s};{'yes' if s > 1 else 'no'};7"
            for s in range(5)]
    path = _csv(tmp_path, rows)
    log = read_tracking_csv(path, parse_column_mapping("time=t,x_urad=dx,y_urad=dy,el_deg=elev,"
                                                       "locked=lock"),
                            offset_scale=parse_offset_scale("arcsec"))
    np.testing.assert_allclose(log.x_urad, np.arange(5) * 4.8481368, rtol=1e-7)
    np.testing.assert_allclose(log.t_s, np.arange(5.0))
    np.testing.assert_array_equal(log.locked, [False, False, True, True, True])
    np.testing.assert_array_equal(log.extra["counts"], [7.0] * 5)


def _bad_ecsv(tmp_path, edit):
    path = write_tracking_log(small_log(), tmp_path / "bad.ecsv")
    text = path.read_text().splitlines()
    first = next(i for i, ln in enumerate(text) if ln.startswith("time "))
    edit(text, first)  # first = index of the header line; data row k at first + k
    path.write_text("\n".join(text) + "\n")
    return path


def _set(text, first, row, col, value):
    cells = text[first + row].split(" ")
    cells[col] = value
    text[first + row] = " ".join(cells)


@pytest.mark.parametrize("row, col, value, words", [
    (6, 0, "2026-12-01T18:00:00.650000", ["row 6", "'time'", "duplicate"]),
    (6, 0, "2026-12-01T18:00:00.350000", ["row 6", "'time'", "backwards"]),
    (8, 1, "nan", ["row 8", "'x_urad'", "locked"]),
    (9, 2, "abc", ["row 9", "'y_urad'", "number"]),
    (4, 3, "nan", ["row 4", "'el_deg'", "NaN"]),
    (4, 3, "95", ["row 4", "'el_deg'", "outside"]),
    (7, 0, "yesterday", ["row 7", "'time'", "ISO"]),
])
def test_bad_rows_name_file_line_row_and_column(tmp_path, row, col, value, words):
    path = _bad_ecsv(tmp_path, lambda t, f: _set(t, f, row, col, value))
    with pytest.raises(FileFormatError) as err:
        read_tracking_log(path)
    msg = str(err.value)
    lines = path.read_text().splitlines()
    line = next(i for i, ln in enumerate(lines) if ln.startswith("time ")) + row + 1
    assert msg.startswith(f"{path}:{line}: ")
    for w in words:
        assert w in msg


def test_missing_column_and_wrong_bool(tmp_path):
    log = small_log()
    path = write_tracking_log(log, tmp_path / "a.ecsv")
    text = path.read_text().replace("name: y_urad", "name: yy").replace(" y_urad ", " yy ")
    (tmp_path / "b.ecsv").write_text(text)
    with pytest.raises(FileFormatError, match=r"b\.ecsv: missing column\(s\) 'y_urad'"):
        read_tracking_log(tmp_path / "b.ecsv")
    rows = ["2026-12-01T18:00:00;1;1;30;maybe;1", "2026-12-01T18:00:01;1;1;30;1;1"]
    path = _csv(tmp_path, rows)
    mapping = parse_column_mapping("time=t,x_urad=dx,y_urad=dy,el_deg=elev,locked=lock")
    with pytest.raises(FileFormatError, match=r"log\.csv:3: row 1: column 'locked'.*maybe"):
        read_tracking_csv(path, mapping)
    with pytest.raises(FileFormatError, match=r"missing column\(s\) 'el_deg' \(file column "
                                              r"'elevation'\)"):
        read_tracking_csv(path, {**mapping, "el_deg": "elevation"})


def test_options_and_unreadable_files(tmp_path):
    with pytest.raises(PointingError, match="unknown log column 'xx'"):
        parse_column_mapping("xx=a")
    with pytest.raises(PointingError, match="NAME=CSV_COLUMN"):
        parse_column_mapping("time")
    with pytest.raises(PointingError, match="positive"):
        parse_offset_scale("-2")
    assert parse_offset_scale("mrad") == 1000.0
    (tmp_path / "junk.ecsv").write_text("# %ECSV 1.0\n# ---\n# datatype: [oops\n")
    with pytest.raises(FileFormatError, match=r"junk\.ecsv: not a readable ECSV"):
        read_tracking_log(tmp_path / "junk.ecsv")
    with pytest.raises(PointingError, match="no such tracking log"):
        read_tracking_log(tmp_path / "none.ecsv")


def test_from_arrays_checks_like_a_file():
    with pytest.raises(FileFormatError, match=r"<memory>: row 3: column 'time': duplicate"):
        TrackingLog.from_arrays([0, 1, 1], [0, 0, 0], [0, 0, 0], [30] * 3, [True] * 3)
    with pytest.raises(PointingError, match="'counts' has 2 values"):
        TrackingLog.from_arrays([0, 1, 2], [0, 0, 0], [0, 0, 0], [30] * 3, [True] * 3,
                                extra={"counts": [1, 2]})
