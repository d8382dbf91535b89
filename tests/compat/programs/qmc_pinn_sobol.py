"""A physics-informed network for the 2-D Poisson equation whose collocation points come from
scrambled Sobol sequences, as PINN and Bayesian-optimisation scripts draw them:
``torch.quasirandom.SobolEngine(dimension, scramble=True, seed=...)`` with ``draw_base2`` for
the first batch, ``draw`` to resample every few steps and ``fast_forward``/``reset``; the
residual through second derivatives (``autograd.grad`` with ``create_graph``), boundary points
on the four edges from a one-dimensional engine, BoTorch's Box-Muller QMC normals in float64,
and a Hann-tapered spectrum of the solution along a line (``torch.signal.windows``). The
weights come from ``torch.manual_seed``; every point from the seeded engines."""
import argparse
import math

import torch
from torch import nn
from torch.signal import windows

from common import report


def laplacian(u, x):
    grad = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    return sum(torch.autograd.grad(grad[:, i].sum(), x, create_graph=True)[0][:, i]
               for i in range(x.shape[1]))


def source(x):
    return -2 * math.pi ** 2 * torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(),
                          nn.Linear(24, 1))
    sobol = torch.quasirandom.SobolEngine(dimension=2, scramble=True, seed=7)
    first_points = sobol.draw(4)
    sobol.reset()
    interior = sobol.draw_base2(6)
    edge = torch.quasirandom.SobolEngine(1, scramble=True, seed=3).draw(16).squeeze(-1)
    zeros, ones = torch.zeros_like(edge), torch.ones_like(edge)
    boundary = torch.cat([torch.stack([edge, zeros], 1), torch.stack([edge, ones], 1),
                          torch.stack([zeros, edge], 1), torch.stack([ones, edge], 1)])
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for step in range(args.steps):
        if step % 5 == 4:
            interior = sobol.draw(64)
        x = interior.clone().requires_grad_(True)
        residual = laplacian(model(x).squeeze(-1), x) - source(x)
        loss = residual.pow(2).mean() + 10 * model(boundary).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    sobol.fast_forward(3)
    engine = torch.quasirandom.SobolEngine(dimension=4, scramble=True, seed=11)
    uniform = engine.draw(8, dtype=torch.float64)
    radius = (-2 * torch.log(uniform[:, ::2])).sqrt()
    normals = torch.cat([radius * torch.cos(2 * math.pi * uniform[:, 1::2]),
                         radius * torch.sin(2 * math.pi * uniform[:, 1::2])], -1)
    line = torch.stack([torch.linspace(0, 1, 32), torch.full((32,), 0.5)], 1)
    with torch.no_grad():
        profile = model(line).squeeze(-1)
    spectrum = torch.fft.rfft(profile * windows.hann(32, sym=False)).abs()
    # Sobol points are exact binary fractions: their text is compared
    report(losses, first_points=str(first_points.flatten().tolist()),
           next_point=str(sobol.draw(1).flatten().tolist()), drawn=sobol.num_generated,
           qmc_normal_mean=normals.mean().item(), qmc_normal_dtype=str(normals.dtype),
           spectrum_peak=spectrum.max().item(),
           kaiser_sum=windows.kaiser(16, beta=6.0).sum().item(), engine=repr(engine))


if __name__ == "__main__":
    main()
