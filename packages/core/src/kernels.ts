// Raw kernel calls on tensors: allocate the output, marshal (handle, offset) pairs and shapes to
// the binding. No autograd here; ops/ builds differentiable operations from these.
import {
  BINARY_OPS,
  type BinaryOpName,
  GEMM_EPILOGUES,
  type GemmEpilogueName,
  REDUCE_OPS,
  type ReduceOpName,
  UNARY_OPS,
  type UnaryOpName,
} from '@tessera/native';
import type { Device } from './device.ts';
import { bytesPerElement, dtypeCode as code, type DType, isFloatingDtype } from './dtype.ts';
import { nb } from './native.ts';
import { defaultGenerator, type Generator } from './random.ts';
import {
  broadcastShapes,
  broadcastStrides,
  collapseDims,
  contiguousStrides,
  numel,
  sameShape,
  type Shape,
  shapeString,
  splitAt,
} from './shape.ts';
import { Tensor } from './tensor.ts';

const NONE = 0;
const UNIT_STRIDE = [1];

export function empty(shape: Shape, dtype: DType, device: Device): Tensor {
  return Tensor._empty(shape, dtype, device);
}

function sameDevice(op: string, ...ts: Tensor[]): Device {
  const d = (ts[0] as Tensor).device;
  for (const t of ts) {
    t._check();
    if (t.device !== d) {
      throw new Error(`${op}: tensors are on different devices (${d} and ${t.device}); move them with .to(device)`);
    }
  }
  return d;
}

export function fill(out: Tensor, value: number): Tensor {
  nb.fill(out.handle, out.offset, out.numel, code(out.dtype), value);
  return out;
}

export function full(shape: Shape, value: number, dtype: DType, device: Device): Tensor {
  return fill(empty(shape, dtype, device), value);
}

export function arange(start: number, step: number, n: number, dtype: DType, device: Device): Tensor {
  const out = empty([n], dtype, device);
  nb.arange(out.handle, out.offset, n, code(dtype), start, step);
  return out;
}

/** Fills `out` with uniform [a, b) (kind 0) or normal(a, b) (kind 1) numbers from a generator. */
export function randomInto(out: Tensor, kind: 0 | 1, a: number, b: number, generator?: Generator): Tensor {
  if (!isFloatingDtype(out.dtype)) throw new Error(`random numbers need a floating dtype, got ${out.dtype}`);
  const g = generator ?? defaultGenerator(out.device);
  const { seed, counter } = g.reserve(out.numel);
  nb.random(out.handle, out.offset, out.numel, code(out.dtype), kind, a, b, seed, counter);
  return out;
}

export function cast(x: Tensor, dtype: DType): Tensor {
  const out = empty(x.shape, dtype, x.device);
  nb.cast(x.handle, x.offset, code(x.dtype), out.handle, out.offset, code(dtype), x.numel);
  return out;
}

/** Copies src's elements into dst (same element count), converting the dtype if needed. */
export function copyInto(dst: Tensor, src: Tensor): Tensor {
  if (dst.numel !== src.numel) {
    throw new Error(`copy: ${src.describe()} does not fit ${dst.describe()}`);
  }
  if (src.dtype !== dst.dtype) {
    if (src.device !== dst.device) {
      const moved = toDevice(src, dst.device);
      copyInto(dst, moved);
      moved.dispose();
      return dst;
    }
    nb.cast(src.handle, src.offset, code(src.dtype), dst.handle, dst.offset, code(dst.dtype), src.numel);
    return dst;
  }
  const size = bytesPerElement(src.dtype);
  nb.copyBytes(dst.handle, dst.offset * size, src.handle, src.offset * size, src.numel * size);
  return dst;
}

export function toDevice(x: Tensor, device: Device): Tensor {
  const out = empty(x.shape, x.dtype, device);
  const size = bytesPerElement(x.dtype);
  nb.copyBytes(out.handle, 0, x.handle, x.offset * size, x.numel * size);
  return out;
}

export function unary(op: UnaryOpName, x: Tensor, alpha = 0, beta = 0, out?: Tensor): Tensor {
  const o = out ?? empty(x.shape, x.dtype, x.device);
  nb.unary(UNARY_OPS[op], x.handle, x.offset, o.handle, o.offset, x.numel, code(x.dtype), alpha, beta);
  return o;
}

