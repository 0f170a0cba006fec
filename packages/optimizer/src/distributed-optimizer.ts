// The distributed optimizer (ZeRO-1, Megatron's DistributedOptimizer): gradients are
// reduce-scattered bucket by bucket (DistributedDataParallel with distributedOptimizer: true), each
// DP rank keeps fp32 main weights and optimizer state for its shard only and updates it, and the
// updated model weights are all-gathered in place into the parameter buffers. Per parameter, with
// bf16 weights and fp32 gradients: 2 (weights) + 4 (full gradient buffer) + 12/d (main weights and
// two moments) bytes, d the DP size.
import type { Work } from '@tessera/collectives';
import { type Device, noGrad, type Parameter, Tensor } from '@tessera/core';
import type { DistributedDataParallel } from './ddp.ts';
import { countsTowardNorm, type NormGroups } from './grad-norm.ts';
import { loadTogether } from './mixed-precision.ts';
import type { BaseHyperparams, Optimizer, OptimizerStateDict, ParamGroup, ParamGroupInput } from './optimizer.ts';
import { buildShardSlots, disposeShardSlots, type ShardSlots } from './shard-slots.ts';
import { isRecord, Problems } from './state-check.ts';
import { checkPrecisionOptions, planStep, type PrecisionOptions, type StepResult } from './step-control.ts';

export interface DistributedOptimizerOptions extends PrecisionOptions {
  /** Tensor and pipeline groups for the norm (a ParallelState fits); the DP group comes from the DDP wrapper. */
  parallel?: NormGroups;
  /**
   * Return from step() once the parameter all-gathers are started (last bucket first: the
   * earliest layers); await finishParamSync() before the next forward. Default false: step()
   * returns with the parameters gathered.
   */
  overlapParamGather?: boolean;
}

export const SHARDED_FORMAT = 'tessera.distributed-optimizer.v1';

/** One DP rank's state: its shard of the optimizer state with what is needed to reassemble it. */
export interface ShardedOptimizerStateDict {
  format: typeof SHARDED_FORMAT;
  dp_rank: number;
  dp_size: number;
  /** The inner optimizer's state; state index i is slots[i]. */
  optimizer: OptimizerStateDict;
  /** Slot i holds elements [start, end) of the flattened parameter `param` (of `shape`). */
  slots: Array<{ param: string; start: number; end: number; shape: number[] }>;
  grad_scaler?: Record<string, number>;
}

type OptimizerFactory<H extends BaseHyperparams> = (groups: ParamGroupInput<H>[]) => Optimizer<H>;

export class DistributedOptimizer<H extends BaseHyperparams = BaseHyperparams> {
  readonly ddp: DistributedDataParallel;
  readonly optimizer: Optimizer<H>;
  readonly options: DistributedOptimizerOptions;
  readonly #shard: ShardSlots;
  #gathers: Work[] = [];

  /**
   * @param groups the parameter groups (e.g. megatronParamGroups(model)) over the DDP module's parameters
   * @param makeOptimizer builds the inner optimizer over this rank's shard, e.g. (g) => new AdamW(g, { lr })
   */
  constructor(ddp: DistributedDataParallel, groups: readonly ParamGroupInput<H>[], makeOptimizer: OptimizerFactory<H>, options: DistributedOptimizerOptions = {}) {
    checkPrecisionOptions('DistributedOptimizer', options);
    if (!ddp.distributedOptimizer) throw new Error('DistributedOptimizer: build the DistributedDataParallel wrapper with { distributedOptimizer: true }');
    this.ddp = ddp;
    this.options = options;
    const groupOf = new Map<Parameter, number>();
    groups.forEach((g, i) => {
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new Error(`DistributedOptimizer: group ${i} holds a slot; give it the model's parameters`);
        if (groupOf.has(p as Parameter)) throw new Error(`DistributedOptimizer: ${ddp.nameOf(p as Parameter) ?? 'a parameter'} is in more than one group`);
        groupOf.set(p as Parameter, i);
      }
    });
    this.#shard = buildShardSlots(ddp);
    const missing = this.#shard.pieces.filter((piece) => !groupOf.has(piece.param));
    if (missing.length > 0) {
      disposeShardSlots(this.#shard);
      throw new Error(`DistributedOptimizer: ${[...new Set(missing.map((m) => m.name))].join(', ')} are trained (requiresGrad) but in no parameter group`);
    }
    const slotGroups = groups.map((g, i) => {
      const { params: _params, names: _names, ...rest } = g;
      const members = this.#shard.slots.filter((_, k) => groupOf.get((this.#shard.pieces[k] as { param: Parameter }).param) === i);
      return { ...rest, params: members } as ParamGroupInput<H>;
    });
    try {
      this.optimizer = makeOptimizer(slotGroups);
    } catch (err) {
      disposeShardSlots(this.#shard);
      throw err;
    }
    const given = new Set(this.#shard.slots);
    if (this.optimizer.slots.length !== given.size || this.optimizer.slots.some((s) => !given.has(s))) {
      this.dispose();
      throw new Error('DistributedOptimizer: makeOptimizer must build the optimizer over the groups it is given');
    }
  }

  get paramGroups(): ParamGroup<H>[] {
    return this.optimizer.paramGroups;
  }

  get lossScale(): number {
    return this.options.gradScaler?.scale ?? 1;
  }

  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.lossScale);
  }

  /** Whether parameter all-gathers started by step() are still unawaited. */
  get paramSyncPending(): boolean {
    return this.#gathers.length > 0;
  }

