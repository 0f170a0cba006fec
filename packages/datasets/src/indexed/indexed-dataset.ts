// Megatron's indexed dataset (`IndexedDataset(path_prefix)`): token sequences in a .bin file,
// described by an MMIDIDX .idx file. Sequences are read as typed arrays in the file's dtype;
// with the default 'mmap' reader they are zero-copy views of the mapped file.
import { existsSync, statSync } from 'node:fs';
import { type BinMode, type BinReader, openBinReader, readAligned } from './bin-reader.ts';
import { binPath, idxPath, itemSize, type TokenArray, tokenArrayCtor, type TokenDType } from './dtype.ts';
import { DatasetFileError } from './errors.ts';
import { isTNTIdx, type MMIndex, parseMMIndex, readI64, validateMMIndex } from './mmidx.ts';
import { mapFile } from '@tessera/core';

/** What the GPT/BERT/T5 datasets need from a low-level dataset; both index formats provide it. */
export interface SequenceDataset {
  readonly pathPrefix: string;
  readonly dtype: TokenDType;
  /** Number of sequences (documents, or sentences for sentence-level data). */
  readonly length: number;
  /** Tokens per sequence (an aligned copy of the index array). */
  readonly sequenceLengths: Int32Array;
  /** Sequence index where each document starts, then the sequence count: [0, ..., length]. */
  readonly documentIndices: Float64Array;
  /** Tokens [offset, offset + length) of sequence i, in the file's dtype. */
  get(i: number, offset?: number, length?: number): TokenArray;
  /** Contiguous sequences [start, stop) with one read, split by length. */
  slice(start: number, stop: number): TokenArray[];
  close(): void;
}

export interface OpenOptions {
  /** 'mmap' (default, zero-copy), 'cached' (read the .bin into memory) or 'lazy' (positioned reads). */
  mode?: BinMode;
  /** The .idx carries per-sequence modes (the reader is told; the header has no flag). */
  multimodal?: boolean;
  /** Check every pointer and the document index when opening (default true). */
  validate?: boolean;
}

export function checkPartnerFiles(prefix: string): void {
  const idx = idxPath(prefix);
  const bin = binPath(prefix);
  const hasIdx = existsSync(idx);
  const hasBin = existsSync(bin);
  if (!hasIdx && !hasBin) {
    throw new DatasetFileError(prefix, 'no indexed dataset at this prefix: neither .idx nor .bin exists', 'Pass the path prefix without extension, e.g. out/corpus_text_document');
  }
  if (!hasIdx) throw new DatasetFileError(idx, `missing: the partner of ${bin} was not found`, 'Both the .idx and the .bin file are needed');
  if (!hasBin) throw new DatasetFileError(bin, `missing: the partner of ${idx} was not found`, 'Both the .idx and the .bin file are needed');
}

export class IndexedDataset implements SequenceDataset {
  readonly pathPrefix: string;
  readonly dtype: TokenDType;
  readonly length: number;
  readonly mode: BinMode;
  readonly multimodal: boolean;
  private readonly index: MMIndex;
  private readonly bin: BinReader;
  private readonly itemBytes: number;
  private lengthsCache: Int32Array | undefined;
  private documentsCache: Float64Array | undefined;

  /**
   * Opens `prefix.idx` + `prefix.bin`. Legacy TNTIDX indexes are detected; use
   * `openIndexedDataset` to get the right reader for either format.
   */
  constructor(prefix: string, options: OpenOptions = {}) {
    checkPartnerFiles(prefix);
    const idxFile = idxPath(prefix);
    const binFile = binPath(prefix);
    this.pathPrefix = prefix;
    this.mode = options.mode ?? 'mmap';
    this.multimodal = options.multimodal ?? false;
    const idxBytes = this.mode === 'mmap' ? mapFile(idxFile) : readAligned(idxFile);
    if (isTNTIdx(idxBytes)) {
      throw new DatasetFileError(idxFile, 'this is a legacy TNTIDX index', 'Open it with openIndexedDataset() or LegacyIndexedDataset');
    }
    this.index = parseMMIndex(idxBytes, idxFile, this.multimodal);
    this.dtype = this.index.dtype;
    this.itemBytes = itemSize(this.dtype);
    this.length = this.index.sequenceCount;
    if (options.validate ?? true) validateMMIndex(this.index, idxFile, binFile, statSync(binFile).size);
    this.bin = openBinReader(binFile, this.mode);
  }

  get documentCount(): number {
    return this.index.documentCount - 1;
  }

  sequenceLength(i: number): number {
    this.check(i);
    return this.index.view.getInt32(this.index.lengthsOffset + 4 * i, true);
  }

  /** Byte offset of sequence i in the .bin file. */
  sequencePointer(i: number): number {
    this.check(i);
    return readI64(this.index.view, this.index.pointersOffset + 8 * i);
  }

  get sequenceLengths(): Int32Array {
    if (!this.lengthsCache) {
      const { view, lengthsOffset } = this.index;
      const out = new Int32Array(this.length);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt32(lengthsOffset + 4 * i, true);
      this.lengthsCache = out;
    }
    return this.lengthsCache;
  }

  get documentIndices(): Float64Array {
    if (!this.documentsCache) {
      const { view, documentsOffset, documentCount } = this.index;
      const out = new Float64Array(documentCount);
      for (let i = 0; i < out.length; i++) out[i] = readI64(view, documentsOffset + 8 * i);
      this.documentsCache = out;
    }
    return this.documentsCache;
  }

  /** Per-sequence modes of a multimodal dataset. */
  get sequenceModes(): Int8Array {
    const { view, modesOffset } = this.index;
    if (modesOffset === undefined) throw new Error(`${this.pathPrefix}: sequence modes exist only when the dataset is opened with multimodal: true`);
    return new Int8Array(view.buffer.slice(view.byteOffset + modesOffset, view.byteOffset + modesOffset + this.length));
  }

  get(i: number, offset = 0, length?: number): TokenArray {
    const total = this.sequenceLength(i);
    const n = length ?? total - offset;
    if (offset < 0 || n < 0 || offset + n > total) {
      throw new RangeError(`${this.pathPrefix}: tokens [${offset}, ${offset + n}) are outside sequence ${i} of ${total} tokens`);
    }
    return this.view(this.sequencePointer(i) + offset * this.itemBytes, n);
  }

  slice(start: number, stop: number): TokenArray[] {
    if (!(start >= 0 && stop <= this.length && start <= stop)) {
      throw new RangeError(`${this.pathPrefix}: slice [${start}, ${stop}) is outside [0, ${this.length})`);
    }
    if (start === stop) return [];
    let count = 0;
    for (let i = start; i < stop; i++) count += this.sequenceLength(i);
    const all = this.view(this.sequencePointer(start), count);
    const out: TokenArray[] = [];
    let at = 0;
    for (let i = start; i < stop; i++) {
      const len = this.sequenceLength(i);
      out.push(all.subarray(at, at + len));
      at += len;
    }
    return out;
  }

  close(): void {
    this.bin.close();
  }

  private view(byteOffset: number, count: number): TokenArray {
    const bytes = this.bin.read(byteOffset, count * this.itemBytes);
    if (bytes.byteLength !== count * this.itemBytes) {
      throw new DatasetFileError(binPath(this.pathPrefix), `a read of ${count} tokens at byte ${byteOffset} reaches past the end of the file (${this.bin.byteLength} bytes)`);
    }
    const Ctor = tokenArrayCtor(this.dtype);
    return new Ctor(bytes.buffer, bytes.byteOffset, count);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`${this.pathPrefix}: sequence index ${i} is outside [0, ${this.length})`);
    }
  }
}
