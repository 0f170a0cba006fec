// The CPU matmul's epilogues (composed from the product, the pointwise GELU kernels and the column
// sum) against the float64 reference, and the binding's checks of the epilogue arguments.
import { describe, expect, it } from 'vitest';
import { type EpilogueCase, describeEpilogue, epilogueInputs, epilogueReference, relError, runEpilogue } from './gemm-epilogue.ref.ts';
import { CPU, code, nb, upload } from './util.ts';

// Relative error allowed per output dtype: the 16-bit outputs round once or twice.
const REL = { f32: 1e-6, f64: 1e-12, bf16: 1e-2, f16: 2e-3 } as const;

export const EPILOGUE_CASES: EpilogueCase[] = [
  { epilogue: 'geluAux', m: 7, n: 37, k: 5, ab: 'f32', transB: true, bias: true },
  { epilogue: 'geluAux', m: 9, n: 16, k: 33, ab: 'bf16', transB: true },
  { epilogue: 'dgelu', m: 7, n: 37, k: 5, ab: 'f32', biasGrad: true },
  { epilogue: 'dgelu', m: 12, n: 24, k: 10, ab: 'bf16' },
  { epilogue: 'biasGradA', m: 7, n: 37, k: 5, ab: 'f32', transA: true },
  { epilogue: 'biasGradA', m: 8, n: 16, k: 40, ab: 'bf16', c: 'f32', transA: true, beta: 1 },
  { epilogue: 'biasGradA', m: 5, n: 6, k: 9, ab: 'f64' },
];

describe('matmul epilogues (CPU)', () => {
  it.each(EPILOGUE_CASES.map((cs) => [describeEpilogue(cs), cs] as const))('%s matches the float64 reference', (_, cs) => {
    const x = epilogueInputs(cs);
    const want = epilogueReference(cs, x);
    const got = runEpilogue(cs, x, CPU);
    const tol = REL[(cs.c ?? cs.ab) as keyof typeof REL];
    expect(relError(got.c, want.c)).toBeLessThan(tol);
    if (want.aux) expect(relError(got.aux as number[], want.aux)).toBeLessThan(tol);
    if (want.biasGrad) expect(relError(got.biasGrad as number[], want.biasGrad)).toBeLessThan(Math.max(tol, REL[cs.ab as keyof typeof REL]));
  });

  it('refuses epilogue arguments that break its rules, naming the rule', () => {
    const A = upload(CPU, 'f32', [1, 2, 3, 4]);
    const F32 = code('f32');
    const call = (epilogue: number, o: { batch?: number; beta?: number; c?: 'f32' | 'bf16'; aux?: number; grad?: number; bias?: number } = {}) => () =>
      nb.matmul(A, 0, A, 0, A, 0, o.bias ?? 0, 0, 2, 2, 1, false, false, o.batch ?? 1, 0, 0, 0, F32, code(o.c ?? 'f32'), F32, 1, o.beta ?? 0,
        epilogue, o.aux ?? 0, 0, o.grad ?? 0, 0, F32);
    const aux = upload(CPU, 'f32', [0, 0, 0, 0]);
    expect(call(9)).toThrow(/unknown epilogue code 9/);
    expect(call(1, { batch: 2, aux })).toThrow(/gelu epilogue needs an unbatched product/);
    expect(call(1, { beta: 1, aux })).toThrow(/needs beta = 0/);
    expect(call(1)).toThrow(/gelu epilogue needs an aux tensor \[2, 2\] of f32/);
    expect(call(3)).toThrow(/bias gradient epilogue needs a biasGrad tensor of 2 elements/);
    expect(call(2, { aux, bias: A })).toThrow(/gelu backward epilogue takes no bias/);
    expect(call(3, { bias: A, grad: aux })).toThrow(/bias gradient epilogue takes no bias/);
    for (const h of [A, aux]) nb.free(h);
  });
});
