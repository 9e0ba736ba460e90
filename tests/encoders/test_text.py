from __future__ import annotations

import copy
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models
from torch import nn

from intermodal.data.text import encode_texts
from intermodal.encoders.text import (
    ARCHITECTURES,
    TextEncoder,
    load_tokenizer,
    pad_token,
    text_encoder,
    train_tokenizer,
)
from intermodal.saving import load_model, save_model

ANIMALS = [
    "The cat sleeps on the warm sofa.",
    "A dog runs across the green park.",
    "My cat likes to chase a small mouse.",
    "The old dog barks at the mailman.",
    "Her cat sat quietly by the window.",
    "That dog loves long walks in the rain.",
    "A black cat crossed the quiet street.",
    "The happy dog wagged its tail.",
    "Our cat eats fish every evening.",
    "The little dog hid under the table.",
    "A grey cat climbed the tall tree.",
    "His dog fetched the red ball again.",
    "The lazy cat yawned in the sun.",
    "Every dog in town knows that bakery.",
    "The cat purrs when it is happy.",
    "A loyal dog waited at the door.",
    "The kitten and the cat play together.",
    "The dog chewed an old shoe.",
    "A cat jumped onto the kitchen shelf.",
    "The dog swam across the cold lake.",
    "Nobody saw the cat leave the house.",
    "The big dog guards the farm at night.",
    "A curious cat watched the birds.",
    "The dog slept beside the fire.",
    "The cat knocked a cup off the desk.",
]
VEHICLES = [
    "The car stopped at the red light.",
    "A bus drives past the green park.",
    "My car needs new tires soon.",
    "The old bus broke down near the station.",
    "Her car is parked by the window.",
    "That bus is always late in the rain.",
    "A black car crossed the quiet street.",
    "The new bus has comfortable seats.",
    "Our car uses very little fuel.",
    "The little bus climbs the steep hill.",
    "A grey car waited at the crossing.",
    "His car was washed again today.",
    "The school bus picks up children early.",
    "Every bus in town stops at the square.",
    "The car engine makes a strange noise.",
    "A red bus turned at the corner.",
    "The car and the truck share the road.",
    "The bus driver smiled at everyone.",
    "A car raced along the coastal road.",
    "The bus was crowded this morning.",
    "Nobody saw the car leave the garage.",
    "The night bus runs until three.",
    "A small car fits in the narrow lane.",
    "The bus waited beside the market.",
    "The car alarm rang all night.",
]
CORPUS = ANIMALS + VEHICLES
LONG_TEXT = " ".join(CORPUS[:12])


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # These tensors are tiny: intra-op threads gain nothing and only contend on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def wordpiece() -> Tokenizer:
    return train_tokenizer(CORPUS, vocab_size=400)


@pytest.fixture(scope="module")
def bpe() -> Tokenizer:
    return train_tokenizer(CORPUS, kind="bpe", vocab_size=400)


def make_encoder(tokenizer: Tokenizer, architecture: str, **options: object) -> TextEncoder:
    torch.manual_seed(0)
    options = {"embed_dim": 16, "num_heads": 2, **options}
    return TextEncoder(tokenizer.to_str(), 6, architecture=architecture, **options)  # type: ignore[arg-type]


def assert_near(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5) -> None:
    """Equal shapes and every entry within ``atol`` (float32 rounding by default)."""
    assert actual.shape == expected.shape
    difference = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert difference <= atol, f"largest difference {difference:.3g} exceeds {atol:g}"


def words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def test_wordpiece_special_tokens_and_ids(wordpiece: Tokenizer) -> None:
    assert [wordpiece.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]")] == [0, 1, 2, 3]
    assert pad_token(wordpiece) == (0, "[PAD]")
    encoding = wordpiece.encode("the cat")
    assert encoding.tokens[0] == "[CLS]" and encoding.tokens[-1] == "[SEP]"
    assert wordpiece.encode("").tokens == ["[CLS]", "[SEP]"]


def test_wordpiece_decoding_recovers_the_lowercased_words(wordpiece: Tokenizer) -> None:
    for sentence in CORPUS:
        ids = wordpiece.encode(sentence).ids
        assert wordpiece.token_to_id("[UNK]") not in ids
        assert words(wordpiece.decode(ids)) == words(sentence)


def test_vocabulary_comes_only_from_the_training_texts(wordpiece: Tokenizer) -> None:
    vocabulary = wordpiece.get_vocab()
    training_text = " ".join(words(" ".join(CORPUS)))
    for token in vocabulary:
        if token not in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
            assert token.removeprefix("##") in training_text
    held_out = "A zebra grazes calmly."
    assert "zebra" not in vocabulary and "grazes" not in vocabulary
    tokens = wordpiece.encode(held_out).tokens
    assert "zebra" not in tokens
    assert all(t == "[UNK]" or t in vocabulary for t in tokens)


