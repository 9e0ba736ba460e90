"""The ``intermodal`` command: it parses, calls the library and prints."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from intermodal.errors import UnknownNameError
from intermodal.interrupts import describe_stop, exit_code, signals_as_interrupts
from intermodal.training.stopping import MIN_DELTA


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``intermodal CMD: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _jobs(value: str) -> int:
    if value == "auto":
        return 0
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number or 'auto', got {value!r}")
    return jobs


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return number


def _folds(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of folds, got {value!r}") from None
    if number < 2:
        raise argparse.ArgumentTypeError(
            f"K-fold cross-validation needs 2 folds or more, got {value!r}; leave --cv out for "
            "one train/validation/test split per seed"
        )
    return number


def _trials(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(
            f"must be 0 (no tuning) or a positive number of trials per method, got {value!r}"
        )
    return number


def _add_trials(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument(
        "--trials",
        type=_trials,
        default=default,
        help="tuning trials per method on the (first seed's) training and validation data, "
        f"trial 0 its defaults (default: {default}; 0: no tuning)",
    )


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {value!r}")
    return number


def _backbone(value: str) -> tuple[str, str]:
    modality, equals, name = value.partition("=")
    if not equals or not modality or not name:
        raise argparse.ArgumentTypeError(
            f"must be MODALITY=NAME_OR_PATH (e.g. caption=path/to/bert), got {value!r}"
        )
    return modality, name


def _add_data(parser: argparse.ArgumentParser, default: str | None) -> None:
    if default is None:
        parser.add_argument("--dataset", required=True, help="name or path")
    else:
        parser.add_argument("--dataset", default=default, help=f"name or path (default: {default})")
    parser.add_argument(
        "--data-dir", help="local copy of a downloadable data set (e.g. the FSDD recordings)"
    )
    parser.add_argument(
        "--task",
        choices=["classification", "multilabel", "regression"],
        help="the target of a file that holds several (e.g. sentiment scores: regression)",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow reading pickle files (they can run code: only for files you trust)",
    )
    parser.add_argument(
        "--column-types",
        metavar="COLUMN=TYPE,...",
        help="types of a table's columns, overriding those of their data types: numeric, "
        "categorical, text or ignore (e.g. tab.zip=categorical,review=text)",
    )


def _column_types(args: argparse.Namespace) -> dict[str, str] | None:
    """``--column-types`` as a mapping (a malformed one is a ValueError: a one-line error)."""
    from intermodal.data.tabular import parse_column_types

    text = getattr(args, "column_types", None)
    return None if text is None else parse_column_types(text)


def _add_training(
    parser: argparse.ArgumentParser, epochs: int, seeds: bool = False, parallel: bool = False
) -> None:
    group = parser.add_argument_group("training")
    if seeds:
        group.add_argument("--seeds", type=_positive, default=3, help="seeds 0..N-1 (default: 3)")
    else:
        group.add_argument("--seed", type=int, default=0, help="split and training seed")
    group.add_argument(
        "--epochs", type=_positive, default=epochs, help=f"maximum epochs (default: {epochs})"
    )
    group.add_argument(
        "--patience", type=_positive, default=10, help="early-stopping patience (default: 10)"
    )
    group.add_argument(
        "--min-delta",
        type=_fraction,
        default=MIN_DELTA,
        help="minimum relative improvement of the validation loss that resets the patience "
        f"(default: {MIN_DELTA}; 0: any improvement counts)",
    )
    group.add_argument(
        "--batch-size", type=_positive, default=64, help="training batch size (default: 64)"
    )
    group.add_argument(
        "--loss",
        choices=["cross_entropy", "bce", "bce_balanced", "mse", "l1"],
        help="the task's loss (default: cross-entropy, bce or mse by the task)",
    )
    group.add_argument(
        "--missing-strategy",
        dest="missing",
        default="zero",
        choices=["zero", "mean", "learned", "dropout"],
        help="what fusion models do with an absent modality (default: zero)",
    )
    group.add_argument(
        "--modality-dropout",
        type=_fraction,
        default=0.5,
        help="probability of dropping a modality with --missing-strategy dropout (default: 0.5)",
    )
    group.add_argument(
        "--accelerator",
        default="auto",
        choices=["auto", "cpu", "gpu", "cuda", "mps"],
        help="where to train (default: auto, the faster of the GPU and the CPU, timed on a few "
        "steps of each kind of work; the CPU without a GPU)",
    )
    group.add_argument(
        "--devices", type=_positive, default=1, help="devices per run; >1 trains with DDP"
    )
    group.add_argument(
        "--threads",
        type=_positive,
        help="CPU threads per run (default: chosen for the number of parallel jobs)",
    )
    if parallel:
        group.add_argument(
            "--jobs",
            type=_jobs,
            default=0,
            help="runs trained side by side: a number, or 'auto' for one per core (default)",
        )
        group.add_argument(
            "--backend",
            default="local",
            choices=["local", "ray"],
            help="local processes, or a Ray cluster (RAY_ADDRESS; needs intermodal[ray])",
        )


def _context(args: argparse.Namespace) -> Any:
    from intermodal.training import RunContext, resolve_device

    resolve_device(args.accelerator)  # a GPU that is not there is an error before any work
    return RunContext(
        seed=args.seed,
        max_epochs=args.epochs,
        patience=args.patience,
        min_delta=args.min_delta,
        batch_size=args.batch_size,
        accelerator=args.accelerator,
        devices=args.devices,
        threads=args.threads,
        loss=args.loss,
        missing=args.missing,
        modality_dropout=args.modality_dropout,
    )


def _bench_config(args: argparse.Namespace) -> Any:
    from intermodal.bench.config import BenchConfig
    from intermodal.training import resolve_device

    resolve_device(args.accelerator)
    return BenchConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        methods=args.methods,
        modalities=args.modalities or (),
        signals=args.signals or (),
        seeds=args.seeds,
        cv=args.cv,
        epochs=args.epochs,
        patience=args.patience,
        min_delta=args.min_delta,
        batch_size=args.batch_size,
        output=args.output,
        overwrite=args.overwrite,
        resume=args.resume,
        report=args.report,
        jobs=args.jobs,
        backend=args.backend,
        threads=args.threads,
        accelerator=args.accelerator,
        devices=args.devices,
        trust_pickle=args.trust_pickle,
        task=args.task,
        metric=args.metric,
        sentiment=args.sentiment,
        loss=args.loss,
        missing=args.missing,
        modality_dropout=args.modality_dropout,
        train_missing=args.train_missing,
        backbones=dict(args.backbone or []),
        cache_dir=args.cache_dir,
        trials=args.trials,
        progress=not args.quiet,
    )


def _format_leaderboard(table: pd.DataFrame, config: dict[str, Any]) -> str:
    metric = config["metric"]
    shown: dict[str, Any] = {"method": table["method"], "family": table["family"]}
    shown[metric] = [
        f"{m:.4f} ± {s:.4f}"
        for m, s in zip(table[f"{metric}_mean"], table[f"{metric}_std"], strict=True)
    ]
    if "ci_low" in table:
        shown["95% CI"] = [
            f"[{lo:.4f}, {hi:.4f}]"
            for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
        ]
        shown["tied"] = table["tied_with_best"].map({True: "=", False: ""})
    if "collapsed" in table:  # listed, not ranked (intermodal.bench.collapse)
        runs = table["collapsed"].fillna(0).astype(int)
        if (runs > 0).any():
            if "95% CI" in shown:
                shown["95% CI"] = [
                    "collapsed" if n else ci for n, ci in zip(runs, shown["95% CI"], strict=True)
                ]
            shown["collapsed"] = [f"{n} run{'s' * (n != 1)}" if n else "" for n in runs]
    for other in config.get("metrics", [])[:4]:
        if other != metric and f"{other}_mean" in table:
            shown[other] = table[f"{other}_mean"].map("{:.4f}".format)
    shown["params"] = table["parameters"].map("{:,}".format)
    shown["train_s"] = table["train_time_s"].map("{:.1f}".format)
    return pd.DataFrame(shown).to_string(index=False)


def _interrupted(
    folder: Path, analysing: bool, named: bool, stop: KeyboardInterrupt, undone: bool
) -> int:
    """Say what a benchmark stopped by ``stop`` (Ctrl-C, SIGTERM, ...) kept in ``folder`` and how
    to continue (``named``: the user chose the folder with --output; ``undone``: the folder is as
    it was before the benchmark); exit code 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)."""
    runs = folder / "runs"
    saved = len(list(runs.glob("*.json"))) if runs.is_dir() and not undone else 0
    again = "run the same command with --resume" + ("" if named else f" --output {folder}")
    how = describe_stop(stop)
    if analysing:
        what = (
            f"{how} while analysing the models; every run ({saved}) is saved in {runs}: "
            f"{again} to write the results and the report without training again"
        )
    elif saved:
        what = (
            f"{how}; {saved} finished run{'s are' if saved > 1 else ' is'} saved in "
            f"{runs}: {again} to continue (saved runs are not trained again)"
        )
    else:
        what = f"{how} before any run finished; {folder} is left as it was"
    print(f"intermodal bench: {what}", file=sys.stderr)
    return exit_code(stop)


def _bench(args: argparse.Namespace) -> int:
    from intermodal.bench import verdict
    from intermodal.bench.config import load_grid
    from intermodal.bench.registry import method_spaces
    from intermodal.bench.results import ResultsFolder, default_path
    from intermodal.bench.runner import (
        AnalysisInterrupted,
        describe_scores,
        prepare_dataset,
        run_benchmark,
        save_best,
        save_results,
    )
    from intermodal.data import load_dataset
    from intermodal.data.registry import DATASETS
    from intermodal.saving import check_save_target
    from intermodal.tuning.folds import check_folds

    base = _bench_config(args)
    configs = load_grid(args.config, base) if args.config else [base]
    for config in configs:  # an unknown method or setting in search_space, before any work
        method_spaces(config.search_space)
    if args.save_best and len(configs) > 1:
        raise ValueError(
            f"--save-best {args.save_best} names one folder for {len(configs)} benchmarks; give "
            "--save-best alone to keep each chosen model in its results folder (best/)"
        )
    for config in configs:  # every check that needs no training, for every benchmark, first
        if args.save_best:
            check_save_target(
                args.save_best,
                config.overwrite or config.resume,
                "; pass --overwrite or another --save-best folder",
            )
        if config.resume and config.output is None:
            raise ValueError("--resume continues a results folder: name it with --output")
        if config.backend == "ray":
            from intermodal.bench.executors import import_ray

            import_ray()
        if config.dataset not in DATASETS and not Path(config.dataset).exists():
            load_dataset(config.dataset)  # the error that names the registered data sets
    outputs = [config.output or default_path(config.dataset) for config in configs]
    for config, output in zip(configs, outputs, strict=True):
        checked = ResultsFolder(output, config.overwrite, config.resume, check_only=True)
        if config.resume:  # the data set, its modalities and the default loss are checked
            settings = config.run_settings()  # again once the data set is loaded
            del settings["dataset"]
            for name in ("modalities", "loss"):
                if not settings[name]:
                    del settings[name]
            checked.check(settings)
    for config, output in zip(configs, outputs, strict=True):
        folder = None
        try:
            dataset = load_dataset(
                config.dataset,
                config.data_dir,
                trust_pickle=config.trust_pickle,
                task=config.task,
                column_types=_column_types(args),
            )
            config.metric_of(dataset.task)  # an unknown --metric is an error before any output
            prepared = prepare_dataset(dataset, config)  # and unknown --modalities or --signals
            if config.cv is not None:  # and --cv beyond the smallest class or the groups
                check_folds(prepared, config.cv)
            # locked while the benchmark writes it; left as found if it ends before a saved run
            with ResultsFolder(output, config.overwrite, config.resume) as folder:
                result = run_benchmark(dataset, config, folder)
                best = None
                if args.save_best is not None:
                    overwrite = config.overwrite or config.resume
                    best = save_best(result, folder, args.save_best or None, overwrite=overwrite)
                save_results(result, folder, report=config.report, best=best)
        except KeyboardInterrupt as stop:
            undone = not config.resume and (folder is None or folder.undone)
            analysing = isinstance(stop, AnalysisInterrupted)
            return _interrupted(Path(output), analysing, config.output is not None, stop, undone)
        print(f"Leaderboard on {dataset.name} ({describe_scores(result.config)})")
        print(_format_leaderboard(result.leaderboard, result.config))
        for name, reason in result.skipped:
            print(f"skipped {name}: {reason}")
        if result.chosen is not None:
            kept = f"; kept as a ready model in {best}" if best is not None else ""
            print(
                f"chosen on validation: {result.chosen.method} (mean validation "
                f"{result.chosen.metric} {result.chosen.score:.4f}){kept}"
            )
        print(verdict.console(*verdict.read(folder), width=_width()))
        report = f" (report: {folder.path / 'report.html'})" if config.report else ""
        print(f"results written to {folder.path}{report}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from intermodal.bench.config import BenchConfig
    from intermodal.bench.train import save_trained, train_model
    from intermodal.data import load_dataset
    from intermodal.saving import check_save_target

    check_save_target(args.output, args.overwrite, "; pass --overwrite or another --output")
    context = _context(args)
    config = BenchConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        modalities=tuple(_names(args.modalities, "--modalities") or ()),
        seed=context.seed,
        epochs=context.max_epochs,
        patience=context.patience,
        batch_size=context.batch_size,
        loss=context.loss,
        missing=context.missing,
        modality_dropout=context.modality_dropout,
        train_missing=args.train_missing,
        accelerator=context.accelerator,
        devices=context.devices,
        threads=context.threads,
        trust_pickle=args.trust_pickle,
        task=args.task,
        sentiment=args.sentiment,
        jobs=1,
        trials=args.trials,
        progress=not args.quiet,
    )
    dataset = load_dataset(
        args.dataset, args.data_dir, args.trust_pickle, args.task, _column_types(args)
    )
    trained = train_model(dataset, args.method, config)
    path = save_trained(trained, args.output, config, overwrite=args.overwrite)
    samples = trained.samples
    left = f"; {samples['left_out']:,} test rows left out" if samples["left_out"] else ""
    print(
        f"trained {trained.method} on {trained.dataset}: {samples['train']:,} samples, "
        f"{samples['validation']:,} for early stopping{left}"
    )
    if trained.tuning is not None:
        from intermodal.bench.runner import describe_params

        tuning = trained.tuning
        print(
            f"tuned with {len(tuning['trials'])} trials: {describe_params(tuning['params'])} "
            f"({tuning['reason']})"
        )
    print("validation: " + ", ".join(f"{k[4:]} {v:.4f}" for k, v in trained.validation.items()))
    print(f"model saved to {path}")
    return 0


def _model_data(args: argparse.Namespace) -> tuple[Any, Any]:
    from intermodal.predict import load_pipeline, read_for_model

    pipeline = load_pipeline(args.model)
    data = read_for_model(
        args.dataset,
        pipeline,
        data_dir=args.data_dir,
        trust_pickle=args.trust_pickle,
        task=args.task,
        modalities=_names(args.modalities, "--modalities"),
        column_types=_column_types(args),
    )
    return pipeline, data


def _predict(args: argparse.Namespace) -> int:
    from intermodal.predict import check_output, predictions_table, write_predictions

    check_output(args.output, args.overwrite)
    pipeline, data = _model_data(args)
    table = predictions_table(pipeline, data, threshold=args.threshold)
    path = write_predictions(table, args.output, overwrite=args.overwrite)
    print(f"{len(table):,} predictions ({pipeline.schema.task}) written to {path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from intermodal.predict import evaluate_model

    pipeline, data = _model_data(args)
    scores = evaluate_model(pipeline, data, sentiment=args.sentiment, threshold=args.threshold)
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    print(f"{args.model} on {data.data.name} ({len(data.data):,} samples, {pipeline.schema.task}):")
    for name, value in scores.items():
        print(f"  {name}: {value:.4f}")
    return 0


def _threshold(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in (0, 1), got {value!r}")
    return number


def _add_model_data(parser: argparse.ArgumentParser) -> None:
    """The model and the data of the commands that use a saved model."""
    parser.add_argument("model", help="a saved model folder (intermodal train, bench --save-best)")
    _add_data(parser, None)
    parser.add_argument(
        "--modalities", help="comma-separated modalities of the data to use (default: all)"
    )
    parser.add_argument(
        "--threshold",
        type=_threshold,
        default=0.5,
        help="multilabel: a label is predicted at this probability or above (default: 0.5)",
    )


def _report(args: argparse.Namespace) -> int:
    from intermodal.bench.report import write_report

    print(f"report written to {write_report(args.results)}")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from intermodal._io import check_writable, write_text_atomic
    from intermodal.bench.analyses import describe, from_json
    from intermodal.bench.config import BenchConfig
    from intermodal.bench.diagnose import diagnose
    from intermodal.data import load_dataset

    output = Path(args.output) if args.output else None
    if output is not None:  # checked before any training
        if output.is_dir():
            raise IsADirectoryError(f"--output {output} is a folder; name a JSON file")
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite or another --output")
        check_writable(output.parent, "folder", "; choose another --output")
    modalities = _names(args.modalities, "--modalities")
    context = _context(args)
    config = BenchConfig(
        seed=context.seed,
        epochs=context.max_epochs,
        patience=context.patience,
        min_delta=context.min_delta,
        batch_size=context.batch_size,
        loss=context.loss,
        missing=context.missing,
        modality_dropout=context.modality_dropout,
        accelerator=context.accelerator,
        devices=context.devices,
        threads=context.threads,
        jobs=args.jobs,
        backend=args.backend,
        progress=not args.quiet,
    )
    dataset = load_dataset(
        args.dataset, args.data_dir, args.trust_pickle, args.task, _column_types(args)
    )
    if modalities is None and args.dataset == "mfeat":
        modalities = ["fou", "pix"]
    report = diagnose(dataset, modalities, config)
    first, second = report["modalities"]
    print(f"Diagnosis of {report['dataset']}: {first} and {second} (test split)")
    scores = ", ".join(f"{k} {v:.4f}" for k, v in report["scores"].items())
    print(f"{report['metric']}: {scores}")
    for name, result in from_json(report).items():
        print("\n".join(describe(name, result)))
    parts = report["pid_of_predictions"]
    if parts is not None and "skipped" in parts:
        print(f"PID of the fusion model's predictions: skipped ({parts['skipped']})")
    elif parts is not None:
        print(
            f"PID of the fusion model's predictions (bits): R {parts['redundancy']:.3f}, "
            f"U1 {parts['unique1']:.3f}, U2 {parts['unique2']:.3f}, S {parts['synergy']:.3f}"
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
    print("presence patterns (modalities present: samples):")
    for row in report["profile"]["patterns"]:
        print(f"  {row['present']}: {row['count']} ({row['fraction']:.1%})")
    for note in report["profile"]["notes"]:
        print(f"note: {note}")
    if output is not None:
        write_text_atomic(output, json.dumps(report, indent=2, default=float))
        print(f"written to {output}")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from intermodal.data import load_dataset
    from intermodal.recommend import recommend

    dataset = load_dataset(
        args.dataset, args.data_dir, args.trust_pickle, args.task, _column_types(args)
    )
    modalities = _names(args.modalities, "--modalities")
    if modalities:
        dataset = dataset.select(modalities)
    found = recommend(dataset, top=args.top, seed=args.seed)
    print(json.dumps(found.as_dict(), indent=2) if args.json else found.text())
    return 0


def _names(value: str | None, option: str) -> list[str] | None:
    """The names of a comma-separated option (None when not given); a name given twice is an
    error that names it."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"{option} names {', '.join(twice)} more than once; list each once")
    return names


