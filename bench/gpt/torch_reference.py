"""PyTorch references for bench/gpt/train-step.bench.ts: one full GPT-2 training step (forward,
backward, AdamW) at sequence 1024 in bf16 autocast, for (a) a compact GPT-2 written here and run
under torch.compile with flash attention (scaled_dot_product_attention), and (b) Transformers'
GPT2LMHeadModel in eager mode. Prints one JSON object: tokens/s, MFU and peak memory per model.

    python3 bench/gpt/torch_reference.py '{"sizes": ["gpt2", "gpt2-medium"], "batch": 16, "steps": 10}'
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {  # layers, hidden, heads
    "gpt2": (12, 768, 12),
    "gpt2-medium": (24, 1024, 16),
    "gpt2-large": (36, 1280, 20),
    "gpt2-xl": (48, 1600, 25),
}
VOCAB, SEQ, PEAK_TFLOPS = 50257, 1024, 989.0


class Block(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv, self.proj = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.fc1, self.fc2 = nn.Linear(h, 4 * h), nn.Linear(4 * h, h)

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(h, dim=2)
        q, k, v = (t.view(b, s, self.heads, h // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, s, h)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers, h, heads):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, h), nn.Embedding(SEQ, h)
        self.blocks = nn.ModuleList(Block(h, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(h)
        self.head = nn.Linear(h, VOCAB, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, ids, labels):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for blk in self.blocks:
            x = blk(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.float().view(-1, VOCAB), labels.view(-1))


def flops_per_token(n_params, layers, h):
    return 6 * n_params + 12 * layers * h * SEQ


def run(model, step_loss, batch, steps, layers, h):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, VOCAB, (batch, SEQ), device="cuda")
    for _ in range(3):  # warm-up (and compilation)
        opt.zero_grad(set_to_none=True)
        step_loss(ids).backward()
        opt.step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        step_loss(ids).backward()
        opt.step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    # Where the step goes: forward + backward alone, then the optimizer alone (as Tessera's --breakdown).
    t1 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        step_loss(ids).backward()
    torch.cuda.synchronize()
    fwd_bwd = (time.perf_counter() - t1) / steps
    t2 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    torch.cuda.synchronize()
    opt_s = (time.perf_counter() - t2) / steps
    n = sum(p.numel() for p in model.parameters())
    tokens = batch * SEQ / seconds
    return {
        "params": n,
        "tokens_per_s": tokens,
        "mfu": tokens * flops_per_token(n, layers, h) / (PEAK_TFLOPS * 1e12),
        "step_ms": seconds * 1000,
        "fwd_bwd_ms": fwd_bwd * 1000,
        "optimizer_ms": opt_s * 1000,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
    }


def main():
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    batch, steps = spec.get("batch", 16), spec.get("steps", 10)
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "batch": batch, "seq": SEQ, "results": {}}
    torch.backends.cuda.matmul.allow_tf32 = True
    for name in spec.get("sizes", ["gpt2"]):
        layers, h, heads = SIZES[name]
        res = {}
        model = Gpt(layers, h, heads).cuda()
        compiled = torch.compile(model)

        def step_compiled(ids):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return compiled(ids, ids)

        res["torch.compile"] = run(model, step_compiled, batch, steps, layers, h)
        del model, compiled
        torch.cuda.empty_cache()
        try:
            from transformers import GPT2Config, GPT2LMHeadModel

            cfg = GPT2Config(n_layer=layers, n_embd=h, n_head=heads, vocab_size=VOCAB, n_positions=SEQ)
            hf = GPT2LMHeadModel(cfg).cuda()

            def step_hf(ids):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return hf(input_ids=ids, labels=ids).loss

            res["transformers eager"] = run(hf, step_hf, batch, steps, layers, h)
            del hf
            torch.cuda.empty_cache()
        except Exception as err:  # noqa: BLE001 - report and go on with the other sizes
            res["transformers eager"] = {"error": str(err)}
        out["results"][name] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
