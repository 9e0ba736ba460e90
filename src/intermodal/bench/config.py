"""``BenchConfig``: everything a benchmark run needs, validated once, from the command line, a
YAML file or Python."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intermodal.losses import LOSSES
from intermodal.metrics import Metric
from intermodal.models.classifier import STRATEGIES
from intermodal.training.context import ACCELERATORS, RunContext, auto_threads
from intermodal.training.stopping import MIN_DELTA, check_min_delta

BACKENDS = ("local", "ray")
DEFAULT_TRIALS = 4
"""The tuning trials per method (``--trials``) of a benchmark that names none."""


def _plain(value: Any) -> Any:
    """``value`` with its mappings as plain dicts and tuples as lists (as JSON reads it back)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "int": (int, "an integer"),
    "float": ((int, float), "a number"),
    "bool": (bool, "true or false"),
    "str": (str, "a string"),
    "str | None": ((str, type(None)), "a string or empty"),
    "int | None": ((int, type(None)), "an integer or empty"),
}
"""The types a setting may have and their names, by its annotation (settings from YAML are
checked too)."""


def _bool_as_number(value: Any, item: dataclasses.Field[Any]) -> bool:
    return isinstance(value, bool) and str(item.type) != "bool"


def _as_list(value: Any, what: str) -> list[str]:
    """Names from a comma-separated string or a list of strings; a name given twice is an
    error that names it."""
    if value is None:
        return []
    if isinstance(value, str):
        names = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value if v.strip()]
    else:
        raise ValueError(
            f"{what} must be a comma-separated string or a list of names, got {value!r}"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"{what} lists {', '.join(twice)} more than once; list each once")
    return names