def _align(args: argparse.Namespace) -> int:
    from intermodal.bench.align import align
    from intermodal.data import load_dataset

    if args.views[0] == args.views[1]:
        raise ValueError(f"--views names {args.views[0]} twice; align two different views")

    result = align(
        load_dataset(
            args.dataset, args.data_dir, args.trust_pickle, args.task, _column_types(args)
        ),
        args.views,
        args.method,
        args.dim,
        _context(args),
    )
    a, b = result.views
    print(f"{result.method} on {args.dataset}: {a} ~ {b} (test split)")
    print("canonical correlations: " + ", ".join(f"{c:.4f}" for c in result.canonical_correlations))
    for direction, name in (("a->b", f"{a}->{b}"), ("b->a", f"{b}->{a}")):
        r = result.retrieval
        print(
            f"{name}: R@1 {r[direction + ' R@1']:.3f}, R@5 {r[direction + ' R@5']:.3f}, "
            f"R@10 {r[direction + ' R@10']:.3f}, median rank {r[direction + ' median rank']:g}, "
            f"MRR {r[direction + ' MRR']:.3f}"
        )
        if f"{direction} MAP" in r:
            print(
                f"{name} (category relevance): MAP {r[direction + ' MAP']:.4f}, "
                f"MAP@R {r[direction + ' MAP@R']:.4f}, P@5 {r[direction + ' P@5']:.4f}, "
                f"P@10 {r[direction + ' P@10']:.4f}"
            )
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from intermodal.bench.transfer import cross_modal_transfer
    from intermodal.data import load_dataset

    dataset = load_dataset(
        args.dataset, args.data_dir, args.trust_pickle, args.task, _column_types(args)
    )
    result = cross_modal_transfer(dataset, args.train_modality, args.test_modality, _context(args))
    print(json.dumps(result))
    return 0


