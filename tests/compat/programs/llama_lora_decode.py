"""A LLaMA-style decoder in the style of the reference implementations and the fine-tuning
scripts around them: complex rotary embeddings (``torch.polar``, ``view_as_complex``,
``view_as_real``) broadcast over heads, grouped-query attention (``expand`` + ``reshape`` of the
key/value heads), RMSNorm written by hand with ``.type_as``, a SwiGLU feed-forward; pretraining
with AdamW decay/no-decay groups (``fused`` guarded by ``inspect.signature``), a warm-up cosine
``LambdaLR``, gradient accumulation and ``clip_grad_norm_``; LoRA fine-tuning (frozen base,
``kaiming_uniform_(a=sqrt(5))``, only LoRA keys saved, ``load_state_dict(strict=False)``), the
adapter merged under ``no_grad``; then decoding with a preallocated KV cache written by slicing,
under ``inference_mode``, with temperature, top-k, top-p and a repetition penalty, drawn by
``torch.multinomial`` from a ``torch.Generator``. Everything random comes from torch's seeds."""
import argparse
import inspect
import io
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import report


@dataclass
class ModelArgs:
    dim: int = 32
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    vocab_size: int = 24
    multiple_of: int = 16
    norm_eps: float = 1e-5
    max_batch_size: int = 2
    max_seq_len: int = 32


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        output = self._norm(x.float()).type_as(x)
        return output * self.weight


