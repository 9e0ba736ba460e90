"""The bank: synthetic data sets with known interactions, and how every method did on each.

``bank.json`` (beside this module, rebuilt by ``scripts/build_bank.py``) holds, per entry, the
construction of a synthetic classification set (:mod:`intermodal.recommend.mixtures` or
:func:`intermodal.data.make_interaction_dataset`), its interaction profile measured by the same
probes a user's data goes through (:func:`intermodal.recommend.probes.interaction_profile`), and
each candidate method's mean test and validation accuracy from the benchmark
(:func:`intermodal.bench.run_benchmark`). Per-modality methods are stored by role:
``unimodal[strong]`` and ``unimodal[weak]`` are the models of the entry's stronger and weaker
modality (by linear probe), which a recommendation maps onto the user's strongest and weakest.

Distance: the Euclidean distance between normalized, oriented profiles, the vectors
(R, U_strong, U_weak, S) that sum to one (``PARTS``), as Liang et al. (NeurIPS 2023) match a data
set to its nearest synthetic one. It lies in [0, sqrt(2)]: 0 for the same mixture, sqrt(2)
between two pure, different interactions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from intermodal.recommend.probes import PARTS

BANK_FORMAT = "intermodal-interaction-bank"
"""The ``format`` field of a bank file."""
BANK_VERSION = 1
"""The version of the bank's layout this module reads."""
BANK_PATH = Path(__file__).with_name("bank.json")
"""The bank shipped with the package."""
ROLES = ("strong", "weak")
"""The modality roles of per-modality method names in the bank."""
PROVENANCE = ("command", "date", "package_version", "trials", "seeds", "samples", "epochs")
"""Fields every bank's provenance states."""


class BankError(ValueError):
    """A bank file that cannot be used: unreadable, of another format or version, or with
    missing or malformed fields."""


@dataclass(frozen=True)
class BankEntry:
    """One synthetic data set of the bank.

    ``normalized``: its profile (R, U_strong, U_weak, S) summing to one; ``scores``: method ->
    ``{"test": mean test accuracy, "val": mean validation accuracy}``; ``profile``: the full
    probe results; ``construction``: how to generate it again."""

    name: str
    description: str
    normalized: dict[str, float]
    scores: dict[str, dict[str, float]]
    profile: dict[str, Any] = field(default_factory=dict)
    construction: dict[str, Any] = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        return np.array([self.normalized[p] for p in PARTS])

    def relative(self) -> dict[str, float]:
        """Each method's test score divided by the entry's best test score."""
        best = max(s["test"] for s in self.scores.values())
        return {m: (s["test"] / best if best > 0 else 0.0) for m, s in self.scores.items()}


