// The legacy fairseq-derived "lazy"/"cached" format (TNTIDX), last written by Megatron in 2023:
// .idx = magic "TNTIDX\0\0", u64 version 1, u64 dtype code, u64 element size, u64 item count N,
// u64 size-entry count s, u64 doc count, then i64 dim_offsets[N+1], data_offsets[N+1] (in
// elements), sizes[s] (per-item shape dims), doc_idx[doc count]. The .bin holds the raw elements.
import { statSync } from 'node:fs';
import { type BinMode, type BinReader, openBinReader, readAligned } from './bin-reader.ts';
import { binPath, dtypeFromCode, idxPath, itemSize, type TokenArray, tokenArrayCtor, type TokenDType } from './dtype.ts';
import { DatasetFileError } from './errors.ts';
import { checkPartnerFiles, type SequenceDataset } from './indexed-dataset.ts';
import { isTNTIdx, readI64 } from './mmidx.ts';

const HEADER = 56; // magic, version, dtype code, element size, N, s, doc count

export class LegacyIndexedDataset implements SequenceDataset {
  readonly pathPrefix: string;
  readonly dtype: TokenDType;
  readonly length: number;
  readonly sequenceLengths: Int32Array;
  readonly documentIndices: Float64Array;
  private readonly dataOffsets: Float64Array;
  private readonly dims: Float64Array[];
  private readonly bin: BinReader;
  private readonly itemBytes: number;

  /** mode 'lazy' reads each item on demand (fairseq's IndexedDataset); 'cached' holds the .bin in memory. */
  constructor(prefix: string, options: { mode?: BinMode } = {}) {
    checkPartnerFiles(prefix);
    const file = idxPath(prefix);
    const bytes = readAligned(file);
    if (!isTNTIdx(bytes)) throw new DatasetFileError(file, 'wrong magic bytes; expected a legacy TNTIDX index ("TNTIDX\\0\\0")');
    if (bytes.length < HEADER) throw new DatasetFileError(file, `truncated header: ${bytes.length} bytes, a TNTIDX header needs ${HEADER}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = readI64(view, 8);
    if (version !== 1) throw new DatasetFileError(file, `unsupported index version ${version}; only version 1 exists`);
    const code = readI64(view, 16);
    const dtype = dtypeFromCode(code);
    if (!dtype) throw new DatasetFileError(file, `unknown dtype code ${code}`);
    const elementSize = readI64(view, 24);
    if (elementSize !== itemSize(dtype)) throw new DatasetFileError(file, `element size ${elementSize} does not match dtype ${dtype} (${itemSize(dtype)} bytes)`);
    const n = readI64(view, 32);
    const s = readI64(view, 40);
    const docCount = readI64(view, 48);
    const needed = HEADER + 8 * (2 * (n + 1) + s + docCount);
    if (bytes.length < needed) {
      throw new DatasetFileError(file, `truncated: ${bytes.length} bytes, but the header promises ${n} items, ${s} size entries and ${docCount} document entries (${needed} bytes)`);
    }
    const longs = (at: number, count: number) => {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = readI64(view, at + 8 * i);
      return out;
    };
    let at = HEADER;
    const dimOffsets = longs(at, n + 1);
    at += 8 * (n + 1);
    this.dataOffsets = longs(at, n + 1);
    at += 8 * (n + 1);
    const sizes = longs(at, s);
    at += 8 * s;
    this.documentIndices = longs(at, docCount);
    this.pathPrefix = prefix;
    this.dtype = dtype;
    this.itemBytes = elementSize;
    this.length = n;
    this.dims = [];
    this.sequenceLengths = new Int32Array(n);
    const binBytes = statSync(binPath(prefix)).size;
    for (let i = 0; i < n; i++) {
      const lo = dimOffsets[i]!;
      const hi = dimOffsets[i + 1]!;
      if (hi < lo || hi > s) throw new DatasetFileError(file, `item ${i} has dim offsets [${lo}, ${hi}) outside the ${s} size entries`);
      const shape = sizes.subarray(lo, hi);
      this.dims.push(shape);
      const count = shape.reduce((a, b) => a * b, 1);
      this.sequenceLengths[i] = count;
      const end = this.dataOffsets[i]! + count;
      if (this.dataOffsets[i + 1]! !== end || end * elementSize > binBytes) {
        throw new DatasetFileError(file, `item ${i} (elements [${this.dataOffsets[i]}, ${end})) does not fit ${binPath(prefix)} (${binBytes} bytes) or its data offsets are inconsistent`);
      }
    }
    this.bin = openBinReader(binPath(prefix), options.mode === 'cached' ? 'cached' : 'lazy');
  }

  /** The shape of item i (its size entries). */
  shape(i: number): number[] {
    return Array.from(this.dims[i] ?? []);
  }

  get(i: number, offset = 0, length?: number): TokenArray {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`${this.pathPrefix}: item ${i} is outside [0, ${this.length})`);
    const total = this.sequenceLengths[i]!;
    const n = length ?? total - offset;
    if (offset < 0 || n < 0 || offset + n > total) throw new RangeError(`${this.pathPrefix}: tokens [${offset}, ${offset + n}) are outside item ${i} of ${total}`);
    const bytes = this.bin.read((this.dataOffsets[i]! + offset) * this.itemBytes, n * this.itemBytes);
    const Ctor = tokenArrayCtor(this.dtype);
    return new Ctor(bytes.buffer, bytes.byteOffset, n);
  }

  slice(start: number, stop: number): TokenArray[] {
    const out: TokenArray[] = [];
    for (let i = start; i < stop; i++) out.push(this.get(i));
    return out;
  }

  close(): void {
    this.bin.close();
  }
}
