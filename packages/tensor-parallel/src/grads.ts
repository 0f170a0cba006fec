// Megatron's finalize_model_grads step for sequence parallelism: parameters applied to
// sequence-split activations (norm weights and biases, row-parallel biases; meta.sequenceParallel)
// get only this rank's part of their gradient, so the parts are summed over the TP group.
import type { Module, Parameter, Tensor } from '@tessera/core';
import { cat, noGrad, scope } from '@tessera/core';
import type { TensorParallel } from './tensor-parallel.ts';

/** The gradient the optimizer will read: mainGrad when a gradient buffer gave one, else .grad. */
function gradOf(p: Parameter): Tensor | null {
  return p.mainGrad ?? p.grad;
}

/**
 * All-reduces (sum) the gradients of every meta.sequenceParallel parameter over the TP group, in
 * one flat message per dtype. Call it after backward and after the data-parallel gradient sync
 * (`await ddp.finishGradSync()`), before the optimizer step; every TP rank must call it.
 */
export async function allReduceSequenceParallelGrads(params: Module | Iterable<Parameter>, tp: TensorParallel): Promise<void> {
  if (tp.size === 1 || !tp.group) return;
  const list = 'parameters' in params && typeof params.parameters === 'function' ? [...(params as Module).parameters()] : [...(params as Iterable<Parameter>)];
  const grads = list.filter((p) => p.requiresGrad && p.meta.sequenceParallel === true).map(gradOf);
  if (grads.some((g) => g === null)) {
    throw new Error('allReduceSequenceParallelGrads: a sequence-parallel parameter has no gradient; run backward first (every TP rank must have one)');
  }
  const byDtype = new Map<string, Tensor[]>();
  for (const g of grads as Tensor[]) byDtype.set(g.dtype, [...(byDtype.get(g.dtype) ?? []), g]);
  for (const group of byDtype.values()) {
    const flat = noGrad(() => scope(() => cat(group.map((g) => g.reshape(-1)))));
    try {
      await tp.group.allReduce(flat, 'sum').wait();
      noGrad(() =>
        scope(() => {
          let at = 0;
          for (const g of group) {
            g.copy_(flat.narrow(0, at, g.numel).reshape(g.shape));
            at += g.numel;
          }
        }),
      );
    } finally {
      flat.dispose();
    }
  }
}
