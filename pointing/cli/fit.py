"""``pointing fit``: fit a pointing model to a run file."""

from __future__ import annotations

import argparse
import json
from datetime import UTC

from pointing.cli.main import arguments, command


def _terms(text: str) -> list[str]:
    return [t for t in text.replace(" ", ",").split(",") if t]


def _fixes(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in _terms(text):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE (arcsec), got {item!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number") from None
    return out


def _mask(text: str) -> list[int]:
    try:
        return [int(t) for t in _terms(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 1-based observation numbers separated by commas, got {text!r}") from None


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="pointing run: TPOINT input file (.dat) or RTS2 gpoint file")
    p.add_argument("--terms", type=_terms, default=None,
                   help="comma-separated TPOINT terms (default IA,IE,CA,NPAE,AN,AW,TF,TX)")
    p.add_argument("--fix", type=_fixes, default=None, metavar="NAME=VALUE,...",
                   help="hold terms fixed at these values (arcsec)")
    p.add_argument("--mask", type=_mask, default=None, metavar="N,...",
                   help="leave out these observations (1-based, file order)")
    p.add_argument("--unweighted", action="store_true",
                   help="ignore per-observation uncertainties")
    auto = p.add_argument_group("automatic model building")
    auto.add_argument("--auto", action="store_true",
                      help="choose the terms automatically (judged by leave-one-out prediction)")
    auto.add_argument("--max-order", type=int, default=3, metavar="N",
                      help="highest harmonic multiple in A and E for --auto (default 3)")
    auto.add_argument("--auto-mode", choices=("parsimony", "prediction"), default="parsimony",
                      help="parsimony: guard against spurious terms (default); prediction: "
                           "take every term that improves leave-one-out RMS, like FAUTO")
    auto.add_argument("--max-terms", type=int, default=None, metavar="N",
                      help="upper bound on the number of terms for --auto")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--model-out", metavar="PATH", help="write the project's JSON model file")
    p.add_argument("--mod-out", metavar="PATH", help="write a TPOINT .mod file")
    p.add_argument("--plot", metavar="PATH",
                   help="write the residual figure (Fig. 4 style and diagnostics) as PNG")


@command("fit", "fit a TPOINT-style pointing model to a run (TPOINT .dat or RTS2 gpoint)")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    from pointing.model.fit import DEFAULT_TERMS, fit
    from pointing.model.formats import read_observations

    obs = read_observations(args.file)
    info = {"provenance": {"source": str(args.file), "command": "pointing fit"}}
    auto = None
    if args.auto:
        from pointing.model.auto import auto_fit

        if args.mask:
            obs = obs.with_used(obs.used & _keep(len(obs), args.mask))
        compare = {"--terms": args.terms} if args.terms else None
        auto = auto_fit(obs, max_order=args.max_order, mode=args.auto_mode,
                        max_terms=args.max_terms, compare=compare)
        result = auto.fit
        info["provenance"]["auto"] = {"mode": args.auto_mode, "max_order": args.max_order}
        result = fit(obs.with_used(result.used), list(auto.selected_terms), info=info,
                     weighted=not args.unweighted)
    else:
        result = fit(obs, args.terms or DEFAULT_TERMS, fix=args.fix, mask=args.mask,
                     weighted=not args.unweighted, info=info)
    written = {}
    if args.model_out:
        written["model"] = str(_stamp(result.model).save(args.model_out))
    if args.mod_out:
        from pointing.model.formats import write_mod

        written["mod"] = str(write_mod(args.mod_out, result.model))
    if args.plot:
        from pointing.plots.fit import plot_fit

        written["plot"] = str(plot_fit(result, args.plot))
    if args.json:
        out = auto.to_dict() if auto else result.to_dict()
        out["files"] = written
        print(json.dumps(out, indent=2, allow_nan=True))
    else:
        print(auto.summary() if auto else result.summary())
        for kind, path in written.items():
            print(f"wrote {kind}: {path}")
    return 0


def _keep(n: int, mask: list[int]):
    import numpy as np

    from pointing.errors import FitError

    keep = np.ones(n, bool)
    for k in mask:
        if not 1 <= k <= n:
            raise FitError(f"cannot mask observation {k}: the run has observations 1..{n}")
        keep[k - 1] = False
    return keep


def _stamp(model):
    """Add the creation time (UTC) to a model's metadata."""
    from datetime import datetime

    info = model.info
    info.setdefault("created_utc", datetime.now(UTC).isoformat(timespec="seconds"))
    return model.replace(info=info)

