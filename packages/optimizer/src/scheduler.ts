// Megatron's OptimizerParamScheduler: learning rate warmup (linear, from initLr) and decay
// (constant, linear, cosine, inverse-square-root, WSD) between maxLr and minLr, and a weight decay
// that moves from startWd to endWd (constant, linear, cosine). It counts whatever step() is given:
// Megatron passes the global batch size each iteration, so its steps are samples (see
// megatronScheduleSteps). Each group gets lr = lr(step) * lrMult (with the group's maxLr/minLr
// when it sets them) and weightDecay = wd(step) * wdMult.
import type { BaseHyperparams, GroupSchedule } from './optimizer.ts';
import { checkNumber, isRecord, Problems } from './state-check.ts';

export type LrDecayStyle = 'constant' | 'linear' | 'cosine' | 'inverse-square-root' | 'WSD';
export type WsdDecayStyle = 'linear' | 'cosine' | 'exponential' | 'minus_sqrt';
export type WdIncrStyle = 'constant' | 'linear' | 'cosine';

/** Anything with parameter groups whose lr and weightDecay can be set. */
export interface HasParamGroups {
  readonly paramGroups: ReadonlyArray<BaseHyperparams & Partial<GroupSchedule>>;
}

export interface SchedulerOptions {
  maxLr: number;
  /** Where warmup starts (Megatron's --lr-warmup-init; default 0). */
  initLr?: number;
  /** Default 0. */
  minLr?: number;
  /** Default 0. */
  warmupSteps?: number;
  decaySteps: number;
  decayStyle: LrDecayStyle;
  /** With 'WSD': the steps of the final anneal, and its shape (default 'linear'). */
  wsdDecaySteps?: number;
  wsdDecayStyle?: WsdDecayStyle;
  /** Weight decay start and end (default: both 0.01, constant). */
  startWd?: number;
  endWd?: number;
  /** Steps over which weight decay moves from startWd to endWd (default decaySteps). */
  wdIncrSteps?: number;
  wdIncrStyle?: WdIncrStyle;
}

const DECAY_STYLES: readonly LrDecayStyle[] = ['constant', 'linear', 'cosine', 'inverse-square-root', 'WSD'];
const WSD_STYLES: readonly WsdDecayStyle[] = ['linear', 'cosine', 'exponential', 'minus_sqrt'];
const WD_STYLES: readonly WdIncrStyle[] = ['constant', 'linear', 'cosine'];

export class OptimizerParamScheduler {
  readonly optimizer: HasParamGroups;
  initLr: number;
  maxLr: number;
  minLr: number;
  warmupSteps: number;
  decaySteps: number;
  decayStyle: LrDecayStyle;
  wsdDecaySteps: number | undefined;
  wsdDecayStyle: WsdDecayStyle;
  startWd: number;
  endWd: number;
  wdIncrSteps: number;
  wdIncrStyle: WdIncrStyle;
  numSteps = 0;

  constructor(optimizer: HasParamGroups, options: SchedulerOptions) {
    this.optimizer = optimizer;
    this.initLr = options.initLr ?? 0;
    this.maxLr = options.maxLr;
    this.minLr = options.minLr ?? 0;
    this.warmupSteps = options.warmupSteps ?? 0;
    this.decaySteps = options.decaySteps;
    this.decayStyle = options.decayStyle;
    this.wsdDecaySteps = options.wsdDecaySteps;
    this.wsdDecayStyle = options.wsdDecayStyle ?? 'linear';
    this.startWd = options.startWd ?? 0.01;
    this.endWd = options.endWd ?? this.startWd;
    this.wdIncrSteps = options.wdIncrSteps ?? this.decaySteps;
    this.wdIncrStyle = options.wdIncrStyle ?? (this.startWd === this.endWd ? 'constant' : 'linear');
    this.#validate();
    this.step(0);
  }

