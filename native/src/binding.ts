// The whole native binding, typed by hand. Tensors cross as (storage handle, element offset)
// pairs: handles are integers from alloc(), never pointers; offsets count elements of the
// argument's dtype. Kernel calls enqueue work (on the device's current CUDA stream, or run on the
// CPU thread pool) and return; read() and the synchronize calls wait.

/** Element types and their codes in the binding (csrc/core/dtype.h). */
export const DTYPE_CODES = { f32: 0, f64: 1, f16: 2, bf16: 3, i32: 4, i64: 5, bool: 6 } as const;
export type DTypeName = keyof typeof DTYPE_CODES;
export type DTypeCode = (typeof DTYPE_CODES)[DTypeName];

/** Pointwise unary ops (csrc/core/ops.h). Affine: alpha*x+beta; Pow: x^alpha; Clamp: [alpha, beta]. */
export const UNARY_OPS = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, tanh: 5, sigmoid: 6, relu: 7, silu: 8, geluTanh: 9,
  geluErf: 10, abs: 11, affine: 12, pow: 13, reciprocal: 14, square: 15, sin: 16, cos: 17, sign: 18, clamp: 19,
} as const;
export type UnaryOpName = keyof typeof UNARY_OPS;

/** Pointwise binary ops; comparisons and logical ops write bool. */
export const BINARY_OPS = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12,
  logicalAnd: 13, logicalOr: 14,
} as const;
export type BinaryOpName = keyof typeof BINARY_OPS;

export const REDUCE_OPS = { sum: 0, mean: 1, max: 2, min: 3 } as const;
/** matmul's epilogues (csrc/core/kernels.h, GemmEpilogue). */
export const GEMM_EPILOGUES = { none: 0, geluAux: 1, dgelu: 2, biasGradA: 3 } as const;
export type GemmEpilogueName = keyof typeof GEMM_EPILOGUES;
export type ReduceOpName = keyof typeof REDUCE_OPS;

/** Device index in the binding: -1 is the host, 0..N-1 are CUDA devices. */
export type DeviceIndex = number;
export type Handle = number;

export interface BuildInfo {
  variant: 'cpu' | 'cuda';
  version: string;
  cuda: boolean;
}

export interface CudaDeviceProperties {
  name: string;
  major: number;
  minor: number;
  multiprocessors: number;
  totalMemory: number;
  l2CacheBytes: number;
  sharedMemPerBlockOptin: number;
  clockKHz: number;
  memoryClockKHz: number;
  memoryBusWidth: number;
}

export interface MemoryStats {
  /** Bytes in live storages. */
  allocated: number;
  /** Highest `allocated` since the last resetPeakMemory. */
  peak: number;
  /** Bytes the allocator holds (the CUDA pool); equals `allocated` on the host. */
  reserved: number;
  /** Number of live storages. */
  allocations: number;
}

type HostBuffer = ArrayBufferView | ArrayBuffer;

export interface NativeBinding {
  buildInfo(): BuildInfo;
  cudaDeviceCount(): number;
  cudaDeviceProperties(device: number): CudaDeviceProperties;
  setNumThreads(n: number): void;
  numThreads(): number;

  // ---- storage and memory ------------------------------------------------------------------
  alloc(device: DeviceIndex, bytes: number): Handle;
  free(handle: Handle): void;
  storageDevice(handle: Handle): DeviceIndex;
  liveStorages(): number;
  write(handle: Handle, byteOffset: number, src: HostBuffer): void;
  read(handle: Handle, byteOffset: number, dst: HostBuffer): void;
  copyBytes(dst: Handle, dstByteOffset: number, src: Handle, srcByteOffset: number, bytes: number): void;
  memoryStats(device: DeviceIndex): MemoryStats;
  resetPeakMemory(device: DeviceIndex): void;
  emptyCache(device: DeviceIndex): void;
  synchronize(device: DeviceIndex): void;

