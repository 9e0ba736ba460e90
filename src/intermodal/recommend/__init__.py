"""Which method for my data: the interactions a data set holds, matched against a bank of
synthetic data sets whose interactions and benchmark results are known (Liang et al.,
"Quantifying & Modeling Multimodal Interactions", NeurIPS 2023, arXiv 2302.12247)."""

from intermodal.recommend.bank import (
    BANK_FORMAT,
    BANK_VERSION,
    Bank,
    BankEntry,
    BankError,
    distance,
    load_bank,
    nearest,
    parse_bank,
)
from intermodal.recommend.mixtures import make_mixture
from intermodal.recommend.probes import (
    PARTS,
    InteractionProfile,
    PairProfile,
    ProfileError,
    interaction_profile,
)
from intermodal.recommend.recommend import (
    Recommendation,
    bench_recommendation,
    compare_with_runs,
    describe,
    markdown_section,
    recommend,
)

__all__ = [
    "BANK_FORMAT",
    "BANK_VERSION",
    "PARTS",
    "Bank",
    "BankEntry",
    "BankError",
    "InteractionProfile",
    "PairProfile",
    "ProfileError",
    "Recommendation",
    "bench_recommendation",
    "compare_with_runs",
    "describe",
    "distance",
    "interaction_profile",
    "load_bank",
    "make_mixture",
    "markdown_section",
    "nearest",
    "parse_bank",
    "recommend",
]
