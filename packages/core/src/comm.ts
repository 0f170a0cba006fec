// Low-level tensor access for communication backends (@tessera/collectives), which must not reach
// the binding themselves: keep a tensor's memory alive while a transfer still reads or writes it,
// move raw bytes in and out of element ranges, combine element ranges with the native kernels, and
// the binding's NCCL functions. Element ranges count elements of the tensor's dtype from the start
// of the tensor (its own offset into the storage is added here).
import { BINARY_OPS, bf16ToNumber, f16ToNumber, type NativeBinding, numberToBf16, numberToF16, UNARY_OPS } from '@tessera/native';
import { bytesPerElement, type DType, dtypeCode, isFloatingDtype } from './dtype.ts';
import * as k from './kernels.ts';
import { nb } from './native.ts';
import { Tensor } from './tensor.ts';

/**
 * A second handle on t's memory (same storage, offset, shape and dtype) that no scope tracks: the
 * memory stays allocated until this handle is disposed too, even if `t` is disposed meanwhile. A
 * collective in flight works through such handles, so that freeing a tensor cannot hand its memory
 * to new work while the transfer still reads or writes it.
 */
export function retainView(t: Tensor): Tensor {
  t._check();
  return new Tensor(t._storage, t._offset, t.shape, t.dtype, false);
}

function checkRange(op: string, t: Tensor, start: number, count: number): void {
  t._check();
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > t.numel) {
    throw new RangeError(`${op}: elements [${start}, ${start + count}) are outside ${t.describe()}`);
  }
}

/** Copies elements [start, start+count) of t into `dst` (a new buffer when omitted) and returns it. */
export function readElements(t: Tensor, start: number, count: number, dst?: Uint8Array): Uint8Array {
  checkRange('readElements', t, start, count);
  const size = bytesPerElement(t.dtype);
  const out = dst ?? new Uint8Array(count * size);
  if (out.byteLength !== count * size) throw new RangeError(`readElements: the buffer holds ${out.byteLength} bytes, ${count * size} needed`);
  if (count > 0) nb.read(t._storage.handle, (t._offset + start) * size, out);
  return out;
}

/** Writes the bytes of `src` (whole elements of t's dtype) into t from element `start` on. */
export function writeElements(t: Tensor, start: number, src: Uint8Array): void {
  const size = bytesPerElement(t.dtype);
  if (src.byteLength % size !== 0) throw new RangeError(`writeElements: ${src.byteLength} bytes are not whole ${t.dtype} elements`);
  checkRange('writeElements', t, start, src.byteLength / size);
  if (src.byteLength > 0) nb.write(t._storage.handle, (t._offset + start) * size, src);
}

/**
 * Writes raw bytes into t starting `byteOffset` bytes after its first element (a received message
 * may be cut anywhere, even inside an element).
 */
export function writeBytes(t: Tensor, byteOffset: number, src: Uint8Array): void {
  t._check();
  const total = t.numel * bytesPerElement(t.dtype);
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset + src.byteLength > total) {
    throw new RangeError(`writeBytes: bytes [${byteOffset}, ${byteOffset + src.byteLength}) are outside ${t.describe()} (${total} bytes)`);
  }
  if (src.byteLength > 0) nb.write(t._storage.handle, t._offset * bytesPerElement(t.dtype) + byteOffset, src);
}

/** dst[dstStart + i] = src[srcStart + i] for i < count (same dtype, any devices). */
export function copyElements(dst: Tensor, dstStart: number, src: Tensor, srcStart: number, count: number): void {
  checkRange('copyElements', dst, dstStart, count);
  checkRange('copyElements', src, srcStart, count);
  if (dst.dtype !== src.dtype) throw new Error(`copyElements: dtypes differ (${dst.dtype} and ${src.dtype})`);
  const size = bytesPerElement(dst.dtype);
  if (count > 0) nb.copyBytes(dst._storage.handle, (dst._offset + dstStart) * size, src._storage.handle, (src._offset + srcStart) * size, count * size);
}

export type ElementwiseReduceOp = 'sum' | 'max' | 'min';
const REDUCE_TO_BINARY = { sum: BINARY_OPS.add, max: BINARY_OPS.maximum, min: BINARY_OPS.minimum } as const;

/**
 * dst[dstStart + i] = op(dst[dstStart + i], src[srcStart + i]) for i < count, with the native
 * pointwise kernel (16-bit floats computed in fp32 and rounded once; NaN propagates through max/min).
 */
