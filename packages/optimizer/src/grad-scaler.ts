// Loss scaling for fp16 training, as Megatron's grad scalers: the loss is multiplied by `scale`
// before backward so small fp16 gradients do not flush to zero, and gradients are divided by it
// before the update. The dynamic scaler halves the scale after `hysteresis` overflowing steps in a
// row and doubles it after `growthInterval` clean steps.
import { checkNumber, isRecord, Problems } from './state-check.ts';

export interface GradScaler {
  /** The current loss scale. */
  readonly scale: number;
  /** Records whether this step's gradients overflowed (inf/NaN). */
  update(foundInf: boolean): void;
  stateDict(): Record<string, number>;
  loadStateDict(sd: Record<string, unknown>): void;
}

/** A fixed loss scale (Megatron's --loss-scale). */
export class ConstantGradScaler implements GradScaler {
  readonly scale: number;
  constructor(scale: number) {
    if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`ConstantGradScaler: the scale must be a positive finite number, got ${scale}`);
    this.scale = scale;
  }
  update(): void {}
  stateDict(): Record<string, number> {
    return {};
  }
  loadStateDict(): void {}
}

export interface DynamicGradScalerOptions {
  /** Default 2^32 (--initial-loss-scale). */
  initialScale?: number;
  /** Default 1 (--min-loss-scale). */
  minScale?: number;
  /** Default 2. */
  growthFactor?: number;
  /** Default 0.5. */
  backoffFactor?: number;
  /** Clean steps before growing (default 1000, --loss-scale-window). */
  growthInterval?: number;
  /** Overflowing steps in a row before backing off (default 2, --hysteresis). */
  hysteresis?: number;
}

export class DynamicGradScaler implements GradScaler {
  readonly minScale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly hysteresis: number;
  #scale: number;
  #growthTracker = 0;
  #hysteresisTracker: number;

  constructor(options: DynamicGradScalerOptions = {}) {
    const initial = options.initialScale ?? 2 ** 32;
    this.minScale = options.minScale ?? 1;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 1000;
    this.hysteresis = options.hysteresis ?? 2;
    const bad = (what: string, v: number) => new Error(`DynamicGradScaler: ${what}, got ${v}`);
    if (!(initial > 0) || !Number.isFinite(initial)) throw bad('initialScale must be a positive finite number', initial);
    if (!(this.minScale > 0) || this.minScale > initial) throw bad(`minScale must be in (0, initialScale = ${initial}]`, this.minScale);
    if (!(this.growthFactor > 1)) throw bad('growthFactor must be > 1', this.growthFactor);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) throw bad('backoffFactor must be in (0, 1)', this.backoffFactor);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) throw bad('growthInterval must be a positive integer', this.growthInterval);
    if (!Number.isInteger(this.hysteresis) || this.hysteresis < 1) throw bad('hysteresis must be a positive integer', this.hysteresis);
    this.#scale = Math.fround(initial);
    this.#hysteresisTracker = this.hysteresis;
  }

  get scale(): number {
    return this.#scale;
  }

  update(foundInf: boolean): void {
    if (foundInf) {
      this.#growthTracker = 0;
      this.#hysteresisTracker -= 1;
      if (this.#hysteresisTracker <= 0) this.#scale = Math.max(Math.fround(this.#scale * this.backoffFactor), this.minScale);
    } else {
      this.#growthTracker += 1;
      if (this.#growthTracker === this.growthInterval) {
        this.#growthTracker = 0;
        this.#hysteresisTracker = this.hysteresis;
        this.#scale = Math.fround(this.#scale * this.growthFactor);
      }
    }
  }

  /** Megatron's keys: scale, growth_tracker, hysteresis_tracker. */
  stateDict(): Record<string, number> {
    return { scale: this.#scale, growth_tracker: this.#growthTracker, hysteresis_tracker: this.#hysteresisTracker };
  }

  loadStateDict(sd: Record<string, unknown>): void {
    const problems = new Problems();
    if (!isRecord(sd)) throw new Error(`DynamicGradScaler.loadStateDict: expected { scale, growth_tracker, hysteresis_tracker }, got ${typeof sd}`);
    const scale = checkNumber(problems, 'scale', sd.scale);
    if (scale !== undefined && !(scale > 0)) problems.add(`'scale' must be positive, got ${scale}`);
    const growth = checkNumber(problems, 'growth_tracker', sd.growth_tracker, { integer: true, min: 0 });
    const hyst = checkNumber(problems, 'hysteresis_tracker', sd.hysteresis_tracker, { integer: true });
    for (const key of Object.keys(sd)) if (!['scale', 'growth_tracker', 'hysteresis_tracker'].includes(key)) problems.add(`unknown key '${key}'`);
    problems.throwIfAny('DynamicGradScaler.loadStateDict');
    this.#scale = scale as number;
    this.#growthTracker = growth as number;
    this.#hysteresisTracker = hyst as number;
  }
}
