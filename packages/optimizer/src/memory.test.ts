// Bytes per parameter of the plain mixed-precision setup, measured from core's allocation stats:
// bf16 weights (2) + fp32 gradient buffer (4) + fp32 main weights, exp_avg, exp_avg_sq (12) = 18,
// Megatron's figure for d = 1. (The distributed optimizer's 6 + 12/d is measured in test/distributed.)
import { Linear, memoryStats, Module, type Tensor } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { AdamW, DistributedDataParallel, MixedPrecisionOptimizer } from './index.ts';

class Wide extends Module {
  a = new Linear(512, 512, { dtype: 'bf16' });
  b = new Linear(512, 512, { dtype: 'bf16' });
  forward(x: Tensor): Tensor {
    return this.b.forward(this.a.forward(x));
  }
}

describe('memory per parameter', () => {
  it('bf16 weights with fp32 gradients, main weights and Adam state: 18 bytes per parameter', () => {
    const base = memoryStats('cpu').allocated;
    const model = new Wide();
    const n = model.numParameters();
    expect(memoryStats('cpu').allocated - base).toBe(2 * n);
    const ddp = new DistributedDataParallel(model);
    const opt = new MixedPrecisionOptimizer(new AdamW(model.parameters()), { ddp });
    const perParam = (memoryStats('cpu').allocated - base) / n;
    // Parameters start at 64-element boundaries in the gradient buffer: a few padding elements.
    expect(perParam).toBeGreaterThanOrEqual(18);
    expect(perParam).toBeLessThan(18.01);
    opt.dispose();
    ddp.dispose();
    model.dispose();
    expect(memoryStats('cpu').allocated).toBe(base);
  });
});
