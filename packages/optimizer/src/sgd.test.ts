import { liveTensorCount, type Parameter } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, maxScaledDiff, param, seeded, setGrad } from '../test/helpers.ts';
import { type SgdRef, type SgdRefState, sgdRefStep } from '../test/reference.ts';
import { SGD } from './index.ts';

const CONFIGS: Array<[string, SgdRef]> = [
  ['plain', { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }],
  ['momentum + weight decay', { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0.01 }],
  ['dampening', { lr: 0.1, momentum: 0.5, dampening: 0.3, nesterov: false, weightDecay: 0 }],
  ['nesterov', { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.02 }],
];

describe('SGD against a float64 transcription of torch.optim.SGD', () => {
  for (const [name, hp] of CONFIGS) {
    it(`${name}: 10 steps within 1e-6 (relative above 1)`, () => {
      const live = liveTensorCount();
      const shapes = [[6, 4], [9]];
      const params = shapes.map((s, i) => param(seeded(s[0] as number * (s[1] ?? 1), i + 3), s));
      const opt = new SGD(params, hp);
      const refs: SgdRefState[] = params.map((p) => ({ w: p.toArray(), buf: undefined }));
      for (let step = 1; step <= 10; step++) {
        params.forEach((p, i) => {
          const g = seeded(p.numel, step * 31 + i, -3, 3);
          setGrad(p, g);
          sgdRefStep(refs[i] as SgdRefState, g, hp);
        });
        opt.step();
      }
      // fp32 against float64: weights grow to ~10 here, so the bound is relative above 1.
      params.forEach((p, i) => {
        expect(maxScaledDiff(p.toArray(), (refs[i] as SgdRefState).w)).toBeLessThan(1e-6);
      });
      if (hp.momentum > 0) {
        const buf = opt.stateOf(params[0] as Parameter)?.tensors.momentum_buffer as Parameter;
        expect(maxScaledDiff(buf.toArray(), (refs[0] as SgdRefState).buf as number[])).toBeLessThan(1e-6);
      }
      opt.dispose();
      for (const p of params) p.dispose();
      expect(liveTensorCount()).toBe(live);
    });
  }

  it('updates fp32 main weights for bf16 parameters', () => {
    const hp: SgdRef = { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 };
    const p = param(seeded(16, 5), [16], 'bf16');
    const ref: SgdRefState = { w: p.toArray(), buf: undefined };
    const opt = new SGD([p], hp);
    for (let step = 1; step <= 4; step++) {
      const g = seeded(16, step);
      setGrad(p, g);
      sgdRefStep(ref, g, hp);
      opt.step();
    }
    expect(maxAbsDiff(opt.slots[0]?.main?.toArray() as number[], ref.w)).toBeLessThan(1e-6);
    expect(maxAbsDiff(p.toArray(), ref.w)).toBeLessThan(1e-2);
    opt.dispose();
    p.dispose();
  });

  it('refuses Nesterov without momentum', () => {
    const p = param([1, 2], [2]);
    expect(() => new SGD([p], { nesterov: true })).toThrow(/Nesterov momentum needs momentum > 0/);
    p.dispose();
  });
});
