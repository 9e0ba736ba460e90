"""Classical baselines behind the model contracts: linear models (scikit-learn) and
gradient-boosted trees (LightGBM) on standardized feature vectors of the modalities.

They are not trained by gradient descent: :func:`intermodal.training.fit` hands them the splits
(they follow :class:`~intermodal.models.FitsItself`) and they choose their settings on the
validation split. They predict with ``model(inputs, mask) -> (B, K)``, save and load without
pickle, and run in the benchmark as the ``classical`` family (``linear``, ``gbdt`` and their
per-modality runs ``linear[MODALITY]``, ``gbdt[MODALITY]``).
"""

from intermodal.baselines.base import ClassicalBaseline
from intermodal.baselines.features import FeatureVectors, build_features, feature_reason
from intermodal.baselines.gbdt import GradientBoostedTrees, build_gbdt, gbdt_reason
from intermodal.baselines.linear import ALPHA_GRID, C_GRID, LinearBaseline, build_linear

__all__ = [
    "ALPHA_GRID",
    "C_GRID",
    "ClassicalBaseline",
    "FeatureVectors",
    "GradientBoostedTrees",
    "LinearBaseline",
    "build_features",
    "build_gbdt",
    "build_linear",
    "feature_reason",
    "gbdt_reason",
]
