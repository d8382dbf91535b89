"""A character-level RNN written as Dive into Deep Learning writes one from scratch: a Vocab
over a text, sequential minibatches, inputs one-hot encoded with ``F.one_hot(X.T, vocab)``,
parameters as plain tensors with ``requires_grad_``, gradient clipping by hand over the
parameter list, an SGD step under ``no_grad`` and perplexity through ``math.exp``; then the
chapter's learning-rate scheduler loop, which tells a built-in scheduler from its own by
``scheduler.__module__ == lr_scheduler.__name__``. Everything random comes from
``torch.manual_seed`` and Python's ``random``."""
import argparse
import collections
import math
import random

import torch
from torch import nn
from torch.nn import functional as F
from torch.optim import lr_scheduler

from common import report

TEXT = ("the time machine by h g wells the time traveller for so it will be convenient to "
        "speak of him was expounding a recondite matter to us his grey eyes shone and twinkled ")


class Vocab:
    def __init__(self, tokens):
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: (-x[1], x[0]))
        self.idx_to_token = ['<unk>'] + [token for token, _ in self.token_freqs]
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, 0)
        return [self.__getitem__(token) for token in tokens]


def seq_data_iter_sequential(corpus, batch_size, num_steps):
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = torch.tensor(corpus[offset: offset + num_tokens])
    Ys = torch.tensor(corpus[offset + 1: offset + 1 + num_tokens])
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield Xs[:, i: i + num_steps], Ys[:, i: i + num_steps]


def get_params(vocab_size, num_hiddens):
    def normal(shape):
        return torch.randn(size=shape) * 0.01
    params = [normal((vocab_size, num_hiddens)), normal((num_hiddens, num_hiddens)),
              torch.zeros(num_hiddens), normal((num_hiddens, vocab_size)), torch.zeros(vocab_size)]
    for param in params:
        param.requires_grad_(True)
    return params


def rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs, dim=0), (H,)


def grad_clipping(params, theta):
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


class SquareRootScheduler:
    def __init__(self, lr=0.1):
        self.lr = lr

    def __call__(self, num_update):
        return self.lr * pow(num_update + 1.0, -0.5)


def scheduled_lrs(scheduler, trainer, epochs):
    """The chapter's train loop, its branch on the scheduler's module kept as written."""
    lrs = []
    for epoch in range(epochs):
        trainer.step()
        if scheduler.__module__ == lr_scheduler.__name__:
            scheduler.step()
        else:
            for param_group in trainer.param_groups:
                param_group['lr'] = scheduler(epoch)
        lrs.append(trainer.param_groups[0]['lr'])
    return lrs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    tokens = list(TEXT * 4)
    vocab = Vocab(tokens)
    corpus = [vocab[token] for token in tokens]
    params = get_params(len(vocab), 32)
    loss = nn.CrossEntropyLoss()
    losses = []
    total, count = 0.0, 0
    while len(losses) < args.steps:
        state = None
        for X, Y in seq_data_iter_sequential(corpus, 4, 10):
            if state is None:
                state = (torch.zeros((X.shape[0], 32)),)
            else:
                for s in state:
                    s.detach_()
            y = Y.T.reshape(-1)
            y_hat, state = rnn(F.one_hot(X.T, len(vocab)).type(torch.float32), state, params)
            l = loss(y_hat, y.long()).mean()
            l.backward()
            grad_clipping(params, 1)
            sgd(params, 1, batch_size=1)
            total += l.item() * y.numel()
            count += y.numel()
            losses.append(l.item())
            if len(losses) == args.steps:
                break
    trainer = torch.optim.SGD([nn.Parameter(torch.ones(2))], lr=0.5)
    builtin = scheduled_lrs(lr_scheduler.MultiStepLR(trainer, milestones=[2, 4], gamma=0.5),
                            trainer, 6)
    custom = scheduled_lrs(SquareRootScheduler(0.1), trainer, 3)
    relu_grad = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)
    torch.relu(relu_grad).backward(torch.ones_like(relu_grad))
    report(losses, perplexity=math.exp(total / count), builtin_lr=builtin[-1],
           custom_lr=custom[-1], relu_grad_at_zero=float(relu_grad.grad[80]),
           tensor_type=str(type(relu_grad)))


if __name__ == "__main__":
    main()
