"""Fusion: one representation from several modalities. One file per method family.

Every class is built as ``Cls(input_dims, output_dim, **options)`` and called as
``fusion(features, mask=None)`` on a modality dict of ``(B, d_m)`` features (some also take
sequences) and an optional presence mask ``{m: BoolTensor (B,)}``, returning ``(B, output_dim)``.
Each class's ``absent`` attribute says what it does with an absent modality.
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
from intermodal.fusion.product_of_experts import ProductOfExpertsFusion
from intermodal.fusion.shift import ModalityShiftFusion
from intermodal.fusion.simbamm import SimBaMMFusion
from intermodal.fusion.tensor import TensorFusion
from intermodal.fusion.very_early import VeryEarlyFusion

__all__ = [
    "AdditiveFusion",
    "BilinearFusion",
    "ConcatFusion",
    "CrossModalAttentionFusion",
    "Fusion",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
    "ModalityShiftFusion",
    "MultiplicativeFusion",
    "MultiplicativeInteractions",
    "NonlinearFusion",
    "PolynomialFusion",
    "ProductOfExpertsFusion",
    "SimBaMMFusion",
    "TensorFusion",
    "VeryEarlyFusion",
]
