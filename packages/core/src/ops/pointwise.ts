// Differentiable pointwise ops: arithmetic with broadcasting and dtype promotion, unary math,
// comparisons, where/maskedFill, clamp.
import type { UnaryOpName } from '@tessera/native';
import { defineFunction } from '../autograd/function.ts';
import { type DType, isFloatingDtype, promoteTypes, scalarResultType } from '../dtype.ts';
import * as k from '../kernels.ts';
import { Tensor } from '../tensor.ts';
import { sumToShape } from './broadcast.ts';

export type Operand = Tensor | number;

// ---- dtype conversion (differentiable) ---------------------------------------------------------

const CastFn = defineFunction({
  name: 'cast',
  forward(ctx, x: Tensor, dtype: DType) {
    ctx.from = x.dtype;
    return k.cast(x, dtype);
  },
  backward(ctx, gy) {
    return [k.cast(gy, ctx.from as DType)];
  },
});

/** x converted to `dtype` (x itself when it already has it). */
export function cast(x: Tensor, dtype: DType): Tensor {
  x._check();
  return x.dtype === dtype ? x : CastFn(x, dtype);
}

// ---- unary math ---------------------------------------------------------------------------------

function unaryFn(op: UnaryOpName) {
  return defineFunction({
    name: op,
    forward(ctx, x: Tensor, alpha: number, beta: number) {
      ctx.saveForBackward(x);
      ctx.alpha = alpha;
      ctx.beta = beta;
      return k.unary(op, x, alpha, beta);
    },
    backward(ctx, gy) {
      const [x] = ctx.savedTensors as [Tensor];
      return [k.unaryBackward(op, x, gy, ctx.alpha as number, ctx.beta as number)];
    },
  });
}

const unaryFns = new Map<UnaryOpName, ReturnType<typeof unaryFn>>();

export function unary(op: UnaryOpName, x: Tensor, alpha = 0, beta = 0): Tensor {
  let fn = unaryFns.get(op);
  if (!fn) {
    fn = unaryFn(op);
    unaryFns.set(op, fn);
  }
  return fn(x, alpha, beta);
}

// alpha * x + beta: its gradient needs no saved input.
const AffineFn = defineFunction({
  name: 'affine',
  forward(ctx, x: Tensor, alpha: number, beta: number) {
    ctx.alpha = alpha;
    return k.unary('affine', x, alpha, beta);
  },
  backward(ctx, gy) {
    return [k.unary('affine', gy, ctx.alpha as number, 0)];
  },
});

export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  return AffineFn(x, alpha, beta);
}

