"""Skip-gram with negative sampling (word2vec) in the style of the popular reference scripts:
center and context ``nn.Embedding(..., sparse=True)`` tables, a log-sigmoid loss over the true
context and sampled negatives, ``optim.SparseAdam`` on the sparse gradients, and a closing
nearest-neighbour query by cosine similarity."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from common import report


class SkipGramModel(nn.Module):
    def __init__(self, vocab_size, emb_dimension):
        super().__init__()
        self.u_embeddings = nn.Embedding(vocab_size, emb_dimension, sparse=True)
        self.v_embeddings = nn.Embedding(vocab_size, emb_dimension, sparse=True)

    def forward(self, pos_u, pos_v, neg_v):
        emb_u = self.u_embeddings(pos_u)
        emb_v = self.v_embeddings(pos_v)
        emb_neg_v = self.v_embeddings(neg_v)
        score = torch.sum(torch.mul(emb_u, emb_v), dim=1)
        score = -F.logsigmoid(torch.clamp(score, max=10, min=-10))
        neg_score = torch.bmm(emb_neg_v, emb_u.unsqueeze(2)).squeeze()
        neg_score = -torch.sum(F.logsigmoid(-torch.clamp(neg_score, max=10, min=-10)), dim=1)
        return torch.mean(score + neg_score)


def corpus(generator, vocab_size, length):
    """A token stream where each word is usually followed by one of two neighbours."""
    tokens = [int(generator.integers(vocab_size))]
    for _ in range(length - 1):
        step = 1 if generator.random() < 0.8 else int(generator.integers(2, vocab_size))
        tokens.append((tokens[-1] + step) % vocab_size)
    return np.array(tokens)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--vocab", type=int, default=40)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--window", type=int, default=2)
    args = parser.parse_args()
    generator = np.random.default_rng(0)
    tokens = corpus(generator, args.vocab, 2000)

    model = SkipGramModel(args.vocab, args.dim)
    bound = 1.0 / args.dim
    with torch.no_grad():
        model.u_embeddings.weight.copy_(torch.from_numpy(
            generator.uniform(-bound, bound, (args.vocab, args.dim)).astype(np.float32)))
        model.v_embeddings.weight.copy_(torch.from_numpy(
            generator.uniform(-bound, bound, (args.vocab, args.dim)).astype(np.float32)))
    optimizer = optim.SparseAdam(list(model.parameters()), lr=0.05)

    losses = []
    for _ in range(args.steps):
        centers = generator.integers(args.window, len(tokens) - args.window, args.batch)
        offsets = generator.choice([-2, -1, 1, 2], args.batch)
        pos_u = torch.from_numpy(tokens[centers])
        pos_v = torch.from_numpy(tokens[centers + offsets])
        neg_v = torch.from_numpy(generator.integers(0, args.vocab, (args.batch, args.negatives)))
        optimizer.zero_grad()
        loss = model(pos_u, pos_v, neg_v)
        loss.backward()
        assert model.u_embeddings.weight.grad.is_sparse
        optimizer.step()
        losses.append(loss.item())

    embeddings = F.normalize(model.u_embeddings.weight.detach(), dim=1)
    similarity = embeddings @ embeddings.t()
    similarity.fill_diagonal_(-1.0)
    neighbours = similarity.argmax(dim=1)
    report(losses, neighbour_of_0=int(neighbours[0]))


if __name__ == "__main__":
    main()
