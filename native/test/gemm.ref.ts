// Float64 reference for matmul and the plumbing its CPU (vitest) and GPU (node:test) suites share:
// lay a case's inputs out in storages, run the binding's matmul on a device, read C back.
import type { DTypeName } from '../src/index.ts';
import { code, decode, download, encode, nb, randomValues, TOL, upload } from './util.ts';

export interface MatmulCase {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  alpha?: number;
  beta?: number;
  bias?: boolean;
  /** dtype of A and B */
  ab: DTypeName;
  /** dtype of C (default: ab) */
  c?: DTypeName;
  /** dtype of the bias (default: C's) */
  biasDtype?: DTypeName;
  /** extra elements after each batch matrix of A / B / C (so strides exceed the matrix size) */
  pad?: number;
  /** strideB = 0: one B shared by every batch entry */
  shareB?: boolean;
  /** elements before each tensor's first element (a nonzero offset into its storage) */
  offset?: number;
  seed?: number;
}

/** Host copies of everything a case puts in storages, already rounded to their dtypes. */
export interface MatmulData {
  cs: Required<Omit<MatmulCase, 'seed'>>;
  a: number[];
  b: number[];
  /** C's whole storage before the call: NaN outside the matrices, and inside them too when beta = 0 */
  c0: number[];
  bias: number[] | null;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** Rounds values to what `dtype` holds, so references see exactly the kernel's inputs. */
export const quantize = (dtype: DTypeName, values: number[]) => decode(dtype, encode(dtype, values));

export function describeCase(cs: MatmulCase): string {
  const t = `${cs.transA ? 'T' : 'N'}${cs.transB ? 'T' : 'N'}`;
  const types = `${cs.ab}->${cs.c ?? cs.ab}${cs.bias ? `+bias:${cs.biasDtype ?? cs.c ?? cs.ab}` : ''}`;
  return `${types} ${t} m=${cs.m} n=${cs.n} k=${cs.k} batch=${cs.batch ?? 1} alpha=${cs.alpha ?? 1} beta=${cs.beta ?? 0}`;
}

export function makeData(input: MatmulCase): MatmulData {
  const cs = {
    transA: false, transB: false, batch: 1, alpha: 1, beta: 0, bias: false, pad: 0, shareB: false, offset: 0,
    ...input,
    c: input.c ?? input.ab,
    biasDtype: input.biasDtype ?? input.c ?? input.ab,
  };
  const { m, n, k, batch, pad, offset } = cs;
  const seed = input.seed ?? 1 + m * 7 + n * 13 + k * 31 + batch;
  const strideA = m * k + pad;
  const strideB = cs.shareB ? 0 : k * n + pad;
  const strideC = m * n + pad;
  const sizeOf = (stride: number, one: number) => offset + (batch - 1) * stride + one;
  const a = quantize(cs.ab, randomValues(sizeOf(strideA, m * k), seed, -1, 1));
  const b = quantize(cs.ab, randomValues(sizeOf(strideB, k * n), seed + 1, -1, 1));
  const c0 = new Array<number>(sizeOf(strideC, m * n)).fill(Number.NaN);
  if (cs.beta !== 0) {
    const init = quantize(cs.c, randomValues(c0.length, seed + 2, -1, 1));
    forEachC(cs, strideC, (at) => { c0[at] = init[at] as number; });
  }
  const bias = cs.bias ? quantize(cs.biasDtype, randomValues(n, seed + 3, -1, 1)) : null;
  return { cs, a, b, c0, bias, strideA, strideB, strideC };
}

/** Calls f with the storage index of every element of every batch matrix of C. */
function forEachC(cs: { m: number; n: number; batch: number; offset: number }, strideC: number, f: (at: number) => void) {
  for (let bi = 0; bi < cs.batch; bi++)
    for (let i = 0; i < cs.m * cs.n; i++) f(cs.offset + bi * strideC + i);
}

/**
 * Expected C storage after the call (untouched NaN outside the matrices), and per element the
 * magnitude |alpha| * sum |a*b| + |beta * c| + |bias| that rounding errors scale with.
 */
export function reference(d: MatmulData): { out: number[]; mag: number[] } {
  const { m, n, k, transA, transB, batch, alpha, beta, offset } = d.cs;
  const out = d.c0.slice();
  const mag = new Array<number>(out.length).fill(0);
  const dot = new Float64Array(n);
  const abs = new Float64Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const a0 = offset + bi * d.strideA, b0 = offset + bi * d.strideB, c0 = offset + bi * d.strideC;
    for (let i = 0; i < m; i++) {
      dot.fill(0);
      abs.fill(0);
      for (let l = 0; l < k; l++) {
        const av = d.a[transA ? a0 + l * m + i : a0 + i * k + l] as number;
        for (let j = 0; j < n; j++) {
          const p = av * (d.b[transB ? b0 + j * k + l : b0 + l * n + j] as number);
          dot[j] = (dot[j] as number) + p;
          abs[j] = (abs[j] as number) + Math.abs(p);
        }
      }
      for (let j = 0; j < n; j++) {
        const at = c0 + i * n + j;
        const cOld = d.c0[at] as number;
        const bias = d.bias ? (d.bias[j] as number) : 0;
        out[at] = alpha * (dot[j] as number) + (beta !== 0 ? beta * cOld : 0) + bias;
        mag[at] = Math.abs(alpha) * (abs[j] as number) + (beta !== 0 ? Math.abs(beta * cOld) : 0) + Math.abs(bias);
      }
    }
  }
  return { out, mag };
}