  // ---- streams and events (CUDA builds) ----------------------------------------------------
  streamCreate(device: number): Handle;
  streamDestroy(stream: Handle): void;
  currentStream(device: number): Handle;
  setCurrentStream(device: number, stream: Handle): void;
  streamSynchronize(stream: Handle): void;
  eventCreate(device: number, enableTiming: boolean): Handle;
  eventDestroy(event: Handle): void;
  eventRecord(event: Handle, stream: Handle): void;
  eventSynchronize(event: Handle): void;
  eventQuery(event: Handle): boolean;
  eventElapsedMs(start: Handle, end: Handle): number;
  streamWaitEvent(stream: Handle, event: Handle): void;

  // ---- kernels -----------------------------------------------------------------------------
  fill(out: Handle, outOff: number, n: number, dtype: DTypeCode, value: number): void;
  arange(out: Handle, outOff: number, n: number, dtype: DTypeCode, start: number, step: number): void;
  /** kind 0: uniform in [a, b); kind 1: normal(mean a, std b). Philox: element i uses block counter + i/4. */
  random(out: Handle, outOff: number, n: number, dtype: DTypeCode, kind: 0 | 1, a: number, b: number, seed: number, counter: number): void;
  cast(src: Handle, srcOff: number, srcDtype: DTypeCode, out: Handle, outOff: number, outDtype: DTypeCode, n: number): void;
  unary(op: number, x: Handle, xOff: number, out: Handle, outOff: number, n: number, dtype: DTypeCode, alpha: number, beta: number): void;
  /** gx = gy * f'(x) */
  unaryBackward(op: number, x: Handle, xOff: number, gy: Handle, gyOff: number, gx: Handle, gxOff: number, n: number, dtype: DTypeCode, alpha: number, beta: number): void;
  /** Contiguous output of `shape`; input strides in elements (0 to broadcast). */
  binary(op: number, a: Handle, aOff: number, aStrides: number[], b: Handle, bOff: number, bStrides: number[], out: Handle, outOff: number, shape: number[], dtype: DTypeCode): void;
  where(cond: Handle, cOff: number, cStrides: number[], a: Handle, aOff: number, aStrides: number[], b: Handle, bOff: number, bStrides: number[], out: Handle, outOff: number, shape: number[], dtype: DTypeCode): void;
  copyStrided(src: Handle, srcOff: number, srcStrides: number[], out: Handle, outOff: number, outStrides: number[], shape: number[], dtype: DTypeCode): void;
  /** dst += alpha * src, converting src to dst's dtype. */
  accumulate(dst: Handle, dstOff: number, dstDtype: DTypeCode, src: Handle, srcOff: number, srcDtype: DTypeCode, n: number, alpha: number): void;
  /** out[o, i] = reduce over j of x[o, j, i]; indices (handle 0 for none) for max/min. */
  reduce(op: number, x: Handle, xOff: number, outer: number, size: number, inner: number, dtype: DTypeCode, out: Handle, outOff: number, outDtype: DTypeCode, indices: Handle, indicesOff: number): void;
  softmax(x: Handle, xOff: number, out: Handle, outOff: number, outer: number, size: number, inner: number, dtype: DTypeCode, log: boolean): void;
  softmaxBackward(y: Handle, yOff: number, gy: Handle, gyOff: number, gx: Handle, gxOff: number, outer: number, size: number, inner: number, dtype: DTypeCode, log: boolean): void;
  /**
   * Megatron's fused scale + mask + softmax over scores [b, heads, sq, cols] (rows = b * heads * sq), fp32 inside:
   * y = softmax(masked ? -10000 : x * scale). Masked: causal and column > query + (cols - sq), or the Bool mask
   * (handle 0 = none) at batch * maskBatchStride + query * maskRowStride + column (strides 0 broadcast).
   */
  maskedSoftmax(x: Handle, xOff: number, out: Handle, outOff: number, rows: number, cols: number, scale: number, dtype: DTypeCode,
    mask: Handle, maskOff: number, sq: number, heads: number, maskBatchStride: number, maskRowStride: number, causal: boolean): void;
  /** gx = masked ? 0 : scale * y * (gy - sum(gy * y)) over each row of `cols` (mask arguments as maskedSoftmax's). */
  maskedSoftmaxBackward(y: Handle, yOff: number, gy: Handle, gyOff: number, gx: Handle, gxOff: number, rows: number, cols: number, scale: number, dtype: DTypeCode,
    mask: Handle, maskOff: number, sq: number, heads: number, maskBatchStride: number, maskRowStride: number, causal: boolean): void;
  /**
   * Fused attention (FlashAttention-2 algorithm), CUDA and bf16 only: q [b, seqQ, h, d], k/v [b, seqK, h, d] and o as
   * strided views (strides = batch, seq, head of q, k, v, o; d contiguous, 16-byte aligned rows), lse fp32 [b, h, seqQ].
   * d must be 64 or 128. Causal keeps key j for query i when j <= i + (seqK - seqQ).
   */
  attention(q: Handle, qOff: number, k: Handle, kOff: number, v: Handle, vOff: number, o: Handle, oOff: number, lse: Handle, lseOff: number,
    dims: readonly [number, number, number, number, number], strides: readonly number[], scale: number, causal: boolean): void;
  /** The backward of attention: writes dq, dk, dv (strides of q, k, v, o, dO, dq, dk, dv); workspace of attentionWorkspaceBytes(). */
  attentionBackward(q: Handle, qOff: number, k: Handle, kOff: number, v: Handle, vOff: number, o: Handle, oOff: number, lse: Handle, lseOff: number,
    dO: Handle, dOOff: number, dq: Handle, dqOff: number, dk: Handle, dkOff: number, dv: Handle, dvOff: number, workspace: Handle, workspaceOff: number,
    dims: readonly [number, number, number, number, number], strides: readonly number[], scale: number, causal: boolean): void;
  /** Bytes of workspace attentionBackward needs (0 in a build without CUDA). */
  attentionWorkspaceBytes(batch: number, heads: number, seqQ: number, headDim: number): number;
  /** LayerNorm (rms=false) or RMSNorm over the last dim; w/b handle 0 for none; mean/rstd are f32 [rows]. */
  norm(x: Handle, xOff: number, w: Handle, wOff: number, b: Handle, bOff: number, out: Handle, outOff: number, mean: Handle, meanOff: number, rstd: Handle, rstdOff: number, rows: number, cols: number, eps: number, dtype: DTypeCode, wDtype: DTypeCode, rms: boolean): void;
  /** gw/gb are f32 [cols], written (not accumulated); handle 0 to skip. */
  normBackward(gy: Handle, gyOff: number, x: Handle, xOff: number, w: Handle, wOff: number, mean: Handle, meanOff: number, rstd: Handle, rstdOff: number, gx: Handle, gxOff: number, gw: Handle, gwOff: number, gb: Handle, gbOff: number, rows: number, cols: number, dtype: DTypeCode, wDtype: DTypeCode, rms: boolean): void;
  /** loss and lse are f32 [rows]. */
  crossEntropy(logits: Handle, lOff: number, labels: Handle, labOff: number, labelDtype: DTypeCode, loss: Handle, lossOff: number, lse: Handle, lseOff: number, rows: number, vocab: number, dtype: DTypeCode, ignoreIndex: number, labelSmoothing: number): void;
  crossEntropyBackward(logits: Handle, lOff: number, labels: Handle, labOff: number, labelDtype: DTypeCode, lse: Handle, lseOff: number, gloss: Handle, glossOff: number, glogits: Handle, gOff: number, rows: number, vocab: number, dtype: DTypeCode, ignoreIndex: number, labelSmoothing: number): void;
  /** out[o, j, i] = src[o, index[j], i] */
  indexSelect(src: Handle, srcOff: number, outer: number, size: number, inner: number, dtype: DTypeCode, index: Handle, idxOff: number, indexDtype: DTypeCode, nIndex: number, out: Handle, outOff: number): void;
  /** out[o, index[j], i] += src[o, j, i] */
  indexAdd(src: Handle, srcOff: number, srcDtype: DTypeCode, outer: number, nIndex: number, inner: number, index: Handle, idxOff: number, indexDtype: DTypeCode, out: Handle, outOff: number, size: number, outDtype: DTypeCode): void;
  /** out[o, j, i] = src[o, index[o, j, i], i] */
  gather(src: Handle, srcOff: number, outer: number, size: number, inner: number, dtype: DTypeCode, index: Handle, idxOff: number, indexDtype: DTypeCode, nIndex: number, out: Handle, outOff: number): void;
  /** out[o, index[o, j, i], i] += src[o, j, i] */
  scatterAdd(src: Handle, srcOff: number, srcDtype: DTypeCode, outer: number, nIndex: number, inner: number, index: Handle, idxOff: number, indexDtype: DTypeCode, out: Handle, outOff: number, size: number, outDtype: DTypeCode): void;
  dropout(x: Handle, xOff: number, out: Handle, outOff: number, mask: Handle, maskOff: number, n: number, dtype: DTypeCode, p: number, seed: number, counter: number): void;
  /** gx = gy * mask * scale */
  maskedScale(gy: Handle, gyOff: number, mask: Handle, maskOff: number, gx: Handle, gxOff: number, n: number, dtype: DTypeCode, scale: number): void;
  /**
   * C = alpha * op(A) @ op(B) + beta * C (+ bias); row-major; bias handle 0 for none. `epilogue`
   * (GEMM_EPILOGUES; 0 for none) adds one of: GELU with its input kept in `aux`; the GELU
   * backward against `aux` with an optional bias gradient; the row sums of op(A) into `biasGrad`
   * (csrc/core/kernels.h says exactly). Handles 0 for unused aux / biasGrad.
   */
  matmul(a: Handle, aOff: number, b: Handle, bOff: number, c: Handle, cOff: number, bias: Handle, biasOff: number, m: number, n: number, k: number, transA: boolean, transB: boolean, batch: number, strideA: number, strideB: number, strideC: number, abDtype: DTypeCode, cDtype: DTypeCode, biasDtype: DTypeCode, alpha: number, beta: number,
    epilogue: number, aux: Handle, auxOff: number, biasGrad: Handle, biasGradOff: number, biasGradDtype: DTypeCode): void;

