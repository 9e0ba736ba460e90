"""The analysis suite that the benchmark report and ``intermodal diagnose`` share.

Each :class:`Analysis` has a name, a ``compute`` function that returns a typed result (a
dataclass of JSON values, saved in ``analysis.json``), a ``figure`` drawn from that result, a
caption and a text summary. All entries read one :class:`AnalysisSettings`, so the report and
``diagnose`` compute the same numbers for the same data and seed. Adding an analysis is adding
one entry to :data:`ANALYSES`.
"""

from __future__ import annotations

import dataclasses
import html
import io
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor, nn

from intermodal.analysis import (
    SAMPLES_PER_CELL,
    clusters_for,
    discrete_target,
    effective_robustness,
    emap,
    interaction_types,
    pid,
    relative_robustness,
    robustness_curve,
)
from intermodal.data.dataset import Batch, MultimodalDataset
from intermodal.data.missing import (
    MAX_SUBSETS,
    complete_samples,
    hide_at_random,
    keep_only,
    subsets,
)
from intermodal.metrics import PRIMARY, Metric, batch_outputs, metric_info, predict_outputs
from intermodal.models.protocols import EncodeThenPredict, PreparesData
from intermodal.training.context import auto_threads, thread_limit


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings every analysis reads.

    Attributes:
        seed: seeds corruptions, Monte Carlo draws, k-means and the sampled subsets and pairs.
        baseline: the method against which effective robustness is measured.
        corruptions: the corruptions of the robustness curves (see ``analysis.robustness``).
        pid_clusters: the most k-means cells per modality for the PID estimate. The plug-in
            estimate is biased upwards unless ``clusters**2 * classes`` is well below the
            samples, so each pair gets the most cells, up to this number, that leave
            ``pid_samples_per_cell`` samples per cell (see :meth:`pid_clusters_for`).
        pid_samples_per_cell: samples per cell of the (X_a, X_b, Y) table, on average, at
            least (10: a bias of about 0.07 bits); a pair with too few samples for 2 cells per
            modality is not decomposed.
        emap_draws: Monte Carlo draws per sample when EMAP cannot enumerate every combination.
        missing_rates: test-time rates at which each modality of each sample is hidden (at
            least one kept) for the missing-rate curves.
        max_subsets: subsets of modalities in the subset table: all 2^M - 1 up to this number
            (M <= 6 by default); beyond, every single modality, every leave-one-out subset and
            the full set, then a sample of the others seeded with ``seed``, this many in all
            (2M + 1 if that is more; see :func:`intermodal.data.missing.subsets`).
        max_pid_pairs: pairs of modalities whose PID is estimated, at most: beyond, a sample
            seeded with ``seed`` (see :func:`pid_pairs`).
        metric: the metric of the scores (default: the task's primary metric).
        sentiment: whether the sentiment metrics may be the metric.
        pid_target_bins: quantile bins of a regression target for the PID, which needs a
            discrete target (the estimate depends on this number).
    """

    seed: int = 0
    metric: str | None = None
    sentiment: bool = False
    baseline: str = "late-mean"
    corruptions: tuple[str, ...] = ("noise", "missing")
    pid_clusters: int = 5
    pid_target_bins: int = 5
    pid_samples_per_cell: int = SAMPLES_PER_CELL
    max_pid_pairs: int = 15
    emap_draws: int = 64
    missing_rates: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    max_subsets: int = MAX_SUBSETS

    def metric_of(self, task: str) -> Metric:
        """The metric every analysis scores with (default: the task's primary metric)."""
        return metric_info(task, self.metric or PRIMARY[task], sentiment=self.sentiment)

    def pid_clusters_for(self, n_samples: int, n_classes: int) -> int:
        """k-means cells per modality for a PID on ``n_samples`` samples of ``n_classes``
        target values: the most, up to ``pid_clusters``, that leave ``pid_samples_per_cell``
        samples per cell (below 2: too few samples)."""
        return clusters_for(n_samples, n_classes, self.pid_samples_per_cell, self.pid_clusters)


@dataclass
class AnalysisInput:
    """What the analyses see: the whole data set (for data properties), its test split, and the
    trained models by method name with their family and test score."""

    data: MultimodalDataset
    test: MultimodalDataset
    models: dict[str, nn.Module]
    families: dict[str, str]
    scores: dict[str, float]
    higher_is_better: bool = True
    strategies: dict[str, str] = field(default_factory=dict)
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Results of :func:`model_analyses` by method name, computed where each model was trained;
    those missing are computed here."""

    def fusion_models(self) -> dict[str, nn.Module]:
        """The fusion models that encode each modality separately (``EncodeThenPredict``)."""
        return {
            name: model
            for name, model in self.models.items()
            if is_encoding_fusion(self.families.get(name), model)
        }

    def per_model_result(self, analysis: str, name: str, settings: AnalysisSettings) -> Any:
        """One model's result of a per-model analysis: computed with its run, or here."""
        found = self.per_model.get(name, {})
        if analysis in found:
            return found[analysis]
        return PER_MODEL[analysis](self.models[name], self.test, settings)

    def analysed_model(self, baseline: str) -> str | None:
        """The best fusion model other than the baseline (the baseline if it is the only one)."""
        fusion = [k for k in self.models if self.families.get(k) == "fusion"]
        candidates = [k for k in fusion if k != baseline] or fusion
        if not candidates:
            return None
        sign = 1.0 if self.higher_is_better else -1.0
        return max(candidates, key=lambda k: sign * self.scores[k])


def is_encoding_fusion(family: str | None, model: nn.Module) -> bool:
    """Whether EMAP applies: a fusion model that encodes each modality separately."""
    return family == "fusion" and isinstance(model, EncodeThenPredict)


@dataclass
class Skipped:
    """An analysis that does not apply to this data, and why (shown in the report)."""

    reason: str


# --- EMAP ----------------------------------------------------------------------------------------
EMAP_MIN_SAMPLES = 2
"""Complete test samples EMAP needs at least: on one sample the projection is the model."""


@dataclass
class EmapScores:
    """Per fusion model: its test score and that of its additive projection (EMAP), both on the
    ``samples`` test samples with every modality it uses present (of ``test_samples``);
    ``not_finite`` lists the models left out because their outputs are NaN or infinite,
    ``not_computed`` those left out for another reason (too few complete samples)."""

    metric: str = "accuracy"
    higher_is_better: bool = True
    models: dict[str, dict[str, float]] = field(default_factory=dict)
    not_finite: list[str] = field(default_factory=list)
    test_samples: int = 0
    not_computed: dict[str, str] = field(default_factory=dict)


def compute_emap(inputs: AnalysisInput, settings: AnalysisSettings) -> EmapScores | Skipped | None:
    models = inputs.fusion_models()
    if not models:
        return None
    metric = settings.metric_of(inputs.test.task)
    result = EmapScores(metric.name, metric.higher_is_better, test_samples=len(inputs.test))
    for name in models:
        scores = inputs.per_model_result("emap", name, settings)
        if scores is None:
            result.not_finite.append(name)
        elif "skipped" in scores:
            result.not_computed[name] = str(scores["skipped"])
        else:
            result.models[name] = scores
    if not result.models:
        reasons = [f"{k}: {v}" for k, v in result.not_computed.items()]
        if result.not_finite:
            reasons.append(
                f"the outputs of {', '.join(result.not_finite)} hold NaN or infinite values"
            )
        return Skipped("; ".join(reasons))
    return result


def emap_scores(
    model: nn.Module, test: MultimodalDataset, settings: AnalysisSettings
) -> dict[str, Any] | None:
    """One fusion model's test score and that of its EMAP on the test samples with every
    modality it uses present, and their number (``samples``); None if its outputs are not
    finite; ``{"skipped": why}`` with fewer than :data:`EMAP_MIN_SAMPLES` complete samples."""
    names = list(getattr(model, "modalities", test.modality_names))
    complete = int(complete_samples(test, names).sum())
    if complete < EMAP_MIN_SAMPLES:
        return {
            "skipped": f"{complete} of the {len(test)} test samples have every modality of "
            f"{', '.join(names)} present; EMAP combines complete samples and needs at least "
            f"{EMAP_MIN_SAMPLES}"
        }
    if not finite_outputs(model, test):
        return None
    metric = settings.metric_of(test.task)
    outcome = emap(model, test, n_draws=settings.emap_draws, seed=settings.seed, metric=metric.name)
    return {"model": outcome.model_score, "emap": outcome.emap_score, "samples": outcome.samples}


def finite_outputs(model: nn.Module, data: MultimodalDataset) -> bool:
    """Whether the model's outputs on ``data`` are all finite (a diverged model's are not)."""
    return bool(torch.isfinite(predict_outputs(model, data)).all())


def direction(metric: str, higher_is_better: bool) -> str:
    return f"test {metric} ({'higher' if higher_is_better else 'lower'} is better)"


def of_test(count: int, total: int, what: str) -> str:
    """``all 300 test samples`` or ``the 67 test samples WHAT (of 100)``."""
    if count == total:
        return f"all {total} test samples"
    return f"the {count} test samples {what} (of {total})"


def samples_emap(result: EmapScores) -> str:
    if not result.test_samples:
        return ""  # read from a file that did not record the samples
    counts = {int(s.get("samples", result.test_samples)) for s in result.models.values()}
    where = "with every modality present"
    if len(counts) == 1:
        return f"EMAP on {of_test(counts.pop(), result.test_samples, where)}"
    return (
        "EMAP on the test samples with every modality of the model present: "
        + ", ".join(
            f"{name} {int(s.get('samples', result.test_samples))}"
            for name, s in result.models.items()
        )
        + f" (of {result.test_samples})"
    )


def figure_emap(result: EmapScores) -> bytes:
    sign = -1.0 if result.higher_is_better else 1.0
    names = sorted(result.models, key=lambda k: sign * result.models[k]["model"])
    model = [result.models[k]["model"] for k in names]
    additive = [result.models[k]["emap"] for k in names]
    figure, axes = plt.subplots(figsize=(max(6, 0.55 * len(names)), 4))
    x = np.arange(len(names))
    axes.bar(x - 0.2, model, 0.4, label="model")
    axes.bar(x + 0.2, additive, 0.4, label="EMAP (additive projection)")
    axes.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    low, high = min(model + additive), max(model + additive)
    margin = 0.1 * (high - low + 1e-3)
    axes.set_ylim(low - margin if low < 0 else max(0.0, low - margin), high + margin / 2)
    axes.set_ylabel(direction(result.metric, result.higher_is_better))
    axes.legend(fontsize=8)
    return png(figure)


def describe_emap(result: EmapScores) -> list[str]:
    sign = 1.0 if result.higher_is_better else -1.0
    lines = [
        f"EMAP of {name} ({result.metric}): model {s['model']:.4f}, additive projection "
        f"{s['emap']:.4f} (gap {sign * (s['model'] - s['emap']):+.4f}: what cross-modal "
        "interactions add)"
        for name, s in result.models.items()
    ]
    if result.not_finite:
        lines.append(f"EMAP not computed for {', '.join(result.not_finite)}: non-finite outputs")
    lines += [f"EMAP not computed for {name}: {why}" for name, why in result.not_computed.items()]
    return lines


# --- PID -----------------------------------------------------------------------------------------
@dataclass
class PidTable:
    """The PID in bits of I(X_a, X_b; Y) for pairs of modalities of the whole data set
    (``data_samples`` samples: training, validation and test), each on the samples where both
    are present. Each row of ``pairs`` says its k-means cells per modality (``clusters``) and
    ``samples``; ``n_clusters`` is the most cells a pair may get. ``note`` names the pairs left
    out because they have too few samples, and says so when more than ``max_pid_pairs`` pairs
    were sampled."""

    pairs: list[dict[str, Any]] = field(default_factory=list)
    n_clusters: int = 5
    note: str = ""
    data_samples: int = 0


def pid_pairs(names: list[str], limit: int, seed: int) -> list[tuple[str, str]]:
    """Every pair of ``names`` when there are at most ``limit``; beyond, a uniform sample of
    ``limit`` pairs seeded with ``seed``, in the order of ``itertools.combinations``."""
    every = list(itertools.combinations(names, 2))
    if len(every) <= limit:
        return every
    chosen = sorted(random.Random(seed).sample(range(len(every)), limit))
    return [every[i] for i in chosen]


def compute_pid(inputs: AnalysisInput, settings: AnalysisSettings) -> PidTable | Skipped | None:
    data = inputs.data
    if len(data.modality_names) < 2:
        return None
    y = discrete_target(data, settings.pid_target_bins)
    if y is None:
        return Skipped("the PID needs one discrete target; a multi-label target is a set")
    numeric = [k for k in data.modality_names if data.kinds[k] != "text"]
    flat = {k: data.modalities[k].reshape(len(data), -1).numpy() for k in numeric}
    table = PidTable(n_clusters=settings.pid_clusters, data_samples=len(data))
    pairs = pid_pairs(numeric, settings.max_pid_pairs, settings.seed)
    every = len(numeric) * (len(numeric) - 1) // 2
    notes = []
    if len(pairs) < every:
        notes.append(
            f"{len(pairs)} of the {every} pairs, a sample seeded with {settings.seed} "
            f"(max_pid_pairs {settings.max_pid_pairs})"
        )
    too_few = []
    for a, b in pairs:
        rows = (data.masks[a] & data.masks[b]).numpy()  # samples where both are present
        n, classes = int(rows.sum()), len(np.unique(y[rows]))
        clusters = settings.pid_clusters_for(n, max(classes, 1))
        if clusters < 2:
            too_few.append(f"{a} / {b} ({n} samples)")
            continue
        parts = pid(flat[a][rows], flat[b][rows], y[rows], n_clusters=clusters, seed=settings.seed)
        table.pairs.append(
            {"pair": f"{a} / {b}", **parts.as_dict(), "clusters": clusters, "samples": n}
        )
    if too_few:
        why = (
            f"too few samples for 2 k-means cells per modality with "
            f"{settings.pid_samples_per_cell} samples per cell of the table, so the estimate "
            f"would be mostly bias: {', '.join(too_few)}"
        )
        if not table.pairs:
            return Skipped(why)
        notes.append(f"not decomposed, {why}")
    table.note = "; ".join(notes)
    return table


def samples_pid(result: PidTable) -> str:
    if not result.data_samples:
        return ""  # read from a file that did not record the samples
    counts = {int(row["samples"]) for row in result.pairs}
    total = result.data_samples
    if counts == {total}:
        return f"PID on all {total} samples of the whole data set (train, validation and test)"
    return (
        f"PID on the samples of the whole data set (train, validation and test: {total}) with "
        "both modalities of the pair present: "
        + ", ".join(f"{row['pair']} {row['samples']}" for row in result.pairs)
    )


def figure_pid(result: PidTable) -> bytes:
    labels = [
        f"{row['pair']}\n{row['clusters']} cells" if "clusters" in row else row["pair"]
        for row in result.pairs
    ]
    figure, axes = plt.subplots(figsize=(max(6, 0.6 * len(labels)), 4))
    bottom = np.zeros(len(labels))
    for part, label in (
        ("redundancy", "R"),
        ("unique1", "U1"),
        ("unique2", "U2"),
        ("synergy", "S"),
    ):
        values = np.array([row[part] for row in result.pairs])
        axes.bar(labels, values, bottom=bottom, label=label)
        bottom += values
    axes.set_ylabel("bits")
    axes.tick_params(axis="x", rotation=45, labelsize=8)
    axes.legend(fontsize=8)
    return png(figure)


def describe_pid(result: PidTable) -> list[str]:
    lines = [
        f"PID of {row['pair']} (bits): R {row['redundancy']:.3f}, U1 {row['unique1']:.3f}, "
        f"U2 {row['unique2']:.3f}, S {row['synergy']:.3f}, total {row['total']:.3f}"
        + (
            f" ({row['clusters']} cells per modality, {row['samples']} samples)"
            if "clusters" in row
            else ""
        )
        for row in result.pairs
    ]
    return lines + ([f"PID: {result.note}"] if result.note else [])


# --- robustness ----------------------------------------------------------------------------------
@dataclass
class RobustnessCurves:
    """Test score of the analysed model (and the baseline) with one modality corrupted, on the
    ``samples`` test samples. Each curve says in how many of them its modality is ``present``
    (noise and dropout change only those) and ``hideable`` (present with another modality: the
    samples ``missing`` may hide it in), and the fraction ``absent`` at each level."""

    model: str = ""
    baseline: str | None = None
    metric: str = "accuracy"
    higher_is_better: bool = True
    curves: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0


def compute_robustness(
    inputs: AnalysisInput, settings: AnalysisSettings
) -> RobustnessCurves | None:
    name = inputs.analysed_model(settings.baseline)
    if name is None:
        return None
    baseline = inputs.models.get(settings.baseline)
    metric = settings.metric_of(inputs.test.task)
    result = RobustnessCurves(
        name,
        settings.baseline if baseline is not None else None,
        metric.name,
        metric.higher_is_better,
        samples=len(inputs.test),
    )
    test, seed = inputs.test, settings.seed
    for modality in test.modality_names:
        for corruption in settings.corruptions:
            if corruption != "missing" and test.kinds[modality] == "text":
                continue  # noise and dropout are defined on numbers, not on text
            curve = robustness_curve(
                inputs.models[name], test, modality, corruption, seed=seed, metric=metric.name
            )
            row = {
                "modality": modality,
                "corruption": corruption,
                "levels": curve["level"].tolist(),
                "score": curve["score"].tolist(),
                "relative_robustness": relative_robustness(curve),
                "absent": curve["absent"].tolist(),
                "present": curve.attrs["present"],
                "hideable": curve.attrs["hideable"],
            }
            if baseline is not None:
                base = robustness_curve(
                    baseline, test, modality, corruption, seed=seed, metric=metric.name
                )
                row["baseline_score"] = base["score"].tolist()
                row["effective_robustness"] = effective_robustness(curve, base)
            result.curves.append(row)
    return result


def figure_robustness(result: RobustnessCurves) -> bytes:
    modalities = sorted({r["modality"] for r in result.curves})
    corruptions = list(dict.fromkeys(r["corruption"] for r in result.curves))
    figure, grid = plt.subplots(
        len(corruptions),
        len(modalities),
        figsize=(2.6 * len(modalities) + 1, 2.5 * len(corruptions)),
        squeeze=False,
        sharey=True,
    )
    for r in result.curves:
        axes = grid[corruptions.index(r["corruption"]), modalities.index(r["modality"])]
        axes.plot(r["levels"], r["score"], "o-", label=result.model)
        if "baseline_score" in r:
            axes.plot(r["levels"], r["baseline_score"], "s--", label=result.baseline)
        title = f"{r['modality']}: {r['corruption']}\nrel {r['relative_robustness']:.3f}"
        if "effective_robustness" in r:
            title += f", eff {r['effective_robustness']:+.3f}"
        axes.set_title(title, fontsize=8)
        axes.set_xlabel(
            "noise std" if r["corruption"] == "noise" else f"fraction {r['corruption']}",
            fontsize=8,
        )
        axes.grid(alpha=0.3)
    grid[0, 0].set_ylabel(direction(result.metric, result.higher_is_better))
    grid[0, 0].legend(fontsize=7)
    return png(figure)


def describe_robustness(result: RobustnessCurves) -> list[str]:
    lines = [
        f"robustness of {result.model} in {result.metric} (relative; effective vs "
        f"{result.baseline}):"
    ]
    for r in result.curves:
        effective = r.get("effective_robustness")
        lines.append(
            f"  {r['modality']:<10} {r['corruption']:<8} {r['relative_robustness']:.3f}"
            + (f"; {effective:+.3f}" if effective is not None else "")
        )
    return lines


def samples_robustness(result: RobustnessCurves) -> str:
    if not result.samples:
        return ""  # read from a file that did not record the samples
    total = result.samples
    present = {r["modality"]: r for r in result.curves}
    if all(r.get("present", total) == total for r in present.values()):
        return f"robustness curves on all {total} test samples (every modality present in each)"
    return (
        f"robustness curves on all {total} test samples; noise and dropout change a modality "
        "where it is present, missing hides it only where another modality is present: "
        + ", ".join(
            f"{m} present in {r.get('present', total)}, hideable in {r.get('hideable', total)}"
            for m, r in present.items()
        )
    )


# --- interaction types ---------------------------------------------------------------------------
@dataclass
class InteractionSummary:
    """Interaction types of the analysed model's test predictions against the two best
    unimodal models, on the ``samples`` test samples (of ``test_samples``) in which the
    modalities of all three are present (a unimodal model has no response without its
    modality); ``examples`` are positions in the test split."""

    model: str = ""
    unimodal: list[str] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0
    test_samples: int = 0
    modalities: list[str] = field(default_factory=list)


def compute_interaction_types(
    inputs: AnalysisInput, settings: AnalysisSettings
) -> InteractionSummary | Skipped | None:
    if inputs.test.task != "classification":
        return Skipped(
            "interaction types compare predicted classes, so they are defined for "
            f"classification, not {inputs.test.task}"
        )
    name = inputs.analysed_model(settings.baseline)
    unimodal = sorted(
        (k for k in inputs.models if inputs.families.get(k) == "unimodal"),
        key=lambda k: inputs.scores[k],
        reverse=inputs.higher_is_better,
    )[:2]
    if name is None or len(unimodal) < 2:
        return None
    test = inputs.test
    used = sorted(
        {
            m
            for k in (*unimodal, name)
            for m in getattr(inputs.models[k], "modalities", test.modality_names)
        }
    )
    complete = complete_samples(test, used)
    if not complete.any():
        return Skipped(
            f"no test sample has {', '.join(used)} all present, and a unimodal model has no "
            "response without its modality"
        )
    rows = complete.nonzero().flatten()
    view = test.subset(rows) if len(rows) < len(test) else test
    outputs = {k: predict_outputs(inputs.models[k], view) for k in (*unimodal, name)}
    broken = [k for k, v in outputs.items() if not bool(torch.isfinite(v).all())]
    if broken:
        return Skipped(f"the outputs of {', '.join(broken)} hold NaN or infinite values")
    p = [torch.softmax(v, dim=1).numpy() for v in outputs.values()]
    types = interaction_types(p[0], p[1], p[2], view.targets.numpy())
    positions = rows.numpy()
    summary = []
    for row in types.summary.to_dict("records"):
        entry = {str(k): v for k, v in row.items()}
        entry["examples"] = [int(positions[i]) for i in entry["examples"]]
        summary.append(entry)
    return InteractionSummary(name, unimodal, summary, len(rows), len(test), used)


def samples_interaction_types(result: InteractionSummary) -> str:
    if not result.test_samples:
        return ""  # read from a file that did not record the samples
    where = f"with {', '.join(result.modalities)} present"
    return f"interaction types on {of_test(result.samples, result.test_samples, where)}"


def figure_interaction_types(result: InteractionSummary) -> bytes:
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.barh([r["type"] for r in result.summary], [r["fraction"] for r in result.summary])
    axes.set_xlabel("fraction of test samples")
    axes.set_title(f"{result.model} against {' vs '.join(result.unimodal)}", fontsize=9)
    return png(figure)


def describe_interaction_types(result: InteractionSummary) -> list[str]:
    lines = [f"interaction types of {result.model} against {', '.join(result.unimodal)}:"]
    for row in result.summary:
        lines.append(
            f"  {row['type']:<26} {row['fraction']:6.1%}  (examples {row['examples'][:3]})"
        )
    return lines


# --- missing modalities --------------------------------------------------------------------------
@dataclass
class SubsetTable:
    """Each model's test score with only a subset of the modalities present (the others
    absent), for every non-empty subset of up to 6 modalities; beyond, for a documented choice
    of them (see :func:`intermodal.data.missing.subsets`: every single modality, every
    leave-one-out subset, the full set and a seeded sample of the others, ``max_subsets`` in
    all). ``strategies`` says what each model does with an absent modality. A model without any
    of a subset's modalities has no score there (None). Each subset is scored on the
    ``samples`` test samples (of ``test_samples``) in which at least one of its modalities is
    present: on incomplete data a sample that has none of them has nothing to predict from."""

    metric: str = "accuracy"
    higher_is_better: bool = True
    subsets: list[str] = field(default_factory=list)
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    strategies: dict[str, str] = field(default_factory=dict)
    note: str = ""
    samples: list[int] = field(default_factory=list)
    test_samples: int = 0


def subset_samples(test: MultimodalDataset, subset: tuple[str, ...]) -> int:
    """The test samples that have at least one modality of ``subset`` present."""
    return int(torch.stack([test.masks[m] for m in subset]).any(dim=0).sum())


def compute_subsets(inputs: AnalysisInput, settings: AnalysisSettings) -> SubsetTable | None:
    test = inputs.test
    if len(test.modality_names) < 2:
        return None
    metric = settings.metric_of(test.task)
    chosen = subsets(test.modality_names, settings.max_subsets, settings.seed)
    count = len(test.modality_names)
    total = 2**count - 1
    note = (
        ""
        if len(chosen) == total
        else (
            f"{len(chosen)} of the {total} subsets: every single modality, every leave-one-out "
            f"subset and the full set ({2 * count + 1}), and {len(chosen) - 2 * count - 1} "
            f"others drawn at random (seed {settings.seed}; max_subsets {settings.max_subsets})"
        )
    )
    table = SubsetTable(metric.name, metric.higher_is_better, [" + ".join(c) for c in chosen])
    table.note = note
    table.samples = [subset_samples(test, c) for c in chosen]
    table.test_samples = len(test)
    for name in inputs.models:
        table.scores[name] = inputs.per_model_result("missing_subsets", name, settings)
        table.strategies[name] = inputs.strategies.get(name, "")
    return table


def subset_scores(
    model: nn.Module, test: MultimodalDataset, settings: AnalysisSettings
) -> list[float | None] | None:
    """One model's test score with only each subset of the modalities present, on the samples
    that have one of them (None where it uses none of them or no sample has one), in the order
    of ``subsets``; None for data of one modality.

    A model sees only the modalities it uses, so two subsets with the same modalities of the
    model, scored on the same samples, give the same score: it is computed once (a unimodal
    model of six modalities runs once for the 32 subsets that hold its modality)."""
    if len(test.modality_names) < 2:
        return None
    metric = settings.metric_of(test.task)
    used = set(getattr(model, "modalities", test.modality_names))
    scores: list[float | None] = []
    seen: dict[tuple[frozenset[str], bytes], float] = {}
    for subset in subsets(test.modality_names, settings.max_subsets, settings.seed):
        if not (used & set(subset) and subset_samples(test, subset)):
            scores.append(None)
            continue
        rows = torch.stack([test.masks[m] for m in subset]).any(dim=0)
        key = (frozenset(used & set(subset)), rows.numpy().tobytes())
        if key not in seen:
            outputs, targets = outputs_keeping(model, test, subset)
            seen[key] = float(metric.compute(outputs.double(), targets))
        scores.append(seen[key])
    return scores


def outputs_keeping(
    model: nn.Module, test: MultimodalDataset, subset: tuple[str, ...], batch_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """The model's outputs and the targets on ``keep_only(test, subset)`` (the samples with one
    of ``subset`` present, every other modality absent), computed from the test tensors
    without building that data set (whose checks cost more than a small model's prediction);
    a model that matches data to its schema (a ``Pipeline``) gets the data set."""
    if isinstance(model, PreparesData):
        view = keep_only(test, subset)
        return predict_outputs(model, view, batch_size), view.targets
    rows = torch.stack([test.masks[m] for m in subset]).any(dim=0)
    index = None if bool(rows.all()) else rows.nonzero().flatten()

    def kept(x: Tensor) -> Tensor:
        return x if index is None else x[index]

    masks = {
        m: kept(test.masks[m]) if m in subset else torch.zeros(int(rows.sum()), dtype=torch.bool)
        for m in test.modality_names
    }
    inputs = {
        m: torch.where(masks[m].reshape(-1, *[1] * (x.ndim - 1)), kept(x), x.new_zeros(()))
        for m, x in test.modalities.items()
    }
    n = len(masks[test.modality_names[0]])
    batches = (
        Batch(
            {m: x[s : s + batch_size] for m, x in inputs.items()},
            kept(test.targets)[s : s + batch_size],
            {m: v[s : s + batch_size] for m, v in masks.items()},
        )
        for s in range(0, n, batch_size)
    )
    return batch_outputs(model, batches), kept(test.targets)


def samples_subsets(result: SubsetTable) -> str:
    if not result.test_samples:
        return ""  # read from a file that did not record the samples
    total = result.test_samples
    if not result.samples or set(result.samples) == {total}:
        return f"subset table on all {total} test samples for every subset"
    return (
        "subset table: each subset on the test samples with at least one of its modalities "
        f"present, {min(result.samples)} to {max(result.samples)} of {total} (the count of "
        "each is in the table)"
    )


def figure_subsets(result: SubsetTable) -> bytes:
    names = list(result.scores)
    values = np.array(
        [[np.nan if v is None else v for v in result.scores[n]] for n in names], dtype=float
    )
    figure, axes = plt.subplots(
        figsize=(max(6, 0.45 * len(result.subsets) + 3), max(3, 0.3 * len(names) + 1.5))
    )
    image = axes.imshow(
        values, aspect="auto", cmap="viridis" if result.higher_is_better else "viridis_r"
    )
    axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.set_xticks(range(len(result.subsets)), result.subsets, rotation=90, fontsize=6)
    figure.colorbar(image, ax=axes, label=direction(result.metric, result.higher_is_better))
    axes.set_xlabel("modalities present (the others absent)")
    return png(figure)


def describe_subsets(result: SubsetTable) -> list[str]:
    lines = [f"{result.metric} with only some modalities present ({result.note or 'all subsets'}):"]
    for name, values in result.scores.items():
        shown = ", ".join(
            f"{s} {'n/a' if v is None else f'{v:.3f}'}"
            for s, v in zip(result.subsets, values, strict=True)
        )
        lines.append(f"  {name} [{result.strategies.get(name, '')}]: {shown}")
    return lines


def table_subsets(result: SubsetTable) -> str:
    """The subset table as HTML (one row per subset with the test samples it was scored on,
    one column per model)."""
    counted = len(result.samples) == len(result.subsets)
    head = ("<th>samples</th>" if counted else "") + "".join(
        f"<th>{html.escape(n)}</th>" for n in result.scores
    )
    rows = []
    for i, subset in enumerate(result.subsets):
        cells = (f"<td>{result.samples[i]}</td>" if counted else "") + "".join(
            "<td>n/a</td>" if v[i] is None else f"<td>{v[i]:.4f}</td>"
            for v in result.scores.values()
        )
        rows.append(f"<tr><td>{html.escape(subset)}</td>{cells}</tr>")
    strategy = ("<td></td>" if counted else "") + "".join(
        f"<td>{html.escape(result.strategies.get(n, ''))}</td>" for n in result.scores
    )
    rows.append(f"<tr><td>absent modality</td>{strategy}</tr>")
    caption = html.escape(f"{result.metric} with only these modalities present. {result.note}")
    return (
        f'<table id="subsets"><caption>{caption}</caption><thead><tr><th>present</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


@dataclass
class MissingRateCurves:
    """Each model's test score when each modality of each sample is hidden at a rate (at least
    one kept per sample), the same hidden entries for every model, on the ``test_samples`` test
    samples, ``incomplete`` of which had a modality absent already (the rate hides present
    modalities only); ``absent_fraction`` is the fraction of (sample, modality) entries absent
    at each rate."""

    metric: str = "accuracy"
    higher_is_better: bool = True
    rates: list[float] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)
    strategies: dict[str, str] = field(default_factory=dict)
    test_samples: int = 0
    incomplete: int = 0
    absent_fraction: list[float] = field(default_factory=list)


def absent_fraction(data: MultimodalDataset) -> float:
    """The fraction of (sample, modality) entries of ``data`` that are absent."""
    present = torch.stack([data.masks[m] for m in data.modality_names])
    return float((~present).double().mean())


def compute_missing_rate(
    inputs: AnalysisInput, settings: AnalysisSettings
) -> MissingRateCurves | None:
    test = inputs.test
    if len(test.modality_names) < 2:
        return None
    metric = settings.metric_of(test.task)
    views = [hide_at_random(test, rate, seed=settings.seed) for rate in settings.missing_rates]
    result = MissingRateCurves(
        metric.name,
        metric.higher_is_better,
        list(settings.missing_rates),
        test_samples=len(test),
        incomplete=int((~complete_samples(test)).sum()),
        absent_fraction=[absent_fraction(view) for view in views],
    )
    for name, model in inputs.models.items():
        if len(getattr(model, "modalities", test.modality_names)) < 2:
            continue  # one modality (unimodal, linear[m]): hiding it leaves nothing to predict from
        result.scores[name] = [
            float(metric.compute(predict_outputs(model, view).double(), view.targets))
            for view in views
        ]
        result.strategies[name] = inputs.strategies.get(name, "")
    return result if result.scores else None


def samples_missing_rate(result: MissingRateCurves) -> str:
    if not result.test_samples:
        return ""  # read from a file that did not record the samples
    total = result.test_samples
    if not result.incomplete:
        return f"missing-rate curves on all {total} test samples (every modality present in each)"
    shown = ", ".join(f"{f:.2f}" for f in result.absent_fraction)
    return (
        f"missing-rate curves on all {total} test samples, {result.incomplete} of which had a "
        "modality absent already; each rate hides present modalities (at least one kept per "
        f"sample), leaving these fractions of the entries absent: {shown}"
    )


def figure_missing_rate(result: MissingRateCurves) -> bytes:
    figure, (axes, legend) = plt.subplots(
        1, 2, figsize=(9.5, 4.5), gridspec_kw={"width_ratios": [3, 1.3]}
    )
    for name, values in result.scores.items():
        axes.plot(result.rates, values, "o-", markersize=3, label=name)
    axes.set_xlabel("test-time missing rate per modality (at least one kept)")
    axes.set_ylabel(direction(result.metric, result.higher_is_better))
    axes.grid(alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    legend.axis("off")
    legend.legend(handles, labels, loc="upper left", fontsize=7, frameon=False)
    return png(figure)


def describe_missing_rate(result: MissingRateCurves) -> list[str]:
    lines = [f"{result.metric} at test-time missing rates {result.rates}:"]
    for name, values in result.scores.items():
        lines.append(f"  {name}: " + ", ".join(f"{v:.3f}" for v in values))
    return lines


# --- the suite -----------------------------------------------------------------------------------
def png(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


@dataclass(frozen=True)
class Analysis:
    """One entry of the suite; ``result`` is the dataclass that ``compute`` returns (None when
    the analysis does not apply, e.g. PID of a single modality)."""

    name: str
    result: type
    compute: Callable[[AnalysisInput, AnalysisSettings], Any]
    figure: Callable[[Any], bytes]
    caption: str
    describe: Callable[[Any], list[str]]
    samples: Callable[[Any], str]
    """Which samples the result was computed on, in a sentence (for the report and
    ``diagnose``)."""
    table: Callable[[Any], str] | None = None


ANALYSES: dict[str, Analysis] = {
    entry.name: entry
    for entry in (
        Analysis(
            "robustness",
            RobustnessCurves,
            compute_robustness,
            figure_robustness,
            "Robustness of the best fusion model (and the baseline) to a corrupted modality.",
            describe_robustness,
            samples_robustness,
        ),
        Analysis(
            "emap",
            EmapScores,
            compute_emap,
            figure_emap,
            "Each fusion model against its additive projection (EMAP): the gap is what "
            "cross-modal interactions add.",
            describe_emap,
            samples_emap,
        ),
        Analysis(
            "pid",
            PidTable,
            compute_pid,
            figure_pid,
            "Partial information decomposition of I(X1, X2; Y) for pairs of modalities "
            "(bits, whole data set; each pair gets the most k-means cells per modality that "
            "leave pid_samples_per_cell samples per cell of the table).",
            describe_pid,
            samples_pid,
        ),
        Analysis(
            "interaction_types",
            InteractionSummary,
            compute_interaction_types,
            figure_interaction_types,
            "Interaction types of the best fusion model's test predictions.",
            describe_interaction_types,
            samples_interaction_types,
        ),
        Analysis(
            "missing_subsets",
            SubsetTable,
            compute_subsets,
            figure_subsets,
            "Each model's test score with only a subset of the modalities present.",
            describe_subsets,
            samples_subsets,
            table_subsets,
        ),
        Analysis(
            "missing_rate",
            MissingRateCurves,
            compute_missing_rate,
            figure_missing_rate,
            "Each model's test score when each modality of each sample is hidden at a rate "
            "(at least one kept per sample).",
            describe_missing_rate,
            samples_missing_rate,
        ),
    )
}


PER_MODEL: dict[str, Callable[[nn.Module, MultimodalDataset, AnalysisSettings], Any]] = {
    "emap": emap_scores,
    "missing_subsets": subset_scores,
}
"""The parts of analyses that look at one model at a time, by analysis name: the benchmark
computes them with each first-seed run, in the worker that trained the model."""


def model_analyses(
    family: str, model: nn.Module, test: MultimodalDataset, settings: AnalysisSettings
) -> dict[str, Any]:
    """The per-model results (see :data:`PER_MODEL`) that apply to a trained model of
    ``family``, by analysis name."""
    names = [n for n in PER_MODEL if n != "emap" or is_encoding_fusion(family, model)]
    return {name: PER_MODEL[name](model, test, settings) for name in names}


def run_analyses(
    inputs: AnalysisInput, settings: AnalysisSettings | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Every analysis of :data:`ANALYSES` that applies, as typed results by name, computed
    with ``threads`` intra-op threads (default: the policy of a single process,
    :func:`~intermodal.training.context.auto_threads`: one on a machine of two cores, where
    the models' small operations gain little from a second thread and lose many times over
    when another process holds a core)."""
    settings = settings or AnalysisSettings()
    results = {}
    with thread_limit(threads or auto_threads()):
        for name, entry in ANALYSES.items():
            result = entry.compute(inputs, settings)
            if result is not None:
                results[name] = result
    return results


def to_json(results: dict[str, Any], settings: AnalysisSettings) -> dict[str, Any]:
    """The results as JSON values (``analysis.json``), with the settings that produced them
    and which samples each analysis used (``samples``, see :func:`samples_used`); a skipped
    analysis is ``{"skipped": reason}``."""
    document: dict[str, Any] = {"settings": dataclasses.asdict(settings)}
    for name, result in results.items():
        document[name] = (
            {"skipped": result.reason}
            if isinstance(result, Skipped)
            else dataclasses.asdict(result)
        )
    document["samples"] = samples_used(results)
    return document


def from_json(document: dict[str, Any]) -> dict[str, Any]:
    """Typed results from ``analysis.json`` (entries the suite does not know are ignored)."""
    results: dict[str, Any] = {}
    for name, entry in ANALYSES.items():
        value = document.get(name)
        if isinstance(value, dict):
            results[name] = (
                Skipped(value["skipped"]) if "skipped" in value else entry.result(**value)
            )
    return results


def tables(results: dict[str, Any]) -> dict[str, str]:
    """HTML tables of the results that have one, by analysis name."""
    return {
        name: table(result)
        for name, result in results.items()
        if not isinstance(result, Skipped) and (table := ANALYSES[name].table) is not None
    }


def figures(results: dict[str, Any]) -> dict[str, tuple[bytes, str]]:
    """``{file name: (PNG bytes, caption)}`` of every result that was computed."""
    return {
        f"{name}.png": (ANALYSES[name].figure(result), ANALYSES[name].caption)
        for name, result in results.items()
        if not isinstance(result, Skipped)
    }


def skipped(results: dict[str, Any]) -> dict[str, str]:
    """``{analysis: why it does not apply}``."""
    return {name: r.reason for name, r in results.items() if isinstance(r, Skipped)}


def samples_used(results: dict[str, Any]) -> dict[str, str]:
    """``{analysis: which samples it used}``, a sentence for each computed result (e.g. "EMAP
    on the 67 test samples with every modality present (of 100)")."""
    used = {
        name: ANALYSES[name].samples(result)
        for name, result in results.items()
        if not isinstance(result, Skipped)
    }
    return {name: sentence for name, sentence in used.items() if sentence}


def describe(name: str, result: Any) -> list[str]:
    """Text lines of a result (for ``intermodal diagnose``), ending with the samples it used."""
    if isinstance(result, Skipped):
        return [f"{name}: not computed ({result.reason})"]
    sentence = ANALYSES[name].samples(result)
    return ANALYSES[name].describe(result) + ([f"  ({sentence})"] if sentence else [])