@dataclass(frozen=True)
class BenchConfig:
    """A benchmark: which data, which methods, how to train, where to write.

    Attributes:
        dataset: a registered data set name or a path (see ``intermodal datasets``).
        data_dir: a local copy of a downloadable data set.
        methods: method names, ``all``, or ``name[modality]`` for one view.
        modalities: restrict the data set to these modalities first (empty: all).
        signals: vector modalities that are ordered 1-D signals (see
            ``MultimodalDataset.signals``); methods that read signals (very early fusion) apply
            only where every modality is ordered.
        seeds, seed: seeds ``seed .. seed + seeds - 1``; seed s draws the split and seeds every
            method (the report analyses the models of the first).
        cv: K-fold cross-validation of the whole data set instead of the 70/15/15 split: every
            (method, seed, fold) is a run, seed s shuffles the folds, and the intervals and
            paired tests are over the K x seeds replicates with the corrected resampled t-test
            (see :mod:`intermodal.bench.crossval`); None: one split per seed.
        epochs, patience, batch_size: the training budget of every run.
        min_delta: the minimum relative improvement of the validation quantity that resets the
            patience (see :class:`~intermodal.training.stopping.EarlyStopping`).
        output: the results folder (None: ``intermodal-results/DATASET-TIME``; no folder
            when the Python API is called without one).
        overwrite, resume: what to do with an existing results folder.
        report: analyse the seed-0 models and write ``report.html``.
        jobs: runs trained side by side (worker processes, or Ray tasks); ``0`` means one per
            core (``--jobs auto``, the command line's default). Worker processes are spawned,
            so a script that runs a benchmark with ``jobs != 1`` needs the usual
            ``if __name__ == "__main__":`` guard.
        backend: ``local`` (this machine) or ``ray`` (a Ray cluster: ``RAY_ADDRESS``, or a local
            Ray instance).
        threads: intra-op threads per run (None: chosen for the number of jobs).
        accelerator, devices: where each run trains.
        trust_pickle: allow reading pickle files.
        task: the target of a file that holds several (see ``intermodal.data.read_path``).
        metric: the metric the leaderboard sorts by (default: the task's primary metric:
            accuracy, micro-F1 or MAE).
        loss: the loss of the task (``None``: its default; see ``intermodal.losses.LOSSES``).
        missing: what fusion models do with an absent modality (``zero``, ``mean``, ``learned``,
            ``dropout``; see ``intermodal.models.FusionClassifier``).
        modality_dropout: the probability of dropping a modality with ``missing="dropout"``.
        train_missing: hide each modality of each training sample with this probability (at
            least one kept), seeded by the seed and the same for every method.
        backbones: modality -> a pretrained backbone (hub name or local folder, needs
            ``intermodal[hf]``); the modality is encoded once, frozen, into a feature cache,
            and every method trains on the cached features.
        cache_dir: the feature cache's folder (default: ``INTERMODAL_CACHE`` or the user cache
            folder).
        sentiment: add the sentiment metrics (Acc-2 both ways, F1, Acc-7) to a regression
            benchmark on a -3..3 scale.
        trials: the tuning budget of every method, classical baselines and unimodal models
            included (trial 0 is the method's defaults; see :func:`~intermodal.tuning.tune` and
            the protocol of :func:`~intermodal.bench.runner.run_benchmark`); default
            :data:`DEFAULT_TRIALS`, as ``intermodal bench`` gives; 0: no tuning, every run trains
            alone at its method's defaults.
        search_space: method name -> ``{setting: spec}``, overrides of the methods' search
            spaces (see :func:`~intermodal.tuning.space.override_spaces`), e.g.
            ``{"lmf": {"rank": [2, 16]}, "early": {"dropout": 0.2}}``.
        progress: show progress.
    """

    dataset: str = "mfeat"
    data_dir: str | None = None
    methods: tuple[str, ...] = ("all",)
    modalities: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    seeds: int = 3
    seed: int = 0
    cv: int | None = None
    epochs: int = 100
    patience: int = 10
    min_delta: float = MIN_DELTA
    batch_size: int = 64
    output: str | None = None
    overwrite: bool = False
    resume: bool = False
    report: bool = True
    jobs: int = 1
    backend: str = "local"
    threads: int | None = None
    accelerator: str = "auto"
    devices: int = 1
    trust_pickle: bool = False
    task: str | None = None
    metric: str | None = None
    sentiment: bool = False
    loss: str | None = None
    missing: str = "zero"
    modality_dropout: float = 0.5
    train_missing: float = 0.0
    backbones: Mapping[str, str] = field(default_factory=dict)
    cache_dir: str | None = None
    trials: int = DEFAULT_TRIALS
    search_space: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            expected, described = TYPES.get(str(item.type), (object, ""))
            value = getattr(self, item.name)
            if not isinstance(value, expected) or _bool_as_number(value, item):
                raise ValueError(f"{item.name} must be {described}, got {value!r}")
        object.__setattr__(self, "methods", tuple(_as_list(self.methods, "methods")))
        if not self.methods:
            raise ValueError("methods is empty; name some methods (intermodal methods) or 'all'")
        if "all" in self.methods and len(self.methods) > 1:
            others = ", ".join(m for m in self.methods if m != "all")
            raise ValueError(f"methods: 'all' already includes {others}; give 'all' alone")
        if not isinstance(self.backbones, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.backbones.items()
        ):
            raise ValueError(
                f"backbones must be a mapping of modality to backbone name, got {self.backbones!r}"
            )
        object.__setattr__(self, "modalities", tuple(_as_list(self.modalities, "modalities")))
        object.__setattr__(self, "signals", tuple(_as_list(self.signals, "signals")))
        for name in ("seeds", "epochs", "patience", "batch_size", "devices"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_min_delta(self.min_delta)
        if self.cv is not None and self.cv < 2:
            raise ValueError(
                f"cv must be 2 folds or more, got {self.cv}: K-fold cross-validation holds out "
                "each of K folds once; leave it out (--cv) for one train/validation/test split"
            )
        if self.trials < 0:
            raise ValueError(
                f"trials must be 0 (no tuning) or a positive number of trials per method, got "
                f"{self.trials}"
            )
        if not isinstance(self.search_space, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping) for k, v in self.search_space.items()
        ):
            raise ValueError(
                "search_space must map method names to their settings, e.g. "
                f"{{lmf: {{rank: [2, 16]}}}}; got {self.search_space!r}"
            )
        if not isinstance(self.jobs, int) or self.jobs < 0:
            raise ValueError(f"jobs must be a positive integer or 'auto', got {self.jobs!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {list(BACKENDS)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads}")
        if self.accelerator not in ACCELERATORS:
            raise ValueError(
                f"unknown accelerator {self.accelerator!r}; choose one of {list(ACCELERATORS)}"
            )
        if not 0.0 <= self.train_missing < 1.0:
            raise ValueError(
                f"train_missing must be in [0, 1), got {self.train_missing}: at least one "
                "modality of each sample stays present"
            )
        if self.missing not in STRATEGIES:
            raise ValueError(
                f"unknown missing-modality strategy {self.missing!r}; use {STRATEGIES}"
            )
        if self.task not in (None, *LOSSES):
            raise ValueError(f"unknown task {self.task!r}; choose one of {list(LOSSES)}")
        known = {name for names in LOSSES.values() for name in names}
        if self.loss is not None and self.loss not in known:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {sorted(known)}")
        if self.overwrite and self.resume:
            raise ValueError("choose one of overwrite (start again) and resume (continue)")

    @property
    def workers(self) -> int:
        """Runs trained side by side (``jobs``, with 0 resolved to the number of cores)."""
        from intermodal.training.context import available_cores

        return self.jobs or available_cores()

    def context(self, seed: int = 0) -> RunContext:
        """The run context of every run with ``seed``."""
        return RunContext(
            seed=seed,
            max_epochs=self.epochs,
            patience=self.patience,
            min_delta=self.min_delta,
            batch_size=self.batch_size,
            accelerator=self.accelerator,
            devices=self.devices,
            threads=self.threads or auto_threads(self.workers),
            loss=self.loss,
            missing=self.missing,
            modality_dropout=self.modality_dropout,
        )

    def metric_of(self, task: str) -> Metric:
        """The leaderboard's metric for ``task``; an unknown name is an error that lists the
        task's metrics."""
        from intermodal.metrics import PRIMARY, metric_info

        return metric_info(task, self.metric or PRIMARY[task], sentiment=self.sentiment)

    def with_(self, **changes: Any) -> BenchConfig:
        return dataclasses.replace(self, **changes)

    def run_settings(self) -> dict[str, Any]:
        """The settings that define each run's result (a resumed benchmark must keep them;
        methods and seeds may be added)."""
        return {
            "dataset": self.dataset,
            "task": self.task,
            "modalities": sorted(self.modalities),
            "epochs": self.epochs,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "batch_size": self.batch_size,
            "loss": self.loss,
            "sentiment": self.sentiment,
            "missing": self.missing,
            "modality_dropout": self.modality_dropout,
            "train_missing": self.train_missing,
            "backbones": dict(self.backbones),
            "cv": self.cv,
            "trials": self.trials,
            "search_space": _plain(self.search_space),
        }

    def as_dict(self) -> dict[str, Any]:
        """The settings of the benchmark (for ``results.json``)."""
        return {
            **self.run_settings(),
            "methods": list(self.methods),
            "signals": list(self.signals),
            "first_seed": self.seed,
            "seeds": self.seeds,
        }


