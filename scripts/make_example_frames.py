#!/usr/bin/env python3
"""Write examples/tracking_frame.fits and examples/wide_frame.fits: two camera frames
rendered by the station simulator, for ``pointing centroid``.

The Shanghai station is simulated with a perfect mount (no pointing-model
terms, so the telescope points where it is told) and slewed to a bright
calibration star at the night's default start; the tracking camera
(``[camera]``, 3 µrad/px) and the wide camera (``[wide_camera]``, 40 µrad/px)
each take one exposure (0.05 s: a clean star; 1 s: the wide camera's star
saturates, as a bright star does).  The frames are cut to 256 × 256 pixels
about the calibration pixel and written as Rice-compressed FITS (lossless
for integers), with the camera, the star and the cut's place on the sensor
(``XORGSUBF``/``YORGSUBF``, so ``offset_urad`` stays right) in the header.
Re-running the script reproduces the files.

    python scripts/make_example_frames.py
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from pointing.config.station import load_station
from pointing.hardware.simulator import simulated_station
from pointing.sky.catalog import load_catalog
from pointing.sky.places import observed_altaz
from pointing.sky.select import select_stars
from pointing.units import wrap_near

CUT = 256  #: side of the cut frames, pixels
STATION = "shanghai"
SEED = 2026


def cut(image: np.ndarray, x: float, y: float) -> tuple[np.ndarray, int, int]:
    """A CUT × CUT piece of *image* with (x, y) near its centre, and its origin."""
    h, w = image.shape
    x0 = min(max(round(x) - CUT // 2, 0), w - CUT)
    y0 = min(max(round(y) - CUT // 2, 0), h - CUT)
    return image[y0:y0 + CUT, x0:x0 + CUT], x0, y0


def write(path: Path, image: np.ndarray, header: dict) -> None:
    hdu = fits.CompImageHDU(image, compression_type="RICE_1")
    for key, value in header.items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "examples"
    out.mkdir(exist_ok=True)
    station = load_station(STATION)
    backend = simulated_station(station, seed=SEED, terms={}, unmodelled={})
    catalog = load_catalog()
    # a 4th-magnitude star for the tracking camera, a 2nd–3rd magnitude one (which
    # saturates a 1 s exposure) for the wide camera
    for which, camera, seconds, mags in (("tracking", backend.tracking_camera, 0.2, (4.0, 5.0)),
                                         ("wide", backend.wide_camera, 1.0, (1.0, 3.0))):
        star = select_stars(station, backend.clock.now(), n=6, imag_min=mags[0],
                            imag_max=mags[1]).stars[0]
        row = catalog[np.flatnonzero(np.asarray(catalog["hip"]) == int(star["hip"]))[:1]]
        # slew, then slew again where the star has moved meanwhile, and track it
        for _ in range(2):
            az, el = observed_altaz(row, station, backend.clock.now())
            # on the cable-wrap side the selection chose
            backend.mount.slew(float(wrap_near(np.ravel(az)[0], math.radians(star["mount_az"]))),
                               float(np.ravel(el)[0]))
        az2, el2 = observed_altaz(row, station, backend.clock.now() + 1 * u.s)
        backend.mount.track(float(wrap_near(np.ravel(az2)[0] - np.ravel(az)[0], 0.0)),
                            float(np.ravel(el2)[0] - np.ravel(el)[0]))
        frame = camera.expose(seconds)
        g = camera.geometry
        # the star sits at the calibration pixel (a perfect mount), up to jitter
        cx, cy = g.calibration_pixel
        image, x0, y0 = cut(np.asarray(frame.data), cx, cy)
        write(out / f"{which}_frame.fits", image, {
            "CAMERA": (which, "pointing centroid --camera " + which),
            "STATION": (STATION, "station file of the camera"),
            "STAR": (str(star["name"]) or f"HIP {int(star['hip'])}", "the star aimed at"),
            "HIP": (int(star["hip"]), "Hipparcos number"),
            "EXPTIME": (seconds, "exposure, s"),
            "XORGSUBF": (x0, "sensor column of this cut's column 0 (0-based)"),
            "YORGSUBF": (y0, "sensor row of this cut's row 0 (0-based)"),
            "XSTAR": (round(cx - x0, 2), "where the star was aimed (0-based px)"),
            "YSTAR": (round(cy - y0, 2), "where the star was aimed (0-based px)"),
            "GENERATR": ("scripts/make_example_frames.py", f"simulator seed {SEED}"),
        })
        path = out / f"{which}_frame.fits"
        print(f"{which}: {path} ({path.stat().st_size} bytes), star aimed at "
              f"({cx - x0:.1f}, {cy - y0:.1f})")


if __name__ == "__main__":
    main()
