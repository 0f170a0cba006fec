// Float64 references for the pointwise kernel tests (CPU suites and GPU parity suites alike):
// every unary op and its derivative, every binary op, and the dtype rounding the kernels apply.
import { BINARY_OPS, type BinaryOpName, type DTypeName, UNARY_OPS, type UnaryOpName } from '../src/index.ts';
import { decode, encode } from './util.ts';

export const FLOAT_DTYPES = ['f32', 'f64', 'bf16', 'f16'] as const;
export const ALL_DTYPES: DTypeName[] = ['f32', 'f64', 'bf16', 'f16', 'i32', 'i64', 'bool'];
export const isFloat = (d: DTypeName) => d === 'f32' || d === 'f64' || d === 'bf16' || d === 'f16';

/** The values as `dtype` stores them (rounded to nearest even; integers truncated, bool != 0). */
export function roundTo(dtype: DTypeName, values: ArrayLike<number>): number[] {
  return decode(dtype, encode(dtype, values));
}

/** erf by its Maclaurin series; accurate to ~1e-13 for |x| <= 3 (the tests stay there). */
export function erf(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/** y = f(x). alpha/beta: Affine a*x+b, Pow x^a, Clamp [a, b]. */
export function unaryRef(op: UnaryOpName, x: number, a: number, b: number): number {
  switch (op) {
    case 'neg': return -x;
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'sqrt': return Math.sqrt(x);
    case 'rsqrt': return 1 / Math.sqrt(x);
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return sigmoid(x);
    case 'relu': return x > 0 ? x : 0;
    case 'silu': return x * sigmoid(x);
    case 'geluTanh': return 0.5 * x * (1 + Math.tanh(K * (x + C * x ** 3)));
    case 'geluErf': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'abs': return Math.abs(x);
    case 'affine': return a * x + b;
    case 'pow': return x ** a;
    case 'reciprocal': return 1 / x;
    case 'square': return x * x;
    case 'sin': return Math.sin(x);
    case 'cos': return Math.cos(x);
    case 'sign': return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'clamp': return x < a ? a : x > b ? b : x;
  }
}

/** gx = gy * f'(x). */
export function unaryGradRef(op: UnaryOpName, x: number, gy: number, a: number, b: number): number {
  switch (op) {
    case 'neg': return -gy;
    case 'exp': return gy * Math.exp(x);
    case 'log': return gy / x;
    case 'sqrt': return (gy * 0.5) / Math.sqrt(x);
    case 'rsqrt': return (gy * -0.5) / (x * Math.sqrt(x));
    case 'tanh': return gy * (1 - Math.tanh(x) ** 2);
    case 'sigmoid': { const s = sigmoid(x); return gy * s * (1 - s); }
    case 'relu': return x > 0 ? gy : 0;
    case 'silu': { const s = sigmoid(x); return gy * s * (1 + x * (1 - s)); }
    case 'geluTanh': {
      const t = Math.tanh(K * (x + C * x ** 3));
      return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K * (1 + 3 * C * x * x));
    }
    case 'geluErf': {
      const cdf = 0.5 * (1 + erf(x / Math.SQRT2));
      const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      return gy * (cdf + x * pdf);
    }
    case 'abs': return x > 0 ? gy : x < 0 ? -gy : 0;
    case 'affine': return gy * a;
    case 'pow': return a === 0 ? 0 : gy * a * x ** (a - 1);
    case 'reciprocal': return -gy / (x * x);
    case 'square': return gy * 2 * x;
    case 'sin': return gy * Math.cos(x);
    case 'cos': return -gy * Math.sin(x);
    case 'sign': return 0;
    case 'clamp': return x < a || x > b ? 0 : gy;
  }
}

/** Inputs inside each op's domain, and the op's alpha/beta. */
export function unaryCase(op: UnaryOpName): { lo: number; hi: number; a: number; b: number } {
  switch (op) {
    case 'log': case 'sqrt': case 'rsqrt': return { lo: 0.1, hi: 4, a: 0, b: 0 };
    case 'pow': return { lo: 0.1, hi: 3, a: 1.7, b: 0 };
    case 'reciprocal': return { lo: 0.25, hi: 4, a: 0, b: 0 };
    case 'affine': return { lo: -3, hi: 3, a: 1.5, b: -0.25 };
    case 'clamp': return { lo: -3, hi: 3, a: -1, b: 0.5 };
    default: return { lo: -3, hi: 3, a: 0, b: 0 };
  }
}

/** The unary ops that integers support (as core/ops.h unaryIntegerOk). */
export const INTEGER_UNARY: UnaryOpName[] = ['neg', 'abs', 'affine', 'square', 'sign', 'clamp', 'relu'];
export const UNARY_NAMES = Object.keys(UNARY_OPS) as UnaryOpName[];
export const BINARY_NAMES = Object.keys(BINARY_OPS) as BinaryOpName[];
export const isComparison = (op: BinaryOpName) => BINARY_OPS[op] >= BINARY_OPS.eq;

export function binaryRef(op: BinaryOpName, a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
    case 'pow': return a ** b;
    case 'maximum': return Number.isNaN(a) ? a : a > b ? a : b;
    case 'minimum': return Number.isNaN(a) ? a : a < b ? a : b;
    case 'eq': return +(a === b);
    case 'ne': return +(a !== b);
    case 'lt': return +(a < b);
    case 'le': return +(a <= b);
    case 'gt': return +(a > b);
    case 'ge': return +(a >= b);
    case 'logicalAnd': return +(a !== 0 && b !== 0);
    case 'logicalOr': return +(a !== 0 || b !== 0);
  }
}

/** Element offsets of a strided view of `shape`, in row-major order of the view. */
export function stridedOffsets(shape: number[], strides: number[]): number[] {
  const n = shape.reduce((x, y) => x * y, 1);
  const out = new Array<number>(n);
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (coord[d] as number) * (strides[d] as number);
    out[i] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      coord[d] = (coord[d] as number) + 1;
      if ((coord[d] as number) < (shape[d] as number)) break;
      coord[d] = 0;
    }
  }
  return out;
}

/** Row-major contiguous strides of `shape`. */
export function contiguousStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d] as number;
  }
  return s;
}

/** Smallest storage length that a strided view of `shape` reaches. */
export function extentOf(shape: number[], strides: number[]): number {
  if (shape.some((s) => s === 0)) return 0;
  return 1 + shape.reduce((acc, s, d) => acc + (s - 1) * (strides[d] as number), 0);
}
