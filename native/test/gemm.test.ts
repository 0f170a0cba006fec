// CPU matmul against a float64 reference: every transpose / dtype / alpha / beta / bias / batch
// combination, sizes 0, 1, odd and across the kernel's register and cache blocks, strides,
// offsets and the untouched memory around C.
import { afterEach, describe, expect, it } from 'vitest';
import { checkResult, crossProductCases, describeCase, type MatmulCase, makeData, runMatmul } from './gemm.ref.ts';
import { CPU, code, download, nb, upload } from './util.ts';

const run = (cs: MatmulCase) => {
  const d = makeData(cs);
  const got = runMatmul(d, CPU);
  checkResult(d, got);
  return got;
};

describe('matmul (CPU)', () => {
  const threads = nb.numThreads();
  afterEach(() => nb.setNumThreads(threads));

  // m = 7 and n = 37 each span two register tiles (6 rows, 16 or 32 columns), with ragged edges.
  it('matches the reference for every dtype, transpose, batch, alpha/beta and bias combination', () => {
    const cases = crossProductCases(7, 37, 5);
    expect(cases.length).toBe(288);
    for (const cs of cases) run(cs);
  });

  it('handles every mix of sizes 0, 1, 7, 65 and 257 (k = 0 leaves beta*C + bias)', () => {
    const sizes = [0, 1, 7, 65, 257];
    let i = 0;
    for (const m of sizes)
      for (const n of sizes)
        for (const k of sizes) {
          const ab = i % 3 === 2 ? 'bf16' : 'f32';
          run({ m, n, k, ab, c: 'f32', transA: (i & 1) === 1, transB: (i & 2) === 2, alpha: 0.75, beta: 1, bias: true });
          i++;
        }
  });

  it('crosses the cache blocks (KC = 256, MC = 96, NC = 512 / 256) with every transpose', () => {
    for (const [ab, c] of [['f32', 'f32'], ['f64', 'f64'], ['bf16', 'f32'], ['bf16', 'bf16']] as const)
      for (const transA of [false, true])
        for (const transB of [false, true])
          run({ m: 100, n: 530, k: 300, ab, c, transA, transB, alpha: 1, beta: ab === 'bf16' ? 0 : 1, bias: true });
  });

  it('ignores C entirely when beta = 0, even NaN, and accumulates into it when beta = 1', () => {
    // makeData poisons C with NaN whenever beta = 0; a kernel that reads it returns NaN.
    const clean = run({ m: 9, n: 40, k: 17, ab: 'f32', beta: 0 });
    expect(clean.every(Number.isFinite)).toBe(true);
    const C = upload(CPU, 'f32', new Array(6).fill(1));
    const A = upload(CPU, 'f32', [1, 2, 3, 4]); // [2, 2]
    const B = upload(CPU, 'f32', [1, 0, 1, 0, 1, 1]); // [2, 3]
    const args = [A, 0, B, 0, C, 0, 0, 0, 2, 3, 2, false, false, 1, 0, 0, 0, code('f32'), code('f32'), code('f32')] as const;
    nb.matmul(...args, 1, 1, 0, 0, 0, 0, 0, 0);
    nb.matmul(...args, 1, 1, 0, 0, 0, 0, 0, 0);
    expect(download(C, 'f32', 6)).toEqual([3, 5, 7, 7, 9, 15]); // 1 + 2 * (A @ B), A @ B = [[1, 2, 3], [3, 4, 7]]
    for (const h of [A, B, C]) nb.free(h);
  });

  it('accumulates bf16 and f16 products into an fp32 C (gradient-accumulation fusion)', () => {
    for (const ab of ['bf16', 'f16'] as const)
      for (const transB of [false, true])
        run({ m: 65, n: 48, k: 130, ab, c: 'f32', transA: true, transB, beta: 1, batch: 2 });
  });

  it('takes an f32 bias with 16-bit outputs and an abDtype bias with f32 outputs, and f64 inputs into f32', () => {
    run({ m: 13, n: 70, k: 9, ab: 'bf16', c: 'bf16', bias: true, biasDtype: 'f32', beta: 0.5 });
    run({ m: 13, n: 70, k: 9, ab: 'f16', c: 'f16', bias: true, biasDtype: 'f32' });
    run({ m: 13, n: 70, k: 9, ab: 'bf16', c: 'f32', bias: true, biasDtype: 'bf16', beta: 1 });
    run({ m: 13, n: 70, k: 9, ab: 'f64', c: 'f32', bias: true, beta: 1 });
  });

  it('honours batch strides and offsets, shares B with stride 0, and writes nothing outside C', () => {
    // pad: gaps between batch matrices hold NaN that must survive; offset: tensors start mid-storage.
    for (const transA of [false, true])
      run({ m: 11, n: 35, k: 19, ab: 'f32', transA, transB: !transA, batch: 3, pad: 5, offset: 3, shareB: true, beta: 1, bias: true });
    run({ m: 11, n: 35, k: 19, ab: 'bf16', c: 'f32', batch: 4, pad: 2, offset: 1, beta: 0, bias: true });
  });

  it('gives bit-identical results with 1 and 2 threads', () => {
    const cs = { m: 200, n: 300, k: 600, ab: 'f32', transB: true, batch: 2, beta: 1, bias: true } as const;
    nb.setNumThreads(1);
    const one = runMatmul(makeData(cs), CPU);
    nb.setNumThreads(2);
    const two = runMatmul(makeData(cs), CPU);
    expect(two).toEqual(one);
  });

  it('names the case when a result is wrong (the check can fail)', () => {
    const d = makeData({ m: 3, n: 4, k: 5, ab: 'f32' });
    const got = runMatmul(d, CPU);
    got[5] = (got[5] as number) + 1e-3;
    expect(() => checkResult(d, got)).toThrow(/element \[5\]/);
    expect(describeCase(d.cs)).toBe('f32->f32 NN m=3 n=4 k=5 batch=1 alpha=1 beta=0');
  });

  it('refuses an output dtype other than the inputs\' or f32', () => {
    const A = upload(CPU, 'bf16', [1]);
    const C = upload(CPU, 'f16', [0]);
    expect(() => nb.matmul(A, 0, A, 0, C, 0, 0, 0, 1, 1, 1, false, false, 1, 0, 0, 0, code('bf16'), code('f16'), code('f16'), 1, 0, 0, 0, 0, 0, 0, 0))
      .toThrow(/output must have the inputs' dtype or be f32/);
    nb.free(A);
    nb.free(C);
  });
});
