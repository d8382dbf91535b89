"""Mixed-precision training as the tutorials write it: the forward pass under autocast, the
loss scaled by a GradScaler, gradients unscaled before clipping, ``scaler.step``/``update``.
``--device-type cpu`` autocasts to bfloat16; ``--device-type cuda`` uses the ``torch.cuda.amp``
spellings, which on a machine without CUDA warn and run in float32."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import init_from_numpy, report


class SmallConvNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.fc = nn.Linear(16 * 2 * 2, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device-type", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    generator = np.random.default_rng(args.seed)
    images = torch.from_numpy(generator.normal(size=(64, 1, 8, 8)).astype(np.float32))
    labels = torch.from_numpy(generator.integers(0, 4, size=64))
    images[torch.arange(64), 0, labels, labels] += 3.0  # a learnable signal

    model = SmallConvNet()
    init_from_numpy(model, args.seed, scale=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    if args.device_type == "cuda":
        scaler = torch.cuda.amp.GradScaler()
        autocast = torch.cuda.amp.autocast
    else:
        scaler = torch.amp.GradScaler("cpu")
        autocast = lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)  # noqa: E731

    losses, dtypes = [], set()
    for step in range(args.steps):
        index = torch.arange(step * 16, step * 16 + 16) % 64
        with autocast():
            output = model(images[index])
            loss = F.cross_entropy(output, labels[index])
        dtypes.add(str(output.dtype))
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    report(losses, output_dtypes=sorted(dtypes), loss_dtype=str(loss.dtype),
           grad_dtype=str(model.fc.weight.grad.dtype), scale=scaler.get_scale())


if __name__ == "__main__":
    main()
