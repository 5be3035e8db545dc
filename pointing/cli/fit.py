"""``pointing fit``: fit a pointing model to a run file."""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC

from pointing.cli.options import count
from pointing.cli.registry import arguments, command
from pointing.config.paths import writable_file

#: highest harmonic order --auto searches (FAUTO's is 8)
MAX_AUTO_ORDER = 8


def _terms(text: str) -> list[str]:
    return [t for t in text.replace(" ", ",").split(",") if t]


def _fixes(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in _terms(text):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE (arcsec), got {item!r}")
        key = name.strip().upper()
        if key in out:
            raise argparse.ArgumentTypeError(f"{name} is given twice")
        try:
            out[key] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number") from None
        if not math.isfinite(out[key]):
            raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a finite number")
    return out


def _strict(obj):
    """JSON-safe copy: non-finite floats become null (``--json`` prints strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def _mask(text: str) -> list[int]:
    try:
        return [int(t) for t in _terms(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 1-based observation numbers separated by commas, got {text!r}") from None


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="pointing run: TPOINT input file (.dat) or RTS2 gpoint file")
    p.add_argument("--terms", type=_terms, default=None,
                   help="comma-separated TPOINT terms (default IA,IE,CA,NPAE,AN,AW,TF,TX; "
                        "IH,ID,CH,NP,MA,ME for an equatorial run)")
    p.add_argument("--fix", type=_fixes, default=None, metavar="NAME=VALUE,...",
                   help="hold terms fixed at these values (arcsec)")
    p.add_argument("--mask", type=_mask, default=None, metavar="N,...",
                   help="leave out these observations (1-based, file order)")
    p.add_argument("--unweighted", action="store_true",
                   help="ignore per-observation uncertainties")
    auto = p.add_argument_group("automatic model building")
    auto.add_argument("--auto", action="store_true",
                      help="choose the terms automatically (judged by leave-one-out prediction)")
    auto.add_argument("--max-order", type=count(1, MAX_AUTO_ORDER), default=None, metavar="N",
                      help=f"highest harmonic multiple in A and E (H and D on an "
                           f"equatorial run) for --auto "
                           f"(1..{MAX_AUTO_ORDER}, default 3)")
    auto.add_argument("--product-order", type=count(0, MAX_AUTO_ORDER), default=None,
                      metavar="N",
                      help="highest multiple in products of two harmonics for --auto "
                           "(0..--max-order, default min(--max-order, 3); FAUTO's reach 8)")
    auto.add_argument("--auto-mode", choices=("parsimony", "prediction", "cv"),
                      default=None,
                      help="parsimony: guard against spurious terms (default); prediction: "
                           "take every term that improves leave-one-out RMS, like FAUTO; "
                           "cv: inner K-fold CV with the one-standard-error rule")
    auto.add_argument("--max-terms", type=count(1, 60), default=None, metavar="N",
                      help="upper bound on the number of terms for --auto")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--model-out", metavar="PATH", help="write the project's JSON model file")
    p.add_argument("--mod-out", metavar="PATH", help="write a TPOINT .mod file")
    p.add_argument("--plot", metavar="PATH",
                   help="write the residual figure (Fig. 4 style and diagnostics) as PNG")


@command("fit", "fit a TPOINT-style pointing model to a run (TPOINT .dat or RTS2 gpoint)")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    # The fit's matrices are tall and narrow (2N × a few dozen): a threaded BLAS spends
    # more on its threads than on the work, 3.5× slower for --auto on 10⁴ observations
    # on a loaded 2-core machine (31 s against 8.9 s), so the command uses one thread.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from pointing.model.fit import DEFAULT_TERMS, fit
    from pointing.model.formats import read_observations

    for option, path in (("--model-out", args.model_out), ("--mod-out", args.mod_out),
                         ("--plot", args.plot)):
        writable_file(path, option)  # before the fit: a bad path costs nothing
    _check_auto_options(args)
    obs = read_observations(args.file)
    info = {"provenance": {"source": str(args.file), "command": "pointing fit"}}
    auto = None
    if args.auto:
        from pointing.model.auto import auto_fit

        if args.mask:
            obs = obs.with_used(obs.used & _keep(len(obs), args.mask))
        compare = {"--terms": args.terms} if args.terms else None
        auto = auto_fit(obs, max_order=args.max_order, mode=args.auto_mode,
                        max_terms=args.max_terms, compare=compare,
                        product_order=args.product_order)
        result = auto.fit
        info["provenance"]["auto"] = {"mode": args.auto_mode, "max_order": args.max_order,
                                      "product_order": args.product_order}
        result = fit(obs.with_used(result.used), list(auto.selected_terms), info=info,
                     weighted=not args.unweighted)
    else:
        if args.terms is not None and not args.terms:
            from pointing.errors import FitError

            raise FitError("--terms is empty: give at least one term, or leave the option "
                           "out for the default terms")
        terms = DEFAULT_TERMS if args.terms is None else args.terms
        result = fit(obs, terms, fix=args.fix, mask=args.mask,
                     weighted=not args.unweighted, info=info)
    written = {}
    if args.model_out:
        written["model"] = str(_stamp(result.model).save(args.model_out))
    if args.mod_out:
        from pointing.model.formats import write_mod

        written["mod"] = str(write_mod(args.mod_out, result.model))
    if args.plot:
        from pointing.plots.fit import plot_fit

        plot_fit(result, args.plot)
        written["plot"] = str(args.plot)
    if args.json:
        out = auto.to_dict() if auto else result.to_dict()
        out["files"] = written
        print(json.dumps(_strict(out), indent=2, allow_nan=False))
    else:
        print(auto.summary() if auto else result.summary())
        for kind, path in written.items():
            print(f"wrote {kind}: {path}")
    return 0


def _check_auto_options(args: argparse.Namespace) -> None:
    """Options of --auto that cannot apply: one line naming them (ConfigError)."""
    from pointing.errors import ConfigError

    if not args.auto:  # defaults are None so that a given option can be told apart
        for option, value in (("--max-order", args.max_order),
                              ("--product-order", args.product_order),
                              ("--auto-mode", args.auto_mode), ("--max-terms", args.max_terms)):
            if value is not None:
                raise ConfigError(f"{option} applies to --auto only")
        return
    if args.fix:
        raise ConfigError("--fix does not apply to --auto (it chooses every term itself)")
    args.max_order = 3 if args.max_order is None else args.max_order
    args.auto_mode = args.auto_mode or "parsimony"
    if args.product_order is not None and args.product_order > args.max_order:
        raise ConfigError(f"--product-order {args.product_order} exceeds --max-order "
                          f"{args.max_order}: products reach at most the highest multiple")


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

