import { checkpoint, defaultGenerator, F, Generator, manualSeed, ones, Parameter, randn, scope, type Tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { offlineTp } from '../test/helpers.ts';
import { MODEL_PARALLEL_RNG, modelParallelManualSeed, RngTracker } from './random.ts';

describe('RngTracker', () => {
  it('fork draws from the named state, leaves the default generator alone, and advances the named state', () => {
    const tracker = new RngTracker('cpu');
    tracker.add('a', 11);
    manualSeed(5);
    const before = defaultGenerator('cpu').getState();
    const inside = tracker.fork(() => randn([4]).toArray(), 'a');
    expect(defaultGenerator('cpu').getState()).toEqual(before);
    expect(inside).toEqual(randn([4], { generator: new Generator(11) }).toArray());
    const next = tracker.fork(() => randn([4]).toArray(), 'a');
    expect(next).not.toEqual(inside);
    expect(tracker.getStates().a).toEqual({ seed: 11, offset: 2 });
    tracker.dispose();
  });

  it('get/setStates round-trips, and errors name the state or seed', () => {
    const tracker = new RngTracker('cpu');
    tracker.add('a', 1);
    expect(() => tracker.add('a', 2)).toThrow(/a state named 'a' already exists/);
    expect(() => tracker.add('b', 1)).toThrow(/seed 1 is already used by 'a'/);
    expect(() => tracker.fork(() => 0, 'missing')).toThrow(/no state named 'missing'; call modelParallelManualSeed/);
    const saved = tracker.getStates();
    const first = tracker.fork(() => randn([3]).toArray(), 'a');
    tracker.setStates(saved);
    expect(tracker.fork(() => randn([3]).toArray(), 'a')).toEqual(first);
    tracker.dispose();
  });

  it('modelParallelManualSeed: the default stream is shared by TP ranks, the model-parallel stream is not', () => {
    const draw = (rank: number) => {
      const tp = offlineTp(rank, 2);
      modelParallelManualSeed(1234, tp);
      const out = { dflt: randn([4]).toArray(), mp: tp.rng.fork(() => randn([4]).toArray()) };
      expect(tp.rng.getStates()[MODEL_PARALLEL_RNG]?.seed).toBe(1234 + 2718 + rank);
      tp.rng.dispose();
      return out;
    };
    const r0 = draw(0);
    const r1 = draw(1);
    expect(r1.dflt).toEqual(r0.dflt);
    expect(r1.mp).not.toEqual(r0.mp);
  });

  it('checkpoint() replays dropout drawn inside a fork, so recomputed gradients equal the stored ones', () => {
    const tp = offlineTp(0, 1);
    modelParallelManualSeed(7, tp);
    const w = new Parameter(randn([6, 6]));
    const block = (x: Tensor) => tp.rng.fork(() => F.dropout(F.linear(x, w), 0.5)).square().sum();
    const grads = (recompute: boolean) =>
      scope(() => {
        tp.rng.setStates({ [MODEL_PARALLEL_RNG]: { seed: 99, offset: 0 } });
        const x = ones([3, 6], { requiresGrad: true }); // checkpoint() needs an input that requires grad
        const loss = recompute ? checkpoint(block, x) : block(x);
        // Draw from the tracker between forward and backward: recomputation must not see it.
        tp.rng.fork(() => randn([8]));
        loss.backward();
        const g = w.grad?.toArray() ?? [];
        w.grad?.dispose();
        w.grad = null;
        return { loss: loss.item(), g };
      });
    const plain = grads(false);
    const recomputed = grads(true);
    expect(recomputed.loss).toBe(plain.loss);
    expect(recomputed.g).toEqual(plain.g);
    expect(plain.g.some((v) => v === 0)).toBe(true); // dropout did drop something
    tp.rng.dispose();
  });
});
