// Differentiable reductions: sum, mean, max/min (values and arg indices), over one, several or
// all dimensions.
import type { ReduceOpName } from '@tessera/native';
import { defineFunction } from '../autograd/function.ts';
import { type DType, isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import { normDim, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { view } from './broadcast.ts';
import { reshape } from './shape.ts';

export type Dims = number | readonly number[] | undefined;

/** Sorted, de-duplicated, normalised dimensions (undefined: all of them). */
function resolveDims(x: Tensor, dims: Dims): number[] {
  if (dims === undefined) return x.shape.map((_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = [...new Set(list.map((d) => normDim(d, x.rank)))].sort((a, b) => a - b);
  return out;
}

function keptShape(shape: Shape, dims: number[]): number[] {
  return shape.map((d, i) => (dims.includes(i) ? 1 : d));
}

/** Sums/means over `dims` with one kernel per dimension, highest first (indices stay valid). */
function reduceDims(op: 'sum' | 'mean', x: Tensor, dims: number[], outDtype: DType): Tensor {
  let cur = x;
  for (let i = dims.length - 1; i >= 0; i--) {
    const next = k.reduce(op, cur, dims[i] as number, true, i === 0 ? outDtype : cur === x ? reduceDtype(x.dtype) : cur.dtype).values;
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return cur === x ? k.cast(x, outDtype) : cur;
}

/** Intermediate dtype between per-dimension reductions: keep floats, widen ints to i64. */
function reduceDtype(dtype: DType): DType {
  return isFloatingDtype(dtype) ? dtype : 'i64';
}

const SumFn = defineFunction({
  name: 'sum',
  forward(ctx, x: Tensor, dims: number[], keepdim: boolean, outDtype: DType, mean: boolean) {
    ctx.inShape = x.shape;
    ctx.dims = dims;
    ctx.scale = mean ? 1 / dims.reduce((p, d) => p * (x.shape[d] as number), 1) : 1;
    const r = reduceDims(mean ? 'mean' : 'sum', x, dims, outDtype);
    return keepdim ? r : view(r, x.shape.filter((_, i) => !dims.includes(i)));
  },
  backward(ctx, gy) {
    const inShape = ctx.inShape as number[];
    const g = view(gy, keptShape(inShape, ctx.dims as number[]));
    const expanded = k.expand(g, inShape);
    return [ctx.scale === 1 ? expanded : k.unary('affine', expanded, ctx.scale as number, 0)];
  },
});

export interface ReduceOptions {
  keepdim?: boolean;
  dtype?: DType;
}

/** Sum over `dims` (all by default). Integers and bools sum to i64. */
export function sum(x: Tensor, dims?: Dims, opts: ReduceOptions = {}): Tensor {
  x._check();
  const d = resolveDims(x, dims);
  const outDtype = opts.dtype ?? (isFloatingDtype(x.dtype) ? x.dtype : 'i64');
  return SumFn(x, d, opts.keepdim ?? false, outDtype, false);
}

/** Mean over `dims` (all by default); needs a floating dtype. */
export function mean(x: Tensor, dims?: Dims, opts: ReduceOptions = {}): Tensor {
  x._check();
  const outDtype = opts.dtype ?? x.dtype;
  if (!isFloatingDtype(outDtype)) throw new Error(`mean: needs a floating dtype, got ${x.dtype}; cast with .to('f32') or pass { dtype: 'f32' }`);
  return SumFn(x, resolveDims(x, dims), opts.keepdim ?? false, outDtype, true);
}

const ExtremumFn = defineFunction({
  name: 'max',
  forward(ctx, x: Tensor, op: ReduceOpName, dim: number, keepdim: boolean) {
    const { values, indices } = k.reduce(op, x, dim, true, x.dtype, true);
    ctx.saveForBackward(indices as Tensor);
    ctx.inShape = x.shape;
    ctx.dim = dim;
    ctx.markNonDifferentiable(indices as Tensor);
    const outShape = keepdim ? values.shape : x.shape.filter((_, i) => i !== dim);
    return [view(values, outShape), view(indices as Tensor, outShape)];
  },
  backward(ctx, gy) {
    const [indices] = ctx.savedTensors as [Tensor];
    const inShape = ctx.inShape as number[];
    const dim = ctx.dim as number;
    const gx = k.full(inShape, 0, gy.dtype, gy.device);
    k.scatterAdd(gx, dim, indices, view(gy, indices.shape));
    return [gx];
  },
});

function extremum(op: 'max' | 'min', x: Tensor, dim: number | undefined, keepdim: boolean): { values: Tensor; indices: Tensor } {
  x._check();
  if (dim === undefined) {
    const flat = reshape(x, [x.numel]);
    const r = extremum(op, flat, 0, false);
    flat.dispose();
    if (!keepdim) return r;
    const shape = x.shape.map(() => 1);
    const kept = { values: reshape(r.values, shape), indices: view(r.indices, shape) };
    r.values.dispose();
    r.indices.dispose();
    return kept;
  }
  const [values, indices] = ExtremumFn(x, op, normDim(dim, x.rank), keepdim) as [Tensor, Tensor];
  return { values, indices };
}

/** Maximum over `dim` (of all elements when omitted), with the index of its first occurrence. */
export function maxWithIndices(x: Tensor, dim?: number, keepdim = false): { values: Tensor; indices: Tensor } {
  return extremum('max', x, dim, keepdim);
}

export function minWithIndices(x: Tensor, dim?: number, keepdim = false): { values: Tensor; indices: Tensor } {
  return extremum('min', x, dim, keepdim);
}

export function max(x: Tensor, dim?: number, keepdim = false): Tensor {
  const { values, indices } = extremum('max', x, dim, keepdim);
  indices.dispose();
  return values;
}

export function min(x: Tensor, dim?: number, keepdim = false): Tensor {
  const { values, indices } = extremum('min', x, dim, keepdim);
  indices.dispose();
  return values;
}

export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  const { values, indices } = extremum('max', x, dim, keepdim);
  values.dispose();
  return indices;
}

export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  const { values, indices } = extremum('min', x, dim, keepdim);
  values.dispose();
  return indices;
}
