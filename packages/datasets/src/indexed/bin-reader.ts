// Ways to read a .bin file: memory-mapped (zero-copy, the default), cached (the whole file read
// into memory once), or lazy (a positioned read per request, nothing held in memory).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { mapFile } from '@tessera/core';
import { DatasetFileError } from './errors.ts';

export type BinMode = 'mmap' | 'cached' | 'lazy';

export interface BinReader {
  readonly byteLength: number;
  /** The bytes [byteOffset, byteOffset + byteLength): a view for mmap/cached, a fresh copy for lazy. Always 8-byte aligned at the file start. */
  read(byteOffset: number, byteLength: number): Uint8Array;
  close(): void;
}

/** Whole-file bytes whose start is 8-byte aligned (typed views over them need it). */
export function readAligned(path: string): Uint8Array {
  const buf = readFileSync(path);
  if (buf.byteOffset % 8 === 0) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return new Uint8Array(buf); // copies into a fresh, aligned buffer
}

class MemoryBinReader implements BinReader {
  private bytes: Uint8Array | undefined;
  readonly byteLength: number;
  private readonly path: string;
  constructor(path: string, bytes: Uint8Array) {
    this.path = path;
    this.bytes = bytes;
    this.byteLength = bytes.byteLength;
  }
  read(byteOffset: number, byteLength: number): Uint8Array {
    if (!this.bytes) throw new DatasetFileError(this.path, 'read after close()');
    return this.bytes.subarray(byteOffset, byteOffset + byteLength);
  }
  close(): void {
    this.bytes = undefined; // the mapping is released once no view references it
  }
}

class FileBinReader implements BinReader {
  private fd: number | undefined;
  readonly byteLength: number;
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'r');
    this.byteLength = fstatSync(this.fd).size;
  }
  read(byteOffset: number, byteLength: number): Uint8Array {
    if (this.fd === undefined) throw new DatasetFileError(this.path, 'read after close()');
    const out = new Uint8Array(byteLength);
    let done = 0;
    while (done < byteLength) {
      const n = readSync(this.fd, out, done, byteLength - done, byteOffset + done);
      if (n === 0) throw new DatasetFileError(this.path, `unexpected end of file at byte ${byteOffset + done} (wanted ${byteLength} bytes from ${byteOffset})`);
      done += n;
    }
    return out;
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export function openBinReader(path: string, mode: BinMode): BinReader {
  switch (mode) {
    case 'mmap':
      return new MemoryBinReader(path, mapFile(path));
    case 'cached':
      return new MemoryBinReader(path, readAligned(path));
    case 'lazy':
      return new FileBinReader(path);
    default:
      throw new Error(`unknown .bin reader mode '${mode as string}'; use 'mmap', 'cached' or 'lazy'`);
  }
}
