// The CUDA matmul's epilogues against the CPU's (composed) ones and the float64 reference: shapes
// cuBLASLt fuses (aligned, n a multiple of 8, 16-bit inputs) and shapes that fall back to the
// composed path, at GPT-2 training sizes too. node:test, for the GPU machine:
//   node --test test/gemm-epilogue.gpu.test.ts                            (composed, the default)
//   TESSERA_GEMM_EPILOGUES=2 node --test test/gemm-epilogue.gpu.test.ts   (fused by cuBLASLt, logged)
import assert from 'node:assert';
import { describe, it } from 'node:test';
import { type EpilogueCase, describeEpilogue, epilogueInputs, epilogueReference, relError, runEpilogue } from './gemm-epilogue.ref.ts';
import { CPU, hasCuda } from './util.ts';

const GPU = 0;
const REL = { f32: 1e-5, f64: 1e-12, bf16: 1.5e-2, f16: 3e-3 } as const;

function compare(cs: EpilogueCase, againstReference = true) {
  const x = epilogueInputs(cs);
  const gpu = runEpilogue(cs, x, GPU);
  const cpu = runEpilogue(cs, x, CPU);
  const tol = REL[(cs.c ?? cs.ab) as keyof typeof REL];
  const what = describeEpilogue(cs);
  const check = (name: string, got: number[] | undefined, want: number[] | undefined, t: number) => {
    if (!want) return;
    assert.ok(got, `${what}: ${name} missing`);
    const err = relError(got, want);
    assert.ok(err <= t, `${what}: ${name} relative error ${err.toExponential(2)} > ${t}`);
  };
  check('C vs cpu', gpu.c, cpu.c, tol);
  check('aux vs cpu', gpu.aux, cpu.aux, tol);
  check('biasGrad vs cpu', gpu.biasGrad, cpu.biasGrad, Math.max(tol, REL[cs.ab as keyof typeof REL]));
  if (!againstReference) return;
  const ref = epilogueReference(cs, x);
  check('C vs reference', gpu.c, ref.c, tol);
  check('aux vs reference', gpu.aux, ref.aux, tol);
  check('biasGrad vs reference', gpu.biasGrad, ref.biasGrad, Math.max(tol, REL[cs.ab as keyof typeof REL]));
}

describe('matmul epilogues (cuda:0)', { skip: !hasCuda }, () => {
  it('fuses GELU (+ bias) into the forward GEMM, keeping its input', () => {
    compare({ epilogue: 'geluAux', m: 64, n: 128, k: 96, ab: 'bf16', transB: true, bias: true });
    compare({ epilogue: 'geluAux', m: 64, n: 128, k: 96, ab: 'bf16', transB: true });
    compare({ epilogue: 'geluAux', m: 33, n: 64, k: 40, ab: 'f16', transB: true, bias: true });
  });

  it('fuses the GELU backward and its bias gradient into the data-gradient GEMM', () => {
    compare({ epilogue: 'dgelu', m: 64, n: 128, k: 96, ab: 'bf16', biasGrad: true });
    compare({ epilogue: 'dgelu', m: 64, n: 128, k: 96, ab: 'bf16' });
  });

  it('sums the bias gradient in the weight-gradient GEMM, into bf16 or accumulating into an fp32 main grad', () => {
    compare({ epilogue: 'biasGradA', m: 128, n: 96, k: 64, ab: 'bf16', transA: true });
    compare({ epilogue: 'biasGradA', m: 128, n: 96, k: 64, ab: 'bf16', c: 'f32', transA: true, beta: 1 });
  });

  it('composes what cuBLASLt cannot fuse: f32, ragged n, non-transposed A', () => {
    compare({ epilogue: 'geluAux', m: 7, n: 37, k: 5, ab: 'f32', transB: true, bias: true });
    compare({ epilogue: 'dgelu', m: 9, n: 30, k: 17, ab: 'bf16', biasGrad: true });
    compare({ epilogue: 'biasGradA', m: 7, n: 37, k: 5, ab: 'bf16', c: 'f32', beta: 1 });
  });

  it('matches at GPT-2 MLP sizes (1024 tokens, 768 -> 3072)', () => {
    compare({ epilogue: 'geluAux', m: 1024, n: 3072, k: 768, ab: 'bf16', transB: true, bias: true }, false);
    compare({ epilogue: 'dgelu', m: 1024, n: 3072, k: 768, ab: 'bf16', biasGrad: true }, false);
    compare({ epilogue: 'biasGradA', m: 3072, n: 768, k: 1024, ab: 'bf16', c: 'f32', transA: true, beta: 1 }, false);
  });
});
