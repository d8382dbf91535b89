"""A DLRM recommender as in the reference implementation: sparse features through
``nn.EmbeddingBag`` tables fed flat indices with ``offsets`` (mode "sum", with
``per_sample_weights`` on alternate steps, and a "mean" table), a bottom MLP for dense
features, pairwise dot-product interactions by ``torch.bmm`` read off with
``torch.triu_indices``, a sigmoid top MLP trained with BCE; the ragged bags are also pooled
with ``torch.segment_reduce`` and the click scores binned with ``torch.histogramdd``.
Everything random comes from ``torch.manual_seed`` and a seeded ``torch.Generator``."""
import argparse

import torch
from torch import nn

from common import report


class DLRM(nn.Module):
    def __init__(self, table_sizes, dim, bottom, top):
        super().__init__()
        self.tables = nn.ModuleList(nn.EmbeddingBag(size, dim, mode="sum")
                                    for size in table_sizes)
        self.mean_table = nn.EmbeddingBag(table_sizes[0], dim, mode="mean")
        self.bottom = self.mlp(bottom, sigmoid_last=False)
        interactions = (len(table_sizes) + 2) * (len(table_sizes) + 1) // 2
        self.top = self.mlp([interactions + dim] + top, sigmoid_last=True)

    @staticmethod
    def mlp(sizes, sigmoid_last):
        layers = []
        for index, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            last = index == len(sizes) - 2
            layers.append(nn.Sigmoid() if last and sigmoid_last else nn.ReLU())
        return nn.Sequential(*layers)

    def forward(self, dense, offsets, indices, weights=None):
        x = self.bottom(dense)
        pooled = [table(index, offset, per_sample_weights=None if weights is None else weight)
                  for table, offset, index, weight in
                  zip(self.tables, offsets, indices, weights or [None] * len(indices))]
        pooled.append(self.mean_table(indices[0], offsets[0]))
        features = torch.cat([x] + pooled, dim=1).view(x.shape[0], -1, x.shape[1])
        products = torch.bmm(features, features.transpose(1, 2))
        rows, columns = torch.triu_indices(features.shape[1], features.shape[1], offset=1)
        return self.top(torch.cat([x, products[:, rows, columns]], dim=1))


def batch(generator, table_sizes, size):
    dense = torch.rand(size, 5, generator=generator)
    lengths = torch.randint(1, 4, (len(table_sizes), size), generator=generator)
    offsets = [torch.cat([torch.zeros(1, dtype=torch.long), length.cumsum(0)[:-1]])
               for length in lengths]
    indices = [torch.randint(0, n, (int(length.sum()),), generator=generator)
               for n, length in zip(table_sizes, lengths)]
    weights = [torch.rand(len(index), generator=generator) for index in indices]
    clicks = (dense[:, 0] + dense[:, 1] > 1).float().unsqueeze(1)
    return dense, lengths, offsets, indices, weights, clicks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    table_sizes = [10, 7, 12]
    model = DLRM(table_sizes, 4, [5, 8, 4], [8, 1])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    loss_function = nn.BCELoss()
    generator = torch.Generator().manual_seed(123)
    data = batch(generator, table_sizes, 16)
    losses = []
    for step in range(args.steps):
        dense, lengths, offsets, indices, weights, clicks = data
        scores = model(dense, offsets, indices, weights if step % 2 else None)
        loss = loss_function(scores, clicks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    dense, lengths, offsets, indices, weights, clicks = data
    with torch.no_grad():
        rows = model.tables[0].weight[indices[0]]
        segment_mean = torch.segment_reduce(rows, "mean", lengths=lengths[0])
        bag_mean = nn.functional.embedding_bag(indices[0], model.tables[0].weight, offsets[0],
                                               mode="mean")
        segment_max = torch.segment_reduce(rows, "max", offsets=torch.cat(
            [offsets[0], torch.tensor([len(indices[0])])]))
        scores = model(dense, offsets, indices)
    hist, edges = torch.histogramdd(torch.cat([scores, dense[:, :1]], 1), bins=[4, 2],
                                    range=[0.0, 1.0, 0.0, 1.0])
    report(losses, accuracy=((scores > 0.5).float() == clicks).float().mean().item(),
           segment_matches_bag=bool(torch.allclose(segment_mean, bag_mean, atol=1e-6)),
           segment_max_sum=segment_max.sum().item(), histogram=str(hist.flatten().tolist()),
           edges=str([edge.tolist() for edge in edges]),
           interactions=int(torch.triu_indices(5, 5, offset=1).shape[1]))


if __name__ == "__main__":
    main()
