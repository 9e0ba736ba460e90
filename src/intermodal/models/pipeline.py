"""A model that reads raw data: its training data's preprocessing, then the model."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.preprocessing import Preprocessor, Schema
from intermodal.saving import register_module


@register_module
class Pipeline(nn.Module):
    """``model(preprocessor(inputs, mask), mask)``: raw inputs to the model's outputs.

    ``save_model`` keeps both (the schema and each step's configuration in ``config.json``, the
    statistics beside the weights), so a loaded pipeline predicts on raw data with
    :func:`intermodal.metrics.predict` and ``evaluate``: they first call :meth:`prepare`, which
    matches the data to the schema by name (modalities, features, class labels) or says what
    differs. Build one with ``fit(model, raw_splits, preprocess=True)``, or from a
    :class:`~intermodal.data.preprocessing.Preprocessor` fitted on the training split and a
    model trained on its ``transform`` of the splits.

    Shape:
        ``{m: (B, *shape_m)} raw, mask {m: (B,)} -> (B, K)``
    """

    def __init__(self, preprocessor: Preprocessor, model: nn.Module) -> None:
        super().__init__()
        if not isinstance(preprocessor, Preprocessor):
            raise TypeError(f"preprocessor must be a Preprocessor, got {type(preprocessor)}")
        unknown = sorted(set(_modalities(model)) - set(preprocessor.modalities))
        if unknown:
            raise ValueError(
                f"the model reads modalities {unknown} that the preprocessor's schema lacks "
                f"({preprocessor.modalities})"
            )
        self.preprocessor, self.model = preprocessor, model

    @property
    def modalities(self) -> list[str]:
        return _modalities(self.model) or self.preprocessor.modalities

    @property
    def absent(self) -> str:
        return str(getattr(self.model, "absent", ""))

    @property
    def schema(self) -> Schema:
        return self.preprocessor.schema

    def prepare(self, dataset: MultimodalDataset) -> MultimodalDataset:
        """``dataset`` matched to the schema (see ``Preprocessor.align``), still raw."""
        return self.preprocessor.align(dataset, self.modalities)

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        names = self.modalities
        raw = {key: inputs[key] for key in names if key in inputs}
        return self.model(self.preprocessor(raw, mask), mask)


def _modalities(model: nn.Module) -> list[str]:
    return list(getattr(model, "modalities", []))


def bare_model(model: nn.Module) -> nn.Module:
    """The model inside a :class:`Pipeline` (which reads preprocessed inputs), or ``model``."""
    return model.model if isinstance(model, Pipeline) else model
