"""DP-SGD in the style of Opacus's functorch path: per-sample gradients of a small CNN with
GroupNorm by ``vmap(grad(compute_loss), in_dims=(None, None, 0, 0))`` over
``functional_call(model, (params, buffers), (x[None],))``, per-sample clipping to norm 1 through
``torch.stack``/``norm``/``clamp(max=1)``, Gaussian noise from a seeded ``torch.Generator``, and
SGD; a Jacobian-norm (gradient penalty) term on the inputs is added every other step through
``torch.autograd.grad(create_graph=True)``. Everything random comes from ``torch.manual_seed``
and the generator."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from common import report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    # Two classes: which half of the image is brighter.
    images = torch.rand(160, 1, 8, 8)
    labels = torch.randint(0, 2, (160,))
    images[labels == 1, :, :4] += 0.7
    images[labels == 0, :, 4:] += 0.7
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.GroupNorm(2, 6), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 2 * 2, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.5)
    noise_generator = torch.Generator().manual_seed(1234)
    max_norm, noise_multiplier, batch = 1.0, 0.3, 16

    def compute_loss(params, buffers, sample, target):
        output = functional_call(model, (params, buffers), (sample[None],))
        return F.cross_entropy(output, target[None])

    per_sample_grads = vmap(grad(compute_loss), in_dims=(None, None, 0, 0))
    losses, clipped_fractions = [], []
    for step in range(args.steps):
        start = (step * batch) % images.shape[0]
        x, y = images[start:start + batch], labels[start:start + batch]
        params = {name: value.detach() for name, value in model.named_parameters()}
        buffers = {name: value.detach() for name, value in model.named_buffers()}
        grads = per_sample_grads(params, buffers, x, y)
        norms = torch.stack([value.reshape(batch, -1).norm(2, dim=1)
                             for value in grads.values()], dim=1).norm(2, dim=1)
        factors = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        clipped_fractions.append((norms > max_norm).float().mean().item())
        optimizer.zero_grad()
        if step % 2 == 1:
            x_penalty = x.clone().requires_grad_(True)
            (input_grad,) = torch.autograd.grad(model(x_penalty).logsumexp(1).sum(), x_penalty,
                                                create_graph=True)
            (0.1 * input_grad.pow(2).reshape(batch, -1).sum(1).mean()).backward()
        for name, parameter in model.named_parameters():
            clipped = torch.einsum("i,i...->...", factors, grads[name])
            noise = torch.normal(0.0, noise_multiplier * max_norm, size=parameter.shape,
                                 generator=noise_generator)
            private = (clipped + noise) / batch
            parameter.grad = private if parameter.grad is None else parameter.grad + private
        optimizer.step()
        with torch.no_grad():
            losses.append(F.cross_entropy(model(x), y).item())
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    report(losses, accuracy=accuracy, first_clipped_fraction=clipped_fractions[0],
           last_norm_sum=norms.sum().item(), last_largest_norm=norms.max().item())


if __name__ == "__main__":
    main()
