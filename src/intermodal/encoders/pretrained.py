"""Pretrained backbones from Hugging Face ``transformers`` as unimodal encoders.

Text encoders of the BERT family (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding"), image encoders of the ViT family (Dosovitskiy et al.
2021, "An Image is Worth 16x16 Words") and speech encoders of the wav2vec 2.0 family (Baevski et
al. 2020, "wav2vec 2.0: A Framework for Self-Supervised Learning of Speech Representations").

``transformers`` is an optional dependency (``pip install 'intermodal[hf]'``); it is imported when
an encoder is built, never when this module is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from intermodal.data.text import decode_texts
from intermodal.saving import register_module

KINDS = ("text", "image", "audio")
POOLINGS = ("cls", "mean", "pooler")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSOR_FILE = "preprocessor_config.json"
_TRUE = {"1", "ON", "YES", "TRUE"}
_CHUNK = 1 << 24  # bytes hashed per update


def require_transformers(what: str) -> ModuleType:
    """Import ``transformers`` or say how to install it."""
    try:
        import transformers
    except ImportError:
        raise ImportError(
            f"{what} needs Hugging Face transformers: pip install 'intermodal[hf]'"
        ) from None
    return transformers


def hub_offline() -> bool:
    """True when the Hugging Face Hub must not be contacted (``HF_HUB_OFFLINE`` or
    ``TRANSFORMERS_OFFLINE`` set, read now rather than when ``huggingface_hub`` was imported)."""
    if any(
        os.environ.get(v, "").upper() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _looks_like_path(name_or_path: str) -> bool:
    """A hub name is ``name`` or ``owner/name``; anything else can only be a local folder."""
    return (
        Path(name_or_path).expanduser().is_absolute()
        or name_or_path.startswith((".", "~"))
        or name_or_path.count("/") > 1
        or "\\" in name_or_path
        or Path(name_or_path).exists()
    )


def load_pretrained(loader: Any, name_or_path: str, what: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(name_or_path)`` from a local folder or the hub, with errors that
    say what to do.

    Raises:
        FileNotFoundError: ``name_or_path`` is a path and not a folder.
        ValueError: the folder is not one written by ``save_pretrained``, or the hub name could not
            be loaded (no network, ``HF_HUB_OFFLINE=1``, or no such model on the hub).
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        try:
            return loader.from_pretrained(str(local), **kwargs)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"cannot load the {what} of backbone {name_or_path!r} from the folder {local} "
                f"({error}); pass a folder written by save_pretrained (the model's and the "
                "tokenizer's or processor's save_pretrained into the same folder)"
            ) from None
    if _looks_like_path(name_or_path):
        raise FileNotFoundError(
            f"backbone {name_or_path!r} is not a folder; pass a folder written by save_pretrained "
            "or a Hugging Face Hub name such as 'bert-base-uncased'"
        )
    offline = hub_offline()
    try:
        return loader.from_pretrained(name_or_path, local_files_only=offline, **kwargs)
    except (OSError, ValueError) as error:
        if isinstance(error, ValueError) and type(error).__name__ != "HFValidationError":
            raise
        reason = "offline mode is on (HF_HUB_OFFLINE=1)" if offline else f"{error}".strip()
        raise ValueError(
            f"could not load the {what} of backbone {name_or_path!r}: it is not a local folder "
            f"and the Hugging Face Hub could not provide it ({reason}). A backbone that is not in "
            "the Hugging Face cache cannot be loaded without network: pass the path of a local "
            "folder written by save_pretrained instead (where there is network, run "
            f"AutoModel.from_pretrained({name_or_path!r}).save_pretrained(folder) and the same "
            "with its tokenizer or processor, then pass the folder)"
        ) from None


def preprocessor_config(name_or_path: str) -> dict[str, Any]:
    """The saved ``preprocessor_config.json`` (image or audio processor settings), or ``{}``."""
    local = Path(name_or_path).expanduser()
    path: str | Path | None = None
    if local.is_dir():
        path = local / PREPROCESSOR_FILE
    else:
        try:
            from transformers.utils.hub import cached_file

            path = cached_file(
                name_or_path,
                PREPROCESSOR_FILE,
                local_files_only=hub_offline(),
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
        except (ImportError, OSError, ValueError):
            path = None
    if path is None or not Path(path).is_file():
        return {}
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable processor config ({error})") from None
    return config if isinstance(config, dict) else {}


def image_statistics(
    name_or_path: str, default_mean: Sequence[float], default_std: Sequence[float]
) -> tuple[Tensor, Tensor]:
    """Per-channel ``(mean, std)`` of the saved image processor, else the defaults. Shape: (3,)."""
    config = preprocessor_config(name_or_path)
    mean = config.get("image_mean", default_mean)
    std = config.get("image_std", default_std)
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def _pair(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def prepare_images(
    images: Tensor, size: tuple[int, int], mean: Tensor, std: Tensor, channels: int = 3
) -> Tensor:
    """Resize (bilinear) to ``size`` and normalize ``(x - mean) / std`` per channel; a 1-channel
    image is repeated to ``channels``. uint8 images are read as ``x / 255``.

    Shape:
        ``(B, C, H, W)`` in [0, 1] -> ``(B, channels, *size)``
    """
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor (B, C, H, W) with values in [0, 1], got {shape}")
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    if x.shape[1] == 1 and channels != 1:
        x = x.expand(-1, channels, -1, -1)
    if x.shape[1] != channels:
        raise ValueError(f"the backbone takes images with {channels} channels, got {x.shape[1]}")
    if tuple(x.shape[2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    mean, std = mean.to(x.device), std.to(x.device)
    return (x - mean[:, None, None]) / std[:, None, None]


def as_texts(inputs: Tensor | Sequence[str]) -> list[str]:
    """Strings from a ``(B, L)`` uint8 tensor of zero-padded UTF-8 bytes, or a list of strings."""
    if isinstance(inputs, Tensor):
        return decode_texts(inputs)
    if isinstance(inputs, str) or not all(isinstance(t, str) for t in inputs):
        raise TypeError(
            "text inputs must be a (B, L) uint8 tensor of UTF-8 bytes (see "
            "intermodal.data.text.encode_texts) or a list of strings"
        )
    return list(inputs)


def weights_digest(module: nn.Module) -> str:
    """sha256 over the state dict: each key, dtype, shape and raw bytes, in sorted key order."""
    digest = hashlib.sha256()
    state = module.state_dict()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        raw = tensor.reshape(-1).view(torch.uint8).numpy()
        for start in range(0, len(raw), _CHUNK):
            digest.update(raw[start : start + _CHUNK].tobytes())
    return digest.hexdigest()


def tokenizer_digest(tokenizer: Any) -> str:
    """sha256 (16 hex digits) of a tokenizer's vocabulary and rules, without the padding and
    truncation settings that each call sets."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("padding", None)
        state.pop("truncation", None)
    else:
        state = {"class": type(tokenizer).__name__, "vocab": sorted(tokenizer.get_vocab().items())}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def _versions(module: nn.Module) -> tuple[tuple[str, int, int], ...]:
    """Storage address and in-place version of every tensor: changes when a weight is changed
    in place (an optimizer step, ``load_state_dict``) or replaced."""
    tensors = [*module.named_parameters(), *module.named_buffers()]
    return tuple((k, t.data_ptr(), t._version) for k, t in tensors)


