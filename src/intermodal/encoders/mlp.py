"""Multilayer perceptron for vector modalities and as a classification head."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from intermodal.encoders.dropout import Dropout
from intermodal.saving import register_module

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


@register_module
class MLP(nn.Module):
    """``Linear -> activation -> dropout`` for each hidden layer, then ``Linear`` to ``output_dim``.

    Args:
        input_dim: D, the input feature size.
        output_dim: size of the output.
        hidden_dims: sizes of the hidden layers; empty gives a single linear layer.
        dropout: dropout probability after each hidden activation (a :class:`Dropout`, whose
            rate stacked models may each set).
        activation: ``relu``, ``gelu`` or ``tanh``.
        final_activation: apply the activation (and dropout) to the output too, as an encoder does;
            a classification head leaves it off and returns logits.

    Shape:
        ``(B, D) -> (B, output_dim)``
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden_dims: Sequence[int] = (),
        dropout: float = 0.0,
        activation: str = "relu",
        final_activation: bool = False,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; use one of {list(ACTIVATIONS)}")
        sizes = [input_dim, *hidden_dims, output_dim]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2 or final_activation:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(Dropout(dropout))
        self.layers = nn.Sequential(*layers)
        self.input_dim, self.output_dim = input_dim, output_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.input_dim:
            raise ValueError(f"MLP expects inputs (B, {self.input_dim}), got {tuple(x.shape)}")
        return self.layers(x)


@register_module
class TokenEncoder(nn.Module):
    """An MLP whose output is read as a sequence of ``tokens`` vectors of size ``token_dim``.

    Gives vector modalities a learned token sequence for sequence fusions (cross-modal
    attention), like a linear patch embedding.

    Shape:
        ``(B, D) -> (B, tokens, token_dim)``
    """

    def __init__(
        self, input_dim: int, tokens: int, token_dim: int, hidden_dims: Sequence[int] = ()
    ) -> None:
        super().__init__()
        self.tokens, self.token_dim = tokens, token_dim
        self.mlp = MLP(input_dim, tokens * token_dim, hidden_dims, final_activation=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x).reshape(len(x), self.tokens, self.token_dim)


@register_module
class RawInput(nn.Module):
    """No encoding: passes a modality on unchanged (for fusions of raw signals)."""

    def forward(self, x: Tensor) -> Tensor:
        return x
