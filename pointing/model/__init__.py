"""The pointing-model engine: terms, application, fitting and file formats.

This package imports numpy and scipy only: no astropy, no cameras, no
hardware.  Angles are radians in and out; coefficients are arcseconds.
"""

from pointing.model.model import PointingModel
from pointing.model.terms import Term, parse_term, parse_terms

__all__ = ["PointingModel", "Term", "parse_term", "parse_terms"]
