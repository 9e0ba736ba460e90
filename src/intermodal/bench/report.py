"""The benchmark report: figures and a self-contained HTML page, rebuilt from a results folder
without retraining."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from intermodal.bench.analyses import figures as analysis_figures
from intermodal.bench.analyses import from_json, png, samples_used
from intermodal.bench.analyses import skipped as skipped_reasons
from intermodal.bench.analyses import tables as analysis_tables
from intermodal.bench.results import ResultsFolder
from intermodal.bench.runner import describe_scores, tuning_table
from intermodal.bench.verdict import html_checklist, html_verdict
from intermodal.recommend.recommend import html_section as html_recommendation

FAMILY_COLORS = {
    "unimodal": "tab:gray",
    "fusion": "tab:blue",
    "coordination": "tab:green",
    "fission": "tab:purple",
    "classical": "tab:orange",
}


def _scatter(board: pd.DataFrame, column: str, label: str, metric: str, higher: bool) -> bytes:
    """The metric against ``column``; points are numbered and the numbers listed beside the
    plot, so that no label overlaps another."""
    figure, (axes, legend) = plt.subplots(
        1, 2, figsize=(9.5, 4.8), gridspec_kw={"width_ratios": [3, 1.2]}
    )
    for family, part in board.groupby("family"):
        axes.errorbar(
            part[column],
            part[f"{metric}_mean"],
            yerr=part[f"{metric}_std"],
            fmt="o",
            label=family,
            color=FAMILY_COLORS.get(str(family)),
            capsize=3,
        )
    lines = []
    for number, (_, row) in enumerate(board.iterrows(), start=1):
        axes.annotate(
            str(number),
            (row[column], row[f"{metric}_mean"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
        lines.append(f"{number:>2}  {row['method']}")
    axes.set_xscale("log")
    axes.set_xlabel(label)
    better = "higher" if higher else "lower"
    axes.set_ylabel(f"test {metric} ({better} is better; mean ± std)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    legend.axis("off")
    legend.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=7)
    return png(figure)


def report_figures(
    results: dict[str, Any], analysis: dict[str, Any] | None
) -> dict[str, tuple[bytes, str]]:
    """``{file name: (PNG bytes, caption)}``: the leaderboard's scatter plots and the analyses."""
    board = pd.DataFrame(results["leaderboard"])
    config = results.get("config", {})
    metric, higher = config.get("metric", "accuracy"), config.get("higher_is_better", True)
    out = {
        "score_vs_parameters.png": (
            _scatter(board, "parameters", "trainable parameters", metric, higher),
            f"Test {metric} against trainable parameters (one point per method, numbered as "
            "in the list beside the plot).",
        ),
        "score_vs_train_time.png": (
            _scatter(board, "train_time_s", "training time per run (s)", metric, higher),
            f"Test {metric} against training time per run.",
        ),
    }
    if analysis:
        out.update(analysis_figures(from_json(analysis)))
    return out


COSTS = {
    "parameters": "parameters",
    "flops": "FLOPs / sample",
    "train_time_s": "train time (s)",
    "latency_ms": "latency (ms / sample)",
}


