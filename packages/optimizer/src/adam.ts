// Adam and AdamW with torch.optim semantics, on the fused multi-tensor kernel: each step of a
// group is one native call per (dtype, device, step count) set of its parameters, which reads the
// fp32 main weights, gradients and moments and writes them back with the model weights' copy.
import { multiTensorAdam_, type Tensor, zeros } from '@tessera/core';
import {
  type BaseHyperparams, Optimizer, type OptimizerOptions, type ParamGroup, type ParamsInput, type ReadySlot, type SlotState,
} from './optimizer.ts';
import type { ParamSlot } from './slots.ts';
import { checkNumber, type Problems } from './state-check.ts';

export interface AdamHyperparams extends BaseHyperparams {
  betas: readonly [number, number];
  eps: number;
}

export type AdamOptions = Partial<AdamHyperparams> & OptimizerOptions;

class AdamBase extends Optimizer<AdamHyperparams> {
  readonly #decoupled: boolean;

  constructor(params: ParamsInput<AdamHyperparams>, options: AdamOptions, decoupled: boolean, defaultDecay: number) {
    const { mainWeights, ...hyper } = options;
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: defaultDecay, ...hyper }, { mainWeights });
    this.#decoupled = decoupled;
  }

  protected validateGroup(group: ParamGroup<AdamHyperparams>, index: number): void {
    const name = `${this.constructor.name} group ${index}`;
    const [b1, b2] = group.betas;
    if (!(group.lr >= 0)) throw new Error(`${name}: lr must be >= 0, got ${group.lr}`);
    if (!(group.eps >= 0)) throw new Error(`${name}: eps must be >= 0, got ${group.eps}`);
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new Error(`${name}: betas must be in [0, 1), got [${b1}, ${b2}]`);
    if (!(group.weightDecay >= 0)) throw new Error(`${name}: weightDecay must be >= 0, got ${group.weightDecay}`);
  }

  protected initState(slot: ParamSlot): SlotState {
    const opts = { dtype: 'f32' as const, device: slot.param.device };
    return { step: 0, tensors: { exp_avg: zeros(slot.param.shape, opts), exp_avg_sq: zeros(slot.param.shape, opts) } };
  }

  protected updateGroup(group: ParamGroup<AdamHyperparams>, ready: ReadySlot[], gradScale: number): void {
    // One fused call per set of slots that agree on everything the kernel takes once.
    const calls = new Map<string, ReadySlot[]>();
    for (const r of ready) {
      r.state.step += 1;
      const key = `${r.slot.param.dtype}|${r.grad.dtype}|${r.slot.main ? 1 : 0}|${r.state.step}|${r.slot.param.device}`;
      const list = calls.get(key);
      if (list) list.push(r);
      else calls.set(key, [r]);
    }
    for (const list of calls.values()) {
      const first = list[0] as ReadySlot;
      multiTensorAdam_(
        {
          params: list.map((r) => r.slot.param),
          mains: first.slot.main ? list.map((r) => r.slot.main as Tensor) : undefined,
          grads: list.map((r) => r.grad),
          expAvgs: list.map((r) => r.state.tensors.exp_avg as Tensor),
          expAvgSqs: list.map((r) => r.state.tensors.exp_avg_sq as Tensor),
        },
        {
          lr: group.lr, beta1: group.betas[0], beta2: group.betas[1], eps: group.eps, weightDecay: group.weightDecay,
          step: first.state.step, decoupled: this.#decoupled, gradScale,
        },
      );
    }
  }

  protected stateKeys() {
    return { required: ['exp_avg', 'exp_avg_sq'], optional: [] };
  }

  protected exportHyperparams(group: ParamGroup<AdamHyperparams>): Record<string, unknown> {
    return { lr: group.lr, betas: [...group.betas], eps: group.eps, weight_decay: group.weightDecay, amsgrad: false, maximize: false };
  }

  protected importHyperparams(saved: Record<string, unknown>, group: ParamGroup<AdamHyperparams>, where: string, problems: Problems): () => void {
    const lr = checkNumber(problems, `${where}.lr`, saved.lr, { min: 0 });
    const eps = checkNumber(problems, `${where}.eps`, saved.eps, { min: 0 });
    const wd = checkNumber(problems, `${where}.weight_decay`, saved.weight_decay, { min: 0 });
    const betas = saved.betas;
    const ok = Array.isArray(betas) && betas.length === 2 && betas.every((b) => typeof b === 'number' && b >= 0 && b < 1);
    if (!ok) problems.add(`${where}.betas must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
    if (saved.amsgrad === true) problems.add(`${where}.amsgrad is true, which this optimizer does not implement`);
    if (saved.maximize === true) problems.add(`${where}.maximize is true, which this optimizer does not implement`);
    return () => {
      group.lr = lr as number;
      group.eps = eps as number;
      group.weightDecay = wd as number;
      group.betas = [(betas as number[])[0] as number, (betas as number[])[1] as number];
    };
  }
}

/** torch.optim.AdamW: decoupled weight decay (default 0.01). */
export class AdamW extends AdamBase {
  constructor(params: ParamsInput<AdamHyperparams>, options: AdamOptions = {}) {
    super(params, options, true, 0.01);
  }
}

/** torch.optim.Adam: L2 weight decay added to the gradient (default 0). */
export class Adam extends AdamBase {
  constructor(params: ParamsInput<AdamHyperparams>, options: AdamOptions = {}) {
    super(params, options, false, 0);
  }
}
