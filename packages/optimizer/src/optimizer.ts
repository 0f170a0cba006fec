// The optimizer base class, PyTorch-shaped: parameter groups with per-group hyperparameters,
// step(), zeroGrad(), stateDict()/loadStateDict(). Subclasses say how state is created and how one
// group is updated. State is allocated when the optimizer is built (not at the first step), so the
// memory an optimizer needs is known up front and a checkpoint can be loaded before training.
import { keep, noGrad, Tensor } from '@tessera/core';
import { checkNumber, checkTensor, isRecord, Problems, shapeText } from './state-check.ts';
import { isSlot, type MainWeights, type ParamSlot, slotOf } from './slots.ts';

/** Hyperparameters every optimizer has; the LR scheduler writes lr and weightDecay. */
export interface BaseHyperparams {
  lr: number;
  weightDecay: number;
}

/** Per-group settings read by the LR scheduler (Megatron's param-group overrides). */
export interface GroupSchedule {
  /** The scheduler's lr for this group is multiplied by this (default 1). */
  lrMult: number;
  /** The scheduler's weight decay for this group is multiplied by this (0: no decay; default 1). */
  wdMult: number;
  /** Overrides of the scheduler's max/min lr for this group. */
  maxLr?: number;
  minLr?: number;
}

export type ParamGroup<H extends BaseHyperparams> = H & GroupSchedule & { readonly slots: readonly ParamSlot[] };

export type ParamGroupInput<H extends BaseHyperparams> = Partial<H> &
  Partial<GroupSchedule> & {
    params: Iterable<Tensor | ParamSlot>;
    /** Names of the params, in order (for messages and state dicts). */
    names?: readonly string[];
  };

export type ParamsInput<H extends BaseHyperparams> = Iterable<Tensor | ParamSlot> | readonly ParamGroupInput<H>[];

export interface OptimizerOptions {
  /** fp32 main weights: 'auto' (default) keeps them for bf16/f16 parameters. */
  mainWeights?: MainWeights;
}

export interface StepOptions {
  /** Gradients are multiplied by this before use (1 / loss scale, times the clip factor). */
  gradScale?: number;
}

/** One slot's state: the step count and named fp32 tensors (exp_avg, momentum_buffer, ...). */
export interface SlotState {
  step: number;
  tensors: Record<string, Tensor>;
}

/** A ready slot of a step: its gradient was found. */
export interface ReadySlot {
  slot: ParamSlot;
  grad: Tensor;
  state: SlotState;
}

/** torch-style: state by slot index (as a string), groups with their hyperparameters and indices. */
export interface OptimizerStateDict {
  state: Record<string, Record<string, Tensor | number>>;
  param_groups: Array<Record<string, unknown> & { params: number[] }>;
}

function isGroupList<H extends BaseHyperparams>(params: ParamsInput<H>): params is readonly ParamGroupInput<H>[] {
  return Array.isArray(params) && params.length > 0 && isRecord(params[0]) && 'params' in params[0] && !isSlot(params[0]);
}

export abstract class Optimizer<H extends BaseHyperparams> {
  readonly paramGroups: ParamGroup<H>[];
  readonly defaults: H;
  protected readonly state = new Map<ParamSlot, SlotState>();
  readonly #ownedMains: Tensor[] = [];

