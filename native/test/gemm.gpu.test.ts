// GPU matmul (cuBLASLt) against the CPU kernel on the same inputs, and small cases against the
// float64 reference too. node:test, so it runs on the GPU machine without npm packages:
//   node --test test/gemm.gpu.test.ts
//   TESSERA_GEMM_AUTOTUNE=1 node --test test/gemm.gpu.test.ts     (the autotuned plans)
// Skipped when the build has no CUDA or no device is visible.
import assert from 'node:assert';
import { describe, it } from 'node:test';
import type { DTypeName } from '../src/index.ts';
import {
  checkResult, crossProductCases, describeCase, type MatmulCase, makeData, relativeError, runMatmul,
} from './gemm.ref.ts';
import { CPU, hasCuda, nb } from './util.ts';

const GPU = 0;

// ||gpu - cpu|| / ||cpu|| allowed per C dtype: accumulation-order noise for fp32/fp64 outputs,
// plus the output's rounding (results that land either side of a rounding boundary) for 16-bit.
const REL: Partial<Record<DTypeName, number>> = { f64: 1e-12, f32: 1e-5, f16: 2e-3, bf16: 1e-2 };

function compare(cs: MatmulCase, againstReference = true) {
  const d = makeData(cs);
  const cpu = runMatmul(d, CPU);
  const gpu = runMatmul(d, GPU);
  const err = relativeError(gpu, cpu);
  assert.ok(err <= (REL[d.cs.c] as number), `${describeCase(d.cs)}: relative error ${err.toExponential(2)} against the CPU`);
  if (againstReference) checkResult(d, gpu, `${describeCase(d.cs)} (cuda:0)`);
}

describe('matmul (cuda:0)', { skip: !hasCuda }, () => {
  it('matches for every dtype, transpose, batch, alpha/beta and bias combination', () => {
    for (const cs of crossProductCases(7, 37, 5)) compare(cs);
  });

  it('handles sizes 0, 1, odd and across tile edges', () => {
    const sizes = [0, 1, 7, 65, 257];
    let i = 0;
    for (const m of sizes)
      for (const n of sizes)
        for (const k of sizes) {
          compare({ m, n, k, ab: i % 3 === 2 ? 'bf16' : 'f32', c: 'f32', transA: (i & 1) === 1, transB: (i & 2) === 2, alpha: 0.75, beta: 1, bias: true });
          i++;
        }
  });

  it('ignores NaN in C when beta = 0 and leaves memory around the batch matrices alone', () => {
    compare({ m: 33, n: 40, k: 17, ab: 'bf16', beta: 0, bias: true, batch: 3, pad: 5 });
    compare({ m: 11, n: 35, k: 19, ab: 'f32', transA: true, batch: 3, pad: 5, offset: 3, shareB: true, beta: 1, bias: true });
  });

  it('takes biases cuBLASLt cannot fuse (other dtype, misaligned) and f64 inputs into f32', () => {
    compare({ m: 64, n: 96, k: 32, ab: 'bf16', c: 'bf16', bias: true, biasDtype: 'f32', beta: 0.5 });
    compare({ m: 64, n: 96, k: 32, ab: 'bf16', c: 'f32', bias: true, biasDtype: 'bf16', beta: 1 });
    compare({ m: 64, n: 96, k: 32, ab: 'f16', bias: true, offset: 1 }); // 2-byte aligned tensors and bias
    compare({ m: 64, n: 96, k: 32, ab: 'f64', c: 'f32', bias: true, beta: 1, batch: 2 });
  });

  it('matches at training sizes: 1024x768x3072 bf16, its backward, fp32 main-grad accumulation', () => {
    const big = { m: 1024, n: 768, k: 3072 };
    compare({ ...big, ab: 'bf16', transB: true, bias: true }, false); // forward, weight [n, k]
    compare({ m: 1024, n: 3072, k: 768, ab: 'bf16' }, false); // grad input: dY @ W
    compare({ m: 768, n: 3072, k: 1024, ab: 'bf16', c: 'f32', transA: true, beta: 1 }, false); // dW += dY^T X
    compare({ ...big, ab: 'f32', transA: true, transB: true, alpha: 0.5, beta: 1 }, false);
    compare({ m: 512, n: 512, k: 512, ab: 'f16', batch: 4, bias: true }, false);
  });

  it('runs on a second stream, with that stream\'s own workspace', () => {
    const main = nb.currentStream(GPU);
    const side = nb.streamCreate(GPU);
    nb.setCurrentStream(GPU, side);
    try {
      compare({ m: 300, n: 200, k: 500, ab: 'bf16', c: 'f32', beta: 1, bias: true });
    } finally {
      nb.setCurrentStream(GPU, main);
      nb.streamDestroy(side);
    }
  });
});
