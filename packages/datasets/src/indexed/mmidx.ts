// The MMIDIDX index (.idx) of Megatron's indexed datasets: reading and writing, byte for byte.
// Layout (little-endian, no padding): magic "MMIDIDX\0\0", u64 version 1, u8 dtype code,
// u64 sequence count S, u64 document count D (= documents + 1), i32 lengths[S],
// i64 byte pointers[S], i64 document indices[D], and i8 modes[S] only for multimodal data.
import { DatasetFileError } from './errors.ts';
import { DTYPE_CODES, dtypeFromCode, itemSize, type TokenDType } from './dtype.ts';

export const MMIDX_MAGIC = Uint8Array.from([0x4d, 0x4d, 0x49, 0x44, 0x49, 0x44, 0x58, 0x00, 0x00]);
export const TNTIDX_MAGIC = Uint8Array.from([0x54, 0x4e, 0x54, 0x49, 0x44, 0x58, 0x00, 0x00]);
export const MMIDX_HEADER_BYTES = 34;

export interface MMIndex {
  dtype: TokenDType;
  sequenceCount: number;
  /** Number of entries in the document index (documents + 1). */
  documentCount: number;
  /** Little-endian view of the whole .idx file. */
  view: DataView;
  lengthsOffset: number;
  pointersOffset: number;
  documentsOffset: number;
  modesOffset: number | undefined;
}

/** An int64 from a little-endian view as an exact JS number (|v| < 2**53). */
export function readI64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getInt32(offset + 4, true) * 4294967296;
}

export function writeI64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setInt32(offset + 4, Math.floor(value / 4294967296), true);
}

function startsWith(bytes: Uint8Array, magic: Uint8Array): boolean {
  if (bytes.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic[i]) return false;
  return true;
}

export function isMMIdx(bytes: Uint8Array): boolean {
  return startsWith(bytes, MMIDX_MAGIC);
}

export function isTNTIdx(bytes: Uint8Array): boolean {
  return startsWith(bytes, TNTIDX_MAGIC);
}

function u64(view: DataView, offset: number, file: string, what: string): number {
  const v = view.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DatasetFileError(file, `the ${what} (${v}) is impossibly large; the header is corrupt`);
  return Number(v);
}

/** Parses and checks an .idx file's header and that its arrays fit in the file. */
export function parseMMIndex(bytes: Uint8Array, file: string, multimodal = false): MMIndex {
  if (isTNTIdx(bytes)) {
    throw new DatasetFileError(file, 'this is a legacy TNTIDX index, not MMIDIDX', 'Open it with IndexedDataset.open (which detects the format) or LegacyIndexedDataset');
  }
  if (bytes.length < MMIDX_HEADER_BYTES) {
    throw new DatasetFileError(file, `truncated header: ${bytes.length} bytes, an MMIDIDX header needs ${MMIDX_HEADER_BYTES}`);
  }
  if (!isMMIdx(bytes)) {
    const got = Array.from(bytes.subarray(0, 9), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DatasetFileError(file, `wrong magic bytes (${got}); expected "MMIDIDX\\0\\0"`, 'This is not a Megatron .idx file');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getBigUint64(9, true);
  if (version !== 1n) throw new DatasetFileError(file, `unsupported index version ${version}; only version 1 exists`);
  const code = view.getUint8(17);
  const dtype = dtypeFromCode(code);
  if (!dtype) {
    throw new DatasetFileError(file, `unknown dtype code ${code}; valid codes are ${Object.entries(DTYPE_CODES).map(([k, v]) => `${v} (${k})`).join(', ')}`);
  }
  const sequenceCount = u64(view, 18, file, 'sequence count');
  const documentCount = u64(view, 26, file, 'document count');
  if (documentCount < 1) throw new DatasetFileError(file, 'the document index is empty; it must start with 0');
  const lengthsOffset = MMIDX_HEADER_BYTES;
  const pointersOffset = lengthsOffset + 4 * sequenceCount;
  const documentsOffset = pointersOffset + 8 * sequenceCount;
  const modesOffset = multimodal ? documentsOffset + 8 * documentCount : undefined;
  const needed = documentsOffset + 8 * documentCount + (multimodal ? sequenceCount : 0);
  if (bytes.length < needed) {
    throw new DatasetFileError(
      file,
      `truncated: ${bytes.length} bytes, but the header promises ${sequenceCount} sequences and ${documentCount} document-index entries${multimodal ? ' with modes' : ''} (${needed} bytes)`,
      'The file was cut short (an interrupted copy or preprocessing run?); rebuild it',
    );
  }
  return { dtype, sequenceCount, documentCount, view, lengthsOffset, pointersOffset, documentsOffset, modesOffset };
}

/** Checks the document index (starts at 0, never decreases, ends at S) and every pointer against the .bin size. */
export function validateMMIndex(index: MMIndex, file: string, binFile: string, binBytes: number): void {
  const { view, sequenceCount: s, documentCount: d } = index;
  const first = readI64(view, index.documentsOffset);
  const last = readI64(view, index.documentsOffset + 8 * (d - 1));
  if (first !== 0) throw new DatasetFileError(file, `the document index starts at ${first}, not 0`);
  if (last !== s) throw new DatasetFileError(file, `the document index ends at ${last}, but there are ${s} sequences`);
  let prev = 0;
  for (let k = 1; k < d; k++) {
    const v = readI64(view, index.documentsOffset + 8 * k);
    if (v < prev) throw new DatasetFileError(file, `the document index decreases at entry ${k} (${prev} then ${v})`);
    prev = v;
  }
  const size = itemSize(index.dtype);
  for (let i = 0; i < s; i++) {
    const len = view.getInt32(index.lengthsOffset + 4 * i, true);
    const ptr = readI64(view, index.pointersOffset + 8 * i);
    if (len < 0) throw new DatasetFileError(file, `sequence ${i} has a negative length (${len})`);
    if (ptr < 0 || ptr % size !== 0 || ptr + len * size > binBytes) {
      throw new DatasetFileError(
        file,
        `sequence ${i} (byte pointer ${ptr}, ${len} tokens of ${index.dtype}) reaches past the end of ${binFile} (${binBytes} bytes)`,
        'The .bin file is truncated or does not belong to this .idx',
      );
    }
  }
}

/** The .idx bytes for the given arrays (Megatron's `_IndexWriter`). */
export function encodeMMIndex(
  dtype: TokenDType,
  sequenceLengths: ArrayLike<number>,
  documentIndices: ArrayLike<number>,
  sequenceModes?: ArrayLike<number>,
): Uint8Array {
  const s = sequenceLengths.length;
  const d = documentIndices.length;
  const total = MMIDX_HEADER_BYTES + 12 * s + 8 * d + (sequenceModes ? s : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MMIDX_MAGIC, 0);
  view.setBigUint64(9, 1n, true);
  view.setUint8(17, DTYPE_CODES[dtype]);
  view.setBigUint64(18, BigInt(s), true);
  view.setBigUint64(26, BigInt(d), true);
  const size = itemSize(dtype);
  let ptr = 0;
  let off = MMIDX_HEADER_BYTES;
  for (let i = 0; i < s; i++, off += 4) view.setInt32(off, sequenceLengths[i]!, true);
  for (let i = 0; i < s; i++, off += 8) {
    writeI64(view, off, ptr);
    ptr += sequenceLengths[i]! * size;
  }
  for (let i = 0; i < d; i++, off += 8) writeI64(view, off, documentIndices[i]!);
  if (sequenceModes) for (let i = 0; i < s; i++, off += 1) view.setInt8(off, sequenceModes[i]!);
  return out;
}
