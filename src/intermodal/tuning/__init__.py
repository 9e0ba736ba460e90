"""Equal tuning budgets: search spaces, trials with Optuna, pruning, robust selection and the
folds of small-data protocols.

The protocol a benchmark follows:

1. **Tune on the first seed's training and validation data.** With fewer than
   :data:`~intermodal.tuning.folds.SMALL_DATA` samples there, they are pooled and cut into
   :data:`~intermodal.tuning.folds.CV_FOLDS` stratified folds (by group where the data set has
   a ``group`` column), each with an inner validation part for early stopping and standardized
   on its own training part, and a trial scores the mean over the folds' held-out parts;
   otherwise the fixed validation part scores it (:func:`tuning_splits`). The test part is never
   read while tuning.
2. **Equal budget.** Every method, baselines and unimodal models included, gets the same number
   of trials. Trial 0 is the method's defaults (today's setting); Optuna's seeded TPE sampler
   proposes the rest, in rounds whose trials with equal architectural settings train together.
   A hopeless trial is pruned: one whose first-fold validation curve is, after a warm-up of
   ``patience`` epochs, below the lower quartile of the finished trials' curves. A
   discrete space with fewer settings than the budget is tried exhaustively and says so.
3. **Robust choice.** The defaults are kept unless the best trial beats them by more than one
   standard error of the paired difference (over folds, or over validation samples for one
   split): :mod:`intermodal.tuning.selection`.
4. **Train the chosen setting on every seed** (``result.context(seed_context)``); the test part
   is evaluated once per (method, seed).

Under a K-fold outer protocol (:func:`cv_splits`: each sample tested once per seed, an inner
validation part in each fold for early stopping), tuning reads the first seed's first outer
fold: ``tuning_splits(cv_splits(data, K, seed, standardized=False)[0], seed)``.

The same seed gives the same trials and the same choice.
"""

from intermodal.tuning.folds import (
    CV_FOLDS,
    SMALL_DATA,
    check_folds,
    cv_splits,
    fold_indices,
    pooled,
    restrict,
    tuning_splits,
)
from intermodal.tuning.selection import Selection, fold_difference, one_standard_error
from intermodal.tuning.space import (
    Choice,
    Float,
    Int,
    SearchSpace,
    apply_params,
    override_space,
    override_spaces,
    training_space,
)
from intermodal.tuning.trials import train_trials
from intermodal.tuning.tuner import PRUNERS, TrialRecord, TuningResult, tune

__all__ = [
    "CV_FOLDS",
    "PRUNERS",
    "SMALL_DATA",
    "Choice",
    "Float",
    "Int",
    "SearchSpace",
    "Selection",
    "TrialRecord",
    "TuningResult",
    "apply_params",
    "check_folds",
    "cv_splits",
    "fold_difference",
    "fold_indices",
    "one_standard_error",
    "override_space",
    "override_spaces",
    "pooled",
    "restrict",
    "train_trials",
    "training_space",
    "tune",
    "tuning_splits",
]
