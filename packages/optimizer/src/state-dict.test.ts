import { noGrad, type Parameter, type Tensor, tensor, zeros } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { param, seeded, setGrad } from '../test/helpers.ts';
import { AdamW, type OptimizerStateDict, SGD } from './index.ts';

function params(dtype: 'f32' | 'bf16' = 'f32'): Parameter[] {
  return [param(seeded(12, 1), [3, 4], dtype), param(seeded(5, 2), [5], dtype)];
}

function train(opt: { step(): void }, ps: Parameter[], from: number, to: number): void {
  for (let s = from; s < to; s++) {
    ps.forEach((p, i) => {
      setGrad(p, seeded(p.numel, 40 + 10 * s + i));
    });
    opt.step();
  }
}

/** A deep copy of a state dict (tensors cloned), as a checkpoint would hold it. */
function snapshot(sd: OptimizerStateDict): OptimizerStateDict {
  const state: OptimizerStateDict['state'] = {};
  for (const [k, entry] of Object.entries(sd.state)) {
    state[k] = Object.fromEntries(Object.entries(entry).map(([key, v]) => [key, typeof v === 'number' ? v : noGrad(() => (v as Tensor).clone())]));
  }
  return { state, param_groups: structuredClone(sd.param_groups) };
}

function disposeSnapshot(sd: OptimizerStateDict): void {
  for (const entry of Object.values(sd.state)) for (const v of Object.values(entry)) if (typeof v !== 'number') v.dispose();
}

