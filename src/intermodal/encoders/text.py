"""Text encoders: a Hugging Face ``tokenizers`` tokenizer inside the module, then token embeddings
pooled by a bag of embeddings, a GRU or a Transformer encoder.

A text modality is a ``(B, L)`` uint8 tensor of UTF-8 bytes (see :mod:`intermodal.data.text`).
:class:`TextEncoder` decodes a batch back to strings, tokenizes it and encodes the token ids with
a padding mask, so padding never changes a text's encoding. The tokenizer is a constructor
argument (its JSON string), so a saved model carries it in ``config.json`` and reads raw text
with nothing else.

Tokenizers:

- WordPiece (Schuster & Nakajima 2012; the BERT variant of Devlin et al. 2019,
  https://arxiv.org/abs/1810.04805): words split on whitespace and punctuation, then into the
  longest pieces of a vocabulary learned from the training texts.
- Byte-level BPE (Sennrich et al. 2016, https://arxiv.org/abs/1508.07909; on bytes as in GPT-2,
  Radford et al. 2019): merges of frequent byte pairs, so no text is ever out of vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers as tokenizer_trainers
from torch import Tensor, nn

from intermodal.data.text import decode_texts
from intermodal.saving import register_module

TOKENIZER_KINDS = ("wordpiece", "bpe")
ARCHITECTURES = ("bag", "gru", "transformer")

WORDPIECE_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
"""Special tokens of a trained WordPiece vocabulary, with ids 0, 1, 2, 3."""

BPE_SPECIAL_TOKENS = ("<pad>",)
"""Special tokens of a trained byte-level BPE vocabulary: only padding (id 0); byte-level BPE
needs no unknown token and adds no tokens around a text."""

_PAD_NAMES = ("[PAD]", "<pad>", "<PAD>", "<|pad|>", "[pad]")


def _text_list(texts: Sequence[str] | Tensor, what: str) -> list[str]:
    if isinstance(texts, Tensor):
        return decode_texts(texts)
    if isinstance(texts, str | bytes):
        raise TypeError(f"{what} must be a sequence of strings, got a single string; wrap it")
    items = list(texts.tolist() if isinstance(texts, np.ndarray) else texts)
    for row, value in enumerate(items):
        if not isinstance(value, str):
            raise TypeError(
                f"{what} row {row} holds a {type(value).__name__}, not a string; fill missing "
                "texts with ''"
            )
    return items


def _wordpiece_pipeline(tokenizer: Tokenizer, lowercase: bool) -> None:
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lowercase, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")


def _wordpiece_vocabulary(
    texts: list[str], specials: list[str], vocab_size: int, min_frequency: int, lowercase: bool
) -> dict[str, int]:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    _wordpiece_pipeline(tokenizer, lowercase)
    trainer = tokenizer_trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    return tokenizer.get_vocab(with_added_tokens=False)


def _train_wordpiece(
    texts: list[str], vocab_size: int, min_frequency: int, lowercase: bool
) -> Tokenizer:
    # The trainer numbers the word-continuing characters ("##x") in the order it meets them while
    # iterating a hash map, and breaks ties between equally frequent pairs by token id: the
    # vocabulary would vary from run to run. A first pass without merges finds those characters;
    # the second pass gets them, sorted, as fixed leading tokens, so every id and every tie-break
    # is the same for the same texts. The first pass reads each distinct space-separated chunk
    # once: the normalizer acts on each character alone and a space always ends a word, so the
    # chunks hold the same words as the texts.
    specials = list(WORDPIECE_SPECIAL_TOKENS)
    chunks = sorted({chunk for text in texts for chunk in text.split(" ")})
    first = _wordpiece_vocabulary(chunks, specials, 0, 1, lowercase)
    continuing = sorted(t for t in first if t.startswith("##") and len(t) > 2 and t not in specials)
    vocab = _wordpiece_vocabulary(
        texts, specials + continuing, vocab_size, min_frequency, lowercase
    )
    # Rebuild from the vocabulary alone: the fixed "##x" tokens must stay ordinary pieces.
    tokenizer = Tokenizer(
        models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##")
    )
    _wordpiece_pipeline(tokenizer, lowercase)
    tokenizer.add_special_tokens(specials)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return tokenizer


def train_tokenizer(
    texts: Sequence[str] | Tensor,
    kind: str = "wordpiece",
    vocab_size: int = 2000,
    min_frequency: int = 1,
    lowercase: bool = True,
) -> Tokenizer:
    """Learn a tokenizer's vocabulary from ``texts`` (pass the training split only).

    Args:
        texts: the training texts: strings, or a ``(N, L)`` uint8 tensor of a text modality.
        kind: ``wordpiece`` (BERT-style: Unicode clean-up, lowercasing and accent stripping when
            ``lowercase``, split on whitespace and punctuation, ``[CLS] text [SEP]`` around each
            text; specials ``[PAD]`` = 0, ``[UNK]`` = 1, ``[CLS]`` = 2, ``[SEP]`` = 3) or ``bpe``
            (byte-level BPE: NFC, lowercasing when ``lowercase``; special ``<pad>`` = 0, nothing
            added around a text, so an empty text has no tokens).
        vocab_size: the largest vocabulary, special tokens included; a small corpus gives fewer.
        min_frequency: the fewest occurrences of a pair for it to be merged into a token.
        lowercase: lowercase (and, for WordPiece, strip accents) before tokenizing.

    Returns:
        A ``tokenizers.Tokenizer`` that pads to the longest text of a batch with its pad token.
        Training is deterministic: the same texts give the same vocabulary.
    """
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"kind must be one of {list(TOKENIZER_KINDS)}, got {kind!r}")
    items = _text_list(texts, "texts")
    if not any(items):
        raise ValueError("no text to train a tokenizer on: the texts are empty")
    if vocab_size < 1 or min_frequency < 1:
        raise ValueError(
            f"vocab_size and min_frequency must be at least 1, got {vocab_size} and {min_frequency}"
        )
    if kind == "wordpiece":
        tokenizer = _train_wordpiece(items, vocab_size, min_frequency, lowercase)
        pad = "[PAD]"
    else:
        tokenizer = Tokenizer(models.BPE())
        steps: list[normalizers.Normalizer] = [normalizers.NFC()]
        if lowercase:
            steps.append(normalizers.Lowercase())
        tokenizer.normalizer = normalizers.Sequence(steps)
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = tokenizer_trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(BPE_SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(items, trainer, length=len(items))
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
        pad = "<pad>"
    pad_id = tokenizer.token_to_id(pad)
    if pad_id is None:  # pragma: no cover - the trainers always keep the special tokens
        raise RuntimeError(f"the trained vocabulary lost its {pad} token")
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad)
    return tokenizer


def load_tokenizer(name_or_path: str | os.PathLike[str]) -> Tokenizer:
    """A pretrained tokenizer from a local ``tokenizer.json``, a folder holding one, or the hub.

    Args:
        name_or_path: a ``tokenizer.json`` file; a folder with a ``tokenizer.json`` (as written
            by ``tokenizer.save(folder + "/tokenizer.json")`` or by transformers'
            ``save_pretrained``); or a Hugging Face hub name such as ``bert-base-uncased``.

    Raises:
        FileNotFoundError: a local path that does not exist or a folder without tokenizer.json.
        ValueError: the hub name could not be loaded (offline, or no such tokenizer).
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        file = path / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(
                f"{path} holds no tokenizer.json; save one there with tokenizer.save("
                f"'{file}') or, for a transformers tokenizer, AutoTokenizer.from_pretrained(...)"
                f".save_pretrained('{path}') (a fast tokenizer writes tokenizer.json)"
            )
        return Tokenizer.from_file(str(file))
    if path.is_file():
        try:
            return Tokenizer.from_file(str(path))
        except Exception as error:
            raise ValueError(
                f"{path} is not a tokenizers JSON file ({error}); pass a tokenizer.json written "
                "by tokenizer.save(path) or transformers' save_pretrained"
            ) from None
    name = str(name_or_path)
    if path.is_absolute() or name.startswith((".", "~")) or name.endswith(".json"):
        raise FileNotFoundError(f"no tokenizer file or folder at {name}")
    try:
        return Tokenizer.from_pretrained(name)
    except Exception as error:
        raise ValueError(
            f"could not load the tokenizer {name!r} from the Hugging Face hub "
            f"({type(error).__name__}: {error}). Offline (no network, or HF_HUB_OFFLINE=1) a "
            "hub name loads only from the local cache; pass a local path instead: a "
            "tokenizer.json file or a folder holding one, saved on a machine with network with "
            "tokenizer.save('folder/tokenizer.json') or transformers' "
            "AutoTokenizer.from_pretrained(name).save_pretrained('folder'). Check the name too."
        ) from None


