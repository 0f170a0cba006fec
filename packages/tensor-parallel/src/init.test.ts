import { cat, Generator, type Tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { diff, offlineTp } from '../test/helpers.ts';
import { generatorFor, initFull, initNormal, initPartitioned, scaledInitNormal } from './init.ts';
import { ColumnParallelLinear } from './layers/column.ts';
import { RowParallelLinear } from './layers/row.ts';
import { VocabParallelEmbedding } from './layers/vocab-embedding.ts';

/** Puts the slices of a strided partition back in full order: part k*tp + r is rank r's k-th chunk. */
function reassemble(slices: Tensor[], dim: number, stride: number): Tensor {
  const tp = slices.length;
  const chunk = (slices[0]?.shape[dim] as number) / stride;
  const parts: Tensor[] = [];
  for (let k = 0; k < stride; k++) for (let r = 0; r < tp; r++) parts.push((slices[r] as Tensor).narrow(dim, k * chunk, chunk));
  return cat(parts, dim);
}

describe('TP-invariant initialization', () => {
  for (const dim of [0, 1]) {
    for (const stride of [1, 2, 3]) {
      it(`slices of dimension ${dim} with stride ${stride} reassemble to the TP=1 weight at TP=2 and 4`, () => {
        const shape = [24, 24];
        const full = initPartitioned({ shape, dim, stride, initMethod: initNormal(1), generator: new Generator(7) }, offlineTp(0, 1));
        for (const tp of [2, 4]) {
          const slices = Array.from({ length: tp }, (_, r) =>
            initPartitioned({ shape, dim, stride, initMethod: initNormal(1), generator: new Generator(7) }, offlineTp(r, tp)),
          );
          expect(slices[0]?.shape[dim]).toBe((shape[dim] as number) / tp);
          expect(diff(reassemble(slices, dim, stride), full)).toBe(0);
        }
      });
    }
  }

  it('a strided slice holds 1/tp of every part (SwiGLU [gate; up] at TP=2)', () => {
    const ramp = (t: Tensor) => t.copy_(cat([...Array(8).keys()].map((i) => t.narrow(0, i, 1).fill_(i))));
    const slice = initPartitioned({ shape: [8, 1], dim: 0, stride: 2, initMethod: (t) => void ramp(t) }, offlineTp(1, 2));
    // full rows 0..3 are the gate, 4..7 the up projection; rank 1 keeps gate rows 2,3 and up rows 6,7.
    expect(slice.toArray()).toEqual([2, 3, 6, 7]);
  });

  it('16-bit weights are the fp32 master rounded once', () => {
    const f32 = initFull([5, 6], initNormal(0.02), { generator: new Generator(3) });
    const bf16 = initFull([5, 6], initNormal(0.02), { generator: new Generator(3), dtype: 'bf16' });
    expect(bf16.dtype).toBe('bf16');
    expect(diff(bf16.float(), f32.to('bf16').float())).toBe(0);
  });

  it('scaledInitNormal divides the std by sqrt(2 numLayers)', () => {
    const t = initFull([200, 200], scaledInitNormal(1, 8), { generator: new Generator(1) });
    const std = Math.sqrt(t.square().mean().item());
    expect(std).toBeGreaterThan(0.24);
    expect(std).toBeLessThan(0.26);
  });

  it('generatorFor gives each parameter name its own reproducible stream', () => {
    const a = generatorFor(1234, 'decoder.layers.0.mlp.linear_fc1.weight');
    const b = generatorFor(1234, 'decoder.layers.0.mlp.linear_fc1.weight');
    const c = generatorFor(1234, 'decoder.layers.1.mlp.linear_fc1.weight');
    const d = generatorFor(1235, 'decoder.layers.0.mlp.linear_fc1.weight');
    expect(a.seed).toBe(b.seed);
    expect(new Set([a.seed, c.seed, d.seed]).size).toBe(3);
    expect(Number.isSafeInteger(a.seed)).toBe(true);
  });

  it('layers at TP=2 and 4 hold slices of the TP=1 layer, with the parallel metadata', () => {
    const col1 = new ColumnParallelLinear(8, 16, { tp: offlineTp(0, 1), generator: new Generator(5), stride: 2 });
    const row1 = new RowParallelLinear(12, 8, { tp: offlineTp(0, 1), generator: new Generator(6) });
    const emb1 = new VocabParallelEmbedding(16, 8, { tp: offlineTp(0, 1), generator: new Generator(7) });
    for (const tp of [2, 4]) {
      const cols = Array.from({ length: tp }, (_, r) => new ColumnParallelLinear(8, 16, { tp: offlineTp(r, tp), generator: new Generator(5), stride: 2 }));
      const rows = Array.from({ length: tp }, (_, r) => new RowParallelLinear(12, 8, { tp: offlineTp(r, tp, true), generator: new Generator(6) }));
      const embs = Array.from({ length: tp }, (_, r) => new VocabParallelEmbedding(16, 8, { tp: offlineTp(r, tp), generator: new Generator(7) }));
      expect(diff(reassemble(cols.map((c) => c.weight as Tensor), 0, 2), col1.weight as Tensor)).toBe(0);
      expect(diff(reassemble(rows.map((c) => c.weight), 1, 1), row1.weight)).toBe(0);
      expect(diff(reassemble(embs.map((c) => c.weight), 0, 1), emb1.weight)).toBe(0);
      expect(cols[0]?.weight?.meta).toEqual({ tensorParallel: true, partitionDim: 0, partitionStride: 2 });
      expect(cols[0]?.bias?.meta).toEqual({ tensorParallel: true, partitionDim: 0, partitionStride: 2 });
      expect(rows[0]?.weight.meta).toEqual({ tensorParallel: true, partitionDim: 1, partitionStride: 1 });
      expect(rows[0]?.bias?.meta).toEqual({ sequenceParallel: true });
      expect(rows[0]?.bias?.shape).toEqual([8]);
      expect(embs[1]?.vocabStart).toBe(16 / tp);
    }
    expect(row1.bias?.meta).toEqual({});
  });

  it('names the dimension that does not divide', () => {
    expect(() => new ColumnParallelLinear(8, 10, { tp: offlineTp(0, 4) })).toThrow(/outFeatures split over 4 tensor-parallel ranks \(10\) must be divisible by 4/);
    expect(() => new RowParallelLinear(6, 8, { tp: offlineTp(0, 4) })).toThrow(/inFeatures split over 4 .*\(6\) must be divisible by 4/);
    expect(() => new VocabParallelEmbedding(50257, 8, { tp: offlineTp(0, 2) })).toThrow(/vocabulary size \(50257 rows\).*must be divisible by 2/);
    expect(() => new ColumnParallelLinear(8, 12, { tp: offlineTp(0, 4), stride: 2 })).toThrow(/tensor-parallel size x stride = 4 x 2 parts: its size \(12\) must be divisible by 8/);
    expect(() => new ColumnParallelLinear(8, 8, { tp: offlineTp(0, 2, true), gatherOutput: true })).toThrow(/gatherOutput cannot be combined with sequence parallelism/);
  });
});
