"""Analysis: what a model does with the modalities, and what interactions the data holds."""

from intermodal.analysis.complexity import ModelCost, model_cost
from intermodal.analysis.emap import EmapResult, additive_projection, emap, emap_projection
from intermodal.analysis.interactions import TYPES, InteractionTypes, interaction_types
from intermodal.analysis.pid import (
    SAMPLES_PER_CELL,
    PIDResult,
    clusters_for,
    discretize,
    pid,
    pid_from_distribution,
)
from intermodal.analysis.profile import (
    Profile,
    discrete_target,
    linear_probe_accuracy,
    probe_accuracy,
    profile,
)
from intermodal.analysis.robustness import (
    corrupt,
    effective_robustness,
    relative_robustness,
    robustness_curve,
)

__all__ = [
    "SAMPLES_PER_CELL",
    "TYPES",
    "EmapResult",
    "InteractionTypes",
    "ModelCost",
    "PIDResult",
    "Profile",
    "additive_projection",
    "clusters_for",
    "corrupt",
    "discrete_target",
    "discretize",
    "effective_robustness",
    "emap",
    "emap_projection",
    "interaction_types",
    "linear_probe_accuracy",
    "model_cost",
    "pid",
    "pid_from_distribution",
    "probe_accuracy",
    "profile",
    "relative_robustness",
    "robustness_curve",
]
