// One safetensors file, memory-mapped: the header is parsed and validated when it is opened, and
// tensor bytes are views of the mapping (or copies of just the selected rows/columns), so opening
// a large checkpoint reads almost nothing and a rank reads only what it asks for.
import { mapFile } from '@tessera/core';
import { dtypeBytes } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';
import { parseHeader, type SafetensorsHeader, type TensorEntry } from './header.ts';
import { contiguousBytes, copyAlongDim, type Range, type Selection, selectedShape } from './selection.ts';
import type { RawTensor, TensorInfo, TensorSource } from './source.ts';

export class SafetensorsFile implements TensorSource {
  readonly path: string;
  readonly header: SafetensorsHeader;
  #bytes: Uint8Array;
  #read = 0;

  /** Parses `bytes` (a whole file) as safetensors; `path` names it in errors. */
  constructor(bytes: Uint8Array, path = '<memory>') {
    this.path = path;
    this.#bytes = bytes;
    this.header = parseHeader(bytes, bytes.byteLength, path);
  }

  /** Maps the file (zero-copy) and validates its header. */
  static open(path: string): SafetensorsFile {
    let bytes: Uint8Array;
    try {
      bytes = mapFile(path);
    } catch (e) {
      throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
    }
    return new SafetensorsFile(bytes, path);
  }

  get byteLength(): number {
    return this.#bytes.byteLength;
  }
  get bytesRead(): number {
    return this.#read;
  }
  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }
  names(): string[] {
    return [...this.header.tensors.keys()];
  }
  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  #entry(name: string): TensorEntry {
    const e = this.header.tensors.get(name);
    if (!e) {
      throw new SafetensorsError(this.path, `no tensor named '${name}' (the file has ${this.header.tensors.size}: ${this.names().slice(0, 8).join(', ')}${this.header.tensors.size > 8 ? ', …' : ''})`);
    }
    return e;
  }

  info(name: string): TensorInfo {
    const e = this.#entry(name);
    return { name, dtype: e.dtype, shape: e.shape, byteLength: e.end - e.start, file: this.path };
  }

  /** Zero-copy view of a tensor's bytes. */
  view(name: string): Uint8Array {
    const e = this.#entry(name);
    this.#read += e.end - e.start;
    return this.#bytes.subarray(e.start, e.end);
  }

  read(name: string, selection?: Selection): RawTensor {
    const e = this.#entry(name);
    if (!selection) return { dtype: e.dtype, shape: e.shape, bytes: this.view(name) };
    const shape = this.#check(e, selection);
    const elem = dtypeBytes(e.dtype);
    const block = contiguousBytes(e.shape, elem, selection);
    if (block) {
      this.#read += block[1] - block[0];
      return { dtype: e.dtype, shape, bytes: this.#bytes.subarray(e.start + block[0], e.start + block[1]) };
    }
    const out = new Uint8Array(shape.reduce((a, b) => a * b, elem));
    const src = this.#bytes.subarray(e.start, e.end);
    let at = 0;
    for (const range of selection.ranges) {
      this.#read += copyAlongDim(src, e.shape, elem, selection.dim, range, out, shape[selection.dim] as number, at);
      at += range[1] - range[0];
    }
    return { dtype: e.dtype, shape, bytes: out };
  }

  copyAlongDim(name: string, dim: number, range: Range, dst: Uint8Array, dstDimSize: number, at: number): void {
    const e = this.#entry(name);
    this.#check(e, { dim, ranges: [range] });
    const elem = dtypeBytes(e.dtype);
    const perIndex = e.shape.reduce((a, b, i) => (i === dim ? a : a * b), elem);
    if (dst.byteLength !== perIndex * dstDimSize || at < 0 || at + range[1] - range[0] > dstDimSize) {
      throw new SafetensorsError(this.path, `copyAlongDim('${name}'): a destination of ${dst.byteLength} bytes (${dstDimSize} along dimension ${dim}) cannot take ${range[1] - range[0]} indices at ${at}`);
    }
    this.#read += copyAlongDim(this.#bytes.subarray(e.start, e.end), e.shape, elem, dim, range, dst, dstDimSize, at);
  }

  #check(e: TensorEntry, selection: Selection): number[] {
    const shape = selectedShape(e.shape, selection);
    if (typeof shape === 'string') throw new SafetensorsError(this.path, `cannot select from '${e.name}': ${shape}`);
    return shape;
  }
}
