"""Complex numbers and Fourier transforms as public PyTorch code uses them: rotary position
embeddings through torch.polar / view_as_complex (LLaMA's reference style), a Fourier neural
operator's spectral convolution (rfft, a complex weight applied to the low modes, irfft), and a
spectrogram loss (torch.stft with a Hann window); trained with AdamW, complex weights included."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import init_from_numpy, report


def precompute_freqs_cis(dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(end, device=freqs.device)
    freqs = torch.outer(t, freqs).float()
    return torch.polar(torch.ones_like(freqs), freqs)


def apply_rotary_emb(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    freqs_cis = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    xq_out = torch.view_as_real(xq_ * freqs_cis).flatten(3)
    xk_out = torch.view_as_real(xk_ * freqs_cis).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


class RotaryAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)

    def forward(self, x, freqs_cis):
        batch, length, dim = x.shape
        q = self.wq(x).view(batch, length, self.heads, -1)
        k = self.wk(x).view(batch, length, self.heads, -1)
        v = self.wv(x).view(batch, length, self.heads, -1)
        q, k = apply_rotary_emb(q, k, freqs_cis)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), is_causal=True)
        return self.wo(out.transpose(1, 2).reshape(batch, length, dim))


class SpectralConv1d(nn.Module):
    def __init__(self, channels, modes, seed):
        super().__init__()
        self.modes = modes
        values = np.random.default_rng(seed).uniform(-1, 1, (channels, channels, modes, 2))
        self.weights = nn.Parameter(torch.view_as_complex(
            torch.tensor(values / channels, dtype=torch.float32)))

    def forward(self, x):
        x_ft = torch.fft.rfft(x)
        out_ft = torch.zeros(x.shape[0], self.weights.shape[1], x.size(-1) // 2 + 1,
                             dtype=torch.cfloat)
        out_ft[:, :, :self.modes] = torch.einsum("bix,iox->box", x_ft[:, :, :self.modes],
                                                 self.weights)
        return torch.fft.irfft(out_ft, n=x.size(-1))


class Model(nn.Module):
    def __init__(self, dim=32, heads=4, channels=8, modes=6):
        super().__init__()
        self.attention = RotaryAttention(dim, heads)
        self.lift = nn.Conv1d(1, channels, 1)
        self.spectral = SpectralConv1d(channels, modes, seed=7)
        self.project = nn.Conv1d(channels, 1, 1)

    def forward(self, tokens, signal, freqs_cis):
        attended = self.attention(tokens, freqs_cis)
        field = self.project(F.gelu(self.spectral(self.lift(signal)) + self.lift(signal)))
        return attended, field


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Model()
    init_from_numpy(model, seed=3, scale=0.2)
    data = np.random.default_rng(11)
    tokens = torch.tensor(data.standard_normal((2, 16, 32)), dtype=torch.float32)
    grid = np.linspace(0, 2 * np.pi, 64)
    signal = torch.tensor(np.sin(grid)[None, None].repeat(4, 0)
                          + 0.1 * data.standard_normal((4, 1, 64)), dtype=torch.float32)
    target = torch.tensor(np.cos(grid)[None, None].repeat(4, 0), dtype=torch.float32)
    freqs_cis = precompute_freqs_cis(8, 16)
    window = torch.hann_window(16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(args.steps):
        attended, field = model(tokens, signal, freqs_cis)
        spectrum = torch.stft(field.squeeze(1), 16, hop_length=4, window=window,
                              return_complex=True)
        target_spectrum = torch.stft(target.squeeze(1), 16, hop_length=4, window=window,
                                     return_complex=True)
        loss = (attended.pow(2).mean() + F.mse_loss(field, target)
                + (spectrum - target_spectrum).abs().pow(2).mean() * 0.01)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    spectral = model.spectral.weights.detach()
    report(losses, spectral_weight_norm=float(spectral.abs().pow(2).sum()),
           dtype=str(spectral.dtype))


if __name__ == "__main__":
    main()
