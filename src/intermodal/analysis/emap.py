"""Empirical multimodally-additive function projection (EMAP).

Hessel & Lee, "Does my multimodal model learn cross-modal interactions? It's harder to tell than
you might think!", EMNLP 2020 (https://arxiv.org/abs/2010.06572). EMAP replaces a model f by its
projection onto additive functions, estimated on a test set of N samples:

    f_hat(x) = sum_m E_{-m}[f](x_m) - (M - 1) E[f],

where E_{-m}[f](x_m) averages f over the other modalities drawn independently from the test set
and E[f] averages over all combinations. If the projection scores as well as the model, the model
does not need cross-modal interactions on this data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from intermodal.data.dataset import MultimodalDataset
from intermodal.data.missing import complete_samples
from intermodal.errors import DataTypeError
from intermodal.metrics import PRIMARY, metric_info, predict_outputs
from intermodal.models.protocols import EncodeThenPredict

Function = Callable[[dict[str, Tensor]], Tensor]
CPU_BATCH = 512
"""Combinations per call of a model on the CPU: larger batches of fused features leave the
caches (TFN's 15,625 entries per combination are 32 MB at 512, 512 MB at 8,192) and were measured
slower in total over the benchmark's fusion models (``benchmarks/emap_speed.py``)."""
ACCELERATOR_BATCH = 8192
"""Combinations per call of a model on a GPU or other accelerator."""
CPU_BATCH_BYTES = 2**22
"""On the CPU, the combinations per call are also limited so that the averaged values of one
call (before an affine tail: TFN's fused tensors, 61 KB per combination) fit in 4 MiB: without
the output layer's product, the fused tensor is built and summed at the speed of memory, and
64 combinations per call ran 1.5x as fast as 512 (``benchmarks/emap_affine.py``)."""
MIN_BATCH = 32
"""Combinations per call at least."""


def emap_projection(grid: np.ndarray | Tensor) -> np.ndarray | Tensor:
    """EMAP for two modalities from the full grid of predictions.

    Args:
        grid: ``(N, N, ...)``; ``grid[i, j]`` holds the model's output (e.g. logits ``(K,)``) for
            modality A of sample i with modality B of sample j.

    Returns:
        ``(N, ...)``: ``f_hat(i) = mean_j grid[i, j] + mean_j grid[j, i] - mean_jk grid[j, k]``.
    """
    if not isinstance(grid, Tensor):
        grid = np.asarray(grid)
        if grid.dtype.kind not in "biuf":
            raise DataTypeError(f"grid must hold numbers (model outputs), got {grid.dtype}")
    if grid.ndim < 2 or grid.shape[0] != grid.shape[1]:
        raise ValueError(f"grid must be (N, N, ...), got shape {tuple(grid.shape)}")
    if grid.shape[0] == 0:
        raise ValueError("grid is empty: EMAP needs the outputs on at least one sample")
    values = torch.as_tensor(grid)
    bad = int((~torch.isfinite(values)).sum())
    if bad:
        raise ValueError(
            f"grid holds NaN or infinite values ({bad} of {values.numel()} entries): EMAP "
            "averages the model's outputs, so they must be finite; check the "
            "model (diverged weights?) and its inputs"
        )
    rows, cols = grid.mean(1), grid.mean(0)
    return rows + cols - rows.mean(0)


@torch.no_grad()
def additive_projection(
    f: Function,
    inputs: Mapping[str, Tensor],
    exact_limit: int = 2_000_000,
    n_draws: int = 256,
    batch_size: int = 8192,
    seed: int = 0,
    tail: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The M-modal EMAP of ``f`` on N samples, and each modality's partial response.

    Args:
        f: maps a modality dict of ``(B, ...)`` tensors to outputs ``(B, K)``.
        inputs: modality -> ``(N, ...)``; the samples whose combinations are averaged.
        exact_limit: the largest number of combinations ``N ** M`` that is enumerated exactly.
            Above it, each ``E_{-m}[f](x_m^i)`` is a Monte Carlo mean over ``n_draws``
            combinations of the other modalities drawn uniformly and independently, and ``E[f]``
            a mean over ``N * n_draws`` independent combinations (unbiased; the standard error
            shrinks as ``1 / sqrt(n_draws)``).
        batch_size: combinations evaluated per call of ``f`` (bounds memory).
        tail: an affine map applied after ``f``: the function projected is ``tail(f(x))``,
            and ``f``'s outputs are averaged before ``tail`` maps the means (equal, since the
            mean of an affine map is the map of the mean; TFN's output layer then runs on N
            rows per modality instead of every combination).

    Returns:
        ``(f_hat, partial)``: ``f_hat`` ``(N, K)`` and ``partial[m]`` = ``E_{-m}[f](x_m^i)``.
    """
    names = sorted(inputs)
    if not names:
        raise ValueError("inputs holds no modality: EMAP needs at least one")
    n = len(inputs[names[0]])
    if n == 0 or any(len(inputs[k]) != n for k in names):
        raise ValueError("every modality needs the same, non-zero number of samples")
    for k in names:
        if inputs[k].is_floating_point() and not bool(torch.isfinite(inputs[k]).all()):
            raise ValueError(
                f"modality {k!r} holds NaN or infinite values; drop or impute those samples "
                "(an absent modality is marked in its mask, not by NaN)"
            )
    count = len(names)
    generator = torch.Generator().manual_seed(seed)
    exact = n**count <= exact_limit

    sums: dict[str, Tensor] = {}
    hits = {k: torch.zeros(n) for k in names}
    total, total_count = None, 0

    def evaluate(index: Tensor) -> Tensor:
        # no check per call: a NaN or infinite output makes the sum it enters non-finite, and
        # the sums are checked once at the end (a check per call read TFN's fused tensors twice)
        return f({k: inputs[k][index[:, m]] for m, k in enumerate(names)})

    def accumulate(index: Tensor, into_partials: Mapping[int, bool]) -> Tensor:
        out = evaluate(index)
        for m, k in enumerate(names):
            if into_partials.get(m, False):
                if k not in sums:
                    sums[k] = torch.zeros(n, *out.shape[1:], dtype=out.dtype)
                sums[k].index_add_(0, index[:, m], out)
                hits[k].index_add_(0, index[:, m], torch.ones(len(index)))
        return out

    if exact:
        for start in range(0, n**count, batch_size):
            flat = torch.arange(start, min(start + batch_size, n**count))
            index = torch.stack([(flat // n ** (count - 1 - m)) % n for m in range(count)], dim=1)
            out = accumulate(index, dict.fromkeys(range(count), True))
            total = out.sum(dim=0) if total is None else total + out.sum(dim=0)
            total_count += len(index)
    else:
        for m in range(count):
            fixed = torch.arange(n).repeat_interleave(n_draws)
            for start in range(0, len(fixed), batch_size):
                rows = fixed[start : start + batch_size]
                index = torch.randint(0, n, (len(rows), count), generator=generator)
                index[:, m] = rows
                accumulate(index, {m: True})
        for start in range(0, n * n_draws, batch_size):
            size = min(batch_size, n * n_draws - start)
            out = evaluate(torch.randint(0, n, (size, count), generator=generator))
            total = out.sum(dim=0) if total is None else total + out.sum(dim=0)
            total_count += size
    assert total is not None
    after = tail if tail is not None else (lambda x: x)
    partial = {k: after(sums[k] / hits[k].reshape(-1, *[1] * (sums[k].ndim - 1))) for k in names}
    mean = after((total / total_count).unsqueeze(0))[0]
    if not all(bool(torch.isfinite(v).all()) for v in [*partial.values(), mean]):
        raise ValueError(
            "the model's outputs hold NaN or infinite values (or sums beyond float range) on "
            f"combinations of the modalities {names}; EMAP needs finite outputs (diverged "
            "weights?)"
        )
    return sum(partial.values()) - (count - 1) * mean, partial


def affine_split(model: EncodeThenPredict) -> tuple[Callable[..., Tensor], nn.Module | None]:
    """``(inner, tail)`` with ``model.classify(features, mask) == tail(inner(features, mask))``
    and ``tail`` affine, for a model that declares one (``affine_split``, e.g. a
    ``FusionClassifier`` whose fusion ends in a linear layer and whose head is linear); else
    ``(model.classify, None)``."""
    split = getattr(model, "affine_split", None)
    if split is None:
        return model.classify, None
    inner, tail = split()
    return inner, None if isinstance(tail, nn.Identity) else tail


@dataclass
class EmapResult:
    """Scores on the evaluation data, in ``metric`` (the task's primary metric unless chosen):
    the model, its additive projection (EMAP), and each modality's partial response
    ``E_{-m}[f](x_m)`` (the model's use of that modality alone)."""

    metric: str
    higher_is_better: bool
    model_score: float
    emap_score: float
    unimodal_scores: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    """The samples scored: those with every modality the model uses present."""
    left_out: int = 0
    """The samples of the data left out because a modality the model uses is absent in them."""

    @property
    def gap(self) -> float:
        """How much better the model scores than its additive projection: what cross-modal
        interactions add (may be negative)."""
        difference = self.model_score - self.emap_score
        return difference if self.higher_is_better else -difference


@torch.no_grad()
def emap(
    model: nn.Module,
    data: MultimodalDataset,
    exact_limit: int = 2_000_000,
    n_draws: int = 256,
    batch_size: int | None = None,
    seed: int = 0,
    metric: str | None = None,
) -> EmapResult:
    """Compare ``model`` with its EMAP on ``data`` (typically the test split).

    The projection averages the model's outputs: logits for classification and multi-label
    data, predicted values for regression; each is scored with ``metric`` (default: the task's
    primary metric, see ``intermodal.metrics.PRIMARY``).

    A model that ``EncodeThenPredict`` (``FusionClassifier``) has each modality encoded once;
    only fusion and head run on the N^M combinations, ``batch_size`` at a time (default:
    :data:`CPU_BATCH` on the CPU, :data:`ACCELERATOR_BATCH` on an accelerator). Other models are
    evaluated on combinations of raw inputs. Modalities the model does not use are ignored. The
    model's mode is restored afterwards.

    The projection combines one sample's value of a modality with other samples' values of the
    others, which an absent value does not have; so on incomplete data, EMAP and the model are
    both scored on the samples in which every modality the model uses is present
    (``samples``; ``left_out`` counts the others). Data without such a sample is an error.
    """
    info = metric_info(data.task, metric or PRIMARY[data.task])
    names = list(getattr(model, "modalities", data.modality_names))
    complete = complete_samples(data, names)
    samples = int(complete.sum())
    if samples == 0:
        raise ValueError(
            f"EMAP combines the modalities {names} of different samples, but none of the "
            f"{len(data)} samples has all of them present; it needs complete samples"
        )
    left_out = len(data) - samples
    if left_out:
        data = data.subset(complete.nonzero().flatten())
    was_training = model.training
    model.eval()
    try:
        inputs = {k: data.modalities[k] for k in names}
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        default_batch = batch_size is None
        if batch_size is None:
            batch_size = CPU_BATCH if device.type == "cpu" else ACCELERATOR_BATCH
        if isinstance(model, EncodeThenPredict):
            coder = model
            points = {
                k: v.cpu()
                for k, v in coder.encode({k: v.to(device) for k, v in inputs.items()}).items()
            }
            for k, v in points.items():
                if not bool(torch.isfinite(v).all()):
                    raise ValueError(
                        f"the model's encoding of modality {k!r} holds NaN or infinite values; "
                        "EMAP needs finite outputs (diverged weights?)"
                    )

            # the part before an affine tail (TFN's fused tensor before its output layer)
            inner, tail = affine_split(coder)

            def on_device(x: dict[str, Tensor]) -> Tensor:
                return inner({k: v.to(device) for k, v in x.items()}, None).cpu()

            if device.type == "cpu" and tail is not None:
                width = on_device({k: v[:1] for k, v in points.items()})[0].numel()
                rows = max(MIN_BATCH, CPU_BATCH_BYTES // (4 * width))
                batch_size = min(batch_size, rows) if default_batch else batch_size

        else:
            points, tail = inputs, None

            def on_device(x: dict[str, Tensor]) -> Tensor:
                return model({k: v.to(device) for k, v in x.items()}).cpu()

        def after(x: Tensor) -> Tensor:
            return x if tail is None else tail(x.to(device)).cpu()

        projection, partial = additive_projection(
            on_device, points, exact_limit, n_draws, batch_size, seed, after
        )
        outputs = predict_outputs(model, data.select(names))
        if not bool(torch.isfinite(outputs).all()):
            raise ValueError(
                "the model's outputs on the data hold NaN or infinite values; EMAP needs "
                "finite outputs (diverged weights?)"
            )
    finally:
        model.train(was_training)

    def scored(values: Tensor) -> float:
        return float(info.compute(values.double(), data.targets))

    return EmapResult(
        metric=info.name,
        higher_is_better=info.higher_is_better,
        model_score=scored(outputs),
        emap_score=scored(projection),
        unimodal_scores={k: scored(v) for k, v in partial.items()},
        samples=samples,
        left_out=left_out,
    )
