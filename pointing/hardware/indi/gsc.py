"""A stand-in for the ``gsc`` program that INDI's CCD simulator runs to draw stars.

INDI's ``indi_simulator_ccd`` draws a star field only when it can run a
program called ``gsc`` (the HST Guide Star Catalog reader) from its ``PATH``::

    gsc -c RA_DEG DEC_DEG -r RADIUS_ARCMIN -m 0 MAG_LIMIT -n 3000

and it reads every output line with the C format
``"%10s %f %f %f %f %f %d %d %4s %2s %f %d"`` (identifier, RA and Dec in
degrees, position error, magnitude, magnitude error, band, class, plate,
origin, distance from the centre in arcmin, direction), drawing the lines that
give all twelve fields.  No Debian package provides ``gsc``, so this module
answers from the project's own catalog instead:

* :func:`write_star_list` writes the catalog's stars as they would be seen at
  a given time (astrometric place: proper motion and parallax to that date, in
  the ICRS, which is the "J2000" frame the simulator draws in) with a
  magnitude for the simulator, to a plain text file;
* :func:`install` puts an executable ``gsc`` next to it; put that folder first
  on the ``PATH`` of the ``indiserver`` process;
* :func:`main` is the program itself.  It imports nothing but the standard
  library (it runs once per simulated exposure, so it must start fast) and
  finds its star list in the ``POINTING_GSC_STARS`` environment variable
  (which the installed script sets to the list beside it unless already set).

The magnitude written for the simulator is ``offset + scale × m`` where ``m``
is the star's magnitude in the tracking camera's band (Vega-relative, from its
I magnitude and V−I colour, :func:`pointing.photometry.star_photon_flux`);
``scale`` undoes the simulator's compression of its magnitude scale (see
:func:`pointing.hardware.indi.bench.simulator_magnitudes`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["STAR_LIST_ENV", "install", "main", "query", "read_star_list", "write_star_list"]

#: environment variable naming the star list
STAR_LIST_ENV = "POINTING_GSC_STARS"
_HEADER = "# ogs-pointing gsc star list: ra_deg dec_deg sim_mag hip"


def write_star_list(path: str | Path, time: Any, *, catalog: Any = None, band: Any = None,
                    mag_scale: float = 1.0, mag_offset: float = 0.0) -> Path:
    """Write the catalog's stars at ``time`` for the ``gsc`` stand-in.

    Parameters
    ----------
    path : str or Path
        The star list to write (text, one star a line).
    time : astropy.time.Time or str
        UTC of the observations: proper motion and annual parallax are applied
        for this date (a night's hours change positions by < 1 mas).
    catalog : Table, optional
        Default: :func:`pointing.sky.catalog.load_catalog`.
    band : pointing.photometry.Band, optional
        Band of the magnitudes (default: the photometry module's camera band).
    mag_scale, mag_offset : float
        The simulator magnitude written is ``mag_offset + mag_scale × m_band``.

    Returns
    -------
    Path
    """
    import erfa
    import numpy as np
    from astropy.time import Time

    from pointing.offline import configure_astropy
    from pointing.photometry.bands import star_photon_flux
    from pointing.sky.catalog import load_catalog
    from pointing.sky.places import star_astrometry

    configure_astropy()
    cat = load_catalog() if catalog is None else catalog
    astro = star_astrometry(cat)
    t = Time(time, scale="utc")
    tt = t.tt
    # astrometric place at the date: proper motion from J2000 and parallax seen from the Earth
    pvh, pvb = erfa.epv00(tt.jd1, tt.jd2)
    del pvh
    pmt = (tt.jd1 - 2451545.0 + tt.jd2) / 365.25
    vec = erfa.pmpx(astro["rc"], astro["dc"], astro["pr"], astro["pd"], astro["px"],
                    astro["rv"], pmt, pvb[0])
    ra, dec = erfa.c2s(vec)
    ra = np.degrees(np.mod(ra, 2 * np.pi))
    dec = np.degrees(dec)
    imag = np.asarray(cat["imag"], dtype=float)
    vi = np.asarray(cat["vi"], dtype=float)
    vi = np.where(np.isfinite(vi), vi, 0.7)
    flux = star_photon_flux(imag, vi, band) if band is not None else star_photon_flux(imag, vi)
    ref = star_photon_flux(0.0, 0.0, band) if band is not None else star_photon_flux(0.0, 0.0)
    m_band = -2.5 * np.log10(np.asarray(flux, dtype=float) / float(ref))
    sim_mag = mag_offset + mag_scale * m_band
    hip = np.asarray(cat["hip"], dtype=int)
    ok = np.isfinite(ra) & np.isfinite(dec) & np.isfinite(sim_mag)
    path = Path(path)
    lines = [_HEADER] + [f"{a:.8f} {d:+.8f} {m:.4f} {h}"
                         for a, d, m, h in zip(ra[ok], dec[ok], sim_mag[ok], hip[ok],
                                               strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def install(directory: str | Path, time: Any, **star_list: Any) -> Path:
    """Write ``gsc`` (executable) and its ``stars.txt`` into ``directory``.

    ``star_list`` goes to :func:`write_star_list`.  Put ``directory`` first on
    the ``PATH`` of the ``indiserver`` process.  Returns the script's path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_star_list(directory / "stars.txt", time, **star_list)
    script = directory / "gsc"
    # run this file by path: no import of the package (and of numpy) at every exposure
    stars = str((directory / "stars.txt").resolve())
    script.write_text(f"#!{sys.executable}\n"
                      "import os, runpy\n"
                      f"os.environ.setdefault({STAR_LIST_ENV!r}, {stars!r})\n"
                      f"runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')\n",
                      encoding="utf-8")
    script.chmod(0o755)
    return script


def read_star_list(path: str | Path) -> list[tuple[float, float, float, int]]:
    """The (ra_deg, dec_deg, sim_mag, hip) rows of a star list."""
    rows = []
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, d, m, h = line.split()
            rows.append((float(a), float(d), float(m), int(h)))
    return rows


def query(stars: list[tuple[float, float, float, int]], ra_deg: float, dec_deg: float,
          radius_arcmin: float, mag_min: float, mag_max: float, limit: int) -> list[str]:
    """GSC-style output lines of the stars within ``radius_arcmin`` of (ra, dec), degrees.

    Brightest first, at most ``limit`` lines, magnitudes in [mag_min, mag_max].
    """
    d2r = math.pi / 180.0
    ra0, dec0 = ra_deg * d2r, dec_deg * d2r
    sd0, cd0 = math.sin(dec0), math.cos(dec0)
    cos_r = math.cos(radius_arcmin / 60.0 * d2r)
    found = []
    for a, d, m, h in stars:
        if not mag_min <= m <= mag_max:
            continue
        dr = d * d2r
        c = sd0 * math.sin(dr) + cd0 * math.cos(dr) * math.cos(a * d2r - ra0)
        if c < cos_r:
            continue
        dist = math.acos(min(1.0, c)) / d2r * 60.0
        found.append((m, a, d, h, dist))
    found.sort()
    return [f"HIP{h:07d} {a:.7f} {d:+.7f} 0.1 {m:.3f} 0.01 0 0 HIPP HP {dist:.3f} 0"
            for m, a, d, h, dist in found[:limit]]


def main(argv: list[str] | None = None) -> int:
    """``gsc -c RA DEC -r RADIUS [-m MIN MAX] [-n N]``: stars near (RA, Dec), GSC format."""
    parser = argparse.ArgumentParser(prog="gsc", description="ogs-pointing stand-in for "
                                     "GSC: stars near (RA, Dec) from the project's catalog")
    parser.add_argument("-c", nargs=2, type=float, required=True, metavar=("RA", "DEC"),
                        help="field centre, degrees")
    parser.add_argument("-r", type=float, default=10.0, metavar="RADIUS",
                        help="radius, arcmin (default 10)")
    parser.add_argument("-m", nargs=2, type=float, default=(-30.0, 30.0),
                        metavar=("MIN", "MAX"), help="magnitude range")
    parser.add_argument("-n", type=int, default=3000, metavar="N", help="at most N stars")
    try:
        a = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed what was wrong
        return int(exc.code or 0)
    (ra, dec), radius, (mag_min, mag_max), limit = a.c, a.r, a.m, a.n
    path = os.environ.get(STAR_LIST_ENV)
    if not path:
        print(f"gsc (ogs-pointing stand-in): set {STAR_LIST_ENV} to a star list",
              file=sys.stderr)
        return 1
    try:
        stars = read_star_list(path)
    except (OSError, ValueError) as exc:
        print(f"gsc (ogs-pointing stand-in): cannot read the star list {path}: {exc}",
              file=sys.stderr)
        return 1
    for line in query(stars, ra, dec, radius, mag_min, mag_max, limit):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