def precompute_freqs_cis(dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(end, device=freqs.device, dtype=torch.float32)
    freqs = torch.outer(t, freqs)
    return torch.polar(torch.ones_like(freqs), freqs)


def reshape_for_broadcast(freqs_cis, x):
    ndim = x.ndim
    shape = [d if i == 1 or i == ndim - 1 else 1 for i, d in enumerate(x.shape)]
    return freqs_cis.view(*shape)


def apply_rotary_emb(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    freqs_cis = reshape_for_broadcast(freqs_cis, xq_)
    xq_out = torch.view_as_real(xq_ * freqs_cis).flatten(3)
    xk_out = torch.view_as_real(xk_ * freqs_cis).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


def repeat_kv(x, n_rep):
    bs, slen, n_kv_heads, head_dim = x.shape
    if n_rep == 1:
        return x
    return (x[:, :, :, None, :].expand(bs, slen, n_kv_heads, n_rep, head_dim)
            .reshape(bs, slen, n_kv_heads * n_rep, head_dim))


class LoRALinear(nn.Module):
    def __init__(self, base, r=4, alpha=8):
        super().__init__()
        self.base = base
        self.base.requires_grad_(False)
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.zeros(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False

    def forward(self, x):
        result = self.base(x)
        if self.merged:
            return result
        return result + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    @torch.no_grad()
    def merge(self):
        self.base.weight += (self.lora_B @ self.lora_A) * self.scaling
        self.merged = True


class Attention(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.n_kv_heads = args.n_kv_heads
        self.n_heads = args.n_heads
        self.n_rep = self.n_heads // self.n_kv_heads
        self.head_dim = args.dim // args.n_heads
        self.wq = nn.Linear(args.dim, args.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(args.n_heads * self.head_dim, args.dim, bias=False)
        cache_shape = (args.max_batch_size, args.max_seq_len, self.n_kv_heads, self.head_dim)
        self.cache_k = torch.zeros(cache_shape)
        self.cache_v = torch.zeros(cache_shape)

    def forward(self, x, start_pos, freqs_cis, mask, use_cache):
        bsz, seqlen, _ = x.shape
        xq = self.wq(x).view(bsz, seqlen, self.n_heads, self.head_dim)
        xk = self.wk(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim)
        xv = self.wv(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim)
        xq, xk = apply_rotary_emb(xq, xk, freqs_cis=freqs_cis)
        if use_cache:
            self.cache_k[:bsz, start_pos: start_pos + seqlen] = xk
            self.cache_v[:bsz, start_pos: start_pos + seqlen] = xv
            keys = self.cache_k[:bsz, : start_pos + seqlen]
            values = self.cache_v[:bsz, : start_pos + seqlen]
        else:
            keys, values = xk, xv
        keys = repeat_kv(keys, self.n_rep).transpose(1, 2)
        values = repeat_kv(values, self.n_rep).transpose(1, 2)
        xq = xq.transpose(1, 2)
        scores = torch.matmul(xq, keys.transpose(2, 3)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        scores = F.softmax(scores.float(), dim=-1).type_as(xq)
        output = torch.matmul(scores, values).transpose(1, 2).contiguous().view(bsz, seqlen, -1)
        return self.wo(output)


class FeedForward(nn.Module):
    def __init__(self, dim, hidden_dim, multiple_of):
        super().__init__()
        hidden_dim = int(2 * hidden_dim / 3)
        hidden_dim = multiple_of * ((hidden_dim + multiple_of - 1) // multiple_of)
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.attention = Attention(args)
        self.feed_forward = FeedForward(args.dim, 4 * args.dim, args.multiple_of)
        self.attention_norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, eps=args.norm_eps)

    def forward(self, x, start_pos, freqs_cis, mask, use_cache):
        h = x + self.attention(self.attention_norm(x), start_pos, freqs_cis, mask, use_cache)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, params):
        super().__init__()
        self.params = params
        self.tok_embeddings = nn.Embedding(params.vocab_size, params.dim)
        self.layers = nn.ModuleList(TransformerBlock(params) for _ in range(params.n_layers))
        self.norm = RMSNorm(params.dim, eps=params.norm_eps)
        self.output = nn.Linear(params.dim, params.vocab_size, bias=False)
        self.freqs_cis = precompute_freqs_cis(params.dim // params.n_heads,
                                              params.max_seq_len * 2)

    def forward(self, tokens, start_pos=0, use_cache=False):
        _bsz, seqlen = tokens.shape
        h = self.tok_embeddings(tokens)
        freqs_cis = self.freqs_cis[start_pos: start_pos + seqlen]
        mask = None
        if seqlen > 1:
            mask = torch.full((seqlen, seqlen), float("-inf"), device=tokens.device)
            mask = torch.triu(mask, diagonal=1)
            mask = torch.hstack([torch.zeros((seqlen, start_pos)), mask]).type_as(h)
        for layer in self.layers:
            h = layer(h, start_pos, freqs_cis, mask, use_cache)
        return self.output(self.norm(h)).float()


def get_batch(generator, vocab, batch=4, length=12):
    """Arithmetic sequences modulo the vocabulary: each next token follows from the last two."""
    start = torch.randint(0, vocab, (batch, 1), generator=generator)
    step = torch.randint(1, 4, (batch, 1), generator=generator)
    tokens = (start + step * torch.arange(length + 1)) % vocab
    return tokens[:, :-1], tokens[:, 1:]


def sample_top_p(probs, p, generator):
    probs_sort, probs_idx = torch.sort(probs, dim=-1, descending=True)
    probs_sum = torch.cumsum(probs_sort, dim=-1)
    mask = probs_sum - probs_sort > p
    probs_sort[mask] = 0.0
    probs_sort.div_(probs_sort.sum(dim=-1, keepdim=True))
    next_token = torch.multinomial(probs_sort, num_samples=1, generator=generator)
    return torch.gather(probs_idx, -1, next_token)


@torch.inference_mode()
def generate(model, prompts, max_gen_len, temperature, top_k, top_p, penalty, generator):
    bsz = len(prompts)
    min_prompt_len = min(len(t) for t in prompts)
    total_len = max(len(t) for t in prompts) + max_gen_len
    tokens = torch.full((bsz, total_len), -1, dtype=torch.long)
    for k, t in enumerate(prompts):
        tokens[k, : len(t)] = torch.tensor(t, dtype=torch.long)
    input_text_mask = tokens != -1
    prev_pos = 0
    for cur_pos in range(min_prompt_len, total_len):
        logits = model(tokens[:, prev_pos:cur_pos], prev_pos, use_cache=True)[:, -1] / temperature
        seen = tokens[:, :cur_pos].clamp(min=0)
        score = torch.gather(logits, 1, seen)
        score = torch.where(score < 0, score * penalty, score / penalty)
        logits.scatter_(1, seen, score)
        v, _ = torch.topk(logits, top_k)
        logits[logits < v[:, [-1]]] = -float("Inf")
        next_token = sample_top_p(torch.softmax(logits, dim=-1), top_p, generator).reshape(-1)
        next_token = torch.where(input_text_mask[:, cur_pos], tokens[:, cur_pos], next_token)
        tokens[:, cur_pos] = next_token
        prev_pos = cur_pos
    return tokens, logits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    params = ModelArgs()
    with torch.device(device):
        model = Transformer(params)
    pretrain_steps = args.steps // 2
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    fused = "fused" in inspect.signature(torch.optim.AdamW).parameters and device == "cuda"
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-2, betas=(0.9, 0.95), **({"fused": True} if fused else {}))
    warmup = 2

    def lr_lambda(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, pretrain_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    generator = torch.Generator().manual_seed(1)
    accumulation = 2
    losses, norms = [], []
    for _ in range(pretrain_steps):
        for _ in range(accumulation):
            x, y = get_batch(generator, params.vocab_size)
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
            (loss / accumulation).backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        losses.append(loss.item())

    for p in model.parameters():
        p.requires_grad = False
    for layer in model.layers:
        layer.attention.wq = LoRALinear(layer.attention.wq)
        layer.attention.wv = LoRALinear(layer.attention.wv)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    lora_optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                       lr=2e-2)
    for _ in range(args.steps - pretrain_steps):
        x, y = get_batch(generator, params.vocab_size)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten(), label_smoothing=0.05)
        loss.backward()
        lora_optimizer.step()
        lora_optimizer.zero_grad()
        losses.append(loss.item())

    lora_state = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    buffer = io.BytesIO()
    torch.save(lora_state, buffer)
    buffer.seek(0)
    incompatible = model.load_state_dict(torch.load(buffer, weights_only=True), strict=False)
    x, _ = get_batch(generator, params.vocab_size)
    with torch.no_grad():
        before = model(x)
        for layer in model.layers:
            layer.attention.wq.merge()
            layer.attention.wv.merge()
        merge_error = (model(x) - before).abs().max().item()
    tokens, logits = generate(model, [[1, 3, 5], [2, 4]], 8, temperature=0.8, top_k=6,
                              top_p=0.9, penalty=1.2, generator=torch.Generator().manual_seed(2))
    report(losses, grad_norm_sum=sum(norms), last_lr=scheduler.get_last_lr()[0],
           trainable=trainable, total=total, lora_keys=",".join(sorted(lora_state)),
           missing=len(incompatible.missing_keys), unexpected=len(incompatible.unexpected_keys),
           merged_close=merge_error < 1e-4, tokens=str(tokens.tolist()),
           logits_inference=logits.is_inference(), first_logit=logits[0, 0].item(),
           last_logit=logits[1, -1].item())

if __name__ == "__main__":
    main()
