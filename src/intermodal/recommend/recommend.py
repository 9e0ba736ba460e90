"""Which method for this data: the nearest bank entries' best methods, with reasons in words.

Liang et al., "Quantifying & Modeling Multimodal Interactions" (NeurIPS 2023, arXiv 2302.12247)
recommend, for a new data set, the methods that did best on the synthetic data set whose
normalized PID is nearest. Here the ``neighbours`` nearest entries of the bank
(:mod:`intermodal.recommend.bank`) each vote with weight ``1 / (distance + SMOOTHING)``: a
method's score is the weighted mean, over those entries, of its test accuracy divided by the
entry's best; methods that do not apply to the data (a two-modal fusion on three modalities, a
baseline without feature vectors) are left out, and the top ``top`` are recommended. Only the
probes train (:func:`intermodal.recommend.probes.interaction_profile`); nothing else does.

The ``fixed`` recommendation, which ignores the data, is the ``top`` applicable methods with the
best relative score averaged over the whole bank: what a recommendation must beat to be worth
its probes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from intermodal.data.dataset import MultimodalDataset
from intermodal.recommend.bank import Bank, BankError, concrete_name, load_bank, nearest
from intermodal.recommend.probes import (
    PARTS,
    InteractionProfile,
    ProfileError,
    dominant,
    interaction_profile,
)

NEIGHBOURS = 3
"""Bank entries that vote on a recommendation."""
SMOOTHING = 0.05
"""Added to each distance before its inverse weights a vote (an exact match does not take all
the weight, and near-equal distances vote near-equally)."""
HIGH = 0.3
"""A part of at least this share of the information is named in the reasons as high."""

INTERACTION_METHODS = frozenset(
    {
        "bilinear",
        "tfn",
        "lmf",
        "ptp",
        "multiplicative",
        "interactions",
        "gmu",
        "nonlinear",
        "mag",
        "simbamm",
        "attention",
        "poe",
        "gbdt",
        "search",
        "mfm",
        "shared-private",
        "bimodal-ae",
    }
)
"""Methods whose output is a non-additive function of the modalities (products, gates,
attention, a joint MLP or trees over all features): they can model synergy."""
ADDITIVE_METHODS = frozenset(
    {"early", "additive", "late-mean", "late-weighted", "late-learned", "linear"}
)
"""Methods whose logits are a sum of one term per modality: they cannot model synergy."""

PART_NAMES = {
    "redundancy": "redundancy",
    "unique_strong": "uniqueness of the stronger modality",
    "unique_weak": "uniqueness of the weaker modality",
    "synergy": "synergy",
}


@dataclass(frozen=True)
class Recommendation:
    """The recommendation for one data set.

    ``profile``: what the probes found; ``nearest``: the voting bank entries with their
    distances; ``recommended`` / ``fixed``: ``[{"method", "score", "reasons"}]`` (``score``: the
    weighted relative test score on the nearest entries, or the bank average for ``fixed``);
    ``not_applicable``: methods that would have ranked in the top but do not apply, with why;
    ``bank``: the bank's version, metric and provenance."""

    profile: InteractionProfile
    nearest: list[dict[str, Any]]
    recommended: list[dict[str, Any]]
    fixed: list[dict[str, Any]]
    not_applicable: list[dict[str, str]]
    bank: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.profile.dataset,
            "profile": self.profile.as_dict(),
            "distance": "Euclidean between normalized (R, U_strong, U_weak, S) profiles",
            "nearest": self.nearest,
            "recommended": self.recommended,
            "fixed": self.fixed,
            "not_applicable": self.not_applicable,
            "bank": self.bank,
        }

    def text(self) -> str:
        return describe(self.as_dict())


def _share(profile: InteractionProfile, part: str) -> str:
    return f"{profile.normalized[part]:.0%}"


