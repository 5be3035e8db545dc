"""Benchmark of the tracking-camera star measurement, beside sep, photutils and a
plain centre of mass, all in the same run.

Prints
1. time per frame of the whole measurement (find the star, background,
   centroid, flags) on 640×512, 1024×1024 and 2048×2048 16-bit frames, for
   measure_star in precise and fast mode (and fast with ``expected_xy`` and a
   search radius, as the tracking loop calls it), sep (Background + extract +
   winpos) and a guider-style centre of mass (brightest pixel of the 3×3
   smoothed frame, centre of mass of the background-subtracted 15×15 box),
   all on the same frames, taking turns frame by frame, with the ratios to
   sep beside issue 14's goals (precise ≤ 0.5×, fast ≤ 0.1×);
2. precision over the Cramér–Rao bound and bias at SNR 10, 100 and 1000 for
   the same estimators plus photutils' centroid_2dg (with its error array) and
   centroid_quadratic (default box), on 64×64 frames (the local estimator is
   the same on any frame size; SNR 1000 needs a float frame as the star would
   saturate the 16-bit camera);
3. the issue's two photutils figures measured here: centroid_quadratic's
   pixel-phase bias, and how far one hot pixel next to the core moves an
   unmasked centroid_2dg.

Stars have 3 px FWHM (Gaussian, pixel-integrated by 8×8 sub-sampling); sky
100 e⁻/px, read noise 6 e⁻, gain 0.5 e⁻/ADU (the [camera] defaults).  SNR is
flux over its Cramér–Rao error (see pointing.camera.crlb).  Single-threaded
BLAS; times are medians over frames.  Run from the repository root:

    python benchmarks/bench_centroid.py [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from star_frames import BACKGROUND_VAR, GAIN, READ_NOISE, SKY, render

from pointing.camera import Sensor, flux_for_snr, gaussian_crlb, measure_star

SIGMA = 3.0 / 2.3548200450309493
CAMERA = Sensor()
FLOAT_CAMERA = Sensor(full_well_e=1e12, adc_bits=32)

try:
    import sep
except ImportError:  # the bench extra
    sep = None


def noisy(star_e: np.ndarray, rng: np.random.Generator, dtype=np.uint16) -> np.ndarray:
    e = rng.poisson(star_e + SKY).astype(float) + rng.normal(0, READ_NOISE, star_e.shape)
    adu = e / GAIN
    if dtype is None:
        return adu
    return np.clip(np.round(adu), 0, 65535).astype(dtype)


# -- peers ----------------------------------------------------------------------


def centre_of_mass(img: np.ndarray, half: int = 7) -> tuple[float, float]:
    """Guider-style centroid: brightest pixel of the 3×3-smoothed frame, then the
    centre of mass of the 15×15 box above its border's mean level."""
    f = img.astype(np.float32)
    s = f[:-2] + f[1:-1] + f[2:]
    s = s[:, :-2] + s[:, 1:-1] + s[:, 2:]
    j, i = np.unravel_index(int(np.argmax(s)), s.shape)
    y, x = j + 1, i + 1
    y0, y1 = max(0, y - half), min(f.shape[0], y + half + 1)
    x0, x1 = max(0, x - half), min(f.shape[1], x + half + 1)
    box = f[y0:y1, x0:x1]
    border = np.concatenate([box[0], box[-1], box[1:-1, 0], box[1:-1, -1]])
    w = np.clip(box - border.mean(), 0, None)
    tot = w.sum()
    return (float((w.sum(axis=0) * np.arange(x0, x1)).sum() / tot),
            float((w.sum(axis=1) * np.arange(y0, y1)).sum() / tot))


def sep_measure(img: np.ndarray) -> tuple[float, float]:
    """sep's whole measurement: background, extraction, windowed centroid of the brightest."""
    data = np.ascontiguousarray(img, dtype=np.float32)
    bkg = sep.Background(data)
    sub = data - bkg.back()
    objs = sep.extract(sub, 5.0, err=bkg.globalrms)
    k = int(np.argmax(objs["flux"]))
    x, y, _ = sep.winpos(sub, objs["x"][k:k + 1], objs["y"][k:k + 1], np.array([SIGMA]))
    return float(x[0]), float(y[0])


def sep_winpos(img: np.ndarray, x: float, y: float, back: float) -> tuple[float, float]:
    sub = np.ascontiguousarray(img, dtype=np.float64) - back
    wx, wy, _ = sep.winpos(sub, np.array([x]), np.array([y]), np.array([SIGMA]))
    return float(wx[0]), float(wy[0])


def photutils_2dg(img: np.ndarray, x: float, y: float, back: float,
                  half: int = 7, error: bool = True) -> tuple[float, float]:
    from photutils.centroids import centroid_2dg

    xi, yi = round(x), round(y)
    cut = img[yi - half:yi + half + 1, xi - half:xi + half + 1].astype(float) - back
    err = np.sqrt(BACKGROUND_VAR + np.clip(cut, 0, None) / GAIN) if error else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cx, cy = centroid_2dg(cut, error=err)
    return float(cx + xi - half), float(cy + yi - half)