@register_module
class PretrainedEncoder(nn.Module):
    """A pretrained Hugging Face backbone pooled to one vector per sample.

    Args:
        name_or_path: a folder written by ``save_pretrained`` (the model, and for text its
            tokenizer; optionally a ``preprocessor_config.json``), or a Hugging Face Hub name when
            online or cached.
        kind: ``text`` (BERT-like), ``image`` (ViT-like) or ``audio`` (wav2vec2-like).
        pooling: ``cls`` (first token), ``mean`` (mean over real tokens or frames) or ``pooler``
            (the model's pooler output, e.g. BERT's tanh layer over [CLS]).
        trainable: fine-tune the backbone; when False (default) its weights are frozen and it
            stays in evaluation mode, so that only the optional projection trains.
        output_dim: add a trainable linear projection to this size.
        max_tokens: texts are truncated to this many tokens (and to the backbone's maximum).

    Inputs:
        - text: a ``(B, L)`` uint8 tensor of UTF-8 bytes, zero-padded (see
          :func:`intermodal.data.text.encode_texts`), or B strings; tokenized with the backbone's
          tokenizer with truncation, padding and an attention mask.
        - image: ``(B, C, H, W)`` floats in [0, 1], C = 1 or 3; resized (bilinear) to the
          backbone's ``config.image_size`` and normalized with the saved image processor's mean
          and std (ImageNet's when none is saved).
        - audio: ``(B, T)`` raw waveform at the backbone's sampling rate (not resampled here),
          normalized per sample to zero mean and unit variance as wav2vec2's feature extractor
          does (unless the saved one says ``do_normalize: false``).

    Saving: the backbone's weights are part of the state dict, so ``save_model`` stores them;
    ``load_model`` rebuilds the encoder from ``name_or_path`` (which must still be reachable: the
    folder, or the hub or its cache) and then loads the saved weights over the reloaded ones.

    Shape:
        ``(B, L) bytes | (B, C, H, W) | (B, T) -> (B, feature_dim)``
    """

    image_mean: Tensor
    image_std: Tensor

    def __init__(
        self,
        name_or_path: str,
        kind: str = "text",
        pooling: str = "mean",
        trainable: bool = False,
        output_dim: int | None = None,
        max_tokens: int = 128,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; use one of {list(KINDS)}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; use one of {list(POOLINGS)}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if output_dim is not None and output_dim < 1:
            raise ValueError(f"output_dim must be at least 1 or None, got {output_dim}")
        transformers = require_transformers("PretrainedEncoder")
        self.name_or_path, self.kind, self.pooling = name_or_path, kind, pooling
        self.trainable, self.max_tokens = trainable, max_tokens
        self.backbone: Any = load_pretrained(transformers.AutoModel, name_or_path, "model")
        config = self.backbone.config
        if pooling == "pooler" and getattr(self.backbone, "pooler", None) is None:
            raise ValueError(
                f"backbone {name_or_path!r} ({type(self.backbone).__name__}) has no pooler; use "
                "pooling='cls' or 'mean'"
            )
        self.tokenizer: Any = None
        self.normalize_audio = True
        if kind == "text":
            self.tokenizer = load_pretrained(transformers.AutoTokenizer, name_or_path, "tokenizer")
            if self.tokenizer.pad_token is None:  # decoder tokenizers: pad with end of text
                self.tokenizer.pad_token = self.tokenizer.eos_token
            limits = [
                max_tokens,
                getattr(config, "max_position_embeddings", None),
                getattr(self.tokenizer, "model_max_length", None),
            ]
            self.max_tokens = min(n for n in limits if isinstance(n, int) and n < 1_000_000)
        elif kind == "image":
            self.image_size = _pair(getattr(config, "image_size", 224))
            self.channels = int(getattr(config, "num_channels", 3))
            mean, std = image_statistics(name_or_path, IMAGENET_MEAN, IMAGENET_STD)
            self.register_buffer("image_mean", mean, persistent=False)
            self.register_buffer("image_std", std, persistent=False)
        else:
            self.normalize_audio = bool(preprocessor_config(name_or_path).get("do_normalize", True))
        hidden = int(config.hidden_size)
        self.projection = nn.Linear(hidden, output_dim) if output_dim is not None else None
        self.feature_dim = output_dim if output_dim is not None else hidden
        self._fingerprint: tuple[tuple[tuple[str, int, int], ...], str] | None = None
        if not trainable:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> PretrainedEncoder:
        """Set the training mode; a frozen backbone stays in evaluation mode."""
        super().train(mode)
        if not self.trainable:
            self.backbone.eval()
        return self

    @property
    def _device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def _backbone_inputs(
        self, inputs: Tensor | Sequence[str]
    ) -> tuple[dict[str, Tensor], Tensor | None]:
        """Keyword arguments of the backbone and the token mask ``(B, L)`` (None: every frame)."""
        device = self._device
        if self.kind == "text":
            encoded = self.tokenizer(
                as_texts(inputs),
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            arguments = {k: v.to(device) for k, v in encoded.items()}
            return arguments, arguments.get("attention_mask")
        if not isinstance(inputs, Tensor):
            raise TypeError(f"{self.kind} inputs must be a tensor, got {type(inputs).__name__}")
        if self.kind == "image":
            pixels = prepare_images(
                inputs.to(device), self.image_size, self.image_mean, self.image_std, self.channels
            )
            return {"pixel_values": pixels}, None
        waves = inputs.to(device).float()
        if waves.ndim == 3:  # (B, C, T): mix down to mono
            waves = waves.mean(dim=1)
        if waves.ndim != 2:
            raise ValueError(f"audio must be a waveform (B, T), got shape {tuple(inputs.shape)}")
        if self.normalize_audio:
            mean = waves.mean(dim=1, keepdim=True)
            var = waves.var(dim=1, keepdim=True, unbiased=False)
            waves = (waves - mean) / torch.sqrt(var + 1e-7)
        return {"input_values": waves}, None

    def forward(self, inputs: Tensor | Sequence[str]) -> Tensor:
        arguments, mask = self._backbone_inputs(inputs)
        frozen = contextlib.nullcontext() if self.trainable else torch.no_grad()
        with frozen:
            outputs = self.backbone(**arguments)
            if self.pooling == "pooler":
                pooled = outputs.pooler_output
            elif self.pooling == "cls":
                pooled = outputs.last_hidden_state[:, 0]
            else:
                hidden = outputs.last_hidden_state
                if mask is None:
                    pooled = hidden.mean(dim=1)
                else:
                    weights = mask.to(hidden.dtype).unsqueeze(-1)
                    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        pooled = pooled.float()
        return self.projection(pooled) if self.projection is not None else pooled

    def fingerprint(self) -> str:
        """A stable string naming this encoder for feature caches: class, ``name_or_path``, kind,
        pooling, ``max_tokens``, ``output_dim``, preprocessing, and a sha256 of every weight
        (backbone and projection).

        The weight hash is computed once and reused until a weight changes in place (optimizer
        step, ``load_state_dict``) or is replaced; changes made through ``tensor.data`` are not
        seen.
        """
        versions = _versions(self)
        if self._fingerprint is None or self._fingerprint[0] != versions:
            self._fingerprint = (versions, weights_digest(self))
        settings: dict[str, Any] = {
            "class": type(self).__name__,
            "backbone": type(self.backbone).__name__,
            "name_or_path": self.name_or_path,
            "kind": self.kind,
            "pooling": self.pooling,
            "max_tokens": self.max_tokens,
            "output_dim": self.projection.out_features if self.projection is not None else None,
        }
        if self.kind == "image":
            settings["image"] = [
                list(self.image_size),
                self.image_mean.tolist(),
                self.image_std.tolist(),
            ]
        elif self.kind == "audio":
            settings["normalize"] = self.normalize_audio
        else:
            settings["tokenizer"] = tokenizer_digest(self.tokenizer)
        return json.dumps(settings, sort_keys=True) + f" weights:sha256:{self._fingerprint[1]}"

    def extra_repr(self) -> str:
        return (
            f"{self.name_or_path!r}, kind={self.kind}, pooling={self.pooling}, "
            f"trainable={self.trainable}, feature_dim={self.feature_dim}"
        )


__all__ = ["PretrainedEncoder"]
