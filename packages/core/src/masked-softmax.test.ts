// The fused scale + mask + softmax equals the unfused ops it replaces (upcast, scale, masked fill
// with -10000, softmax, downcast), outputs and gradients, and refuses bad masks by name.
import { describe, expect, it } from 'vitest';
import { type DType, F, scope, type Tensor, tensor } from './index.ts';
import { relativeError, seeded } from '../test/helpers.ts';

function unfused(x: Tensor, scale: number, mask: Tensor): Tensor {
  const probs = F.softmax(x.float().mul(scale).maskedFill(mask, -10000), -1);
  return probs.to(x.dtype);
}

function causalMask(sq: number, sk: number): Tensor {
  const v: number[] = [];
  for (let i = 0; i < sq; i++) for (let j = 0; j < sk; j++) v.push(j > i + (sk - sq) ? 1 : 0);
  return tensor(v, { shape: [1, 1, sq, sk], dtype: 'bool' });
}

/** Output and gradient of f(x) weighted by fixed random values. */
function outputAndGrad(f: (x: Tensor) => Tensor, shape: number[], dtype: DType): number[][] {
  return scope(() => {
    const n = shape.reduce((p, d) => p * d, 1);
    const x = tensor(seeded(n, 5, -3, 3), { shape, dtype, requiresGrad: true });
    const y = f(x);
    const w = tensor(seeded(n, 9), { shape, dtype });
    y.mul(w).sum().backward();
    return [y.toArray(), (x.grad as Tensor).toArray()];
  });
}

describe('scaledMaskedSoftmax', () => {
  const cases: { name: string; shape: [number, number, number, number]; mask: () => Tensor; causal: boolean }[] = [
    { name: 'causal', shape: [2, 3, 8, 8], mask: () => causalMask(8, 8), causal: true },
    { name: 'causal, more keys than queries', shape: [1, 2, 3, 7], mask: () => causalMask(3, 7), causal: true },
    {
      name: 'padding mask [b, 1, 1, sk]',
      shape: [2, 2, 4, 6],
      mask: () => tensor([0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0], { shape: [2, 1, 1, 6], dtype: 'bool' }),
      causal: false,
    },
  ];
  for (const dtype of ['f32', 'bf16'] as DType[]) {
    for (const c of cases) {
      it(`matches the unfused ops: ${c.name} (${dtype})`, () => {
        scope(() => {
          const scale = 0.37;
          const mask = c.mask();
          const fused = outputAndGrad((x) => F.scaledMaskedSoftmax(x, c.causal ? { scale, causal: true } : { scale, mask }), c.shape, dtype);
          const ref = outputAndGrad((x) => unfused(x, scale, mask), c.shape, dtype);
          const limit = dtype === 'f32' ? 1e-6 : 1e-2;
          expect(relativeError(fused[0] as number[], ref[0] as number[])).toBeLessThan(limit);
          expect(relativeError(fused[1] as number[], ref[1] as number[])).toBeLessThan(limit);
        });
      });
    }
  }

  it('gives a fully masked row the unfused path\'s uniform probabilities and no gradient', () => {
    scope(() => {
      const mask = tensor([1, 1, 1, 1], { shape: [1, 1, 1, 4], dtype: 'bool' });
      const [y, g] = outputAndGrad((x) => F.scaledMaskedSoftmax(x, { mask }), [1, 1, 2, 4], 'f32');
      expect(y).toEqual(Array(8).fill(0.25));
      expect(g?.every((v) => v === 0)).toBe(true);
    });
  });

  it('refuses masks it cannot read and causal masks with fewer keys than queries', () => {
    scope(() => {
      const x = tensor(seeded(2 * 3 * 4 * 4, 1), { shape: [2, 3, 4, 4] });
      expect(() => F.scaledMaskedSoftmax(x, { mask: tensor([0, 1, 0, 0], { shape: [1, 1, 1, 4] }) })).toThrow(/mask must be bool \[2 or 1, 1, 4 or 1, 4\]/);
      expect(() => F.scaledMaskedSoftmax(x, { mask: tensor(Array(12).fill(0), { shape: [1, 3, 1, 4], dtype: 'bool' }) })).toThrow(/mask must be bool/);
      expect(() => F.scaledMaskedSoftmax(x.reshape(2, 3, 16), {})).toThrow(/must be \[b, heads, sq, sk\]/);
      const wide = tensor(seeded(12, 2), { shape: [1, 1, 4, 3] });
      expect(() => F.scaledMaskedSoftmax(wide, { causal: true })).toThrow(/at least as many keys \(3\) as queries \(4\)/);
    });
  });
});
