"""Training engine (PyTorch Lightning): task and data modules and ``fit``."""

from intermodal.training.fit import FitResult, fit
from intermodal.training.module import ClassificationTask, MultimodalDataModule

__all__ = ["ClassificationTask", "FitResult", "MultimodalDataModule", "fit"]
