"""A feature cache for frozen encoders: encode each split once, keep the features on disk.

An entry is ``DIRECTORY/<key>.safetensors`` holding the ``(N, D)`` float32 tensor ``features``
and metadata (format, version, key, encoder fingerprint, shape). The key is a sha256 over the
encoder's fingerprint (see ``PretrainedEncoder.fingerprint``), the data's dtype, shape and bytes,
and the presence mask, so a changed input or a changed encoder is a new entry. Entries are
written atomically; a corrupt or mismatched entry is recomputed with a warning, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import Tensor, nn

from intermodal._io import write_bytes_atomic
from intermodal.data.dataset import MultimodalDataset

FORMAT = "intermodal-feature-cache"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
_CHUNK = 1 << 24  # bytes hashed per update: bounded extra memory for large data


def _update(digest: hashlib._Hash, tensor: Tensor) -> None:
    values = tensor.detach().cpu().contiguous()
    digest.update(f"{values.dtype}|{tuple(values.shape)}|".encode())
    raw = values.reshape(-1).view(torch.uint8).numpy()
    for start in range(0, len(raw), _CHUNK):
        digest.update(raw[start : start + _CHUNK].tobytes())


def _fingerprint_of(encoder: nn.Module) -> str:
    method = getattr(encoder, "fingerprint", None)
    if not callable(method):
        raise TypeError(
            f"a {type(encoder).__name__} cannot be cached: it has no fingerprint() method saying "
            "what it computes (use intermodal.encoders.pretrained.PretrainedEncoder, or add a "
            "fingerprint() -> str that changes whenever its outputs would)"
        )
    fingerprint = method()
    if not isinstance(fingerprint, str) or not fingerprint:
        raise TypeError(f"{type(encoder).__name__}.fingerprint() must return a non-empty string")
    return fingerprint


def _check_mask(mask: Tensor | None, n: int) -> Tensor | None:
    """The mask as ``(N,)`` bool, or None when every row is present."""
    if mask is None:
        return None
    mask = torch.as_tensor(mask).detach().cpu()
    if mask.shape != (n,):
        raise ValueError(f"mask must have shape ({n},), one flag per row, got {tuple(mask.shape)}")
    mask = mask.bool()
    return None if bool(mask.all()) else mask


class FeatureCache:
    """Features of frozen encoders stored as safetensors files in ``directory``.

    Example::

        cache = FeatureCache("~/.cache/intermodal/features")
        features = cache.features(encoder, images, mask=present)   # (N, D), encoded once

    Attributes:
        hits, misses: how many :meth:`features` calls were served from disk or computed.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()
        self.hits = 0
        self.misses = 0

    def key(self, encoder_fingerprint: str, data: Tensor, mask: Tensor | None = None) -> str:
        """sha256 (hex) of the fingerprint, the format version, the data (dtype, shape, bytes) and
        the presence mask (an all-True mask is the same as none)."""
        if not isinstance(data, Tensor):
            raise TypeError(f"data must be a tensor (N, ...), got a {type(data).__name__}")
        digest = hashlib.sha256()
        digest.update(f"{FORMAT}|{FORMAT_VERSION}|{encoder_fingerprint}|".encode())
        _update(digest, data)
        checked = _check_mask(mask, len(data)) if data.ndim else None
        if checked is None:
            digest.update(b"|mask:none")
        else:
            digest.update(b"|mask:")
            _update(digest, checked)
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        """The file of the entry ``key``."""
        return self.directory / f"{key}{SUFFIX}"

    def _read(self, path: Path, key: str, fingerprint: str, n: int) -> tuple[Tensor | None, str]:
        """The cached features, or None and why the entry cannot be used."""
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                names = set(handle.keys())
                if names != {"features"}:
                    return None, f"it holds tensors {sorted(names)} instead of 'features'"
                features = handle.get_tensor("features")
        except Exception as error:
            return None, f"it is corrupt or truncated ({type(error).__name__}: {error})"
        if metadata.get("format") != FORMAT or metadata.get("format_version") != str(
            FORMAT_VERSION
        ):
            return None, "it was not written by this version of the feature cache"
        if metadata.get("key") != key:
            return None, "its metadata names another key"
        if metadata.get("fingerprint") != fingerprint:
            return None, "it was computed by another encoder (fingerprint differs)"
        shape = tuple(features.shape)
        if (
            metadata.get("shape") != json.dumps(list(shape))
            or len(shape) != 2
            or shape[0] != n
            or features.dtype != torch.float32
        ):
            return None, f"its features have shape {shape} and dtype {features.dtype}, not ({n}, D)"
        return features, ""

    def features(
        self, encoder: nn.Module, data: Tensor, batch_size: int = 64, mask: Tensor | None = None
    ) -> Tensor:
        """The features of ``data`` by ``encoder``: read from the cache when a valid entry exists,
        else encoded in batches (evaluation mode, no gradients) and stored.

        Rows where ``mask`` is False (the modality is absent) are zeros; the encoder never sees
        them.

        Raises:
            TypeError: the encoder has no ``fingerprint()`` method.

        Shape:
            ``data: (N, ...)``, ``mask: (N,)`` -> ``(N, D)`` float32
        """
        fingerprint = _fingerprint_of(encoder)
        if not isinstance(data, Tensor) or data.ndim == 0 or len(data) == 0:
            raise ValueError("data must be a tensor (N, ...) with at least one row")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        present = _check_mask(mask, len(data))
        key = self.key(fingerprint, data, present)
        path = self.path(key)
        if path.exists():
            features, reason = self._read(path, key, fingerprint, len(data))
            if features is not None:
                self.hits += 1
                return features
            warnings.warn(
                f"feature cache entry {path} cannot be used: {reason}; recomputing it",
                RuntimeWarning,
                stacklevel=2,
            )
        self.misses += 1
        features = self._encode(encoder, data, batch_size, present)
        metadata = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "key": key,
            "fingerprint": fingerprint,
            "shape": json.dumps(list(features.shape)),
        }
        write_bytes_atomic(path, save({"features": features}, metadata=metadata))
        return features

    @staticmethod
    def _encode(
        encoder: nn.Module, data: Tensor, batch_size: int, present: Tensor | None
    ) -> Tensor:
        rows = torch.arange(len(data)) if present is None else present.nonzero().flatten()
        parameter = next(encoder.parameters(), None)
        device = parameter.device if parameter is not None else data.device
        chunks: list[Tensor] = []
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(rows), batch_size):
                    index = rows[start : start + batch_size]
                    output = encoder(data[index.to(data.device)].to(device))
                    if (
                        not isinstance(output, Tensor)
                        or output.ndim != 2
                        or len(output) != len(index)
                    ):
                        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output)
                        raise ValueError(
                            f"a cached encoder must return features (B, D) for a batch of "
                            f"{len(index)} rows, got {shape}"
                        )
                    chunks.append(output.detach().float().cpu())
        finally:
            encoder.train(was_training)
        if present is None:
            return torch.cat(chunks).contiguous()
        if chunks:
            dim = chunks[0].shape[1]
        else:
            feature_dim = getattr(encoder, "feature_dim", None)
            if not isinstance(feature_dim, int):
                raise ValueError(
                    "every row is absent and the encoder has no feature_dim attribute: the size "
                    "of its features is unknown"
                )
            dim = feature_dim
        features = torch.zeros(len(data), dim, dtype=torch.float32)
        if chunks:
            features[rows] = torch.cat(chunks)
        return features


