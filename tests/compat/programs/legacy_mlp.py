"""A classifier written the way older tutorials write one: data built with ``torch.FloatTensor``
and ``torch.LongTensor`` from Python lists, a layer whose parameters come from ``torch.Tensor(n)``
then ``reset_parameters``, ``Variable`` wrappers, a TensorDataset in a DataLoader, SGD with
momentum and a StepLR schedule."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable
from torch.utils.data import DataLoader, TensorDataset

from common import init_from_numpy, report


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super(MyLinear, self).__init__()
        self.weight = nn.Parameter(torch.Tensor(out_features, in_features))
        self.bias = nn.Parameter(torch.Tensor(out_features))
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1. / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        self.bias.data.zero_()

    def forward(self, input):
        return input.matmul(self.weight.t()) + self.bias


class Net(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super(Net, self).__init__()
        self.fc1 = MyLinear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def make_data(n, seed):
    """Two interleaved spirals as plain Python lists, the way a tutorial would build them."""
    generator = np.random.RandomState(seed)
    points, labels = [], []
    for i in range(n):
        label = i % 2
        radius = 0.2 + 0.8 * i / n
        angle = 3.0 * radius + math.pi * label + generator.normal(scale=0.1)
        points.append([radius * math.cos(angle), radius * math.sin(angle)])
        labels.append(label)
    return points, labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    points, labels = make_data(96, args.seed)
    X = torch.FloatTensor(points)
    y = torch.LongTensor(labels)
    loader = DataLoader(TensorDataset(X, y), batch_size=args.batch_size, shuffle=False)

    model = Net(2, 32, 2)
    init_from_numpy(model, args.seed, scale=0.7)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.7)
    running = torch.Tensor(1).zero_()
    correct = torch.zeros(1).long()
    losses = []
    while len(losses) < args.steps:
        for data, target in loader:
            data, target = Variable(data), Variable(target)
            optimizer.zero_grad()
            output = model(data)
            loss = F.cross_entropy(output, target)
            loss.backward()
            optimizer.step()
            running += loss.data
            correct += output.data.max(1)[1].eq(target.data).long().sum()
            losses.append(loss.data.item())
            if len(losses) == args.steps:
                break
        scheduler.step()
    report(losses, mean_loss=running.item() / len(losses), correct=correct.item(),
           lr=optimizer.param_groups[0]["lr"])


if __name__ == "__main__":
    main()
