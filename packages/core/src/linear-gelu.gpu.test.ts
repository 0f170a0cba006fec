// F.linearGeluLinear on CUDA, where cuBLASLt's epilogues carry the GELU, its backward and the bias
// gradients, against the same MLP composed from unfused ops on the same GPU (bf16), with and
// without fp32 main grads. Runs under `node --test` on a CUDA machine; skips elsewhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cudaAvailable, F, scope, type Tensor, zeros } from './index.ts';
import { relativeError, seededTensor } from '../test/helpers.ts';

const skip = !cudaAvailable();
const dev = 'cuda:0' as const;

function run(fused: boolean, rows: number, h: number, ffn: number, mainGrads: boolean): number[][] {
  return scope(() => {
    const opts = { dtype: 'bf16' as const, device: dev, requiresGrad: true };
    const x = seededTensor([rows, 2, h], 1, opts);
    const w1 = seededTensor([ffn, h], 2, { ...opts, lo: -0.1, hi: 0.1 });
    const b1 = seededTensor([ffn], 3, opts);
    const w2 = seededTensor([h, ffn], 4, { ...opts, lo: -0.1, hi: 0.1 });
    const b2 = seededTensor([h], 5, opts);
    if (mainGrads) for (const w of [w1, w2]) w.mainGrad = zeros([...w.shape], { device: dev });
    const y = fused ? F.linearGeluLinear(x, w1, b1, w2, b2) : F.linear(F.linear(x, w1, b1).gelu('tanh'), w2, b2);
    y.float().mul(seededTensor([...y.shape], 9, { device: dev })).sum().backward();
    const grad = (t: Tensor) => (t.mainGrad ?? (t.grad as Tensor)).toArray();
    return [y.toArray(), grad(x), grad(w1), grad(b1), grad(w2), grad(b2)];
  });
}

describe('F.linearGeluLinear on CUDA matches the unfused MLP', { skip }, () => {
  for (const [rows, h, ffn, mainGrads] of [[64, 128, 512, false], [512, 256, 1024, true], [37, 64, 256, true]] as const)
    it(`rows ${rows} x 2, hidden ${h}, ffn ${ffn}${mainGrads ? ', fp32 main grads' : ''}`, () => {
      const fused = run(true, rows, h, ffn, mainGrads);
      const ref = run(false, rows, h, ffn, mainGrads);
      ['output', 'dx', 'dw1', 'db1', 'dw2', 'db2'].forEach((name, i) => {
        const err = relativeError(fused[i] as number[], ref[i] as number[]);
        assert.ok(err < 2e-2, `${name}: relative error ${err.toExponential(2)}`);
      });
    });
});