def _profile_reason(profile: InteractionProfile) -> str:
    """One sentence on the data's dominant interaction."""
    part = dominant(profile.normalized)
    several = len(profile.pairs) > 1
    where = f" ({profile.aggregate})" if several else ""
    pair = profile.pairs[0]
    strong = profile.strongest if several else pair.strong
    weak = profile.weakest if several else pair.weak
    if part == "synergy":
        between = profile.most_synergy if several else f"{pair.strong} / {pair.weak}"
        return (
            f"high synergy ({_share(profile, part)} of the information{where}; most in {between})"
        )
    if part == "redundancy":
        return f"mostly redundancy ({_share(profile, part)}{where}): the modalities say the same"
    owner = strong if part == "unique_strong" else weak
    return f"mostly information unique to {owner} ({_share(profile, part)}{where})"


def _method_reason(method: str, profile: InteractionProfile) -> str | None:
    """What the method's form means for this profile, or None when nothing is worth saying."""
    base = method.partition("[")[0]
    synergy = profile.normalized["synergy"]
    view = method.partition("[")[2].rstrip("]")
    if view:
        unique = profile.normalized["unique_strong"] + profile.normalized["redundancy"]
        if view == profile.strongest and unique >= 1 - HIGH:
            return f"{view} alone holds most of the information: a model of it suffices"
        return f"reads {view} only"
    if synergy >= HIGH:
        if base in INTERACTION_METHODS:
            return "high synergy: an interaction-capable fusion (non-additive in the modalities)"
        if base in ADDITIVE_METHODS:
            return "additive in the modalities: cannot model the synergy"
    if profile.normalized["redundancy"] >= 1 - HIGH and base in ADDITIVE_METHODS:
        return "redundant modalities: a simple additive model is enough"
    if base in ADDITIVE_METHODS:
        return "additive in the modalities: enough where little is synergy"
    if base in INTERACTION_METHODS:
        return "interaction-capable (non-additive in the modalities)"
    return None


def _applicable(names: list[str], data: MultimodalDataset) -> tuple[set[str], dict[str, str]]:
    """Which of ``names`` apply to ``data``, and why the others do not."""
    import intermodal.bench.methods  # noqa: F401  (registers the methods)
    from intermodal.bench.registry import METHODS, resolve_methods

    known = [n for n in names if n.partition("[")[0] in METHODS]
    unknown = {n: "not a registered method" for n in names if n not in known}
    jobs, skipped = resolve_methods(known, data)
    return {job.name for job in jobs}, {**unknown, **dict(skipped)}


