// Differentiable gathering and scattering: index-select, gather, scatter-add, embedding lookup.
import { defineFunction } from '../autograd/function.ts';
import { isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import { normDim, shapeString } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { view } from './broadcast.ts';

function checkIndexTensor(op: string, index: Tensor): void {
  index._check();
  if (index.dtype !== 'i32' && index.dtype !== 'i64') throw new Error(`${op}: indices must be i32 or i64, got ${index.dtype}`);
}

/** Gradient of a gather-like op: accumulate into fp32, then return in the source dtype. */
function scatterGrad(shape: readonly number[], dtype: Tensor['dtype'], device: Tensor['device'], add: (acc: Tensor) => void): Tensor {
  const acc = k.full(shape, 0, 'f32', device);
  add(acc);
  if (dtype === 'f32') return acc;
  return k.cast(acc, dtype);
}

const IndexSelectFn = defineFunction({
  name: 'indexSelect',
  forward(ctx, x: Tensor, dim: number, index: Tensor) {
    ctx.saveForBackward(index);
    ctx.inShape = x.shape;
    ctx.dim = dim;
    return k.indexSelect(x, dim, index);
  },
  backward(ctx, gy) {
    const [index] = ctx.savedTensors as [Tensor];
    const dim = ctx.dim as number;
    return [scatterGrad(ctx.inShape as number[], gy.dtype, gy.device, (acc) => k.indexAdd(acc, dim, index, gy)), null, null];
  },
});

/** Rows (slices along `dim`) picked by a 1-D index tensor. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  x._check();
  checkIndexTensor('indexSelect', index);
  if (index.rank > 1) throw new Error(`indexSelect: the index must be 1-D, got ${index.describe()}`);
  return IndexSelectFn(x, normDim(dim, x.rank), view(index, [index.numel]));
}

const EmbeddingFn = defineFunction({
  name: 'embedding',
  forward(ctx, ids: Tensor, weight: Tensor) {
    ctx.saveForBackward(ids);
    ctx.weightShape = weight.shape;
    const flat = view(ids, [ids.numel]);
    const rows = k.indexSelect(weight, 0, flat);
    return view(rows, [...ids.shape, weight.shape[1] as number]);
  },
  backward(ctx, gy) {
    const [ids] = ctx.savedTensors as [Tensor];
    const shape = ctx.weightShape as number[];
    const flatIds = view(ids, [ids.numel]);
    const flatGrad = view(gy, [ids.numel, shape[1] as number]);
    return [null, scatterGrad(shape, gy.dtype, gy.device, (acc) => k.indexAdd(acc, 0, flatIds, flatGrad))];
  },
});

/** Looks up rows of `weight` [num, dim] for integer ids of any shape: out [...ids.shape, dim]. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  weight._check();
  checkIndexTensor('embedding', ids);
  if (weight.rank !== 2) throw new Error(`embedding: the weight must be 2-D [num, dim], got ${weight.describe()}`);
  return EmbeddingFn(ids, weight);
}

const GatherFn = defineFunction({
  name: 'gather',
  forward(ctx, x: Tensor, dim: number, index: Tensor) {
    ctx.saveForBackward(index);
    ctx.inShape = x.shape;
    ctx.dim = dim;
    return k.gather(x, dim, index);
  },
  backward(ctx, gy) {
    const [index] = ctx.savedTensors as [Tensor];
    const dim = ctx.dim as number;
    return [scatterGrad(ctx.inShape as number[], gy.dtype, gy.device, (acc) => k.scatterAdd(acc, dim, index, gy)), null, null];
  },
});

function checkGatherShapes(op: string, x: Tensor, dim: number, index: Tensor): void {
  if (index.rank !== x.rank || index.shape.some((s, i) => i !== dim && s !== x.shape[i])) {
    throw new Error(`${op}: the index ${shapeString(index.shape)} must match ${shapeString(x.shape)} in every dimension but ${dim}`);
  }
}

/** out[..., j, ...] = x[..., index[..., j, ...], ...] along `dim`. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  x._check();
  checkIndexTensor('gather', index);
  const d = normDim(dim, x.rank);
  checkGatherShapes('gather', x, d, index);
  return GatherFn(x, d, index);
}

const ScatterAddFn = defineFunction({
  name: 'scatterAdd',
  forward(ctx, x: Tensor, dim: number, index: Tensor, src: Tensor) {
    ctx.saveForBackward(index);
    ctx.dim = dim;
    const out = k.copyInto(k.empty(x.shape, x.dtype, x.device), x);
    return k.scatterAdd(out, dim, index, src);
  },
  backward(ctx, gy) {
    const [index] = ctx.savedTensors as [Tensor];
    return [gy, null, null, ctx.needsInputGrad[3] ? k.gather(gy, ctx.dim as number, index) : null];
  },
});

/** A copy of x with src added at positions index along `dim` (out-of-place scatter_add). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  x._check();
  src._check();
  checkIndexTensor('scatterAdd', index);
  const d = normDim(dim, x.rank);
  if (index.rank !== x.rank || index.shape.some((s, i) => i !== d && s !== x.shape[i]) || index.shape.some((s, i) => s !== src.shape[i])) {
    throw new Error(`scatterAdd: index ${shapeString(index.shape)} must equal src ${shapeString(src.shape)} and match ${shapeString(x.shape)} outside dimension ${d}`);
  }
  if (!isFloatingDtype(x.dtype)) throw new Error(`scatterAdd: needs a floating dtype, got ${x.dtype}`);
  if (src.dtype !== x.dtype) throw new Error(`scatterAdd: src is ${src.dtype} but x is ${x.dtype}`);
  return ScatterAddFn(x, d, index, src);
}
