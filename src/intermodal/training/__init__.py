"""Training: ``fit`` (a lean single-device loop, or PyTorch Lightning for DDP) and the run context.

Only :mod:`intermodal.training.module` imports Lightning, and only when ``fit`` needs it.
"""

from intermodal.training.context import RunContext, auto_threads, resolve_device, thread_limit
from intermodal.training.fit import FitResult, fit, make_optimizer, seed_everything
from intermodal.training.objective import Objective

__all__ = [
    "FitResult",
    "Objective",
    "RunContext",
    "auto_threads",
    "fit",
    "make_optimizer",
    "resolve_device",
    "seed_everything",
    "thread_limit",
]