def test_training_is_deterministic() -> None:
    first = train_tokenizer(CORPUS, vocab_size=150).to_str()
    for _ in range(4):
        assert train_tokenizer(CORPUS, vocab_size=150).to_str() == first
    first_bpe = train_tokenizer(CORPUS, kind="bpe", vocab_size=300).to_str()
    assert train_tokenizer(CORPUS, kind="bpe", vocab_size=300).to_str() == first_bpe


def test_byte_level_bpe_has_no_unknown_text(bpe: Tokenizer) -> None:
    assert pad_token(bpe) == (0, "<pad>")
    assert bpe.encode("").ids == []
    for text in ["A zebra grazes calmly.", "café 日本語 😀"]:
        assert bpe.decode(bpe.encode(text).ids).strip() == text.lower()


def test_tokenizer_training_options_are_checked() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        train_tokenizer(CORPUS, kind="sentencepiece")
    with pytest.raises(ValueError, match="texts are empty"):
        train_tokenizer(["", ""])
    with pytest.raises(TypeError, match="row 1"):
        train_tokenizer(["fine", None])  # type: ignore[list-item]


def test_tokenize_gives_ids_and_mask_padded_to_the_longest(wordpiece: Tokenizer) -> None:
    encoder = make_encoder(wordpiece, "bag", max_tokens=8)
    texts = ["the cat", LONG_TEXT, ""]
    ids, mask = encoder.tokenize(encode_texts(texts))
    assert ids.dtype == torch.int64 and mask.dtype == torch.bool
    assert ids.shape == mask.shape == (3, 8)
    expected = [wordpiece.encode(t).ids for t in ("the cat", "")]
    assert ids[0, :4].tolist() == expected[0] and mask[0].tolist() == [True] * 4 + [False] * 4
    assert ids[2, :2].tolist() == expected[1] and mask[2].sum() == 2
    assert mask[1].all() and ids[1, -1] == wordpiece.token_to_id("[SEP]")
    assert (ids[~mask] == 0).all()
    same_ids, same_mask = encoder.tokenize(texts)
    assert torch.equal(same_ids, ids) and torch.equal(same_mask, mask)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_encoding_does_not_depend_on_the_rest_of_the_batch(
    architecture: str, kind: str, wordpiece: Tokenizer, bpe: Tokenizer
) -> None:
    encoder = make_encoder(wordpiece if kind == "wordpiece" else bpe, architecture).eval()
    texts = ["the cat sleeps", "", "a bus"]
    with torch.no_grad():
        alone = torch.cat([encoder([t]) for t in texts])
        beside_long = encoder(encode_texts([*texts, LONG_TEXT]))[:3]
    assert torch.isfinite(beside_long).all()
    assert_near(beside_long, alone, atol=1e-6)


def test_bag_is_the_mean_of_the_real_token_embeddings(wordpiece: Tokenizer) -> None:
    encoder = make_encoder(wordpiece, "bag").eval()
    texts = ["the cat sleeps on the sofa", "a bus", LONG_TEXT]
    rows = []
    for text in texts:
        ids = torch.tensor(wordpiece.encode(text).ids)
        rows.append(encoder.embedding.weight[ids].mean(dim=0))
    expected = torch.stack(rows) @ encoder.output.weight.T + encoder.output.bias
    assert_near(encoder(texts), expected)


def test_gru_and_transformer_match_the_unpadded_computation(wordpiece: Tokenizer) -> None:
    texts = ["the cat sleeps on the sofa", "a bus", LONG_TEXT]
    gru = make_encoder(wordpiece, "gru", num_layers=2).eval()
    transformer = make_encoder(wordpiece, "transformer", num_layers=2).eval()
    with torch.no_grad():
        for i, text in enumerate(texts):
            ids = torch.tensor([wordpiece.encode(text).ids])
            _, hidden = gru.rnn(gru.embedding(ids))
            assert_near(gru(texts)[i], gru.output(hidden[-1, 0]))
            h = transformer.embedding(ids) + transformer.position[: ids.shape[1]]
            pooled = transformer.transformer(h).mean(dim=1)[0]
            assert_near(transformer(texts)[i], transformer.output(pooled))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_text_without_tokens_is_the_zero_vector(architecture: str, bpe: Tokenizer) -> None:
    encoder = make_encoder(bpe, architecture).eval()
    with torch.no_grad():
        out = encoder(["", "the cat", ""])
        only_empty = encoder(["", ""])
    assert_near(out[[0, 2]], encoder.output.bias.expand(2, -1))
    assert_near(only_empty, encoder.output.bias.expand(2, -1))
    assert encoder.tokenize(["", ""])[0].shape == (2, 1)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_gradients_reach_every_parameter(architecture: str, wordpiece: Tokenizer) -> None:
    encoder = make_encoder(wordpiece, architecture, num_layers=2)
    encoder(encode_texts(CORPUS[:8])).pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name
    assert encoder.embedding.weight.grad is not None
    assert (encoder.embedding.weight.grad[0] == 0).all()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_save_and_load_carry_the_tokenizer(
    architecture: str, wordpiece: Tokenizer, tmp_path: Path
) -> None:
    encoder = make_encoder(wordpiece, architecture).eval()
    directory = save_model(encoder, tmp_path / "model")
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((directory / "config.json").read_text())
    assert config["model"]["class"] == "TextEncoder"
    assert config["model"]["config"]["tokenizer"] == wordpiece.to_str()
    loaded = load_model(directory)
    assert isinstance(loaded, TextEncoder)
    raw = ["a zebra and a cat", "", LONG_TEXT]
    with torch.no_grad():
        assert_near(loaded(raw), encoder(raw), atol=0.0)
        assert_near(loaded(encode_texts(raw)), encoder(raw), atol=0.0)


