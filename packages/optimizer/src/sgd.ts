// SGD with momentum, torch.optim.SGD semantics: L2 weight decay added to the gradient, the
// momentum buffer starts as the first step's gradient, dampening scales later gradients, Nesterov
// looks ahead. Built from core tensor ops (it moves less memory than Adam and needs no fused kernel).
import { keep, scope, type Tensor, zeros } from '@tessera/core';
import {
  type BaseHyperparams, Optimizer, type OptimizerOptions, type ParamGroup, type ParamsInput, type ReadySlot, type SlotState,
} from './optimizer.ts';
import type { ParamSlot } from './slots.ts';
import { checkNumber, type Problems } from './state-check.ts';

export interface SGDHyperparams extends BaseHyperparams {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

export type SGDOptions = Partial<SGDHyperparams> & OptimizerOptions;

export class SGD extends Optimizer<SGDHyperparams> {
  constructor(params: ParamsInput<SGDHyperparams>, options: SGDOptions = {}) {
    const { mainWeights, ...hyper } = options;
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...hyper }, { mainWeights });
  }

  protected validateGroup(group: ParamGroup<SGDHyperparams>, index: number): void {
    const name = `SGD group ${index}`;
    if (!(group.lr >= 0)) throw new Error(`${name}: lr must be >= 0, got ${group.lr}`);
    if (!(group.momentum >= 0)) throw new Error(`${name}: momentum must be >= 0, got ${group.momentum}`);
    if (!(group.weightDecay >= 0)) throw new Error(`${name}: weightDecay must be >= 0, got ${group.weightDecay}`);
    if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
      throw new Error(`${name}: Nesterov momentum needs momentum > 0 and dampening 0 (got momentum ${group.momentum}, dampening ${group.dampening})`);
    }
  }

  protected initState(): SlotState {
    return { step: 0, tensors: {} };
  }

  protected override allocateState(_key: string, slot: ParamSlot): Tensor {
    const w = slot.main ?? slot.param;
    return zeros(w.shape, { dtype: w.dtype, device: w.device });
  }

  protected updateGroup(group: ParamGroup<SGDHyperparams>, ready: ReadySlot[], gradScale: number): void {
    const { lr, momentum, dampening, nesterov, weightDecay } = group;
    for (const { slot, grad, state } of ready) {
      scope(() => {
        const w = slot.main ?? slot.param;
        let d = grad.reshape(w.shape);
        if (d.dtype !== w.dtype) d = d.to(w.dtype);
        if (gradScale !== 1) d = d.mul(gradScale);
        if (weightDecay !== 0) d = d.add(w, weightDecay);
        if (momentum !== 0) {
          let buf = state.tensors.momentum_buffer;
          if (!buf) {
            buf = keep(d.clone());
            state.tensors.momentum_buffer = buf;
          } else {
            buf.mul_(momentum).add_(d, 1 - dampening);
          }
          d = nesterov ? d.add(buf, momentum) : buf;
        }
        w.add_(d, -lr);
        if (slot.main) slot.param.copy_(slot.main);
      });
      state.step += 1;
    }
  }

  protected stateKeys() {
    return { required: [], optional: ['momentum_buffer'] };
  }

  protected exportHyperparams(group: ParamGroup<SGDHyperparams>): Record<string, unknown> {
    return { lr: group.lr, momentum: group.momentum, dampening: group.dampening, nesterov: group.nesterov, weight_decay: group.weightDecay, maximize: false };
  }

  protected importHyperparams(saved: Record<string, unknown>, group: ParamGroup<SGDHyperparams>, where: string, problems: Problems): () => void {
    const lr = checkNumber(problems, `${where}.lr`, saved.lr, { min: 0 });
    const momentum = checkNumber(problems, `${where}.momentum`, saved.momentum, { min: 0 });
    const dampening = checkNumber(problems, `${where}.dampening`, saved.dampening);
    const wd = checkNumber(problems, `${where}.weight_decay`, saved.weight_decay, { min: 0 });
    if (typeof saved.nesterov !== 'boolean') problems.add(`${where}.nesterov must be a boolean, got ${JSON.stringify(saved.nesterov)}`);
    if (saved.maximize === true) problems.add(`${where}.maximize is true, which this optimizer does not implement`);
    return () => {
      group.lr = lr as number;
      group.momentum = momentum as number;
      group.dampening = dampening as number;
      group.weightDecay = wd as number;
      group.nesterov = saved.nesterov as boolean;
    };
  }
}