describe('optimizer state dicts', () => {
  for (const dtype of ['f32', 'bf16'] as const) {
    it(`resume from a state dict continues exactly (${dtype} params)`, () => {
      const a = params(dtype);
      const optA = new AdamW(a, { lr: 0.01, weightDecay: 0.1 });
      train(optA, a, 0, 6);
      const b = params(dtype);
      const optB = new AdamW(b, { lr: 0.5 });
      train(optB, b, 0, 3);
      const saved = snapshot(optA.stateDict());
      b.forEach((p, i) => {
        noGrad(() => p.copy_(a[i] as Parameter));
      });
      optB.loadStateDict(saved);
      expect(optB.paramGroups[0]?.lr).toBe(0.01);
      expect(optB.stateOf(b[0] as Parameter)?.step).toBe(6);
      train(optA, a, 6, 9);
      train(optB, b, 6, 9);
      a.forEach((p, i) => {
        expect((b[i] as Parameter).toArray()).toEqual(p.toArray());
      });
      disposeSnapshot(saved);
      optA.dispose();
      optB.dispose();
      for (const p of [...a, ...b]) p.dispose();
    });
  }

  it('refuses wrong shapes, unknown keys, missing keys and wrong group sizes, listing every problem and changing nothing', () => {
    const ps = params();
    const opt = new AdamW(ps, { lr: 0.01 });
    train(opt, ps, 0, 2);
    const good = snapshot(opt.stateDict());
    const before = (opt.stateOf(ps[0] as Parameter)!.tensors.exp_avg as Tensor).toArray();

    const bad = snapshot(opt.stateDict());
    const e0 = bad.state['0'] as Record<string, Tensor | number>;
    (e0.exp_avg as Tensor).dispose();
    e0.exp_avg = zeros([4, 3]);
    e0.surprise = 1;
    delete (bad.state['1'] as Record<string, unknown>).exp_avg_sq;
    bad.state['7'] = { step: 1 };
    let message = '';
    try {
      opt.loadStateDict(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/state\['0'\]\.exp_avg' has shape \[4, 3\], this optimizer expects \[3, 4\]/);
    expect(message).toMatch(/state\['0'\] has an unknown key 'surprise'/);
    expect(message).toMatch(/state\['1'\] lacks 'exp_avg_sq'/);
    expect(message).toMatch(/state\['7'\] belongs to no parameter/);
    expect(message).toMatch(/Nothing was loaded/);
    expect((opt.stateOf(ps[0] as Parameter)!.tensors.exp_avg as Tensor).toArray()).toEqual(before);

    const renamed = snapshot(opt.stateDict());
    renamed.param_groups[0] = { ...renamed.param_groups[0], param_names: ['a', 'b'] } as OptimizerStateDict['param_groups'][0];
    const named = [param(seeded(12, 1), [3, 4]), param(seeded(5, 2), [5])];
    const namedOpt = new AdamW([{ params: named, names: ['x', 'b'] }]);
    expect(() => namedOpt.loadStateDict(renamed)).toThrow(/param_groups\[0\] entry 0 is 'a' in the state dict but 'x' here/);
    namedOpt.dispose();
    for (const p of named) p.dispose();
    disposeSnapshot(renamed);

    const fewer = { ...good, param_groups: [{ ...good.param_groups[0], params: [0] }] } as OptimizerStateDict;
    expect(() => opt.loadStateDict(fewer)).toThrow(/param_groups\[0\] has 1 parameter\(s\), this optimizer's group 0 has 2/);
    expect(() => opt.loadStateDict({ ...good, param_groups: [] })).toThrow(/has 0 parameter group\(s\), this optimizer has 1/);
    expect(() => opt.loadStateDict({ state: {} } as unknown as OptimizerStateDict)).toThrow(/expected \{ state, param_groups \}/);
    const badHyper = snapshot(opt.stateDict());
    (badHyper.param_groups[0] as Record<string, unknown>).betas = [0.9];
    (badHyper.param_groups[0] as Record<string, unknown>).lr = 'fast';
    expect(() => opt.loadStateDict(badHyper)).toThrow(/betas must be two numbers.*\n.*|lr' must be a finite number/s);
    for (const sd of [bad, good, badHyper]) disposeSnapshot(sd);
    opt.dispose();
    for (const p of ps) p.dispose();
  });

  it('needs main_param for bf16 parameters and refuses it for fp32 ones', () => {
    const bf = params('bf16');
    const optBf = new AdamW(bf);
    const f = params('f32');
    const optF = new AdamW(f);
    const sdBf = snapshot(optBf.stateDict());
    const sdF = snapshot(optF.stateDict());
    expect(() => optF.loadStateDict(sdBf)).toThrow(/has 'main_param' but .*keeps no main weights/);
    expect(() => optBf.loadStateDict(sdF)).toThrow(/lacks 'main_param'/);
    for (const sd of [sdBf, sdF]) disposeSnapshot(sd);
    optBf.dispose();
    optF.dispose();
    for (const p of [...bf, ...f]) p.dispose();
  });

  it('SGD saves its momentum buffer once it exists and loads either form', () => {
    const ps = params();
    const opt = new SGD(ps, { lr: 0.1, momentum: 0.9 });
    expect(Object.keys(opt.stateDict().state['0'] as object)).toEqual(['step']);
    train(opt, ps, 0, 2);
    const saved = snapshot(opt.stateDict());
    expect(Object.keys(saved.state['0'] as object).sort()).toEqual(['momentum_buffer', 'step']);
    const qs = params();
    const opt2 = new SGD(qs, { lr: 0.1, momentum: 0.9 });
    opt2.loadStateDict(saved);
    expect((opt2.stateOf(qs[0] as Parameter)!.tensors.momentum_buffer as Tensor).toArray()).toEqual(
      (opt.stateOf(ps[0] as Parameter)!.tensors.momentum_buffer as Tensor).toArray(),
    );
    const wrong = snapshot(opt.stateDict());
    const e = wrong.state['1'] as Record<string, Tensor | number>;
    (e.momentum_buffer as Tensor).dispose();
    e.momentum_buffer = tensor([1, 2]);
    expect(() => opt2.loadStateDict(wrong)).toThrow(/momentum_buffer' has shape \[2\], this optimizer expects \[5\]/);
    for (const sd of [saved, wrong]) disposeSnapshot(sd);
    opt.dispose();
    opt2.dispose();
    for (const p of [...ps, ...qs]) p.dispose();
  });
});
