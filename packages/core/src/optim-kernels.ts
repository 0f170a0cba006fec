// Multi-tensor kernels for optimizers: one native call updates, measures or scales a whole list of
// tensors (one CUDA launch over chunks of all of them). The tensors are passed as parallel arrays
// of storage handles, element offsets and sizes; nothing here records autograd history.
import type { Device } from './device.ts';
import { type DType, dtypeCode } from './dtype.ts';
import * as k from './kernels.ts';
import { nb } from './native.ts';
import type { Tensor } from './tensor.ts';

export interface AdamStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step being taken, counting from 1 (bias corrections use it). */
  step: number;
  /** AdamW (true): decay the weights by lr * weightDecay; Adam (false): add weightDecay * w to the gradient. */
  decoupled: boolean;
  /** Gradients are multiplied by this first (1 / loss scale, times a clipping factor). Default 1. */
  gradScale?: number;
}

/** The lists of one fused Adam call; entry i of every list belongs to parameter i. */
export interface AdamTensorLists {
  /** Model weights, all of one dtype: updated, or (with `mains`) overwritten with the rounded main weights. */
  params: readonly Tensor[];
  /** fp32 main weights, updated in place; omit to update `params` directly. */
  mains?: readonly Tensor[];
  /** Gradients, all of one floating dtype (usually fp32 main grads). */
  grads: readonly Tensor[];
  /** fp32 first and second moments. */
  expAvgs: readonly Tensor[];
  expAvgSqs: readonly Tensor[];
}

function checkList(op: string, name: string, list: readonly Tensor[], ref: readonly Tensor[], device: Device, dtype?: DType): void {
  if (list.length !== ref.length) throw new Error(`${op}: ${name} has ${list.length} tensors, params has ${ref.length}`);
  list.forEach((t, i) => {
    t._check();
    const p = ref[i] as Tensor;
    if (t.numel !== p.numel) throw new Error(`${op}: ${name}[${i}] is ${t.describe()} but params[${i}] is ${p.describe()}`);
    if (t.device !== device) throw new Error(`${op}: ${name}[${i}] is on ${t.device}, params[0] on ${device}; move them to one device`);
    if (dtype && t.dtype !== dtype) throw new Error(`${op}: ${name}[${i}] is ${t.dtype}, expected ${dtype}`);
  });
}

function uniformDtype(op: string, name: string, list: readonly Tensor[]): DType {
  const dtype = (list[0] as Tensor).dtype;
  const other = list.find((t) => t.dtype !== dtype);
  if (other) throw new Error(`${op}: ${name} mixes ${dtype} and ${other.dtype}; call once per dtype`);
  return dtype;
}

/** Fused Adam / AdamW step over lists of tensors (torch.optim.Adam(W) semantics, fp32 math). */
export function multiTensorAdam_(lists: AdamTensorLists, opts: AdamStepOptions): void {
  const op = 'multiTensorAdam';
  const { params, grads, expAvgs, expAvgSqs, mains } = lists;
  const n = params.length;
  if (n === 0) return;
  const device = (params[0] as Tensor).device;
  checkList(op, 'params', params, params, device);
  checkList(op, 'grads', grads, params, device);
  checkList(op, 'expAvgs', expAvgs, params, device, 'f32');
  checkList(op, 'expAvgSqs', expAvgSqs, params, device, 'f32');
  if (mains) checkList(op, 'mains', mains, params, device, 'f32');
  if (!Number.isInteger(opts.step) || opts.step < 1) throw new Error(`${op}: step counts from 1, got ${opts.step}`);
  const handles = new Float64Array(5 * n);
  const offsets = new Float64Array(5 * n);
  const sizes = new Float64Array(n);
  const rows = [params, mains ?? params, grads, expAvgs, expAvgSqs];
  rows.forEach((list, r) => {
    list.forEach((t, i) => {
      handles[r * n + i] = t.handle;
      offsets[r * n + i] = t.offset;
    });
  });
  params.forEach((t, i) => {
    sizes[i] = t.numel;
  });
  nb.multiTensorAdam(
    handles, offsets, sizes, dtypeCode(uniformDtype(op, 'params', params)), dtypeCode(uniformDtype(op, 'grads', grads)),
    mains !== undefined, opts.lr, opts.beta1, opts.beta2, opts.eps, opts.weightDecay, opts.step, opts.decoupled, opts.gradScale ?? 1,
  );
}

function byDtype(tensors: readonly Tensor[]): Map<DType, Tensor[]> {
  const groups = new Map<DType, Tensor[]>();
  for (const t of tensors) {
    t._check();
    const g = groups.get(t.dtype);
    if (g) g.push(t);
    else groups.set(t.dtype, [t]);
  }
  return groups;
}

function listArrays(list: readonly Tensor[]): { handles: Float64Array; offsets: Float64Array; sizes: Float64Array } {
  return {
    handles: Float64Array.from(list, (t) => t.handle),
    offsets: Float64Array.from(list, (t) => t.offset),
    sizes: Float64Array.from(list, (t) => t.numel),
  };
}

function checkDevice(op: string, tensors: readonly Tensor[], device: Device): void {
  const other = tensors.find((t) => t.device !== device);
  if (other) throw new Error(`${op}: tensors are on ${device} and ${other.device}; move them to one device`);
}

/**
 * The sum of squares of every element of every tensor, as an f32 [1] tensor on `device` (summed in
 * fp64 inside the kernel; any inf/NaN makes it non-finite). Tensors may mix floating dtypes. With
 * `out`, the sum is added to out[0] instead.
 */
export function multiTensorSquaredNorm(tensors: readonly Tensor[], opts: { device?: Device; out?: Tensor } = {}): Tensor {
  const op = 'multiTensorSquaredNorm';
  const device = opts.out?.device ?? opts.device ?? tensors[0]?.device;
  if (!device) throw new Error(`${op}: no tensors and no device; pass { device } for an empty list`);
  checkDevice(op, tensors, device);
  const out = opts.out ?? k.full([1], 0, 'f32', device);
  if (out.dtype !== 'f32' || out.numel !== 1) throw new Error(`${op}: out must be an f32 tensor of one element, got ${out.describe()}`);
  for (const [dtype, list] of byDtype(tensors)) {
    const { handles, offsets, sizes } = listArrays(list);
    nb.multiTensorSquaredNorm(handles, offsets, sizes, dtypeCode(dtype), out.handle, out.offset, true);
  }
  return out;
}

/** The L2 norm over all elements of all tensors (reads the result back, so it synchronizes). */
export function multiTensorL2Norm(tensors: readonly Tensor[], device?: Device): number {
  const sq = multiTensorSquaredNorm(tensors, { device });
  const value = sq.item();
  sq.dispose();
  return Math.sqrt(value);
}

/** Multiplies every tensor by `scale` in place (unscaling gradients, clipping them). */
export function multiTensorScale_(tensors: readonly Tensor[], scale: number): void {
  if (tensors.length === 0) return;
  checkDevice('multiTensorScale', tensors, (tensors[0] as Tensor).device);
  for (const [dtype, list] of byDtype(tensors)) {
    const { handles, offsets, sizes } = listArrays(list);
    nb.multiTensorScale(handles, offsets, sizes, dtypeCode(dtype), scale);
  }
}
