"""The "What is torch.nn really?" tutorial's last model, as written there: a ``Lambda`` layer
around a view, a ``WrappedDataLoader`` that reshapes each batch, ``TensorDataset`` in shuffled
``DataLoader``s, the ``loss_batch``/``fit`` pair with its NumPy-weighted validation loss, SGD
with momentum. Everything random comes from ``torch.manual_seed`` (data, initialisation, the
shuffling)."""
import argparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from common import report


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


class WrappedDataLoader:
    def __init__(self, dl, func):
        self.dl = dl
        self.func = func

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield (self.func(*b))


def preprocess(x, y):
    return x.view(-1, 1, 12, 12), y


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    # Ten classes told apart by which band of rows is brightest.
    y_all = torch.randint(0, 10, (320,))
    x_all = torch.rand(320, 144) * 0.5
    rows = torch.arange(144) // 12
    x_all += 3 * (rows.unsqueeze(0) == y_all.unsqueeze(1)).float()
    train_ds = TensorDataset(x_all[:256], y_all[:256])
    valid_ds = TensorDataset(x_all[256:], y_all[256:])
    bs = 16
    train_dl = WrappedDataLoader(DataLoader(train_ds, batch_size=bs, shuffle=True), preprocess)
    valid_dl = WrappedDataLoader(DataLoader(valid_ds, batch_size=bs * 2), preprocess)
    model = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses, validation = [], []
    while len(losses) < args.steps:
        model.train()
        for xb, yb in train_dl:
            losses.append(loss_batch(model, F.cross_entropy, xb, yb, opt)[0])
            if len(losses) == args.steps:
                break
        model.eval()
        with torch.no_grad():
            batch_losses, nums = zip(*[loss_batch(model, F.cross_entropy, xb, yb)
                                       for xb, yb in valid_dl])
        validation.append(float(np.sum(np.multiply(batch_losses, nums)) / np.sum(nums)))
    report(losses, first_validation=validation[0], last_validation=validation[-1],
           batches=len(train_dl), output_dtype=str(model(next(iter(valid_dl))[0]).dtype))


if __name__ == "__main__":
    main()
