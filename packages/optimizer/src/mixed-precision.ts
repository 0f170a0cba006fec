// The training-loop optimizer for one model replica per DP rank (Megatron's MixedPrecision /
// FP32 optimizer): waits for the data-parallel gradient sync, measures the global gradient norm
// across TP and PP, skips the step on inf/NaN (telling the loss scaler), clips, and runs the inner
// optimizer on fp32 main weights with one fused factor for unscaling and clipping.
import { type Device, noGrad, type Tensor } from '@tessera/core';
import { countsTowardNorm, type NormGroups } from './grad-norm.ts';
import type { BaseHyperparams, Optimizer, OptimizerStateDict, ParamGroup } from './optimizer.ts';
import { checkPrecisionOptions, planStep, type PrecisionOptions, type StepResult } from './step-control.ts';
import type { GradScaler } from './grad-scaler.ts';
import { isRecord } from './state-check.ts';

/** Loads the scaler and then the optimizer; when the optimizer refuses, the scaler is put back. */
export function loadTogether(scaler: GradScaler | undefined, saved: Record<string, unknown> | undefined, loadOptimizer: () => void): void {
  const before = scaler?.stateDict();
  if (scaler && saved) scaler.loadStateDict(saved);
  try {
    loadOptimizer();
  } catch (err) {
    if (scaler && before) scaler.loadStateDict(before);
    throw err;
  }
}

/** What the optimizer needs from a data-parallel wrapper (DistributedDataParallel). */
export interface GradSync {
  /** Resolves when every gradient bucket is reduced across data-parallel ranks. */
  finishGradSync(): Promise<void>;
  /** Zeroes the gradient buffers for the next iteration. */
  zeroGradBuffers(): void;
}

export interface MixedPrecisionOptions extends PrecisionOptions {
  /** Tensor and pipeline groups for the norm (a ParallelState fits). */
  parallel?: NormGroups;
  /** The data-parallel wrapper whose gradient buffers feed this optimizer. */
  ddp?: GradSync;
}

export interface MixedPrecisionStateDict {
  optimizer: OptimizerStateDict;
  grad_scaler?: Record<string, number>;
}

export class MixedPrecisionOptimizer<H extends BaseHyperparams = BaseHyperparams> {
  readonly optimizer: Optimizer<H>;
  readonly options: MixedPrecisionOptions;

  constructor(optimizer: Optimizer<H>, options: MixedPrecisionOptions = {}) {
    checkPrecisionOptions('MixedPrecisionOptimizer', options);
    this.optimizer = optimizer;
    this.options = options;
  }

  get paramGroups(): ParamGroup<H>[] {
    return this.optimizer.paramGroups;
  }

  /** The current loss scale (1 without a scaler). */
  get lossScale(): number {
    return this.options.gradScaler?.scale ?? 1;
  }

  /** loss * lossScale, to call backward() on. */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.lossScale);
  }

  async step(): Promise<StepResult> {
    await this.options.ddp?.finishGradSync();
    const parallel = this.options.parallel ?? {};
    const tensorRank = parallel.tensor?.rank ?? 0;
    const counted: Tensor[] = [];
    const others: Tensor[] = [];
    let device: Device | undefined;
    for (const slot of this.optimizer.slots) {
      const g = slot.grad();
      if (!g) continue;
      device ??= g.device;
      (countsTowardNorm(slot.param, tensorRank) ? counted : others).push(g);
    }
    const plan = await planStep('MixedPrecisionOptimizer', counted, others, device ?? this.#device(), parallel, this.options);
    if (plan.result.updated) noGrad(() => this.optimizer.step({ gradScale: plan.gradScale }));
    return plan.result;
  }

  #device(): Device {
    return this.optimizer.slots[0]?.param.device ?? 'cpu';
  }

  /** Zeroes the gradients: the DDP buffers when there is one, else each parameter's. */
  zeroGrad(): void {
    if (this.options.ddp) this.options.ddp.zeroGradBuffers();
    else this.optimizer.zeroGrad();
  }

  stateDict(): MixedPrecisionStateDict {
    const sd: MixedPrecisionStateDict = { optimizer: this.optimizer.stateDict() };
    if (this.options.gradScaler) sd.grad_scaler = this.options.gradScaler.stateDict();
    return sd;
  }

  loadStateDict(sd: MixedPrecisionStateDict): void {
    if (!isRecord(sd) || !isRecord(sd.optimizer)) throw new Error('MixedPrecisionOptimizer.loadStateDict: expected { optimizer, grad_scaler? } as made by stateDict()');
    if (this.options.gradScaler && sd.grad_scaler === undefined) {
      throw new Error('MixedPrecisionOptimizer.loadStateDict: this optimizer has a loss scaler but the state dict has no grad_scaler entry');
    }
    loadTogether(this.options.gradScaler, sd.grad_scaler, () => this.optimizer.loadStateDict(sd.optimizer));
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
