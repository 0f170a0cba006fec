"""PyTorch reference for bench/core.bench.ts: the same ops, sizes and timing method (CUDA events,
warm-up, median), printed as one JSON object on stdout."""
import json
import sys
import time

import torch

from timing import timed_each
from timing import timed_events as timed


def main():
    spec = json.loads(sys.argv[1])
    dev = "cuda"
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "results": {}}
    r = out["results"]
    for n in spec["gemm"]:
        a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
        ms = timed(lambda: a @ b)
        r[f"gemm {n}^3"] = {"ms": ms, "tflops": 2 * n**3 / ms / 1e9}
        ms = timed(lambda: a @ b, reps=10, calls=20)
        r[f"gemm {n}^3 back to back"] = {"ms": ms, "tflops": 2 * n**3 / ms / 1e9}
        ms = timed_each(lambda: a @ b)
        r[f"gemm {n}^3 after cool-down"] = {"ms": ms, "tflops": 2 * n**3 / ms / 1e9}
    rows, cols = spec["layernorm"]
    x = torch.randn(rows, cols, device=dev, dtype=torch.bfloat16, requires_grad=True)
    w = torch.ones(cols, device=dev, dtype=torch.bfloat16, requires_grad=True)
    bias = torch.zeros(cols, device=dev, dtype=torch.bfloat16, requires_grad=True)
    y = torch.nn.functional.layer_norm(x, (cols,), w, bias)
    gy = torch.randn_like(y)
    r["layernorm fwd"] = {"ms": timed(lambda: torch.nn.functional.layer_norm(x, (cols,), w, bias))}
    r["layernorm bwd"] = {"ms": timed(lambda: torch.autograd.grad(y, (x, w, bias), gy, retain_graph=True))}
    rows, cols = spec["softmax"]
    s = torch.randn(rows, cols, device=dev, dtype=torch.bfloat16, requires_grad=True)
    p = torch.softmax(s, -1)
    gp = torch.randn_like(p)
    r["softmax fwd"] = {"ms": timed(lambda: torch.softmax(s, -1))}
    r["softmax bwd"] = {"ms": timed(lambda: torch.autograd.grad(p, s, gp, retain_graph=True))}
    n = spec["pointwise"]
    g = torch.randn(n, device=dev, dtype=torch.bfloat16, requires_grad=True)
    gg = torch.nn.functional.gelu(g, approximate="tanh")
    ggy = torch.randn_like(gg)
    r["gelu fwd"] = {"ms": timed(lambda: torch.nn.functional.gelu(g, approximate="tanh"))}
    r["gelu bwd"] = {"ms": timed(lambda: torch.autograd.grad(gg, g, ggy, retain_graph=True))}
    f = torch.randn(n, device=dev, dtype=torch.float32)
    h = f.to(torch.bfloat16)
    r["cast f32->bf16"] = {"ms": timed(lambda: f.to(torch.bfloat16))}
    r["cast bf16->f32"] = {"ms": timed(lambda: h.to(torch.float32))}
    tiny = torch.ones(1, device=dev)
    torch.cuda.synchronize()
    iters = 100000
    t0 = time.perf_counter()
    for _ in range(iters):
        tiny + tiny
    torch.cuda.synchronize()
    r["launch overhead"] = {"us": (time.perf_counter() - t0) / iters * 1e6}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
