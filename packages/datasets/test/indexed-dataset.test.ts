import { copyFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IndexedDatasetBuilder } from '../src/indexed/builder.ts';
import type { TokenDType } from '../src/indexed/dtype.ts';
import { IndexedDataset } from '../src/indexed/indexed-dataset.ts';
import { LegacyIndexedDataset } from '../src/indexed/legacy.ts';
import { detectIndexFormat, openIndexedDataset } from '../src/indexed/open.ts';
import { tempDir, writeTntIdx } from './helpers.ts';

const dir = tempDir('indexed');

function build(prefix: string, dtype: TokenDType, docs: number[][][], multimodal = false): void {
  const b = new IndexedDatasetBuilder(`${prefix}.bin`, { dtype, multimodal });
  for (const doc of docs) {
    for (const seq of doc) b.addItem(seq, seq.length % 3);
    b.endDocument();
  }
  b.finalize(`${prefix}.idx`);
}

const DOCS = [[[1, 2, 3], [4]], [[5, 6, 7, 8, 9]], [[10], [], [11, 12]]];

describe('IndexedDataset round trip', () => {
  for (const dtype of ['uint8', 'int8', 'int16', 'uint16', 'int32', 'int64', 'float32', 'float64'] as TokenDType[]) {
    for (const mode of ['mmap', 'cached', 'lazy'] as const) {
      it(`${dtype} through the ${mode} reader`, () => {
        const prefix = join(dir, `rt-${dtype}`);
        build(prefix, dtype, DOCS);
        const ds = new IndexedDataset(prefix, { mode });
        expect(ds.dtype).toBe(dtype);
        expect(ds.length).toBe(6);
        expect(ds.documentCount).toBe(3);
        expect(Array.from(ds.sequenceLengths)).toEqual([3, 1, 5, 1, 0, 2]);
        expect(Array.from(ds.documentIndices)).toEqual([0, 2, 3, 6]);
        const num = (a: ArrayLike<number | bigint>) => Array.from(a, Number);
        expect(num(ds.get(2))).toEqual([5, 6, 7, 8, 9]);
        expect(num(ds.get(2, 1, 3))).toEqual([6, 7, 8]);
        expect(num(ds.get(2, 3))).toEqual([8, 9]);
        expect(ds.get(4).length).toBe(0);
        expect(ds.slice(1, 4).map(num)).toEqual([[4], [5, 6, 7, 8, 9], [10]]);
        expect(() => ds.get(6)).toThrow(/outside \[0, 6\)/);
        expect(() => ds.get(0, 2, 5)).toThrow(/outside sequence 0/);
        ds.close();
      });
    }
  }

  it('writes the exact MMIDIDX bytes', () => {
    const prefix = join(dir, 'bytes');
    build(prefix, 'uint16', [[[7, 8]], [[9]]]);
    const idx = readFileSync(`${prefix}.idx`);
    const expected = Buffer.concat([
      Buffer.from('MMIDIDX\0\0', 'latin1'),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 8]),
      Buffer.from(new BigUint64Array([2n, 3n]).buffer),
      Buffer.from(new Int32Array([2, 1]).buffer),
      Buffer.from(new BigInt64Array([0n, 4n, 0n, 1n, 2n]).buffer),
    ]);
    expect(idx.equals(expected)).toBe(true);
    expect(readFileSync(`${prefix}.bin`).equals(Buffer.from(new Uint16Array([7, 8, 9]).buffer))).toBe(true);
  });

  it('adds documents with sentence lengths and merges datasets with addIndex', () => {
    const a = join(dir, 'merge-a');
    const b = join(dir, 'merge-b');
    build(a, 'int32', [[[1, 2]], [[3]]]);
    const bb = new IndexedDatasetBuilder(`${b}.bin`);
    bb.addDocument([4, 5, 6], [1, 2]);
    bb.finalize(`${b}.idx`);
    const m = join(dir, 'merged');
    const mb = new IndexedDatasetBuilder(`${m}.bin`);
    mb.addDocument([0], [1]);
    mb.addIndex(a);
    mb.addIndex(b);
    mb.finalize(`${m}.idx`);
    const ds = new IndexedDataset(m);
    expect(Array.from(ds.sequenceLengths)).toEqual([1, 2, 1, 1, 2]);
    expect(Array.from(ds.documentIndices)).toEqual([0, 1, 2, 3, 5]);
    expect(ds.slice(0, 5).map((x) => Array.from(x as Int32Array))).toEqual([[0], [1, 2], [3], [4], [5, 6]]);
    const wrong = new IndexedDatasetBuilder(join(dir, 'wrong.bin'), { dtype: 'uint16' });
    expect(() => wrong.addIndex(a)).toThrow(/dtype int32 differs from the builder's uint16/);
    expect(() => bb.addDocument([1, 2], [1])).toThrow(/lengths sum to 1, but the document has 2 tokens/);
  });

  it('refuses tokens that do not fit the dtype', () => {
    const b = new IndexedDatasetBuilder(join(dir, 'range.bin'), { dtype: 'uint16' });
    expect(() => b.addItem([1, 70000])).toThrow(/token 70000 at position 1 does not fit the builder's dtype uint16/);
  });

  it('reads multimodal modes', () => {
    const prefix = join(dir, 'mm');
    build(prefix, 'int32', DOCS, true);
    const ds = new IndexedDataset(prefix, { multimodal: true });
    expect(Array.from(ds.sequenceModes)).toEqual([0, 1, 2, 1, 0, 2]);
    expect(() => new IndexedDataset(prefix).sequenceModes).toThrow(/multimodal: true/);
  });
});

