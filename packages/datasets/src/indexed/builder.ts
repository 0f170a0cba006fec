// Writes Megatron indexed datasets (`IndexedDatasetBuilder`): tokens go to the .bin file as they
// are added; finalize() writes the .idx. The files are byte-identical to Megatron's for the same
// calls, so either side can read what the other wrote.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { Growable } from '../util/growable.ts';
import { binPath, dtypeRange, idxPath, type TokenArray, tokenArrayCtor, type TokenDType } from './dtype.ts';
import { DatasetFileError } from './errors.ts';
import { checkPartnerFiles } from './indexed-dataset.ts';
import { encodeMMIndex, parseMMIndex, readI64 } from './mmidx.ts';
import { readAligned } from './bin-reader.ts';

const FLUSH_BYTES = 1 << 20;

export interface BuilderOptions {
  /** Token dtype of the .bin file; Megatron's default is int32 (preprocessing picks optimalDtype). */
  dtype?: TokenDType;
  multimodal?: boolean;
}

export class IndexedDatasetBuilder {
  readonly binFile: string;
  readonly dtype: TokenDType;
  readonly multimodal: boolean;
  private fd: number | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly lengths = new Growable(Int32Array);
  private readonly documents = new Growable(Float64Array);
  private readonly modes = new Growable(Int8Array);

  constructor(binFile: string, options: BuilderOptions = {}) {
    this.binFile = binFile;
    this.dtype = options.dtype ?? 'int32';
    this.multimodal = options.multimodal ?? false;
    this.fd = openSync(binFile, 'w');
    this.documents.push(0);
  }

  get sequenceCount(): number {
    return this.lengths.length;
  }

  /** Appends one sequence. */
  addItem(tokens: ArrayLike<number> | TokenArray, mode = 0): void {
    this.write(tokens);
    this.lengths.push(tokens.length);
    if (this.multimodal) this.modes.push(mode);
  }

  /** Closes the current document: the next sequence starts a new one. */
  endDocument(): void {
    this.documents.push(this.lengths.length);
  }

  /** Appends a document made of sequences of the given lengths (their sum is tokens.length). */
  addDocument(tokens: ArrayLike<number> | TokenArray, lengths: ArrayLike<number>, modes?: ArrayLike<number>): void {
    let sum = 0;
    for (let i = 0; i < lengths.length; i++) sum += lengths[i]!;
    if (sum !== tokens.length) throw new RangeError(`addDocument: the sequence lengths sum to ${sum}, but the document has ${tokens.length} tokens`);
    this.write(tokens);
    this.lengths.pushAll(lengths);
    this.documents.push(this.lengths.length);
    if (this.multimodal) for (let i = 0; i < lengths.length; i++) this.modes.push(modes ? modes[i]! : 0);
  }

  /** Appends every sequence and document of another dataset of the same dtype (`add_index`). */
  addIndex(prefix: string): void {
    checkPartnerFiles(prefix);
    const file = idxPath(prefix);
    const index = parseMMIndex(readAligned(file), file, this.multimodal);
    if (index.dtype !== this.dtype) throw new DatasetFileError(file, `dtype ${index.dtype} differs from the builder's ${this.dtype}`, 'Merge only datasets preprocessed with the same tokenizer');
    const offset = this.lengths.length;
    const { view } = index;
    for (let i = 0; i < index.sequenceCount; i++) this.lengths.push(view.getInt32(index.lengthsOffset + 4 * i, true));
    for (let k = 1; k < index.documentCount; k++) this.documents.push(offset + readI64(view, index.documentsOffset + 8 * k));
    if (this.multimodal && index.modesOffset !== undefined) {
      for (let i = 0; i < index.sequenceCount; i++) this.modes.push(view.getInt8(index.modesOffset + i));
    }
    this.flush();
    const src = openSync(binPath(prefix), 'r');
    try {
      const chunk = new Uint8Array(FLUSH_BYTES * 4);
      let n: number;
      while ((n = readSync(src, chunk, 0, chunk.length, null)) > 0) this.writeBytes(chunk.subarray(0, n));
    } finally {
      closeSync(src);
    }
  }

  /** Closes the .bin file and writes the .idx file. */
  finalize(idxFile: string): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const bytes = encodeMMIndex(this.dtype, this.lengths.view(), this.documents.view(), this.multimodal ? this.modes.view() : undefined);
    const fd = openSync(idxFile, 'w');
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
  }

  private write(tokens: ArrayLike<number> | TokenArray): void {
    const Ctor = tokenArrayCtor(this.dtype);
    let typed: TokenArray;
    if (tokens instanceof Ctor) {
      typed = tokens;
    } else {
      typed = new Ctor(tokens.length);
      const range = dtypeRange(this.dtype);
      for (let i = 0; i < tokens.length; i++) {
        const v = tokens[i] as number | bigint;
        if (range && (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1])) {
          throw new RangeError(`token ${String(v)} at position ${i} does not fit the builder's dtype ${this.dtype} [${range[0]}, ${range[1]}]; choose a wider dtype`);
        }
        (typed as unknown as (number | bigint)[])[i] = this.dtype === 'int64' ? BigInt(v) : Number(v);
      }
    }
    this.writeBytes(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  }

  private writeBytes(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`IndexedDatasetBuilder(${this.binFile}): already finalized`);
    this.pending.push(bytes.slice());
    this.pendingBytes += bytes.byteLength;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    const all = Buffer.concat(this.pending);
    let done = 0;
    while (done < all.length) done += writeSync(this.fd, all, done, all.length - done);
    this.pending = [];
    this.pendingBytes = 0;
  }
}
