"""The benchmark report: analyses of the trained models, figures, and a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from intermodal._io import write_text_atomic
from intermodal.analysis import (
    effective_robustness,
    emap,
    interaction_types,
    pid,
    relative_robustness,
    robustness_curve,
)
from intermodal.data.splits import DataSplits
from intermodal.metrics import evaluate, predict

BASELINE = "late-mean"
MAX_PID_PAIRS = 15
CORRUPTIONS = ("noise", "missing")


def _fusion_models(models: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Models whose encoders can be cached (they have ``encode`` and ``classify``)."""
    return {
        k: m
        for k, m in models.items()
        if callable(getattr(m, "encode", None)) and callable(getattr(m, "classify", None))
    }


def analyse(splits: DataSplits, models: dict[str, nn.Module], seed: int = 0) -> dict[str, Any]:
    """Analyses of the models trained on one split, for the report (JSON-serializable).

    - ``emap``: per fusion model, its test accuracy and its EMAP's (Monte Carlo beyond 2e6
      combinations);
    - ``pid``: the PID in bits of each pair of modalities (at most 15 pairs) of the test split;
    - ``robustness``: for the best fusion model and the late-fusion baseline, accuracy under
      Gaussian noise and missing modality, per modality, with relative and effective robustness;
    - ``interaction_types``: for the best fusion model against the two best unimodal models.
    """
    test = splits.test
    scores = {name: evaluate(model, test)["accuracy"] for name, model in models.items()}
    fusion = _fusion_models(models)
    result: dict[str, Any] = {"emap": {}, "pid": [], "robustness": [], "interaction_types": None}
    for name, model in fusion.items():
        outcome = emap(model, test, n_draws=64, seed=seed)
        result["emap"][name] = {
            "model_accuracy": outcome.model_accuracy,
            "emap_accuracy": outcome.emap_accuracy,
        }
    flat = {k: v.reshape(len(test), -1).numpy() for k, v in test.modalities.items()}
    y = test.targets.numpy()
    for a, b in list(itertools.combinations(test.modality_names, 2))[:MAX_PID_PAIRS]:
        result["pid"].append(
            {"pair": f"{a} / {b}", **pid(flat[a], flat[b], y, n_clusters=5, seed=seed).as_dict()}
        )
    if not fusion:
        return result
    best = max(fusion, key=lambda k: scores[k])
    result["best_model"] = best
    baseline = models.get(BASELINE)
    for modality in test.modality_names:
        for corruption in CORRUPTIONS:
            curve = robustness_curve(models[best], test, modality, corruption, seed=seed)
            row = {
                "modality": modality,
                "corruption": corruption,
                "levels": curve["level"].tolist(),
                "accuracy": curve["accuracy"].tolist(),
                "relative_robustness": relative_robustness(curve),
            }
            if baseline is not None:
                base = robustness_curve(baseline, test, modality, corruption, seed=seed)
                row["baseline_accuracy"] = base["accuracy"].tolist()
                row["effective_robustness"] = effective_robustness(curve, base)
            result["robustness"].append(row)
    unimodal = sorted(
        (k for k in models if k.startswith("unimodal[")), key=lambda k: scores[k], reverse=True
    )[:2]
    if len(unimodal) == 2:
        p = [torch.softmax(predict(models[k], test), dim=1).numpy() for k in (*unimodal, best)]
        types = interaction_types(p[0], p[1], p[2], y)
        result["interaction_types"] = {
            "model": best,
            "unimodal": unimodal,
            "summary": types.summary.to_dict(orient="records"),
        }
    return result


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _scatter(board: pd.DataFrame, column: str, label: str) -> bytes:
    figure, axes = plt.subplots(figsize=(7, 4.5))
    colors = {
        "unimodal": "tab:gray",
        "fusion": "tab:blue",
        "coordination": "tab:green",
        "fission": "tab:purple",
    }
    for family, part in board.groupby("family"):
        axes.errorbar(
            part[column],
            part["accuracy_mean"],
            yerr=part["accuracy_std"],
            fmt="o",
            label=family,
            color=colors.get(str(family)),
            capsize=3,
        )
    for _, row in board.iterrows():
        axes.annotate(
            row["method"],
            (row[column], row["accuracy_mean"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    axes.set_xscale("log")
    axes.set_xlabel(label)
    axes.set_ylabel("test accuracy (mean ± std over seeds)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    return _png(figure)


def figures(results: dict[str, Any], analysis: dict[str, Any] | None) -> dict[str, bytes]:
    """The report's figures as PNG bytes, by file name."""
    board = pd.DataFrame(results["leaderboard"])
    out = {
        "accuracy_vs_parameters.png": _scatter(board, "parameters", "trainable parameters"),
        "accuracy_vs_train_time.png": _scatter(board, "train_time_s", "training time per run (s)"),
    }
    if not analysis:
        return out
    if analysis.get("robustness"):
        rows = analysis["robustness"]
        modalities = sorted({r["modality"] for r in rows})
        figure, grid = plt.subplots(
            len(CORRUPTIONS),
            len(modalities),
            figsize=(2.6 * len(modalities) + 1, 5),
            squeeze=False,
            sharey=True,
        )
        for r in rows:
            axes = grid[CORRUPTIONS.index(r["corruption"]), modalities.index(r["modality"])]
            axes.plot(r["levels"], r["accuracy"], "o-", label=analysis.get("best_model", "model"))
            if "baseline_accuracy" in r:
                axes.plot(r["levels"], r["baseline_accuracy"], "s--", label=BASELINE)
            title = f"{r['modality']}: {r['corruption']}\nrel {r['relative_robustness']:.3f}"
            if "effective_robustness" in r:
                title += f", eff {r['effective_robustness']:+.3f}"
            axes.set_title(title, fontsize=8)
            axes.set_xlabel(
                "noise std" if r["corruption"] == "noise" else "fraction missing", fontsize=8
            )
            axes.grid(alpha=0.3)
        grid[0, 0].set_ylabel("test accuracy")
        grid[0, 0].legend(fontsize=7)
        out["robustness.png"] = _png(figure)
    if analysis.get("emap"):
        names = sorted(analysis["emap"], key=lambda k: -analysis["emap"][k]["model_accuracy"])
        model = [analysis["emap"][k]["model_accuracy"] for k in names]
        additive = [analysis["emap"][k]["emap_accuracy"] for k in names]
        figure, axes = plt.subplots(figsize=(max(6, 0.55 * len(names)), 4))
        x = np.arange(len(names))
        axes.bar(x - 0.2, model, 0.4, label="model")
        axes.bar(x + 0.2, additive, 0.4, label="EMAP (additive projection)")
        axes.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        axes.set_ylim(max(0.0, min(model + additive) - 0.05), 1.0)
        axes.set_ylabel("test accuracy")
        axes.legend(fontsize=8)
        out["emap_gap.png"] = _png(figure)
    if analysis.get("pid"):
        table = pd.DataFrame(analysis["pid"])
        figure, axes = plt.subplots(figsize=(max(6, 0.6 * len(table)), 4))
        bottom = np.zeros(len(table))
        for part, label in (
            ("redundancy", "R"),
            ("unique1", "U1"),
            ("unique2", "U2"),
            ("synergy", "S"),
        ):
            axes.bar(table["pair"], table[part], bottom=bottom, label=label)
            bottom += table[part].to_numpy()
        axes.set_ylabel("bits")
        axes.tick_params(axis="x", rotation=45, labelsize=8)
        axes.legend(fontsize=8)
        out["pid.png"] = _png(figure)
    if analysis.get("interaction_types"):
        summary = pd.DataFrame(analysis["interaction_types"]["summary"])
        figure, axes = plt.subplots(figsize=(7, 3.5))
        axes.barh(summary["type"], summary["fraction"])
        axes.set_xlabel("fraction of test samples")
        unimodal = " vs ".join(analysis["interaction_types"]["unimodal"])
        axes.set_title(f"{analysis['interaction_types']['model']} against {unimodal}", fontsize=9)
        out["interaction_types.png"] = _png(figure)
    return out


def _table(board: pd.DataFrame) -> str:
    columns = {
        "method": "method",
        "family": "family",
        "accuracy_mean": "accuracy",
        "accuracy_std": "± std",
        "macro_f1_mean": "macro-F1",
        "parameters": "parameters",
        "flops": "FLOPs / sample",
        "train_time_s": "train time (s)",
        "latency_ms": "latency (ms / sample)",
    }
    head = "".join(f"<th>{html.escape(v)}</th>" for k, v in columns.items() if k in board)
    rows = []
    for _, row in board.iterrows():
        cells = []
        for key in columns:
            if key not in board:
                continue
            value = row[key]
            if isinstance(value, float | np.floating):
                text = f"{value:,.0f}" if key == "flops" else f"{value:.4g}"
            elif isinstance(value, int | np.integer):
                text = f"{value:,}"
            else:
                text = str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "".join(rows)
    return f'<table id="leaderboard"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


CAPTIONS = {
    "accuracy_vs_parameters.png": "Accuracy against trainable parameters (one point per method).",
    "accuracy_vs_train_time.png": "Accuracy against training time per run.",
    "robustness.png": "Robustness of the best fusion model (and late fusion) to noise and to a "
    "missing modality.",
    "emap_gap.png": "Each fusion model against its additive projection (EMAP): the gap is what "
    "cross-modal interactions add.",
    "pid.png": "Partial information decomposition of I(X1, X2; Y) for pairs of modalities "
    "(bits, test split).",
    "interaction_types.png": "Interaction types of the best fusion model's test predictions.",
}


def write_report(directory: str | Path) -> Path:
    """Write ``report.html`` (figures embedded, no network needed) and ``figures/*.png`` from the
    ``results.json`` and ``analysis.json`` saved in ``directory``. Needs no retraining."""
    directory = Path(directory)
    path = directory / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {directory} holds no benchmark results")
    results = json.loads(path.read_text())
    analysis_path = directory / "analysis.json"
    analysis = json.loads(analysis_path.read_text()) if analysis_path.is_file() else None
    images = figures(results, analysis)
    (directory / "figures").mkdir(exist_ok=True)
    for name, data in images.items():
        staging = directory / "figures" / f".{name}.tmp"
        staging.write_bytes(data)
        staging.replace(directory / "figures" / name)
    board = pd.DataFrame(results["leaderboard"])
    config = results.get("config", {})
    sections = []
    for name, data in images.items():
        encoded = base64.b64encode(data).decode("ascii")
        sections.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(CAPTIONS.get(name, name))}</figcaption></figure>"
        )
    skipped = "".join(
        f"<li>{html.escape(s['method'])}: {html.escape(s['reason'])}</li>"
        for s in results.get("skipped", [])
    )
    dataset = html.escape(results["dataset"])
    modalities = html.escape(", ".join(config.get("modalities", [])))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>intermodal benchmark: {dataset}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
tbody tr:nth-child(odd) {{ background: #f6f8fa; }}
figure {{ margin: 2em 0; }} img {{ max-width: 100%; }} figcaption {{ color: #555; }}
</style></head>
<body>
<h1>Benchmark on {dataset}</h1>
<p>{int(config.get("seeds", 0))} seeds; modalities {modalities}; accuracy and macro-F1 on the
test split (mean over seeds, std the sample standard deviation).</p>
<h2>Leaderboard</h2>
{_table(board)}
{f"<p>Skipped:</p><ul>{skipped}</ul>" if skipped else ""}
<h2>Figures</h2>
{"".join(sections)}
<script>
window.addEventListener("load", () => {{
  const shown = [...document.images].filter((img) => img.complete && img.naturalWidth > 0);
  document.body.dataset.figuresShown = String(shown.length);
}});
</script>
</body></html>
"""
    write_text_atomic(directory / "report.html", page)
    return directory / "report.html"
