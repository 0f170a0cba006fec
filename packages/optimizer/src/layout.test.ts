import { LayerNorm, Linear, Module, type Parameter, type Tensor, zeros } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { defaultBucketSize, isNoWeightDecay, megatronParamGroups, planLayout } from './index.ts';

describe('planLayout', () => {
  const ts = [5, 100, 7, 64, 3].map((n) => zeros([n]));

  it('places parameters in reverse order, aligned, and closes buckets at the size', () => {
    const layout = planLayout(ts.map((param, i) => ({ param, name: `p${i}` })), { bucketSize: 100, shardCount: 1, paramAlign: 4 });
    expect(layout.params.map((r) => [r.name, r.start, r.end, r.bucket])).toEqual([
      ['p4', 0, 3, 0], ['p3', 4, 68, 0], ['p2', 68, 75, 0], ['p1', 76, 176, 0], ['p0', 176, 181, 1],
    ]);
    expect(layout.buckets.map((b) => [b.start, b.end, b.params.length])).toEqual([[0, 176, 4], [176, 184, 1]]);
    expect(layout.size).toBe(184);
  });

  it('pads every bucket to a multiple of shardCount * 128 for the distributed optimizer', () => {
    const layout = planLayout(ts.map((param) => ({ param })), { bucketSize: 60, shardCount: 3 });
    for (const b of layout.buckets) expect((b.end - b.start) % (3 * 128)).toBe(0);
    for (const r of layout.params) expect(r.start % 64).toBe(0);
    // Every parameter is inside its bucket, and buckets tile the buffer.
    for (const r of layout.params) {
      const b = layout.buckets[r.bucket] as { start: number; end: number };
      expect(r.start >= b.start && r.end <= b.end).toBe(true);
    }
    layout.buckets.forEach((b, i) => {
      expect(b.start).toBe(i === 0 ? 0 : (layout.buckets[i - 1] as { end: number }).end);
    });
  });

  it('one bucket with an infinite size; Megatron default size', () => {
    expect(planLayout(ts.map((param) => ({ param })), { bucketSize: Number.POSITIVE_INFINITY, shardCount: 1 }).buckets).toHaveLength(1);
    expect(defaultBucketSize(8)).toBe(40_000_000);
    expect(defaultBucketSize(64)).toBe(64_000_000);
  });

  it('cleanup', () => {
    for (const t of ts as Tensor[]) t.dispose();
  });
});

class Net extends Module {
  fc = new Linear(4, 3);
  norm = new LayerNorm(3);
  head = new Linear(3, 2, { bias: false });
}

describe('megatronParamGroups', () => {
  it('no weight decay on biases and 1-D parameters; decayed group first; lr multipliers', () => {
    const net = new Net();
    const groups = megatronParamGroups(net, { weightDecay: 0.1, lr: 1e-3, lrMult: (name) => (name.startsWith('head') ? 2 : 1) });
    expect(groups.map((g) => [g.names, g.weightDecay, g.wdMult, g.lrMult, g.lr])).toEqual([
      [['fc.weight'], 0.1, 1, 1, 1e-3],
      [['fc.bias', 'norm.weight', 'norm.bias'], 0, 0, 1, 1e-3],
      [['head.weight'], 0.1, 1, 2, 2e-3],
    ]);
    expect(isNoWeightDecay("x.weight", net.norm.weight as Parameter)).toBe(true);
    net.dispose();
  });
});
