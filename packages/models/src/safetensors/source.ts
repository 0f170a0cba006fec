// What the loaders read tensors through: one safetensors file, or a sharded checkpoint of several.
// Every read is counted (bytesRead), so tests can check that a tensor-parallel rank touched only
// its own slices.
import type { SafetensorsDType } from './dtypes.ts';
import type { Range, Selection } from './selection.ts';

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** The file that holds it. */
  readonly file: string;
}

/** Raw tensor bytes in their safetensors dtype. */
export interface RawTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

export interface TensorSource {
  /** The file, directory or index this source was opened from. */
  readonly path: string;
  /** Total size of the files. */
  readonly byteLength: number;
  /** Tensor bytes read so far (views count as read in full). */
  readonly bytesRead: number;
  readonly metadata: Readonly<Record<string, string>>;
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** A tensor's bytes, or just the selected part: a view of the mapping when contiguous, else a copy. */
  read(name: string, selection?: Selection): RawTensor;
  /** Copies `range` of dimension `dim` into dst (laid out as the tensor with `dstDimSize` along dim) at index `at`. */
  copyAlongDim(name: string, dim: number, range: Range, dst: Uint8Array, dstDimSize: number, at: number): void;
}
