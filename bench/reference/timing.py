"""Timing for the PyTorch reference scripts, matching bench/common/timing.ts: warm-up, then the
median of CUDA-event timings (or of wall-clock times with a synchronize after each run)."""
import statistics
import time

import torch


def timed_events(fn, warmup=3, reps=20, calls=1):
    """Median milliseconds per call, `calls` calls enqueued back to back between one pair of events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


def timed_each(fn, warmup=5, runs=30, cooldown_s=1.5):
    """bench/common/timing.ts timeEachMs: after a cool-down, `runs` calls back to back with an event
    between each pair; the median milliseconds of one call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    time.sleep(cooldown_s)
    events = [torch.cuda.Event(enable_timing=True) for _ in range(runs + 1)]
    events[0].record()
    for i in range(runs):
        fn()
        events[i + 1].record()
    events[-1].synchronize()
    return statistics.median(events[i].elapsed_time(events[i + 1]) for i in range(runs))


def timed_wall(fn, warmup=3, reps=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)
