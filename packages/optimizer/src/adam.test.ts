import { liveTensorCount, type Parameter } from '@tessera/core';
import { afterEach, describe, expect, it } from 'vitest';
import { maxAbsDiff, param, seeded, setGrad } from '../test/helpers.ts';
import { type AdamRef, adamRefInit, adamRefStep } from '../test/reference.ts';
import { Adam, AdamW } from './index.ts';

const SHAPES = [[7, 5], [33], [4, 3, 2], [1]];

function makeParams(dtype: 'f32' | 'bf16' = 'f32'): Parameter[] {
  return SHAPES.map((shape, i) => param(seeded(shape.reduce((a, b) => a * b, 1), 10 + i), shape, dtype));
}

function gradsFor(step: number, params: Parameter[], scale = 1): number[][] {
  return params.map((p, i) => seeded(p.numel, 100 * step + i, -2, 2).map((g) => g * scale));
}

let live = 0;
afterEach(() => {
  expect(liveTensorCount()).toBe(live);
});

describe('AdamW and Adam against float64 transcriptions of torch formulas', () => {
  for (const [name, Cls, decoupled] of [['AdamW', AdamW, true], ['Adam', Adam, false]] as const) {
    it(`${name} matches over 10 steps within 1e-6 (fp32)`, () => {
      live = liveTensorCount();
      const params = makeParams();
      const hp: AdamRef = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, decoupled };
      const opt = new Cls(params, { lr: hp.lr, betas: [hp.beta1, hp.beta2], eps: hp.eps, weightDecay: hp.weightDecay });
      const refs = params.map((p) => adamRefInit(p.toArray()));
      for (let step = 1; step <= 10; step++) {
        const grads = gradsFor(step, params);
        params.forEach((p, i) => {
          setGrad(p, grads[i] as number[]);
        });
        opt.step();
        refs.forEach((r, i) => {
          adamRefStep(r, grads[i] as number[], hp);
        });
        params.forEach((p, i) => {
          expect(maxAbsDiff(p.toArray(), (refs[i] as { w: number[] }).w), `${name} param ${i} step ${step}`).toBeLessThan(1e-6);
        });
      }
      const st = opt.stateOf(params[0] as Parameter);
      expect(st?.step).toBe(10);
      expect(maxAbsDiff((st!.tensors.exp_avg as Parameter).toArray(), (refs[0] as { m: number[] }).m)).toBeLessThan(1e-6);
      opt.dispose();
      for (const p of params) p.dispose();
    });
  }

  it('keeps fp32 main weights for bf16 parameters and writes their rounded copy', () => {
    live = liveTensorCount();
    const params = makeParams('bf16');
    const hp: AdamRef = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true };
    const opt = new AdamW(params, { lr: hp.lr, weightDecay: hp.weightDecay });
    const refs = params.map((p) => adamRefInit(p.toArray()));
    for (let step = 1; step <= 5; step++) {
      const grads = gradsFor(step, params);
      params.forEach((p, i) => {
        setGrad(p, grads[i] as number[]);
      });
      opt.step();
      refs.forEach((r, i) => {
        adamRefStep(r, grads[i] as number[], hp);
      });
    }
    params.forEach((p, i) => {
      const slot = opt.slots[i];
      const main = slot?.main?.toArray() as number[];
      const ref = (refs[i] as { w: number[] }).w;
      // The main weights follow the fp32 update exactly; the model weights are their bf16 rounding.
      expect(maxAbsDiff(main, ref)).toBeLessThan(1e-6);
      const rounded = slot?.main?.to('bf16');
      expect(p.toArray()).toEqual(rounded?.toArray());
      rounded?.dispose();
      expect(p.dtype).toBe('bf16');
    });
    opt.dispose();
    for (const p of params) p.dispose();
  });

  it('unscales and clips through gradScale exactly like dividing the gradients', () => {
    live = liveTensorCount();
    const a = makeParams();
    const b = makeParams();
    const optA = new AdamW(a, { lr: 0.01 });
    const optB = new AdamW(b, { lr: 0.01 });
    for (let step = 1; step <= 3; step++) {
      const grads = gradsFor(step, a);
      a.forEach((p, i) => {
        setGrad(p, (grads[i] as number[]).map((g) => g * 1024));
      });
      b.forEach((p, i) => {
        setGrad(p, (grads[i] as number[]).map((g) => g * 0.25));
      });
      optA.step({ gradScale: 0.25 / 1024 });
      optB.step();
    }
    a.forEach((p, i) => {
      expect(maxAbsDiff(p.toArray(), (b[i] as Parameter).toArray())).toBeLessThan(1e-7);
    });
    optA.dispose();
    optB.dispose();
    for (const p of [...a, ...b]) p.dispose();
  });

  it('skips parameters without a gradient (their step count stays)', () => {
    live = liveTensorCount();
    const params = makeParams();
    const before = (params[1] as Parameter).toArray();
    const opt = new AdamW(params, { lr: 0.1 });
    params.forEach((p, i) => {
      if (i !== 1) setGrad(p, seeded(p.numel, i));
    });
    opt.step();
    expect((params[1] as Parameter).toArray()).toEqual(before);
    expect(opt.stateOf(params[1] as Parameter)?.step).toBe(0);
    expect(opt.stateOf(params[0] as Parameter)?.step).toBe(1);
    opt.zeroGrad();
    expect((params[0] as Parameter).grad).toBeNull();
    opt.dispose();
    for (const p of params) p.dispose();
  });

  it('applies per-group hyperparameters', () => {
    live = liveTensorCount();
    const all = makeParams();
    const [p0, p1] = all;
    const opt = new AdamW([{ params: [p0 as Parameter], lr: 0.1, weightDecay: 0 }, { params: [p1 as Parameter], lr: 0.01, weightDecay: 0.5 }], { lr: 1 });
    const refs = [p0, p1].map((p) => adamRefInit((p as Parameter).toArray()));
    const hps: AdamRef[] = [
      { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true },
      { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decoupled: true },
    ];
    for (let step = 1; step <= 3; step++) {
      [p0, p1].forEach((p, i) => {
        const g = seeded((p as Parameter).numel, step * 7 + i);
        setGrad(p as Parameter, g);
        adamRefStep(refs[i] as ReturnType<typeof adamRefInit>, g, hps[i] as AdamRef);
      });
      opt.step();
    }
    [p0, p1].forEach((p, i) => {
      expect(maxAbsDiff((p as Parameter).toArray(), (refs[i] as { w: number[] }).w)).toBeLessThan(1e-6);
    });
    opt.dispose();
    for (const p of all) p.dispose();
  });

  it('refuses bad hyperparameters and duplicate parameters clearly', () => {
    live = liveTensorCount();
    const all = makeParams();
    const p = all[0] as Parameter;
    expect(() => new AdamW([p], { betas: [1, 0.9] })).toThrow(/betas must be in \[0, 1\)/);
    expect(() => new AdamW([p], { lr: -1 })).toThrow(/lr must be >= 0/);
    expect(() => new AdamW([{ params: [p] }, { params: [p] }])).toThrow(/appears more than once/);
    for (const q of all) q.dispose();
  });
});