  // ---- NCCL (csrc/binding/nccl.cpp, csrc/cuda/nccl.cu; CUDA builds made with NCCL) ----------
  // Every collective first makes the communicator's stream wait for the work queued so far on the
  // device's current stream, enqueues the NCCL call on the communicator's stream, and records `done`
  // (an event handle from eventCreate) there. Reduce ops: 0 sum, 1 prod, 2 max, 3 min, 4 avg.
  /** NCCL's version code (e.g. 22805 for 2.28.5), or 0 when this build has no NCCL. */
  ncclVersion(): number;
  /** A new 128-byte NCCL unique id: one rank makes it and hands it to the others. */
  ncclGetUniqueId(): ArrayBuffer;
  /** This rank's communicator on `device`; NCCL blocks until every rank joins, so it runs off the main thread. */
  ncclCommInitRank(device: number, nranks: number, uniqueId: ArrayBufferView, rank: number): Promise<Handle>;
  ncclCommDestroy(comm: Handle): void;
  /** Stops the communicator's pending work and frees it (after an error or a timeout). */
  ncclCommAbort(comm: Handle): void;
  /** '' while healthy, else a description of the communicator's asynchronous error. */
  ncclCommAsyncError(comm: Handle): string;
  /** The communicator's own CUDA stream (a stream handle). */
  ncclCommStream(comm: Handle): Handle;
  ncclAllReduce(comm: Handle, send: Handle, sendOff: number, recv: Handle, recvOff: number, count: number, dtype: DTypeCode, op: number, done: Handle): void;
  ncclReduceScatter(comm: Handle, send: Handle, sendOff: number, recv: Handle, recvOff: number, recvCount: number, dtype: DTypeCode, op: number, done: Handle): void;
  ncclAllGather(comm: Handle, send: Handle, sendOff: number, recv: Handle, recvOff: number, sendCount: number, dtype: DTypeCode, done: Handle): void;
  ncclBroadcast(comm: Handle, buf: Handle, off: number, count: number, dtype: DTypeCode, root: number, done: Handle): void;
  /** Sends and receives in one NCCL group; each op is [1 send | 0 recv, handle, offset, count, dtype, peer]. */
  ncclSendRecv(comm: Handle, ops: ReadonlyArray<readonly [0 | 1, Handle, number, number, DTypeCode, number]>, done: Handle): void;

