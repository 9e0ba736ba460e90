"""The feature vectors that the classical baselines read: one row of numbers per sample.

Each modality gives a block of columns:

- ``vector``: its values as they are (the benchmark has already standardized them on the
  training split; a text or image modality encoded by a frozen backbone is a vector too);
- ``sequence`` ``(T, D)``: the mean over time, D columns;
- ``text``: the bag of words of a WordPiece tokenizer learned from the training texts (see
  :func:`intermodal.encoders.text.train_tokenizer`; the same tokenizer the default text encoder
  learns): the count of each vocabulary token in the text, one column per token;
- ``tabular``: its numeric columns (standardized on the training split, with their
  missing-indicator columns: see :class:`~intermodal.data.tabular.TabularEncoding`) and each
  categorical column one-hot encoded over its codes (missing, unknown, then the training
  categories: a category unseen in training is 1 in the unknown column), whatever its
  cardinality (the baselines learn no embedding);
- ``image`` and ``audio``: no feature vector without a backbone; the baselines do not apply
  (:func:`feature_reason` says why).

The blocks follow in sorted modality order, then one presence column per modality (1 where it
is present, 0 where absent). Every column is standardized, ``(x - mean) / std``, with the mean
and population standard deviation of the training split over the samples where the modality is
present (a column of zero variance gets a scale of 1, as in
:class:`~intermodal.data.splits.Standardizer`). An absent modality's block is 0 after
standardization, which is the training mean, and its presence column tells the learner that it
is absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.tabular import FIRST, categorical_layout
from intermodal.data.text import decode_texts
from intermodal.saving import register_module

POOLING = "mean over time"
"""How a sequence becomes a feature vector."""
FEATURE_KINDS = ("vector", "sequence", "text", "tabular")
"""The kinds of modality that have a feature vector."""
VOCABULARY = 2000
"""The largest vocabulary of a text modality's tokenizer (its bag of words has as many
columns)."""


def feature_reason(dataset: MultimodalDataset) -> str | None:
    """Why ``dataset`` has no feature vector for the classical baselines (an image or audio
    modality without a backbone), or None."""
    raw = [k for k in dataset.modality_names if dataset.kinds[k] not in FEATURE_KINDS]
    if not raw:
        return None
    names = ", ".join(f"{k} ({dataset.kinds[k]})" for k in raw)
    first = raw[0]
    return (
        f"reads feature vectors, and {names} {'has' if len(raw) == 1 else 'have'} none: encode "
        f"{'it' if len(raw) == 1 else 'them'} with a frozen pretrained backbone first "
        f"(--backbone {first}=NAME_OR_PATH)"
    )


def _vocabulary_size(tokenizer: Tokenizer) -> int:
    return max(tokenizer.get_vocab(with_added_tokens=True).values()) + 1


@register_module
class FeatureVectors(nn.Module):
    """Standardized feature vectors of a modality dict (see the module's description).

    Args:
        kinds: modality -> kind (``vector``, ``sequence`` or ``text``).
        shapes: modality -> per-sample shape (``(D,)``, ``(T, D)``, ``(L,)``).
        tokenizers: text modality -> its tokenizer as a JSON string (``tokenizer.to_str()``).
        categorical: tabular modality -> its categorical columns as ``[position, K]`` pairs (K
            training categories, codes 0 .. K + 1); its other columns are numeric.

    The statistics are buffers, set by :meth:`fit` on the training split.

    Shape:
        ``{m: (B, *shape_m)}, mask {m: (B,)} -> (B, width)`` float64
    """

    mean: Tensor
    scale: Tensor

    def __init__(
        self,
        kinds: Mapping[str, str],
        shapes: Mapping[str, Sequence[int]],
        tokenizers: Mapping[str, str] | None = None,
        categorical: Mapping[str, Sequence[Sequence[int]]] | None = None,
    ) -> None:
        super().__init__()
        if not kinds or set(kinds) != set(shapes):
            raise ValueError("kinds and shapes must name the same, non-empty set of modalities")
        tokenizers = dict(tokenizers or {})
        self.kinds = {key: kinds[key] for key in sorted(kinds)}
        self._tokenizers: dict[str, Tokenizer] = {}
        self._layouts: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
        self.blocks: dict[str, tuple[int, int]] = {}
        start = 0
        for key, kind in self.kinds.items():
            shape = tuple(shapes[key])
            if kind == "vector" and len(shape) == 1:
                width = shape[0]
            elif kind == "sequence" and len(shape) == 2:
                width = shape[1]
            elif kind == "text":
                if key not in tokenizers:
                    raise ValueError(f"text modality {key!r} needs its tokenizer (tokenizers=)")
                tokenizer = Tokenizer.from_str(tokenizers[key])
                tokenizer.no_padding()
                tokenizer.no_truncation()
                self._tokenizers[key] = tokenizer
                width = _vocabulary_size(tokenizer)
            elif kind == "tabular" and len(shape) == 1:
                layout = {int(i): int(k) for i, k in (categorical or {}).get(key, ())}
                numeric = [i for i in range(shape[0]) if i not in layout]
                onehot = [(i, layout[i] + FIRST) for i in sorted(layout)]
                self._layouts[key] = (numeric, onehot)
                width = len(numeric) + sum(size for _, size in onehot)
            else:
                raise ValueError(
                    f"modality {key!r} ({kind}, per-sample shape {shape}) has no feature vector; "
                    f"the kinds with one are {list(FEATURE_KINDS)}"
                )
            self.blocks[key] = (start, start + width)
            start += width
        self.width = start + len(self.kinds)
        self.register_buffer("mean", torch.zeros(self.width, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(self.width, dtype=torch.float64))

    @property
    def modalities(self) -> list[str]:
        return list(self.kinds)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}: {self.kinds[k]} {b[1] - b[0]}" for k, b in self.blocks.items())

    def _block(self, key: str, x: Tensor) -> Tensor:
        kind = self.kinds[key]
        if kind == "vector":
            return x.double()
        if kind == "sequence":
            return x.double().mean(dim=1)
        if kind == "tabular":
            numeric, onehot = self._layouts[key]
            parts = [torch.nan_to_num(x.double()[:, numeric], nan=0.0)]
            for i, size in onehot:
                code = torch.nan_to_num(x[:, i], nan=0.0).round().clamp(0, size - 1).long()
                parts.append((code[:, None] == torch.arange(size, device=x.device)).double())
            return torch.cat(parts, dim=1)
        start, stop = self.blocks[key]
        ids = [e.ids for e in self._tokenizers[key].encode_batch(decode_texts(x))]
        rows = np.repeat(np.arange(len(ids)), [len(i) for i in ids])
        flat = np.concatenate([np.asarray(i, dtype=np.int64) for i in ids] + [np.zeros(0, int)])
        counts = np.zeros((len(ids), stop - start))
        np.add.at(counts, (rows, flat), 1.0)
        return torch.from_numpy(counts)

    def raw(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """The unstandardized features ``(B, width)`` and the presence of each modality
        ``(B, M)`` (bool)."""
        missing = [key for key in self.kinds if key not in inputs]
        if missing:
            raise KeyError(f"FeatureVectors needs modalities {self.modalities}; missing {missing}")
        batch = len(inputs[self.modalities[0]])
        device = self.mean.device
        present = torch.stack(
            [
                mask[key].to(device).bool()
                if mask is not None and key in mask
                else torch.ones(batch, dtype=torch.bool, device=device)
                for key in self.kinds
            ],
            dim=1,
        )
        blocks = [self._block(key, inputs[key].to(device)).to(device) for key in self.kinds]
        return torch.cat([*blocks, present.double()], dim=1), present

    @torch.no_grad()
    def fit(self, data: MultimodalDataset) -> FeatureVectors:
        """Set the statistics from ``data`` (the training split)."""
        batch = data.batch()
        values, present = self.raw(batch.inputs, batch.mask)
        x, rows = values.cpu().numpy(), present.cpu().numpy()
        mean, scale = np.zeros(self.width), np.ones(self.width)
        spans = [*self.blocks.values(), (self.width - len(self.kinds), self.width)]
        for i, (start, stop) in enumerate(spans):
            part = x[:, start:stop] if i == len(self.kinds) else x[rows[:, i], start:stop]
            if len(part) == 0:
                raise ValueError(
                    f"modality {self.modalities[i]!r} is absent in every training sample"
                )
            mean[start:stop] = part.mean(axis=0)
            std = part.std(axis=0)
            scale[start:stop] = np.where(std > 1e-8 * (1 + np.abs(mean[start:stop])), std, 1.0)
        self.mean.copy_(torch.from_numpy(mean))
        self.scale.copy_(torch.from_numpy(scale))
        return self

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        values, present = self.raw(inputs, mask)
        z = (values - self.mean) / self.scale
        for i, (start, stop) in enumerate(self.blocks.values()):
            z[:, start:stop] = torch.where(present[:, i : i + 1], z[:, start:stop], 0.0)
        return z


def build_features(dataset: MultimodalDataset) -> FeatureVectors:
    """The feature vectors of ``dataset`` (its training split): a WordPiece tokenizer of at most
    :data:`VOCABULARY` tokens is learned for each text modality."""
    from intermodal.encoders.text import train_tokenizer

    reason = feature_reason(dataset)
    if reason:
        raise ValueError(f"the classical baselines read feature vectors: {reason}")
    tokenizers = {
        key: train_tokenizer(dataset.modalities[key], vocab_size=VOCABULARY).to_str()
        for key in dataset.modality_names
        if dataset.kinds[key] == "text"
    }
    categorical = {
        key: [list(pair) for pair in sorted(categorical_layout(dataset, key).items())]
        for key in dataset.modality_names
        if dataset.kinds[key] == "tabular"
    }
    return FeatureVectors(
        dataset.kinds, {k: list(v) for k, v in dataset.shapes.items()}, tokenizers, categorical
    )
