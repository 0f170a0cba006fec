"""PyTorch reference for bench/optimizer/step.bench.ts: torch.optim.AdamW(fused=True) over the same
parameter shapes (fp32 weights and gradients: torch keeps no separate main weights, so its update
moves 28 bytes per parameter against Tessera's 30), and clip_grad_norm_ (foreach) + step, timed like
the Tessera side (CUDA events / wall clock with synchronize, warm-up, median). Prints one JSON
object on stdout."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from timing import timed_events, timed_wall  # noqa: E402


def main():
    spec = json.loads(sys.argv[1])
    dev = "cuda"
    params = [torch.nn.Parameter(torch.randn(s, device=dev, dtype=torch.float32)) for s in spec["shapes"]]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), fused=True)
    n = sum(p.numel() for p in params)
    update_ms = timed_events(lambda: opt.step())

    def clip_step():
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        norm.item()  # the host reads the norm, as a training loop logging it does
        opt.step()

    clip_step_ms = timed_wall(clip_step)
    out = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "parameters": n,
        "update_ms": update_ms,
        "update_gbps": 28 * n / update_ms / 1e6,
        "clip_step_ms": clip_step_ms,
        "bytes_per_param": torch.cuda.memory_allocated() / n,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
