"""Build the interaction bank ``src/intermodal/recommend/bank.json``: every candidate method's
benchmark scores on synthetic data sets with known interactions.

For each construction of ``intermodal.recommend.mixtures.BANK_SETS`` (``BANK_SAMPLES`` samples,
seed ``BANK_SEED + position``) it measures the interaction profile with the probes a user's
data goes through, runs the benchmark (``run_benchmark``) on the candidate methods with the same
budget for every method and records each method's mean test and validation accuracy over the
seeds, per-modality methods by role (``unimodal[strong]``, ``unimodal[weak]``).

Fair comparison: with ``--trials N`` every method is tuned with N trials, the same for all, where
the benchmark's configuration has a ``trials`` setting; otherwise (or with ``--trials 0``) every
method trains with its defaults, and the provenance says trials 0.

Candidates: the neural fusions of the fusion registry that apply to two vector modalities
(``very-early`` reads ordered signals, so it does not apply to the bank's unordered features),
``linear``, ``gbdt`` and ``unimodal``. Left out for time: ``search`` (an architecture search that
trains several fusions per run), the coordination and fission methods.

Run (untuned, `--trials 0`: about 14 minutes on 2 busy cores; tuned, about five times as long):

    python scripts/build_bank.py [--trials N] [--seeds 1] [--epochs 30] [--jobs 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

import intermodal
from intermodal._io import write_text_atomic
from intermodal.bench.config import DEFAULT_TRIALS, BenchConfig
from intermodal.bench.runner import run_benchmark
from intermodal.fusion.registry import FUSIONS
from intermodal.recommend.bank import BANK_FORMAT, BANK_PATH, BANK_VERSION, parse_bank, role_name
from intermodal.recommend.mixtures import (
    BANK_SAMPLES,
    BANK_SEED,
    BANK_SETS,
    build_set,
    describe_set,
)
from intermodal.recommend.probes import interaction_profile

LEFT_OUT = {"very-early": "reads ordered signals; the bank's features are unordered"}
"""Fusions of the registry that are not candidates, and why."""


def candidates() -> list[str]:
    """The candidate methods: ``unimodal``, ``linear``, ``gbdt`` and the registry's fusions."""
    fusions = [name for name in FUSIONS if name not in LEFT_OUT]
    return ["unimodal", "linear", "gbdt", *fusions]


def has_trials() -> bool:
    """Whether the benchmark's configuration takes a ``trials`` setting (tuning)."""
    return any(f.name == "trials" for f in dataclasses.fields(BenchConfig))


def build(args: argparse.Namespace) -> dict[str, Any]:
    methods = candidates()
    trials = args.trials if has_trials() else 0
    if args.trials and not trials:
        print("BenchConfig has no 'trials' setting: the methods train untuned", file=sys.stderr)
    settings: dict[str, Any] = {
        "methods": ",".join(methods),
        "seeds": args.seeds,
        "epochs": args.epochs,
        "patience": args.patience,
        "report": False,
        "progress": False,
        "jobs": args.jobs,
    }
    if trials:
        settings["trials"] = trials
    started = time.perf_counter()
    entries = []
    names: list[str] | None = None
    for position, construction in enumerate(BANK_SETS[: args.limit or None]):
        construction = {**construction, "n": args.samples, "seed": BANK_SEED + position}
        data = build_set(construction)
        clock = time.perf_counter()
        profile = interaction_profile(data, seed=0)
        pair = profile.pairs[0]
        result = run_benchmark(data, **settings)
        means = result.runs.groupby("method", sort=False)[["accuracy", "val_accuracy"]].mean()
        scores = {
            role_name(str(method), pair.strong, pair.weak): {
                "test": round(float(row["accuracy"]), 6),
                "val": round(float(row["val_accuracy"]), 6),
            }
            for method, row in means.iterrows()
        }
        names = names or list(scores)
        entries.append(
            {
                "name": data.name,
                "description": describe_set(construction),
                "construction": construction,
                "normalized": profile.normalized,
                "profile": profile.as_dict(),
                "scores": scores,
            }
        )
        best = max(scores, key=lambda m: scores[m]["test"])
        print(
            f"{data.name}: R/Us/Uw/S "
            + " ".join(f"{v:.2f}" for v in profile.normalized.values())
            + f", best {best} {scores[best]['test']:.3f} ({time.perf_counter() - clock:.0f} s)",
            file=sys.stderr,
        )
    seconds = time.perf_counter() - started
    return {
        "format": BANK_FORMAT,
        "version": BANK_VERSION,
        "metric": "accuracy",
        "methods": names or [],
        "provenance": {
            "command": " ".join(["python", "scripts/build_bank.py", *sys.argv[1:]]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "package_version": intermodal.__version__,
            "trials": trials,
            "seeds": list(range(args.seeds)),
            "samples": args.samples,
            "epochs": args.epochs,
            "patience": args.patience,
            "candidates": methods,
            "left_out": {**LEFT_OUT, "search": "architecture search: several fusions per run"},
            "build_seconds": round(seconds, 1),
            "jobs": args.jobs,
        },
        "entries": entries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trials",
        type=int,
        default=DEFAULT_TRIALS,
        help=f"tuning trials per method (default: {DEFAULT_TRIALS}, as the benchmark)",
    )
    parser.add_argument("--seeds", type=int, default=1, help="seeds per method (default: 1)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs at most (default: 30)")
    parser.add_argument("--patience", type=int, default=5, help="early stopping (default: 5)")
    parser.add_argument("--samples", type=int, default=BANK_SAMPLES, help="samples per set")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (default: 2)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N sets (testing)")
    parser.add_argument("--output", type=Path, default=BANK_PATH, help="the bank file to write")
    args = parser.parse_args()
    document = build(args)
    parse_bank(document, "the new bank")  # what is written must read back
    write_text_atomic(args.output, json.dumps(document, indent=1) + "\n")
    print(
        f"{len(document['entries'])} entries written to {args.output} in "
        f"{document['provenance']['build_seconds']:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