  #validate(): void {
    const fail = (m: string) => {
      throw new Error(`OptimizerParamScheduler: ${m}`);
    };
    if (!(this.minLr >= 0)) fail(`minLr must be >= 0, got ${this.minLr}`);
    if (!(this.maxLr >= this.minLr)) fail(`maxLr (${this.maxLr}) must be >= minLr (${this.minLr})`);
    if (!(this.initLr <= this.maxLr)) fail(`initLr (${this.initLr}) must be <= maxLr (${this.maxLr})`);
    if (!(this.decaySteps > 0)) fail(`decaySteps must be > 0, got ${this.decaySteps}`);
    if (!(this.warmupSteps >= 0 && this.warmupSteps < this.decaySteps)) fail(`warmupSteps (${this.warmupSteps}) must be in [0, decaySteps = ${this.decaySteps})`);
    if (!DECAY_STYLES.includes(this.decayStyle)) fail(`unknown decayStyle '${this.decayStyle}'; use one of ${DECAY_STYLES.join(', ')}`);
    if (this.decayStyle === 'WSD') {
      if (!(this.wsdDecaySteps !== undefined && this.wsdDecaySteps > 0 && this.wsdDecaySteps <= this.decaySteps)) {
        fail(`decayStyle 'WSD' needs wsdDecaySteps in (0, decaySteps = ${this.decaySteps}], got ${this.wsdDecaySteps}`);
      }
      if (!WSD_STYLES.includes(this.wsdDecayStyle)) fail(`unknown wsdDecayStyle '${this.wsdDecayStyle}'; use one of ${WSD_STYLES.join(', ')}`);
    }
    if (!(this.startWd >= 0)) fail(`startWd must be >= 0, got ${this.startWd}`);
    if (!(this.endWd >= this.startWd)) fail(`endWd (${this.endWd}) must be >= startWd (${this.startWd})`);
    if (!WD_STYLES.includes(this.wdIncrStyle)) fail(`unknown wdIncrStyle '${this.wdIncrStyle}'; use one of ${WD_STYLES.join(', ')}`);
    if (this.wdIncrStyle === 'constant' && this.startWd !== this.endWd) fail(`wdIncrStyle 'constant' needs startWd === endWd (got ${this.startWd} and ${this.endWd})`);
    if (this.wdIncrStyle !== 'constant' && !(this.wdIncrSteps > 0)) fail(`wdIncrSteps must be > 0, got ${this.wdIncrSteps}`);
  }

  /** The weight decay at the current step (before a group's wdMult). */
  getWd(): number {
    if (this.numSteps > this.wdIncrSteps || this.wdIncrStyle === 'constant') return this.endWd;
    const ratio = this.numSteps / this.wdIncrSteps;
    const coeff = this.wdIncrStyle === 'linear' ? ratio : 0.5 * (Math.cos(Math.PI * (1 - ratio)) + 1);
    return this.startWd + coeff * (this.endWd - this.startWd);
  }

  /** The learning rate at the current step for a group (before its lrMult). */
  getLr(group: Partial<GroupSchedule> = {}): number {
    const maxLr = group.maxLr ?? this.maxLr;
    const minLr = group.minLr ?? this.minLr;
    const n = this.numSteps;
    if (this.warmupSteps > 0 && n <= this.warmupSteps) return this.initLr + ((maxLr - this.initLr) * n) / this.warmupSteps;
    if (this.decayStyle === 'constant') return maxLr;
    if (n > this.decaySteps) return minLr;
    if (this.decayStyle === 'inverse-square-root') {
      const lr = (maxLr * Math.sqrt(Math.max(this.warmupSteps, 1))) / Math.sqrt(Math.max(n, 1));
      return Math.max(minLr, lr);
    }
    const ratio = (n - this.warmupSteps) / (this.decaySteps - this.warmupSteps);
    return minLr + this.#decayCoeff(ratio) * (maxLr - minLr);
  }

  #decayCoeff(ratio: number): number {
    switch (this.decayStyle) {
      case 'linear':
        return 1 - ratio;
      case 'cosine':
        return 0.5 * (Math.cos(Math.PI * ratio) + 1);
      default: {
        // WSD: stable at maxLr, then anneal over the last wsdDecaySteps.
        const wsd = this.wsdDecaySteps as number;
        const annealStart = this.decaySteps - wsd;
        if (this.numSteps <= annealStart) return 1;
        const r = (this.numSteps - annealStart) / wsd;
        if (this.wsdDecayStyle === 'linear') return 1 - r;
        if (this.wsdDecayStyle === 'cosine') return 0.5 * (Math.cos(Math.PI * r) + 1);
        if (this.wsdDecayStyle === 'exponential') return 2 * 0.5 ** r - 1;
        return 1 - Math.sqrt(r);
      }
    }
  }

  /** Advances by `increment` steps (Megatron: the global batch size) and sets every group's lr and weight decay. */
  step(increment = 1): void {
    if (!(increment >= 0) || !Number.isFinite(increment)) throw new Error(`OptimizerParamScheduler.step: the increment must be a finite number >= 0, got ${increment}`);
    this.numSteps += increment;
    const wd = this.getWd();
    for (const g of this.optimizer.paramGroups) {
      g.lr = this.getLr(g) * (g.lrMult ?? 1);
      g.weightDecay = wd * (g.wdMult ?? 1);
    }
  }

  /** Megatron's keys, so checkpoints read the same. */
  stateDict(): Record<string, unknown> {
    return {
      max_lr: this.maxLr, lr_warmup_steps: this.warmupSteps, num_steps: this.numSteps, lr_decay_style: this.decayStyle,
      lr_decay_steps: this.decaySteps, min_lr: this.minLr, start_wd: this.startWd, end_wd: this.endWd,
      wd_incr_style: this.wdIncrStyle, wd_incr_steps: this.wdIncrSteps, init_lr: this.initLr,
      wsd_decay_steps: this.wsdDecaySteps ?? null, lr_wsd_decay_style: this.wsdDecayStyle,
    };
  }

  /**
   * Restores the schedule and its position. By default the checkpoint's values win (Megatron's
   * --use-checkpoint-opt_param-scheduler); with { override: true } this scheduler's own
   * settings are kept and only the step count is restored. Reads Megatron's older key names too.
   */
  loadStateDict(sd: Record<string, unknown>, options: { override?: boolean } = {}): void {
    if (!isRecord(sd)) throw new Error('OptimizerParamScheduler.loadStateDict: expected an object as made by stateDict()');
    const problems = new Problems();
    const pick = (...keys: string[]) => keys.map((k) => sd[k]).find((v) => v !== undefined);
    const num = (key: string, value: unknown) => (value === undefined ? undefined : checkNumber(problems, key, value, { min: 0 }));
    const numSteps = num('num_steps', pick('num_steps', 'num_iters'));
    if (numSteps === undefined && !problems.list.length) problems.add(`'num_steps' is missing`);
    const saved = {
      maxLr: num('max_lr', pick('max_lr', 'start_lr')),
      minLr: num('min_lr', sd.min_lr),
      warmupSteps: num('lr_warmup_steps', pick('lr_warmup_steps', 'warmup_steps', 'warmup_iter')),
      decaySteps: num('lr_decay_steps', pick('lr_decay_steps', 'decay_steps', 'end_iter')),
      startWd: num('start_wd', sd.start_wd),
      endWd: num('end_wd', sd.end_wd),
      wdIncrSteps: num('wd_incr_steps', sd.wd_incr_steps),
      initLr: num('init_lr', sd.init_lr),
      wsdDecaySteps: sd.wsd_decay_steps === null ? undefined : num('wsd_decay_steps', sd.wsd_decay_steps),
    };
    const style = pick('lr_decay_style', 'decay_style');
    if (style !== undefined && !DECAY_STYLES.includes(style as LrDecayStyle)) problems.add(`unknown lr_decay_style ${JSON.stringify(style)}`);
    if (sd.wd_incr_style !== undefined && !WD_STYLES.includes(sd.wd_incr_style as WdIncrStyle)) problems.add(`unknown wd_incr_style ${JSON.stringify(sd.wd_incr_style)}`);
    if (sd.lr_wsd_decay_style !== undefined && !WSD_STYLES.includes(sd.lr_wsd_decay_style as WsdDecayStyle)) problems.add(`unknown lr_wsd_decay_style ${JSON.stringify(sd.lr_wsd_decay_style)}`);
    problems.throwIfAny('OptimizerParamScheduler.loadStateDict');
    if (!options.override) {
      const before = this.stateDict();
      for (const [key, value] of Object.entries(saved)) if (value !== undefined) (this as unknown as Record<string, unknown>)[key] = value;
      if (style !== undefined) this.decayStyle = style as LrDecayStyle;
      if (sd.wd_incr_style !== undefined) this.wdIncrStyle = sd.wd_incr_style as WdIncrStyle;
      if (sd.lr_wsd_decay_style !== undefined) this.wsdDecayStyle = sd.lr_wsd_decay_style as WsdDecayStyle;
      try {
        this.#validate();
      } catch (err) {
        this.loadStateDict(before, { override: false });
        throw err;
      }
    }
    this.numSteps = 0;
    this.step(numSteps as number);
  }
}
