// Element types: names, sizes, kinds, and the promotion rule for mixed-type arithmetic.
import { DTYPE_CODES, type DTypeCode, type DTypeName } from '@tessera/native';

export type DType = DTypeName;
export const DTYPES = Object.keys(DTYPE_CODES) as DType[];

const BYTES: Record<DType, number> = { f32: 4, f64: 8, f16: 2, bf16: 2, i32: 4, i64: 8, bool: 1 };

export function dtypeCode(dtype: DType): DTypeCode {
  return DTYPE_CODES[dtype];
}

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

export function isFloatingDtype(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f64' || dtype === 'f16' || dtype === 'bf16';
}

export function isIntegerDtype(dtype: DType): boolean {
  return dtype === 'i32' || dtype === 'i64';
}

export function checkDtype(dtype: unknown): DType {
  if (typeof dtype === 'string' && (DTYPES as string[]).includes(dtype)) return dtype as DType;
  throw new TypeError(`unknown dtype ${JSON.stringify(dtype)}; use one of ${DTYPES.join(', ')}`);
}

// Rank used for promotion: bool < ints < 16-bit floats < f32 < f64.
const RANK: Record<DType, number> = { bool: 0, i32: 1, i64: 2, f16: 3, bf16: 3, f32: 4, f64: 5 };

/** The dtype two operands are computed in (PyTorch's rule, minus complex types). */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if ((a === 'f16' && b === 'bf16') || (a === 'bf16' && b === 'f16')) return 'f32';
  return RANK[a] >= RANK[b] ? a : b;
}

/** The dtype of `tensor (op) scalar`: the tensor's, unless a fractional scalar meets an integer tensor. */
export function scalarResultType(dtype: DType, scalar: number): DType {
  if (!isFloatingDtype(dtype) && !Number.isInteger(scalar)) return 'f32';
  return dtype;
}
