"""Forecasting variable-length series in the style of public seq2seq forecasting scripts: a
dataset of padded series of different lengths whose ``__getitem__`` adds fresh noise, read by a
DataLoader with two persistent workers (each worker's random stream goes on from epoch to
epoch), a bidirectional LSTM encoder with ``proj_size`` over ``pack_padded_sequence`` with
``enforce_sorted=False``, a GRUCell decoder with masked attention and teacher forcing drawn from
``torch.rand``, param groups, CosineAnnealingWarmRestarts and gradient clipping. Everything
random comes from ``torch.manual_seed``."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader, Dataset

from common import report

HORIZON, MAX_LENGTH = 4, 24


class Series(Dataset):
    def __init__(self, count):
        self.lengths = torch.randint(12, MAX_LENGTH + 1, (count,))
        self.frequencies = 0.15 + 0.2 * torch.rand(count)
        self.phases = 6.28 * torch.rand(count)

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, index):
        length = int(self.lengths[index])
        t = torch.arange(length + HORIZON, dtype=torch.float32)
        wave = torch.sin(t * self.frequencies[index] + self.phases[index])
        wave = wave + 0.05 * torch.randn(length + HORIZON)
        history = torch.zeros(MAX_LENGTH, 1)
        history[:length, 0] = wave[:length]
        return history, wave[length:].unsqueeze(-1), length


class Forecaster(nn.Module):
    def __init__(self, hidden=16, projected=8):
        super().__init__()
        self.encoder = nn.LSTM(1, hidden, num_layers=2, bidirectional=True, batch_first=True,
                               proj_size=projected, dropout=0.1)
        self.bridge = nn.Linear(2 * projected, hidden)
        self.cell = nn.GRUCell(1, hidden)
        self.query = nn.Linear(hidden, 2 * projected, bias=False)
        self.head = nn.Sequential(nn.Linear(hidden + 2 * projected, hidden), nn.GELU(),
                                  nn.Dropout(0.1), nn.Linear(hidden, 1))

    def forward(self, history, lengths, target=None, teacher_forcing=0.0):
        packed = pack_padded_sequence(history, lengths, batch_first=True, enforce_sorted=False)
        encoded, (h, _) = self.encoder(packed)
        encoded, _ = pad_packed_sequence(encoded, batch_first=True, total_length=MAX_LENGTH)
        padding = torch.arange(MAX_LENGTH)[None, :] >= lengths[:, None]
        state = torch.tanh(self.bridge(torch.cat([h[-2], h[-1]], -1)))
        step_input = history[torch.arange(len(lengths)), lengths - 1]
        outputs = []
        for step in range(HORIZON):
            state = self.cell(step_input, state)
            scores = torch.einsum("btd,bd->bt", encoded, self.query(state))
            weights = scores.masked_fill(padding, float("-inf")).softmax(-1)
            context = torch.bmm(weights.unsqueeze(1), encoded).squeeze(1)
            prediction = self.head(torch.cat([state, context], -1))
            outputs.append(prediction)
            use_target = target is not None and torch.rand(()) < teacher_forcing
            step_input = target[:, step] if use_target else prediction
        return torch.stack(outputs, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    loader = DataLoader(Series(24), batch_size=6, shuffle=True, num_workers=2,
                        persistent_workers=True, drop_last=True)
    model = Forecaster()
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") else decay).append(parameter)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=3e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=8)
    losses = []
    while len(losses) < args.steps:
        for history, target, lengths in loader:
            if len(losses) == args.steps:
                break
            teacher_forcing = max(0.0, 1.0 - len(losses) / args.steps)
            prediction = model(history, lengths, target, teacher_forcing)
            loss = F.smooth_l1_loss(prediction, target, beta=0.5)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        history, target, lengths = next(iter(loader))
        evaluation = F.mse_loss(model(history, lengths), target).item()
    report(losses, evaluation=evaluation, last_lr=scheduler.get_last_lr()[0])


if __name__ == "__main__":
    main()
