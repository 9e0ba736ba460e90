"""Write a synthetic table of numeric, categorical and text columns whose class needs both the
table and the text.

Usage: python scripts/make_table_text.py OUT.csv [--rows 1500] [--seed 0] [--parquet]

Columns: ``tab.dose`` (numeric, 10% of cells missing), ``tab.noise`` (numeric, unrelated),
``tab.colour`` (4 categories, 5% missing), ``tab.city`` (40 categories, unrelated), ``review``
(8 to 14 filler words; half of the rows contain the keyword ``excellent``) and ``target``:

    table = colour_score[colour] + dose > 0     (colour_score: red 1, blue 0.5, green -0.5,
                                                 yellow -1; a missing dose or colour counts 0)
    target = table XOR ("excellent" in review), with 3% of the labels flipped

Each part alone says nothing about the class (the other part is an independent fair coin), so a
unimodal model is at chance (50%) and a model must combine the table with the text. A
classifier that adds a score of the table to a score of the text (early fusion with a linear
head, late fusion) cannot represent an XOR either; trees and multiplicative fusions can.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

FILLER = (
    "the item arrived on time and works as described with a box that was a little "
    "worn but fine for daily use at home or work"
).split()
COLOURS = {"red": 1.0, "blue": 0.5, "green": -0.5, "yellow": -1.0}
KEYWORD = "excellent"


def make_table(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """The table described above, ``rows`` rows drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    dose = rng.normal(size=rows)
    colour = rng.choice(list(COLOURS), size=rows)
    missing_dose = rng.random(rows) < 0.10
    missing_colour = rng.random(rows) < 0.05
    score = np.where(missing_dose, 0.0, dose) + np.where(
        missing_colour, 0.0, [COLOURS[c] for c in colour]
    )
    table = score > 0
    keyword = rng.random(rows) < 0.5
    reviews = []
    for has in keyword:
        words = list(rng.choice(FILLER, size=int(rng.integers(8, 15))))
        if has:
            words.insert(int(rng.integers(0, len(words) + 1)), KEYWORD)
        reviews.append(" ".join(words))
    target = (table ^ keyword) ^ (rng.random(rows) < 0.03)
    return pd.DataFrame(
        {
            "tab.dose": np.where(missing_dose, np.nan, dose).round(3),
            "tab.noise": rng.normal(size=rows).round(3),
            "tab.colour": pd.Series(colour, dtype=object).where(~missing_colour, None),
            "tab.city": [f"city{i:02d}" for i in rng.integers(0, 40, size=rows)],
            "review": reviews,
            "target": target.astype(np.int64),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parquet", action="store_true", help="also write OUT.parquet")
    args = parser.parse_args()
    frame = make_table(args.rows, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output, index=False)
    if args.parquet:
        frame.to_parquet(args.output.with_suffix(".parquet"), index=False)
    print(f"{len(frame):,} rows written to {args.output}")


if __name__ == "__main__":
    main()