/** Runs the case on `device` (-1: CPU) and returns C's whole storage. */
export function runMatmul(d: MatmulData, device: number): number[] {
  const { cs } = d;
  const A = upload(device, cs.ab, d.a);
  const B = upload(device, cs.ab, d.b);
  const C = upload(device, cs.c, d.c0);
  const bias = d.bias ? upload(device, cs.biasDtype, d.bias) : 0;
  try {
    nb.matmul(A, cs.offset, B, cs.offset, C, cs.offset, bias, 0, cs.m, cs.n, cs.k, cs.transA, cs.transB, cs.batch,
      d.strideA, d.strideB, d.strideC, code(cs.ab), code(cs.c), code(cs.biasDtype), cs.alpha, cs.beta, 0, 0, 0, 0, 0, 0);
    return download(C, cs.c, d.c0.length);
  } finally {
    for (const h of [A, B, C, bias]) if (h) nb.free(h);
  }
}

/** Throws unless every element is within rtol*mag + atol of the reference (NaN must match NaN). */
export function assertMatches(got: number[], ref: { out: number[]; mag: number[] }, rtol: number, atol: number, what: string) {
  for (let i = 0; i < got.length; i++) {
    const g = got[i] as number, e = ref.out[i] as number;
    const ok = Number.isNaN(e) ? Number.isNaN(g) : Math.abs(g - e) <= rtol * (ref.mag[i] as number) + atol;
    if (!ok) throw new Error(`${what}: element [${i}] is ${g}, expected ${e} (scale ${ref.mag[i]})`);
  }
}

/** Checks a run against the reference with the tolerance of C's dtype (util.ts TOL). */
export function checkResult(d: MatmulData, got: number[], what = describeCase(d.cs)) {
  const { rtol, atol } = TOL[d.cs.c];
  assertMatches(got, reference(d), rtol, atol, what);
}

/** ||x - y|| / ||y|| over the elements where y is not NaN (the matrices); NaN positions must agree. */
export function relativeError(x: number[], y: number[]): number {
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) {
    const a = x[i] as number, b = y[i] as number;
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) return Number.POSITIVE_INFINITY;
      continue;
    }
    num += (a - b) ** 2;
    den += b * b;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export const DTYPE_COMBOS: { ab: DTypeName; c: DTypeName }[] = [
  { ab: 'f32', c: 'f32' }, { ab: 'f64', c: 'f64' }, { ab: 'bf16', c: 'bf16' }, { ab: 'f16', c: 'f16' },
  { ab: 'bf16', c: 'f32' }, { ab: 'f16', c: 'f32' },
];

/** The small full cross product: every dtype pair, transpose, batch, alpha/beta and bias setting. */
export function crossProductCases(m: number, n: number, k: number): MatmulCase[] {
  const cases: MatmulCase[] = [];
  const scalars = [{ alpha: 1, beta: 0 }, { alpha: 0.5, beta: 1 }, { alpha: -1.5, beta: 0.25 }];
  for (const { ab, c } of DTYPE_COMBOS)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const batch of [1, 3])
          for (const s of scalars)
            for (const bias of [false, true]) cases.push({ m, n, k, ab, c, transA, transB, batch, bias, ...s });
  return cases;
}
