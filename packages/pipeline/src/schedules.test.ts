// The schedules on one stage (no processes): gradient accumulation over micro-batches equals one
// backward over their mean, the data-parallel sync is held back until the last backward, losses
// come back averaged, failures name the step, and nothing leaks.
import { liveTensorCount, type Parameter, scope, type Tensor, tensor } from '@tessera/core';
import { GPTModel } from '@tessera/models';
import { describe, expect, it } from 'vitest';
import { type Batch, batches, CONFIGS, gptForwardStep, maxAbsDiff, microBatch } from '../test/gpt.ts';
import { PipelineError } from './errors.ts';
import { releaseTensorData } from './release.ts';
import { forwardBackwardNoPipelining } from './schedules.ts';
import type { ScheduleEvent } from './types.ts';

const config = { ...(CONFIGS.gpt2 as (typeof CONFIGS)['gpt2']), numLayers: 2 };

describe('no pipelining', () => {
  it('accumulates gradients over micro-batches, syncing only in the last backward, and returns the mean loss', () => {
    const model = new GPTModel(config, { seed: 3 });
    const ref = new GPTModel(config, { seed: 3 });
    const m = 3;
    const events: ScheduleEvent[] = [];
    const before = liveTensorCount();
    const res = forwardBackwardNoPipelining<GPTModel, Batch>({
      forwardStep: (data, mdl, info) => {
        const out = gptForwardStep(data, mdl, info);
        return { output: out.output, lossFunc: (o) => ({ loss: o.mean(), report: { tokens: o.numel } }) };
      },
      dataIterator: batches(config, 0, m),
      model,
      numMicroBatches: m,
      config: { trace: (e) => events.push(e) },
    });
    const refLosses = scope(() => {
      const losses = Array.from({ length: m }, (_, i) => {
        const b = microBatch(config, 0, i);
        return ref.forward(b.ids, { labels: b.labels }).mean();
      });
      losses.reduce((a, b) => a.add(b)).div(m).backward();
      return losses.map((l) => l.item());
    });
    expect(res?.losses).toEqual(refLosses);
    expect(res?.loss).toBeCloseTo(refLosses.reduce((a, b) => a + b) / m, 6);
    expect(res?.reports).toEqual([{ tokens: 32 }, { tokens: 32 }, { tokens: 32 }]);
    expect(events.filter((e) => e.type !== 'comm').map((e) => e.type[0])).toEqual(['f', 'b', 'f', 'b', 'f', 'b']);
    const refGrads = Object.fromEntries(ref.namedParameters()) as Record<string, Parameter>;
    for (const [name, p] of model.namedParameters()) expect(maxAbsDiff(p.grad as Tensor, refGrads[name]?.grad as Tensor), name).toBeLessThan(1e-6);
    model.zeroGrad();
    ref.zeroGrad();
    expect(liveTensorCount()).toBe(before);
  });

  it('runs the backward of every micro-batch but the last inside noSync', () => {
    const model = new GPTModel(config, { seed: 3 });
    const flags: boolean[] = [];
    let inside = false;
    const gradSync = { noSync: <T>(fn: () => T): T => { inside = true; try { return fn(); } finally { inside = false; } } };
    // A parameter hook sees whether the gradient arrived inside noSync.
    const w = model.decoder.layers[0]?.mlp.linear_fc1.weight as Parameter;
    const off = w.registerPostAccumulateGradHook(() => flags.push(inside));
    forwardBackwardNoPipelining<GPTModel, Batch>({ forwardStep: gptForwardStep, dataIterator: batches(config, 0, 4), model, numMicroBatches: 4, config: { gradSync } });
    off();
    expect(flags).toEqual([true, true, true, false]);
    model.dispose();
  });

  it('forward-only returns the losses and leaves no gradients', () => {
    const model = new GPTModel(config, { seed: 3 });
    const res = forwardBackwardNoPipelining<GPTModel, Batch>({ forwardStep: gptForwardStep, dataIterator: batches(config, 0, 2), model, numMicroBatches: 2, forwardOnly: true });
    expect(res?.losses).toHaveLength(2);
    expect([...model.parameters()].every((p) => p.grad === null)).toBe(true);
    model.dispose();
  });

  it('names the failing step, and frees what it held', () => {
    const model = new GPTModel(config, { seed: 3 });
    const before = liveTensorCount();
    const run = (m: number, forwardStep: Parameters<typeof forwardBackwardNoPipelining<GPTModel, Batch>>[0]['forwardStep']) => () =>
      forwardBackwardNoPipelining<GPTModel, Batch>({ forwardStep, dataIterator: batches(config, 0, m), model, numMicroBatches: m });
    expect(run(3, (d, mdl, info) => {
      if (info.microBatch === 1) throw new Error('bad batch');
      return gptForwardStep(d, mdl, info);
    })).toThrow(new PipelineError('pipeline stage 0 of 1, micro-batch 1: forward failed: bad batch'));
    expect(run(1, (d, mdl, info) => ({ output: gptForwardStep(d, mdl, info).output }))).toThrow(/the last stage's forwardStep must return a lossFunc/);
    expect(run(1, (d, mdl, info) => ({ output: gptForwardStep(d, mdl, info).output, lossFunc: (o) => o }))).toThrow(/the loss function must return a scalar loss, got f32\[2, 16\]/);
    model.zeroGrad();
    expect(liveTensorCount()).toBe(before);
    model.dispose();
  });
});

describe('releaseTensorData', () => {
  it('frees an output\'s memory while backward still runs from it', () => {
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const x = tensor([[1, 1], [2, 2]]);
    const y = x.matmul(w).mul(3); // mul by a constant saves nothing of y
    expect(y.toArray()).toEqual([12, 18, 24, 36]);
    releaseTensorData(y);
    expect(y.shape).toEqual([2, 2]);
    expect(y._storage.bytes).toBe(0);
    scope(() => y.backward(tensor([[1, 0], [0, 1]])));
    expect(w.grad?.toArray()).toEqual([3, 6, 3, 6]);
    for (const t of [y, x, w]) t.dispose();
  });
});
