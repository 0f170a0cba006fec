// Views into flat buffers: gradient and parameter buffers are 1-D tensors, and each parameter's
// slice of them is a view (same memory, no copy). Views are owned by whoever asks for them, never
// by a scope.
import { keep, narrow, noGrad, reshape, scope, type Tensor } from '@tessera/core';

/** A tensor of `shape` over elements [start, start + numel) of the 1-D `buffer`. */
export function viewOf(buffer: Tensor, start: number, shape: readonly number[]): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return noGrad(() => scope(() => keep(reshape(narrow(buffer, 0, start, n), shape))));
}

/** Elements [start, end) of the 1-D `buffer` as a 1-D view. */
export function rangeOf(buffer: Tensor, start: number, end: number): Tensor {
  return viewOf(buffer, start, [end - start]);
}

/** A 1-D view of all of `t`'s elements. */
export function flatView(t: Tensor): Tensor {
  return noGrad(() => scope(() => keep(reshape(t, [t.numel]))));
}