  // ---- cpu backend data plane (csrc/binding/cpu_comm.cpp, csrc/cpu/comm_*.cpp) ---------------
  // One mesh of socket connections per process, shared by every cpu process group. Every call
  // blocks until its operation is done. Errors carry a `code`: TIMEOUT, PEER_LOST, MISMATCH,
  // ABORTED, CLOSED, INVALID or UNREACHABLE. Reduce ops: 0 sum, 1 avg, 2 max, 3 min. Peers of
  // operations are group ranks; ranks elsewhere are global.
  /** Opens this process's listening sockets: TCP on host (port 0), and an abstract Unix-domain socket when unixName is not ''. */
  cpuCommListen(rank: number, worldSize: number, token: string, host: string, unixName: string): { port: number; unixName: string };
  /** Connects every listed peer not connected yet, within the timeout: lower ranks are dialled (their unixName first when given), higher ranks awaited. */
  cpuCommConnect(peers: ReadonlyArray<readonly [rank: number, host: string, port: number, unixName: string]>, timeoutMs: number): void;
  /** A group of global ranks (this rank among them), connected beforehand; the key is the same on every member. */
  cpuCommGroupCreate(key: string, ranks: readonly number[], timeoutMs: number, segmentBytes: number): Handle;
  /** Later calls on the group fail with CLOSED. */
  cpuCommGroupDestroy(group: Handle): void;
  cpuCommAllReduce(group: Handle, buf: Handle, off: number, count: number, dtype: DTypeCode, reduce: number): void;
  cpuCommReduceScatter(group: Handle, out: Handle, outOff: number, input: Handle, inOff: number, outCount: number, dtype: DTypeCode, reduce: number): void;
  cpuCommAllGather(group: Handle, out: Handle, outOff: number, input: Handle, inOff: number, inCount: number, dtype: DTypeCode): void;
  cpuCommBroadcast(group: Handle, buf: Handle, off: number, count: number, dtype: DTypeCode, root: number): void;
  /** Sends and receives that progress together; each op is [1 send | 0 recv, handle, offset, count, dtype, peer]. */
  cpuCommSendRecv(group: Handle, ops: ReadonlyArray<readonly [0 | 1, Handle, number, number, DTypeCode, number]>): void;
  cpuCommBarrier(group: Handle): void;
  /** Says bye to every peer, closes every connection and forgets every group. */
  cpuCommClose(): void;

