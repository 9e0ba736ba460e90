"""Model compositions of encoders, fusion and heads."""

from intermodal.models.classifier import FusionClassifier, UnimodalClassifier
from intermodal.models.two_tower import CCAProjection, ProbeClassifier, TwoTower

__all__ = ["CCAProjection", "FusionClassifier", "ProbeClassifier", "TwoTower", "UnimodalClassifier"]
