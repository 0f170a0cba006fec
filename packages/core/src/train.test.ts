import { describe, expect, it } from 'vitest';
import { F, Linear, manualSeed, Module, noGrad, scope, type Tensor, tensor } from './index.ts';

class Mlp extends Module {
  fc1 = new Linear(2, 16);
  fc2 = new Linear(16, 2);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).tanh());
  }
}

describe('training', () => {
  it('learns XOR with plain gradient descent', () => {
    manualSeed(3);
    const model = new Mlp();
    const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const y = tensor([0, 1, 1, 0], { dtype: 'i64' });
    let first = 0;
    let last = 0;
    for (let step = 0; step < 300; step++) {
      last = scope(() => {
        const loss = F.crossEntropy(model.forward(x), y);
        loss.backward();
        noGrad(() => {
          for (const p of model.parameters()) p.sub_(p.grad as Tensor, 0.5);
        });
        model.zeroGrad();
        return loss.item();
      });
      if (step === 0) first = last;
    }
    expect(first).toBeGreaterThan(0.5);
    expect(last).toBeLessThan(0.05);
    const predicted = scope(() => model.forward(x).argmax(1).toArray());
    expect(predicted).toEqual([0, 1, 1, 0]);
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
