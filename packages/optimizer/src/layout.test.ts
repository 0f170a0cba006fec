import { LayerNorm, Linear, Module, Parameter, type Tensor, zeros } from '@tessera/core';
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

describe('planLayout: tied embeddings in a bucket of their own (isolateSharedEmbedding)', () => {
  const shared = () => new Parameter(zeros([6, 50]), true, { sharedEmbedding: true, shared: true });
  // The first stage: word embeddings first in model order (last in the buffer), then layers; the
  // last stage: layers, then the output layer's copy (first in the buffer).
  const first = [shared(), ...[40, 7, 130, 3].map((n) => new Parameter(zeros([n])))];
  const last = [...[9, 200, 5].map((n) => new Parameter(zeros([n]))), shared()];
  const named = (ps: Parameter[]) => ps.map((param, i) => ({ param, name: param.meta.sharedEmbedding ? 'emb' : `p${i}` }));

  for (const shardCount of [1, 2, 3]) {
    it(`shardCount ${shardCount}: the shared embedding is alone in its bucket, at its start, with the same size on both stages`, () => {
      const spans: number[] = [];
      for (const ps of [first, last]) {
        const layout = planLayout(named(ps), { bucketSize: 100, shardCount, isolateSharedEmbedding: true });
        const emb = layout.params.find((r) => r.name === 'emb');
        const bucket = layout.buckets[emb?.bucket ?? -1];
        expect(bucket?.params.map((r) => r.name)).toEqual(['emb']);
        expect(emb?.start).toBe(bucket?.start);
        spans.push((bucket?.end ?? 0) - (bucket?.start ?? 0));
        for (const b of layout.buckets) {
          expect((b.end - b.start) % (shardCount > 1 ? shardCount * 128 : 64)).toBe(0);
          for (const r of b.params) expect(r.start >= b.start && r.end <= b.end).toBe(true);
        }
        layout.buckets.forEach((b, i) => {
          expect(b.start).toBe(i === 0 ? 0 : (layout.buckets[i - 1] as { end: number }).end);
        });
        for (const r of layout.params) expect(r.start % 64).toBe(0);
        // The other parameters keep their order (reverse model order).
        const others = layout.params.filter((r) => r.name !== 'emb').map((r) => r.name);
        expect(others).toEqual(named(ps).filter((x) => x.name !== 'emb').map((x) => x.name).reverse());
      }
      expect(spans[0]).toBe(spans[1]);
    });
  }

  it('closes the bucket before and after it, and leaves the layout alone without the option', () => {
    const ps = [new Parameter(zeros([10])), shared(), new Parameter(zeros([10]))];
    const layout = planLayout(named(ps), { bucketSize: 1000, shardCount: 2, isolateSharedEmbedding: true });
    expect(layout.buckets.map((b) => b.params.map((r) => r.name))).toEqual([['p2'], ['emb'], ['p0']]);
    const plain = planLayout(named(ps), { bucketSize: 1000, shardCount: 2 });
    expect(plain.buckets.map((b) => b.params.map((r) => r.name))).toEqual([['p2', 'emb', 'p0']]);
    for (const p of ps) p.dispose();
  });

  it('an alignment that does not divide shardCount * 128 still starts every bucket aligned', () => {
    const ps = [shared(), new Parameter(zeros([7])), new Parameter(zeros([33]))];
    for (const list of [ps, [...ps].reverse()]) {
      const layout = planLayout(named(list), { bucketSize: 1, shardCount: 2, paramAlign: 96, isolateSharedEmbedding: true });
      for (const b of layout.buckets) {
        expect(b.start % 96).toBe(0);
        expect((b.end - b.start) % 256).toBe(0);
      }
      const emb = layout.params.find((r) => r.name === 'emb');
      expect(emb?.start).toBe(layout.buckets[emb?.bucket ?? -1]?.start);
    }
    for (const p of ps) p.dispose();
  });

  it('cleanup', () => {
    for (const p of [...first, ...last]) p.dispose();
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
