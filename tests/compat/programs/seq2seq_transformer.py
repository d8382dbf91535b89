"""A sequence-to-sequence Transformer in the style of the official translation tutorial
(``nn.Transformer`` with ``batch_first=True``, sinusoidal positions, padding and causal masks,
Xavier initialisation), taught to reverse token sequences. Unlike the other programs it takes
everything random from ``torch.manual_seed``: default initialisation, Xavier draws, the data,
the shuffled loader and every dropout mask (attention's output is a transposed view when
batch_first, so its dropout draws in that view's memory order)."""
import argparse
import math

import torch
import torch.nn as nn
from torch.nn import Transformer

from common import report

VOCABULARY, PAD, BOS = 24, 0, 1


class PositionalEncoding(nn.Module):
    def __init__(self, emb_size, dropout, maxlen=32):
        super().__init__()
        den = torch.exp(-torch.arange(0, emb_size, 2) * math.log(10000) / emb_size)
        pos = torch.arange(0, maxlen).reshape(maxlen, 1)
        pos_embedding = torch.zeros((maxlen, emb_size))
        pos_embedding[:, 0::2] = torch.sin(pos * den)
        pos_embedding[:, 1::2] = torch.cos(pos * den)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pos_embedding", pos_embedding.unsqueeze(0))

    def forward(self, token_embedding):
        return self.dropout(token_embedding + self.pos_embedding[:, :token_embedding.size(1)])


class Seq2SeqTransformer(nn.Module):
    def __init__(self, d_model=32):
        super().__init__()
        self.transformer = Transformer(d_model=d_model, nhead=4, num_encoder_layers=2,
                                       num_decoder_layers=2, dim_feedforward=64, dropout=0.1,
                                       batch_first=True)
        self.generator = nn.Linear(d_model, VOCABULARY)
        self.src_tok_emb = nn.Embedding(VOCABULARY, d_model)
        self.tgt_tok_emb = nn.Embedding(VOCABULARY, d_model)
        self.positional_encoding = PositionalEncoding(d_model, dropout=0.1)
        self.d_model = d_model

    def forward(self, src, tgt, tgt_mask, src_padding_mask, tgt_padding_mask):
        scale = math.sqrt(self.d_model)
        src_emb = self.positional_encoding(self.src_tok_emb(src) * scale)
        tgt_emb = self.positional_encoding(self.tgt_tok_emb(tgt) * scale)
        outs = self.transformer(src_emb, tgt_emb, None, tgt_mask, None, src_padding_mask,
                                tgt_padding_mask, src_padding_mask)
        return self.generator(outs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Seq2SeqTransformer()
    for parameter in model.parameters():
        if parameter.dim() > 1:
            nn.init.xavier_uniform_(parameter)
    length = 8
    src = torch.randint(3, VOCABULARY, (96, length))
    lengths = torch.randint(4, length + 1, (96,))
    src = src.masked_fill(torch.arange(length)[None] >= lengths[:, None], PAD)
    tgt = torch.cat([torch.full((96, 1), BOS), src.flip(1)], 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(src, tgt),
                                         batch_size=16, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.98), eps=1e-9)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    losses = []
    while len(losses) < args.steps:
        model.train()
        for source, target in loader:
            tgt_input = target[:, :-1]
            tgt_mask = Transformer.generate_square_subsequent_mask(tgt_input.size(1))
            logits = model(source, tgt_input, tgt_mask, source == PAD, tgt_input == PAD)
            optimizer.zero_grad()
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), target[:, 1:].reshape(-1))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == args.steps:
                break
    report(losses)


if __name__ == "__main__":
    main()
