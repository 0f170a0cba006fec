// NumPy's .npy format (versions 1-3) for Megatron's cached index files: written like
// `numpy.save` and read like `numpy.load(mmap_mode='r')` (a zero-copy view of the mapped file).
import { closeSync, openSync, writeSync } from 'node:fs';
import { mapFile } from '@tessera/core';
import { DatasetFileError } from '../indexed/errors.ts';

export type NpyArray = Int32Array | Uint32Array | Int16Array | BigInt64Array | Float64Array | Uint16Array | Uint8Array | Int8Array;

const DESCR: [string, { new (buffer: ArrayBufferLike, byteOffset: number, length: number): NpyArray; BYTES_PER_ELEMENT: number }][] = [
  ['<i4', Int32Array],
  ['<u4', Uint32Array],
  ['<i2', Int16Array],
  ['<i8', BigInt64Array],
  ['<f8', Float64Array],
  ['<u2', Uint16Array],
  ['|u1', Uint8Array],
  ['|i1', Int8Array],
];

function descrOf(a: NpyArray): string {
  for (const [d, C] of DESCR) if (a instanceof C) return d;
  throw new TypeError('npy: unsupported array type');
}

/** The bytes numpy.save writes for a C-ordered array of the given shape. */
export function encodeNpy(data: NpyArray, shape: number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const prefix = 10; // magic (6) + version (2) + header length (2)
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  header = `${header.padEnd(total - prefix - 1, ' ')}\n`;
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export function saveNpy(path: string, data: NpyArray, shape: number[] = [data.length]): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, encodeNpy(data, shape));
  } finally {
    closeSync(fd);
  }
}

export interface Npy {
  data: NpyArray;
  shape: number[];
}

/** Parses .npy bytes (a view, not a copy, when the data offset is aligned). */
export function decodeNpy(bytes: Uint8Array, file: string): Npy {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw new DatasetFileError(file, 'not a .npy file (wrong magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new DatasetFileError(file, `unreadable .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new DatasetFileError(file, '.npy arrays in Fortran order are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const entry = DESCR.find(([d]) => d === descr || (d.startsWith('|') && d.slice(1) === descr.slice(1)));
  if (!entry) throw new DatasetFileError(file, `.npy dtype ${descr} is not supported`);
  const Ctor = entry[1];
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (offset + count * Ctor.BYTES_PER_ELEMENT > bytes.length) throw new DatasetFileError(file, `truncated .npy: ${bytes.length} bytes for ${count} elements of ${descr}`);
  const abs = bytes.byteOffset + offset;
  const data = abs % Ctor.BYTES_PER_ELEMENT === 0
    ? new Ctor(bytes.buffer, abs, count)
    : new Ctor(bytes.slice(offset, offset + count * Ctor.BYTES_PER_ELEMENT).buffer, 0, count);
  return { data, shape };
}

/** numpy.load(path, mmap_mode='r'). */
export function loadNpy(path: string): Npy {
  return decodeNpy(mapFile(path), path);
}