export function unaryBackward(op: UnaryOpName, x: Tensor, gy: Tensor, alpha = 0, beta = 0): Tensor {
  sameDevice(`${op} backward`, x, gy);
  const gx = empty(x.shape, x.dtype, x.device);
  nb.unaryBackward(UNARY_OPS[op], x.handle, x.offset, gy.handle, gy.offset, gx.handle, gx.offset, x.numel, code(x.dtype), alpha, beta);
  return gx;
}

/** a (op) b with broadcasting; both must already have the same dtype. Writes into `out` if given. */
export function binary(op: BinaryOpName, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const device = sameDevice(op, a, b);
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} and ${b.dtype})`);
  const comparison = BINARY_OPS[op] >= BINARY_OPS.eq;
  if (sameShape(a.shape, b.shape) && (!out || out.numel === a.numel)) {
    // Fast path: no broadcasting, one flat dimension.
    const o = out ?? empty(a.shape, comparison ? 'bool' : a.dtype, device);
    const flat = [a.numel];
    nb.binary(BINARY_OPS[op], a.handle, a.offset, UNIT_STRIDE, b.handle, b.offset, UNIT_STRIDE, o.handle, o.offset, flat, code(a.dtype));
    return o;
  }
  const shape = broadcastShapes(a.shape, b.shape);
  const o = out ?? empty(shape, comparison ? 'bool' : a.dtype, device);
  if (out && numel(out.shape) !== numel(shape)) {
    throw new Error(`${op}: the output ${out.describe()} does not match the broadcast shape ${shapeString(shape)}`);
  }
  const c = collapseDims(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape), contiguousStrides(shape)]);
  nb.binary(BINARY_OPS[op], a.handle, a.offset, c.strides[0] as number[], b.handle, b.offset, c.strides[1] as number[], o.handle, o.offset, c.shape, code(a.dtype));
  return o;
}

export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const device = sameDevice('where', cond, a, b);
  if (cond.dtype !== 'bool') throw new Error(`where: the condition must be bool, got ${cond.dtype}`);
  if (a.dtype !== b.dtype) throw new Error(`where: dtypes differ (${a.dtype} and ${b.dtype})`);
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape);
  const o = empty(shape, a.dtype, device);
  const c = collapseDims(shape, [
    broadcastStrides(cond.shape, shape),
    broadcastStrides(a.shape, shape),
    broadcastStrides(b.shape, shape),
    contiguousStrides(shape),
  ]);
  const [cs, as, bs] = c.strides as [number[], number[], number[]];
  nb.where(cond.handle, cond.offset, cs, a.handle, a.offset, as, b.handle, b.offset, bs, o.handle, o.offset, c.shape, code(a.dtype));
  return o;
}

/** Copies `src` read with `srcStrides` over `shape` into `out` written with `outStrides`. */
export function copyStrided(src: Tensor, srcOffset: number, srcStrides: number[], out: Tensor, outOffset: number, outStrides: number[], shape: Shape): void {
  sameDevice('copy', src, out);
  const c = collapseDims(shape, [srcStrides, outStrides]);
  nb.copyStrided(src.handle, src.offset + srcOffset, c.strides[0] as number[], out.handle, out.offset + outOffset, c.strides[1] as number[], c.shape, code(src.dtype));
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const shape = dims.map((d) => x.shape[d] as number);
  const inStrides = contiguousStrides(x.shape);
  const out = empty(shape, x.dtype, x.device);
  copyStrided(x, 0, dims.map((d) => inStrides[d] as number), out, 0, contiguousStrides(shape), shape);
  return out;
}

/** Materialises x broadcast to `shape`. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = empty(shape, x.dtype, x.device);
  copyStrided(x, 0, broadcastStrides(x.shape, shape), out, 0, contiguousStrides(shape), shape);
  return out;
}

/** dst += alpha * src (in place), converting src to dst's dtype. */
export function accumulate(dst: Tensor, src: Tensor, alpha = 1): Tensor {
  sameDevice('accumulate', dst, src);
  if (dst.numel !== src.numel) throw new Error(`accumulate: ${src.describe()} does not match ${dst.describe()}`);
  nb.accumulate(dst.handle, dst.offset, code(dst.dtype), src.handle, src.offset, code(src.dtype), src.numel, alpha);
  return dst;
}

/** Reduces dimension `dim`; returns the values (and int64 indices for max/min when asked). */
export function reduce(op: ReduceOpName, x: Tensor, dim: number, keepdim: boolean, outDtype: DType, withIndices = false): { values: Tensor; indices?: Tensor } {
  const { outer, size, inner } = splitAt(x.shape, dim);
  const shape = keepdim ? x.shape.map((d, i) => (i === dim ? 1 : d)) : x.shape.filter((_, i) => i !== dim);
  const values = empty(shape, outDtype, x.device);
  const indices = withIndices ? empty(shape, 'i64', x.device) : undefined;
  nb.reduce(REDUCE_OPS[op], x.handle, x.offset, outer, size, inner, code(x.dtype), values.handle, values.offset, code(outDtype), indices ? indices.handle : NONE, indices ? indices.offset : 0);
  return { values, indices };
}

export function softmax(x: Tensor, dim: number, log: boolean): Tensor {
  const { outer, size, inner } = splitAt(x.shape, dim);
  const out = empty(x.shape, x.dtype, x.device);
  nb.softmax(x.handle, x.offset, out.handle, out.offset, outer, size, inner, code(x.dtype), log);
  return out;
}

export function softmaxBackward(y: Tensor, gy: Tensor, dim: number, log: boolean): Tensor {
  sameDevice('softmax backward', y, gy);
  const { outer, size, inner } = splitAt(y.shape, dim);
  const gx = empty(y.shape, y.dtype, y.device);
  nb.softmaxBackward(y.handle, y.offset, gy.handle, gy.offset, gx.handle, gx.offset, outer, size, inner, code(y.dtype), log);
  return gx;
}

/** The mask of a fused attention softmax: causal and/or a Bool mask [b or 1, 1, sq or 1, sk] (true = masked). */
export interface SoftmaxMask {
  causal: boolean;
  mask: Tensor | undefined;
}

/** maskedSoftmax(Backward)'s trailing mask arguments for scores shaped like `scores` [b, heads, sq, sk]. */
function maskArgs(scores: Tensor, m: SoftmaxMask): [number, number, number, number, number, number, boolean] {
  const [, heads, sq, sk] = scores.shape as [number, number, number, number];
  const mask = m.mask;
  const batchStride = mask && mask.shape[0] !== 1 ? (mask.shape[2] as number) * sk : 0;
  const rowStride = mask && mask.shape[2] !== 1 ? sk : 0;
  return [mask?.handle ?? NONE, mask?.offset ?? 0, sq, heads, batchStride, rowStride, m.causal];
}

/** Megatron's fused scale + mask + softmax over scores [b, heads, sq, sk], fp32 inside. */
export function maskedSoftmax(x: Tensor, scale: number, m: SoftmaxMask): Tensor {
  sameDevice('scaledMaskedSoftmax', x, ...(m.mask ? [m.mask] : []));
  const sk = x.shape[3] as number;
  const out = empty(x.shape, x.dtype, x.device);
  nb.maskedSoftmax(x.handle, x.offset, out.handle, out.offset, x.numel / Math.max(sk, 1), sk, scale, code(x.dtype), ...maskArgs(x, m));
  return out;
}

/** The backward of maskedSoftmax: gx = masked ? 0 : scale * y * (gy - sum(gy * y)) per row. */
export function maskedSoftmaxBackward(y: Tensor, gy: Tensor, scale: number, m: SoftmaxMask): Tensor {
  sameDevice('scaledMaskedSoftmax backward', y, gy, ...(m.mask ? [m.mask] : []));
  const sk = y.shape[3] as number;
  const gx = empty(y.shape, y.dtype, y.device);
  nb.maskedSoftmaxBackward(y.handle, y.offset, gy.handle, gy.offset, gx.handle, gx.offset, y.numel / Math.max(sk, 1), sk, scale, code(y.dtype), ...maskArgs(y, m));
  return gx;
}

export interface NormResult {
  out: Tensor;
  mean: Tensor | undefined;
  rstd: Tensor;
}

/** LayerNorm (rms=false) or RMSNorm over the last `cols` elements of each row. */
export function norm(x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, cols: number, eps: number, rms: boolean): NormResult {
  sameDevice(rms ? 'rmsNorm' : 'layerNorm', x, ...(weight ? [weight] : []), ...(bias ? [bias] : []));
  const rows = x.numel / cols;
  const out = empty(x.shape, x.dtype, x.device);
  const mean = rms ? undefined : empty([rows], 'f32', x.device);
  const rstd = empty([rows], 'f32', x.device);
  const wDtype = (weight ?? bias)?.dtype ?? x.dtype;
  nb.norm(
    x.handle, x.offset, weight?.handle ?? NONE, weight?.offset ?? 0, bias?.handle ?? NONE, bias?.offset ?? 0,
    out.handle, out.offset, mean?.handle ?? NONE, mean?.offset ?? 0, rstd.handle, rstd.offset,
    rows, cols, eps, code(x.dtype), code(wDtype), rms,
  );
  return { out, mean, rstd };
}

export function normBackward(
  gy: Tensor, x: Tensor, weight: Tensor | undefined, mean: Tensor | undefined, rstd: Tensor, cols: number, rms: boolean,
  wantWeightGrad: boolean, wantBiasGrad: boolean,
): { gx: Tensor; gw: Tensor | undefined; gb: Tensor | undefined } {
  const rows = x.numel / cols;
  const gx = empty(x.shape, x.dtype, x.device);
  const gw = wantWeightGrad ? empty([cols], 'f32', x.device) : undefined;
  const gb = wantBiasGrad ? empty([cols], 'f32', x.device) : undefined;
  const wDtype = weight?.dtype ?? x.dtype;
  nb.normBackward(
    gy.handle, gy.offset, x.handle, x.offset, weight?.handle ?? NONE, weight?.offset ?? 0,
    mean?.handle ?? NONE, mean?.offset ?? 0, rstd.handle, rstd.offset, gx.handle, gx.offset,
    gw?.handle ?? NONE, gw?.offset ?? 0, gb?.handle ?? NONE, gb?.offset ?? 0, rows, cols, code(x.dtype), code(wDtype), rms,
  );
  return { gx, gw, gb };
}

export function crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex: number, labelSmoothing: number): { loss: Tensor; lse: Tensor } {
  sameDevice('crossEntropy', logits, labels);
  const vocab = logits.shape[logits.rank - 1] as number;
  const rows = logits.numel / vocab;
  const loss = empty([rows], 'f32', logits.device);
  const lse = empty([rows], 'f32', logits.device);
  nb.crossEntropy(logits.handle, logits.offset, labels.handle, labels.offset, code(labels.dtype), loss.handle, loss.offset, lse.handle, lse.offset, rows, vocab, code(logits.dtype), ignoreIndex, labelSmoothing);
  return { loss, lse };
}

export function crossEntropyBackward(logits: Tensor, labels: Tensor, lse: Tensor, gloss: Tensor, ignoreIndex: number, labelSmoothing: number): Tensor {
  const vocab = logits.shape[logits.rank - 1] as number;
  const rows = logits.numel / vocab;
  const g = empty(logits.shape, logits.dtype, logits.device);
  nb.crossEntropyBackward(logits.handle, logits.offset, labels.handle, labels.offset, code(labels.dtype), lse.handle, lse.offset, gloss.handle, gloss.offset, g.handle, g.offset, rows, vocab, code(logits.dtype), ignoreIndex, labelSmoothing);
  return g;
}

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'i32' && index.dtype !== 'i64') throw new Error(`${op}: indices must be i32 or i64, got ${index.dtype}`);
}

export function indexSelect(src: Tensor, dim: number, index: Tensor): Tensor {
  sameDevice('indexSelect', src, index);
  checkIndex('indexSelect', index);
  const { outer, size, inner } = splitAt(src.shape, dim);
  const shape = [...src.shape.slice(0, dim), index.numel, ...src.shape.slice(dim + 1)];
  const out = empty(shape, src.dtype, src.device);
  nb.indexSelect(src.handle, src.offset, outer, size, inner, code(src.dtype), index.handle, index.offset, code(index.dtype), index.numel, out.handle, out.offset);
  return out;
}

/** out[.., index[j], ..] += src[.., j, ..] along `dim` of `out` (in place). */
export function indexAdd(out: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  sameDevice('indexAdd', out, index, src);
  checkIndex('indexAdd', index);
  const { outer, size, inner } = splitAt(out.shape, dim);
  nb.indexAdd(src.handle, src.offset, code(src.dtype), outer, index.numel, inner, index.handle, index.offset, code(index.dtype), out.handle, out.offset, size, code(out.dtype));
  return out;
}

export function gather(src: Tensor, dim: number, index: Tensor): Tensor {
  sameDevice('gather', src, index);
  checkIndex('gather', index);
  const { outer, size, inner } = splitAt(src.shape, dim);
  const out = empty(index.shape, src.dtype, src.device);
  nb.gather(src.handle, src.offset, outer, size, inner, code(src.dtype), index.handle, index.offset, code(index.dtype), index.shape[dim] as number, out.handle, out.offset);
  return out;
}

/** out[.., index[.., j, ..], ..] += src[.., j, ..] along `dim` (in place). */
export function scatterAdd(out: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  sameDevice('scatterAdd', out, index, src);
  checkIndex('scatterAdd', index);
  const { outer, size, inner } = splitAt(out.shape, dim);
  nb.scatterAdd(src.handle, src.offset, code(src.dtype), outer, index.shape[dim] as number, inner, index.handle, index.offset, code(index.dtype), out.handle, out.offset, size, code(out.dtype));
  return out;
}

export function dropout(x: Tensor, p: number, generator?: Generator): { out: Tensor; mask: Tensor } {
  const out = empty(x.shape, x.dtype, x.device);
  const mask = empty(x.shape, 'bool', x.device);
  const g = generator ?? defaultGenerator(x.device);
  const { seed, counter } = g.reserve(x.numel);
  nb.dropout(x.handle, x.offset, out.handle, out.offset, mask.handle, mask.offset, x.numel, code(x.dtype), p, seed, counter);
  return { out, mask };
}

export function maskedScale(gy: Tensor, mask: Tensor, scale: number): Tensor {
  const gx = empty(gy.shape, gy.dtype, gy.device);
  nb.maskedScale(gy.handle, gy.offset, mask.handle, mask.offset, gx.handle, gx.offset, gy.numel, code(gy.dtype), scale);
  return gx;
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  alpha?: number;
  beta?: number;
  bias?: Tensor;
  /**
   * Work done by the GEMM's epilogue (unbatched products; native/csrc/core/kernels.h):
   * 'geluAux': `aux` = the product (+ bias), C = gelu_tanh(aux);
   * 'dgelu': C = product * gelu_tanh'(aux), `biasGrad` (optional) = C's column sums;
   * 'biasGradA': `biasGrad` = the row sums of op(A) (a weight-gradient GEMM's bias gradient).
   */
  epilogue?: GemmEpilogueName;
  aux?: Tensor;
  biasGrad?: Tensor;
}

/** C = alpha * op(A) @ op(B) + beta * C (+ bias), row-major, into `c` ([batch, m, n]). */
export function gemm(a: Tensor, b: Tensor, c: Tensor, m: number, n: number, k: number, o: GemmOptions = {}): Tensor {
  sameDevice('matmul', a, b, c, ...[o.bias, o.aux, o.biasGrad].filter((t): t is Tensor => t !== undefined));
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtypes differ (${a.dtype} and ${b.dtype}); cast one with .to()`);
  const batch = o.batch ?? 1;
  nb.matmul(
    a.handle, a.offset, b.handle, b.offset, c.handle, c.offset, o.bias?.handle ?? NONE, o.bias?.offset ?? 0,
    m, n, k, o.transA ?? false, o.transB ?? false, batch,
    o.strideA ?? m * k, o.strideB ?? k * n, o.strideC ?? m * n,
    code(a.dtype), code(c.dtype), code(o.bias?.dtype ?? c.dtype), o.alpha ?? 1, o.beta ?? 0,
    GEMM_EPILOGUES[o.epilogue ?? 'none'], o.aux?.handle ?? NONE, o.aux?.offset ?? 0,
    o.biasGrad?.handle ?? NONE, o.biasGrad?.offset ?? 0, code(o.biasGrad?.dtype ?? c.dtype),
  );
  return c;
}
