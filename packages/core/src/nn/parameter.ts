// Parameter: a leaf tensor that a Module owns and an optimizer updates. It requires grad by
// default, belongs to no scope (it lives as long as its module), and carries free-form metadata
// that the parallel packages read (TP partition dim and stride, sequence parallel, shared embedding).
import { isFloatingDtype } from '../dtype.ts';
import { Tensor } from '../tensor.ts';

export type ParameterMeta = Record<string, unknown>;

export class Parameter extends Tensor {
  /** Parallel metadata, e.g. { tensorParallel: true, partitionDim: 0, partitionStride: 1 }. */
  meta: ParameterMeta;

  /** Shares `data`'s memory; the caller may dispose `data` afterwards. */
  constructor(data: Tensor, requiresGrad = true, meta: ParameterMeta = {}) {
    data._check();
    super(data._storage, data._offset, data.shape, data.dtype, false);
    if (requiresGrad && !isFloatingDtype(data.dtype)) throw new Error(`a parameter that requires grad must be floating, got ${data.dtype}`);
    this.requiresGrad = requiresGrad;
    this.meta = meta;
  }
}
