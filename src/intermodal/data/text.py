"""Text as a tensor: each string stored as a row of UTF-8 bytes, zero-padded.

A text modality of N strings is a ``(N, L)`` uint8 tensor: row ``i`` holds the UTF-8 bytes of
string ``i`` followed by zeros up to ``L``, the length in bytes of the longest string (at least
1). Every tensor operation of the data model (subsets, masks, batching, device moves) then works
on text unchanged, and a text encoder turns a batch of rows back into strings with
:func:`decode_texts`. Because zero is the padding byte, a string may not contain the NUL
character.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from intermodal.errors import DataTypeError

_HOW_TO_FIX = (
    "fill missing texts with '' and mark the modality absent, or convert the column with "
    ".astype(str)"
)


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    if isinstance(value, float | np.floating) and math.isnan(value):
        return f"{article} {name} (nan)"
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{article} {name} ({shown})"


def _as_list(texts: Sequence[str] | np.ndarray, what: str) -> list[Any]:
    if isinstance(texts, str | bytes):
        raise DataTypeError(
            f"{what} must be a sequence of strings (one per sample), got a single "
            f"{type(texts).__name__}; wrap it in a list"
        )
    if isinstance(texts, Tensor):
        raise DataTypeError(
            f"{what} must be a sequence of strings, got a tensor; use decode_texts to read a "
            "tensor of UTF-8 bytes back into strings"
        )
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"{what} must be one string per sample (N,), got shape {texts.shape}")
        return texts.tolist()
    tolist = getattr(texts, "tolist", None)  # a pandas Series or Index
    return list(tolist()) if callable(tolist) else list(texts)


def encode_texts(texts: Sequence[str] | np.ndarray, what: str = "text") -> Tensor:
    """Store strings as a ``(N, L)`` uint8 tensor of UTF-8 bytes, each row zero-padded.

    Args:
        texts: N strings (a list, a 1-D NumPy array of ``str`` or ``object``, a pandas Series).
            Empty strings are allowed (an absent text is ``''`` with the modality's mask False);
            the NUL character is not, since zero bytes are the padding.
        what: how error messages name the texts, e.g. ``"column 'caption'"``.

    Returns:
        A uint8 tensor of shape ``(N, L)`` with ``L = max(1, longest string in bytes)``; row ``i``
        holds the bytes of ``texts[i]`` then zeros.

    Raises:
        TypeError: a value is not a string (None, NaN, a number); the message names the row.
        ValueError: no texts, every text empty, a NUL character, or a string that cannot be
            written as UTF-8 (a lone surrogate).

    Shape:
        ``N strings -> (N, L)`` uint8
    """
    items = _as_list(texts, what)
    if not items:
        raise ValueError(f"{what} is empty: there are no texts to store")
    for row, value in enumerate(items):
        if not isinstance(value, str):
            raise DataTypeError(
                f"{what} row {row} holds {_describe(value)}, not a string; {_HOW_TO_FIX}"
            )
    encoded: list[bytes] = []
    for row, value in enumerate(items):
        try:
            encoded.append(value.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise ValueError(
                f"{what} row {row} cannot be written as UTF-8 ({error.reason} at character "
                f"{error.start}); remove or replace the invalid characters"
            ) from None
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    longest = int(lengths.max())
    if longest == 0:
        raise ValueError(
            f"{what} holds only empty strings; a text modality needs some text (drop the "
            "modality, or fill in the texts)"
        )
    flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    zeros = np.flatnonzero(flat == 0)
    if len(zeros):
        row = int(np.searchsorted(starts, zeros[0], side="right")) - 1
        raise ValueError(
            f"{what} row {row} contains a NUL character ('\\x00'), which text storage reserves "
            "for padding; remove it (e.g. with .str.replace('\\x00', ''))"
        )
    out = np.zeros((len(encoded), longest), dtype=np.uint8)
    rows = np.repeat(np.arange(len(encoded)), lengths)
    columns = np.arange(len(flat)) - np.repeat(starts, lengths)
    out[rows, columns] = flat
    return torch.from_numpy(out)


def text_lengths(data: Tensor) -> Tensor:
    """The length in bytes of each row of a text tensor (the position after its last nonzero byte).

    Shape:
        ``(N, L)`` uint8 -> ``(N,)`` int64
    """
    _check_bytes(data)
    nonzero = data != 0
    width = data.shape[1]
    last = width - torch.flip(nonzero, dims=(1,)).to(torch.int8).argmax(dim=1)
    return torch.where(nonzero.any(dim=1), last, torch.zeros_like(last))


def _check_bytes(data: Tensor) -> None:
    if not isinstance(data, Tensor):
        raise DataTypeError(
            f"text data must be a uint8 tensor of UTF-8 bytes (N, L), got a {type(data).__name__}"
        )
    if data.dtype != torch.uint8 or data.ndim != 2:
        raise ValueError(
            f"text data must be a uint8 tensor of UTF-8 bytes of shape (N, L) as encode_texts "
            f"writes it, got {data.dtype} of shape {tuple(data.shape)}"
            + ("; for one sample use data[None]" if data.ndim == 1 else "")
        )


def decode_texts(data: Tensor) -> list[str]:
    """Read strings back from a ``(N, L)`` uint8 tensor written by :func:`encode_texts`.

    Trailing zero bytes are padding and are dropped.

    Raises:
        ValueError: ``data`` is not a 2-D uint8 tensor, or a row is not valid UTF-8.

    Shape:
        ``(N, L)`` uint8 -> N strings
    """
    _check_bytes(data)
    lengths = text_lengths(data).tolist()
    width = data.shape[1]
    raw = data.detach().cpu().contiguous().numpy().tobytes()
    texts: list[str] = []
    for row, length in enumerate(lengths):
        start = row * width
        try:
            texts.append(raw[start : start + length].decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(
                f"text row {row} is not valid UTF-8 ({error.reason} at byte {error.start}); the "
                "tensor was not written by encode_texts, or it is not a text modality"
            ) from None
    return texts


__all__ = ["decode_texts", "encode_texts", "text_lengths"]
