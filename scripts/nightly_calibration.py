#!/usr/bin/env python3
"""Nightly calibration for cron or systemd: ``pointing nightly`` with plain log lines.

Exit status 0 when the night completed and passed go/no-go, 1 when it failed or
did not pass, 2 for a configuration error.  Example crontab line::

    0 21 * * * /opt/ogs/.venv/bin/python /opt/ogs/scripts/nightly_calibration.py \\
        --station weihai --backend mystation.hw:backend --out /data/nights/$(date +\\%F)
"""

from __future__ import annotations

import sys

from pointing.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["nightly", *sys.argv[1:]]))
