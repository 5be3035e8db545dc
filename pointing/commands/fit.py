"""``pointing fit``: fit a pointing model to a run file."""

from __future__ import annotations

import argparse
import json
from datetime import UTC

from pointing.cli import arguments, command


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
    result = fit(obs, args.terms or DEFAULT_TERMS, fix=args.fix, mask=args.mask,
                 weighted=not args.unweighted,
                 info={"provenance": {"source": str(args.file), "command": "pointing fit"}})
    written = {}
    if args.model_out:
        written["model"] = str(_stamp(result.model).save(args.model_out))
    if args.mod_out:
        from pointing.model.formats import write_mod

        written["mod"] = str(write_mod(args.mod_out, result.model))
    if args.plot:
        from pointing.plots import plot_fit

        written["plot"] = str(plot_fit(result, args.plot))
    if args.json:
        out = result.to_dict()
        out["files"] = written
        print(json.dumps(out, indent=2, allow_nan=True))
    else:
        print(result.summary())
        for kind, path in written.items():
            print(f"wrote {kind}: {path}")
    return 0


def _stamp(model):
    """Add the creation time (UTC) to a model's metadata."""
    from datetime import datetime

    info = model.info
    info.setdefault("created_utc", datetime.now(UTC).isoformat(timespec="seconds"))
    return model.replace(info=info)

