// Helpers for the binding-level kernel tests (CPU suites under vitest, GPU suites under node:test):
// host data in and out of storages in any dtype, and closeness checks.
import { bf16ToNumber, DTYPE_CODES, type DTypeName, f16ToNumber, loadNative, numberToBf16, numberToF16 } from '../src/index.ts';

export const nb = loadNative().binding;
export const CPU = -1;
export const hasCuda = nb.buildInfo().cuda && nb.cudaDeviceCount() > 0;

const BYTES: Record<DTypeName, number> = { f32: 4, f64: 8, f16: 2, bf16: 2, i32: 4, i64: 8, bool: 1 };
export const bytesOf = (dtype: DTypeName) => BYTES[dtype];
export const code = (dtype: DTypeName) => DTYPE_CODES[dtype];

/** Encodes numbers as the raw bytes of `dtype`. */
export function encode(dtype: DTypeName, values: ArrayLike<number>): ArrayBufferView {
  const n = values.length;
  switch (dtype) {
    case 'f32': return Float32Array.from(values);
    case 'f64': return Float64Array.from(values);
    case 'i32': return Int32Array.from(values);
    case 'i64': return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
    case 'bool': return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'bf16': { const u = new Uint16Array(n); for (let i = 0; i < n; i++) u[i] = numberToBf16(values[i] as number); return u; }
    case 'f16': { const u = new Uint16Array(n); for (let i = 0; i < n; i++) u[i] = numberToF16(values[i] as number); return u; }
  }
}

export function decode(dtype: DTypeName, bytes: ArrayBufferView): number[] {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (dtype) {
    case 'f32': return [...new Float32Array(buf)];
    case 'f64': return [...new Float64Array(buf)];
    case 'i32': return [...new Int32Array(buf)];
    case 'i64': return [...new BigInt64Array(buf)].map(Number);
    case 'bool': return [...new Uint8Array(buf)];
    case 'bf16': return [...new Uint16Array(buf)].map(bf16ToNumber);
    case 'f16': return [...new Uint16Array(buf)].map(f16ToNumber);
  }
}

/** A new storage on `device` holding `values` as `dtype`. */
export function upload(device: number, dtype: DTypeName, values: ArrayLike<number>): number {
  const h = nb.alloc(device, values.length * bytesOf(dtype));
  nb.write(h, 0, encode(dtype, values));
  return h;
}

/** A new storage of n elements of `dtype`, filled with a poison value so unwritten outputs show. */
export function empty(device: number, dtype: DTypeName, n: number, poison = Number.NaN): number {
  const h = nb.alloc(device, n * bytesOf(dtype));
  nb.fill(h, 0, n, code(dtype), dtype === 'bool' || dtype.startsWith('i') ? 77 : poison);
  return h;
}

export function download(handle: number, dtype: DTypeName, n: number): number[] {
  const bytes = new Uint8Array(n * bytesOf(dtype));
  nb.read(handle, 0, bytes);
  return decode(dtype, bytes);
}

/** Deterministic pseudo-random numbers in [lo, hi) (a small LCG; no native RNG involved). */
export function randomValues(n: number, seed = 1, lo = -1, hi = 1): number[] {
  let s = seed >>> 0 || 1;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

/** Largest |a - b| / (atol + rtol * |b|) over all elements; <= 1 means close. NaN never passes. */
export function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (Number.isNaN(a) !== Number.isNaN(e)) return Number.POSITIVE_INFINITY;
    if (Number.isNaN(a) || a === e) continue;
    worst = Math.max(worst, Math.abs(a - e) / (atol + rtol * Math.abs(e)));
  }
  return worst;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = 'values'): void {
  const c = closeness(actual, expected, rtol, atol);
  if (!(c <= 1)) {
    let at = 0;
    for (let i = 0; i < actual.length; i++) {
      const a = actual[i] as number, e = expected[i] as number;
      if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) { at = i; break; }
    }
    throw new Error(`${what} differ (worst ratio ${c.toFixed(2)}): first at [${at}]: ${actual[at]} vs expected ${expected[at]}`);
  }
}

/** Tolerances for comparing a dtype's results with an fp64 reference. */
export const TOL: Record<DTypeName, { rtol: number; atol: number }> = {
  f64: { rtol: 1e-10, atol: 1e-12 },
  f32: { rtol: 1e-5, atol: 1e-6 },
  bf16: { rtol: 1.6e-2, atol: 1e-2 },
  f16: { rtol: 2e-3, atol: 1e-3 },
  i32: { rtol: 0, atol: 0 },
  i64: { rtol: 0, atol: 0 },
  bool: { rtol: 0, atol: 0 },
};