export const neg = (x: Tensor) => affine(x, -1, 0);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
export const silu = (x: Tensor) => unary('silu', x);
export const abs = (x: Tensor) => unary('abs', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const sign = (x: Tensor) => unary('sign', x);

/** GELU: exact (erf) by default, or the tanh approximation with approximate: 'tanh'. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${approximate}'`);
  return unary(approximate === 'tanh' ? 'geluTanh' : 'geluErf', x);
}

export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  const lo = min ?? Number.NEGATIVE_INFINITY;
  const hi = max ?? Number.POSITIVE_INFINITY;
  if (lo > hi) throw new Error(`clamp: min ${lo} is greater than max ${hi}`);
  return unary('clamp', x, lo, hi);
}

// ---- binary arithmetic ---------------------------------------------------------------------------

/** Brings two operands to one dtype (differentiably). Scalars become tensors only when needed. */
function promote(a: Tensor, b: Tensor): [Tensor, Tensor] {
  const dtype = promoteTypes(a.dtype, b.dtype);
  return [cast(a, dtype), cast(b, dtype)];
}

function scalarTensor(value: number, like: Tensor, dtype: DType): Tensor {
  return k.full([], value, dtype, like.device);
}

const AddFn = defineFunction({
  name: 'add',
  forward(ctx, a: Tensor, b: Tensor) {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return k.binary('add', a, b);
  },
  backward(ctx, gy) {
    return [sumToShape(gy, ctx.aShape as number[]), sumToShape(gy, ctx.bShape as number[])];
  },
});

const SubFn = defineFunction({
  name: 'sub',
  forward(ctx, a: Tensor, b: Tensor) {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return k.binary('sub', a, b);
  },
  backward(ctx, gy) {
    const gb = ctx.needsInputGrad[1] ? k.unary('neg', sumToShape(gy, ctx.bShape as number[])) : null;
    return [sumToShape(gy, ctx.aShape as number[]), gb];
  },
});

const MulFn = defineFunction({
  name: 'mul',
  forward(ctx, a: Tensor, b: Tensor) {
    ctx.saveForBackward(a, b);
    return k.binary('mul', a, b);
  },
  backward(ctx, gy) {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    return [
      ctx.needsInputGrad[0] ? sumToShape(k.binary('mul', gy, b), a.shape) : null,
      ctx.needsInputGrad[1] ? sumToShape(k.binary('mul', gy, a), b.shape) : null,
    ];
  },
});

const DivFn = defineFunction({
  name: 'div',
  forward(ctx, a: Tensor, b: Tensor) {
    ctx.saveForBackward(a, b);
    return k.binary('div', a, b);
  },
  backward(ctx, gy) {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    const ga = ctx.needsInputGrad[0] ? sumToShape(k.binary('div', gy, b), a.shape) : null;
    let gb = null;
    if (ctx.needsInputGrad[1]) {
      // d(a/b)/db = -a / b^2
      const q = k.binary('div', k.binary('div', a, b), b);
      gb = sumToShape(k.unary('neg', k.binary('mul', gy, q)), b.shape);
    }
    return [ga, gb];
  },
});

const PowFn = defineFunction({
  name: 'pow',
  forward(ctx, a: Tensor, b: Tensor) {
    const y = k.binary('pow', a, b);
    ctx.saveForBackward(a, b, y);
    return y;
  },
  backward(ctx, gy) {
    const [a, b, y] = ctx.savedTensors as [Tensor, Tensor, Tensor];
    let ga = null;
    let gb = null;
    if (ctx.needsInputGrad[0]) {
      // b * a^(b-1) = b * y / a is unsafe at a = 0, so recompute a^(b-1).
      const bm1 = k.unary('affine', b, 1, -1);
      ga = sumToShape(k.binary('mul', gy, k.binary('mul', b, k.binary('pow', a, bm1))), a.shape);
    }
    if (ctx.needsInputGrad[1]) gb = sumToShape(k.binary('mul', gy, k.binary('mul', y, k.unary('log', a))), b.shape);
    return [ga, gb];
  },
});

function extremumFn(op: 'maximum' | 'minimum') {
  return defineFunction({
    name: op,
    forward(ctx, a: Tensor, b: Tensor) {
      ctx.saveForBackward(a, b);
      return k.binary(op, a, b);
    },
    backward(ctx, gy) {
      // The gradient goes to the winner; ties split it evenly (as PyTorch does).
      const [a, b] = ctx.savedTensors as [Tensor, Tensor];
      const wins = k.cast(k.binary(op === 'maximum' ? 'gt' : 'lt', a, b), gy.dtype);
      const ties = k.unary('affine', k.cast(k.binary('eq', a, b), gy.dtype), 0.5, 0);
      const wa = k.binary('add', wins, ties);
      const wb = k.unary('affine', wa, -1, 1);
      return [sumToShape(k.binary('mul', gy, wa), a.shape), sumToShape(k.binary('mul', gy, wb), b.shape)];
    },
  });
}
const MaximumFn = extremumFn('maximum');
const MinimumFn = extremumFn('minimum');

function asTensors(a: Operand, b: Operand): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return promote(a, b);
  if (a instanceof Tensor) {
    const dtype = scalarResultType(a.dtype, b as number);
    return [cast(a, dtype), scalarTensor(b as number, a, dtype)];
  }
  if (b instanceof Tensor) {
    const dtype = scalarResultType(b.dtype, a as number);
    return [scalarTensor(a as number, b, dtype), cast(b, dtype)];
  }
  throw new TypeError('at least one operand must be a tensor');
}

function floatingFor(t: Tensor, s: number): Tensor {
  return cast(t, scalarResultType(t.dtype, s));
}

/** Disposes the tensors an op made internally (casts, scalars), keeping its own arguments. */
function release(made: Tensor[], args: unknown[]): void {
  for (const t of made) if (!args.includes(t)) t.dispose();
}

/** Runs fn on x (a possibly converted copy of `arg`), then frees the copy. */
function withConverted(arg: Tensor, x: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  const out = fn(x);
  if (x !== arg) x.dispose();
  return out;
}

/** Brings two operands to tensors of one dtype, runs fn, and frees what the conversion made. */
function binaryCall(a: Operand, b: Operand, fn: (x: Tensor, y: Tensor) => Tensor, floating = false): Tensor {
  let [x, y] = asTensors(a, b);
  if (floating && !isFloatingDtype(x.dtype)) {
    const fx = cast(x, 'f32');
    const fy = cast(y, 'f32');
    release([x, y], [a, b]);
    [x, y] = [fx, fy];
  }
  const out = fn(x, y);
  release([x, y], [a, b]);
  return out;
}

