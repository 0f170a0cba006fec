// Differentiable shape and layout ops. Reshapes are views; permutes, narrows of inner dimensions,
// concatenation and expansion copy (every tensor stays contiguous).
import { defineFunction } from '../autograd/function.ts';
import { type Device, type DeviceLike, parseDevice } from '../device.ts';
import * as k from '../kernels.ts';
import { checkShape, contiguousStrides, inferShape, normDim, shapeString } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { sumToShape, view } from './broadcast.ts';

const ReshapeFn = defineFunction({
  name: 'reshape',
  forward(ctx, x: Tensor, shape: number[]) {
    ctx.inShape = x.shape;
    return view(x, shape);
  },
  backward(ctx, gy) {
    return [view(gy, ctx.inShape as number[])];
  },
});

/** A view with another shape (one dimension may be -1). Never copies. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x._check();
  return ReshapeFn(x, inferShape(shape, x.numel, x.shape));
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.rank);
  const e = normDim(endDim, x.rank);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normDim(dim, x.rank);
  if (x.shape[d] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

const PermuteFn = defineFunction({
  name: 'permute',
  forward(ctx, x: Tensor, dims: number[]) {
    ctx.dims = dims;
    return k.permute(x, dims);
  },
  backward(ctx, gy) {
    const dims = ctx.dims as number[];
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => {
      inverse[d] = i;
    });
    return [k.permute(gy, inverse)];
  },
});

/** The dimensions reordered (a copy). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x._check();
  if (dims.length !== x.rank) throw new Error(`permute: ${dims.length} dimensions given for a tensor of rank ${x.rank}`);
  const norm = dims.map((d) => normDim(d, x.rank));
  if (new Set(norm).size !== norm.length) throw new Error(`permute: repeated dimension in [${dims.join(', ')}]`);
  return PermuteFn(x, norm);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const dims = x.shape.map((_, i) => i);
  const a = normDim(dim0, x.rank);
  const b = normDim(dim1, x.rank);
  [dims[a], dims[b]] = [dims[b] as number, dims[a] as number];
  return permute(x, dims);
}

// Narrow: a view when the slice is contiguous in memory (all earlier dimensions have size 1),
// otherwise a strided copy. Backward writes the gradient into a zero tensor of the input's shape.
const NarrowFn = defineFunction({
  name: 'narrow',
  forward(ctx, x: Tensor, dim: number, start: number, length: number) {
    ctx.inShape = x.shape;
    ctx.dim = dim;
    ctx.start = start;
    const strides = contiguousStrides(x.shape);
    const shape = x.shape.map((d, i) => (i === dim ? length : d));
    const offset = start * (strides[dim] as number);
    if (x.shape.slice(0, dim).every((d) => d === 1)) {
      return new Tensor(x._storage, x._offset + offset, shape, x.dtype);
    }
    const out = k.empty(shape, x.dtype, x.device);
    k.copyStrided(x, offset, strides, out, 0, contiguousStrides(shape), shape);
    return out;
  },
  backward(ctx, gy) {
    const inShape = ctx.inShape as number[];
    const gx = k.full(inShape, 0, gy.dtype, gy.device);
    const strides = contiguousStrides(inShape);
    const offset = (ctx.start as number) * (strides[ctx.dim as number] as number);
    k.copyStrided(gy, 0, contiguousStrides(gy.shape), gx, offset, strides, gy.shape);
    return [gx];
  },
});

/** Elements [start, start+length) along `dim`. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  x._check();
  const d = normDim(dim, x.rank);
  const size = x.shape[d] as number;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > size) {
    throw new RangeError(`narrow: [${start}, ${start + length}) is outside dimension ${d} of size ${size} in ${x.describe()}`);
  }
  return NarrowFn(x, d, start, length);
}

/** Splits along `dim` into pieces of `sizes` (a number: equal pieces, the last may be smaller). */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim(dim, x.rank);
  const total = x.shape[d] as number;
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new Error(`split: the piece size must be a positive integer, got ${sizes}`);
    list = [];
    for (let s = 0; s < total; s += sizes) list.push(Math.min(sizes, total - s));
  } else {
    list = [...sizes];
    const covered = list.reduce((p, s) => p + s, 0);
    if (covered !== total) throw new Error(`split: sizes [${list.join(', ')}] add up to ${covered}, but dimension ${d} has ${total}`);
  }
  let start = 0;
  return list.map((len) => {
    const piece = narrow(x, d, start, len);
    start += len;
    return piece;
  });
}

