// The fused multi-tensor kernels on CUDA against the CPU reference, and the optimizers end to end
// on a GPU. Runs under `node --test` on a CUDA machine; skips elsewhere.
//   node --conditions=@tessera/source --test src/optim.gpu.test.ts
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cudaAvailable, type DType, F, Linear, manualSeed, memoryStats, Module, multiTensorAdam_, multiTensorScale_, multiTensorSquaredNorm,
  narrow, noGrad, scope, type Tensor, tensor,
} from '@tessera/core';
import { seeded } from '../test/helpers.ts';
import { AdamW, DistributedDataParallel, MixedPrecisionOptimizer } from './index.ts';

const skip = !cudaAvailable();
const CUDA = 'cuda:0';

// Sizes: tiny, a tail that is not a multiple of 4, one chunk exactly, several chunks plus a tail.
const SIZES = [1, 3, 37, 16384, 50_001, 200_003];

function relErr(a: number[], b: number[]): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  });
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** A list of tensors on `device`, each a view starting `offset` elements into its storage (offset 1: unaligned). */
function list(device: 'cpu' | 'cuda:0', dtype: DType, seed: number, offset: number, lo = -1, hi = 1): Tensor[] {
  return SIZES.map((n, i) => {
    const base = tensor(seeded(n + offset, seed * 100 + i, lo, hi), { dtype, device });
    return offset === 0 ? base : narrow(base, 0, offset, n);
  });
}

describe('fused optimizer kernels: CUDA equals the CPU reference', { skip }, () => {
  for (const [paramDtype, gradDtype, withMain] of [['f32', 'f32', false], ['bf16', 'f32', true], ['f16', 'f32', true], ['bf16', 'bf16', false], ['f32', 'bf16', true]] as const) {
    for (const offset of [0, 1]) {
      it(`multiTensorAdam: ${paramDtype} params, ${gradDtype} grads, ${withMain ? 'fp32 main weights' : 'in place'}, ${offset ? 'unaligned' : 'aligned'}`, () => {
        scope(() => {
          const run = (device: 'cpu' | 'cuda:0') => {
            const params = list(device, paramDtype, 1, offset);
            const mains = withMain ? list(device, 'f32', 1, offset) : undefined;
            const grads = list(device, gradDtype, 2, offset, -3, 3);
            const m = list(device, 'f32', 3, offset, -0.1, 0.1);
            const v = list(device, 'f32', 4, offset, 0, 0.01);
            for (const step of [1, 2, 3]) {
              multiTensorAdam_({ params, mains, grads, expAvgs: m, expAvgSqs: v }, {
                lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step, decoupled: step !== 2, gradScale: 0.5,
              });
            }
            return [...params, ...(mains ?? []), ...m, ...v].map((t) => t.toArray());
          };
          const cpu = run('cpu');
          const gpu = run(CUDA);
          cpu.forEach((ref, i) => {
            // 16-bit model weights are the rounding of identical fp32 values: equal up to a rounding tie.
            const limit = i < SIZES.length && paramDtype !== 'f32' ? 1e-2 : 1e-6;
            assert.ok(relErr(gpu[i] as number[], ref) <= limit, `tensor ${i}: relative error ${relErr(gpu[i] as number[], ref).toExponential(2)}`);
          });
        });
      });
    }
  }

  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    it(`multiTensorSquaredNorm and multiTensorScale_ (${dtype}, mixed with f32 views)`, () => {
      scope(() => {
        const cpu = [...list('cpu', dtype, 5, 1), ...list('cpu', 'f32', 6, 0)];
        const gpu = [...list(CUDA, dtype, 5, 1), ...list(CUDA, 'f32', 6, 0)];
        const a = multiTensorSquaredNorm(cpu).item();
        const b = multiTensorSquaredNorm(gpu).item();
        assert.ok(Math.abs(a - b) / a < 1e-6, `squared norm: cpu ${a}, cuda ${b}`);
        multiTensorScale_(cpu, 0.37);
        multiTensorScale_(gpu, 0.37);
        cpu.forEach((t, i) => {
          assert.ok(relErr((gpu[i] as Tensor).toArray(), t.toArray()) < (dtype === 'f32' ? 1e-7 : 4e-3), `scaled tensor ${i}`);
        });
        const inf = tensor([1, Number.POSITIVE_INFINITY, 2], { device: CUDA });
        assert.equal(multiTensorSquaredNorm([inf]).item(), Number.POSITIVE_INFINITY);
        assert.equal(multiTensorSquaredNorm([], { device: CUDA }).item(), 0);
      });
    });
  }
});

class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(device: 'cpu' | 'cuda:0', dtype: DType) {
    super();
    this.fc1 = new Linear(32, 64, { device, dtype });
    this.fc2 = new Linear(64, 8, { device, dtype });
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh());
  }
}

async function train(device: 'cpu' | 'cuda:0', dtype: DType): Promise<{ params: number[][]; norms: number[] }> {
  manualSeed(3);
  const model = new Mlp('cpu', dtype);
  model.to(device);
  const ddp = new DistributedDataParallel(model);
  const opt = new MixedPrecisionOptimizer(new AdamW(model.parameters(), { lr: 1e-2 }), { ddp, clipGrad: 1 });
  const norms: number[] = [];
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    scope(() => {
      const x = tensor(seeded(16 * 32, step), { shape: [16, 32], dtype, device });
      const y = tensor(seeded(16, step + 9, 0, 8).map(Math.floor), { dtype: 'i64', device });
      F.crossEntropy(model.forward(x).float(), y).backward();
    });
    norms.push((await opt.step()).gradNorm);
  }
  const params = [...model.parameters()].map((p) => noGrad(() => p.toArray()));
  opt.dispose();
  ddp.dispose();
  model.dispose();
  return { params, norms };
}

describe('optimizers on CUDA', { skip }, () => {
  for (const dtype of ['f32', 'bf16'] as const) {
    it(`DDP + MixedPrecisionOptimizer(AdamW) trains a ${dtype} model like the CPU`, async () => {
      const cpu = await train('cpu', dtype);
      const gpu = await train(CUDA, dtype);
      cpu.norms.forEach((n, i) => {
        assert.ok(Math.abs(n - (gpu.norms[i] as number)) / n < (dtype === 'f32' ? 1e-4 : 2e-2), `step ${i} norm: cpu ${n}, cuda ${gpu.norms[i]}`);
      });
      cpu.params.forEach((p, i) => {
        assert.ok(relErr(gpu.params[i] as number[], p) < (dtype === 'f32' ? 1e-4 : 2e-2), `param ${i}`);
      });
    });
  }

  it('bf16 weights with fp32 gradients, main weights and Adam state: 18 bytes per parameter, all returned at dispose', () => {
    const base = memoryStats(CUDA).allocated;
    const model = new Mlp(CUDA, 'bf16');
    const n = model.numParameters();
    const ddp = new DistributedDataParallel(model);
    const opt = new MixedPrecisionOptimizer(new AdamW(model.parameters()), { ddp });
    const perParam = (memoryStats(CUDA).allocated - base) / n;
    assert.ok(perParam >= 18 && perParam < 18.5, `bytes per parameter: ${perParam}`);
    opt.dispose();
    ddp.dispose();
    model.dispose();
    assert.equal(memoryStats(CUDA).allocated, base);
  });
});
