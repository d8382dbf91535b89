"""A two-layer graph convolutional network (Kipf and Welling) in the style of the popular
reference scripts: a symmetrically normalised sparse adjacency with self-loops built with
``torch.sparse_coo_tensor``, layers that multiply it through ``torch.spmm``/``torch.sparse.mm``,
Adam with weight decay, and train/validation node masks."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.parameter import Parameter

from common import init_from_numpy, report


class GraphConvolution(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = Parameter(torch.FloatTensor(in_features, out_features))
        self.bias = Parameter(torch.FloatTensor(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.data.uniform_(-stdv, stdv)

    def forward(self, input, adj):
        support = torch.mm(input, self.weight)
        output = torch.spmm(adj, support)
        return output + self.bias if self.bias is not None else output


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass, dropout):
        super().__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        return F.log_softmax(self.gc2(x, adj), dim=1)


def normalized_adjacency(edges, num_nodes):
    """D^-1/2 (A + I) D^-1/2 of an undirected graph, as a sparse COO tensor."""
    loops = torch.arange(num_nodes).unsqueeze(0).repeat(2, 1)
    index = torch.cat([edges, edges.flip(0), loops], dim=1)
    values = torch.ones(index.size(1))
    adj = torch.sparse_coo_tensor(index, values, (num_nodes, num_nodes)).coalesce()
    degree = torch.sparse.sum(adj, dim=1).to_dense()
    d_inv_sqrt = degree.pow(-0.5)
    d_inv_sqrt[torch.isinf(d_inv_sqrt)] = 0.0
    row, col = adj.indices()
    return torch.sparse_coo_tensor(adj.indices(), d_inv_sqrt[row] * adj.values() * d_inv_sqrt[col],
                                   adj.size()).coalesce()


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    return preds.eq(labels).double().sum().item() / len(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nodes", type=int, default=60)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--weight_decay", type=float, default=5e-4)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    # A planted-partition graph: three communities, features noisy indicators of them.
    generator = np.random.default_rng(args.seed)
    labels = torch.from_numpy(generator.integers(0, 3, size=args.nodes))
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    draw = torch.from_numpy(generator.random((args.nodes, args.nodes)))
    linked = torch.triu((same & (draw < 0.2)) | (draw < 0.02), diagonal=1)
    edges = linked.nonzero().t()
    features = F.one_hot(labels, 3).float().repeat(1, 4)
    features = features + torch.from_numpy(generator.normal(0.0, 1.0, features.shape)).float()
    features = features / features.abs().sum(1, keepdim=True)
    adj = normalized_adjacency(edges, args.nodes)
    idx_train = torch.LongTensor(range(0, args.nodes // 2))
    idx_val = torch.LongTensor(range(args.nodes // 2, args.nodes))

    model = GCN(features.shape[1], args.hidden, 3, dropout=0.0)
    init_from_numpy(model, args.seed, scale=0.5)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    losses = []
    for _ in range(args.steps):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        losses.append(loss_train.item())
    model.eval()
    output = model(features, adj)
    report(losses, val_loss=F.nll_loss(output[idx_val], labels[idx_val]).item(),
           val_accuracy=accuracy(output[idx_val], labels[idx_val]), edges=edges.size(1),
           nnz=adj._nnz())


if __name__ == "__main__":
    main()
