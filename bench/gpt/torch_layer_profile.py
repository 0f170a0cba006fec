"""PyTorch counterpart of bench/gpt/layer-profile.bench.ts: one GPT-2 decoder block (the one in
torch_reference.py) and its parts at the training step's shapes, bf16 autocast, forward and
forward + backward, compiled and eager. Times are CUDA events around 5 back-to-back calls, median
of 10. Prints one JSON object.

    python3 bench/gpt/torch_layer_profile.py '{"size": "gpt2-large", "batch": 16}'
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
sys.path.insert(0, os.path.dirname(__file__))
from timing import timed_events  # noqa: E402
from torch_reference import SEQ, SIZES, Block  # noqa: E402


def fwd_and_fwd_bwd(fn, inputs):
    """(forward ms, forward + backward ms) of fn on leaf inputs, with a random output gradient."""
    with torch.no_grad():
        fwd = timed_events(lambda: fn(*inputs), warmup=3, reps=10, calls=5)
    gy = torch.randn_like(fn(*inputs))

    def both():
        for t in inputs:
            t.grad = None
        fn(*inputs).backward(gy)

    return fwd, timed_events(both, warmup=3, reps=10, calls=5)


def sdpa_backends(b, s, heads, d):
    """Causal SDPA forward + backward per backend PyTorch offers here, bf16 [b, heads, s, d]."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = (torch.randn(b, heads, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    flops_fwd = 4 * b * heads * s * s * d / 2  # causal: half the scores
    out = {}
    for name in ["FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION"]:
        backend = getattr(SDPBackend, name, None)
        if backend is None:
            continue
        try:
            with sdpa_kernel([backend]):
                fwd, both = fwd_and_fwd_bwd(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])
            out[name] = {"fwd_ms": fwd, "bwd_ms": both - fwd, "fwd_tflops": flops_fwd / fwd / 1e9, "bwd_tflops": 2.5 * flops_fwd / (both - fwd) / 1e9}
        except Exception as err:  # noqa: BLE001 - a backend that cannot run here is reported, not fatal
            out[name] = {"error": str(err).splitlines()[0]}
    return out


def main():
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    size, batch = spec.get("size", "gpt2-large"), spec.get("batch", 16)
    layers, h, heads = SIZES[size]
    torch.manual_seed(0)
    block = Block(h, heads).cuda()
    x = torch.randn(batch, SEQ, h, device="cuda", requires_grad=True)

    def run_block(mod):
        def f(x):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return mod(x)
        return f

    res = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "size": size, "batch": batch, "layers": layers, "parts": {}}
    for name, fn in [("block eager", run_block(block)), ("block compiled", run_block(torch.compile(block)))]:
        fwd, both = fwd_and_fwd_bwd(fn, [x])
        res["parts"][name] = {"fwd_ms": fwd, "fwd_bwd_ms": both, "per_step_ms": both * layers}
    xb = torch.randn(batch * SEQ, h, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    fc1 = torch.nn.Linear(h, 4 * h).cuda().bfloat16()
    ln = torch.nn.LayerNorm(h).cuda().bfloat16()
    for name, fn in [("linear fc1", fc1), ("layernorm", ln)]:
        fwd, both = fwd_and_fwd_bwd(fn, [xb])
        res["parts"][name] = {"fwd_ms": fwd, "fwd_bwd_ms": both}
    res["sdpa"] = sdpa_backends(batch, SEQ, heads, h // heads)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