  async step(): Promise<StepResult> {
    await this.finishParamSync();
    await this.ddp.finishGradSync();
    const tensorRank = this.options.parallel?.tensor?.rank ?? 0;
    const counted: Tensor[] = [];
    const others: Tensor[] = [];
    this.#shard.slots.forEach((slot, k) => {
      const piece = this.#shard.pieces[k] as { param: Parameter };
      (countsTowardNorm(piece.param, tensorRank) ? counted : others).push(slot.grad() as Tensor);
    });
    const groups = { tensor: this.options.parallel?.tensor, pipeline: this.options.parallel?.pipeline };
    const plan = await planStep('DistributedOptimizer', counted, others, this.#device(), groups, this.options, this.ddp.dataParallel);
    if (!plan.result.updated) return plan.result;
    noGrad(() => this.optimizer.step({ gradScale: plan.gradScale }));
    this.#startParamGather();
    if (!this.options.overlapParamGather) await this.finishParamSync();
    return plan.result;
  }

  #device(): Device {
    return this.ddp.buffers[0]?.device ?? 'cpu';
  }

  // All-gathers every bucket's parameters in place, the last bucket (the first layers) first.
  #startParamGather(): void {
    const g = this.ddp.dataParallel;
    if (!g || g.size === 1) return;
    this.ddp.buffers.forEach((buffer, bi) => {
      for (let k = buffer.layout.buckets.length - 1; k >= 0; k--) {
        const shard = (this.#shard.paramShards[bi] as Tensor[])[k] as Tensor;
        this.#gathers.push(g.allGather(buffer.bucketParams(k), shard));
      }
    });
  }

  /** Waits for the parameter all-gathers of the last step (needed before the next forward with overlapParamGather). */
  async finishParamSync(): Promise<void> {
    const works = this.#gathers;
    this.#gathers = [];
    await Promise.all(works.map((w) => w.wait()));
  }

  zeroGrad(): void {
    this.ddp.zeroGradBuffers();
  }

  /** This rank's shard of the state (live tensors: don't dispose them), with the slot map to reassemble it. */
  stateDict(): ShardedOptimizerStateDict {
    const sd: ShardedOptimizerStateDict = {
      format: SHARDED_FORMAT,
      dp_rank: this.ddp.dpRank,
      dp_size: this.ddp.dpSize,
      optimizer: this.optimizer.stateDict(),
      slots: this.#slotMap(),
    };
    if (this.options.gradScaler) sd.grad_scaler = this.options.gradScaler.stateDict();
    return sd;
  }

  // Slots in the inner optimizer's state order (group by group).
  #slotMap(): ShardedOptimizerStateDict['slots'] {
    const index = new Map(this.#shard.slots.map((s, k) => [s, k]));
    return this.optimizer.slots.map((slot) => {
      const piece = this.#shard.pieces[index.get(slot) as number] as { name: string; start: number; end: number; shape: readonly number[] };
      return { param: piece.name, start: piece.start, end: piece.end, shape: [...piece.shape] };
    });
  }

  /**
   * Loads this rank's shard saved by a run with the same DP size and model (use
   * mergeShardedStateDicts + loadMergedState to change the DP size), then all-gathers the
   * parameters so every rank holds the loaded main weights' copy.
   */
  async loadStateDict(sd: ShardedOptimizerStateDict): Promise<void> {
    const what = 'DistributedOptimizer.loadStateDict';
    if (!isRecord(sd) || sd.format !== SHARDED_FORMAT) {
      throw new Error(`${what}: expected a sharded state dict (format '${SHARDED_FORMAT}') as made by stateDict(), got format ${JSON.stringify(isRecord(sd) ? sd.format : sd)}`);
    }
    const problems = new Problems();
    if (sd.dp_size !== this.ddp.dpSize || sd.dp_rank !== this.ddp.dpRank) {
      problems.add(`it was saved by DP rank ${sd.dp_rank} of ${sd.dp_size}; this is DP rank ${this.ddp.dpRank} of ${this.ddp.dpSize}`);
    }
    const ours = this.#slotMap();
    if (!Array.isArray(sd.slots) || sd.slots.length !== ours.length) {
      problems.add(`it holds ${Array.isArray(sd.slots) ? sd.slots.length : 'no'} slots, this rank's shard has ${ours.length}`);
    } else {
      ours.forEach((o, i) => {
        const s = sd.slots[i];
        if (!s || s.param !== o.param || s.start !== o.start || s.end !== o.end) {
          problems.add(`slot ${i} is ${s ? `${s.param}[${s.start}:${s.end}]` : 'missing'}, this shard has ${o.param}[${o.start}:${o.end}]`);
        }
      });
    }
    if (this.options.gradScaler && sd.grad_scaler === undefined) problems.add('this optimizer has a loss scaler but the state dict has no grad_scaler');
    problems.throwIfAny(what, 'Nothing was loaded. To load a checkpoint saved with another DP size or bucket layout, merge its shards with mergeShardedStateDicts() and call loadMergedState().');
    loadTogether(this.options.gradScaler, sd.grad_scaler, () => this.optimizer.loadStateDict(sd.optimizer));
    this.#startParamGather();
    await this.finishParamSync();
  }

  /** The slot pieces (parameter, element range) this rank owns, in state order. */
  get shardSlots(): ShardedOptimizerStateDict['slots'] {
    return this.#slotMap();
  }

  dispose(): void {
    this.optimizer.dispose();
    disposeShardSlots(this.#shard);
  }
}
