from __future__ import annotations

import random
import re
import time

import numpy as np
import pandas as pd
import pytest
import torch

from intermodal.data.text import decode_texts, encode_texts, text_lengths

NON_ASCII = ["café crème", "naïve Übermensch", "日本語のテキスト", "emoji 😀🎉 end", "Ελληνικά"]


@pytest.mark.parametrize(
    "texts",
    [
        ["hello", "a longer sentence.", "x"],
        NON_ASCII,
        ["", "some text", "", "more", ""],
        ["only one string"],
        ["ß"],
    ],
)
def test_round_trip(texts: list[str]) -> None:
    data = encode_texts(texts)
    assert data.dtype == torch.uint8
    assert data.shape == (len(texts), max(len(t.encode()) for t in texts))
    assert decode_texts(data) == texts


def test_round_trip_from_numpy_and_pandas() -> None:
    texts = ["a", "bé", "", "日本"]
    assert decode_texts(encode_texts(np.array(texts))) == texts
    assert decode_texts(encode_texts(np.array(texts, dtype=object))) == texts
    assert decode_texts(encode_texts(pd.Series(texts))) == texts


def test_padding_layout_matches_a_loop() -> None:
    texts = ["ab", "", "日本", "emoji 😀", "z"]
    data = encode_texts(texts)
    width = max(len(t.encode("utf-8")) for t in texts)
    expected = torch.zeros(len(texts), width, dtype=torch.uint8)
    for i, text in enumerate(texts):
        for j, byte in enumerate(text.encode("utf-8")):
            expected[i, j] = byte
    assert torch.equal(data, expected)
    assert text_lengths(data).tolist() == [len(t.encode("utf-8")) for t in texts]


def test_rows_survive_tensor_operations() -> None:
    texts = ["first", "", "third é", "fourth 😀"]
    data = encode_texts(texts)
    assert decode_texts(data[[3, 0]]) == ["fourth 😀", "first"]
    assert decode_texts(data[torch.tensor([False, True, True, False])]) == ["", "third é"]
    assert decode_texts(torch.cat([data, data[:1]])) == [*texts, "first"]


def test_many_short_strings_are_fast() -> None:
    rng = random.Random(0)
    words = ["cat", "dog", "café", "日本", "😀", "the", "a"]
    texts = [" ".join(rng.choices(words, k=rng.randrange(12))) for _ in range(100_000)]
    start = time.perf_counter()
    data = encode_texts(texts)
    decoded = decode_texts(data)
    assert time.perf_counter() - start < 5.0
    assert decoded == texts


@pytest.mark.parametrize(
    ("value", "described"),
    [(None, "holds None"), (float("nan"), "holds a float (nan)"), (3, "holds an int (3)")],
)
def test_a_value_that_is_not_a_string_names_its_row(value: object, described: str) -> None:
    texts = ["a", "b", "c", value]
    with pytest.raises(TypeError, match=re.escape(f"column 'caption' row 3 {described}")):
        encode_texts(texts, "column 'caption'")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"fill missing texts with ''.*\.astype\(str\)"):
        encode_texts(texts)  # type: ignore[arg-type]


def test_missing_values_of_a_pandas_column() -> None:
    column = pd.Series(["a cat", "a dog", "a car", np.nan])
    with pytest.raises(TypeError, match=r"column 'caption' row 3 holds a float \(nan\)"):
        encode_texts(column, "column 'caption'")  # type: ignore[arg-type]
    assert decode_texts(encode_texts(column.fillna(""))) == ["a cat", "a dog", "a car", ""]


def test_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="no texts"):
        encode_texts([])
    with pytest.raises(ValueError, match="holds only empty strings"):
        encode_texts(["", "", ""], "the text column")


def test_nul_character_is_refused() -> None:
    with pytest.raises(ValueError, match=r"row 1 contains a NUL character"):
        encode_texts(["fine", "bad\x00text", "fine"])


def test_a_single_string_and_bad_characters_are_refused() -> None:
    with pytest.raises(TypeError, match="wrap it in a list"):
        encode_texts("one string")
    with pytest.raises(ValueError, match="row 0 cannot be written as UTF-8"):
        encode_texts(["\ud800"])


def test_decode_checks_its_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        decode_texts(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"data\[None\]"):
        decode_texts(encode_texts(["abc"])[0])
    with pytest.raises(ValueError, match="row 1 is not valid UTF-8"):
        decode_texts(torch.tensor([[97, 0], [0xC3, 0x28]], dtype=torch.uint8))
