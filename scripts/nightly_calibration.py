#!/usr/bin/env python3
"""Nightly calibration for cron or systemd: ``pointing nightly`` with plain log lines.

Run it with the Python that has ogs-pointing installed (the venv of the set-up)::

    .venv/bin/python scripts/nightly_calibration.py --station weihai \\
        --backend mystation.hw:backend --out /data/nights/2026-12-01

Exit status 0 when the night completed and its go/no-go verdict is PASS, 1 when
the verdict is FAIL or the night failed (the report says why), 2 for a bad
option, station file or output folder, daylight, another night running on the
same folder or log, or a damaged log.  Piped to a file (as cron runs it) it
writes one log line per observation and no progress bars.  Example crontab line::

    0 21 * * * /opt/ogs/.venv/bin/python /opt/ogs/scripts/nightly_calibration.py \\
        --station weihai --backend mystation.hw:backend --out /data/nights/$(date +\\%F)
"""

from __future__ import annotations

import sys

try:
    from pointing.cli import main
except ModuleNotFoundError as exc:  # run by a Python without the toolkit: say how to run it
    print(f"{sys.argv[0]}: this Python ({sys.executable}) cannot import {exc.name!r}: run "
          "the script with the Python that has ogs-pointing installed, e.g. "
          f".venv/bin/python {sys.argv[0]} ...", file=sys.stderr)
    raise SystemExit(2) from None

if __name__ == "__main__":
    raise SystemExit(main(["nightly", *sys.argv[1:]]))
