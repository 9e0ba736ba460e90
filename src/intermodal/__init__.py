"""intermodal: multimodal representation learning (fusion, coordination, fission, analysis)."""

from intermodal.data import MultimodalDataset, load_dataset, load_mfeat
from intermodal.saving import load_model, register_module, save_model

__version__ = "0.1.0"

__all__ = [
    "MultimodalDataset",
    "__version__",
    "load_dataset",
    "load_mfeat",
    "load_model",
    "register_module",
    "save_model",
]