def recommend(
    data: MultimodalDataset,
    top: int = 3,
    bank: Bank | None = None,
    seed: int = 0,
    neighbours: int = NEIGHBOURS,
) -> Recommendation:
    """The ``top`` methods for ``data`` from its interaction profile and the bank.

    Args:
        data: a classification data set with at least two numeric modalities.
        top: methods to recommend (at least 1).
        bank: the bank (default: the one shipped, :func:`load_bank`).
        seed: the probes' seed.
        neighbours: bank entries that vote (see the module docstring).

    Raises:
        ValueError: ``top`` or ``neighbours`` below 1.
        ProfileError: one modality (nothing to fuse), a constant target, another task.
        BankError: the bank is missing or malformed.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive number of methods, got {top!r}")
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    bank = load_bank() if bank is None else bank
    profile = interaction_profile(data, seed=seed)
    strongest = profile.strongest
    weakest = min(
        (m for m in sorted(profile.modalities) if m != strongest),
        key=lambda m: profile.modalities[m],
    )
    close = nearest(profile.vector(), bank, neighbours)
    weights = np.array([1.0 / (d + SMOOTHING) for _, d in close])
    weights /= weights.sum()
    relative = [entry.relative() for entry, _ in close]
    average = bank.mean_relative()
    concrete = {m: concrete_name(m, strongest, weakest) for m in bank.methods}
    applies, why_not = _applicable(list(dict.fromkeys(concrete.values())), data)
    scored = {
        m: float(sum(w * r[m] for w, r in zip(weights, relative, strict=True)))
        for m in bank.methods
    }
    order = sorted(bank.methods, key=lambda m: (-scored[m], -average[m], m))
    names = ", ".join(entry.name for entry, _ in close)
    data_reason = _profile_reason(profile)
    recommended: list[dict[str, Any]] = []
    not_applicable: list[dict[str, str]] = []
    seen: set[str] = set()
    for m in order:
        name = concrete[m]
        if name in seen:
            continue
        seen.add(name)
        if name not in applies:
            if len(recommended) < top:
                not_applicable.append({"method": name, "reason": why_not.get(name, "")})
            continue
        if len(recommended) < top:
            reasons = [data_reason]
            form = _method_reason(name, profile)
            if form:
                reasons.append(form)
            reasons.append(
                f"{scored[m]:.1%} of the best {bank.metric} on the nearest bank entries ({names})"
            )
            recommended.append({"method": name, "score": round(scored[m], 6), "reasons": reasons})
    fixed: list[dict[str, Any]] = []
    for m in sorted(bank.methods, key=lambda m: (-average[m], m)):
        name = concrete[m]
        if name in applies and name not in {f["method"] for f in fixed} and len(fixed) < top:
            fixed.append(
                {
                    "method": name,
                    "score": round(average[m], 6),
                    "reasons": [
                        f"{average[m]:.1%} of the best {bank.metric}, averaged over the bank"
                    ],
                }
            )
    return Recommendation(
        profile,
        [
            {
                "name": entry.name,
                "description": entry.description,
                "distance": round(d, 6),
                "weight": round(float(w), 6),
                "normalized": entry.normalized,
            }
            for (entry, d), w in zip(close, weights, strict=True)
        ],
        recommended,
        fixed,
        not_applicable,
        {
            "version": bank.version,
            "metric": bank.metric,
            "entries": len(bank.entries),
            "provenance": bank.provenance,
        },
    )


def describe(found: dict[str, Any]) -> str:
    """The text of a recommendation (``Recommendation.as_dict()``): the profile, the nearest
    bank entries and the top methods with their reasons. Every number is the dict's, rounded."""
    profile = found["profile"]
    lines = [
        f"Interaction profile of {found['dataset']} ({profile['samples']:,} samples, "
        f"{profile['classes']} classes; chance {profile['chance']:.3f})"
    ]
    lines.append("  unimodal strength (cross-validated linear probe accuracy):")
    for name, value in profile["modalities"].items():
        lines.append(f"    {name}: {value:.3f}")
    lines.append("  PID per pair (bits; strong modality first):")
    for pair in profile["pairs"]:
        bits = pair["bits"]
        lines.append(
            f"    {pair['strong']} / {pair['weak']}: R {bits['redundancy']:.3f}, U_strong "
            f"{bits['unique_strong']:.3f}, U_weak {bits['unique_weak']:.3f}, S "
            f"{bits['synergy']:.3f}, total {bits['total']:.3f} ({pair['cells']} cells per "
            f"modality, {pair['samples']} samples; upward bias of the total about "
            f"{pair['bias_bits']:.3f})"
        )
    shares = ", ".join(f"{p} {profile['normalized'][p]:.3f}" for p in PARTS)
    lines.append(f"  normalized ({profile['aggregate']}): {shares}")
    for note in profile["notes"]:
        lines.append(f"  note: {note}")
    lines.append(f"Nearest bank entries ({found['distance']}):")
    for entry in found["nearest"]:
        lines.append(
            f"  {entry['name']}: distance {entry['distance']:.3f}, weight {entry['weight']:.3f}"
            f" ({entry['description']})"
        )
    lines.append(f"Recommended (top {len(found['recommended'])}):")
    for rank, item in enumerate(found["recommended"], start=1):
        lines.append(f"  {rank}. {item['method']} (score {item['score']:.3f})")
        lines.extend(f"     - {reason}" for reason in item["reasons"])
    if found["not_applicable"]:
        lines.append(
            "Ranked high but not applicable: "
            + "; ".join(f"{i['method']} ({i['reason']})" for i in found["not_applicable"])
        )
    lines.append(
        "Fixed recommendation (ignores the data): "
        + ", ".join(f"{i['method']} ({i['score']:.3f})" for i in found["fixed"])
    )
    provenance = found["bank"]["provenance"]
    lines.append(
        f"Bank: version {found['bank']['version']}, {found['bank']['entries']} entries, "
        f"{found['bank']['metric']}, trials {provenance['trials']}, built {provenance['date']}"
    )
    return "\n".join(lines)


