"""CLIP as a two-tower model of images and texts (Radford et al. 2021, "Learning Transferable
Visual Models From Natural Language Supervision"), on Hugging Face ``transformers.CLIPModel``.

``transformers`` is an optional dependency (``pip install 'intermodal[hf]'``); it is imported when
a model is built, never when this module is imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.coordination.contrastive import clip_loss
from intermodal.encoders.pretrained import (
    as_texts,
    image_statistics,
    load_pretrained,
    prepare_images,
    require_transformers,
)
from intermodal.saving import register_module

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_LOGIT_SCALE = 100.0
"""CLIP clips the learned logit scale at 100 (Radford et al. 2021, section 2.5)."""

TextInput = Tensor | Sequence[str]


def _features(output: Any) -> Tensor:
    """The projected features: a tensor, or the ``pooler_output`` of a model output."""
    return output if isinstance(output, Tensor) else output.pooler_output


def _take(values: Any, keep: Tensor) -> Any:
    if isinstance(values, Tensor):
        return values[keep.to(values.device)]
    return [v for v, k in zip(values, keep.tolist(), strict=True) if k]


@register_module
class CLIPModel(nn.Module):
    """A pretrained CLIP: image and text encoders into one L2-normalized embedding space.

    Args:
        name_or_path: a folder written by ``save_pretrained`` holding the CLIP model and its
            tokenizer (and optionally the image processor's ``preprocessor_config.json``), or a
            Hugging Face Hub name when online or cached.
        trainable: fine-tune the whole model (both towers and the logit scale); when False
            (default) it is frozen and stays in evaluation mode: zero-shot classification,
            retrieval and feature extraction.
        image, text: the names of the two modalities in the inputs.

    Inputs: images ``(B, C, H, W)`` in [0, 1], resized (bilinear) to the vision tower's size and
    normalized with the saved processor's mean and std (CLIP's own when none is saved); texts as a
    ``(B, L)`` uint8 tensor of UTF-8 bytes (see :func:`intermodal.data.text.encode_texts`) or B
    strings, tokenized with the saved tokenizer and truncated to the text tower's length.

    ``load_model`` rebuilds it from ``name_or_path`` (which must still be reachable) and then
    loads the saved weights over the reloaded ones.

    Shape:
        ``{image: (B, C, H, W), text: (B, L)} -> ((B, D), (B, D))``
    """

    validation_objective = "the CLIP loss on validation pairs"
    monitor = "loss"
    image_mean: Tensor
    image_std: Tensor

    def __init__(
        self, name_or_path: str, trainable: bool = False, image: str = "image", text: str = "text"
    ) -> None:
        super().__init__()
        if image == text:
            raise ValueError(f"the image and text modalities need different names, got {image!r}")
        transformers = require_transformers("CLIPModel")
        self.name_or_path, self.trainable = name_or_path, trainable
        self.modalities = [image, text]
        self.model: Any = load_pretrained(transformers.CLIPModel, name_or_path, "CLIP model")
        self.tokenizer: Any = load_pretrained(transformers.AutoTokenizer, name_or_path, "tokenizer")
        vision, text_config = self.model.config.vision_config, self.model.config.text_config
        size = vision.image_size
        self.image_size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.channels = int(getattr(vision, "num_channels", 3))
        self.max_tokens = int(text_config.max_position_embeddings)
        mean, std = image_statistics(name_or_path, CLIP_MEAN, CLIP_STD)
        self.register_buffer("image_mean", mean, persistent=False)
        self.register_buffer("image_std", std, persistent=False)
        self.embedding_dim = int(self.model.config.projection_dim)
        if not trainable:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True) -> CLIPModel:
        """Set the training mode; a frozen model stays in evaluation mode."""
        super().train(mode)
        if not self.trainable:
            self.model.eval()
        return self

    def _context(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext() if self.trainable else torch.no_grad()

    @property
    def logit_scale(self) -> Tensor:
        """The learned inverse temperature ``exp(s)``, clamped at 100. Shape: scalar."""
        scale: Tensor = self.model.logit_scale.exp()
        return scale.clamp(max=MAX_LOGIT_SCALE)

    def encode_image(self, images: Tensor) -> Tensor:
        """L2-normalized image embeddings. Shape: ``(B, C, H, W) -> (B, D)``."""
        device = self.image_mean.device
        pixels = prepare_images(
            images.to(device), self.image_size, self.image_mean, self.image_std, self.channels
        )
        with self._context():
            features = _features(self.model.get_image_features(pixel_values=pixels))
        return F.normalize(features.float(), dim=-1)

    def encode_text(self, texts: TextInput) -> Tensor:
        """L2-normalized text embeddings. Shape: ``(B, L)`` uint8 or B strings ``-> (B, D)``."""
        encoded = self.tokenizer(
            as_texts(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        )
        device = self.image_mean.device
        with self._context():
            output = self.model.get_text_features(
                input_ids=encoded["input_ids"].to(device),
                attention_mask=encoded["attention_mask"].to(device),
            )
        return F.normalize(_features(output).float(), dim=-1)

    def forward(
        self, inputs: Mapping[str, Any], mask: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        image, text = self.modalities
        missing = [k for k in self.modalities if k not in inputs]
        if missing:
            raise KeyError(
                f"CLIPModel needs modalities {self.modalities}; the inputs lack {missing}"
            )
        return self.encode_image(inputs[image]), self.encode_text(inputs[text])

    def training_loss(
        self, inputs: Mapping[str, Any], target: Tensor, mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """CLIP's symmetric contrastive loss with the model's learned logit scale, over the pairs
        where both modalities are present (``target`` is not used). Shape: scalar."""
        keep: Tensor | None = None
        for key in self.modalities:
            if mask is not None and key in mask:
                present = mask[key].bool().cpu()
                keep = present if keep is None else keep & present
        if keep is not None and not bool(keep.all()):
            inputs = {key: _take(inputs[key], keep) for key in self.modalities}
            if not bool(keep.any()):
                return self.logit_scale * 0.0
        image_embeddings, text_embeddings = self(inputs)
        return clip_loss(image_embeddings, text_embeddings, self.logit_scale)

    validation_loss = training_loss

    def zero_shot(
        self,
        images: Tensor,
        class_names: Sequence[str],
        template: str = "a photo of a {}.",
        batch_size: int = 64,
    ) -> tuple[Tensor, Tensor]:
        """Zero-shot classification: each image is scored against the prompt
        ``template.format(name)`` of every class by ``logit_scale * cosine`` and a softmax.

        Returns:
            ``(predictions, probabilities)``: the most probable class of each image (int64) and
            the class probabilities.

        Shape:
            ``images: (N, C, H, W)``, K class names -> ``((N,), (N, K))``
        """
        if isinstance(class_names, str) or len(class_names) == 0:
            raise ValueError("class_names must be a non-empty list of class names")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                prompts = self.encode_text([template.format(name) for name in class_names])
                embeddings = torch.cat(
                    [
                        self.encode_image(images[start : start + batch_size])
                        for start in range(0, len(images), batch_size)
                    ]
                )
                logits = self.logit_scale * embeddings @ prompts.T
        finally:
            self.train(was_training)
        probabilities = logits.softmax(dim=1)
        return probabilities.argmax(dim=1), probabilities

    def extra_repr(self) -> str:
        return f"{self.name_or_path!r}, trainable={self.trainable}, modalities={self.modalities}"


__all__ = ["CLIPModel"]
