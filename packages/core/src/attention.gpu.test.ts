// The fused attention kernels (FlashAttention-2 algorithm) against the composed path on the same
// GPU: outputs and the gradients of q, k and v in bf16, for GPT shapes, ragged lengths, head sizes
// 64 and 128, causal and full. Then F.attentionPacked, whose kernels read q, k and v in place from
// one [s, b, heads, 3d] buffer and write one dqkv, against the same kernels on split q, k, v and
// against the composed path. Runs under `node --test` on a CUDA machine; skips elsewhere.
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

type PackedRoute = 'packed' | 'split-fused' | 'composed';

/**
 * The output and the gradient of qkv [s, b, h, 3d] for one route. qkv is a view at row `lead` of
 * a larger leaf, so the kernels also see a nonzero (aligned) base offset when lead > 0.
 */
function packedOutputAndGrad(route: PackedRoute, c: { s: number; b: number; h: number; d: number; lead: number }, causal: boolean): number[][] {
  return scope(() => {
    const { s, b, h, d, lead } = c;
    const leaf = tensor(seeded((s + lead) * b * h * 3 * d, 1, -2, 2), { shape: [s + lead, b, h, 3 * d], dtype: 'bf16', device: dev, requiresGrad: true });
    const qkv = leaf.narrow(0, lead, s);
    let out: Tensor;
    if (route === 'split-fused') {
      const [q, k, v] = qkv.split([d, d, d], 3) as [Tensor, Tensor, Tensor];
      out = F.attention(q, k, v, { causal, implementation: 'fused' });
    } else {
      out = F.attentionPacked(qkv, { causal, implementation: route === 'packed' ? 'fused' : 'composed' });
    }
    const w = tensor(seeded(out.numel, 7), { shape: [...out.shape], dtype: 'bf16', device: dev });
    out.float().mul(w.float()).sum().backward();
    return [out.toArray(), (leaf.grad as Tensor).toArray()];
  });
}

describe('packed fused attention matches split q, k, v', { skip }, () => {
  const cases = [
    { s: 256, b: 2, h: 12, d: 64, lead: 0, causal: true }, // GPT-2 heads
    { s: 256, b: 2, h: 12, d: 64, lead: 1, causal: true },
    { s: 200, b: 2, h: 3, d: 128, lead: 0, causal: true },
    { s: 77, b: 3, h: 2, d: 64, lead: 2, causal: false },
  ];
  for (const c of cases) {
    it(`s ${c.s}, b ${c.b}, heads ${c.h}, d ${c.d}, base row ${c.lead}, ${c.causal ? 'causal' : 'full'}`, () => {
      const packed = packedOutputAndGrad('packed', c, c.causal);
      const split = packedOutputAndGrad('split-fused', c, c.causal);
      const composed = packedOutputAndGrad('composed', c, c.causal);
      // Same kernels on the same values, only other addresses: the output is bit for bit the same;
      // dq sums with atomics in fp32, so the gradient may differ in the last bf16 bit.
      assert.deepEqual(packed[0], split[0], 'output differs from the kernels on split q, k, v');
      const gradErr = relativeError(packed[1] as number[], split[1] as number[]);
      assert.ok(gradErr < 1e-3, `dqkv vs split q, k, v: relative error ${gradErr.toExponential(2)}`);
      ['output', 'dqkv'].forEach((name, i) => {
        const err = relativeError(packed[i] as number[], composed[i] as number[]);
        assert.ok(err < 2e-2, `${name} vs composed: relative error ${err.toExponential(2)}`);
      });
    });
  }

  it('needs a 16-byte aligned base; auto then splits', () => {
    scope(() => {
      const n = 4 * 1 * 2 * 192;
      const qkv = tensor(seeded(n + 1, 3), { shape: [n + 1], dtype: 'bf16', device: dev }).narrow(0, 1, n).reshape(4, 1, 2, 192);
      assert.throws(() => F.attentionPacked(qkv, { implementation: 'fused' }), /16-byte aligned/);
      const auto = F.attentionPacked(qkv, { causal: true }).toArray();
      const composed = F.attentionPacked(qkv, { causal: true, implementation: 'composed' }).toArray();
      assert.ok(relativeError(auto, composed) < 2e-2);
    });
  });
});
