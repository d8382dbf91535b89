"""WGAN-GP in the style of the PyTorch-GAN and improved-wgan scripts: a generator with
BatchNorm1d(eps=0.8) and in-place LeakyReLU, a LayerNorm critic, the gradient penalty through
torch.autograd.grad(create_graph=True, grad_outputs=ones) at points between real and fake
samples, Variable and Tensor-type spellings, several critic steps per generator step, and a
named (values, indices) result read by field."""
import argparse

import numpy as np
import torch
import torch.autograd as autograd
import torch.nn as nn
from torch.autograd import Variable

from common import init_from_numpy, report

Tensor = torch.FloatTensor


class Generator(nn.Module):
    def __init__(self, latent_dim, size):
        super().__init__()

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat, bias=not normalize)]  # BatchNorm follows
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers
        self.model = nn.Sequential(*block(latent_dim, 32, normalize=False), *block(32, 64),
                                   nn.Linear(64, size), nn.Tanh())

    def forward(self, z):
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.model = nn.Sequential(nn.Linear(size, 64), nn.LayerNorm(64),
                                   nn.LeakyReLU(0.2, inplace=True), nn.Linear(64, 32),
                                   nn.Softplus(), nn.Linear(32, 1))

    def forward(self, x):
        return self.model(x)


def compute_gradient_penalty(D, real_samples, fake_samples, alpha):
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    fake = Variable(Tensor(real_samples.shape[0], 1).fill_(1.0), requires_grad=False)
    gradients = autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                              create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n_critic", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    latent_dim, size, batch = 8, 16, 32

    generator, discriminator = Generator(latent_dim, size), Discriminator(size)
    init_from_numpy(generator, args.seed, scale=0.3)
    init_from_numpy(discriminator, args.seed + 1, scale=0.3)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    data = np.random.default_rng(args.seed)
    losses, penalties = [], []
    for step in range(args.steps * args.n_critic):
        real = Variable(Tensor(np.tanh(data.normal(0.5, 1.0, (batch, size)))))
        z = Variable(Tensor(data.normal(0, 1, (batch, latent_dim))))
        optimizer_D.zero_grad()
        fake = generator(z)
        alpha = Tensor(data.random((batch, 1)))
        gradient_penalty = compute_gradient_penalty(discriminator, real.data, fake.data, alpha)
        d_loss = -torch.mean(discriminator(real)) + torch.mean(discriminator(fake)) \
            + 10 * gradient_penalty
        d_loss.backward()
        optimizer_D.step()
        if step % args.n_critic == 0:
            optimizer_G.zero_grad()
            g_loss = -torch.mean(discriminator(generator(z)))
            g_loss.backward()
            optimizer_G.step()
            losses.append(d_loss.item())
            penalties.append(gradient_penalty.item())
    with torch.no_grad():
        generator.eval()
        samples = generator(Tensor(data.normal(0, 1, (64, latent_dim))))
        best = discriminator(samples).squeeze(1).max(dim=0)
    report(losses, last_penalty=penalties[-1], best_index=int(best.indices),
           best_score=best.values.item(), sample_mean=samples.mean().item(),
           result_type=type(best).__name__)


if __name__ == "__main__":
    main()
