"""The tracking error's spectrum: Welch PSD and the corner frequency where it rolls off.

A closed tracking loop rejects the image motion below its bandwidth and
passes it above, so the residual error's power spectrum rises (or is flat)
up to about the servo's bandwidth and falls beyond it.  :func:`corner_frequency`
estimates that roll-off as the corner f_c of a knee model

    P(f) = P₀ / (1 + (f/f_c)^s) / (1 + (f_l/f)^r)

fitted (least squares on log P, 10 log-spaced bins per decade) to the PSD up
to where it has fallen 13 dB below its peak or half the Nyquist frequency
(beyond, aliasing and the measurement-noise floor bend a sampled spectrum).
The second factor lets the spectrum rise at low frequencies (a loop's rejection below its bandwidth;
r = 0 or f_l below the band for a spectrum that is flat there); f_c is the
−3 dB point of the roll-off (for a first-order process, s = 2, the
Lorentzian corner).  No corner is
reported when the fit fails, lands outside the measured band, or the
spectrum never falls 6 dB below P₀ above f_c (a flat, white error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import welch

__all__ = ["ErrorSpectrum", "corner_frequency", "error_spectrum", "longest_regular_run"]

#: fewest samples a spectrum is computed from
MIN_SAMPLES = 64
#: the knee fit stops where the spectrum is this far (power ratio) below its peak: the
#: shape beyond (aliasing, measurement-noise floor, a second-order roll-off) is not the knee
DEPTH = 20.0
#: ... or above this fraction of the Nyquist frequency, where a sampled process aliases
ALIAS = 0.5


@dataclass(frozen=True)
class ErrorSpectrum:
    """Welch PSDs (µrad²/Hz, one-sided) of the X and Y errors on one regular run of samples."""

    freq_hz: np.ndarray
    psd_x: np.ndarray
    psd_y: np.ndarray
    sample_rate_hz: float
    n_samples: int
    nperseg: int
    corner_x_hz: float | None
    corner_y_hz: float | None
    corner_hz: float | None  # of the total (X + Y) spectrum


def longest_regular_run(t_s: np.ndarray, mask: np.ndarray) -> slice:
    """The longest run of consecutive *mask* samples with no gap (interval > 1.5 × median).

    Returns a slice into the arrays (empty if *mask* has no True).
    """
    ok = np.asarray(mask, bool)
    if not ok.any():
        return slice(0, 0)
    dt = np.diff(t_s)
    pairs = ok[1:] & ok[:-1]
    median = float(np.median(dt[pairs])) if pairs.any() else np.inf
    joined = pairs & (dt <= 1.5 * median)
    run_id = np.cumsum(ok & np.r_[True, ~joined])
    lengths = np.bincount(run_id[ok])
    best = int(np.argmax(lengths))
    members = np.flatnonzero(ok & (run_id == best))
    return slice(int(members[0]), int(members[-1]) + 1)


def error_spectrum(t_s: np.ndarray, x_urad: np.ndarray, y_urad: np.ndarray,
                   mask: np.ndarray) -> ErrorSpectrum | None:
    """Welch PSDs of X and Y over the longest regular run of *mask* samples (None if < 64).

    The sample rate is 1 / the run's median interval (timestamps with a small
    jitter are taken as regular); segments are the largest power of two
    giving >= 8 segments (>= 64 samples), Hann window, 50 % overlap, mean removed.
    """
    run = longest_regular_run(t_s, mask)
    n = run.stop - run.start
    if n < MIN_SAMPLES:
        return None
    fs = 1.0 / float(np.median(np.diff(t_s[run])))
    nperseg = max(MIN_SAMPLES, 2 ** math.floor(math.log2(n / 8))) if n >= 8 * MIN_SAMPLES else n
    f, px = welch(x_urad[run], fs=fs, nperseg=nperseg, detrend="constant")
    _, py = welch(y_urad[run], fs=fs, nperseg=nperseg, detrend="constant")
    return ErrorSpectrum(f, px, py, fs, n, nperseg, corner_frequency(f, px),
                         corner_frequency(f, py), corner_frequency(f, px + py))


def _log_bins(f: np.ndarray, p: np.ndarray, per_decade: int = 10):
    """PSD averaged in log-spaced frequency bins (DC dropped): (centre freqs, mean PSD)."""
    keep = (f > 0) & np.isfinite(p) & (p > 0)
    f, p = f[keep], p[keep]
    if f.size < 4:
        return f, p, np.ones(f.size, int)
    lo = math.floor(math.log10(f[0]) * per_decade)
    hi = math.ceil(math.log10(f[-1]) * per_decade) + 2
    edges = 10.0 ** (np.arange(lo, hi) / per_decade)
    idx = np.digitize(f, edges)
    fc, pc, nc = [], [], []
    for k in np.unique(idx):
        sel = idx == k
        fc.append(math.exp(np.mean(np.log(f[sel]))))
        pc.append(float(np.mean(p[sel])))
        nc.append(int(sel.sum()))
    return np.array(fc), np.array(pc), np.array(nc)


def _knee(q: np.ndarray, logf: np.ndarray) -> np.ndarray:
    """log of P₀ / (1 + (f/f_c)^s) / (1 + (f_l/f)^r): the knee with an optional low-f rise."""
    logp0, logfc, s, logfl, r = q
    return (logp0 - np.logaddexp(0.0, s * (logf - logfc))
            - np.logaddexp(0.0, r * (logfl - logf)))


def corner_frequency(freq_hz: np.ndarray, psd: np.ndarray) -> float | None:
    """−3 dB corner f_c (Hz) of a PSD that rolls off, by the knee fit above; None if none."""
    fb, pb, nb = _log_bins(np.asarray(freq_hz, float), np.asarray(psd, float))
    if fb.size < 6:
        return None
    k = int(np.argmax(pb))
    if pb[k:].min() > pb[k] / 4:
        return None  # never falls 6 dB: no corner in the band
    deep = np.flatnonzero((pb[k:] < pb[k] / DEPTH) | (fb[k:] > ALIAS * fb[-1]))
    stop = k + int(deep[0]) + 1 if deep.size else pb.size
    logf, logp, w = np.log(fb[:stop]), np.log(pb[:stop]), np.sqrt(nb[:stop])
    if stop < 6:
        return None
    below = np.flatnonzero(pb[k:stop] < pb[k] / 2)
    guess = math.log(fb[k + below[0]] if below.size else fb[(k + stop) // 2])
    lo_f, hi_f = math.log(fb[0]), math.log(fb[-1])
    # the low-frequency rise is fitted only when the spectrum does rise (>= 6 dB) to its peak
    rise = pb[:k + 1].min() < pb[k] / 4
    start = [logp[k], guess, 2.0, lo_f - 3.0 + 2.0 * rise, float(rise)]
    bounds = ([-np.inf, lo_f - 1.0, 0.5, lo_f - 3.0 - 1e-9, 0.0],
              [np.inf, hi_f, 12.0, hi_f if rise else lo_f - 3.0, 6.0 if rise else 1e-9])
    try:
        sol = least_squares(lambda q: w * (logp - _knee(q, logf)), start, bounds=bounds)
    except (ValueError, FloatingPointError):
        return None
    fc, p0 = math.exp(sol.x[1]), math.exp(sol.x[0])
    if not sol.success or not (fb[k] <= fc <= 0.5 * fb[-1]):
        return None
    if not (pb[fb > fc] < p0 / 4).any():
        return None
    return fc
