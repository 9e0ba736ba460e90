"""The ``intermodal`` command."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd


def _format_leaderboard(table: pd.DataFrame) -> str:
    shown = pd.DataFrame(
        {
            "method": table["method"],
            "family": table["family"],
            "accuracy": [
                f"{m:.4f} ± {s:.4f}"
                for m, s in zip(table["accuracy_mean"], table["accuracy_std"], strict=True)
            ],
            "macro_f1": table["macro_f1_mean"].map("{:.4f}".format),
            "params": table["parameters"].map("{:,}".format),
            "train_s": table["train_time_s"].map("{:.1f}".format),
            "latency_ms": table["latency_ms"].map("{:.4f}".format),
        }
    )
    return shown.to_string(index=False)


BENCH_KEYS = {
    "dataset",
    "data_dir",
    "methods",
    "modalities",
    "seeds",
    "epochs",
    "patience",
    "output",
}


def _bench_one(args: argparse.Namespace) -> None:
    from intermodal.bench import run_benchmark, save_results
    from intermodal.data import load_dataset

    output = Path(
        args.output
        or f"intermodal-results/{Path(args.dataset).name}-{datetime.now():%Y%m%d-%H%M%S}"
    )
    if output.exists() and any(output.iterdir()) and not args.resume:
        if not args.overwrite:
            raise FileExistsError(
                f"{output} already holds results; pass --resume, --overwrite or another --output"
            )
        shutil.rmtree(output)
    dataset = load_dataset(args.dataset, args.data_dir, trust_pickle=args.trust_pickle)
    modalities = args.modalities.split(",") if isinstance(args.modalities, str) else args.modalities
    result = run_benchmark(
        dataset,
        methods=args.methods,
        seeds=args.seeds,
        epochs=args.epochs,
        patience=args.patience,
        progress=not args.quiet,
        modalities=modalities,
        output=output,
        resume=args.resume,
        analyse_models=args.report,
    )
    save_results(result, output, report=args.report)
    print(f"Leaderboard on {dataset.name} ({args.seeds} seeds, test split):")
    print(_format_leaderboard(result.leaderboard))
    for name, reason in result.skipped:
        print(f"skipped {name}: {reason}")
    print(
        f"results written to {output}"
        + (f" (report: {output / 'report.html'})" if args.report else "")
    )


def _bench(args: argparse.Namespace) -> int:
    if not args.config:
        _bench_one(args)
        return 0
    import yaml

    try:
        config = yaml.safe_load(Path(args.config).read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{args.config} is not valid YAML ({error})") from None
    if not isinstance(config, dict) or not set(config) <= BENCH_KEYS:
        unknown = sorted(set(config) - BENCH_KEYS) if isinstance(config, dict) else config
        raise ValueError(f"{args.config}: unknown keys {unknown}; allowed: {sorted(BENCH_KEYS)}")
    datasets = config.get("dataset", args.dataset)
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    root = Path(config.get("output", args.output or "intermodal-results"))
    for name in datasets:
        run = argparse.Namespace(**{**vars(args), **config})
        run.dataset, run.output = name, str(root / Path(name).name if len(datasets) > 1 else root)
        if isinstance(run.methods, list):
            run.methods = ",".join(run.methods)
        _bench_one(run)
    return 0


def _report(args: argparse.Namespace) -> int:
    from intermodal.bench.report import write_report

    print(f"report written to {write_report(args.results)}")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from intermodal._io import write_text_atomic
    from intermodal.bench.diagnose import diagnose
    from intermodal.data import load_dataset

    output = Path(args.output or f"diagnose-{args.dataset}.json")
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite or another --output")
    dataset = load_dataset(args.dataset, args.data_dir)
    modalities = args.modalities.split(",") if args.modalities else None
    if modalities is None and args.dataset == "mfeat":
        modalities = ["fou", "pix"]
    report = diagnose(dataset, modalities, epochs=args.epochs, seed=args.seed)
    first, second = report["modalities"]
    print(f"Diagnosis of {report['dataset']}: {first} and {second} (test split)")
    print("accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in report["accuracy"].items()))
    e = report["emap"]
    print(
        f"EMAP: fusion model {e['model_accuracy']:.4f}, additive projection "
        f"{e['emap_accuracy']:.4f} (gap {e['gap']:+.4f}: what cross-modal interactions add)"
    )
    for source, parts in report["pid_bits"].items():
        print(
            f"PID of {source} (bits): R {parts['redundancy']:.3f}, "
            f"U({first}) {parts['unique1']:.3f}, U({second}) {parts['unique2']:.3f}, "
            f"S {parts['synergy']:.3f}, total {parts['total']:.3f}"
        )
    print("interaction types:")
    for row in report["interaction_types"]:
        print(f"  {row['type']:<26} {row['fraction']:6.1%}  (examples {row['examples'][:3]})")
    print("robustness (relative; effective vs late fusion):")
    for row in report["robustness"]:
        print(
            f"  {row['modality']:<6} {row['corruption']:<8} {row['relative_robustness']:.3f}; "
            f"{row['effective_robustness']:+.3f}"
        )
    c = report["complexity"]
    print(
        f"complexity: {c['parameters']:,.0f} parameters, "
        f"{c['flops_per_sample']:,.0f} FLOPs/sample, {c['latency_ms_per_sample']:.4f} ms/sample, "
        f"peak {c['peak_memory_mb']:.2f} MB (batch 64)"
    )
    columns = [
        "modality",
        "kind",
        "shape",
        "missing_rate",
        "probe_accuracy",
        "mutual_information_bits",
    ]
    print("profile of the modalities:")
    print(pd.DataFrame(report["profile"]["modalities"])[columns].to_string(index=False))
    for pair in report["profile"]["pairs"]:
        print(
            f"  {pair['modality_1']} ~ {pair['modality_2']}: top canonical correlations "
            + ", ".join(f"{c:.3f}" for c in pair["canonical_correlations"])
        )
    write_text_atomic(output, json.dumps(report, indent=2, default=float))
    print(f"written to {output}")
    return 0


def _align(args: argparse.Namespace) -> int:
    from intermodal.bench.align import align
    from intermodal.data import load_dataset

    result = align(
        load_dataset(args.dataset, args.data_dir),
        args.views,
        args.method,
        args.dim,
        args.epochs,
        args.seed,
    )
    a, b = result.views
    print(f"{result.method} on {args.dataset}: {a} ~ {b} (test split)")
    print("canonical correlations: " + ", ".join(f"{c:.4f}" for c in result.canonical_correlations))
    for direction, name in (("a->b", f"{a}->{b}"), ("b->a", f"{b}->{a}")):
        r = result.retrieval
        print(
            f"{name}: R@1 {r[direction + ' R@1']:.3f}, R@5 {r[direction + ' R@5']:.3f}, "
            f"R@10 {r[direction + ' R@10']:.3f}, median rank {r[direction + ' median rank']:.0f}, "
            f"MRR {r[direction + ' MRR']:.3f}"
        )
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from intermodal.bench.fission import cross_modal_transfer
    from intermodal.data import load_dataset

    dataset = load_dataset(args.dataset, args.data_dir)
    result = cross_modal_transfer(
        dataset, args.train_modality, args.test_modality, epochs=args.epochs, seed=args.seed
    )
    print(json.dumps(result))
    return 0


def _fission(args: argparse.Namespace) -> int:
    from intermodal.bench.fission import disentanglement
    from intermodal.data import load_dataset

    rows = disentanglement(
        load_dataset(args.dataset, args.data_dir), args.nuisance, epochs=args.epochs, seed=args.seed
    )
    print(f"Linear probes of the factors of a factorized model (MFM), {args.dataset} test split:")
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from intermodal.data import list_datasets

    table = list_datasets()
    print(
        table.to_string(index=False) if not args.json else table.to_json(orient="records", indent=2)
    )
    return 0


def _methods(args: argparse.Namespace) -> int:
    from intermodal.bench import METHODS

    for method in METHODS.values():
        suffix = " (one run per modality)" if method.per_modality else ""
        print(f"{method.name:<16} {method.family:<12} {method.description}{suffix}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intermodal",
        description="Multimodal representation learning: fuse, coordinate, analyse.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser(
        "bench", help="train registered methods on a data set and compare them"
    )
    bench.add_argument(
        "--dataset", default="mfeat", help="registered data set name (default: mfeat)"
    )
    bench.add_argument(
        "--data-dir", help="local copy of a downloadable data set (e.g. the FSDD recordings)"
    )
    bench.add_argument(
        "--methods", default="all", help="comma-separated method names or 'all' (default)"
    )
    bench.add_argument(
        "--modalities", help="comma-separated modalities to use (default: all of the data set)"
    )
    bench.add_argument("--seeds", type=int, default=3, help="number of seeds (default: 3)")
    bench.add_argument(
        "--epochs", type=int, default=100, help="maximum epochs per run (default: 100)"
    )
    bench.add_argument(
        "--patience", type=int, default=10, help="early-stopping patience (default: 10)"
    )
    bench.add_argument(
        "--output", help="results directory (default: intermodal-results/DATASET-TIME)"
    )
    bench.add_argument(
        "--overwrite", action="store_true", help="replace an existing results directory"
    )
    bench.add_argument("--quiet", action="store_true", help="no progress display")
    bench.add_argument(
        "--resume", action="store_true", help="continue in --output, skipping saved runs"
    )
    bench.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="analyse the models and write report.html and figures (default: on)",
    )
    bench.add_argument("--config", help="YAML file with any of: " + ", ".join(sorted(BENCH_KEYS)))
    bench.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow reading pickle files (they can run code: only for files you trust)",
    )
    bench.set_defaults(run=_bench)

    report = commands.add_parser("report", help="rebuild report.html from saved results")
    report.add_argument("results", help="a results directory written by intermodal bench")
    report.set_defaults(run=_report)

    diagnose = commands.add_parser(
        "diagnose", help="EMAP, PID, interaction types, robustness and complexity on two modalities"
    )
    diagnose.add_argument(
        "--data-dir", help="local copy of a downloadable data set (e.g. the FSDD recordings)"
    )
    diagnose.add_argument("--dataset", default="mfeat", help="registered data set (default: mfeat)")
    diagnose.add_argument(
        "--modalities", help="the two modalities, comma-separated (mfeat default: fou,pix)"
    )
    diagnose.add_argument("--epochs", type=int, default=100, help="maximum epochs per model")
    diagnose.add_argument("--seed", type=int, default=0, help="split and training seed")
    diagnose.add_argument("--output", help="JSON file (default: diagnose-DATASET.json)")
    diagnose.add_argument("--overwrite", action="store_true", help="replace an existing file")
    diagnose.set_defaults(run=_diagnose)

    align = commands.add_parser("align", help="coordinate two views and evaluate retrieval")
    align.add_argument(
        "--data-dir", help="local copy of a downloadable data set (e.g. the FSDD recordings)"
    )
    align.add_argument("--dataset", default="mfeat", help="registered data set (default: mfeat)")
    align.add_argument(
        "--views", nargs=2, default=["fou", "pix"], help="the two views (default: fou pix)"
    )
    align.add_argument(
        "--method",
        default="cca",
        choices=["cca", "kcca", "dcca", "dccae", "clip", "siglip", "hinge"],
    )
    align.add_argument("--dim", type=int, default=10, help="embedding size (default: 10)")
    align.add_argument("--epochs", type=int, default=100, help="maximum epochs (neural methods)")
    align.add_argument("--seed", type=int, default=0)
    align.set_defaults(run=_align)

    transfer = commands.add_parser(
        "transfer", help="cross-modal transfer through a bimodal autoencoder's shared code"
    )
    transfer.add_argument("--dataset", default="av-digits", help="data set with two modalities")
    transfer.add_argument("--data-dir", help="local copy of the data (e.g. the FSDD recordings)")
    transfer.add_argument("--train-modality", default="audio")
    transfer.add_argument("--test-modality", default="image")
    transfer.add_argument("--epochs", type=int, default=60)
    transfer.add_argument("--seed", type=int, default=0)
    transfer.set_defaults(run=_transfer)

    fission = commands.add_parser(
        "fission", help="which factor of a factorized model predicts the class and a nuisance"
    )
    fission.add_argument("--dataset", default="av-digits", help="data set with two modalities")
    fission.add_argument("--data-dir", help="local copy of the data (e.g. the FSDD recordings)")
    fission.add_argument("--nuisance", default="speaker", help="metadata column to probe")
    fission.add_argument("--epochs", type=int, default=60)
    fission.add_argument("--seed", type=int, default=0)
    fission.set_defaults(run=_fission)

    datasets = commands.add_parser("datasets", help="list the available data sets")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    datasets.set_defaults(run=_datasets)

    methods = commands.add_parser("methods", help="list the registered methods")
    methods.set_defaults(run=_methods)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, KeyError, TypeError, MemoryError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"intermodal {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"intermodal {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
