// Timing for the GPU benchmarks: CUDA events around the work on the device's current stream,
// warm-up first, the median of the repetitions. By default each repetition runs in a scope, so
// tensors the timed function returns or leaves behind are freed between runs.
import { type DeviceLike, Event, scope, synchronize } from '../../packages/core/src/index.ts';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export interface TimingOptions {
  warmup?: number;
  reps?: number;
  /** Run each repetition in a tensor scope (default true). */
  scoped?: boolean;
  /**
   * Calls enqueued back to back between one pair of events, the result divided by them (default 1).
   * Several calls measure a training loop's steady state: the host enqueues while the device works.
   */
  calls?: number;
}

/** Median milliseconds per call of fn on `device`, timed with CUDA events. */
export function timeMs(device: DeviceLike, fn: () => void, options: TimingOptions = {}): number {
  const { warmup = 3, reps = 20, scoped = true, calls = 1 } = options;
  const inScope = (f: () => void) => (scoped ? scope(f) : f());
  for (let i = 0; i < warmup; i++) inScope(fn);
  synchronize(device);
  const start = new Event(device, { timing: true });
  const end = new Event(device, { timing: true });
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    start.record();
    inScope(() => {
      for (let i = 0; i < calls; i++) fn();
    });
    end.record();
    end.synchronize();
    times.push(start.elapsedMs(end) / calls);
  }
  start.dispose();
  end.dispose();
  return median(times);
}

/**
 * The method of bench/kernels/gemm.bench.ts (which set the 807 TFLOP/s ceiling): warm up, let the
 * clocks recover for `cooldownMs`, then `runs` calls back to back with an event between each pair,
 * so each call's time is its own while the host enqueues ahead; the median, in milliseconds.
 */
export function timeEachMs(device: DeviceLike, fn: () => void, options: { warmup?: number; runs?: number; cooldownMs?: number } = {}): number {
  const { warmup = 5, runs = 30, cooldownMs = 1500 } = options;
  for (let i = 0; i < warmup; i++) scope(fn);
  synchronize(device);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, cooldownMs);
  const events = Array.from({ length: runs + 1 }, () => new Event(device, { timing: true }));
  (events[0] as Event).record();
  scope(() => {
    for (let i = 0; i < runs; i++) {
      fn();
      (events[i + 1] as Event).record();
    }
  });
  (events[runs] as Event).synchronize();
  const times = Array.from({ length: runs }, (_, i) => (events[i] as Event).elapsedMs(events[i + 1] as Event));
  for (const e of events) e.dispose();
  return median(times);
}

/** Median wall-clock milliseconds of an async fn, synchronizing the device after each run. */
export async function timeAsyncMs(device: DeviceLike, fn: () => Promise<unknown>, options: TimingOptions = {}): Promise<number> {
  const { warmup = 3, reps = 10 } = options;
  for (let i = 0; i < warmup; i++) await fn();
  synchronize(device);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    synchronize(device);
    times.push(performance.now() - t0);
  }
  return median(times);
}
