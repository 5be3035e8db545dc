"""``pointing centroid``: measure the star in a tracking-camera frame."""

from __future__ import annotations

import argparse
import json
import math
import sys

from pointing.cli.registry import arguments, command
from pointing.errors import PointingError


def _xy(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected X,Y in pixels (e.g. 512.3,498.0), got {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise argparse.ArgumentTypeError(f"X,Y must be finite, got {text!r}")
    return x, y


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("frame", help="FITS file of the frame (the first 2-D image HDU is used)")
    p.add_argument("--expect", type=_xy, metavar="X,Y",
                   help="where the star should be (0-based pixels); the nearest star is "
                        "measured, else the brightest")
    p.add_argument("--search-radius", type=float, metavar="PX",
                   help="with --expect: only look this many pixels around it")
    p.add_argument("--station", metavar="NAME|PATH",
                   help="station file whose camera section gives gain, noise, saturation "
                        "and geometry (for offset_urad)")
    # (checked by pointing.camera.config.camera_section: the camera package is
    # imported only when the command runs, not at every CLI start)
    p.add_argument("--camera", metavar="tracking|wide", default=None,
                   help="which camera took the frame: the station's [camera] (tracking, the "
                        "default) or [wide_camera] (wide); needs --station")
    p.add_argument("--fast", action="store_true",
                   help="tracking-loop mode: circular Gaussian on a small window")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--plot", metavar="PATH", help="write a PNG of the cutout, centroid, "
                                                  "aperture, annulus and masked pixels")


def _check_inside(frame: str, xy: tuple[float, float]) -> None:
    """Refuse an expected position off the frame (the frame is read once more: CLI only)."""
    from pointing.camera.frames import load_frame  # lazy, as the command's other imports

    height, width = load_frame(frame).shape
    if not (-0.5 <= xy[0] <= width - 0.5 and -0.5 <= xy[1] <= height - 0.5):
        raise PointingError(f"--expect {xy[0]:g},{xy[1]:g}: outside the {width} × {height} "
                            f"pixel frame {frame}")


@command("centroid", "Measure the star in a tracking-camera frame: position and its "
                     "Cramér–Rao bound, flux, SNR, FWHM, flags (exit 1 if no star)")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    # lazy: the camera package (scipy) would add ~0.2 s to every CLI start (measured)
    from pointing.camera import Camera, measure_star
    from pointing.camera.config import CAMERAS

    if args.camera is not None and args.camera not in CAMERAS:
        raise PointingError(f"--camera: expected one of {', '.join(CAMERAS)}, "
                            f"got {args.camera!r}")
    if args.camera is not None and not args.station:
        raise PointingError("--camera needs --station (the station file holding that camera)")
    camera = (Camera.from_station(args.station, args.camera or "tracking") if args.station
              else None)
    if args.search_radius is not None and args.expect is None:
        raise PointingError("--search-radius needs --expect X,Y")
    if args.search_radius is not None and not (math.isfinite(args.search_radius)
                                               and args.search_radius > 0):
        raise PointingError(f"--search-radius must be a positive number of pixels, "
                            f"got {args.search_radius}")
    if args.expect is not None:
        _check_inside(args.frame, args.expect)
    result = measure_star(args.frame, expected_xy=args.expect, camera=camera,
                          fast=args.fast, search_radius=args.search_radius)
    if args.plot:
        from pointing.plots.camera import plot_star_cutout  # lazy: matplotlib, only for --plot

        plot_star_cutout(result, args.plot, frame=args.frame if not result.found else None)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(_text(args.frame, result))
    return 0 if result.found else 1


def _text(name: str, m) -> str:
    if not m.found:
        return (f"{name}: no star ({m.flags_text()}); background {m.background:.4g} ADU/px, "
                f"highest pixel {m.peak:.6g} ADU")
    lines = [
        f"{name}: star at x = {m.x:.3f} ± {m.sigma_x:.3f} px, y = {m.y:.3f} ± {m.sigma_y:.3f} px"
        f"  (Cramér–Rao bound {m.crlb_x:.3f}, {m.crlb_y:.3f} px; {m.mode} mode)",
        f"  flux {m.flux:.5g} ADU"
        + (f" ({m.flux_e:.5g} e-)" if m.flux_e is not None else "")
        + f", background {m.background:.5g} ADU/px, SNR {m.snr:.1f}, FWHM {m.fwhm:.2f} px, "
          f"peak {m.peak:.6g} ADU, elongation {m.elongation:.2f}",
    ]
    if m.offset_urad is not None:
        lines.append(f"  offset from the calibration pixel: ΔA·cosE {m.offset_urad[0]:+.2f} µrad,"
                     f" ΔE {m.offset_urad[1]:+.2f} µrad")
    lines.append(f"  flags: {m.flags_text()}")
    return "\n".join(lines)