def encode_modalities(
    splits_or_datasets: Mapping[str, MultimodalDataset],
    encoders: Mapping[str, nn.Module],
    cache: FeatureCache,
    batch_size: int = 64,
) -> dict[str, MultimodalDataset]:
    """Replace each modality that has an encoder by its cached features, in every data set.

    Call it once per benchmark on the splits so that every method trains on the same cached
    features of the frozen backbones. Absent rows (mask False) stay absent and become zeros.

    Args:
        splits_or_datasets: split name (``train``, ``validation``, ``test``) -> data set.
        encoders: modality name -> encoder with a ``fingerprint()`` method (frozen).
        cache: where the features are kept.

    Returns:
        Split name -> the data set with those modalities as ``vector`` modalities ``(N, D)``;
        targets, masks, metadata, name, classes and task are unchanged.
    """
    result: dict[str, MultimodalDataset] = {}
    for split, dataset in splits_or_datasets.items():
        unknown = sorted(set(encoders) - set(dataset.modalities))
        if unknown:
            raise ValueError(
                f"encoders name modalities {unknown} that data set {split!r} does not have; its "
                f"modalities are {dataset.modality_names}"
            )
        features = {
            key: cache.features(
                encoder, dataset.modalities[key], batch_size, mask=dataset.masks[key]
            )
            for key, encoder in encoders.items()
        }
        result[split] = MultimodalDataset(
            {**dataset.modalities, **features},
            dataset.targets,
            masks=dataset.masks,
            kinds={**dataset.kinds, **{key: "vector" for key in features}},
            metadata=dataset.metadata,
            name=dataset.name,
            classes=dataset.classes,
            task=dataset.task,
            features={k: v for k, v in dataset.features.items() if k not in features},
            target_names=dataset.target_names,
        )
    return result


__all__ = ["FeatureCache", "encode_modalities"]