YAML_KEYS = {f.name for f in dataclasses.fields(BenchConfig)} - {"progress"}


def load_grid(path: str | Path, base: BenchConfig) -> list[BenchConfig]:
    """The benchmarks of a YAML experiment file: any ``BenchConfig`` field; ``dataset`` may be a
    list, giving one benchmark per data set, each in ``OUTPUT/NAME``. Values not in the file
    come from ``base`` (the command line)."""
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a folder; --config takes a YAML file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file; --config takes a YAML file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"{path} is not valid YAML{where}: {problem}") from None
    if document is None:
        raise ValueError(f"{path} is empty; write settings as 'key: value' lines")
    if not isinstance(document, dict):
        raise ValueError(
            f"{path} must hold a mapping of settings ('key: value' lines), "
            f"got a {type(document).__name__}"
        )
    unknown = sorted(str(key) for key in set(document) - YAML_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; allowed: {sorted(YAML_KEYS)}")
    if document.get("jobs") == "auto":
        document["jobs"] = 0
    try:
        datasets = _as_list(document.pop("dataset", base.dataset), "dataset")
        root = document.pop("output", base.output)
        if root is not None and not isinstance(root, str):
            raise ValueError(f"output must be a string (a folder), got {root!r}")
        if not datasets:
            raise ValueError("dataset is empty")
        configs = []
        for name in datasets:
            output = root
            if root is not None and len(datasets) > 1:
                output = str(Path(root) / Path(name).name)
            configs.append(base.with_(**document, dataset=name, output=output))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    outputs = [c.output for c in configs if c.output is not None]
    clash = sorted({o for o in outputs if outputs.count(o) > 1})
    if clash:
        raise ValueError(
            f"{path}: data sets of the same file name would share the results folder {clash}; "
            "run them with separate output folders"
        )
    return configs