def photutils_quadratic(img: np.ndarray, back: float) -> tuple[float, float]:
    from photutils.centroids import centroid_quadratic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cx, cy = centroid_quadratic(img.astype(float) - back)
    return float(cx), float(cy)


# -- 1. time per frame --------------------------------------------------------------


def interleaved_ms(fns: dict, frames: list, rounds: int) -> dict[str, float]:
    """Median time per frame (ms) of each function, run in turn on every frame.

    The estimators take turns frame by frame (in a rotating order), so a
    burst of load from other processes on a shared machine hits them all
    alike, and the clock is this process's CPU time (``time.process_time``:
    every estimator here is single-threaded), which waiting for a core does
    not inflate: the ratios are the figures to trust, the absolute times less so.
    """
    for fn in fns.values():
        fn(frames[0])  # warm up (imports, caches)
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for i, f in enumerate(frames):
            shift = (r + i) % len(names)
            for k in names[shift:] + names[:shift]:
                t = time.process_time()
                fns[k](f)
                times[k].append(time.process_time() - t)
    return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


#: issue 14's goals: precise ≤ 0.5 × sep's pipeline time, fast ≤ 0.1 ×
GOALS = {"precise": 0.5, "fast": 0.1}


def timing(quick: bool) -> None:
    print("1. CPU time per frame, whole measurement (median over frames, estimators "
          "interleaved frame by frame; star at SNR 100; uint16)")
    head = (f"{'frame':>11} {'precise':>9} {'fast':>9} {'fast+expect':>12} {'sep':>9} "
            f"{'centre of mass':>15} {'precise/sep':>12} {'fast/sep':>9} {'fast+expect/sep':>16}")
    print(head)
    rng = np.random.default_rng(1)
    f100 = flux_for_snr(100, SIGMA, background_var=BACKGROUND_VAR, gain=GAIN)
    for shape in ((512, 640), (1024, 1024), (2048, 2048)):
        n = 5 if quick else (20 if shape[0] <= 1024 else 8)
        x, y = shape[1] * 0.37 + 0.3, shape[0] * 0.61 + 0.6
        star = render(shape, x, y, f100 * GAIN)
        frames = [noisy(star, rng) for _ in range(n)]
        fns = {
            "precise": lambda f: measure_star(f, camera=CAMERA),
            "fast": lambda f: measure_star(f, camera=CAMERA, fast=True),
            "fast+expect": lambda f, x=x, y=y: measure_star(
                f, camera=CAMERA, fast=True, expected_xy=(x + 2, y - 1), search_radius=20),
            "centre of mass": centre_of_mass,
        }
        if sep:
            fns["sep"] = sep_measure
        ms = interleaved_ms(fns, frames, rounds=1 if quick else 3)
        ms.setdefault("sep", math.nan)
        ratio = {k: ms[k] / ms["sep"] for k in ("precise", "fast", "fast+expect")}
        cells = [f"{ms[k]:>{w}.2f}" for k, w in (("precise", 9), ("fast", 9),
                                                  ("fast+expect", 12), ("sep", 9),
                                                  ("centre of mass", 15))]
        cells += [f"{ratio[k]:>{w}.3f}{'' if ratio[k] <= GOALS[g] else '!'}"
                  for k, g, w in (("precise", "precise", 11), ("fast", "fast", 8),
                                  ("fast+expect", "fast", 15))]
        print(f"{shape[1]:>5}×{shape[0]:<5} " + " ".join(cells) + "  ms")
    print(f"   goals (issue 14): precise/sep ≤ {GOALS['precise']}, fast/sep ≤ {GOALS['fast']} "
          "(the issue's fast figure, 1.4 ms on 1024², was the fast+expect call of the "
          "tracking loop); '!' marks a miss.\n   On a shared machine absolute times are "
          "noisy; the ratios come from the same frames in the same run.")
    print()


# -- 2. precision over the Cramér–Rao bound ------------------------------------------


