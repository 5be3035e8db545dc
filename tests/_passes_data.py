"""Element sets for the pass tests: the shipped Micius TLE and made-up satellites."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MICIUS_TLE = REPO / "examples" / "micius.tle"
START = "2021-04-28T00:00:00"


def checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def _exp(x: float) -> str:
    """TLE 'assumed decimal' exponent field, e.g. 2.0e-5 -> ' 20000-4'."""
    if x == 0:
        return " 00000-0"
    e = math.floor(math.log10(abs(x))) + 1
    m = round(abs(x) / 10.0 ** e * 1e5)
    return f"{'-' if x < 0 else ' '}{m:05d}{e:+d}"


def make_tle(num: int, inc: float, raan: float, ecc: float, argp: float, ma: float,
             n_rev_day: float, epoch_doy: float = 118.0, yy: int = 21,
             bstar: float = 2.0e-5, name: str | None = None) -> str:
    """Three-line element text with valid checksums."""
    l1 = (f"1 {num:05d}U 21001A   {yy:02d}{epoch_doy:012.8f}  .00000100  00000-0 "
          f"{_exp(bstar)} 0  999")
    l2 = (f"2 {num:05d} {inc:8.4f} {raan:8.4f} {round(ecc * 1e7):07d} {argp:8.4f} "
          f"{ma:8.4f} {n_rev_day:11.8f}{1000:5d}")
    l1 += str(checksum(l1))
    l2 += str(checksum(l2))
    assert len(l1) == 69 and len(l2) == 69, (l1, l2)
    return f"{name or f'TEST-{num}'}\n{l1}\n{l2}\n"


#: made-up satellites of different orbits (epoch 2021-04-28 00:00 UTC)
TEST_SATS = {
    "iss-like": make_tle(90001, 51.64, 80.0, 0.0005, 40.0, 10.0, 15.49),
    "sso-800": make_tle(90002, 98.6, 200.0, 0.0012, 90.0, 300.0, 14.2),
    "leo-1200": make_tle(90003, 53.0, 330.0, 0.0001, 0.0, 120.0, 13.0),
    "eccentric": make_tle(90004, 70.0, 10.0, 0.03, 250.0, 45.0, 14.6),
    "equatorial": make_tle(90005, 3.0, 0.0, 0.0005, 0.0, 0.0, 15.0),
}


def write_tle(tmp_path: Path, text: str, name: str = "sat.tle") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def station_at(station, lat_deg: float, lon_deg: float, height_m: float = 50.0, name="Test"):
    return dataclasses.replace(station, name=name, latitude_deg=lat_deg, longitude_deg=lon_deg,
                               height_m=height_m)
