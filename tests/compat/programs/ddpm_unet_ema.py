"""A class-conditional DDPM in the style of the public diffusion trainers: a small UNet with
sinusoidal timestep embeddings (``torch.exp(-math.log(10000) * torch.arange(half) / half)``),
GroupNorm + SiLU residual blocks that add the embedding as ``h + emb[:, :, None, None]``,
self-attention over ``h.flatten(2).transpose(1, 2)``, nearest ``F.interpolate`` upsampling and
skip concatenation, in ``channels_last``; a linear beta schedule (``linspace``, ``cumprod``,
``gather`` of ``alphas_cumprod`` by ``t``), label dropout for classifier-free guidance, an EMA
through ``AveragedModel(get_ema_multi_avg_fn)`` and another by hand with ``lerp_``, and a
guided DDIM sampler (``torch.cat([x, x])``, ``chunk(2)``). Everything random comes from torch's
seeds."""
import argparse
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from common import report

T = 100


def timestep_embedding(timesteps, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(start=0, end=half,
                                                            dtype=torch.float32) / half)
    args = timesteps[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, in_channels, out_channels, emb_channels):
        super().__init__()
        self.norm1 = nn.GroupNorm(4, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb_proj = nn.Linear(emb_channels, out_channels)
        self.norm2 = nn.GroupNorm(4, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        self.skip = (nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels
                     else nn.Identity())

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, channels, heads=2):
        super().__init__()
        self.norm = nn.GroupNorm(4, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.heads = heads

    def forward(self, x):
        b, c, height, width = x.shape
        h = self.norm(x).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(h).view(b, -1, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        h = F.scaled_dot_product_attention(q, k, v)
        h = self.proj(h.transpose(1, 2).reshape(b, -1, c))
        return x + h.transpose(1, 2).reshape(b, c, height, width)


class UNet(nn.Module):
    def __init__(self, channels=8, emb_channels=32, num_classes=3):
        super().__init__()
        self.channels = channels
        self.time_embed = nn.Sequential(nn.Linear(channels, emb_channels), nn.SiLU(),
                                        nn.Linear(emb_channels, emb_channels))
        self.label_embed = nn.Embedding(num_classes + 1, emb_channels)
        self.conv_in = nn.Conv2d(1, channels, 3, padding=1)
        self.down = ResBlock(channels, channels, emb_channels)
        self.downsample = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        self.mid = ResBlock(channels, 2 * channels, emb_channels)
        self.mid_attn = AttentionBlock(2 * channels)
        self.up_conv = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.up = ResBlock(2 * channels, channels, emb_channels)
        self.norm_out = nn.GroupNorm(4, channels)
        self.conv_out = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x, t, y):
        emb = self.time_embed(timestep_embedding(t, self.channels)) + self.label_embed(y)
        h1 = self.down(self.conv_in(x), emb)
        h = self.mid_attn(self.mid(self.downsample(h1), emb))
        h = self.up_conv(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.up(torch.cat([h, h1], dim=1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


def extract(a, t, x_shape):
    out = a.gather(-1, t)
    return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1))).float()


def make_batch(generator, size=8):
    """Class 0: a bright square, 1: a horizontal bar, 2: a vertical bar, on an 8x8 canvas."""
    labels = torch.randint(0, 3, (size,), generator=generator)
    images = torch.full((size, 1, 8, 8), -1.0)
    offsets = torch.randint(1, 4, (size,), generator=generator)
    for i in range(size):
        o = offsets[i].item()
        if labels[i] == 0:
            images[i, :, o:o + 3, o:o + 3] = 1.0
        elif labels[i] == 1:
            images[i, :, o + 1, :] = 1.0
        else:
            images[i, :, :, o + 1] = 1.0
    return images, labels


@torch.no_grad()
def ddim_sample(model, alphas_cumprod, labels, steps, guidance, generator):
    n = labels.shape[0]
    x = torch.randn((n, 1, 8, 8), generator=generator)
    timesteps = torch.linspace(T - 1, 0, steps).long()
    for i, t in enumerate(timesteps):
        tt = torch.full((n,), t.item(), dtype=torch.long)
        cond, uncond = model(torch.cat([x, x]), torch.cat([tt, tt]),
                             torch.cat([labels, torch.full_like(labels, 3)])).chunk(2)
        eps = uncond + guidance * (cond - uncond)
        a_t = alphas_cumprod[t].float()
        a_prev = (alphas_cumprod[timesteps[i + 1]].float() if i + 1 < len(timesteps)
                  else torch.tensor(1.0))
        x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    sqrt_ac = alphas_cumprod.sqrt()
    sqrt_one_minus_ac = (1.0 - alphas_cumprod).sqrt()
    model = UNet().to(memory_format=torch.channels_last)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    ema_by_hand = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(args.steps):
        x0, y = make_batch(generator)
        x0 = x0.contiguous(memory_format=torch.channels_last)
        y = torch.where(torch.rand(y.shape, generator=generator) < 0.2, torch.full_like(y, 3), y)
        t = torch.randint(0, T, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        x_t = extract(sqrt_ac, t, x0.shape) * x0 + extract(sqrt_one_minus_ac, t, x0.shape) * noise
        loss = F.mse_loss(model(x_t, t, y), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.update_parameters(model)
        with torch.no_grad():
            for averaged, current in zip(ema_by_hand.parameters(), model.parameters()):
                averaged.lerp_(current, 0.1)
        losses.append(loss.item())
    ema.eval()
    samples = ddim_sample(ema.module, alphas_cumprod, torch.tensor([0, 1, 2]), steps=5,
                          guidance=2.0, generator=torch.Generator().manual_seed(2))
    ema_gap = max((a - b).abs().max().item()
                  for a, b in zip(ema.module.parameters(), ema_by_hand.parameters()))
    report(losses, n_averaged=ema.n_averaged.item(), ema_gap_to_by_hand=ema_gap,
           channels_last=model.conv_in.weight.is_contiguous(memory_format=torch.channels_last),
           sample_mean=samples.mean().item(), sample_std=samples.std().item(),
           sample_corner=samples[0, 0, 0, 0].item(), sample_dtype=str(samples.dtype),
           alphas_cumprod_last=alphas_cumprod[-1].item())


if __name__ == "__main__":
    main()
