// A tiny GPT learns from WikiText-2 in one process (TP = 1, DP = 1): the same run the
// four-process TP=2 x DP=2 test compares against (distributed.test.ts).
import { describe, expect, it } from 'vitest';
import { tensorParallel } from '@tessera/tensor-parallel';
import { trainTinyGpt } from '../../test/train-gpt.ts';

describe('tiny GPT on WikiText-2, one process', () => {
  it('the loss falls over 20 steps of mixed-precision AdamW', async () => {
    const tp = tensorParallel(undefined);
    const t0 = performance.now();
    const { losses, gradNorms, liveTensors } = await trainTinyGpt({ tp, steps: 20, globalBatch: 8, blockSize: 32 });
    const first = losses[0] as number;
    const last = (losses.slice(-3).reduce((a, b) => a + b, 0)) / 3;
    console.log(`tiny GPT, 20 steps in ${((performance.now() - t0) / 1000).toFixed(1)} s: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    expect(first).toBeGreaterThan(10); // about ln(50304) = 10.83 at initialization
    expect(first).toBeLessThan(11.5);
    expect(last).toBeLessThan(first - 2);
    expect(gradNorms.every(Number.isFinite)).toBe(true);
    // Memory returns to its baseline after every step.
    expect(new Set(liveTensors.slice(1)).size).toBe(1);
  }, 120_000);
});