def _cell(key: str, value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    if isinstance(value, float | np.floating):
        return f"{value:,.0f}" if key == "flops" else f"{value:.4g}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return str(value)


COLLAPSED_NOTE = (
    "<p>Greyed rows collapsed (one class or constant output for every test sample) in the "
    "runs counted: they are listed, not ranked.</p>"
)


def columns_of(board: pd.DataFrame) -> list[str]:
    """The board's columns, ``collapsed`` only where some method collapsed."""
    collapsed = "collapsed" in board and bool((board["collapsed"].fillna(0) > 0).any())
    return [c for c in board.columns if c != "collapsed" or collapsed]


def _table(board: pd.DataFrame, config: dict[str, Any]) -> str:
    """The leaderboard; rows statistically tied with the best are marked, and methods with
    collapsed runs (one class or constant output for every test sample) greyed out."""
    metric = config.get("metric", "accuracy")
    columns = {"method": "method", "family": "family", f"{metric}_mean": metric}
    columns[f"{metric}_std"] = "± std"
    if "ci_low" in board:
        columns.update({"ci_low": "95% CI low", "ci_high": "95% CI high"})
        columns.update({"p_vs_best": "p vs best", "tied_with_best": "tied with best"})
    for other in config.get("metrics", []):
        if other != metric and f"{other}_mean" in board:
            columns[f"{other}_mean"] = other
    columns.update(COSTS)
    if "collapsed" in columns_of(board):
        columns["collapsed"] = "collapsed runs"
    head = "".join(f"<th>{html.escape(v)}</th>" for k, v in columns.items() if k in board)
    rows = []
    for _, row in board.iterrows():
        cells = "".join(
            f"<td>{html.escape(_cell(key, row[key]))}</td>" for key in columns if key in board
        )
        tied = bool(row.get("tied_with_best", False))
        collapsed = (row.get("collapsed") or 0) > 0  # listed, not ranked
        kind = "collapsed" if collapsed else "tied" if tied else "other"
        rows.append(f'<tr class="{kind}">{cells}</tr>')
    body = "".join(rows)
    return f'<table id="leaderboard"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _tuning(results: dict[str, Any]) -> str:
    """The setting tuning chose for each method, and why (empty without tuning)."""
    table = tuning_table(results.get("tuning") or {})
    if table.empty:
        return ""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(str(k), v))}</td>" for k, v in row.items())
        + "</tr>"
        for _, row in table.iterrows()
    )
    trials = results.get("config", {}).get("trials")
    return (
        f"<h2>Tuning</h2><p>{trials} trials per method on the first seed's training and "
        "validation data (trial 0: its defaults); the chosen setting trained on every seed.</p>"
        f'<table id="tuning"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def write_report(directory: str | Path | ResultsFolder) -> Path:
    """Write ``report.html`` (figures embedded, no network needed) and ``figures/*.png`` from the
    ``results.json`` and ``analysis.json`` of a results folder: the methods recommended before
    training against the one chosen on validation first, the verdict ("does fusion help
    here?"), the leaderboard, the reliability checklist, the figures and the analyses' tables.
    Needs no retraining."""
    folder = (
        directory if isinstance(directory, ResultsFolder) else ResultsFolder.existing(directory)
    )
    results = folder.read_json("results.json")
    analysis = (
        folder.read_json("analysis.json") if (folder.path / "analysis.json").is_file() else None
    )
    images = report_figures(results, analysis)
    html_tables = analysis_tables(from_json(analysis or {}))
    folder.write_figures({name: data for name, (data, _) in images.items()})
    board = pd.DataFrame(results["leaderboard"])
    config = results.get("config", {})
    used = "".join(
        f"<li>{html.escape(sentence)}</li>"
        for sentence in samples_used(from_json(analysis or {})).values()
    )
    skipped_analyses = "".join(
        f"<li>{html.escape(name)}: {html.escape(why)}</li>"
        for name, why in skipped_reasons(from_json(analysis or {})).items()
    )
    sections = []
    for name, (data, caption) in images.items():
        encoded = base64.b64encode(data).decode("ascii")
        sections.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
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
tbody tr.tied {{ background: #e6f4ea; font-weight: 600; }}
tbody tr.collapsed {{ color: #999; font-style: italic; }}
figure {{ margin: 2em 0; }} img {{ max-width: 100%; }} figcaption {{ color: #555; }}
</style></head>
<body>
<h1>Benchmark on {dataset}</h1>
{html_recommendation(results)}
{html_verdict(results)}
<h2>Leaderboard</h2>
<p>Modalities {modalities}; {html.escape(describe_scores(config))} Rows tied with the best
are shaded.</p>
{_table(board, config)}
{COLLAPSED_NOTE if "collapsed" in columns_of(board) else ""}
{f"<p>Skipped methods:</p><ul>{skipped}</ul>" if skipped else ""}
{_tuning(results)}
{html_checklist(results, analysis)}
<h2>Figures</h2>
{"".join(sections)}
{"".join(f"<h2>{html.escape(name.replace('_', ' '))}</h2>{t}" for name, t in html_tables.items())}
{f'<h2>Samples of each analysis</h2><ul id="samples">{used}</ul>' if used else ""}
{f"<p>Analyses not computed:</p><ul>{skipped_analyses}</ul>" if skipped_analyses else ""}
<script>
window.addEventListener("load", () => {{
  const shown = [...document.images].filter((img) => img.complete && img.naturalWidth > 0);
  document.body.dataset.figuresShown = String(shown.length);
}});
</script>
</body></html>
"""
    return folder.write_text("report.html", page)
