// The element types a safetensors header may name, their sizes, and the Tessera dtype each one
// becomes when read as a tensor (types core has no tensor for can still be read as raw bytes).
import type { DType } from '@tessera/core';

export type SafetensorsDType =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

interface DTypeInfo {
  bytes: number;
  tessera: DType | undefined;
}

const TABLE: Record<SafetensorsDType, DTypeInfo> = {
  F64: { bytes: 8, tessera: 'f64' },
  F32: { bytes: 4, tessera: 'f32' },
  F16: { bytes: 2, tessera: 'f16' },
  BF16: { bytes: 2, tessera: 'bf16' },
  F8_E4M3: { bytes: 1, tessera: undefined },
  F8_E5M2: { bytes: 1, tessera: undefined },
  I64: { bytes: 8, tessera: 'i64' },
  I32: { bytes: 4, tessera: 'i32' },
  I16: { bytes: 2, tessera: undefined },
  I8: { bytes: 1, tessera: undefined },
  U64: { bytes: 8, tessera: undefined },
  U32: { bytes: 4, tessera: undefined },
  U16: { bytes: 2, tessera: undefined },
  U8: { bytes: 1, tessera: undefined },
  BOOL: { bytes: 1, tessera: 'bool' },
};

export const SAFETENSORS_DTYPES = Object.keys(TABLE) as SafetensorsDType[];

export function isSafetensorsDType(name: unknown): name is SafetensorsDType {
  return typeof name === 'string' && Object.hasOwn(TABLE, name);
}

export function dtypeBytes(dtype: SafetensorsDType): number {
  return TABLE[dtype].bytes;
}

/** The Tessera dtype for a safetensors dtype, or undefined when core has no such tensor type. */
export function tesseraDType(dtype: SafetensorsDType): DType | undefined {
  return TABLE[dtype].tessera;
}

/** The safetensors name for a Tessera dtype (every Tessera dtype has one). */
export function safetensorsDType(dtype: DType): SafetensorsDType {
  const found = SAFETENSORS_DTYPES.find((d) => TABLE[d].tessera === dtype);
  if (!found) throw new Error(`no safetensors dtype for the Tessera dtype '${dtype}'`);
  return found;
}
