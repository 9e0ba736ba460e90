"""Coordination: separate but linked representations of each modality."""

from intermodal.coordination.cca import CCA, MultiviewCCA, canonical_correlations
from intermodal.coordination.contrastive import (
    ClipLoss,
    HingeLoss,
    NTXentLoss,
    SigLipLoss,
    SupConLoss,
    clip_loss,
    gather_with_grad,
    hinge_loss,
    ntxent_loss,
    siglip_loss,
    supcon_loss,
)
from intermodal.coordination.deep_cca import DCCA, DCCAE, CorrelationResult, DCCALoss, dcca_loss
from intermodal.coordination.gated import GatedCoordination
from intermodal.coordination.kernel_cca import KernelCCA
from intermodal.coordination.retrieval import (
    analogy,
    class_prototypes,
    retrieval_metrics,
    zero_shot_predict,
)
from intermodal.coordination.similarity import (
    cosine_similarity,
    dot_similarity,
    polynomial_kernel,
    rbf_kernel,
)

__all__ = [
    "CCA",
    "DCCA",
    "DCCAE",
    "ClipLoss",
    "CorrelationResult",
    "DCCALoss",
    "GatedCoordination",
    "HingeLoss",
    "KernelCCA",
    "MultiviewCCA",
    "NTXentLoss",
    "SigLipLoss",
    "SupConLoss",
    "analogy",
    "canonical_correlations",
    "class_prototypes",
    "clip_loss",
    "cosine_similarity",
    "dcca_loss",
    "dot_similarity",
    "gather_with_grad",
    "hinge_loss",
    "ntxent_loss",
    "polynomial_kernel",
    "rbf_kernel",
    "retrieval_metrics",
    "siglip_loss",
    "supcon_loss",
    "zero_shot_predict",
]