  // ---- multi-tensor optimizer kernels (csrc/binding/optim.cpp, csrc/core/optim_kernels.h) --------
  // A tensor list crosses as parallel arrays: storage handles, element offsets and element counts.
  /**
   * torch.optim.Adam (decoupled false: L2) / AdamW (decoupled true) on every tensor of the list, in
   * one pass: grads are multiplied by gradScale first; with hasMain, the fp32 main weights are
   * updated and the params (paramDtype) receive their rounded copy, else the params are updated.
   * handles/offsets hold five lists of sizes.length entries: params, mains (ignored without
   * hasMain), grads (gradDtype), expAvgs and expAvgSqs (f32). step counts from 1.
   */
  multiTensorAdam(handles: ArrayLike<number>, offsets: ArrayLike<number>, sizes: ArrayLike<number>, paramDtype: DTypeCode, gradDtype: DTypeCode, hasMain: boolean, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, decoupled: boolean, gradScale: number): void;
  /** out[0] (f32) = (out[0] if accumulate) + sum of x^2 over all tensors (summed in fp64). */
  multiTensorSquaredNorm(handles: ArrayLike<number>, offsets: ArrayLike<number>, sizes: ArrayLike<number>, dtype: DTypeCode, out: Handle, outOff: number, accumulate: boolean): void;
  /** x *= scale in place for every tensor of the list. */
  multiTensorScale(handles: ArrayLike<number>, offsets: ArrayLike<number>, sizes: ArrayLike<number>, dtype: DTypeCode, scale: number): void;

  // ---- files (csrc/binding/files.cpp) -------------------------------------------------------
  /** Maps a whole file copy-on-write; the buffer's finalizer unmaps it. Writes never reach the file. */
  mmapFile(path: string): ArrayBuffer;
  /** madvise on a byte range of an mmapFile buffer; pattern 0 normal, 1 random, 2 sequential, 3 willneed. */
  fileAdvise(buffer: ArrayBuffer, byteOffset: number, byteLength: number, pattern: 0 | 1 | 2 | 3): void;
}
