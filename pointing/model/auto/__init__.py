"""Automatic choice of pointing-model terms, judged by how well it predicts unseen stars.

Satellite tracking is prediction: a term earns its place only if the model
then points better at stars it was not fitted to.  Nothing is silently
dropped: every set-aside observation is listed with the stage and the numbers
that decided it.

One concept per module:

* :mod:`.driver`: :func:`auto_fit`, the four stages in order;
* :mod:`.pool`: the candidate terms (geometric, harmonics in A and E, or in H and D
  on an equatorial run, and their products);
* :mod:`.guarded`: guarded forward selection (BIC, t, independence, LOO gain);
* :mod:`.cv`: mode "cv", selection judged by inner K-fold cross-validation;
* :mod:`.outliers`: the robust start and the studentized rejection;
* :mod:`.validation` and :mod:`.nested`: k-fold RMS of a term list, nested CV
  of the whole procedure;
* :mod:`.result`: :class:`AutoResult`.
"""

from pointing.model.auto.driver import MODES, auto_fit
from pointing.model.auto.nested import nested_cv_rms
from pointing.model.auto.pool import (
    BASE_TERMS,
    GEOMETRIC_CANDIDATES,
    MAX_ORDER,
    candidate_pool,
    complexity,
    equatorial_pool,
)
from pointing.model.auto.result import AutoResult
from pointing.model.auto.validation import kfold_rms

__all__ = ["BASE_TERMS", "GEOMETRIC_CANDIDATES", "MAX_ORDER", "MODES", "AutoResult",
           "auto_fit", "candidate_pool", "complexity", "equatorial_pool", "kfold_rms",
           "nested_cv_rms"]
