// F.attention on the CPU (the composed path) against attention written out with plain ops, and its
// argument checks; F.attentionPacked against splitting its qkv and calling F.attention. The fused
// CUDA kernels are compared with these paths in attention.gpu.test.ts.
import { describe, expect, it } from 'vitest';
import { type DType, F, scope, type Tensor, tensor } from './index.ts';
import { gradcheck, relativeError, seeded } from '../test/helpers.ts';

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

describe('F.attentionPacked (composed path)', () => {
  /** qkv [s, b, h, 3d]: each head's row is [q | k | v]. */
  function packedInput(s: number, b: number, h: number, d: number, dtype: DType): Tensor {
    return tensor(seeded(s * b * h * 3 * d, 5, -2, 2), { shape: [s, b, h, 3 * d], dtype, requiresGrad: true });
  }

  /** The output and the gradient of a fresh qkv under a fixed random weighting of the output. */
  function outputAndGrad(f: (qkv: Tensor) => Tensor, qkv: Tensor): number[][] {
    const out = f(qkv);
    const w = tensor(seeded(out.numel, 11), { shape: [...out.shape], dtype: out.dtype });
    out.mul(w).sum().backward();
    return [out.toArray(), (qkv.grad as Tensor).toArray()];
  }

  /** The unpacked route: split the heads' rows into q, k, v and call F.attention. */
  function splitThenAttention(qkv: Tensor, o: { scale?: number; causal?: boolean }): Tensor {
    const d = (qkv.shape[3] as number) / 3;
    const [q, k, v] = qkv.split([d, d, d], 3) as [Tensor, Tensor, Tensor];
    return F.attention(q, k, v, o);
  }

  for (const causal of [true, false]) {
    it(`equals split + F.attention, output and gradient: ${causal ? 'causal' : 'full'}`, () => {
      scope(() => {
        const got = outputAndGrad((t) => F.attentionPacked(t, { scale: 0.3, causal }), packedInput(5, 2, 3, 4, 'f32'));
        const want = outputAndGrad((t) => splitThenAttention(t, { scale: 0.3, causal }), packedInput(5, 2, 3, 4, 'f32'));
        expect(got[0]).toEqual(want[0]);
        expect(got[1]).toEqual(want[1]);
      });
    });
  }

  it('matches attention from basic ops (gradcheck in f64)', () => {
    scope(() => {
      const qkv = tensor(seeded(3 * 2 * 2 * 3 * 2, 7), { shape: [3, 2, 2, 6], dtype: 'f64', requiresGrad: true });
      const w = tensor(seeded(3 * 2 * 2 * 2, 9), { shape: [3, 2, 2, 2], dtype: 'f64' });
      gradcheck((t) => F.attentionPacked(t, { causal: true }).mul(w).sum(), [qkv]);
      const [q, k, v] = qkv.split([2, 2, 2], 3) as [Tensor, Tensor, Tensor];
      const got = F.attentionPacked(qkv, { causal: true }).toArray();
      // reference() computes in fp32.
      expect(relativeError(got, reference(q, k, v, 1 / Math.sqrt(2), true).toArray())).toBeLessThan(1e-6);
    });
  });

  it('takes [s, b, heads * 3d] with heads, and defaults the scale to 1 / sqrt(d)', () => {
    scope(() => {
      const qkv = packedInput(4, 1, 2, 16, 'f32');
      const got = F.attentionPacked(qkv.reshape(4, 1, 2 * 48), { heads: 2 });
      expect(got.shape).toEqual([4, 1, 2, 16]);
      expect(got.toArray()).toEqual(splitThenAttention(qkv, { scale: 0.25 }).toArray());
    });
  });

  it('refuses bad shapes and says why the fused kernels cannot run', () => {
    scope(() => {
      const qkv = packedInput(4, 1, 2, 8, 'f32');
      expect(() => F.attentionPacked(qkv.reshape(4, 2, 24, 1))).toThrow(/qkv must be \[s, b, heads, 3 \* d\]/);
      expect(() => F.attentionPacked(qkv.reshape(4, 1, 48))).toThrow(/needs heads/);
      expect(() => F.attentionPacked(qkv, { heads: 3 })).toThrow(/heads 3 does not match/);
      expect(() => F.attentionPacked(qkv, { implementation: 'fused' })).toThrow(/fused kernels cannot run: it runs on CUDA only/);
    });
  });
});
