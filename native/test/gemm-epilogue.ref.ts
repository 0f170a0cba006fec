// The matmul epilogues (GELU with its input kept, GELU backward with a bias gradient, the row sums
// of op(A)) against a float64 reference, shared by the CPU test and the CUDA-vs-CPU test.
import { GEMM_EPILOGUES, type DTypeName, type GemmEpilogueName } from '../src/index.ts';
import { code, download, empty, nb, randomValues, upload } from './util.ts';

export interface EpilogueCase {
  epilogue: Exclude<GemmEpilogueName, 'none'>;
  m: number;
  n: number;
  k: number;
  ab: DTypeName;
  /** C's dtype (default ab); only biasGradA may use f32 with 16-bit inputs. */
  c?: DTypeName;
  transA?: boolean;
  transB?: boolean;
  /** geluAux: add a bias [n]. */
  bias?: boolean;
  /** dgelu: also write the bias gradient (always for biasGradA). */
  biasGrad?: boolean;
  beta?: number;
  alpha?: number;
}

export interface EpilogueResult {
  c: number[];
  aux?: number[];
  biasGrad?: number[];
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)));
export function geluTanhGrad(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

/** The inputs of a case, each rounded through its dtype (so the reference sees what the kernels see). */
export function epilogueInputs(cs: EpilogueCase, seed = 7) {
  const round = (dtype: DTypeName, v: number[]) => {
    const h = upload(-1, dtype, v);
    const r = download(h, dtype, v.length);
    nb.free(h);
    return r;
  };
  const c = cs.c ?? cs.ab;
  return {
    a: round(cs.ab, randomValues(cs.m * cs.k, seed)),
    b: round(cs.ab, randomValues(cs.k * cs.n, seed + 1)),
    bias: round(c, randomValues(cs.n, seed + 2)),
    // the GELU input for dgelu: spread over [-3, 3] where gelu' varies most
    aux: round(c, randomValues(cs.m * cs.n, seed + 3, -3, 3)),
    c0: round(c, randomValues(cs.m * cs.n, seed + 4)),
  };
}

/** float64 reference of the case. */
export function epilogueReference(cs: EpilogueCase, x: ReturnType<typeof epilogueInputs>): EpilogueResult {
  const { m, n, k } = cs;
  const A = (i: number, p: number) => (cs.transA ? (x.a[p * m + i] as number) : (x.a[i * k + p] as number));
  const B = (p: number, j: number) => (cs.transB ? (x.b[j * k + p] as number) : (x.b[p * n + j] as number));
  const prod = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A(i, p) * B(p, j);
      prod[i * n + j] = (cs.alpha ?? 1) * s;
    }
  if (cs.epilogue === 'geluAux') {
    const aux = prod.map((v, idx) => v + (cs.bias ? (x.bias[idx % n] as number) : 0));
    return { c: aux.map(geluTanh), aux };
  }
  if (cs.epilogue === 'dgelu') {
    const c = prod.map((v, idx) => v * geluTanhGrad(x.aux[idx] as number));
    const biasGrad = cs.biasGrad ? Array.from({ length: n }, (_, j) => c.reduce((s, v, idx) => (idx % n === j ? s + v : s), 0)) : undefined;
    return { c, biasGrad };
  }
  const beta = cs.beta ?? 0;
  const c = prod.map((v, idx) => v + beta * (x.c0[idx] as number));
  const biasGrad = Array.from({ length: m }, (_, i) => {
    let s = 0;
    for (let p = 0; p < k; p++) s += A(i, p);
    return s;
  });
  return { c, biasGrad };
}

/** Runs the case on `device` (-1: CPU). */
export function runEpilogue(cs: EpilogueCase, x: ReturnType<typeof epilogueInputs>, device: number): EpilogueResult {
  const c = cs.c ?? cs.ab;
  const gradDtype = c === 'f32' ? cs.ab : c;
  const { m, n, k } = cs;
  const A = upload(device, cs.ab, x.a);
  const B = upload(device, cs.ab, x.b);
  const C = upload(device, c, x.c0);
  const bias = cs.bias ? upload(device, c, x.bias) : 0;
  const aux = cs.epilogue === 'dgelu' ? upload(device, c, x.aux) : cs.epilogue === 'geluAux' ? empty(device, c, m * n) : 0;
  const gradLength = cs.epilogue === 'biasGradA' ? m : n;
  const wantGrad = cs.epilogue === 'biasGradA' || cs.biasGrad;
  const biasGrad = wantGrad ? empty(device, gradDtype, gradLength) : 0;
  try {
    nb.matmul(A, 0, B, 0, C, 0, bias, 0, m, n, k, !!cs.transA, !!cs.transB, 1, m * k, k * n, m * n, code(cs.ab), code(c), code(c),
      cs.alpha ?? 1, cs.beta ?? 0, GEMM_EPILOGUES[cs.epilogue], aux, 0, biasGrad, 0, code(gradDtype));
    return {
      c: download(C, c, m * n),
      aux: cs.epilogue === 'geluAux' ? download(aux, c, m * n) : undefined,
      biasGrad: wantGrad ? download(biasGrad, gradDtype, gradLength) : undefined,
    };
  } finally {
    for (const h of [A, B, C, bias, aux, biasGrad]) if (h) nb.free(h);
  }
}

/** ||got - want|| / ||want||. */
export function relError(got: number[], want: number[]): number {
  let num = 0;
  let den = 0;
  want.forEach((w, i) => {
    num += ((got[i] as number) - w) ** 2;
    den += w * w;
  });
  return Math.sqrt(num / Math.max(den, 1e-30));
}

export function describeEpilogue(cs: EpilogueCase): string {
  return `${cs.epilogue} ${cs.m}x${cs.n}x${cs.k} ${cs.ab}->${cs.c ?? cs.ab}${cs.transA ? ' transA' : ''}${cs.transB ? ' transB' : ''}${cs.bias ? ' +bias' : ''}${cs.biasGrad ? ' +biasGrad' : ''}${cs.beta ? ` beta ${cs.beta}` : ''}`;
}
