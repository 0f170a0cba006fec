// Parses and validates a safetensors header: an 8-byte little-endian length N, then N bytes of
// UTF-8 JSON mapping tensor names to { dtype, shape, data_offsets } (offsets relative to the
// first byte after the header), plus an optional "__metadata__" of string values. The checks
// follow the reference implementation, so a file it refuses is refused here too: every tensor's
// byte range must match its dtype and shape, and the ranges must tile the data exactly (no
// overlaps, no gaps, nothing after the last tensor).
import { dtypeBytes, isSafetensorsDType, SAFETENSORS_DTYPES, type SafetensorsDType } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';

/** The reference implementation refuses headers larger than this; so do we. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Byte range in the file (absolute, header included). */
  readonly start: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Where the tensor data begins: 8 + the header length. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in file order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number): TensorEntry {
  const bad = (fault: string) => new SafetensorsError(file, `tensor '${name}': ${fault}`);
  if (!isObject(raw)) throw bad(`expected an object with dtype, shape and data_offsets, got ${JSON.stringify(raw)}`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (!isSafetensorsDType(dtype)) {
    throw bad(`unknown dtype ${JSON.stringify(dtype)} (known: ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || (offsets[0] as number) > (offsets[1] as number)) {
    throw bad(`data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const numel = shape.reduce((a: number, b: number) => a * b, 1);
  const bytes = numel * dtypeBytes(dtype);
  if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
    throw bad(`shape/size mismatch: ${dtype}[${shape.join(', ')}] needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: Object.freeze([...shape]), start: dataStart + begin, end: dataStart + end };
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new SafetensorsError(file, `__metadata__ must be an object of strings, got ${JSON.stringify(raw)}`);
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__ value '${k}' must be a string, got ${JSON.stringify(v)}`);
  }
  return raw as Record<string, string>;
}

/** Checks that the tensors' byte ranges tile [dataStart, fileSize) exactly. */
function checkTiling(file: string, entries: TensorEntry[], dataStart: number, fileSize: number): void {
  const byStart = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  let at = dataStart;
  let prev: TensorEntry | undefined;
  for (const e of byStart) {
    if (e.end > fileSize) {
      throw new SafetensorsError(file, `offsets out of range: tensor '${e.name}' ends at data byte ${e.end - dataStart} but the file holds only ${fileSize - dataStart} bytes of data`, 'the file is probably truncated; download or write it again');
    }
    if (e.start < at) {
      throw new SafetensorsError(file, `overlapping tensors: '${e.name}' starts at data byte ${e.start - dataStart}, inside '${prev?.name}' (which ends at ${at - dataStart})`);
    }
    if (e.start > at) {
      throw new SafetensorsError(file, `${e.start - at} unused bytes before tensor '${e.name}' (data bytes ${at - dataStart} to ${e.start - dataStart}); safetensors requires the tensors to be packed without gaps`);
    }
    at = e.end;
    prev = e;
  }
  if (at !== fileSize) {
    throw new SafetensorsError(file, `${fileSize - at} bytes after the last tensor's data; the header does not describe them`);
  }
}

/**
 * Parses the header from the file's first bytes (`bytes` must hold at least 8 + N of them, the
 * whole file when mapped) and validates it against the file size.
 */
export function parseHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  if (fileSize < 8 || bytes.byteLength < 8) {
    throw new SafetensorsError(file, `truncated header: ${fileSize} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit`, 'is this really a safetensors file?');
  }
  const n = Number(length);
  const dataStart = 8 + n;
  if (dataStart > fileSize || dataStart > bytes.byteLength) {
    throw new SafetensorsError(file, `truncated header: the header length says ${n} bytes but only ${fileSize - 8} follow`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw new SafetensorsError(file, 'the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new SafetensorsError(file, 'the header must be a JSON object of tensors');
  const metadata = parseMetadata(file, json.__metadata__);
  const tensors = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    tensors.set(name, parseEntry(file, name, raw, dataStart));
  }
  checkTiling(file, [...tensors.values()], dataStart, fileSize);
  return { dataStart, metadata, tensors };
}