def _fission(args: argparse.Namespace) -> int:
    from intermodal.bench.transfer import disentanglement
    from intermodal.data import load_dataset

    rows = disentanglement(
        load_dataset(
            args.dataset, args.data_dir, args.trust_pickle, args.task, _column_types(args)
        ),
        args.nuisance,
        _context(args),
    )
    print(f"Linear probes of the factors of a factorized model (MFM), {args.dataset} test split:")
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))
    return 0


MAX_WIDTH = 100
"""The widest line of a listing (narrower in a narrower terminal)."""


def _width() -> int:
    return max(60, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def _wrap(text: str, width: int, first: str, indent: str) -> list[str]:
    """``first + text`` in lines of at most ``width`` characters, the next ones starting with
    ``indent``; lines break after a comma where they can, so that no ``name (kind shape)``
    entry of a list is split."""
    parts = text.split(", ")
    lines, line, bare = [], first, True
    for i, part in enumerate(parts):
        item = part + ("," if i < len(parts) - 1 else "")
        if not bare and len(line) + 1 + len(item) > width:
            lines.append(line)
            line, bare = indent, True
        line, bare = line + ("" if bare else " ") + item, False
    lines.append(line)
    return [
        wrapped
        for line in lines
        for wrapped in textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False)
    ]


def _datasets(args: argparse.Namespace) -> int:
    from intermodal.data import list_datasets
    from intermodal.data.registry import DATASETS

    if args.json:
        print(list_datasets().to_json(orient="records", indent=2))
        return 0
    width = _width()
    for row in DATASETS.values():
        noun = {"classification": "class", "multilabel": "label"}.get(row.task, "target")
        plural = "es" if noun == "class" else "s"
        outputs = f"{row.classes} {noun}{plural if row.classes != 1 else ''}"
        print(f"{row.name}: {row.task}, {row.samples:,} samples, {outputs}")
        for label, text in (
            ("", row.description),
            ("modalities: ", row.modalities),
            ("source: ", row.source),
        ):
            print("\n".join(_wrap(text, width, "    " + label, " " * (4 + len(label)))))
    return 0