def pad_token(tokenizer: Tokenizer) -> tuple[int, str]:
    """The ``(id, token)`` a tokenizer pads with: its padding setting, else a token named like
    ``[PAD]`` or ``<pad>`` in its vocabulary."""
    padding = tokenizer.padding
    if padding is not None:
        token = str(padding["pad_token"])
        found = tokenizer.token_to_id(token)
        return (int(padding["pad_id"]) if found is None else found), token
    for token in _PAD_NAMES:
        found = tokenizer.token_to_id(token)
        if found is not None:
            return found, token
    raise ValueError(
        "the tokenizer has no padding token; add one with tokenizer.add_special_tokens(['[PAD]'])"
        " and tokenizer.enable_padding(pad_id=tokenizer.token_to_id('[PAD]'), pad_token='[PAD]')"
    )


@register_module
class TextEncoder(nn.Module):
    """Tokenize raw text and encode the tokens into one vector per text.

    The encoder holds its tokenizer: it reads a batch of the text modality (UTF-8 bytes, as
    :func:`intermodal.data.text.encode_texts` stores them) or a list of strings, tokenizes it
    (truncating to ``max_tokens``, padding to the longest text of the batch) and encodes the ids
    with a padding mask, so a text's encoding does not depend on the other texts of its batch.

    Architectures:

    - ``bag``: the mean of the token embeddings of the text, then a linear map: a bag of
      embeddings (fastText; Joulin et al. 2017, "Bag of Tricks for Efficient Text
      Classification", https://arxiv.org/abs/1607.01759).
    - ``gru``: a unidirectional GRU (Cho et al. 2014, https://arxiv.org/abs/1406.1078) over the
      embeddings, packed so that padding never enters; the hidden state at the last real token
      (of the top layer), then a linear map.
    - ``transformer``: embeddings plus learned positions through a Transformer encoder (Vaswani
      et al. 2017, "Attention Is All You Need", https://arxiv.org/abs/1706.03762) whose attention
      ignores padding, the mean over the real tokens, then a linear map.

    A text with no tokens (an empty string under a tokenizer that adds no special tokens, such as
    byte-level BPE; WordPiece adds ``[CLS]`` and ``[SEP]``) is the zero vector before the final
    linear map, so its output is that map's bias.

    Args:
        tokenizer: the tokenizer as its JSON string (``tokenizer.to_str()``), e.g. from
            :func:`train_tokenizer` or :func:`load_tokenizer`. It must have a pad token (see
            :func:`pad_token`); the embedding's padding row is that token's id.
        output_dim: size of the output features.
        architecture: ``bag``, ``gru`` or ``transformer``.
        embed_dim: size of the token embeddings (and of the GRU and Transformer states).
        max_tokens: the most tokens kept per text (special tokens included); longer texts are
            truncated. Also the size of the Transformer's position table.
        num_layers: stacked GRU or Transformer layers (unused by ``bag``).
        num_heads: attention heads of the Transformer (must divide ``embed_dim``).
        dropout: dropout on the token embeddings, between GRU layers and inside the Transformer.

    Shape:
        ``(B, L)`` uint8 bytes, or B strings ``-> (B, output_dim)``
    """

    def __init__(
        self,
        tokenizer: str,
        output_dim: int,
        architecture: str = "bag",
        embed_dim: int = 64,
        max_tokens: int = 128,
        num_layers: int = 1,
        num_heads: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not isinstance(tokenizer, str):
            raise TypeError(
                f"tokenizer must be the tokenizer's JSON string, got a {type(tokenizer).__name__};"
                " pass tokenizer.to_str() (the string is saved with the model)"
            )
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}"
            )
        if min(output_dim, embed_dim, max_tokens, num_layers) < 1:
            raise ValueError(
                "output_dim, embed_dim, max_tokens and num_layers must be at least 1, got "
                f"{output_dim}, {embed_dim}, {max_tokens} and {num_layers}"
            )
        if architecture == "transformer" and embed_dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide embed_dim={embed_dim}")
        try:
            parsed = Tokenizer.from_str(tokenizer)
        except Exception as error:
            raise ValueError(
                f"tokenizer is not a tokenizers JSON string ({error}); pass tokenizer.to_str()"
            ) from None
        self.pad_id, pad = pad_token(parsed)
        added = parsed.num_special_tokens_to_add(is_pair=False)
        if max_tokens <= added:
            raise ValueError(
                f"max_tokens={max_tokens} leaves no room for text: the tokenizer adds {added} "
                "special tokens to every text; raise max_tokens"
            )
        parsed.enable_truncation(max_length=max_tokens)
        parsed.enable_padding(direction="right", pad_id=self.pad_id, pad_token=pad)
        self.tokenizer = parsed
        self.architecture, self.output_dim, self.max_tokens = architecture, output_dim, max_tokens
        vocab_size = max([*parsed.get_vocab(with_added_tokens=True).values(), self.pad_id]) + 1
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=self.pad_id)
        nn.init.normal_(self.embedding.weight, std=embed_dim**-0.5)
        with torch.no_grad():
            self.embedding.weight[self.pad_id].zero_()
        self.dropout = nn.Dropout(dropout)
        if architecture == "gru":
            self.rnn = nn.GRU(
                embed_dim,
                embed_dim,
                num_layers=num_layers,
                batch_first=True,
                dropout=dropout if num_layers > 1 else 0.0,
            )
        elif architecture == "transformer":
            self.position = nn.Parameter(torch.zeros(max_tokens, embed_dim))
            nn.init.normal_(self.position, std=0.02)
            layer = nn.TransformerEncoderLayer(
                embed_dim,
                num_heads,
                dim_feedforward=4 * embed_dim,
                dropout=dropout,
                batch_first=True,
            )
            self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.output = nn.Linear(embed_dim, output_dim)

    def extra_repr(self) -> str:
        return (
            f"architecture={self.architecture!r}, vocab_size={self.embedding.num_embeddings}, "
            f"pad_id={self.pad_id}, max_tokens={self.max_tokens}"
        )

    def tokenize(self, x: Tensor | Sequence[str]) -> tuple[Tensor, Tensor]:
        """Token ids and attention mask of a batch, on the module's device.

        Args:
            x: a ``(B, L)`` uint8 tensor of UTF-8 bytes (a batch of a text modality) or B strings.

        Returns:
            ``(ids, mask)``: ids ``(B, T)`` int64, padded with the pad id; mask ``(B, T)`` bool,
            True at real tokens. ``T`` is the most tokens of a text in the batch (at most
            ``max_tokens``) and at least 1: a batch of texts without tokens gets one padding
            column.

        Shape:
            ``(B, L)`` uint8 or B strings ``-> (B, T), (B, T)``
        """
        texts = _text_list(x, "texts")
        device = self.embedding.weight.device
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        width = max([len(e.ids) for e in encodings] + [1])
        ids = np.full((len(texts), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=bool)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = encoding.attention_mask
        return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)

    def forward(self, x: Tensor | Sequence[str]) -> Tensor:
        ids, mask = self.tokenize(x)
        h = self.embedding(ids)
        if self.architecture == "transformer":
            h = h + self.position[: ids.shape[1]]
        h = self.dropout(h)
        present = mask.any(dim=1, keepdim=True)
        if self.architecture == "gru":
            lengths = mask.sum(dim=1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(
                h, lengths, batch_first=True, enforce_sorted=False
            )
            _, hidden = self.rnn(packed)
            pooled = hidden[-1] * present
        else:
            if self.architecture == "transformer":
                # A text without tokens attends to its first (padding) position instead of to
                # nothing, which would give NaN; its output is dropped by the pooling below.
                first = torch.arange(mask.shape[1], device=mask.device) == 0
                attend = mask | (~present & first)
                h = self.transformer(h, src_key_padding_mask=~attend)
            weights = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.output(pooled)


_TOKENIZER_OPTIONS = ("vocab_size", "min_frequency", "lowercase")


def text_encoder(
    texts: Sequence[str] | Tensor,
    output_dim: int,
    architecture: str = "bag",
    **options: Any,
) -> TextEncoder:
    """A :class:`TextEncoder` with a WordPiece tokenizer trained on ``texts`` (the training split).

    Args:
        texts: the training texts: strings, or a ``(N, L)`` uint8 tensor of a text modality.
        output_dim: size of the output features.
        architecture: ``bag``, ``gru`` or ``transformer``.
        **options: ``vocab_size``, ``min_frequency`` and ``lowercase`` go to
            :func:`train_tokenizer`; the others (``embed_dim``, ``max_tokens``, ``num_layers``,
            ``num_heads``, ``dropout``) to :class:`TextEncoder`.
    """
    tokenizer_options = {k: options.pop(k) for k in _TOKENIZER_OPTIONS if k in options}
    tokenizer = train_tokenizer(texts, kind="wordpiece", **tokenizer_options)
    return TextEncoder(tokenizer.to_str(), output_dim, architecture=architecture, **options)


__all__ = [
    "ARCHITECTURES",
    "BPE_SPECIAL_TOKENS",
    "TOKENIZER_KINDS",
    "WORDPIECE_SPECIAL_TOKENS",
    "TextEncoder",
    "load_tokenizer",
    "pad_token",
    "text_encoder",
    "train_tokenizer",
]
