// Multi-process tests on the cpu backend: each world runs a scenario of test/distributed/worker.ts
// in real processes (spawned by the collectives package's test helper) and reports measurements,
// checked here.
import { fileURLToPath } from 'node:url';
import type { Tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { expectAllOk, runWorld } from '../../collectives/test/spawn.ts';
import { reviveShards } from '../test/distributed/common.ts';
import { mergeShardedStateDicts } from './index.ts';

const WORKER = fileURLToPath(new URL('../test/distributed/worker.ts', import.meta.url));

async function world<T>(size: number, scenario: string, args: string[] = []): Promise<T[]> {
  const outcomes = await runWorld(size, scenario, { script: WORKER, args, timeoutMs: 100_000 });
  expectAllOk(outcomes);
  return outcomes.map((o) => o.report as T);
}

interface DdpReport {
  broadcast: number[];
  buckets: number;
  bucketedVsOne: number[];
  vsSingle: number[];
  norms: Array<[number, number]>;
  paramsVsSingle: number;
  paramsBucketedVsOne: number;
}

describe('data-parallel gradient sync (cpu backend, real processes)', () => {
  for (const dp of [2, 4]) {
    it(`DP=${dp}: bucketed all-reduce during backward equals one all-reduce at the end, and training equals one process on all the data`, async () => {
      const reports = await world<DdpReport>(dp, 'ddp');
      for (const r of reports) expect(r.broadcast).toEqual(reports[0]?.broadcast);
      for (const r of reports) {
        expect(r.buckets).toBeGreaterThan(1);
        // DP=2 sums two numbers: exact in any order. Four may round differently by bucket boundaries.
        for (const d of r.bucketedVsOne) expect(d).toBeLessThanOrEqual(dp === 2 ? 0 : 1e-7);
        for (const d of r.vsSingle) expect(d).toBeLessThan(1e-6);
        for (const [a, b] of r.norms) expect(Math.abs(a - b)).toBeLessThan(1e-5);
        expect(r.paramsVsSingle).toBeLessThan(1e-5);
        expect(r.paramsBucketedVsOne).toBeLessThan(1e-6);
      }
    }, 120_000);
  }
});

interface DistoptReport {
  norms: Array<[number, number]>;
  paramDiffs: number[];
  skipped: { updated: boolean; gradNorm: number | null };
  unchanged: boolean;
  logs: string[];
  state: unknown;
  refState: Record<string, { step: number; exp_avg: number[]; exp_avg_sq: number[] }>;
  refusal: string;
  dp: number;
}

describe('distributed optimizer (ZeRO-1, cpu backend, real processes)', () => {
  for (const [dp, dtype] of [[2, 'f32'], [4, 'f32'], [2, 'bf16']] as const) {
    it(`DP=${dp} ${dtype}: equals the plain optimizer, skips together on one rank's inf, and its merged shards equal the plain state`, async () => {
      const reports = await world<DistoptReport>(dp, 'distopt', [dtype]);
      const tol = dtype === 'f32' ? 1e-5 : 2e-2;
      for (const r of reports) {
        for (const [a, b] of r.norms) expect(Math.abs(a - b) / b).toBeLessThan(1e-5);
        for (const d of r.paramDiffs) expect(d).toBeLessThan(tol);
        expect(r.skipped.updated).toBe(false);
        expect(r.unchanged).toBe(true);
        expect(r.logs[0]).toMatch(/DistributedOptimizer: found inf\/NaN in the gradients, skipping this step/);
        expect(r.refusal).toMatch(/saved by DP rank \d of \d; this is DP rank \d of \d[\s\S]*mergeShardedStateDicts/);
      }
      const { shards, tensors } = reviveShards(reports.map((r) => r.state));
      const merged = mergeShardedStateDicts(shards);
      const ref = reports[0]?.refState ?? {};
      expect(Object.keys(merged.params).sort()).toEqual(Object.keys(ref).sort());
      for (const [name, full] of Object.entries(merged.params)) {
        const expected = ref[name] as { step: number; exp_avg: number[]; exp_avg_sq: number[] };
        expect(full.step).toBe(expected.step);
        const got = (full.tensors.exp_avg as Tensor).toArray();
        const worst = Math.max(...got.map((v, i) => Math.abs(v - (expected.exp_avg[i] as number))));
        expect(worst, name).toBeLessThan(dtype === 'f32' ? 1e-6 : 1e-2);
        if (dtype === 'bf16') expect(full.tensors.main_param).toBeDefined();
      }
      expect(() => mergeShardedStateDicts(shards.slice(1))).toThrow(/needs the state dicts of all/);
      for (const full of Object.values(merged.params)) for (const t of Object.values(full.tensors)) t.dispose();
      for (const t of tensors) t.dispose();
    }, 120_000);
  }

  for (const dp of [2, 4]) {
    it(`DP=${dp}: bytes per parameter at most Megatron's 6 + 12/d (bf16 weights, fp32 gradients)`, async () => {
      for (const r of await world<{ bytesPerParam: number; formula: number; d: number }>(dp, 'distopt-memory')) {
        expect(r.d).toBe(dp);
        expect(r.bytesPerParam).toBeGreaterThanOrEqual(r.formula);
        expect(r.bytesPerParam).toBeLessThan(r.formula * 1.005); // alignment padding only
      }
    }, 120_000);
  }
});

describe('resharding the distributed optimizer state', () => {
  it('DP=2 shards merged and loaded at DP=4 continue exactly like the DP=2 run', async () => {
    const reports = await world<{ loadedStep?: number; diff: number; dp4Slots: number }>(4, 'reshard');
    // This tiny model's buckets are mostly padding at DP=4 (multiples of 4 * 128 elements): some ranks own no piece.
    expect(reports.some((r) => r.dp4Slots > 0)).toBe(true);
    for (const r of reports) {
      if (r.dp4Slots > 0) expect(r.loadedStep).toBe(3);
      expect(r.diff).toBeLessThan(1e-6);
    }
  }, 120_000);
});

describe('gradient clipping across tensor and pipeline parallelism (cpu backend, real processes)', () => {
  it('TP=2 x PP=2 gives the norm, the clipped gradients and the update of the unsplit model', async () => {
    for (const r of await world<{ norm: number; fullNorm: number; clipDiff: number; stepNorm: number; stepDiff: number }>(4, 'clip-tp')) {
      expect(Math.abs(r.norm - r.fullNorm) / r.fullNorm).toBeLessThan(1e-6);
      expect(Math.abs(r.stepNorm - r.fullNorm) / r.fullNorm).toBeLessThan(1e-6);
      expect(r.clipDiff).toBeLessThan(1e-6);
      expect(r.stepDiff).toBeLessThan(1e-6);
    }
  }, 120_000);
});