def _methods(args: argparse.Namespace) -> int:
    from intermodal.bench import METHODS

    width = _width()
    for method in METHODS.values():
        suffix = (
            " (one run per modality)"
            if method.per_modality
            else " (and one run per modality, as NAME[MODALITY])"
            if method.views
            else ""
        )
        head = f"{method.name:<16} {method.family:<12} "
        lines = textwrap.wrap(
            method.description + suffix,
            width,
            initial_indent=head,
            subsequent_indent=" " * len(head),
            break_on_hyphens=False,
        )
        print("\n".join(lines))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("intermodal")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    from intermodal.bench.config import DEFAULT_TRIALS

    parser = _Parser(
        prog="intermodal",
        description="Multimodal representation learning: fuse, coordinate, analyse.",
    )
    parser.add_argument("--version", action="version", version=f"intermodal {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    bench = commands.add_parser(
        "bench", help="train registered methods on a data set and compare them"
    )
    _add_data(bench, "mfeat")
    bench.add_argument(
        "--methods", default="all", help="comma-separated method names or 'all' (default)"
    )
    bench.add_argument(
        "--modalities", help="comma-separated modalities to use (default: all of the data set)"
    )
    bench.add_argument(
        "--signals",
        metavar="MODALITY,...",
        help="vector modalities that are ordered 1-D signals (time series, waveforms), not "
        "unordered features: very early fusion applies only to ordered modalities",
    )
    _add_training(bench, epochs=100, seeds=True, parallel=True)
    _add_trials(bench, DEFAULT_TRIALS)
    bench.add_argument(
        "--cv",
        type=_folds,
        metavar="K",
        help="K-fold cross-validation of the whole data set instead of one 70/15/15 split per "
        "seed (for small data): every sample tested once per seed, corrected paired t-tests",
    )
    bench.add_argument(
        "--output", help="results directory (default: intermodal-results/DATASET-TIME)"
    )
    bench.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier benchmark there (a folder with other files is "
        "refused, never cleared)",
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
    bench.add_argument(
        "--metric",
        help="the metric to sort by (default: accuracy, micro_f1 or mae by the task)",
    )
    bench.add_argument(
        "--sentiment",
        action="store_true",
        help="regression on a -3..3 sentiment scale: add Acc-2 (both conventions), F1, Acc-7",
    )
    bench.add_argument(
        "--train-missing",
        type=_fraction,
        default=0.0,
        metavar="RATE",
        help="hide each modality of each training sample with this probability (one kept)",
    )
    bench.add_argument(
        "--backbone",
        type=_backbone,
        action="append",
        metavar="MODALITY=NAME",
        help="encode a modality once with a frozen pretrained backbone (a local folder or a hub "
        "name; needs intermodal[hf]); repeat for several modalities",
    )
    bench.add_argument(
        "--cache-dir",
        help="where frozen backbones' features are cached (default: the user cache folder)",
    )
    bench.add_argument(
        "--save-best",
        nargs="?",
        const="",
        metavar="DIR",
        help="keep the method chosen on validation as a ready model for intermodal predict, in "
        "DIR (default: best/ in the results folder)",
    )
    bench.add_argument("--config", help="YAML file with any bench setting; dataset may be a list")
    bench.set_defaults(run=_bench)

    train = commands.add_parser(
        "train", help="train one method on all the training data and save it for use"
    )
    _add_data(train, "mfeat")
    train.add_argument("--method", required=True, help="a registered method (intermodal methods)")
    train.add_argument("--output", required=True, help="the model folder to write")
    train.add_argument(
        "--modalities", help="comma-separated modalities to use (default: all of the data set)"
    )
    _add_training(train, epochs=100)
    _add_trials(train, 0)
    train.add_argument(
        "--train-missing",
        type=_fraction,
        default=0.0,
        metavar="RATE",
        help="hide each modality of each training sample with this probability (one kept)",
    )
    train.add_argument(
        "--sentiment", action="store_true", help="add the sentiment metrics to the validation"
    )
    train.add_argument("--overwrite", action="store_true", help="replace a model saved there")
    train.add_argument("--quiet", action="store_true", help="no progress display")
    train.set_defaults(run=_train)

    predict = commands.add_parser(
        "predict", help="apply a saved model to a data set and write its predictions"
    )
    _add_model_data(predict)
    predict.add_argument("--output", required=True, help="the CSV file of predictions to write")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing file")
    predict.set_defaults(run=_predict)

    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on a data set with the task's metrics"
    )
    _add_model_data(evaluate)
    evaluate.add_argument(
        "--sentiment", action="store_true", help="regression: add the sentiment metrics"
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(run=_evaluate)

    report = commands.add_parser("report", help="rebuild report.html from saved results")
    report.add_argument("results", help="a results directory written by intermodal bench")
    report.set_defaults(run=_report)

    diagnose = commands.add_parser(
        "diagnose", help="EMAP, PID, interaction types, robustness and complexity on two modalities"
    )
    _add_data(diagnose, "mfeat")
    diagnose.add_argument(
        "--modalities", help="the two modalities, comma-separated (mfeat default: fou,pix)"
    )
    _add_training(diagnose, epochs=100, parallel=True)
    diagnose.add_argument(
        "--output", help="also write the diagnosis to this JSON file (default: print only)"
    )
    diagnose.add_argument("--overwrite", action="store_true", help="replace an existing file")
    diagnose.add_argument("--quiet", action="store_true", help="no progress display")
    diagnose.set_defaults(run=_diagnose)

    align = commands.add_parser("align", help="coordinate two views and evaluate retrieval")
    _add_data(align, "mfeat")
    align.add_argument(
        "--views", nargs=2, default=["fou", "pix"], help="the two views (default: fou pix)"
    )
    align.add_argument(
        "--method",
        default="cca",
        choices=["cca", "kcca", "dcca", "dccae", "clip", "siglip", "hinge"],
    )
    align.add_argument("--dim", type=_positive, default=10, help="embedding size (default: 10)")
    _add_training(align, epochs=100)
    align.set_defaults(run=_align)

    transfer = commands.add_parser(
        "transfer", help="cross-modal transfer through a bimodal autoencoder's shared code"
    )
    _add_data(transfer, "av-digits")
    transfer.add_argument("--train-modality", default="audio")
    transfer.add_argument("--test-modality", default="image")
    _add_training(transfer, epochs=60)
    transfer.set_defaults(run=_transfer)

    fission = commands.add_parser(
        "fission", help="which factor of a factorized model predicts the class and a nuisance"
    )
    _add_data(fission, "av-digits")
    fission.add_argument("--nuisance", default="speaker", help="metadata column to probe")
    _add_training(fission, epochs=60)
    fission.set_defaults(run=_fission)

    recommend = commands.add_parser(
        "recommend",
        help="which methods for a data set, from the interactions it holds (trains only probes)",
    )
    _add_data(recommend, None)
    recommend.add_argument(
        "--modalities", help="comma-separated modalities to use (default: all of the data set)"
    )
    recommend.add_argument(
        "--top", type=_positive, default=3, help="methods to recommend (default: 3)"
    )
    recommend.add_argument("--seed", type=int, default=0, help="the probes' seed (default: 0)")
    recommend.add_argument("--json", action="store_true", help="print JSON instead of text")
    recommend.set_defaults(run=_recommend)

    datasets = commands.add_parser("datasets", help="list the available data sets")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    datasets.set_defaults(run=_datasets)

    methods = commands.add_parser("methods", help="list the registered methods")
    methods.set_defaults(run=_methods)
    return parser


USER_ERRORS = (ValueError, UnknownNameError, MemoryError, OSError, ImportError)
"""Errors of input the user can correct: reported in one line with exit code 2. Anything else is
a bug and keeps its traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with signals_as_interrupts():  # SIGTERM and SIGHUP stop a command as Ctrl-C does
            return int(args.run(args))
    except USER_ERRORS as error:
        print(f"intermodal {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        written = "" if args.command == "report" else "; nothing was written"
        print(f"intermodal {args.command}: {describe_stop(stop)}{written}", file=sys.stderr)
        return exit_code(stop)


if __name__ == "__main__":
    sys.exit(main())
