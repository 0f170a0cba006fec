// The fused attention kernels (FlashAttention-2 algorithm) against the composed path on the same
// GPU: outputs and the gradients of q, k and v in bf16, for GPT shapes, ragged lengths, head sizes
// 64 and 128, causal and full. Runs under `node --test` on a CUDA machine; skips elsewhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cudaAvailable, F, scope, type Tensor, tensor } from './index.ts';
import { relativeError, seeded } from '../test/helpers.ts';

const skip = !cudaAvailable();
const dev = 'cuda:0';

function outputAndGrads(impl: 'fused' | 'composed', shape: { sq: number; sk: number; b: number; h: number; d: number }, causal: boolean): number[][] {
  return scope(() => {
    const { sq, sk, b, h, d } = shape;
    const make = (s: number, seed: number) => tensor(seeded(s * b * h * d, seed, -2, 2), { shape: [s, b, h, d], dtype: 'bf16', device: dev, requiresGrad: true });
    const q = make(sq, 1), k = make(sk, 2), v = make(sk, 3);
    const out = F.attention(q, k, v, { causal, implementation: impl });
    const w = tensor(seeded(out.numel, 7), { shape: [...out.shape], dtype: 'bf16', device: dev });
    out.float().mul(w.float()).sum().backward();
    return [out.toArray(), ...[q, k, v].map((x) => (x.grad as Tensor).toArray())];
  });
}

describe('fused attention matches the composed path', { skip }, () => {
  const cases = [
    { sq: 256, sk: 256, b: 2, h: 4, d: 64, causal: true },
    { sq: 1024, sk: 1024, b: 1, h: 2, d: 64, causal: true },
    { sq: 200, sk: 200, b: 2, h: 3, d: 128, causal: true },
    { sq: 77, sk: 77, b: 3, h: 2, d: 64, causal: false },
    { sq: 33, sk: 130, b: 2, h: 2, d: 64, causal: true },
    { sq: 1, sk: 65, b: 2, h: 2, d: 128, causal: true },
  ];
  for (const c of cases) {
    it(`sq ${c.sq}, sk ${c.sk}, b ${c.b}, heads ${c.h}, d ${c.d}, ${c.causal ? 'causal' : 'full'}`, () => {
      const fused = outputAndGrads('fused', c, c.causal);
      const composed = outputAndGrads('composed', c, c.causal);
      ['output', 'dq', 'dk', 'dv'].forEach((name, i) => {
        const err = relativeError(fused[i] as number[], composed[i] as number[]);
        assert.ok(err < 2e-2, `${name}: relative error ${err.toExponential(2)}`);
      });
    });
  }

  it('says why it cannot run on other inputs', () => {
    scope(() => {
      const q = tensor(seeded(4 * 1 * 2 * 32, 1), { shape: [4, 1, 2, 32], dtype: 'bf16', device: dev });
      assert.throws(() => F.attention(q, q, q, { implementation: 'fused' }), /head size of 64 or 128 \(got 32\)/);
    });
  });
});
