// Shared by the multi-process scenarios: a small model, per-rank data, and comparisons that
// return numbers for the parent test to check (workers report; they do not assert).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DType, F, Linear, Module, scope, type Tensor, tensor } from '@tessera/core';
import type { ShardedOptimizerStateDict } from '../../src/index.ts';
import { seeded } from '../helpers.ts';

export class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(dtype: DType = 'f32') {
    super();
    this.fc1 = new Linear(6, 16, { dtype });
    this.fc2 = new Linear(16, 3, { dtype });
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh());
  }
}

/** The loss of DP rank r's micro-batch `micro` at `step`, times `scale`; backward() runs on it. */
export function backwardOn(model: Mlp, step: number, r: number, micro: number, scale: number): void {
  scope(() => {
    const dtype = model.fc1.weight.dtype;
    const x = tensor(seeded(8 * 6, 1000 * step + 10 * r + micro), { shape: [8, 6], dtype });
    const y = tensor(seeded(8, 7 * step + r + 3 * micro, 0, 3).map(Math.floor), { dtype: 'i64' });
    F.crossEntropy(model.forward(x).float(), y).mul(scale).backward();
  });
}

export function maxDiff(a: readonly Tensor[], b: readonly Tensor[]): number {
  let worst = 0;
  a.forEach((t, i) => {
    const x = t.toArray();
    const y = (b[i] as Tensor).toArray();
    x.forEach((v, k) => {
      const d = Math.abs(v - (y[k] as number));
      if (!(d <= worst)) worst = d;
    });
  });
  return worst;
}

export function report(value: unknown): void {
  writeFileSync(join(process.env.TESSERA_TEST_OUT as string, `report-${process.env.TESSERA_TEST_ID}.json`), JSON.stringify(value));
}

/** A shard state dict as JSON (tensors as number arrays), for reports and files. */
export function serializeShard(sd: ShardedOptimizerStateDict): unknown {
  const state = Object.fromEntries(
    Object.entries(sd.optimizer.state).map(([k, entry]) => [k, Object.fromEntries(Object.entries(entry).map(([key, v]) => [key, typeof v === 'number' ? v : v.toArray()]))]),
  );
  return { ...sd, optimizer: { ...sd.optimizer, state } };
}

/** serializeShard's output back as state dicts of (f32) tensors; dispose `tensors` when done. */
export function reviveShards(json: unknown[]): { shards: ShardedOptimizerStateDict[]; tensors: Tensor[] } {
  const tensors: Tensor[] = [];
  const shards = json.map((raw) => {
    const r = raw as ShardedOptimizerStateDict & { optimizer: { state: Record<string, Record<string, number | number[]>> } };
    const state = Object.fromEntries(
      Object.entries(r.optimizer.state).map(([k, entry]) => [
        k,
        Object.fromEntries(
          Object.entries(entry).map(([key, v]) => {
            if (typeof v === 'number') return [key, v];
            const t = tensor(v);
            tensors.push(t);
            return [key, t];
          }),
        ),
      ]),
    );
    return { ...r, optimizer: { ...r.optimizer, state } } as ShardedOptimizerStateDict;
  });
  return { shards, tensors };
}
