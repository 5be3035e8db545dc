"""The outcome of an automatic model: the fit, the choice, the set-aside stars, the log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pointing.model.fit import FitResult


@dataclass(frozen=True)
class AutoResult:
    """The outcome of :func:`auto_fit`.

    Attributes
    ----------
    fit : FitResult
        The final fit of the selected terms, rejected observations masked.
    selected_terms : tuple of str
    cv_rms : float
        Leave-one-out RMS of the final model (arcsec).
    kfold_rms : float
        k-fold cross-validated RMS (arcsec), refitting the rigorous model.
    rejected : tuple of dict
        ``{"index", "stage", "reason"}`` per set-aside observation (1-based).
    steps : tuple of dict
        The selection log: ``{"action", "term", "loo_rms_arcsec", "bic", ...}``.
    refused : dict of str to str
        Candidates the coverage could not separate, with the reason.
    comparison : tuple of dict
        Rows comparing the automatic model with user term lists on the same
        observations: ``{"label", "terms", "n_terms", "sky_rms_arcsec",
        "loo_rms_arcsec", "kfold_rms_arcsec"}``.
    """

    fit: FitResult
    selected_terms: tuple[str, ...]
    cv_rms: float
    kfold_rms: float
    rejected: tuple[dict[str, Any], ...]
    steps: tuple[dict[str, Any], ...]
    refused: dict[str, str] = field(default_factory=dict)
    comparison: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fit's JSON plus ``selected_terms``, ``cv_rms_arcsec``, ``rejected``."""
        out = self.fit.to_dict()
        out.update({
            "selected_terms": list(self.selected_terms),
            "cv_rms_arcsec": self.cv_rms,
            "kfold_rms_arcsec": self.kfold_rms,
            "rejected": list(self.rejected),
            "selection_steps": list(self.steps),
            "refused_terms": dict(self.refused),
            "comparison": list(self.comparison),
        })
        return out

    def summary(self) -> str:
        lines = [self.fit.summary(), "",
                 f"automatic model: {len(self.selected_terms)} terms, leave-one-out "
                 f"{self.cv_rms:.3f}″, k-fold {self.kfold_rms:.3f}″"]
        for r in self.rejected:
            lines.append(f"set aside observation {r['index']} ({r['stage']}): {r['reason']}")
        for st in self.steps:
            if st.get("action") == "keep":
                lines.append(f"kept observation {st['index']}: {st['reason']}")
        if self.comparison:
            lines.append("")
            lines.append(f"  {'model':<22s}{'terms':>6s}{'RMS″':>9s}{'LOO″':>9s}{'k-fold″':>9s}")
            for row in self.comparison:
                lines.append(f"  {row['label']:<22s}{row['n_terms']:6d}"
                             f"{row['sky_rms_arcsec']:9.3f}{row['loo_rms_arcsec']:9.3f}"
                             f"{row['kfold_rms_arcsec']:9.3f}")
        return "\n".join(lines)