def bench_recommendation(data: MultimodalDataset, top: int = 3) -> dict[str, Any]:
    """The recommendation a benchmark records before training (``results.json``'s
    ``recommendation``), or ``{"skipped": why}`` where it does not apply (one modality, a task
    the bank lacks, a constant target, too few samples, no bank, or probes that failed: the
    benchmark's results are kept whatever happens here)."""
    try:
        return recommend(data, top=top).as_dict()
    except (ProfileError, BankError) as error:
        return {"skipped": str(error)}
    except Exception as error:  # an optional section must not lose a finished benchmark
        return {"skipped": f"the probes failed ({type(error).__name__}: {error})"}


def _means(runs: pd.DataFrame, column: str) -> dict[str, float]:
    if column not in runs:
        return {}
    values = pd.to_numeric(runs[column], errors="coerce")
    means = values.groupby(runs["method"], sort=False).mean()
    return {str(k): float(v) for k, v in means.items() if math.isfinite(v)}


def compare_with_runs(
    found: dict[str, Any], runs: pd.DataFrame, metric: str, higher_is_better: bool = True
) -> dict[str, Any]:
    """The recommendation made before training against the benchmark's runs.

    ``picked``: among the recommended methods that ran, the one with the best mean validation
    score; ``percent_of_best``: its mean test score as a share of the best method's (best /
    score for a metric where lower is better); ``chosen``: the method chosen on validation
    among all runs, with the same share."""
    if "skipped" in found:
        return {"skipped": found["skipped"]}
    test, val = _means(runs, metric), _means(runs, f"val_{metric}")
    sign = 1.0 if higher_is_better else -1.0
    if not test:
        return {"skipped": f"no run has a test {metric}"}
    best = max(test, key=lambda m: sign * test[m])

    def share(method: str) -> float:
        a, b = test[method], test[best]
        if higher_is_better:
            return a / b if b else float("nan")
        return b / a if a else float("nan")

    recommended = [item["method"] for item in found["recommended"]]
    ran = [m for m in recommended if m in test and m in val]
    out: dict[str, Any] = {
        "metric": metric,
        "best": best,
        "best_test": test[best],
        "recommended": [
            {"method": m, "test": test.get(m), "val": val.get(m), "ran": m in test}
            for m in recommended
        ],
        "not_run": [m for m in recommended if m not in test],
    }
    if ran:
        picked = max(ran, key=lambda m: sign * val[m])
        out.update(picked=picked, picked_test=test[picked], percent_of_best=share(picked))
    scored = [m for m in test if m in val]
    if scored:
        chosen = max(scored, key=lambda m: sign * val[m])
        out.update(chosen=chosen, chosen_test=test[chosen], chosen_percent=share(chosen))
    return out


