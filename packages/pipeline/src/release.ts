// Megatron's deallocate_output_tensor: once a stage has sent its output, the output's own data is
// no longer needed, only its place in the autograd graph (backward starts from it with the
// gradient the next stage sends back). Storage is reference counted, so dropping the output's
// reference frees the memory unless autograd saved the same data for backward, which keeps it.
import { empty, type Tensor } from '@tessera/core';

/** Points `t` at an empty storage, keeping its shape, dtype and gradient function; its data must not be read afterwards. */
export function releaseTensorData(t: Tensor): void {
  if (t.disposed || t._storage.bytes === 0) return;
  const placeholder = empty([0], { dtype: t.dtype, device: t.device });
  const storage = placeholder._storage;
  storage.retain();
  placeholder.dispose();
  t._storage.release();
  t._storage = storage;
}
