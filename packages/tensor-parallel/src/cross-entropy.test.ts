// Vocab-parallel cross entropy at TP = 1 against core's dense cross entropy and a float64
// transcription of Megatron's formula. TP > 1: distributed.test.ts.
import { F, randn, type Tensor, tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { diff } from '../test/helpers.ts';
import { vocabParallelCrossEntropy } from './cross-entropy.ts';
import { tensorParallel } from './tensor-parallel.ts';

const tp = tensorParallel(undefined);

function gradOf(loss: Tensor, x: Tensor, probe: Tensor): Tensor {
  loss.mul(probe).sum().backward();
  const g = x.grad as Tensor;
  x.grad = null;
  return g;
}

/** Megatron's smoothed loss for one row, in float64: (1 - s)(lse - z_t) - s mean(log p), s = αK/(K-1). */
function megatronLoss(z: number[], t: number, alpha: number): number {
  const k = z.length;
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  const nll = lse - (z[t] as number);
  if (alpha === 0) return nll;
  const s = (alpha * k) / (k - 1);
  const meanLogP = z.reduce((a, v) => a + (v - lse), 0) / k;
  return (1 - s) * nll - s * meanLogP;
}

describe('vocabParallelCrossEntropy at TP=1', () => {
  const logits = randn([4, 3, 11], { requiresGrad: true });
  const target = tensor([[1, 0, 10], [5, 5, 2], [7, 3, 9], [0, 4, 6]], { dtype: 'i64' });
  const probe = randn([4, 3]);

  for (const alpha of [0, 0.1]) {
    it(`equals dense cross entropy ${alpha ? 'with label smoothing α = 0.1 (as αK/(K-1) in torch terms)' : 'without smoothing'}, loss and gradient`, () => {
      const loss = vocabParallelCrossEntropy(logits, target, tp, { labelSmoothing: alpha });
      expect(loss.dtype).toBe('f32');
      expect(loss.shape).toEqual([4, 3]);
      const dense = F.crossEntropy(logits, target, { reduction: 'none', labelSmoothing: (alpha * 11) / 10 });
      expect(diff(loss, dense)).toBeLessThan(1e-5);
      expect(diff(gradOf(loss, logits, probe), gradOf(dense, logits, probe))).toBeLessThan(1e-6);
      const z = logits.toNested() as number[][][];
      const t = target.toNested() as number[][];
      const want = z.flatMap((row, i) => row.map((col, j) => megatronLoss(col, t[i]?.[j] as number, alpha)));
      const got = loss.toArray();
      for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-5);
    });
  }

  it('ignoreIndex gives loss 0 and no gradient to those rows', () => {
    const masked = tensor([[1, -100, 10], [5, 5, 2], [-100, 3, 9], [0, 4, 6]], { dtype: 'i64' });
    const loss = vocabParallelCrossEntropy(logits, masked, tp, { ignoreIndex: -100 });
    const dense = F.crossEntropy(logits, masked, { reduction: 'none', ignoreIndex: -100 });
    expect(diff(loss, dense)).toBeLessThan(1e-5);
    expect(loss.toArray()[1]).toBe(0);
    const g = gradOf(loss, logits, probe);
    expect(diff(g, gradOf(dense, logits, probe))).toBeLessThan(1e-6);
    expect(g.narrow(0, 0, 1).narrow(1, 1, 1).abs().sum().item()).toBe(0);
  });

  it('16-bit logits give an fp32 loss and a gradient in the logits dtype', () => {
    const half = randn([2, 7], { dtype: 'bf16', requiresGrad: true });
    const loss = vocabParallelCrossEntropy(half, tensor([1, 6], { dtype: 'i32' }), tp);
    expect(loss.dtype).toBe('f32');
    loss.sum().backward();
    expect(half.grad?.dtype).toBe('bf16');
  });

  it('refuses bad targets and smoothing with clear errors', () => {
    expect(() => vocabParallelCrossEntropy(logits, tensor([1, 2, 3], { dtype: 'i64' }), tp)).toThrow(/logits \[4, 3, 11\] need targets of shape \[4, 3\], got \[3\]/);
    expect(() => vocabParallelCrossEntropy(logits, randn([4, 3]), tp)).toThrow(/targets must be i32 or i64/);
    expect(() => vocabParallelCrossEntropy(logits, target, tp, { labelSmoothing: 1 })).toThrow(/labelSmoothing must be in \[0, 1\)/);
    // Without an ignoreIndex every target must be a class (core's kernel checks at TP = 1).
    expect(() => vocabParallelCrossEntropy(logits, tensor([[1, 0, 11], [5, 5, 2], [7, 3, 9], [0, 4, 6]], { dtype: 'i64' }), tp)).toThrow(/label 11 at row 2 is out of range for vocab size 11/);
  });
});