/** n pieces along `dim` (the last may be smaller), like torch.chunk. */
export function chunk(x: Tensor, n: number, dim = 0): Tensor[] {
  const d = normDim(dim, x.rank);
  return split(x, Math.ceil((x.shape[d] as number) / n), d);
}

const CatFn = defineFunction({
  name: 'cat',
  forward(ctx, dim: number, ...xs: Tensor[]) {
    ctx.dim = dim;
    ctx.sizes = xs.map((t) => t.shape[dim]);
    const shape = [...(xs[0] as Tensor).shape];
    shape[dim] = xs.reduce((p, t) => p + (t.shape[dim] as number), 0);
    const out = k.empty(shape, (xs[0] as Tensor).dtype, (xs[0] as Tensor).device);
    const outStrides = contiguousStrides(shape);
    let start = 0;
    for (const t of xs) {
      if (t.numel > 0) k.copyStrided(t, 0, contiguousStrides(t.shape), out, start * (outStrides[dim] as number), outStrides, t.shape);
      start += t.shape[dim] as number;
    }
    return out;
  },
  backward(ctx, gy) {
    const dim = ctx.dim as number;
    let start = 0;
    const grads = (ctx.sizes as number[]).map((len) => {
      const shape = gy.shape.map((d, i) => (i === dim ? len : d));
      const g = k.empty(shape, gy.dtype, gy.device);
      const strides = contiguousStrides(gy.shape);
      if (g.numel > 0) k.copyStrided(gy, start * (strides[dim] as number), strides, g, 0, contiguousStrides(shape), shape);
      start += len;
      return g;
    });
    return [null, ...grads];
  },
});

/** Concatenation along `dim`; every tensor must match in the other dimensions, dtype and device. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error('cat: needs at least one tensor');
  const first = (tensors[0] as Tensor)._check();
  const d = normDim(dim, first.rank);
  for (const t of tensors) {
    t._check();
    if (t.rank !== first.rank || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(`cat: shapes ${shapeString(first.shape)} and ${shapeString(t.shape)} differ outside dimension ${d}`);
    }
    if (t.dtype !== first.dtype) throw new Error(`cat: dtypes differ (${first.dtype} and ${t.dtype}); cast first`);
    if (t.device !== first.device) throw new Error(`cat: devices differ (${first.device} and ${t.device})`);
  }
  return CatFn(d, ...tensors);
}

/** Stacks equal-shaped tensors along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error('stack: needs at least one tensor');
  const d = normDim(dim, (tensors[0] as Tensor).rank + 1);
  const expanded = tensors.map((t) => unsqueeze(t, d));
  const out = cat(expanded, d);
  for (const t of expanded) t.dispose();
  return out;
}

const ExpandFn = defineFunction({
  name: 'expand',
  forward(ctx, x: Tensor, shape: number[]) {
    ctx.inShape = x.shape;
    return k.expand(x, shape);
  },
  backward(ctx, gy) {
    return [sumToShape(gy, ctx.inShape as number[])];
  },
});

/** x broadcast to `shape` (materialised; -1 keeps a dimension). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x._check();
  const lead = shape.length - x.rank;
  if (lead < 0) throw new Error(`expand: target ${shapeString(shape)} has fewer dimensions than ${x.describe()}`);
  const target = shape.map((s, i) => (s === -1 ? (x.shape[i - lead] as number) : s));
  checkShape(target, 'expand target');
  x.shape.forEach((s, i) => {
    if (s !== 1 && s !== target[i + lead]) throw new Error(`expand: ${x.describe()} cannot be expanded to ${shapeString(target)}`);
  });
  return ExpandFn(x, target);
}

const CloneFn = defineFunction({
  name: 'clone',
  forward(_ctx, x: Tensor) {
    return k.copyInto(k.empty(x.shape, x.dtype, x.device), x);
  },
  backward(_ctx, gy) {
    return [gy];
  },
});

/** A copy with its own memory (gradients flow through). */
export function clone(x: Tensor): Tensor {
  return CloneFn(x);
}

/** A new tensor sharing x's memory, cut off from autograd. */
export function detach(x: Tensor): Tensor {
  x._check();
  return new Tensor(x._storage, x._offset, x.shape, x.dtype);
}

const ToDeviceFn = defineFunction({
  name: 'toDevice',
  forward(ctx, x: Tensor, device: Device) {
    ctx.from = x.device;
    return k.toDevice(x, device);
  },
  backward(ctx, gy) {
    return [k.toDevice(gy, ctx.from as Device)];
  },
});

/** x on another device (x itself when already there). */
export function toDevice(x: Tensor, device: DeviceLike): Tensor {
  x._check();
  const d = parseDevice(device);
  return d === x.device ? x : ToDeviceFn(x, d);
}

