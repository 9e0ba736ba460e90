"""Fusion: one representation from several modalities. One file per method family."""

from intermodal.fusion.base import Fusion
from intermodal.fusion.concat import ConcatFusion
from intermodal.fusion.late import LateFusion

__all__ = ["ConcatFusion", "Fusion", "LateFusion"]