def markdown_section(found: dict[str, Any] | None, compared: dict[str, Any] | None) -> str:
    """The report's opening section: "recommended before training" vs "chosen on validation
    after training"."""
    lines = ["## Recommended before training vs chosen on validation after training\n"]
    if not found:
        return "\n".join([*lines, "No recommendation was recorded.\n"])
    if "skipped" in found:
        return "\n".join([*lines, f"No recommendation: {found['skipped']}.\n"])
    profile = found["profile"]
    shares = ", ".join(f"{p} {profile['normalized'][p]:.2f}" for p in PARTS)
    near = ", ".join(f"{e['name']} ({e['distance']:.3f})" for e in found["nearest"])
    lines.append(
        f"Interaction profile ({profile['aggregate']}): {shares}. Nearest bank entries: {near}.\n"
    )
    lines.append("| rank | recommended | reasons | test | validation |")
    lines.append("|---|---|---|---|---|")
    rows = {r["method"]: r for r in (compared or {}).get("recommended", [])}
    for rank, item in enumerate(found["recommended"], start=1):
        row = rows.get(item["method"], {})
        test = "not run" if row.get("test") is None else f"{row['test']:.4g}"
        val = "" if row.get("val") is None else f"{row['val']:.4g}"
        lines.append(
            f"| {rank} | {item['method']} | {'; '.join(item['reasons'])} | {test} | {val} |"
        )
    lines.append("")
    if compared and "picked" in compared:
        lines.append(
            f"Of the recommended methods that ran, {compared['picked']} has the best validation "
            f"score; its test {compared['metric']} {compared['picked_test']:.4g} is "
            f"{compared['percent_of_best']:.1%} of the best method's ({compared['best']}, "
            f"{compared['best_test']:.4g})."
        )
    elif compared and "skipped" not in compared:
        lines.append("None of the recommended methods ran in this benchmark.")
    if compared and "chosen" in compared:
        lines.append(
            f"Chosen on validation after training: {compared['chosen']}, test "
            f"{compared['chosen_test']:.4g} ({compared['chosen_percent']:.1%} of the best)."
        )
    trials = found["bank"]["provenance"].get("trials")
    lines.append(
        f"\nThe bank's scores come from {found['bank']['entries']} synthetic data sets "
        f"({'untuned defaults' if not trials else f'{trials} tuning trials per method'}).\n"
    )
    return "\n".join(lines)


def html_section(results: dict[str, Any]) -> str:
    """The report's opening section (HTML) from ``results.json``'s ``recommendation``."""
    import html

    recorded = results.get("recommendation") or {}
    found, compared = recorded.get("before_training"), recorded.get("after_training")
    title = "<h2>Recommended before training vs chosen on validation after training</h2>"
    if not found or "skipped" in found:
        why = (found or {}).get("skipped", "no recommendation was recorded")
        return f'{title}<p id="recommendation">No recommendation: {html.escape(why)}.</p>'
    profile = found["profile"]
    shares = ", ".join(f"{p} {profile['normalized'][p]:.2f}" for p in PARTS)
    near = ", ".join(f"{e['name']} ({e['distance']:.3f})" for e in found["nearest"])
    rows = {r["method"]: r for r in (compared or {}).get("recommended", [])}
    body = []
    for rank, item in enumerate(found["recommended"], start=1):
        row = rows.get(item["method"], {})
        test = "not run" if row.get("test") is None else f"{row['test']:.4g}"
        val = "" if row.get("val") is None else f"{row['val']:.4g}"
        reasons = html.escape("; ".join(item["reasons"]))
        body.append(
            f"<tr><td>{rank}</td><td>{html.escape(item['method'])}</td><td>{reasons}</td>"
            f"<td>{test}</td><td>{val}</td></tr>"
        )
    after = []
    if compared and "picked" in compared:
        after.append(
            f"Of the recommended methods that ran, {html.escape(compared['picked'])} has the "
            f"best validation score; its test {html.escape(compared['metric'])} "
            f"{compared['picked_test']:.4g} is {compared['percent_of_best']:.1%} of the best "
            f"method's ({html.escape(compared['best'])}, {compared['best_test']:.4g})."
        )
    if compared and "chosen" in compared:
        after.append(
            f"Chosen on validation after training: {html.escape(compared['chosen'])}, test "
            f"{compared['chosen_test']:.4g} ({compared['chosen_percent']:.1%} of the best)."
        )
    return (
        f'{title}<div id="recommendation"><p>Interaction profile '
        f"({html.escape(profile['aggregate'])}): {shares}. Nearest bank entries: "
        f"{html.escape(near)}.</p>"
        "<table><thead><tr><th>rank</th><th>recommended</th><th>reasons</th><th>test</th>"
        f"<th>validation</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p>{' '.join(after)}</p></div>"
    )
