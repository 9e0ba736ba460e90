"""Model compositions of encoders, fusion and heads."""

from intermodal.models.classifier import FusionClassifier, UnimodalClassifier
from intermodal.models.pipeline import Pipeline, bare_model
from intermodal.models.protocols import (
    EncodeThenPredict,
    FitsItself,
    Predictor,
    PreparesData,
    TrainsItself,
)
from intermodal.models.target_scale import EncodedTargetScale, TargetScale, TargetStatistics
from intermodal.models.two_tower import CCAProjection, ProbeClassifier, TwoTower

__all__ = [
    "CCAProjection",
    "EncodeThenPredict",
    "EncodedTargetScale",
    "FitsItself",
    "FusionClassifier",
    "Pipeline",
    "Predictor",
    "PreparesData",
    "ProbeClassifier",
    "TargetScale",
    "TargetStatistics",
    "TrainsItself",
    "TwoTower",
    "UnimodalClassifier",
    "bare_model",
]
