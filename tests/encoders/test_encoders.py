from __future__ import annotations

import pytest
import torch

from intermodal.encoders import MLP, CNNEncoder, SequenceEncoder, default_encoder


def test_mlp_matches_explicit_layers() -> None:
    torch.manual_seed(0)
    mlp = MLP(4, 3, hidden_dims=(5,), final_activation=False)
    x = torch.randn(6, 4)
    first, second = mlp.layers[0], mlp.layers[2]
    expected = torch.relu(x @ first.weight.T + first.bias) @ second.weight.T + second.bias
    torch.testing.assert_close(mlp(x), expected)
    encoder = MLP(4, 3, final_activation=True)
    torch.testing.assert_close(
        encoder(x), torch.relu(x @ encoder.layers[0].weight.T + encoder.layers[0].bias)
    )


def test_gru_encoder_is_the_last_hidden_state_of_the_recurrence() -> None:
    torch.manual_seed(0)
    encoder = SequenceEncoder(3, 4, architecture="gru")
    x = torch.randn(2, 5, 3)
    gru = encoder.rnn
    w_ir, w_iz, w_in = gru.weight_ih_l0.chunk(3)
    w_hr, w_hz, w_hn = gru.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = gru.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = gru.bias_hh_l0.chunk(3)
    h = torch.zeros(2, 4)
    for t in range(5):
        xt = x[:, t]
        r = torch.sigmoid(xt @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = torch.sigmoid(xt @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = torch.tanh(xt @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
        h = (1 - z) * n + z * h
    torch.testing.assert_close(encoder(x), h)


@pytest.mark.parametrize(
    ("make", "shape", "dim"),
    [
        (lambda: CNNEncoder(2, 7), (16, 2, 16, 15), 7),
        (lambda: SequenceEncoder(3, 8, architecture="transformer", num_heads=2), (16, 9, 3), 8),
        (lambda: default_encoder("vector", (10,), 6), (16, 10), 6),
    ],
)
def test_encoder_shapes_and_gradients(make, shape: tuple[int, ...], dim: int) -> None:
    torch.manual_seed(0)
    encoder = make()
    out = encoder(torch.randn(shape))
    assert out.shape == (shape[0], dim)
    out.square().sum().backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_wrong_input_shapes_are_reported() -> None:
    with pytest.raises(ValueError, match=r"expects inputs \(B, 4\)"):
        MLP(4, 2)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="CNNEncoder expects images"):
        CNNEncoder(1, 2)(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="no default encoder"):
        default_encoder("audio", (8000,), 4)
