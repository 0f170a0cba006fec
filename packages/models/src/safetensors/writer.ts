// Writes safetensors files the way the reference implementation lays them out: tensors sorted by
// element size (largest first) then name, so every tensor starts aligned to its element size; the
// JSON header padded with spaces to a multiple of 8 bytes, so the data starts 8-byte aligned.
// Sharded checkpoints get Hugging Face's names and model.safetensors.index.json.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '@tessera/core';
import { dtypeBytes, isSafetensorsDType, type SafetensorsDType, safetensorsDType } from './dtypes.ts';
import { INDEX_FILE } from './checkpoint.ts';

/** Raw bytes with their safetensors dtype and shape (little-endian, row-major). */
export interface TensorBytes {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView;
}

export type Writable = Tensor | TensorBytes;

function toBytes(name: string, t: Writable): { dtype: SafetensorsDType; shape: readonly number[]; bytes: Uint8Array } {
  if (t instanceof Tensor) {
    const raw = t.toTypedArray();
    return { dtype: safetensorsDType(t.dtype), shape: t.shape, bytes: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
  }
  if (!isSafetensorsDType(t.dtype)) throw new Error(`safetensors writer: tensor '${name}' has unknown dtype ${JSON.stringify(t.dtype)}`);
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const need = t.shape.reduce((a, b) => a * b, dtypeBytes(t.dtype));
  if (bytes.byteLength !== need) {
    throw new Error(`safetensors writer: tensor '${name}' is ${t.dtype}[${t.shape.join(', ')}] (${need} bytes) but ${bytes.byteLength} bytes were given`);
  }
  return { dtype: t.dtype, shape: t.shape, bytes };
}

/** The complete file contents for `tensors` (and optional string metadata). */
export function serializeSafetensors(tensors: Readonly<Record<string, Writable>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  if ('__metadata__' in tensors) throw new Error("safetensors writer: '__metadata__' is reserved and cannot name a tensor");
  const items = Object.entries(tensors).map(([name, t]) => ({ name, ...toBytes(name, t) }));
  items.sort((a, b) => dtypeBytes(b.dtype) - dtypeBytes(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [offset, offset + it.bytes.byteLength] };
    offset += it.bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + padded);
  let at = 8 + padded;
  for (const it of items) {
    out.set(it.bytes, at);
    at += it.bytes.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (a temporary file renamed into place). */
export function writeSafetensors(path: string, tensors: Readonly<Record<string, Writable>>, metadata?: Readonly<Record<string, string>>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, serializeSafetensors(tensors, metadata));
  renameSync(tmp, path);
}

/**
 * Writes `tensors` into `shards` files named model-0000i-of-0000n.safetensors (split in the given
 * order, each shard taking about an equal share of the bytes) and the index mapping each tensor to
 * its file. Returns the shard file names.
 */
export function writeShardedSafetensors(dir: string, tensors: Readonly<Record<string, Writable>>, shards: number, metadata?: Readonly<Record<string, string>>): string[] {
  const names = Object.keys(tensors);
  if (!Number.isInteger(shards) || shards < 1 || shards > names.length) {
    throw new Error(`safetensors writer: cannot split ${names.length} tensors into ${shards} shards`);
  }
  const size = (n: string) => toBytes(n, tensors[n] as Writable).bytes.byteLength;
  const total = names.reduce((a, n) => a + size(n), 0);
  const groups: string[][] = Array.from({ length: shards }, () => []);
  let acc = 0;
  let k = 0;
  names.forEach((n, i) => {
    // Move to the next shard once this one holds its share of the bytes, never skipping a shard
    // and leaving at least one tensor for each shard after it.
    const share = total > 0 ? Math.floor((acc * shards) / total) : 0;
    k = Math.max(Math.min(share, k + 1, shards - 1), k, shards - (names.length - i));
    groups[k]?.push(n);
    acc += size(n);
  });
  const pad = (i: number) => String(i).padStart(5, '0');
  const files = groups.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards)}.safetensors`);
  const weightMap: Record<string, string> = {};
  groups.forEach((g, i) => {
    const file = files[i] as string;
    writeSafetensors(join(dir, file), Object.fromEntries(g.map((n) => [n, tensors[n] as Writable])), metadata);
    for (const n of g) weightMap[n] = file;
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  writeFileSync(join(dir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  return files;
}
