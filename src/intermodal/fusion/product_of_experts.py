"""Product-of-experts fusion (MVAE)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from intermodal.fusion.base import Fusion
from intermodal.fusion.registry import register_fusion
from intermodal.saving import register_module


@register_fusion(
    "poe", "product of Gaussian experts (MVAE, Wu & Goodman 2018): any subset of modalities"
)
@register_module
class ProductOfExpertsFusion(Fusion):
    """Product of Gaussian experts (Wu & Goodman, NeurIPS 2018, MVAE, "Multimodal Generative
    Models for Scalable Weakly-Supervised Learning", https://arxiv.org/abs/1802.05335).

    Each modality m is an expert ``N(mu_m, diag(var_m))`` with ``mu_m = W_m x_m + b_m`` and
    ``log var_m = V_m x_m + c_m``; a prior expert ``N(0, I)`` is always included. The product of
    the present experts and the prior is Gaussian with precision and mean

        ``T = 1 + sum_{m present} 1 / var_m``,  ``mu = (sum_{m present} mu_m / var_m) / T``.

    It is computed in log space: ``log T = logsumexp(0, -log var_1, ..., -log var_M)`` over the
    prior and the present experts, and ``mu = sum_m softmax(0, -log var_1, ...)_m mu_m``, so no
    precision overflows. Each expert's log-variance is clamped to ``[min_logvar, max_logvar]``
    (default ``[-10, 10]``: variances from about 4.5e-5 to 2.2e4); outside that range its
    gradient is zero.

    Any subset of modalities is handled natively: an absent expert is left out of the product,
    and a sample with none present gets the prior (mean 0, log-variance 0). ``forward`` returns
    the joint mean; ``posterior`` returns the mean and the log-variance.

    Args:
        min_logvar, max_logvar: the range of each expert's log-variance.

    Shape:
        ``{m: (B, d_m)}, mask {m: (B,)} -> (B, output_dim)``
    """

    min_modalities = 1
    absent = "expert left out of the product (none present gives the prior N(0, I))"

    def __init__(
        self,
        input_dims: Mapping[str, int],
        output_dim: int,
        min_logvar: float = -10.0,
        max_logvar: float = 10.0,
    ) -> None:
        super().__init__(input_dims, output_dim)
        if not min_logvar < max_logvar:
            raise ValueError(
                f"min_logvar must be below max_logvar, got {min_logvar} and {max_logvar}"
            )
        self.min_logvar, self.max_logvar = min_logvar, max_logvar
        self.means = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim) for key, dim in self.input_dims.items()}
        )
        self.logvars = nn.ModuleDict(
            {key: nn.Linear(dim, output_dim) for key, dim in self.input_dims.items()}
        )

    def experts(self, features: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Each modality's expert: means and clamped log-variances, ``(M, B, output_dim)`` each,
        in sorted modality order."""
        pairs = list(zip(self.input_dims, self.check(features), strict=True))
        mu = torch.stack([self.means[key](x) for key, x in pairs])
        logvar = torch.stack([self.logvars[key](x) for key, x in pairs])
        return mu, logvar.clamp(self.min_logvar, self.max_logvar)

    def posterior(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """The product of the prior and the present experts: ``(mu, logvar)``, each
        ``(B, output_dim)``."""
        tensors = self.zero_absent(self.check(features), mask)
        mu, logvar = self.experts(dict(zip(self.input_dims, tensors, strict=True)))
        log_precision = -logvar
        if mask is not None:
            present = self.presence(mask, tensors[0]).bool().unsqueeze(-1)  # (M, B, 1)
            log_precision = torch.where(present, log_precision, float("-inf"))
        prior = torch.zeros_like(log_precision[:1])  # log of the prior's precision, 1
        log_precisions = torch.cat([prior, log_precision])  # (1 + M, B, output_dim)
        weights = torch.softmax(log_precisions, dim=0)[1:]  # precision_m / T
        joint_mu = (weights * mu).sum(dim=0)
        joint_logvar = -torch.logsumexp(log_precisions, dim=0)
        return joint_mu, joint_logvar

    def forward(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None
    ) -> Tensor:
        return self.posterior(features, mask)[0]