export function reduceElements(op: ElementwiseReduceOp, dst: Tensor, dstStart: number, src: Tensor, srcStart: number, count: number): void {
  checkRange('reduceElements', dst, dstStart, count);
  checkRange('reduceElements', src, srcStart, count);
  if (dst.dtype !== src.dtype) throw new Error(`reduceElements: dtypes differ (${dst.dtype} and ${src.dtype})`);
  if (dst.device !== src.device) throw new Error(`reduceElements: devices differ (${dst.device} and ${src.device})`);
  if (count === 0) return;
  const d = dst._storage.handle;
  const o = dst._offset + dstStart;
  nb.binary(REDUCE_TO_BINARY[op], d, o, [1], src._storage.handle, src._offset + srcStart, [1], d, o, [count], dtypeCode(dst.dtype));
}

/**
 * t[start + i] /= divisor for i < count. Floats divide in their compute type (by an exact scalar of
 * the dtype when the divisor is representable, else by multiplying with 1/divisor); integers
 * truncate toward zero like C integer division (exact while |value| < 2^53).
 */
export function divideElements(t: Tensor, start: number, count: number, divisor: number): void {
  checkRange('divideElements', t, start, count);
  if (count === 0 || divisor === 1) return;
  if (t.dtype === 'bool') throw new Error('divideElements: bool tensors cannot be divided');
  const h = t._storage.handle;
  const o = t._offset + start;
  const div = BINARY_OPS.div;
  if (isFloatingDtype(t.dtype)) {
    if (!exactIn(t.dtype, divisor)) {
      nb.unary(UNARY_OPS.affine, h, o, h, o, count, dtypeCode(t.dtype), 1 / divisor, 0);
      return;
    }
    const scalar = k.full([1], divisor, t.dtype, t.device);
    try {
      nb.binary(div, h, o, [1], scalar.handle, scalar.offset, [0], h, o, [count], dtypeCode(t.dtype));
    } finally {
      scalar.dispose();
    }
    return;
  }
  const wide = k.empty([count], 'f64', t.device);
  const scalar = k.full([1], divisor, 'f64', t.device);
  try {
    nb.cast(h, o, dtypeCode(t.dtype), wide.handle, wide.offset, dtypeCode('f64'), count);
    nb.binary(div, wide.handle, wide.offset, [1], scalar.handle, scalar.offset, [0], wide.handle, wide.offset, [count], dtypeCode('f64'));
    nb.cast(wide.handle, wide.offset, dtypeCode('f64'), h, o, dtypeCode(t.dtype), count);
  } finally {
    wide.dispose();
    scalar.dispose();
  }
}

function exactIn(dtype: DType, v: number): boolean {
  if (dtype === 'f32') return Math.fround(v) === v;
  if (dtype === 'bf16') return bf16ToNumber(numberToBf16(v)) === v;
  if (dtype === 'f16') return f16ToNumber(numberToF16(v)) === v;
  return true;
}

/** The binding's code for a dtype (what the NCCL functions take). */
export function nativeDtypeCode(dtype: DType): number {
  return dtypeCode(dtype);
}

/** The NCCL part of the native binding. */
export type NcclBinding = Pick<
  NativeBinding,
  | 'ncclVersion' | 'ncclGetUniqueId' | 'ncclCommInitRank' | 'ncclCommDestroy' | 'ncclCommAbort' | 'ncclCommAsyncError'
  | 'ncclCommStream' | 'ncclAllReduce' | 'ncclReduceScatter' | 'ncclAllGather' | 'ncclBroadcast' | 'ncclSendRecv'
>;

/**
 * The binding's NCCL functions, or an error that says why they are missing: the CPU build, a CUDA
 * build made without NCCL, or a build older than NCCL support.
 */
export function ncclBinding(): NcclBinding {
  if (typeof nb.ncclVersion !== 'function') {
    throw new Error('NCCL: this build of @tessera/native predates NCCL support; rebuild it (node native/scripts/build.ts --cuda=ON)');
  }
  if (!nb.buildInfo().cuda) {
    throw new Error(
      'NCCL: this is the CPU build of @tessera/native; the nccl backend needs the CUDA build with NCCL ' +
        '(node native/scripts/build.ts --cuda=ON on a machine with NCCL), or use the cpu backend',
    );
  }
  if (nb.ncclVersion() === 0) {
    throw new Error(
      'NCCL: @tessera/native was built without NCCL (nccl.h or libnccl were not found at build time); ' +
        'install NCCL or point NCCL_HOME at it and rebuild with --cuda=ON, or use the cpu backend',
    );
  }
  return nb;
}

/** True when the loaded build can run the nccl backend (CUDA build with NCCL and a visible GPU). */
export function ncclAvailable(): boolean {
  return typeof nb.ncclVersion === 'function' && nb.buildInfo().cuda && nb.cudaDeviceCount() > 0 && nb.ncclVersion() > 0;
}
