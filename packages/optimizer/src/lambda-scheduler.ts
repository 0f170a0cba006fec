// A schedule given as any function of the step: lr = fn(step) for every group (times its lrMult).
// Nothing about the function is checked in advance, so any custom schedule works; only a value
// that is not a finite number is reported, with the step that produced it.
import type { HasParamGroups } from './scheduler.ts';
import { checkNumber, isRecord, Problems } from './state-check.ts';

export class LambdaScheduler {
  readonly optimizer: HasParamGroups;
  readonly fn: (step: number) => number;
  numSteps = 0;

  constructor(optimizer: HasParamGroups, fn: (step: number) => number) {
    if (typeof fn !== 'function') throw new TypeError('LambdaScheduler: expected a function step => lr');
    this.optimizer = optimizer;
    this.fn = fn;
    this.step(0);
  }

  get lr(): number {
    const lr = this.fn(this.numSteps);
    if (typeof lr !== 'number' || !Number.isFinite(lr)) {
      throw new Error(`LambdaScheduler: the schedule returned ${String(lr)} at step ${this.numSteps}; it must return a finite number`);
    }
    return lr;
  }

  step(increment = 1): void {
    this.numSteps += increment;
    const lr = this.lr;
    for (const g of this.optimizer.paramGroups) g.lr = lr * (g.lrMult ?? 1);
  }

  stateDict(): Record<string, unknown> {
    return { num_steps: this.numSteps };
  }

  loadStateDict(sd: Record<string, unknown>): void {
    const problems = new Problems();
    const n = isRecord(sd) ? checkNumber(problems, 'num_steps', sd.num_steps, { min: 0 }) : undefined;
    if (!isRecord(sd)) problems.add('expected { num_steps }');
    problems.throwIfAny('LambdaScheduler.loadStateDict');
    this.numSteps = 0;
    this.step(n as number);
  }
}
