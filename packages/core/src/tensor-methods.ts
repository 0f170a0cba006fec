// Tensor methods, each a one-line call of the functional op of the same name, so that
// `x.add(y).relu()` and `add(x, y)` are the same thing.
import { runBackward, type BackwardOptions } from './autograd/engine.ts';
import type { DeviceLike } from './device.ts';
import { checkDtype, type DType, isFloatingDtype } from './dtype.ts';
import * as inplace from './ops/inplace.ts';
import * as ix from './ops/indexing.ts';
import { matmul } from './ops/matmul.ts';
import * as nn from './ops/nn.ts';
import * as pw from './ops/pointwise.ts';
import * as red from './ops/reduction.ts';
import * as sh from './ops/shape.ts';
import type { Generator } from './random.ts';
import { Tensor } from './tensor.ts';

type Operand = Tensor | number;

declare module './tensor.ts' {
  interface Tensor {
    add(other: Operand, alpha?: number): Tensor;
    sub(other: Operand, alpha?: number): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    pow(exponent: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    silu(): Tensor;
    gelu(approximate?: 'none' | 'tanh'): Tensor;
    abs(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    sign(): Tensor;
    clamp(min?: number, max?: number): Tensor;
    maximum(other: Operand): Tensor;
    minimum(other: Operand): Tensor;
    eq(other: Operand): Tensor;
    ne(other: Operand): Tensor;
    lt(other: Operand): Tensor;
    le(other: Operand): Tensor;
    gt(other: Operand): Tensor;
    ge(other: Operand): Tensor;
    logicalAnd(other: Tensor): Tensor;
    logicalOr(other: Tensor): Tensor;
    logicalNot(): Tensor;
    /** Elements of this tensor where cond is true, else of `other`. */
    where(cond: Tensor, other: Operand): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;
    sum(dims?: red.Dims, opts?: red.ReduceOptions): Tensor;
    mean(dims?: red.Dims, opts?: red.ReduceOptions): Tensor;
    max(dim?: number, keepdim?: boolean): Tensor;
    min(dim?: number, keepdim?: boolean): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    argmin(dim?: number, keepdim?: boolean): Tensor;
    reshape(...shape: number[] | [readonly number[]]): Tensor;
    view(...shape: number[] | [readonly number[]]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    permute(...dims: number[] | [readonly number[]]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    /** Transpose of a 2-D tensor (a copy). */
    t(): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    split(sizes: number | readonly number[], dim?: number): Tensor[];
    chunk(n: number, dim?: number): Tensor[];
    expand(...shape: number[] | [readonly number[]]): Tensor;
    /** Every tensor is contiguous: returns this tensor. */
    contiguous(): Tensor;
    clone(): Tensor;
    detach(): Tensor;
    to(target: DType | DeviceLike | { dtype?: DType; device?: DeviceLike }): Tensor;
    cpu(): Tensor;
    cuda(index?: number): Tensor;
    float(): Tensor;
    double(): Tensor;
    half(): Tensor;
    bfloat16(): Tensor;
    int(): Tensor;
    long(): Tensor;
    bool(): Tensor;
    matmul(other: Tensor): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
    copy_(src: Tensor): Tensor;
    fill_(value: number): Tensor;
    zero_(): Tensor;
    add_(other: Operand, alpha?: number): Tensor;
    sub_(other: Operand, alpha?: number): Tensor;
    mul_(other: Operand): Tensor;
    div_(other: Operand): Tensor;
    uniform_(low?: number, high?: number, generator?: Generator): Tensor;
    normal_(mean?: number, std?: number, generator?: Generator): Tensor;
    /** Marks a leaf tensor as requiring (or not) gradients; returns it. */
    requiresGrad_(flag?: boolean): Tensor;
    /** Computes gradients of this tensor with respect to the leaves that require them. */
    backward(gradient?: Tensor, options?: BackwardOptions): void;
  }
}

function shapeArgs(args: number[] | [readonly number[]]): readonly number[] {
  return Array.isArray(args[0]) ? (args[0] as readonly number[]) : (args as number[]);
}

const DTYPE_NAMES = new Set<string>(['f32', 'f64', 'f16', 'bf16', 'i32', 'i64', 'bool']);

function convert(t: Tensor, dtype: DType | undefined, device: DeviceLike | undefined): Tensor {
  const moved = device === undefined ? t : sh.toDevice(t, device);
  const out = dtype === undefined ? moved : pw.cast(moved, checkDtype(dtype));
  if (moved !== t && moved !== out) moved.dispose();
  return out;
}

const methods: Partial<Record<keyof Tensor, (this: Tensor, ...args: never[]) => unknown>> = {
  add(this: Tensor, o: Operand, alpha?: number) { return pw.add(this, o, alpha); },
  sub(this: Tensor, o: Operand, alpha?: number) { return pw.sub(this, o, alpha); },
  mul(this: Tensor, o: Operand) { return pw.mul(this, o); },
  div(this: Tensor, o: Operand) { return pw.div(this, o); },
  pow(this: Tensor, e: Operand) { return pw.pow(this, e); },
  neg(this: Tensor) { return pw.neg(this); },
  exp(this: Tensor) { return pw.exp(this); },
  log(this: Tensor) { return pw.log(this); },
  sqrt(this: Tensor) { return pw.sqrt(this); },
  rsqrt(this: Tensor) { return pw.rsqrt(this); },
  tanh(this: Tensor) { return pw.tanh(this); },
  sigmoid(this: Tensor) { return pw.sigmoid(this); },
  relu(this: Tensor) { return pw.relu(this); },
  silu(this: Tensor) { return pw.silu(this); },
  gelu(this: Tensor, approximate?: 'none' | 'tanh') { return pw.gelu(this, approximate); },
  abs(this: Tensor) { return pw.abs(this); },
  square(this: Tensor) { return pw.square(this); },
  reciprocal(this: Tensor) { return pw.reciprocal(this); },
  sin(this: Tensor) { return pw.sin(this); },
  cos(this: Tensor) { return pw.cos(this); },
  sign(this: Tensor) { return pw.sign(this); },
  clamp(this: Tensor, min?: number, max?: number) { return pw.clamp(this, min, max); },
  maximum(this: Tensor, o: Operand) { return pw.maximum(this, o); },
  minimum(this: Tensor, o: Operand) { return pw.minimum(this, o); },
  eq(this: Tensor, o: Operand) { return pw.eq(this, o); },
  ne(this: Tensor, o: Operand) { return pw.ne(this, o); },
  lt(this: Tensor, o: Operand) { return pw.lt(this, o); },
  le(this: Tensor, o: Operand) { return pw.le(this, o); },
  gt(this: Tensor, o: Operand) { return pw.gt(this, o); },
  ge(this: Tensor, o: Operand) { return pw.ge(this, o); },
  logicalAnd(this: Tensor, o: Tensor) { return pw.logicalAnd(this, o); },
  logicalOr(this: Tensor, o: Tensor) { return pw.logicalOr(this, o); },
  logicalNot(this: Tensor) { return pw.logicalNot(this); },
  where(this: Tensor, cond: Tensor, other: Operand) { return pw.where(cond, this, other); },
  maskedFill(this: Tensor, mask: Tensor, value: number) { return pw.maskedFill(this, mask, value); },
  sum(this: Tensor, dims?: red.Dims, opts?: red.ReduceOptions) { return red.sum(this, dims, opts); },
  mean(this: Tensor, dims?: red.Dims, opts?: red.ReduceOptions) { return red.mean(this, dims, opts); },
  max(this: Tensor, dim?: number, keepdim?: boolean) { return red.max(this, dim, keepdim); },
  min(this: Tensor, dim?: number, keepdim?: boolean) { return red.min(this, dim, keepdim); },
  argmax(this: Tensor, dim?: number, keepdim?: boolean) { return red.argmax(this, dim, keepdim); },
  argmin(this: Tensor, dim?: number, keepdim?: boolean) { return red.argmin(this, dim, keepdim); },
  reshape(this: Tensor, ...s: number[] | [readonly number[]]) { return sh.reshape(this, shapeArgs(s)); },
  view(this: Tensor, ...s: number[] | [readonly number[]]) { return sh.reshape(this, shapeArgs(s)); },
  flatten(this: Tensor, start?: number, end?: number) { return sh.flatten(this, start, end); },
  squeeze(this: Tensor, dim?: number) { return sh.squeeze(this, dim); },
  unsqueeze(this: Tensor, dim: number) { return sh.unsqueeze(this, dim); },
  permute(this: Tensor, ...d: number[] | [readonly number[]]) { return sh.permute(this, shapeArgs(d)); },
  transpose(this: Tensor, a: number, b: number) { return sh.transpose(this, a, b); },
  t(this: Tensor) {
    if (this.rank !== 2) throw new Error(`t(): expects a 2-D tensor, got ${this.describe()}; use transpose(dim0, dim1)`);
    return sh.transpose(this, 0, 1);
  },
  narrow(this: Tensor, dim: number, start: number, length: number) { return sh.narrow(this, dim, start, length); },
  split(this: Tensor, sizes: number | readonly number[], dim?: number) { return sh.split(this, sizes, dim); },
  chunk(this: Tensor, n: number, dim?: number) { return sh.chunk(this, n, dim); },
  expand(this: Tensor, ...s: number[] | [readonly number[]]) { return sh.expand(this, shapeArgs(s)); },
  contiguous(this: Tensor) { return this._check(); },
  clone(this: Tensor) { return sh.clone(this); },
  detach(this: Tensor) { return sh.detach(this); },
  to(this: Tensor, target: DType | DeviceLike | { dtype?: DType; device?: DeviceLike }) {
    if (typeof target === 'string') {
      return DTYPE_NAMES.has(target) ? convert(this, target as DType, undefined) : convert(this, undefined, target);
    }
    return convert(this, target.dtype, target.device);
  },
  cpu(this: Tensor) { return sh.toDevice(this, 'cpu'); },
  cuda(this: Tensor, index = 0) { return sh.toDevice(this, `cuda:${index}`); },
  float(this: Tensor) { return pw.cast(this, 'f32'); },
  double(this: Tensor) { return pw.cast(this, 'f64'); },
  half(this: Tensor) { return pw.cast(this, 'f16'); },
  bfloat16(this: Tensor) { return pw.cast(this, 'bf16'); },
  int(this: Tensor) { return pw.cast(this, 'i32'); },
  long(this: Tensor) { return pw.cast(this, 'i64'); },
  bool(this: Tensor) { return pw.cast(this, 'bool'); },
  matmul(this: Tensor, o: Tensor) { return matmul(this, o); },
  indexSelect(this: Tensor, dim: number, index: Tensor) { return ix.indexSelect(this, dim, index); },
  gather(this: Tensor, dim: number, index: Tensor) { return ix.gather(this, dim, index); },
  scatterAdd(this: Tensor, dim: number, index: Tensor, src: Tensor) { return ix.scatterAdd(this, dim, index, src); },
  softmax(this: Tensor, dim?: number) { return nn.softmax(this, dim); },
  logSoftmax(this: Tensor, dim?: number) { return nn.logSoftmax(this, dim); },
  copy_(this: Tensor, src: Tensor) { return inplace.copy_(this, src); },
  fill_(this: Tensor, v: number) { return inplace.fill_(this, v); },
  zero_(this: Tensor) { return inplace.zero_(this); },
  add_(this: Tensor, o: Operand, alpha?: number) { return inplace.add_(this, o, alpha); },
  sub_(this: Tensor, o: Operand, alpha?: number) { return inplace.sub_(this, o, alpha); },
  mul_(this: Tensor, o: Operand) { return inplace.mul_(this, o); },
  div_(this: Tensor, o: Operand) { return inplace.div_(this, o); },
  uniform_(this: Tensor, low?: number, high?: number, g?: Generator) { return inplace.uniform_(this, low, high, g); },
  normal_(this: Tensor, mean?: number, std?: number, g?: Generator) { return inplace.normal_(this, mean, std, g); },
  requiresGrad_(this: Tensor, flag = true) {
    this._check();
    if (flag && !isFloatingDtype(this.dtype)) throw new Error(`only floating-point tensors can require grad, got ${this.dtype}`);
    if (!flag && this._gradFn) throw new Error('requiresGrad_(false) works on leaves only; use detach() on a computed tensor');
    this.requiresGrad = flag;
    return this;
  },
  backward(this: Tensor, gradient?: Tensor, options?: BackwardOptions) { runBackward(this, gradient, options); },
};

Object.assign(Tensor.prototype, methods);
