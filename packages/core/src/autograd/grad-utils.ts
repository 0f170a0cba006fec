// Small tensor helpers for the backward engine. Everything here returns tensors outside every
// scope: the engine owns them and disposes them itself.
import type { Device } from '../device.ts';
import type { DType } from '../dtype.ts';
import * as k from '../kernels.ts';
import { untrack } from '../scope.ts';
import type { Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

function owned(t: Tensor): Tensor {
  untrack(t);
  return t;
}

export function filled(shape: Shape, dtype: DType, device: Device, value: number): Tensor {
  return owned(k.full(shape, value, dtype, device));
}

/** dst += src in place (src converted to dst's dtype). */
export function accumulateInto(dst: Tensor, src: Tensor): void {
  k.accumulate(dst, src, 1);
}

/** A private copy of t in `dtype`. */
export function castTo(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return owned(k.copyInto(k.empty(t.shape, dtype, t.device), t));
  return owned(k.cast(t, dtype));
}

/** a + b as a new tensor; a and b are disposed. */
export function sumTensors(a: Tensor, b: Tensor): Tensor {
  const out = owned(k.binary('add', a, b));
  a.dispose();
  b.dispose();
  return out;
}
