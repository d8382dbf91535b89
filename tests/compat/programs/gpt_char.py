"""A character-level GPT in the style of the minimal public trainers: token and position
embeddings, causal self-attention blocks (LayerNorm or RMSNorm), AdamW with decayed and undecayed groups, a cosine
learning rate, gradient clipping, and a checkpoint written and resumed with torch.save/load."""
import argparse
import inspect
import math
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from common import init_from_numpy, report

TEXT = ("First Citizen: Before we proceed any further, hear me speak.\n"
        "All: Speak, speak.\nFirst Citizen: You are all resolved rather to die than to famish?\n"
        "All: Resolved. resolved.\nFirst Citizen: First, you know Caius Marcius is chief enemy "
        "to the people.\nAll: We know't, we know't.\n") * 4


def make_norm(config):
    if config["norm"] == "rmsnorm":
        return nn.RMSNorm(config["n_embd"])
    return nn.LayerNorm(config["n_embd"])


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config["n_embd"], 3 * config["n_embd"])
        self.c_proj = nn.Linear(config["n_embd"], config["n_embd"])
        self.n_head = config["n_head"]
        self.flash = hasattr(F, "scaled_dot_product_attention") and config["flash"]
        size = config["block_size"]
        self.register_buffer("bias", torch.tril(torch.ones(size, size)).view(1, 1, size, size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                               is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = make_norm(config)
        self.mlp = nn.Sequential(nn.Linear(config["n_embd"], 4 * config["n_embd"]),
                                 nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * config["n_embd"], config["n_embd"]))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config["vocab_size"], config["n_embd"]),
            wpe=nn.Embedding(config["block_size"], config["n_embd"]),
            h=nn.ModuleList([Block(config) for _ in range(config["n_layer"])]),
            ln_f=make_norm(config),
        ))
        self.lm_head = nn.Linear(config["n_embd"], config["vocab_size"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying

    def forward(self, idx, targets=None):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                               ignore_index=-1)
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        params = {name: p for name, p in self.named_parameters() if p.requires_grad}
        decay = [p for p in params.values() if p.dim() >= 2]
        no_decay = [p for p in params.values() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        fused = "fused" in inspect.signature(torch.optim.AdamW).parameters
        extra = dict(fused=True) if fused and device_type == "cuda" else dict()
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **extra)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens):
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.config["block_size"]:]
            logits, _ = self(idx_cond)
            idx_next = torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=16)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=32)
    parser.add_argument("--no-flash", action="store_true")
    parser.add_argument("--norm", default="layernorm", choices=["layernorm", "rmsnorm"])
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    device = "cuda" if torch.cuda.is_available() else "cpu"
    device_type = "cuda" if "cuda" in device else "cpu"

    chars = sorted(set(TEXT))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in TEXT], dtype=torch.long)
    batches = np.random.default_rng(args.seed)

    def get_batch():
        ix = torch.from_numpy(batches.integers(0, len(data) - args.block_size,
                                               size=(args.batch_size,)))
        x = torch.stack([data[i:i + args.block_size] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + args.block_size] for i in ix])
        return x.to(device), y.to(device)

    config = dict(vocab_size=len(chars), block_size=args.block_size, n_layer=args.n_layer,
                  n_head=args.n_head, n_embd=args.n_embd, flash=not args.no_flash,
                  norm=args.norm)
    model = GPT(config).to(device)
    init_from_numpy(model, args.seed)
    optimizer = model.configure_optimizers(0.1, 3e-3, (0.9, 0.95), device_type)

    def get_lr(it, warmup=5, max_lr=3e-3, min_lr=3e-4):
        if it < warmup:
            return max_lr * (it + 1) / warmup
        ratio = (it - warmup) / max(1, args.steps - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)

    def train_step(model, optimizer, it):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it)
        x, y = get_batch()
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    losses = [train_step(model, optimizer, it) for it in range(args.steps)]

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ckpt.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "iter": args.steps, "config": config}, path)
        checkpoint = torch.load(path, map_location=device)
    resumed = GPT(checkpoint["config"]).to(device)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = resumed.configure_optimizers(0.1, 3e-3, (0.9, 0.95), device_type)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    start = checkpoint["iter"]
    losses += [train_step(resumed, resumed_optimizer, it) for it in range(start, start + 3)]

    resumed.eval()
    context = torch.tensor([[stoi["F"]]], dtype=torch.long, device=device)
    sample = "".join(chars[i] for i in resumed.generate(context, 20)[0].tolist())
    report(losses, sample=sample, checkpoint_keys=sorted(checkpoint))


if __name__ == "__main__":
    main()
