// In-place updates, for code outside autograd (optimizer steps, initialisation, loading weights).
// They refuse tensors that autograd is tracking, since rewriting such a tensor would silently
// corrupt gradients.
import { isGradEnabled } from '../context.ts';
import { isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import type { Generator } from '../random.ts';
import { broadcastShapes, sameShape, shapeString } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

function checkInPlace(op: string, t: Tensor): void {
  t._check();
  if (isGradEnabled() && (t.requiresGrad || t._gradFn)) {
    throw new Error(`${op}: in-place update of a tensor that requires grad (${t.describe()}); do it inside noGrad(() => ...)`);
  }
}

/** Copies src into t (broadcasting src; converting dtype and device). */
export function copy_(t: Tensor, src: Tensor): Tensor {
  checkInPlace('copy_', t);
  src._check();
  if (sameShape(t.shape, src.shape)) return k.copyInto(t, src);
  if (!sameShape(broadcastShapes(t.shape, src.shape), t.shape)) {
    throw new Error(`copy_: ${src.describe()} cannot be broadcast to ${t.describe()}`);
  }
  const wide = k.expand(src, t.shape);
  k.copyInto(t, wide);
  wide.dispose();
  return t;
}

export function fill_(t: Tensor, value: number): Tensor {
  checkInPlace('fill_', t);
  return k.fill(t, value);
}

export function zero_(t: Tensor): Tensor {
  return fill_(t, 0);
}

/** t += alpha * other (other: a tensor broadcast to t's shape, or a number). */
export function add_(t: Tensor, other: Tensor | number, alpha = 1): Tensor {
  checkInPlace('add_', t);
  if (typeof other === 'number') return k.unary('affine', t, 1, alpha * other, t);
  other._check();
  if (sameShape(t.shape, other.shape) && isFloatingDtype(t.dtype) && isFloatingDtype(other.dtype)) {
    return k.accumulate(t, other, alpha);
  }
  return binaryInPlace('add', t, alpha === 1 ? other : undefined, other, alpha);
}

export function sub_(t: Tensor, other: Tensor | number, alpha = 1): Tensor {
  return add_(t, other, -alpha);
}

/** t *= other (a number or a broadcastable tensor). */
export function mul_(t: Tensor, other: Tensor | number): Tensor {
  checkInPlace('mul_', t);
  if (typeof other === 'number') return k.unary('affine', t, other, 0, t);
  return binaryInPlace('mul', t, other, other, 1);
}

export function div_(t: Tensor, other: Tensor | number): Tensor {
  checkInPlace('div_', t);
  if (typeof other === 'number') return k.unary('affine', t, 1 / other, 0, t);
  return binaryInPlace('div', t, other, other, 1);
}

function binaryInPlace(op: 'add' | 'mul' | 'div', t: Tensor, direct: Tensor | undefined, other: Tensor, alpha: number): Tensor {
  if (!sameShape(broadcastShapes(t.shape, other.shape), t.shape)) {
    throw new Error(`${op}_: ${shapeString(other.shape)} cannot be broadcast to ${t.describe()}`);
  }
  let operand = direct ?? k.unary('affine', other, alpha, 0);
  if (operand.dtype !== t.dtype) {
    const converted = k.cast(operand, t.dtype);
    if (operand !== other) operand.dispose();
    operand = converted;
  }
  k.binary(op, t, operand, t);
  if (operand !== other) operand.dispose();
  return t;
}

export function uniform_(t: Tensor, low = 0, high = 1, generator?: Generator): Tensor {
  checkInPlace('uniform_', t);
  return k.randomInto(t, 0, low, high, generator);
}

export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  checkInPlace('normal_', t);
  return k.randomInto(t, 1, mean, std, generator);
}
