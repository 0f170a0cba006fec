// Test helpers: temporary folders and a writer for the legacy TNTIDX format (Tessera reads it
// but, like current Megatron, never writes it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${tag}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes prefix.idx/.bin in fairseq's TNTIDX layout (int32 items, 1-D shapes). */
export function writeTntIdx(prefix: string, items: number[][], docIdx: number[]): void {
  const longs: number[] = [];
  const dimOffsets = [0];
  const dataOffsets = [0];
  const sizes: number[] = [];
  for (const item of items) {
    sizes.push(item.length);
    dimOffsets.push(dimOffsets.at(-1)! + 1);
    dataOffsets.push(dataOffsets.at(-1)! + item.length);
  }
  longs.push(1, 4, 4, items.length, sizes.length, docIdx.length, ...dimOffsets, ...dataOffsets, ...sizes, ...docIdx);
  const idx = Buffer.alloc(8 + 8 * longs.length);
  idx.write('TNTIDX\0\0', 0, 'latin1');
  longs.forEach((v, i) => {
    idx.writeBigInt64LE(BigInt(v), 8 + 8 * i);
  });
  writeFileSync(`${prefix}.idx`, idx);
  writeFileSync(`${prefix}.bin`, Buffer.from(Int32Array.from(items.flat()).buffer));
}
