"""``pointing key FILE.toml``: finite-key decoy-state analysis of a measured pass."""

from __future__ import annotations

import argparse
import json

from pointing.cli.registry import arguments, command


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.toml",
                   help="the pass's intensities, measured gains and QBERs (see pointing.link."
                        "keyfile)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


@command("key", "secure key of a decoy-state BB84 pass (vacuum + weak decoy, finite key): "
         "key bits, rate and every bound; exit status 1 when no key is possible")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    from pointing.link.decoy import analyse_key
    from pointing.link.keyfile import load_key_input

    result = analyse_key(load_key_input(args.file))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0 if result.key_bits > 0 else 1
    inp = result.input
    print(f"secure key: {result.key_bits} bits in {inp.duration_s:g} s = "
          f"{result.key_rate_bps:.4g} bit/s, {result.r_pulse:.4g} bit/pulse "
          f"({inp.n_pulses:.4g} pulses, {result.n_sigma:.2f} sigma at epsilon "
          f"{inp.epsilon:g})")
    print(f"error correction: {result.ec_bits:.6g} bits ({result.ec_source})")
    print(f"{'basis':6s}{'Y1_L':>11s}{'Q1_L':>11s}{'e1_U':>9s}{'theta':>9s}"
          f"{'e1_ph':>9s}{'1-h(e1)':>9s}{'I_ec':>11s}{'R/pulse':>11s}{'bits':>10s}")
    for k in (result.z, result.x):
        b = k.bounds
        print(f"{k.basis:6s}{b.y1_lower:11.4g}{b.q1_lower:11.4g}{k.e1_upper:9.4f}"
              f"{k.theta:9.4f}{k.e1_phase_upper:9.4f}{k.privacy_factor:9.4f}"
              f"{k.ec_bits / b.pulses_mu:11.4g}{k.r_signal_pulse:11.4g}{k.key_bits:10.0f}")
    print("(e1_U: single-photon bit-error bound of the other basis, which samples this "
          "basis's phase errors; R per signal pulse of the basis)")
    for note in result.notes:
        print(f"note: {note}")
    return 0 if result.key_bits > 0 else 1
