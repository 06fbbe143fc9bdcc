"""Linear classifiers on frozen features: ``linear-svm`` and ``logreg`` (Razavian, DeCAF),
the DeCAF dropout variants, ``layer-probe`` (Zeiler & Fergus) and ``linear-svm-aug``
(Razavian's CNNaug), all fitted by one batched torch solver (``fastlinear``) or scikit-learn."""

from __future__ import annotations

from benchbase import hookimpl
from benchbase_linear import augment, dropout, linear, probe


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    for family in (linear, dropout, probe, augment):
        family.register_strategies(register)
