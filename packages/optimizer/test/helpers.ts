// Shared by the optimizer tests: seeded numbers, closeness checks that name the worst element,
// and leaf parameters with given values.
import { type DType, type Device, keep, Parameter, tensor, type Tensor } from '@tessera/core';

/** Deterministic values in [lo, hi) from a small LCG. */
export function seeded(n: number, seed = 1, lo = -1, hi = 1): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 16777216) * (hi - lo);
  });
}

/** Largest |a - e| over the elements. */
export function maxAbsDiff(a: ArrayLike<number>, e: ArrayLike<number>): number {
  if (a.length !== e.length) throw new Error(`maxAbsDiff: ${a.length} values vs ${e.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (e[i] as number));
    if (!(d <= worst)) worst = d; // NaN propagates
  }
  return worst;
}

/** A trainable parameter holding `values` (rounded to dtype). */
export function param(values: number[], shape: number[], dtype: DType = 'f32', device: Device = 'cpu'): Parameter {
  const t = tensor(values, { shape, dtype, device });
  const p = new Parameter(t);
  t.dispose();
  return p;
}

/** Sets p.grad to `values` (f32 unless dtype is given), replacing any previous gradient. */
export function setGrad(p: Tensor, values: number[], dtype: DType = 'f32'): void {
  p.grad?.dispose();
  p.grad = keep(tensor(values, { shape: [...p.shape], dtype, device: p.device }));
}

/** fp32 rounding of a float64 number array. */
export function f32(values: readonly number[]): number[] {
  return values.map((v) => Math.fround(v));
}

/** Largest |a - e| / max(1, |e|): absolute for small values, relative for large ones. */
export function maxScaledDiff(a: ArrayLike<number>, e: ArrayLike<number>): number {
  if (a.length !== e.length) throw new Error(`maxScaledDiff: ${a.length} values vs ${e.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (e[i] as number)) / Math.max(1, Math.abs(e[i] as number));
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

/**
 * A data-parallel group of `size` replicas that all hold the same gradients as this one, for
 * single-process tests of when reductions start: every call is recorded (with whether a backward
 * was running, as told by `phase`), and the result is what identical replicas would produce.
 */
export class IdenticalReplicasGroup {
  readonly backend = 'cpu' as const;
  readonly rank = 0;
  readonly size: number;
  readonly ranks: number[];
  readonly calls: Array<{ op: string; numel: number; phase: string }> = [];
  phase = 'idle';

  constructor(size = 2) {
    this.size = size;
    this.ranks = Array.from({ length: size }, (_, i) => i);
  }

  #done() {
    return { completed: true, wait: () => Promise.resolve() };
  }

  allReduce(t: Tensor) {
    this.calls.push({ op: 'allReduce', numel: t.numel, phase: this.phase });
    return this.#done();
  }

  reduceScatter(output: Tensor, input: Tensor) {
    this.calls.push({ op: 'reduceScatter', numel: input.numel, phase: this.phase });
    output.copy_(input.narrow(0, 0, output.numel));
    return this.#done();
  }

  allGather(output: Tensor, _input: Tensor) {
    this.calls.push({ op: 'allGather', numel: output.numel, phase: this.phase });
    return this.#done();
  }

  broadcast(t: Tensor) {
    this.calls.push({ op: 'broadcast', numel: t.numel, phase: this.phase });
    return this.#done();
  }

  send(): never {
    throw new Error('IdenticalReplicasGroup: no point-to-point');
  }
  recv(): never {
    throw new Error('IdenticalReplicasGroup: no point-to-point');
  }
  batchSendRecv(): never {
    throw new Error('IdenticalReplicasGroup: no point-to-point');
  }
  barrier(): Promise<void> {
    return Promise.resolve();
  }
}
