// Reassembling the distributed optimizer's per-rank state: every DP rank's state dict says which
// element range of which parameter each of its slots holds, so the shards of all ranks merge into
// full per-parameter tensors (for a checkpoint in a layout-free form, or to resume with another DP
// size), and a merged state loads into any DistributedOptimizer over the same model.
import { keep, noGrad, Tensor, zeros } from '@tessera/core';
import type { BaseHyperparams } from './optimizer.ts';
import type { DistributedOptimizer, ShardedOptimizerStateDict } from './distributed-optimizer.ts';
import { SHARDED_FORMAT } from './distributed-optimizer.ts';
import { Problems } from './state-check.ts';
import { flatView, rangeOf } from './views.ts';

/** Full optimizer state per parameter name (fp32 tensors of the parameter's shape). */
export interface MergedOptimizerState {
  params: Record<string, { step: number; shape: number[]; tensors: Record<string, Tensor> }>;
  /** Group hyperparameters (as saved by DP rank 0), without the rank-specific parameter lists. */
  param_groups: Array<Record<string, unknown>>;
  grad_scaler?: Record<string, number>;
}

/** Merges the state dicts of all DP ranks (any order) into full tensors; the caller owns (disposes) them. */
export function mergeShardedStateDicts(shards: readonly ShardedOptimizerStateDict[]): MergedOptimizerState {
  const what = 'mergeShardedStateDicts';
  const n = shards.length;
  const ranks = new Set(shards.map((s) => s.dp_rank));
  const bad = shards.find((s) => s.format !== SHARDED_FORMAT || s.dp_size !== n);
  if (n === 0 || bad || ranks.size !== n || [...ranks].some((r) => !(r >= 0 && r < n))) {
    throw new Error(`${what}: needs the state dicts of all ${n} DP ranks, each once (format '${SHARDED_FORMAT}'); got ranks [${shards.map((s) => `${s.dp_rank}/${s.dp_size}`).join(', ')}]`);
  }
  const merged: MergedOptimizerState['params'] = {};
  const covered = new Map<string, number>();
  const problems = new Problems();
  noGrad(() => {
    for (const sd of shards) {
      sd.slots.forEach((slot, i) => {
        const entry = sd.optimizer.state[String(i)];
        if (!entry) return;
        const numel = slot.shape.reduce((p, d) => p * d, 1);
        const full = (merged[slot.param] ??= { step: entry.step as number, shape: slot.shape, tensors: {} });
        if (full.step !== entry.step) problems.add(`${slot.param}: DP ranks disagree on the step count (${full.step} and ${entry.step})`);
        covered.set(slot.param, (covered.get(slot.param) ?? 0) + (slot.end - slot.start));
        for (const [key, value] of Object.entries(entry)) {
          if (!(value instanceof Tensor)) continue;
          const dst = (full.tensors[key] ??= keep(zeros(slot.shape, { dtype: 'f32', device: value.device })));
          if (dst.numel !== numel) problems.add(`${slot.param}: shapes disagree between ranks`);
          else {
            const flat = flatView(dst);
            const part = rangeOf(flat, slot.start, slot.end);
            part.copy_(value.reshape([slot.end - slot.start]));
            part.dispose();
            flat.dispose();
          }
        }
      });
    }
  });
  for (const [name, full] of Object.entries(merged)) {
    const numel = full.shape.reduce((p, d) => p * d, 1);
    if (covered.get(name) !== numel) problems.add(`${name}: the shards cover ${covered.get(name)} of its ${numel} elements`);
  }
  if (problems.list.length > 0) for (const full of Object.values(merged)) for (const t of Object.values(full.tensors)) t.dispose();
  problems.throwIfAny(what);
  const rank0 = shards.find((s) => s.dp_rank === 0) as ShardedOptimizerStateDict;
  const param_groups = rank0.optimizer.param_groups.map(({ params: _p, param_names: _n, ...hyper }) => hyper);
  return { params: merged, param_groups, ...(rank0.grad_scaler ? { grad_scaler: rank0.grad_scaler } : {}) };
}

/** The state dict of `opt`'s inner optimizer cut out of a merged state (views into it). */
export function shardOfMerged<H extends BaseHyperparams>(opt: DistributedOptimizer<H>, merged: MergedOptimizerState): { sd: ShardedOptimizerStateDict; views: Tensor[] } {
  const problems = new Problems();
  const own = opt.stateDict();
  const views: Tensor[] = [];
  const state: ShardedOptimizerStateDict['optimizer']['state'] = {};
  own.slots.forEach((slot, i) => {
    const full = merged.params[slot.param];
    if (!full) {
      problems.add(`the merged state has no entry for ${slot.param}`);
      return;
    }
    const entry: Record<string, Tensor | number> = { step: full.step };
    for (const [key, t] of Object.entries(full.tensors)) {
      if (t.numel !== slot.shape.reduce((p, d) => p * d, 1)) {
        problems.add(`${slot.param}.${key} has ${t.numel} elements, the parameter has shape [${slot.shape.join(', ')}]`);
        continue;
      }
      const flat = flatView(t);
      const part = rangeOf(flat, slot.start, slot.end);
      flat.dispose();
      views.push(part);
      entry[key] = part;
    }
    state[String(i)] = entry;
  });
  if (merged.param_groups.length !== own.optimizer.param_groups.length) {
    problems.add(`the merged state has ${merged.param_groups.length} parameter groups, this optimizer has ${own.optimizer.param_groups.length}`);
  }
  if (problems.list.length > 0) for (const v of views) v.dispose();
  problems.throwIfAny('loadMergedState');
  const param_groups = own.optimizer.param_groups.map((g, k) => ({ ...g, ...merged.param_groups[k], params: g.params }));
  const sd: ShardedOptimizerStateDict = { ...own, optimizer: { state, param_groups } };
  if (merged.grad_scaler) sd.grad_scaler = merged.grad_scaler;
  return { sd, views };
}

/** Loads a merged state (from any DP size) into a DistributedOptimizer over the same model. */
export async function loadMergedState<H extends BaseHyperparams>(opt: DistributedOptimizer<H>, merged: MergedOptimizerState): Promise<void> {
  const { sd, views } = shardOfMerged(opt, merged);
  try {
    await opt.loadStateDict(sd);
  } finally {
    for (const v of views) v.dispose();
  }
}
