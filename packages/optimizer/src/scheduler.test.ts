// Expected values are worked out by hand from Megatron's OptimizerParamScheduler formulas.
import { describe, expect, it } from 'vitest';
import { LambdaScheduler, megatronScheduleSteps, OptimizerParamScheduler, type SchedulerOptions } from './index.ts';

function groups(...extra: Array<Record<string, number>>) {
  return { paramGroups: extra.map((e) => ({ lr: 0, weightDecay: 0, lrMult: 1, wdMult: 1, ...e })) };
}

function lrAt(options: SchedulerOptions, steps: number[]): number[] {
  const opt = groups({});
  const s = new OptimizerParamScheduler(opt, options);
  let at = 0;
  return steps.map((n) => {
    s.step(n - at);
    at = n;
    return opt.paramGroups[0]?.lr as number;
  });
}

const base = { maxLr: 1e-3, minLr: 1e-5, warmupSteps: 100, decaySteps: 1100 };

describe('OptimizerParamScheduler (Megatron formulas)', () => {
  it('warms up linearly from initLr', () => {
    expect(lrAt({ ...base, initLr: 1e-4, decayStyle: 'cosine' }, [0, 50, 100])).toEqual([1e-4, 1e-4 + 0.5 * 9e-4, 1e-3]);
  });

  it('linear decay', () => {
    // ratio = (n - 100) / 1000; lr = min + (1 - ratio)(max - min)
    const [a, b, c, d] = lrAt({ ...base, decayStyle: 'linear' }, [350, 600, 1100, 5000]);
    expect(a).toBeCloseTo(1e-5 + 0.75 * 9.9e-4, 15);
    expect(b).toBeCloseTo(1e-5 + 0.5 * 9.9e-4, 15);
    expect(c).toBeCloseTo(1e-5, 15);
    expect(d).toBe(1e-5);
  });

  it('cosine decay', () => {
    // ratio 0.25: coeff = (cos(pi/4) + 1) / 2; ratio 0.5: 1/2
    const [a, b] = lrAt({ ...base, decayStyle: 'cosine' }, [350, 600]);
    expect(a).toBeCloseTo(1e-5 + ((Math.SQRT1_2 + 1) / 2) * 9.9e-4, 15);
    expect(b).toBeCloseTo(1e-5 + 0.5 * 9.9e-4, 15);
  });

  it('constant after warmup, and inverse-square-root', () => {
    expect(lrAt({ ...base, decayStyle: 'constant' }, [50, 500, 2000])).toEqual([5e-4, 1e-3, 1e-3]);
    // lr = max * sqrt(warmup) / sqrt(n), floored at min
    const [a, b] = lrAt({ ...base, decayStyle: 'inverse-square-root' }, [400, 1100]);
    expect(a).toBeCloseTo(1e-3 * 10 / 20, 15);
    expect(b).toBeCloseTo((1e-3 * 10) / Math.sqrt(1100), 15);
  });

  it('WSD: stable, then the chosen anneal over the last wsdDecaySteps', () => {
    const wsd = (style: 'linear' | 'cosine' | 'exponential' | 'minus_sqrt') =>
      lrAt({ ...base, decayStyle: 'WSD', wsdDecaySteps: 200, wsdDecayStyle: style }, [500, 900, 1000]);
    const at = (coeff: number) => 1e-5 + coeff * 9.9e-4;
    expect(wsd('linear')).toEqual([1e-3, 1e-3, at(0.5)]);
    expect(wsd('cosine')[2]).toBeCloseTo(at(0.5), 15);
    expect(wsd('exponential')[2]).toBeCloseTo(at(2 * Math.SQRT1_2 - 1), 15);
    expect(wsd('minus_sqrt')[2]).toBeCloseTo(at(1 - Math.SQRT1_2), 15);
  });

  it('weight decay increments (linear, cosine) and per-group multipliers and overrides', () => {
    const opt = groups({ wdMult: 0 }, { lrMult: 0.5 }, { maxLr: 2e-3, minLr: 0 });
    const s = new OptimizerParamScheduler(opt, { ...base, decayStyle: 'linear', startWd: 0.01, endWd: 0.1, wdIncrSteps: 1000, wdIncrStyle: 'linear' });
    s.step(600);
    const [g0, g1, g2] = opt.paramGroups as unknown as [{ lr: number; weightDecay: number }, { lr: number; weightDecay: number }, { lr: number; weightDecay: number }];
    expect(g0.weightDecay).toBe(0);
    expect(g1.weightDecay).toBeCloseTo(0.01 + 0.6 * 0.09, 15);
    expect(g1.lr).toBeCloseTo(0.5 * (1e-5 + 0.5 * 9.9e-4), 15);
    expect(g2.lr).toBeCloseTo(0.5 * 2e-3, 15);
    const c = new OptimizerParamScheduler(groups({}), { ...base, decayStyle: 'linear', startWd: 0, endWd: 0.1, wdIncrSteps: 1000, wdIncrStyle: 'cosine' });
    c.step(250);
    expect(c.getWd()).toBeCloseTo(0.1 * 0.5 * (Math.cos(Math.PI * 0.75) + 1), 15);
    c.step(10_000);
    expect(c.getWd()).toBe(0.1);
  });

  it('refuses inconsistent settings with Megatron’s checks, stated clearly', () => {
    expect(() => new OptimizerParamScheduler(groups({}), { maxLr: 1, minLr: 2, decaySteps: 10, decayStyle: 'linear' })).toThrow(/maxLr \(1\) must be >= minLr \(2\)/);
    expect(() => new OptimizerParamScheduler(groups({}), { maxLr: 1, warmupSteps: 10, decaySteps: 10, decayStyle: 'linear' })).toThrow(/warmupSteps \(10\) must be in \[0, decaySteps = 10\)/);
    expect(() => new OptimizerParamScheduler(groups({}), { maxLr: 1, decaySteps: 10, decayStyle: 'WSD' })).toThrow(/WSD' needs wsdDecaySteps/);
    expect(() => new OptimizerParamScheduler(groups({}), { maxLr: 1, decaySteps: 10, decayStyle: 'exp' as 'linear' })).toThrow(/unknown decayStyle 'exp'/);
  });

  it('state dict: Megatron keys, exact resume, and older key names', () => {
    const a = new OptimizerParamScheduler(groups({}), { ...base, decayStyle: 'cosine' });
    a.step(321);
    const sd = a.stateDict();
    expect(sd).toMatchObject({ max_lr: 1e-3, min_lr: 1e-5, lr_warmup_steps: 100, lr_decay_steps: 1100, num_steps: 321, lr_decay_style: 'cosine' });
    const opt = groups({});
    const b = new OptimizerParamScheduler(opt, { maxLr: 5, decaySteps: 7, decayStyle: 'linear' });
    b.loadStateDict(sd);
    expect(b.numSteps).toBe(321);
    expect(opt.paramGroups[0]?.lr).toBe(a.getLr());
    const c = new OptimizerParamScheduler(groups({}), { maxLr: 5, decaySteps: 7000, decayStyle: 'linear' });
    c.loadStateDict({ start_lr: 1e-3, min_lr: 0, warmup_iter: 10, end_iter: 100, decay_style: 'linear', num_iters: 55 });
    expect(c.getLr()).toBeCloseTo(1e-3 * 0.5, 15);
    const keep = new OptimizerParamScheduler(groups({}), { maxLr: 5, decaySteps: 7000, decayStyle: 'linear' });
    keep.loadStateDict(sd, { override: true });
    expect(keep.maxLr).toBe(5);
    expect(keep.numSteps).toBe(321);
    expect(() => c.loadStateDict({ num_steps: -1 })).toThrow(/num_steps' must be at least 0/);
  });

  it('megatronScheduleSteps converts iterations to samples like Megatron', () => {
    expect(megatronScheduleSteps({ globalBatchSize: 8, trainIters: 1000, lrWarmupIters: 10, lrDecayIters: 800 })).toEqual({ warmupSteps: 80, decaySteps: 6400, wdIncrSteps: 8000, wsdDecaySteps: undefined });
    expect(megatronScheduleSteps({ globalBatchSize: 8, trainIters: 1000, lrWarmupFraction: 0.01, lrWsdDecayIters: 100 })).toEqual({ warmupSteps: 80, decaySteps: 8000, wdIncrSteps: 8000, wsdDecaySteps: 800 });
    expect(megatronScheduleSteps({ globalBatchSize: 8, trainSamples: 5000, lrWarmupSamples: 50 })).toEqual({ warmupSteps: 50, decaySteps: 5000, wdIncrSteps: 5000, wsdDecaySteps: undefined });
    expect(() => megatronScheduleSteps({ globalBatchSize: 8 })).toThrow(/exactly one of trainIters/);
  });
});

describe('LambdaScheduler', () => {
  it('accepts any function of the step, applies lrMult, and reports non-numbers with their step', () => {
    const opt = groups({}, { lrMult: 2 });
    const s = new LambdaScheduler(opt, (n) => (n < 3 ? 0.1 * (n + 1) : 0.05 * Math.sin(n)));
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.2]);
    s.step();
    s.step();
    expect(opt.paramGroups[0]?.lr).toBeCloseTo(0.3, 15);
    s.step();
    expect(opt.paramGroups[1]?.lr).toBeCloseTo(0.1 * Math.sin(3), 15);
    const r = new LambdaScheduler(groups({}), () => 1);
    r.loadStateDict(s.stateDict());
    expect(r.numSteps).toBe(3);
    expect(() => new LambdaScheduler(groups({}), (n) => (n > 1 ? Number.NaN : 1)).step(2)).toThrow(/returned NaN at step 2/);
  });
});
