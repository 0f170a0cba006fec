// What an optimizer updates. A slot pairs the model weights that receive the result with the fp32
// main weights the update is computed on (when the model weights are bf16/f16) and says where the
// gradient is. A plain parameter becomes one slot; the distributed optimizer makes one slot per
// piece of a parameter that falls in its shard.
import { keep, noGrad, type Tensor } from '@tessera/core';

export interface ParamSlot {
  /** Model weights: updated, or overwritten with the rounded main weights when `main` is set. */
  param: Tensor;
  /** fp32 main weights the update works on; absent: `param` itself is updated. */
  main?: Tensor;
  /** The gradient to apply now (fp32 main grad, or the param's .grad); null skips the slot this step. */
  grad(): Tensor | null;
  /** Drops or zeroes this slot's gradient (absent when someone else owns it, e.g. a grad buffer). */
  zeroGrad?(): void;
  /** For messages and state dicts. */
  name?: string;
}

/** 'auto' keeps fp32 main weights for bf16/f16 parameters only. */
export type MainWeights = 'auto' | boolean;

export function isSlot(x: unknown): x is ParamSlot {
  return typeof x === 'object' && x !== null && 'param' in x && typeof (x as ParamSlot).grad === 'function';
}

function needsMain(t: Tensor, policy: MainWeights): boolean {
  if (policy === 'auto') return t.dtype === 'bf16' || t.dtype === 'f16';
  return policy;
}

/**
 * The slot of a whole parameter: its gradient is `mainGrad` when a grad buffer provides one, else
 * `.grad`. Main weights, when the policy asks for them, are an fp32 copy owned by the caller.
 */
export function slotOf(param: Tensor, policy: MainWeights, name?: string): ParamSlot {
  param._check();
  const main = needsMain(param, policy) ? keep(noGrad(() => (param.dtype === 'f32' ? param.clone() : param.to('f32')))) : undefined;
  return {
    param,
    main,
    name,
    grad: () => param.mainGrad ?? param.grad,
    zeroGrad: () => {
      noGrad(() => param.mainGrad?.zero_());
      param.grad?.dispose();
      param.grad = null;
    },
  };
}
