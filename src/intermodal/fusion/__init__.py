"""Fusion: one representation from several modalities. One file per method family.

Every class is built as ``Cls(input_dims, output_dim, **options)`` and called on a modality dict
of ``(B, d_m)`` features (some also take sequences), returning ``(B, output_dim)``.
"""

from intermodal.fusion.additive import AdditiveFusion
from intermodal.fusion.attention import CrossModalAttentionFusion
from intermodal.fusion.base import Fusion
from intermodal.fusion.bilinear import BilinearFusion
from intermodal.fusion.concat import ConcatFusion
from intermodal.fusion.gated import GatedFusion
from intermodal.fusion.late import LateFusion
from intermodal.fusion.low_rank import LowRankFusion
from intermodal.fusion.multiplicative import MultiplicativeFusion, MultiplicativeInteractions
from intermodal.fusion.nonlinear import NonlinearFusion
from intermodal.fusion.polynomial import PolynomialFusion
from intermodal.fusion.search import FusionSearch
from intermodal.fusion.shift import ModalityShiftFusion
from intermodal.fusion.tensor import TensorFusion
from intermodal.fusion.very_early import VeryEarlyFusion

__all__ = [
    "AdditiveFusion",
    "BilinearFusion",
    "ConcatFusion",
    "CrossModalAttentionFusion",
    "Fusion",
    "FusionSearch",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
    "ModalityShiftFusion",
    "MultiplicativeFusion",
    "MultiplicativeInteractions",
    "NonlinearFusion",
    "PolynomialFusion",
    "TensorFusion",
    "VeryEarlyFusion",
]
