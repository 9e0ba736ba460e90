"""The README's code blocks: every fence closed, every block valid in its language, and shell
commands safe to paste into bash and zsh alike."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[str, str, int]]:
    """(language, text, first line) of each fenced block; fails on a fence left open."""
    blocks, language, lines, start = [], None, [], 0
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            if language is None:
                language, lines, start = line[3:].strip(), [], number
            else:
                assert line.strip() == "```", f"README line {number}: a fence opens inside a block"
                blocks.append((language, "\n".join(lines), start))
                language = None
        elif language is not None:
            lines.append(line)
    assert language is None, f"README: the block opened on line {start} is never closed"
    return blocks


def test_every_block_is_closed_and_valid_in_its_language() -> None:
    blocks = _blocks()
    assert {language for language, _, _ in blocks} >= {"bash", "python", "yaml"}
    for language, text, start in blocks:
        if language == "python":
            ast.parse(text, filename=f"README.md:{start}")
        elif language == "yaml":
            assert isinstance(yaml.safe_load(text), dict), f"README line {start}"


@pytest.mark.parametrize("unquoted", ["intermodal bench --methods unimodal[pix]", "ls *.py"])
def test_the_glob_check_catches_unquoted_patterns(unquoted: str) -> None:
    assert _unquoted_glob(unquoted)


def _unquoted_glob(command: str) -> bool:
    """Whether a shell line has a ``[``, ``*`` or ``?`` outside quotes and comments, which zsh
    expands as a pattern (and fails on when nothing matches)."""
    bare = re.sub(r"'[^']*'|\"[^\"]*\"", "", command.split(" #")[0])
    return bool(re.search(r"[\[\]*?]", bare))


def test_shell_commands_quote_brackets_and_globs() -> None:
    for language, text, start in _blocks():
        if language == "bash":
            for offset, line in enumerate(text.splitlines()):
                assert not _unquoted_glob(line), f"README line {start + offset + 1}: quote {line!r}"


def test_the_python_quick_start_predicts_on_raw_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quick start, run as written (with 2 epochs instead of 100, to stay quick): its saved
    model, loaded, scores raw test data as the trained model scores data standardized the old
    way, by hand."""
    from intermodal.data import Standardizer
    from intermodal.metrics import evaluate
    from intermodal.models import bare_model

    quick = next(
        text for language, text, _ in _blocks() if language == "python" and "save_model" in text
    )
    assert "preprocess=True" in quick and "max_epochs=100" in quick
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(quick.replace("max_epochs=100", "max_epochs=2"), "README.md", "exec"), namespace)
    splits, trained, loaded = namespace["splits"], namespace["result"].model, namespace["model"]
    reference = Standardizer().fit(splits.train).transform(splits.test)
    expected = evaluate(bare_model(trained), reference)
    assert evaluate(loaded, splits.test) == evaluate(trained, splits.test) == expected
    assert (tmp_path / "fou-pix-model" / "config.json").is_file()
