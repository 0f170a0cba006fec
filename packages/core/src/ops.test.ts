import { describe, expect, it } from 'vitest';
import { mul, noGrad, scope, sum, type Tensor, tensor } from './index.ts';
import { gradcheck, seeded } from '../test/helpers.ts';
import { OP_CASES, type InputSpec } from '../test/op-cases.ts';

function makeInput(spec: InputSpec, seed: number): Tensor {
  const n = spec.shape.reduce((p, d) => p * d, 1);
  if (spec.int) {
    const [low, high] = spec.int;
    return tensor(seeded(n, seed, low, high).map(Math.floor), { shape: spec.shape, dtype: 'i64' });
  }
  return tensor(seeded(n, seed, spec.lo ?? -1, spec.hi ?? 1), { shape: spec.shape, dtype: 'f64', requiresGrad: true });
}

describe('gradients against finite differences (f64, CPU)', () => {
  for (const c of OP_CASES) {
    it(c.name, () => {
      scope(() => {
        const inputs = c.inputs.map((s, i) => makeInput(s, 17 * (i + 1)));
        // A fixed random weighting of the output turns any output shape into a scalar loss.
        const shape = noGrad(() => c.fn(...inputs).shape);
        const weights = tensor(seeded(shape.reduce((p, d) => p * d, 1), 99), { shape: [...shape], dtype: 'f64' });
        const g = c.gradcheck;
        gradcheck((...xs) => sum(mul(c.fn(...xs), weights)), inputs, g?.eps, g && { rtol: g.rtol, atol: g.atol });
        for (const x of inputs) x.grad?.dispose();
      });
    });
  }
});

describe('known values', () => {
  it('computes elementwise and reduction results', () => {
    scope(() => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      expect(x.add(1).mul(2).toNested()).toEqual([[4, 6, 8], [10, 12, 14]]);
      expect(x.sum(1).toArray()).toEqual([6, 15]);
      expect(x.mean().item()).toBeCloseTo(3.5, 6);
      expect(x.max(1).toArray()).toEqual([3, 6]);
      expect(x.argmax(0).toArray()).toEqual([1, 1, 1]);
      expect(x.t().toNested()).toEqual([[1, 4], [2, 5], [3, 6]]);
      expect(x.matmul(x.t()).toNested()).toEqual([[14, 32], [32, 77]]);
      expect(x.narrow(1, 1, 2).toNested()).toEqual([[2, 3], [5, 6]]);
      expect(x.softmax(1).sum(1).toArray().map((v) => Math.round(v * 1e6) / 1e6)).toEqual([1, 1]);
      expect(x.gt(2).toArray()).toEqual([0, 0, 1, 1, 1, 1]);
    });
  });

  it('promotes mixed dtypes like PyTorch', () => {
    scope(() => {
      const i = tensor([1, 2, 3], { dtype: 'i64' });
      const f = tensor([0.5, 0.5, 0.5]);
      expect(i.add(f).dtype).toBe('f32');
      expect(i.add(2).dtype).toBe('i64');
      expect(i.add(0.5).dtype).toBe('f32');
      expect(i.div(2).toArray()).toEqual([0.5, 1, 1.5]);
      expect(tensor([1], { dtype: 'bf16' }).add(tensor([1], { dtype: 'f16' })).dtype).toBe('f32');
    });
  });

  it('reports shape, dtype and device problems clearly', () => {
    scope(() => {
      const a = tensor([[1, 2, 3]]);
      const b = tensor([[1, 2]]);
      expect(() => a.add(b)).toThrow(/\[1, 3\] and \[1, 2\] cannot be broadcast/);
      expect(() => a.matmul(a)).toThrow(/inner dimensions differ/);
      expect(() => a.reshape(2, 2)).toThrow(/does not fit/);
      expect(() => a.exp().sum(3)).toThrow(/out of range/);
      expect(() => tensor([1, 2], { dtype: 'i32' }).exp()).toThrow(/floating dtype/);
      expect(() => a.to('cuda:7')).toThrow(/not available/);
      expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
      expect(() => tensor([1], { dtype: 'f8' as never })).toThrow(/unknown dtype/);
    });
  });
});
