// Parameter groups the way Megatron builds them: biases and every 1-D parameter (norm weights)
// get no weight decay, everything else gets the configured decay; optional per-parameter lr
// multipliers. Parameters with the same (wdMult, lrMult) share a group.
import type { Module, Parameter } from '@tessera/core';
import type { ParamGroupInput } from './optimizer.ts';

export interface MegatronGroupOptions {
  /** Weight decay of the decayed group (default 0.01, Megatron's --weight-decay). */
  weightDecay?: number;
  /** Which parameters skip weight decay (default: names ending in '.bias' and 1-D parameters). */
  noWeightDecay?: (name: string, param: Parameter) => boolean;
  /** An lr multiplier per parameter (default 1 for all). The LR scheduler applies it. */
  lrMult?: (name: string, param: Parameter) => number;
  /** Base lr: when given, each group's lr is set to lr * lrMult (for use without a scheduler). */
  lr?: number;
}

/** Megatron's default: no decay for biases and norm weights (any 1-D parameter). */
export function isNoWeightDecay(name: string, param: Parameter): boolean {
  return name.endsWith('.bias') || name === 'bias' || param.shape.length === 1;
}

type Named = Iterable<[string, Parameter]>;

/**
 * Groups for an optimizer from a module (or named parameters): trainable parameters only, in
 * model order within each group; the group with decay and lrMult 1 comes first, as in Megatron.
 * Groups carry `wdMult` (0 or 1) and `lrMult` for the LR scheduler, and the actual weightDecay so
 * they also work without one.
 */
export function megatronParamGroups<H extends { lr: number; weightDecay: number }>(
  model: Module | Named,
  options: MegatronGroupOptions = {},
): ParamGroupInput<H>[] {
  const weightDecay = options.weightDecay ?? 0.01;
  const noDecay = options.noWeightDecay ?? isNoWeightDecay;
  const named: Named = 'namedParameters' in model ? (model as Module).namedParameters() : model;
  const groups = new Map<string, { wdMult: number; lrMult: number; params: Parameter[]; names: string[] }>();
  for (const [name, p] of named) {
    if (!p.requiresGrad) continue;
    const wdMult = noDecay(name, p) ? 0 : 1;
    const lrMult = options.lrMult?.(name, p) ?? 1;
    if (!(lrMult >= 0)) throw new Error(`megatronParamGroups: lrMult for '${name}' must be >= 0, got ${lrMult}`);
    const key = `${wdMult}|${lrMult}`;
    let g = groups.get(key);
    if (!g) {
      g = { wdMult, lrMult, params: [], names: [] };
      groups.set(key, g);
    }
    g.params.push(p);
    g.names.push(name);
  }
  const order = (g: { wdMult: number; lrMult: number }) => (g.wdMult === 1 && g.lrMult === 1 ? 0 : 1);
  return [...groups.values()]
    .sort((a, b) => order(a) - order(b))
    .map((g) => {
      const group: Record<string, unknown> = { params: g.params, names: g.names, wdMult: g.wdMult, lrMult: g.lrMult, weightDecay: weightDecay * g.wdMult };
      if (options.lr !== undefined) group.lr = options.lr * g.lrMult;
      return group as ParamGroupInput<H>;
    });
}
