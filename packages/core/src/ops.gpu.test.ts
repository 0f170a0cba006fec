// CUDA against CPU: every op case's outputs and input gradients, in f32, bf16 and f16, plus the
// memory baseline and RNG agreement. Runs under `node --test` on a CUDA machine; skips elsewhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cudaAvailable, type DType, memoryStats, mul, randn, scope, sum, type Tensor, tensor, manualSeed, Linear, F, noGrad, liveTensorCount } from './index.ts';
import { relativeError, seeded } from '../test/helpers.ts';
import { OP_CASES, type InputSpec } from '../test/op-cases.ts';

const skip = !cudaAvailable();

function input(spec: InputSpec, seed: number, dtype: DType, device: 'cpu' | 'cuda:0'): Tensor {
  const n = spec.shape.reduce((p, d) => p * d, 1);
  if (spec.int) return tensor(seeded(n, seed, spec.int[0], spec.int[1]).map(Math.floor), { shape: spec.shape, dtype: 'i64', device });
  return tensor(seeded(n, seed, spec.lo ?? -1, spec.hi ?? 1), { shape: spec.shape, dtype, device, requiresGrad: true });
}

/** Output and input gradients of a case, as float64 arrays. */
function run(c: (typeof OP_CASES)[number], dtype: DType, device: 'cpu' | 'cuda:0'): number[][] {
  return scope(() => {
    const xs = c.inputs.map((s, i) => input(s, 31 * (i + 1), dtype, device));
    const out = c.fn(...xs);
    const w = tensor(seeded(out.numel, 7), { shape: [...out.shape], dtype: out.dtype, device });
    sum(mul(out, w)).backward();
    const results = [out.toArray(), ...xs.filter((x) => x.requiresGrad).map((x) => (x.grad as Tensor).toArray())];
    for (const x of xs) x.grad?.dispose();
    return results;
  });
}

// Relative L2 error allowed between CUDA and CPU for each dtype (both round to the dtype, so
// 16-bit results may differ by a few units in the last place).
const LIMIT: Record<string, number> = { f32: 1e-5, bf16: 2e-2, f16: 4e-3 };

describe('CUDA matches CPU on every op', { skip }, () => {
  for (const dtype of ['f32', 'bf16', 'f16'] as DType[]) {
    for (const c of OP_CASES) {
      if (dtype !== 'f32' && c.halfPrecision === false) continue;
      it(`${c.name} (${dtype})`, () => {
        const cpu = run(c, dtype, 'cpu');
        const gpu = run(c, dtype, 'cuda:0');
        cpu.forEach((ref, i) => {
          const err = relativeError(gpu[i] as number[], ref);
          assert.ok(err <= (LIMIT[dtype] as number), `${i === 0 ? 'output' : `gradient ${i}`}: relative error ${err.toExponential(2)}`);
        });
      });
    }
  }
});

describe('CUDA runtime behaviour', { skip }, () => {
  it('draws the same random numbers as the CPU for the same seed', () => {
    scope(() => {
      manualSeed(11);
      const a = randn([1000], { device: 'cpu' }).toArray();
      const b = randn([1000], { device: 'cuda:0' }).toArray();
      assert.ok(relativeError(b, a) < 1e-6);
    });
  });

  it('returns device memory to its baseline after a training step', () => {
    const lin = new Linear(64, 32, { device: 'cuda:0', dtype: 'bf16' });
    const baseline = memoryStats('cuda:0').allocated;
    const live = liveTensorCount();
    for (let i = 0; i < 2; i++) {
      scope(() => {
        const x = randn([16, 64], { device: 'cuda:0', dtype: 'bf16' });
        const loss = F.crossEntropy(lin.forward(x).float(), tensor(new Array(16).fill(3), { dtype: 'i64', device: 'cuda:0' }));
        loss.backward();
        noGrad(() => {
          for (const p of lin.parameters()) p.sub_(p.grad as Tensor, 0.1);
        });
        lin.zeroGrad();
      });
      assert.equal(memoryStats('cuda:0').allocated, baseline);
      assert.equal(liveTensorCount(), live);
    }
    lin.dispose();
  });

  it('raises an out-of-range index at the next read, naming the problem', () => {
    scope(() => {
      const w = randn([4, 3], { device: 'cuda:0' });
      const ids = tensor([1, 9], { dtype: 'i64', device: 'cuda:0' });
      const out = F.embedding(ids, w);
      assert.throws(() => out.toArray(), /index is out of range.*got 9, valid range \[0, 4\)/);
    });
  });
});