def test_deep_copy_keeps_the_tokenizer(wordpiece: Tokenizer) -> None:
    encoder = make_encoder(wordpiece, "gru").eval()
    clone = copy.deepcopy(encoder)
    with torch.no_grad():
        assert_near(clone(CORPUS[:4]), encoder(CORPUS[:4]))


def sentences(count: int, rng: random.Random) -> tuple[list[str], list[int]]:
    """``count`` sentences about a cat or a dog (class 0) and the same about a car or a bus
    (class 1): the other words are shared, so only the noun tells the classes apart."""
    adjectives = ["big", "small", "red", "old", "new", "quiet"]
    verbs = ["is", "was", "stays", "waits", "stopped"]
    places = ["near the house", "in the street", "by the park", "at the corner", "over there"]
    texts, labels = [], []
    for _ in range(count):
        adjective, verb, place = rng.choice(adjectives), rng.choice(verbs), rng.choice(places)
        for label, nouns in enumerate((["cat", "dog"], ["car", "bus"])):
            texts.append(f"The {adjective} {rng.choice(nouns)} {verb} {place}.")
            labels.append(label)
    return texts, labels


def test_bag_encoder_learns_to_separate_animals_from_vehicles() -> None:
    rng = random.Random(0)
    torch.manual_seed(0)
    train_texts, train_labels = sentences(10, rng)
    test_texts, test_labels = sentences(10, rng)
    encoder = text_encoder(train_texts, 8, architecture="bag", embed_dim=16, dropout=0.0)
    model = nn.Sequential(encoder, nn.Linear(8, 2))
    data, labels = encode_texts(train_texts), torch.tensor(train_labels)
    for _ in range(200):  # full-batch gradient descent
        model.zero_grad()
        nn.functional.cross_entropy(model(data), labels).backward()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= 0.5 * parameter.grad
    model.eval()
    with torch.no_grad():
        predicted = model(encode_texts(test_texts)).argmax(dim=1)
    assert predicted.tolist() == test_labels


def test_text_encoder_trains_its_tokenizer_on_the_given_texts() -> None:
    encoder = text_encoder(encode_texts(CORPUS), 4, architecture="gru", vocab_size=100)
    assert isinstance(encoder, TextEncoder)
    assert encoder.embedding.num_embeddings <= 100
    assert encoder.tokenizer.token_to_id("[PAD]") == 0 and encoder.pad_id == 0
    assert encoder(CORPUS[:3]).shape == (3, 4)


def test_encoder_options_are_checked(wordpiece: Tokenizer) -> None:
    with pytest.raises(TypeError, match=r"to_str\(\)"):
        TextEncoder(wordpiece, 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="architecture must be one of"):
        TextEncoder(wordpiece.to_str(), 4, architecture="lstm")
    with pytest.raises(ValueError, match="must divide"):
        TextEncoder(wordpiece.to_str(), 4, architecture="transformer", embed_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="leaves no room"):
        TextEncoder(wordpiece.to_str(), 4, max_tokens=2)
    with pytest.raises(ValueError, match="not a tokenizers JSON"):
        TextEncoder("{not json", 4)
    no_pad = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(ValueError, match="no padding token"):
        TextEncoder(no_pad.to_str(), 4)


def test_load_tokenizer_from_a_file_and_a_folder(wordpiece: Tokenizer, tmp_path: Path) -> None:
    wordpiece.save(str(tmp_path / "tokenizer.json"))
    for source in (tmp_path / "tokenizer.json", tmp_path, str(tmp_path)):
        loaded = load_tokenizer(source)
        assert loaded.encode("the cat").ids == wordpiece.encode("the cat").ids
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no tokenizer\.json"):
        load_tokenizer(empty)
    with pytest.raises(FileNotFoundError, match="no tokenizer file or folder"):
        load_tokenizer(tmp_path / "missing.json")


def test_load_tokenizer_offline_says_how_to_pass_a_local_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable when first imported; set its flag too in case it was.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="could not load the tokenizer") as error:
        load_tokenizer("intermodal-test/no-such-tokenizer")
    message = str(error.value)
    assert "HF_HUB_OFFLINE" in message and "local path" in message
    assert "tokenizer.json" in message and "save_pretrained" in message
