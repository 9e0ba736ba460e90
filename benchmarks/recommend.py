"""Does ``intermodal recommend`` pick good methods? Checked against the benchmark, not asserted.

For each data set: recommend the top 3 methods from the data's interactions (nothing trains but
the probes), then run the benchmark on every candidate method of the bank (the same settings
as ``scripts/build_bank.py``: 1 seed, 30 epochs at most, patience 5, untuned unless the bank was
tuned) and report "% of best": the test accuracy of the validation-best among the 3 recommended
methods divided by the best test accuracy of all candidates. The same for the fixed
recommendation that ignores the data (the 3 applicable methods best on average over the bank).

Data sets: view pairs of UCI Multiple Features, AV-digits (spoken and handwritten digits, when
the FSDD recordings are at ``--fsdd``; 1,000 samples), and synthetic sets held out from the bank
(other mixtures, noise levels and seeds). The small real-format fixture (``mfeat-200.mat`` of
``scripts/build_small_sets.py``, 200 samples of 10 classes) is too small for a PID estimate
(2 cells per modality need 400 samples), which the script shows.

Also times ``recommend`` on mfeat (six views, 15 pairs) and on a 10,000-sample synthetic set.

Run: python benchmarks/recommend.py [--fsdd ../shared/data/fsdd] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from intermodal.bench.runner import run_benchmark
from intermodal.data import load_mfeat, make_interaction_dataset
from intermodal.data.dataset import MultimodalDataset
from intermodal.recommend import ProfileError, compare_with_runs, load_bank, recommend
from intermodal.recommend.mixtures import make_mixture


def subsample(data: MultimodalDataset, n: int, seed: int = 0) -> MultimodalDataset:
    if len(data) <= n:
        return data
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(
        np.arange(len(data)), train_size=n, stratify=data.targets.numpy(), random_state=seed
    )
    return data.subset(np.sort(kept))


def datasets(fsdd: Path | None, quick: bool) -> list[tuple[str, MultimodalDataset]]:
    mfeat = load_mfeat()
    found: list[tuple[str, MultimodalDataset]] = []
    pairs = [("fou", "pix"), ("fac", "zer"), ("kar", "mor"), ("fou", "kar"), ("mor", "zer")]
    for a, b in pairs[: 2 if quick else None]:
        found.append((f"mfeat {a}+{b}", mfeat.select([a, b])))
    held_out = [
        ("R+U2 noise 0.75", make_mixture(["R", "U2"], n=1500, noise=0.75, seed=7)),
        ("U1+U2+S", make_mixture(["U1", "U2", "S"], n=2000, seed=8)),
        ("R+U1+S", make_mixture(["R", "U1", "S"], n=2000, seed=9)),
        ("S noise 0.75", make_mixture(["S"], n=1500, noise=0.75, seed=10)),
        ("R+U1 noise 1.0/0.5", make_mixture(["R", "U1"], n=1500, noise=(1.0, 0.5), seed=11)),
        ("mixed noise 0.8", make_interaction_dataset("mixed", n=1500, noise=0.8, seed=12)),
    ]
    found += held_out[: 2 if quick else None]
    if fsdd is not None and fsdd.is_dir():
        from intermodal.data import load_av_digits

        found.append(("av-digits (1,000)", subsample(load_av_digits(str(fsdd)), 1000)))
    return found


def percent(compared: dict[str, Any]) -> float:
    return float(compared.get("percent_of_best", float("nan")))


def evaluate(name: str, data: MultimodalDataset, candidates: list[str]) -> dict[str, Any]:
    clock = time.perf_counter()
    found = recommend(data, top=3).as_dict()
    seconds = time.perf_counter() - clock
    result = run_benchmark(
        data,
        methods=",".join(candidates),
        seeds=1,
        epochs=30,
        patience=5,
        report=False,
        progress=False,
        jobs=2,
    )
    runs = result.runs
    compared = compare_with_runs(found, runs, "accuracy")
    fixed = compare_with_runs({**found, "recommended": found["fixed"]}, runs, "accuracy")
    nearest = found["nearest"][0]
    return {
        "data": name,
        "n": len(data),
        "R/Us/Uw/S": " ".join(f"{v:.2f}" for v in found["profile"]["normalized"].values()),
        "nearest": f"{nearest['name']} ({nearest['distance']:.2f})",
        "recommended": ", ".join(i["method"] for i in found["recommended"]),
        "picked": compared.get("picked"),
        "best": f"{compared['best']} {compared['best_test']:.3f}",
        "recommend %": 100 * percent(compared),
        "fixed %": 100 * percent(fixed),
        "chosen on val %": 100 * float(compared.get("chosen_percent", float("nan"))),
        "recommend s": seconds,
    }


def timings() -> None:
    mfeat = load_mfeat()
    large = make_mixture(["R", "S"], n=10_000, seed=13)
    for label, data in (
        ("mfeat, 6 views (15 pairs), 2,000 samples", mfeat),
        ("synthetic R+S, 10,000 samples", large),
    ):
        clock = time.perf_counter()
        recommend(data, top=3)
        print(f"recommend on {label}: {time.perf_counter() - clock:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsdd", type=Path, default=Path("../shared/data/fsdd"))
    parser.add_argument("--quick", action="store_true", help="four data sets only")
    args = parser.parse_args()
    timings()
    bank = load_bank()
    print(
        f"bank: {len(bank.entries)} entries, trials {bank.provenance['trials']}, "
        f"built {bank.provenance['date']}"
    )
    mfeat = load_mfeat()
    rows = np.concatenate([np.flatnonzero(mfeat.targets.numpy() == c)[:20] for c in range(10)])
    try:  # the size of the mfeat-200.mat fixture of scripts/build_small_sets.py
        recommend(mfeat.subset(np.sort(rows)).select(["fou", "pix"]))
    except ProfileError as error:
        print(f"200 samples of mfeat (the mfeat-200.mat fixture's size): {error}")
    candidates = sorted({m.partition("[")[0] for m in bank.methods})
    rows_out = []
    for name, data in datasets(args.fsdd, args.quick):
        rows_out.append(evaluate(name, data, candidates))
        print(pd.DataFrame(rows_out[-1:]).to_string(index=False, float_format="{:.1f}".format))
    table = pd.DataFrame(rows_out)
    print("\n" + table.to_string(index=False, float_format="{:.1f}".format))
    rec, fixed = table["recommend %"].mean(), table["fixed %"].mean()
    print(
        f"\nmean % of best: recommend {rec:.1f}, fixed {fixed:.1f}, "
        f"chosen on validation {table['chosen on val %'].mean():.1f}"
    )
    worse = table[table["recommend %"] <= table["fixed %"]]
    if len(worse):
        print("recommend is no better than fixed on: " + ", ".join(worse["data"]))
    print(
        f"goal (mean >= 96% and above fixed): {'met' if rec >= 96 and rec > fixed else 'not met'}"
    )


if __name__ == "__main__":
    main()