def precision(quick: bool) -> None:
    print("2. Precision (RMS error / Cramér–Rao bound) and |bias| in px, 64×64 frames, "
          "random sub-pixel positions")
    n = 40 if quick else 300
    names = ["precise", "fast", "sep winpos", "centre of mass", "centroid_2dg+err",
             "centroid_quadratic"]
    print(f"{'SNR':>5} {'CRLB px':>8} " + " ".join(f"{s:>20}" for s in names))
    rng = np.random.default_rng(2)
    back = SKY / GAIN
    for snr in (10, 100, 1000):
        f = flux_for_snr(snr, SIGMA, background_var=BACKGROUND_VAR, gain=GAIN)
        bound = gaussian_crlb(f, SIGMA, background_var=BACKGROUND_VAR, gain=GAIN, x0=0.3).x
        errs = {k: [] for k in names}
        for _ in range(n):
            x, y = 32 + rng.uniform(-0.5, 0.5, 2)
            img = noisy(render((64, 64), x, y, f * GAIN), rng, dtype=None)
            cam = FLOAT_CAMERA
            est = {
                "precise": measure_star(img, camera=cam, expected_xy=(32, 32)),
                "fast": measure_star(img, camera=cam, expected_xy=(32, 32), fast=True),
            }
            got = {k: (m.x, m.y) for k, m in est.items()}
            got["sep winpos"] = sep_winpos(img, 32.0, 32.0, back) if sep else (math.nan,) * 2
            got["centre of mass"] = centre_of_mass(img)
            got["centroid_2dg+err"] = photutils_2dg(img, 32, 32, back)
            got["centroid_quadratic"] = photutils_quadratic(img, back)
            for k, (gx, gy) in got.items():
                errs[k].append((gx - x, gy - y))
        cells = []
        for k in names:
            e = np.array(errs[k])
            ok = np.all(np.isfinite(e), axis=1) & (np.hypot(*e.T) < 5)  # drop lost stars
            e = e[ok]
            rms = float(np.sqrt((e**2).mean())) if len(e) else math.nan
            bias = float(np.abs(e.mean(axis=0)).max()) if len(e) else math.nan
            lost = "" if ok.all() else f" ({(~ok).sum()} lost)"
            cells.append(f"{rms / bound:6.2f} |{bias:6.4f}|{lost}")
        print(f"{snr:>5} {bound:>8.4f} " + " ".join(f"{c:>20}" for c in cells))
    print("   (the bias column's noise is RMS/sqrt(n): "
          f"n = {n}; only values well above it are real)")
    print()


# -- 3. the photutils figures the issue quotes -----------------------------------------


def issue_figures(quick: bool) -> None:
    print("3. The figures the issue quotes, measured here")
    rng = np.random.default_rng(3)
    back = SKY / GAIN
    # centroid_quadratic: pixel-phase bias at high SNR (noise 0.001 px)
    f = flux_for_snr(1000, SIGMA, background_var=BACKGROUND_VAR, gain=GAIN)
    phases = np.linspace(-0.5, 0.5, 9 if quick else 21)
    bias_q, bias_ours = [], []
    reps = 3 if quick else 10
    for ph in phases:
        x, y = 32 + ph, 32.2
        star = render((64, 64), x, y, f * GAIN)
        q, o = [], []
        for _ in range(reps):
            img = noisy(star, rng, dtype=None)
            q.append(photutils_quadratic(img, back)[0] - x)
            o.append(measure_star(img, camera=FLOAT_CAMERA, expected_xy=(32, 32)).x - x)
        bias_q.append(np.mean(q))
        bias_ours.append(np.mean(o))
    k = int(np.argmax(np.abs(bias_q)))
    print(f"   centroid_quadratic (fit_boxsize=5) pixel-phase bias in x, SNR 1000: "
          f"max |bias| {abs(bias_q[k]):.3f} px (at phase {phases[k]:+.2f} px), RMS over phases "
          f"{np.sqrt(np.mean(np.square(bias_q))):.3f} px; measure_star: max "
          f"{np.max(np.abs(bias_ours)):.4f} px")
    # one hot pixel next to the core, unmasked centroid_2dg (15×15 cutout)
    for flux_snr, hot in ((100, 65535), (30, 65535), (10, 65535), (100, 4000)):
        f = flux_for_snr(flux_snr, SIGMA, background_var=BACKGROUND_VAR, gain=GAIN)
        shifts_2dg, shifts_ours = [], []
        for _ in range(5 if quick else 20):
            x, y = 32 + rng.uniform(-0.5, 0.5, 2)
            img = noisy(render((64, 64), x, y, f * GAIN), rng)
            img[round(y), round(x) + 1] = hot
            cx, cy = photutils_2dg(img, x, y, back, error=False)
            shifts_2dg.append(math.hypot(cx - x, cy - y))
            m = measure_star(img, camera=CAMERA, expected_xy=(32, 32))
            shifts_ours.append(math.hypot(m.x - x, m.y - y))
        peak = f * 0.0955  # share of a 3 px FWHM star's flux in its central pixel
        print(f"   hot pixel of {hot} ADU beside the core of a star of SNR {flux_snr} "
              f"(peak ≈ {peak:.0f} ADU above sky): centroid_2dg moves by "
              f"{np.median(shifts_2dg):.2f} px (median), measure_star by "
              f"{np.median(shifts_ours):.3f} px")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few frames: a smoke test")
    args = ap.parse_args()
    print(f"numpy {np.__version__}, sep {getattr(sep, '__version__', 'absent')}, "
          f"photutils {__import__('photutils').__version__}, {os.cpu_count()} CPUs\n")
    timing(args.quick)
    precision(args.quick)
    issue_figures(args.quick)


if __name__ == "__main__":
    main()
