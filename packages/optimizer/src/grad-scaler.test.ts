import type { Parameter } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, param, seeded, setGrad } from '../test/helpers.ts';
import { AdamW, ConstantGradScaler, DynamicGradScaler, MixedPrecisionOptimizer } from './index.ts';

describe('DynamicGradScaler (Megatron semantics)', () => {
  it('starts at 2^32, backs off only after `hysteresis` overflows in a row, and keeps backing off', () => {
    const s = new DynamicGradScaler();
    expect(s.scale).toBe(2 ** 32);
    s.update(true);
    expect(s.scale).toBe(2 ** 32); // hysteresis 2: the first overflow is tolerated
    s.update(true);
    expect(s.scale).toBe(2 ** 31);
    s.update(true);
    expect(s.scale).toBe(2 ** 30); // the tracker stays exhausted until the next growth
    s.update(false);
    s.update(true);
    expect(s.scale).toBe(2 ** 29);
  });

  it('grows x2 after growthInterval clean steps, which also resets the hysteresis', () => {
    const s = new DynamicGradScaler({ initialScale: 1024, growthInterval: 3 });
    s.update(true);
    s.update(false);
    s.update(false);
    expect(s.scale).toBe(1024);
    s.update(false);
    expect(s.scale).toBe(2048);
    s.update(true);
    expect(s.scale).toBe(2048); // hysteresis back at 2
    s.update(true);
    expect(s.scale).toBe(1024);
    expect(s.stateDict()).toEqual({ scale: 1024, growth_tracker: 0, hysteresis_tracker: 0 });
  });

  it('never goes below minScale, and round-trips its state', () => {
    const s = new DynamicGradScaler({ initialScale: 4, minScale: 2, hysteresis: 1 });
    for (let i = 0; i < 5; i++) s.update(true);
    expect(s.scale).toBe(2);
    const t = new DynamicGradScaler();
    t.loadStateDict(s.stateDict());
    expect(t.stateDict()).toEqual(s.stateDict());
    expect(() => t.loadStateDict({ scale: -1, growth_tracker: 0.5, hysteresis_tracker: 1, extra: 1 })).toThrow(/'scale' must be positive[\s\S]*growth_tracker' must be an integer[\s\S]*unknown key 'extra'/);
    expect(() => new DynamicGradScaler({ backoffFactor: 2 })).toThrow(/backoffFactor must be in \(0, 1\)/);
    expect(() => new ConstantGradScaler(0)).toThrow(/positive finite/);
  });
});

describe('MixedPrecisionOptimizer', () => {
  it('skips the step on an injected inf, says so, backs off the scale, and trains when the gradients are finite', async () => {
    const ps = [param(seeded(8, 1), [8], 'f16'), param(seeded(3, 2), [3], 'f16')];
    const scaler = new DynamicGradScaler({ initialScale: 2 ** 16, hysteresis: 1 });
    const logs: string[] = [];
    const opt = new MixedPrecisionOptimizer(new AdamW(ps, { lr: 0.01 }), { gradScaler: scaler, log: (m) => logs.push(m) });
    const before = ps.map((p) => p.toArray());
    setGrad(ps[0] as Parameter, seeded(8, 3));
    setGrad(ps[1] as Parameter, [1, Number.POSITIVE_INFINITY, 2]);
    const skipped = await opt.step();
    expect(skipped).toEqual({ updated: false, gradNorm: Number.NaN, lossScale: 2 ** 16 });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/found inf\/NaN in the gradients, skipping this step; the loss scale goes from 65536 to 32768/);
    expect(scaler.scale).toBe(2 ** 15);
    ps.forEach((p, i) => {
      expect(p.toArray()).toEqual(before[i]);
    });
    expect(opt.optimizer.stateOf(ps[0] as Parameter)?.step).toBe(0);

    const g = [seeded(8, 4), seeded(3, 5)];
    ps.forEach((p, i) => {
      setGrad(p, (g[i] as number[]).map((x) => x * scaler.scale));
    });
    const done = await opt.step();
    expect(done.updated).toBe(true);
    expect(done.lossScale).toBe(2 ** 15);
    const norm = Math.sqrt(g.flat().reduce((a, x) => a + x * x, 0));
    expect(done.gradNorm).toBeCloseTo(norm, 5);
    expect(opt.optimizer.stateOf(ps[0] as Parameter)?.step).toBe(1);
    expect(ps[0]?.toArray()).not.toEqual(before[0]);
    opt.dispose();
    for (const p of ps) p.dispose();
  });

  it('clips by the global norm: the update equals AdamW on gradients scaled by maxNorm / (norm + 1e-6)', async () => {
    const mk = () => [param(seeded(6, 1), [6]), param(seeded(4, 2), [2, 2])];
    const a = mk();
    const b = mk();
    const g = [seeded(6, 7, -5, 5), seeded(4, 8, -5, 5)];
    const norm = Math.sqrt(g.flat().reduce((s, x) => s + x * x, 0));
    const coef = 0.5 / (norm + 1e-6);
    const clipped = new MixedPrecisionOptimizer(new AdamW(a, { lr: 0.1, weightDecay: 0 }), { clipGrad: 0.5 });
    const plain = new AdamW(b, { lr: 0.1, weightDecay: 0 });
    a.forEach((p, i) => {
      setGrad(p, g[i] as number[]);
    });
    b.forEach((p, i) => {
      setGrad(p, (g[i] as number[]).map((x) => x * coef));
    });
    const r = await clipped.step();
    plain.step();
    expect(r.gradNorm).toBeCloseTo(norm, 5);
    a.forEach((p, i) => {
      expect(maxAbsDiff(p.toArray(), (b[i] as Parameter).toArray())).toBeLessThan(1e-6);
    });
    // The state dict carries the scaler's state along with the optimizer's.
    const withScaler = new MixedPrecisionOptimizer(new AdamW(mk(), {}), { gradScaler: new DynamicGradScaler() });
    expect(() => withScaler.loadStateDict(clipped.stateDict())).toThrow(/has a loss scaler but the state dict has no grad_scaler/);
    for (const o of [clipped, withScaler]) {
      for (const s of o.optimizer.slots) s.param.dispose();
      o.dispose();
    }
    plain.dispose();
    for (const p of b) p.dispose();
  });
});
