// The multi-tensor kernels through core's wrappers, on the CPU reference backend.
import {
  keep, multiTensorAdam_, multiTensorL2Norm, multiTensorScale_, multiTensorSquaredNorm, narrow, scope, type Tensor, tensor, zeros,
} from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, seeded } from '../test/helpers.ts';
import { adamRefInit, adamRefStep } from '../test/reference.ts';

const sumSq = (xs: number[]) => xs.reduce((a, v) => a + v * v, 0);

describe('multi-tensor kernels (CPU)', () => {
  it('squared norm over many tensors of mixed dtypes, including views at odd offsets and chunk tails', () => {
    scope(() => {
      const big = tensor(seeded(40_001, 1), { shape: [40_001] });
      const a = tensor(seeded(17, 2), { shape: [17] });
      const b = tensor(seeded(300, 3), { shape: [300], dtype: 'bf16' });
      const view = narrow(big, 0, 3, 39_990); // starts 3 elements in: unaligned
      const expected = sumSq(big.toArray()) + sumSq(a.toArray()) + sumSq(b.toArray()) + sumSq(view.toArray());
      const out = multiTensorSquaredNorm([big, a, b, view]);
      expect(Math.abs(out.item() - expected) / expected).toBeLessThan(1e-6);
      expect(multiTensorL2Norm([a])).toBeCloseTo(Math.sqrt(sumSq(a.toArray())), 5);
    });
  });

  it('accumulates into out, handles empty lists, and turns inf/NaN into a non-finite sum', () => {
    scope(() => {
      const out = zeros([1]);
      multiTensorSquaredNorm([tensor([3, 4])], { out });
      multiTensorSquaredNorm([tensor([1])], { out });
      multiTensorSquaredNorm([], { out });
      expect(out.item()).toBe(26);
      expect(multiTensorSquaredNorm([], { device: 'cpu' }).item()).toBe(0);
      expect(multiTensorSquaredNorm([tensor([1, Number.POSITIVE_INFINITY])]).item()).toBe(Number.POSITIVE_INFINITY);
      expect(Number.isNaN(multiTensorSquaredNorm([tensor([Number.NaN, 1])]).item())).toBe(true);
      // Squares are summed in fp64; only a total beyond fp32's range rounds to inf.
      expect(multiTensorSquaredNorm([tensor([1.3e19, 1.3e19])]).item()).toBeCloseTo(3.38e38, -34);
      expect(multiTensorSquaredNorm([tensor([2e19, 2e19])]).item()).toBe(Number.POSITIVE_INFINITY);
    });
  });

  it('scales every tensor in place', () => {
    scope(() => {
      const a = tensor([1, 2, 3]);
      const b = tensor([4, 5], { dtype: 'bf16' });
      multiTensorScale_([a, b], 0.5);
      expect(a.toArray()).toEqual([0.5, 1, 1.5]);
      expect(b.toArray()).toEqual([2, 2.5]);
    });
  });

  it('fused Adam over a list equals the formula, with and without main weights', () => {
    scope(() => {
      const n = 20_000; // more than one chunk
      const w0 = seeded(n, 5);
      const g = seeded(n, 6, -3, 3);
      const ref = adamRefInit(w0);
      const hp = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, decoupled: true };
      adamRefStep(ref, g, hp);
      const p = tensor(w0);
      const main = tensor(w0);
      const pBf = tensor(w0, { dtype: 'bf16' });
      const grad = tensor(g);
      const m = [zeros([n]), zeros([n])];
      const v = [zeros([n]), zeros([n])];
      const opts = { lr: hp.lr, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, weightDecay: hp.weightDecay, step: 1, decoupled: true };
      multiTensorAdam_({ params: [p], grads: [grad], expAvgs: [m[0] as Tensor], expAvgSqs: [v[0] as Tensor] }, opts);
      multiTensorAdam_({ params: [pBf], mains: [main], grads: [grad], expAvgs: [m[1] as Tensor], expAvgSqs: [v[1] as Tensor] }, opts);
      expect(maxAbsDiff(p.toArray(), ref.w)).toBeLessThan(1e-6);
      expect(maxAbsDiff(main.toArray(), ref.w)).toBeLessThan(1e-6);
      expect(maxAbsDiff(pBf.toArray(), ref.w)).toBeLessThan(1e-2);
      expect(maxAbsDiff((m[0] as Tensor).toArray(), ref.m)).toBeLessThan(1e-6);
    });
  });

  it('refuses mismatched lists with messages that name the problem', () => {
    scope(() => {
      const p = tensor([1, 2]);
      const q = tensor([1, 2, 3]);
      const z = zeros([2]);
      const base = { lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, step: 1, decoupled: true };
      expect(() => multiTensorAdam_({ params: [p], grads: [q], expAvgs: [z], expAvgSqs: [z] }, base)).toThrow(/grads\[0\] is f32\[3\].*params\[0\] is f32\[2\]/);
      expect(() => multiTensorAdam_({ params: [p], grads: [p], expAvgs: [tensor([0, 0], { dtype: 'bf16' })], expAvgSqs: [z] }, base)).toThrow(/expAvgs\[0\] is bf16, expected f32/);
      expect(() => multiTensorAdam_({ params: [p, q], grads: [p], expAvgs: [z], expAvgSqs: [z] }, base)).toThrow(/grads has 1 tensors, params has 2/);
      expect(() => multiTensorAdam_({ params: [p], grads: [p], expAvgs: [z], expAvgSqs: [z] }, { ...base, step: 0 })).toThrow(/step counts from 1/);
      const kept = keep(tensor([1]));
      kept.dispose();
      expect(() => multiTensorSquaredNorm([kept])).toThrow(/disposed/);
    });
  });
});
