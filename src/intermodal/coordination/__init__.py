"""Coordination: separate but linked representations of each modality."""

from intermodal.coordination.cca import canonical_correlations

__all__ = ["canonical_correlations"]