  constructor(params: ParamsInput<H>, defaults: H, options: OptimizerOptions = {}) {
    this.defaults = { ...defaults };
    const policy = options.mainWeights ?? 'auto';
    const inputs: readonly ParamGroupInput<H>[] = isGroupList(params) ? params : [{ params } as ParamGroupInput<H>];
    const seen = new Set<Tensor>();
    try {
      this.paramGroups = this.#buildGroups(inputs, policy, seen);
    } catch (err) {
      for (const m of this.#ownedMains) m.dispose(); // made before the error: nothing else holds them
      throw err;
    }
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const slot of group.slots) {
          const st = this.initState(slot);
          for (const t of Object.values(st.tensors)) keep(t); // owned by the optimizer, not by a caller's scope
          this.state.set(slot, st);
        }
      }
    });
  }

  #buildGroups(inputs: readonly ParamGroupInput<H>[], policy: MainWeights, seen: Set<Tensor>): ParamGroup<H>[] {
    return inputs.map((input, g) => {
      const { params: list, names, ...rest } = input;
      const slots = [...list].map((p, i) => {
        const name = names?.[i];
        if (isSlot(p)) return p;
        if (!(p instanceof Tensor)) throw new TypeError(`${this.constructor.name}: group ${g} entry ${i} is neither a tensor nor a slot`);
        if (seen.has(p)) throw new Error(`${this.constructor.name}: parameter ${name ?? `group ${g} entry ${i}`} appears more than once; give each parameter to one group`);
        seen.add(p);
        if (!p.requiresGrad) throw new Error(`${this.constructor.name}: parameter ${name ?? `group ${g} entry ${i}`} does not require grad`);
        const slot = slotOf(p, policy, name);
        if (slot.main) this.#ownedMains.push(slot.main);
        return slot;
      });
      const group = { ...this.defaults, lrMult: 1, wdMult: 1, ...rest, slots } as ParamGroup<H>;
      this.validateGroup(group, g);
      return group;
    });
  }

  /** Throws for bad hyperparameters (called for each group at construction). */
  protected abstract validateGroup(group: ParamGroup<H>, index: number): void;
  /** The fresh state of a slot (called at construction, inside noGrad). */
  protected abstract initState(slot: ParamSlot): SlotState;
  /** Updates the ready slots of one group (inside noGrad). */
  protected abstract updateGroup(group: ParamGroup<H>, ready: ReadySlot[], gradScale: number): void;
  /** State tensors every slot must have in a state dict, and those it may have. */
  protected abstract stateKeys(): { required: readonly string[]; optional: readonly string[] };
  /** The group's hyperparameters in state-dict form (torch's names). */
  protected abstract exportHyperparams(group: ParamGroup<H>): Record<string, unknown>;
  /** Reads saved hyperparameters into `group` after checking them (report problems, change nothing on error). */
  protected abstract importHyperparams(saved: Record<string, unknown>, group: ParamGroup<H>, where: string, problems: Problems): () => void;

  /** Every slot, group by group. */
  get slots(): ParamSlot[] {
    return this.paramGroups.flatMap((g) => [...g.slots]);
  }

  /** The state of a slot (or of the slot made for a parameter). */
  stateOf(target: ParamSlot | Tensor): SlotState | undefined {
    if (isSlot(target)) return this.state.get(target);
    for (const [slot, st] of this.state) if (slot.param === target) return st;
    return undefined;
  }

  /** Applies one update to every slot that has a gradient. */
  step(options: StepOptions = {}): void {
    const gradScale = options.gradScale ?? 1;
    if (!Number.isFinite(gradScale)) throw new Error(`${this.constructor.name}.step: gradScale must be finite, got ${gradScale}`);
    noGrad(() => {
      for (const group of this.paramGroups) {
        const ready: ReadySlot[] = [];
        for (const slot of group.slots) {
          const grad = slot.grad();
          if (!grad) continue;
          if (grad.numel !== slot.param.numel || grad.device !== slot.param.device) {
            throw new Error(`${this.constructor.name}.step: the gradient of ${slot.name ?? 'a parameter'} is ${grad.describe()}, the parameter is ${slot.param.describe()}`);
          }
          ready.push({ slot, grad, state: this.state.get(slot) as SlotState });
        }
        if (ready.length > 0) this.updateGroup(group, ready, gradScale);
      }
    });
  }

  /** Drops .grad and zeroes main grads of every slot that owns its gradient. */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const slot of group.slots) slot.zeroGrad?.();
  }

  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict['state'] = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const params = group.slots.map((slot) => {
        const st = this.state.get(slot) as SlotState;
        const entry: Record<string, Tensor | number> = { step: st.step, ...st.tensors };
        if (slot.main) entry.main_param = slot.main;
        state[String(index)] = entry;
        return index++;
      });
      const schedule: Record<string, unknown> = { lr_mult: group.lrMult, wd_mult: group.wdMult };
      if (group.maxLr !== undefined) schedule.max_lr = group.maxLr;
      if (group.minLr !== undefined) schedule.min_lr = group.minLr;
      return { ...this.exportHyperparams(group), ...schedule, params, param_names: group.slots.map((s) => s.name ?? null) };
    });
    return { state, param_groups: paramGroups };
  }

  /**
   * Copies a state dict's values into this optimizer. Its groups must hold as many parameters as
   * ours, in order; every slot's tensors must have the shapes of ours. Any problem is an error
   * that lists them all, and nothing is changed then.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const what = `${this.constructor.name}.loadStateDict`;
    const problems = new Problems();
    if (!isRecord(sd) || !isRecord(sd.state) || !Array.isArray(sd.param_groups)) {
      throw new Error(`${what}: expected { state, param_groups } as made by stateDict(), got ${Array.isArray(sd) ? 'an array' : typeof sd}`);
    }
    if (sd.param_groups.length !== this.paramGroups.length) {
      throw new Error(`${what}: the state dict has ${sd.param_groups.length} parameter group(s), this optimizer has ${this.paramGroups.length}`);
    }
    const bySavedIndex = new Map<string, ParamSlot>();
    const apply: Array<() => void> = [];
    sd.param_groups.forEach((saved, g) => {
      const group = this.paramGroups[g] as ParamGroup<H>;
      if (!isRecord(saved) || !Array.isArray(saved.params)) {
        problems.add(`param_groups[${g}] must be an object with a params array`);
        return;
      }
      if (saved.params.length !== group.slots.length) {
        problems.add(`param_groups[${g}] has ${saved.params.length} parameter(s), this optimizer's group ${g} has ${group.slots.length}`);
        return;
      }
      saved.params.forEach((id, i) => {
        bySavedIndex.set(String(id), group.slots[i] as ParamSlot);
      });
      // Names, when both sides have them, catch a state dict of another model with the same group sizes.
      const names = Array.isArray(saved.param_names) ? (saved.param_names as unknown[]) : [];
      names.forEach((name, i) => {
        const ours = group.slots[i]?.name;
        if (typeof name === 'string' && ours !== undefined && name !== ours) {
          problems.add(`param_groups[${g}] entry ${i} is '${name}' in the state dict but '${ours}' here`);
        }
      });
      apply.push(this.importHyperparams(saved, group, `param_groups[${g}]`, problems));
      apply.push(this.importSchedule(saved, group, `param_groups[${g}]`, problems));
    });
    for (const [key, entry] of Object.entries(sd.state)) {
      const slot = bySavedIndex.get(key);
      if (!slot) {
        problems.add(`state['${key}'] belongs to no parameter of the param groups`);
        continue;
      }
      if (!isRecord(entry)) {
        problems.add(`state['${key}'] must be an object`);
        continue;
      }
      const fix = this.checkSlotState(`state['${key}']`, entry, slot, problems);
      if (fix) apply.push(fix);
    }
    problems.throwIfAny(what, 'Nothing was loaded. A state dict loads into an optimizer built over the same parameters in the same groups.');
    noGrad(() => {
      for (const f of apply) f();
    });
  }

  private importSchedule(saved: Record<string, unknown>, group: ParamGroup<H>, where: string, problems: Problems): () => void {
    const lrMult = saved.lr_mult === undefined ? group.lrMult : checkNumber(problems, `${where}.lr_mult`, saved.lr_mult, { min: 0 });
    const wdMult = saved.wd_mult === undefined ? group.wdMult : checkNumber(problems, `${where}.wd_mult`, saved.wd_mult, { min: 0 });
    const maxLr = saved.max_lr === undefined ? undefined : checkNumber(problems, `${where}.max_lr`, saved.max_lr, { min: 0 });
    const minLr = saved.min_lr === undefined ? undefined : checkNumber(problems, `${where}.min_lr`, saved.min_lr, { min: 0 });
    return () => {
      if (lrMult !== undefined) group.lrMult = lrMult;
      if (wdMult !== undefined) group.wdMult = wdMult;
      if (maxLr !== undefined) group.maxLr = maxLr;
      if (minLr !== undefined) group.minLr = minLr;
    };
  }

  // Checks one saved slot entry against our state; returns the copy to run when all is well.
  private checkSlotState(where: string, entry: Record<string, unknown>, slot: ParamSlot, problems: Problems): (() => void) | undefined {
    const st = this.state.get(slot) as SlotState;
    const { required, optional } = this.stateKeys();
    const known = new Set(['step', 'main_param', ...required, ...optional]);
    const before = problems.list.length;
    for (const key of Object.keys(entry)) if (!known.has(key)) problems.add(`${where} has an unknown key '${key}' (expected ${[...known].join(', ')})`);
    const step = checkNumber(problems, `${where}.step`, entry.step, { integer: true, min: 0 });
    const copies: Array<[string, Tensor]> = [];
    const fresh: string[] = [];
    const shape = slot.param.shape;
    for (const key of [...required, ...optional]) {
      if (!(key in entry)) {
        if (required.includes(key)) problems.add(`${where} lacks '${key}'`);
        else fresh.push(key);
        continue;
      }
      const src = checkTensor(problems, `${where}.${key}`, entry[key], st.tensors[key]?.shape ?? shape);
      if (src) copies.push([key, src]);
    }
    if (slot.main) {
      if (!('main_param' in entry)) problems.add(`${where} lacks 'main_param' (the fp32 main weights of ${slot.name ?? 'this parameter'})`);
      else {
        const src = checkTensor(problems, `${where}.main_param`, entry.main_param, slot.main.shape);
        if (src) copies.push(['main_param', src]);
      }
    } else if ('main_param' in entry) {
      problems.add(`${where} has 'main_param' but ${slot.name ?? 'this parameter'} (${slot.param.dtype}) keeps no main weights here; build the optimizer with { mainWeights: true } to load them`);
    }
    if (problems.list.length > before) return undefined;
    return () => {
      st.step = step as number;
      for (const key of fresh) {
        st.tensors[key]?.dispose();
        delete st.tensors[key];
      }
      for (const [key, src] of copies) {
        const dst = key === 'main_param' ? (slot.main as Tensor) : (st.tensors[key] ??= keep(this.allocateState(key, slot)));
        dst.copy_(src);
      }
      if (slot.main) slot.param.copy_(slot.main);
    };
  }

  /** A zero state tensor for an optional key that is created lazily (e.g. SGD's momentum buffer). */
  protected allocateState(key: string, slot: ParamSlot): Tensor {
    throw new Error(`${this.constructor.name}: no state '${key}' for ${slot.name ?? 'a parameter'} (${shapeText(slot.param.shape)})`);
  }

  /** Frees the optimizer's state and the main weights it made. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
    for (const m of this.#ownedMains) m.dispose();
    this.#ownedMains.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
