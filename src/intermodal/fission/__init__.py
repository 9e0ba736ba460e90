"""Fission: more representations than modalities (shared and private factors)."""

from intermodal.fission.autoencoder import BimodalAutoencoder
from intermodal.fission.factorized import (
    FactorizedModel,
    SharedPrivateModel,
    mmd,
    orthogonality_loss,
)

__all__ = [
    "BimodalAutoencoder",
    "FactorizedModel",
    "SharedPrivateModel",
    "mmd",
    "orthogonality_loss",
]
