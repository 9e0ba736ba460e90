"""Classifiers composed of unimodal encoders, a fusion module and a head."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from intermodal.encoders.mlp import MLP
from intermodal.fusion.base import Fusion
from intermodal.saving import register_module


def _inputs(inputs: Mapping[str, Tensor], names: list[str], model: str) -> list[Tensor]:
    missing = [name for name in names if name not in inputs]
    if missing:
        raise KeyError(f"{model} needs modalities {names}; the inputs lack {missing}")
    return [inputs[name] for name in names]


def is_affine(module: nn.Module) -> bool:
    """Whether ``module`` is an affine map: an identity, a linear layer, or a sequence of them
    (an :class:`~intermodal.encoders.MLP` without hidden layers)."""
    if isinstance(module, nn.Identity | nn.Linear):
        return True
    if isinstance(module, MLP):
        return is_affine(module.layers)
    return isinstance(module, nn.Sequential) and all(is_affine(m) for m in module)


STRATEGIES = ("zero", "mean", "learned", "dropout")
"""How a :class:`FusionClassifier` treats an absent modality."""


@register_module
class FusionClassifier(nn.Module):
    """``head(fusion({m: encoder_m(x_m)}, mask))``: encoders per modality, one fusion, one head.

    Args:
        encoders: modality name -> encoder producing ``(B, d_m)`` (or ``(B, T, d_m)``) features.
        fusion: a fusion module built for those ``d_m`` (see ``intermodal.fusion``).
        head: maps the fused ``(B, output_dim)`` to the outputs; ``None`` when the fusion
            already outputs them (e.g. ``LateFusion``).
        missing: the strategy for an absent modality (``mask[m]`` False):

            - ``zero``: its features are zero and the fusion is told it is absent (a fusion that
              handles absence natively, such as GMU, late fusion, attention or the product of
              experts, combines only the present ones);
            - ``mean``: its features are replaced by their mean over the training samples where
              it was present (a running average, like batch normalization's);
            - ``learned``: by a trained embedding of the modality, a stand-in for its absence;
            - ``dropout``: as ``zero``, and during training each present modality of a sample
              is also dropped with probability ``dropout``, never all of a sample's modalities
              (modality dropout), so the model learns to predict from any subset.
        dropout: the modality-dropout probability of the ``dropout`` strategy.
        feature_dims: ``d_m`` per modality, needed by ``mean`` and ``learned`` when the fusion
            does not state its ``input_dims``.

    Shape:
        ``{m: (B, *shape_m)}, mask {m: (B,)} -> (B, K)``
    """

    stackable_settings = ("dropout",)
    """Stacked models may differ in their modality-dropout rate."""

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        fusion: nn.Module,
        head: nn.Module | None = None,
        missing: str = "zero",
        dropout: float = 0.5,
        feature_dims: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        if not encoders:
            raise ValueError("FusionClassifier needs at least one encoder")
        if missing not in STRATEGIES:
            raise ValueError(
                f"unknown missing-modality strategy {missing!r}; use one of {STRATEGIES}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"the modality-dropout probability must be in [0, 1), got {dropout}")
        self.encoders = nn.ModuleDict({key: encoders[key] for key in sorted(encoders)})
        self.fusion = fusion
        self.head = head if head is not None else nn.Identity()
        self.missing, self.dropout = missing, dropout
        if missing in ("mean", "learned"):
            dims = dict(feature_dims or getattr(fusion, "input_dims", {}))
            absent = sorted(set(self.encoders) - set(dims))
            if absent:
                raise ValueError(
                    f"the {missing!r} strategy needs the feature size of {absent}: pass "
                    "feature_dims={modality: d_m}"
                )
            if missing == "learned":
                self.stand_ins = nn.ParameterDict(
                    {m: nn.Parameter(0.02 * torch.randn(dims[m])) for m in self.encoders}
                )
            else:
                for m in self.encoders:
                    self.register_buffer(f"mean_{m}", torch.zeros(dims[m]))

    @property
    def modalities(self) -> list[str]:
        return list(self.encoders)

    @property
    def absent(self) -> str:
        """What the model does with an absent modality (for reports)."""
        fusion = getattr(self.fusion, "absent", "")
        if self.missing in ("zero", "dropout"):
            prefix = "modality dropout in training; " if self.missing == "dropout" else ""
            return prefix + (fusion or "zero-filled features")
        return f"{self.missing} stand-in features"

    def _drop(
        self, mask: Mapping[str, Tensor] | None, batch: int, device: torch.device
    ) -> dict[str, Tensor] | None:
        """The mask with modality dropout applied (training, ``dropout`` strategy only)."""
        rate = self.dropout  # a tensor of per-model rates in a stack of models
        if not (
            self.training and self.missing == "dropout" and (torch.is_tensor(rate) or rate > 0)
        ):
            return None if mask is None else dict(mask)
        names = self.modalities
        present = torch.stack(
            [
                mask[m].to(device)
                if mask is not None and m in mask
                else torch.ones(batch, dtype=torch.bool, device=device)
                for m in names
            ],
            dim=1,
        )
        draws = torch.rand(present.shape, device=device)
        kept = present & (draws >= rate)
        # where every present modality was dropped, keep the one with the largest draw
        emptied = ~kept.any(dim=1) & present.any(dim=1)
        best = torch.where(present, draws, torch.full_like(draws, -1.0)).argmax(dim=1)
        restored = torch.arange(len(names), device=device) == best.unsqueeze(1)
        kept = kept | (emptied.unsqueeze(1) & restored)
        return {m: kept[:, i] for i, m in enumerate(names)}

    def encode(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        """Unimodal features ``{m: (B, ...)}`` where absent modalities (``mask[m]`` False) are
        zeros, or the ``mean`` / ``learned`` stand-in."""
        tensors = _inputs(inputs, self.modalities, type(self).__name__)
        features = {}
        for (key, encoder), x in zip(self.encoders.items(), tensors, strict=True):
            h = encoder(x)
            present = mask.get(key) if mask is not None else None
            if self.missing == "mean" and self.training:
                self._update_mean(key, h, present)
            if present is not None:
                h = torch.where(present.reshape(-1, *[1] * (h.ndim - 1)), h, self._stand_in(key, h))
            features[key] = h
        return features

    def _stand_in(self, key: str, h: Tensor) -> Tensor:
        if self.missing == "learned":
            return self.stand_ins[key].to(h.dtype).expand_as(h)
        if self.missing == "mean":
            return getattr(self, f"mean_{key}").to(h.dtype).expand_as(h)
        return h.new_zeros(())

    @torch.no_grad()
    def _update_mean(self, key: str, h: Tensor, present: Tensor | None) -> None:
        """``mean <- 0.9 mean + 0.1 (mean of this batch's features where present)``; a batch
        without the modality leaves it unchanged."""
        buffer = getattr(self, f"mean_{key}")
        rows = h.detach().reshape(len(h), -1, h.shape[-1])  # (B, steps, d)
        if present is None:
            batch_mean = rows.reshape(-1, rows.shape[-1]).mean(dim=0)
            buffer.mul_(0.9).add_(0.1 * batch_mean.to(buffer.dtype))
            return
        # a selection by weights rather than by index, so stacked models can share the code
        weights = present.to(rows.dtype)
        count = weights.sum() * rows.shape[1]
        batch_mean = torch.einsum("b,btd->d", weights, rows) / count.clamp_min(1)
        updated = 0.9 * buffer + 0.1 * batch_mean.to(buffer.dtype)
        buffer.copy_(torch.where(count > 0, updated, buffer))

    def classify(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        """Outputs ``(B, K)`` from unimodal features: fusion (told which modalities are absent,
        unless a stand-in took their place) then head."""
        if self.missing in ("mean", "learned"):
            mask = None  # the stand-ins are what the fusion should use
        if isinstance(self.fusion, Fusion):
            return self.head(self.fusion(features, mask))
        return self.head(self.fusion(features))

    def affine_split(
        self,
    ) -> tuple[Callable[[Mapping[str, Tensor], Mapping[str, Tensor] | None], Tensor], nn.Module]:
        """``(inner, tail)`` with ``classify(features, mask) == tail(inner(features, mask))``
        and ``tail`` affine, where the fusion ends in an affine map (see
        :meth:`~intermodal.fusion.base.Fusion.affine_split`) and the head is affine (linear
        layers only); else ``(classify, Identity)``. EMAP averages ``inner`` over the
        combinations of modalities and applies ``tail`` once to the means."""
        split = self.fusion.affine_split() if isinstance(self.fusion, Fusion) else None
        if split is None or not is_affine(self.head):
            return self.classify, nn.Identity()
        inner, output = split

        def fused(features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None) -> Tensor:
            return inner(features, None if self.missing in ("mean", "learned") else mask)

        return fused, nn.Sequential(output, self.head)

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        first = inputs[self.modalities[0]] if self.modalities[0] in inputs else None
        if first is not None:
            mask = self._drop(mask, len(first), first.device)
        return self.classify(self.encode(inputs, mask), mask)


@register_module
class UnimodalClassifier(nn.Module):
    """The unimodal baseline ``head(encoder(x_m))`` on one modality of a modality dict.

    It cannot use a mask: a sample without its modality has nothing to predict from, so its
    output is computed from the zero-filled input (say so when comparing subsets).

    Shape:
        ``{modality: (B, *shape)} -> (B, K)`` (the task's outputs); other modalities are ignored.
    """

    absent = "cannot predict without its modality (zero-filled input)"

    def __init__(self, modality: str, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.modality, self.encoder, self.head = modality, encoder, head

    @property
    def modalities(self) -> list[str]:
        return [self.modality]

    def forward(
        self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        (x,) = _inputs(inputs, self.modalities, type(self).__name__)
        return self.head(self.encoder(x))
