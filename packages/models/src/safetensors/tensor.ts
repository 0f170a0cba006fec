// Turning raw safetensors bytes into Tessera tensors (one copy, into the tensor's own storage).
import { type DeviceLike, fromBytes, type Tensor } from '@tessera/core';
import { tesseraDType } from './dtypes.ts';
import type { Selection } from './selection.ts';
import type { RawTensor, TensorSource } from './source.ts';

export function rawToTensor(raw: RawTensor, name: string, device?: DeviceLike): Tensor {
  const dtype = tesseraDType(raw.dtype);
  if (!dtype) {
    throw new Error(`tensor '${name}' is ${raw.dtype}, which Tessera has no tensor type for; read its bytes with source.read() instead`);
  }
  return fromBytes(raw.bytes, raw.shape, dtype, device);
}

/** Reads a tensor (or the selected part of it) from a source as a Tessera tensor. */
export function readTensor(source: TensorSource, name: string, opts: { selection?: Selection; device?: DeviceLike } = {}): Tensor {
  return rawToTensor(source.read(name, opts.selection), name, opts.device);
}
