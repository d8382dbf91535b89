"""The GNN layers of the University of Amsterdam's deep-learning tutorial 7, as written there:
a GCN layer (``bmm`` with the adjacency matrix, divided by the node degrees) and a GAT layer
(edges from ``adj_matrix.nonzero()``, ``index_select`` of both ends, attention logits by
``einsum("bhc,hc->bh")`` through a ``LeakyReLU``, scattered into a ``-9e15``-filled matrix by a
boolean mask, softmax, then ``einsum("bijh,bjhc->bihc")``), stacked with ``F.elu`` over
``F.dropout`` (whose mask follows the einsum result's memory layout) and trained for node
classification under a train mask with Adam's weight decay. Everything random comes from
``torch.manual_seed``."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

from common import report


class GCNLayer(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.projection = nn.Linear(c_in, c_out)

    def forward(self, node_feats, adj_matrix):
        num_neighbours = adj_matrix.sum(dim=-1, keepdims=True)
        node_feats = self.projection(node_feats)
        node_feats = torch.bmm(adj_matrix, node_feats)
        node_feats = node_feats / num_neighbours
        return node_feats


class GATLayer(nn.Module):
    def __init__(self, c_in, c_out, num_heads=1, concat_heads=True, alpha=0.2):
        super().__init__()
        self.num_heads = num_heads
        self.concat_heads = concat_heads
        if self.concat_heads:
            assert c_out % num_heads == 0, "Number of output features must be a multiple of the count of heads."
            c_out = c_out // num_heads
        self.projection = nn.Linear(c_in, c_out * num_heads)
        self.a = nn.Parameter(torch.Tensor(num_heads, 2 * c_out))
        self.leakyrelu = nn.LeakyReLU(alpha)
        nn.init.xavier_uniform_(self.projection.weight.data, gain=1.414)
        nn.init.xavier_uniform_(self.a.data, gain=1.414)

    def forward(self, node_feats, adj_matrix, print_attn_probs=False):
        batch_size, num_nodes = node_feats.size(0), node_feats.size(1)
        node_feats = self.projection(node_feats)
        node_feats = node_feats.view(batch_size, num_nodes, self.num_heads, -1)
        edges = adj_matrix.nonzero(as_tuple=False)
        node_feats_flat = node_feats.view(batch_size * num_nodes, self.num_heads, -1)
        edge_indices_row = edges[:, 0] * num_nodes + edges[:, 1]
        edge_indices_col = edges[:, 0] * num_nodes + edges[:, 2]
        a_input = torch.cat([
            torch.index_select(input=node_feats_flat, index=edge_indices_row, dim=0),
            torch.index_select(input=node_feats_flat, index=edge_indices_col, dim=0)
        ], dim=-1)
        attn_logits = torch.einsum("bhc,hc->bh", a_input, self.a)
        attn_logits = self.leakyrelu(attn_logits)
        attn_matrix = attn_logits.new_zeros(adj_matrix.shape + (self.num_heads,)).fill_(-9e15)
        attn_matrix[adj_matrix[..., None].repeat(1, 1, 1, self.num_heads) == 1] = \
            attn_logits.reshape(-1)
        attn_probs = F.softmax(attn_matrix, dim=2)
        self.last_attn_probs = attn_probs.detach()
        node_feats = torch.einsum("bijh,bjhc->bihc", attn_probs, node_feats)
        if self.concat_heads:
            node_feats = node_feats.reshape(batch_size, num_nodes, -1)
        else:
            node_feats = node_feats.mean(dim=2)
        return node_feats


def random_graphs(batch, nodes, generator):
    adj = (torch.rand(batch, nodes, nodes, generator=generator) < 0.3).float()
    adj = ((adj + adj.transpose(1, 2)) > 0).float()
    return (adj + torch.eye(nodes).unsqueeze(0)).clamp(max=1)


def run(layers, x, adj, y, train_mask, steps):
    optimizer = torch.optim.Adam(layers.parameters(), lr=1e-2, weight_decay=5e-4)
    losses, accuracies = [], []
    for _ in range(steps):
        h = x
        for index, layer in enumerate(layers):
            h = layer(h, adj)
            if index < len(layers) - 1:
                h = F.elu(F.dropout(h, p=0.1, training=True))
        loss = F.cross_entropy(h[train_mask], y[train_mask])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct = (h.argmax(-1)[~train_mask] == y[~train_mask]).sum().float()
        accuracies.append((correct / (~train_mask).sum()).item())
        losses.append(loss.item())
    return losses, accuracies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(42)
    data = torch.Generator().manual_seed(7)
    nodes, batch = 12, 3
    adj = random_graphs(batch, nodes, data)
    x = torch.randn(batch, nodes, 5, generator=data)
    y = (x[..., 0] + 0.5 * x[..., 1] > 0).long()
    train_mask = torch.rand(batch, nodes, generator=data) < 0.7

    gat = nn.ModuleList([GATLayer(5, 16, num_heads=4),
                         GATLayer(16, 2, num_heads=2, concat_heads=False)])
    losses, accuracies = run(gat, x, adj, y, train_mask, args.steps)
    gcn = nn.ModuleList([GCNLayer(5, 16), GCNLayer(16, 2)])
    gcn_losses, gcn_accuracies = run(gcn, x, adj, y, train_mask, args.steps)

    layer = GATLayer(2, 2, num_heads=2)
    layer.projection.weight.data = torch.Tensor([[1.0, 0.0], [0.0, 1.0]])
    layer.projection.bias.data = torch.Tensor([0.0, 0.0])
    layer.a.data = torch.Tensor([[-0.2, 0.3], [0.1, -0.1]])
    node_feats = torch.arange(8, dtype=torch.float32).view(1, 4, 2)
    adj_matrix = torch.Tensor([[[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]]])
    with torch.no_grad():
        out_feats = layer(node_feats, adj_matrix)
    mixed = torch.einsum("bijh,bjhc->bihc", torch.rand(2, 3, 4, 2), torch.rand(2, 4, 2, 5))
    report(losses, gat_last_accuracy=accuracies[-1], gcn_first_loss=gcn_losses[0],
           gcn_last_loss=gcn_losses[-1], gcn_last_accuracy=gcn_accuracies[-1],
           tutorial_output_sum=out_feats.sum().item(),
           tutorial_attention=layer.last_attn_probs[0, 1, 2, 0].item(),
           edges=int(adj.nonzero().shape[0]), einsum_strides=str(mixed.stride()),
           einsum_is_contiguous=str(mixed.is_contiguous()))


if __name__ == "__main__":
    main()
