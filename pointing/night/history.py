"""A station's nights from its log: coefficients and verification RMS over time."""

from __future__ import annotations

from typing import Any

from pointing.night.log import StationLog

__all__ = ["station_history"]


def station_history(db: StationLog, station: str) -> list[dict[str, Any]]:
    """One row per night: id, start, status, simulated, fitted terms (arcsec), verification RMS."""
    models = {m["night_id"]: m["model"] for m in db.models(station)}
    rows = []
    for n in db.nights(station):
        summary = n["summary"] or {}
        model = models.get(n["id"])
        terms = {t["name"]: t["value_arcsec"] for t in model["terms"]} if model else {}
        ver = summary.get("verification") or {}
        rows.append({"night_id": n["id"], "started_utc": n["started_utc"],
                     "status": n["status"], "simulated": n["simulated"], "terms": terms,
                     "verification_rms_urad": ver.get("rms_urad"),
                     "n_model_stars": summary.get("n_model_stars")})
    return rows
