// Turns a collated micro-batch of typed arrays into tensors on a device: integer fields become
// i64 by default (what embedding lookups and cross entropy take), float fields f32, byte fields bool.
import { type DeviceLike, type DType, type Tensor, tensor } from '@tessera/core';
import type { Batch, FieldArray } from './collate.ts';

export interface ToTensorsOptions {
  device?: DeviceLike;
  /** dtype for integer fields (default 'i64'). */
  intDtype?: 'i32' | 'i64';
}

function dtypeOf(data: FieldArray, intDtype: DType): DType {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Uint8Array) return 'bool';
  if (data instanceof BigInt64Array) return 'i64';
  return intDtype;
}

/** One tensor per field, shaped as collated; the caller owns (disposes) them. */
export function toTensors(batch: Batch, options: ToTensorsOptions = {}): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, field] of Object.entries(batch)) {
    out[name] = tensor(field.data, { shape: field.shape, dtype: dtypeOf(field.data, options.intDtype ?? 'i64'), device: options.device });
  }
  return out;
}
