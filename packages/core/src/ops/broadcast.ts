// Gradients of broadcast operands: sum the gradient over the dimensions that were broadcast.
import * as k from '../kernels.ts';
import { sameShape, type Shape } from '../shape.ts';
import { Tensor } from '../tensor.ts';

/** A view of t with another shape of the same element count (no copy). */
export function view(t: Tensor, shape: Shape): Tensor {
  return new Tensor(t._storage, t._offset, shape, t.dtype);
}

/** Sums g (of a broadcast shape) down to `shape`. Returns g itself when nothing was broadcast. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  let cur = g;
  const lead = g.rank - shape.length;
  // Leading dimensions that shape lacks, then dimensions where shape has size 1.
  for (let d = g.rank - 1; d >= 0; d--) {
    const target = d < lead ? undefined : shape[d - lead];
    if (target === undefined || (target === 1 && (cur.shape[d] as number) !== 1)) {
      const next = k.reduce('sum', cur, d, true, cur.dtype).values;
      if (cur !== g) cur.dispose();
      cur = next;
    }
  }
  const out = view(cur, shape);
  if (cur !== g) cur.dispose();
  return out;
}
