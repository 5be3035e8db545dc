"""Figures, one module per subject.

Every function takes its result first, ``path=None`` and ``ax=None``, and
returns the matplotlib Figure (saved as PNG when *path* is given).  No module
here switches matplotlib's backend; the command line picks a non-interactive
one at its entry point.
"""