export function add(a: Operand, b: Operand, alpha = 1): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return withConverted(a, floatingFor(a, b * alpha), (x) => affine(x, 1, b * alpha));
  if (typeof a === 'number' && b instanceof Tensor) return withConverted(b, floatingFor(b, a), (x) => affine(x, alpha, a));
  if (alpha === 1) return binaryCall(a, b, (x, y) => AddFn(x, y));
  return binaryCall(a, b, (x, y) => {
    const scaled = affine(y, alpha, 0);
    const out = AddFn(x, scaled);
    scaled.dispose();
    return out;
  });
}

export function sub(a: Operand, b: Operand, alpha = 1): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return withConverted(a, floatingFor(a, b * alpha), (x) => affine(x, 1, -b * alpha));
  if (typeof a === 'number' && b instanceof Tensor) return withConverted(b, floatingFor(b, a), (x) => affine(x, -alpha, a));
  if (alpha === 1) return binaryCall(a, b, (x, y) => SubFn(x, y));
  return binaryCall(a, b, (x, y) => {
    const scaled = affine(y, alpha, 0);
    const out = SubFn(x, scaled);
    scaled.dispose();
    return out;
  });
}

export function mul(a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return withConverted(a, floatingFor(a, b), (x) => affine(x, b, 0));
  if (typeof a === 'number' && b instanceof Tensor) return withConverted(b, floatingFor(b, a), (x) => affine(x, a, 0));
  return binaryCall(a, b, (x, y) => MulFn(x, y));
}

export function div(a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor && typeof b === 'number') {
    return withConverted(a, isFloatingDtype(a.dtype) ? a : cast(a, 'f32'), (x) => affine(x, 1 / b, 0));
  }
  return binaryCall(a, b, (x, y) => DivFn(x, y), true);
}

export function pow(a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor && typeof b === 'number') {
    if (b === 1) return affine(a, 1, 0);
    if (b === 2) return unary('square', a);
    return withConverted(a, floatingFor(a, b), (x) => unary('pow', x, b));
  }
  return binaryCall(a, b, (x, y) => PowFn(x, y), true);
}

export function maximum(a: Operand, b: Operand): Tensor {
  return binaryCall(a, b, (x, y) => MaximumFn(x, y));
}

export function minimum(a: Operand, b: Operand): Tensor {
  return binaryCall(a, b, (x, y) => MinimumFn(x, y));
}

// ---- comparisons and logic (no gradients) ---------------------------------------------------------

export type ComparisonOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

export function compare(op: ComparisonOp, a: Operand, b: Operand): Tensor {
  return binaryCall(a, b, (x, y) => k.binary(op, x, y));
}

export const eq = (a: Operand, b: Operand) => compare('eq', a, b);
export const ne = (a: Operand, b: Operand) => compare('ne', a, b);
export const lt = (a: Operand, b: Operand) => compare('lt', a, b);
export const le = (a: Operand, b: Operand) => compare('le', a, b);
export const gt = (a: Operand, b: Operand) => compare('gt', a, b);
export const ge = (a: Operand, b: Operand) => compare('ge', a, b);

function boolOperand(t: Tensor, op: string): Tensor {
  if (t.dtype !== 'bool') throw new Error(`${op}: expected bool tensors, got ${t.dtype}`);
  return t;
}

export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return k.binary('logicalAnd', boolOperand(a, 'logicalAnd'), boolOperand(b, 'logicalAnd'));
}

export function logicalOr(a: Tensor, b: Tensor): Tensor {
  return k.binary('logicalOr', boolOperand(a, 'logicalOr'), boolOperand(b, 'logicalOr'));
}

export function logicalNot(a: Tensor): Tensor {
  const zero = k.full([], 0, 'bool', a.device);
  const out = k.binary('eq', boolOperand(a, 'logicalNot'), zero);
  zero.dispose();
  return out;
}

// ---- selection ----------------------------------------------------------------------------------

const WhereFn = defineFunction({
  name: 'where',
  forward(ctx, cond: Tensor, a: Tensor, b: Tensor) {
    ctx.saveForBackward(cond);
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return k.where(cond, a, b);
  },
  backward(ctx, gy) {
    const [cond] = ctx.savedTensors as [Tensor];
    const zero = k.full([], 0, gy.dtype, gy.device);
    return [
      null,
      ctx.needsInputGrad[1] ? sumToShape(k.where(cond, gy, zero), ctx.aShape as number[]) : null,
      ctx.needsInputGrad[2] ? sumToShape(k.where(cond, zero, gy), ctx.bShape as number[]) : null,
    ];
  },
});

/** cond ? a : b elementwise, with broadcasting. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  return binaryCall(a, b, (x, y) => WhereFn(cond, x, y));
}

/** x with `value` where mask is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const fillValue = k.full([], value, x.dtype, x.device);
  const out = where(mask, fillValue, x);
  fillValue.dispose();
  return out;
}
