// F.attention on the CPU (the composed path) against attention written out with plain ops, and its
// argument checks. The fused CUDA kernels are compared with this path in attention.gpu.test.ts.
import { describe, expect, it } from 'vitest';
import { type DType, F, scope, type Tensor, tensor } from './index.ts';
import { relativeError, seeded } from '../test/helpers.ts';

/** softmax(scale Q Kᵀ + causal -inf) V written with basic ops, q [sq, b, h, d]. */
function reference(q: Tensor, k: Tensor, v: Tensor, scale: number, causal: boolean): Tensor {
  const [sq, b, h, d] = q.shape as [number, number, number, number];
  const sk = k.shape[0] as number;
  const qb = q.permute(1, 2, 0, 3).reshape(b * h, sq, d).float();
  const kb = k.permute(1, 2, 0, 3).reshape(b * h, sk, d).float();
  const vb = v.permute(1, 2, 0, 3).reshape(b * h, sk, d).float();
  let scores = F.bmm(qb, kb.transpose(1, 2)).mul(scale);
  if (causal) {
    const m: number[] = [];
    for (let i = 0; i < sq; i++) for (let j = 0; j < sk; j++) m.push(j > i + (sk - sq) ? 1 : 0);
    scores = scores.maskedFill(tensor(m, { shape: [1, sq, sk], dtype: 'bool' }), -Infinity);
  }
  return F.bmm(F.softmax(scores, -1), vb).reshape(b, h, sq, d).permute(2, 0, 1, 3).to(q.dtype);
}

function inputs(sq: number, sk: number, b: number, h: number, d: number, dtype: DType): [Tensor, Tensor, Tensor] {
  const make = (s: number, seed: number) => tensor(seeded(s * b * h * d, seed, -2, 2), { shape: [s, b, h, d], dtype, requiresGrad: true });
  return [make(sq, 1), make(sk, 2), make(sk, 3)];
}

function outputAndGrads(f: (q: Tensor, k: Tensor, v: Tensor) => Tensor, xs: Tensor[]): number[][] {
  for (const x of xs) x.grad = null;
  const out = f(...(xs as [Tensor, Tensor, Tensor]));
  const w = tensor(seeded(out.numel, 11), { shape: [...out.shape], dtype: out.dtype });
  out.mul(w).sum().backward();
  return [out.toArray(), ...xs.map((x) => (x.grad as Tensor).toArray())];
}

describe('F.attention (composed path)', () => {
  for (const [sq, sk, causal] of [[5, 5, true], [3, 7, true], [4, 6, false]] as const) {
    it(`matches attention from basic ops: sq ${sq}, sk ${sk}, ${causal ? 'causal' : 'full'}`, () => {
      scope(() => {
        const xs = inputs(sq, sk, 2, 3, 4, 'f32');
        const got = outputAndGrads((q, k, v) => F.attention(q, k, v, { scale: 0.3, causal }), xs);
        const want = outputAndGrads((q, k, v) => reference(q, k, v, 0.3, causal), xs);
        got.forEach((g, i) => {
          expect(relativeError(g, want[i] as number[])).toBeLessThan(1e-6);
        });
      });
    });
  }

  it('defaults the scale to 1 / sqrt(d)', () => {
    scope(() => {
      const xs = inputs(4, 4, 1, 2, 16, 'f32');
      const got = F.attention(xs[0], xs[1], xs[2]).toArray();
      const want = reference(xs[0], xs[1], xs[2], 0.25, false).toArray();
      expect(relativeError(got, want)).toBeLessThan(1e-6);
    });
  });

  it('refuses mismatched shapes and says why the fused kernels cannot run', () => {
    scope(() => {
      const [q, k, v] = inputs(4, 4, 1, 2, 8, 'f32');
      expect(() => F.attention(q.reshape(4, 2, 8), k, v)).toThrow(/q must be \[s, b, heads, d\]/);
      expect(() => F.attention(q, k.reshape(4, 1, 1, 16), v)).toThrow(/k and v must be \[sk, 1, 2, 8\]/);
      expect(() => F.attention(q, k, v, { implementation: 'fused' })).toThrow(/fused kernels cannot run: it runs on CUDA only/);
    });
  });
});
