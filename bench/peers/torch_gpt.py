# PyTorch peer for bench/gpt.mjs: the Shakespeare GPT (nanoGPT's model: pre-LayerNorm blocks,
# fused QKV, exact GELU, tied LM head) and the same step (AdamW, global norm clipping at 1) on
# random tokens. Prints {"ms_per_iter": median} after 5 warm-up iterations.
#   python3 bench/peers/torch_gpt.py ITERS THREADS
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, T, L, H, C, B = 65, 64, 4, 4, 128, 12


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") else self.attn(q, k, v)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp_proj(F.gelu(self.fc(self.ln2(x))))

    @staticmethod
    def attn(q, k, v):  # torch 1.13 has no fused attention: nanoGPT's slow path
        s = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        return F.softmax(s, dim=-1) @ v


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


def main():
    iters, threads = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    times = []
    for i in range(iters + 5):
        x, y = torch.randint(V, (B, T)), torch.randint(V, (B, T))
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
        if i >= 5:
            times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"peer": "pytorch", "version": torch.__version__, "ms_per_iter": round(times[len(times) // 2], 2)}))


if __name__ == "__main__":
    main()
