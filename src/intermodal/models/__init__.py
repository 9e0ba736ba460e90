"""Model compositions of encoders, fusion and heads."""

from intermodal.models.classifier import FusionClassifier, UnimodalClassifier

__all__ = ["FusionClassifier", "UnimodalClassifier"]