@dataclass(frozen=True)
class Bank:
    """A validated bank: ``entries``, the ``metric`` of their scores, the ``provenance`` of the
    build and the ``methods`` every entry scored."""

    entries: list[BankEntry]
    metric: str
    provenance: dict[str, Any]
    methods: list[str]
    version: int = BANK_VERSION

    def mean_relative(self) -> dict[str, float]:
        """Each method's relative score (test / best test) averaged over the entries."""
        per = [e.relative() for e in self.entries]
        return {m: float(np.mean([r[m] for r in per])) for m in self.methods}


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two normalized profiles ``(4,)`` (see the module docstring)."""
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def nearest(vector: np.ndarray, bank: Bank, k: int = 3) -> list[tuple[BankEntry, float]]:
    """The ``k`` entries closest to ``vector`` (R, U_strong, U_weak, S), nearest first (a tie
    keeps the bank's order)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    found = [(entry, distance(vector, entry.vector())) for entry in bank.entries]
    return sorted(found, key=lambda pair: pair[1])[:k]


def _need(values: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(values, dict) or key not in values:
        raise BankError(f"{where} lacks the field {key!r}")
    value = values[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BankError(f"{where}: {key!r} must be a {getattr(kind, '__name__', kind)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BankError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def parse_bank(document: Any, source: str = "the bank") -> Bank:
    """A :class:`Bank` from the parsed JSON of a bank file, every field checked.

    Raises:
        BankError: another format, an unknown version, or a missing or malformed field (the
            message names it and says how to rebuild the bank).
    """
    rebuild = "; rebuild it with scripts/build_bank.py"
    if not isinstance(document, dict) or document.get("format") != BANK_FORMAT:
        raise BankError(f"{source} is not an interaction bank (format {BANK_FORMAT!r}){rebuild}")
    version = document.get("version")
    if version != BANK_VERSION:
        raise BankError(
            f"{source} has bank version {version!r}; this intermodal reads version "
            f"{BANK_VERSION}{rebuild}"
        )
    try:
        metric = _need(document, "metric", str, source)
        provenance = _need(document, "provenance", dict, source)
        for key in PROVENANCE:
            _need(provenance, key, object, f"{source}'s provenance")
        methods = _need(document, "methods", list, source)
        if not methods or not all(isinstance(m, str) for m in methods):
            raise BankError(f"{source}: 'methods' must be a non-empty list of names")
        raw = _need(document, "entries", list, source)
        if not raw:
            raise BankError(f"{source} has no entries")
        entries = []
        for i, item in enumerate(raw):
            where = f"{source}, entry {i}"
            name = _need(item, "name", str, where)
            where = f"{source}, entry {name!r}"
            normalized = _need(item, "normalized", dict, where)
            vector = [_number(normalized.get(p), f"{where}: normalized[{p!r}]") for p in PARTS]
            if min(vector) < 0 or abs(sum(vector) - 1.0) > 1e-3:
                raise BankError(f"{where}: the normalized profile must be >= 0 and sum to one")
            scores = _need(item, "scores", dict, where)
            missing = sorted(set(methods) - set(scores))
            if missing:
                raise BankError(f"{where} has no scores of {missing}")
            checked = {}
            for method, value in scores.items():
                if not isinstance(value, dict):
                    raise BankError(f"{where}: the scores of {method!r} must be a mapping")
                checked[method] = {
                    part: _number(value.get(part), f"{where}: {method} {part}")
                    for part in ("test", "val")
                }
            entries.append(
                BankEntry(
                    name,
                    str(item.get("description", "")),
                    dict(zip(PARTS, vector, strict=True)),
                    checked,
                    dict(item.get("profile", {})),
                    dict(item.get("construction", {})),
                )
            )
    except BankError:
        raise
    except (TypeError, AttributeError) as error:  # a field of the wrong shape deeper down
        raise BankError(f"{source} is malformed ({error}){rebuild}") from None
    return Bank(entries, metric, provenance, list(methods), version)


def load_bank(path: str | Path | None = None) -> Bank:
    """Read and validate a bank file (default: the one shipped with the package)."""
    path = BANK_PATH if path is None else Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BankError(f"no bank at {path}; build it with scripts/build_bank.py") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BankError(
            f"{path} is not valid JSON ({error}); rebuild it with scripts/build_bank.py"
        ) from None
    return parse_bank(document, str(path))


def role_name(method: str, strong: str, weak: str) -> str:
    """A run's method name with its modality replaced by its role: ``unimodal[x1]`` ->
    ``unimodal[strong]`` when x1 is the stronger modality."""
    base, _, view = method.partition("[")
    view = view.rstrip("]")
    if not view:
        return method
    if view not in (strong, weak):
        raise ValueError(f"{method}: modality {view!r} is neither {strong!r} nor {weak!r}")
    return f"{base}[{'strong' if view == strong else 'weak'}]"


def concrete_name(method: str, strongest: str, weakest: str) -> str:
    """A bank method name with its role replaced by the data's modality: ``unimodal[strong]``
    -> ``unimodal[fac]``."""
    base, _, view = method.partition("[")
    view = view.rstrip("]")
    if not view:
        return method
    if view not in ROLES:
        raise BankError(f"bank method {method!r} names {view!r}, not a role {ROLES}")
    return f"{base}[{strongest if view == 'strong' else weakest}]"