describe('legacy TNTIDX', () => {
  it('reads lazily and cached, and is detected automatically', () => {
    const prefix = join(dir, 'legacy');
    writeTntIdx(prefix, [[1, 2, 3], [4], [5, 6]], [0, 2, 3]);
    expect(detectIndexFormat(prefix)).toBe('legacy');
    for (const mode of ['lazy', 'cached'] as const) {
      const ds = new LegacyIndexedDataset(prefix, { mode });
      expect(ds.length).toBe(3);
      expect(Array.from(ds.sequenceLengths)).toEqual([3, 1, 2]);
      expect(Array.from(ds.documentIndices)).toEqual([0, 2, 3]);
      expect(Array.from(ds.get(0, 1) as Int32Array)).toEqual([2, 3]);
      expect(ds.shape(2)).toEqual([2]);
    }
    const auto = openIndexedDataset(prefix);
    expect(Array.from(auto.get(2) as Int32Array)).toEqual([5, 6]);
    expect(() => new IndexedDataset(prefix)).toThrow(/legacy TNTIDX index/);
  });
});

describe('bad files name the file and the fault', () => {
  const good = join(dir, 'good');
  build(good, 'int32', DOCS);
  let n = 0;
  function broken(edit: (idx: Buffer, prefix: string) => Buffer | undefined): string {
    const prefix = join(dir, `bad-${n++}`);
    copyFileSync(`${good}.bin`, `${prefix}.bin`);
    const idx = Buffer.from(readFileSync(`${good}.idx`));
    writeFileSync(`${prefix}.idx`, edit(idx, prefix) ?? idx);
    return prefix;
  }
  const cases: [string, (idx: Buffer, prefix: string) => Buffer | undefined, RegExp][] = [
    ['wrong magic', (b) => void b.write('XXIDIDX', 0, 'latin1'), /bad-\d+\.idx: wrong magic bytes/],
    ['wrong version', (b) => void b.writeBigUInt64LE(2n, 9), /unsupported index version 2/],
    ['unknown dtype code', (b) => void b.writeUInt8(9, 17), /unknown dtype code 9/],
    ['truncated header', (b) => b.subarray(0, 20), /truncated header: 20 bytes/],
    ['truncated arrays', (b) => b.subarray(0, b.length - 4), /truncated: .* the header promises 6 sequences and 4 document-index entries/],
    ['pointer past the end', (b) => void b.writeBigInt64LE(4000n, 34 + 24 + 8 * 5), /sequence 5 \(byte pointer 4000, 2 tokens of int32\) reaches past the end of .*bad-\d+\.bin/],
    ['bad document index', (b) => void b.writeBigInt64LE(5n, b.length - 8), /document index ends at 5, but there are 6 sequences/],
    ['decreasing document index', (b) => void b.writeBigInt64LE(1n, b.length - 16), /document index decreases at entry 2 \(2 then 1\)/],
  ];
  for (const [name, edit, message] of cases) {
    it(name, () => {
      const prefix = broken(edit);
      expect(() => new IndexedDataset(prefix)).toThrow(message);
    });
  }
  it('truncated .bin', () => {
    const prefix = broken(() => undefined);
    truncateSync(`${prefix}.bin`, 20);
    expect(() => new IndexedDataset(prefix)).toThrow(/reaches past the end of .*\.bin \(20 bytes\)/);
  });
  it('missing partner files', () => {
    const prefix = broken(() => undefined);
    rmSync(`${prefix}.bin`);
    expect(() => new IndexedDataset(prefix)).toThrow(/\.bin: missing: the partner of .*\.idx was not found/);
    rmSync(`${prefix}.idx`);
    expect(() => new IndexedDataset(prefix)).toThrow(/neither \.idx nor \.bin exists/);
  });
  it('garbage that is neither format', () => {
    const prefix = broken(() => Buffer.from('hello'));
    expect(() => openIndexedDataset(prefix)).toThrow(/truncated header: 5 bytes/);
  });
});
