import { describe, expect, it } from 'vitest';
import { F, LayerNorm, Linear, Module, liveTensorCount, manualSeed, memoryStats, noGrad, randint, randn, scope, type Tensor } from './index.ts';

// A small pre-LN transformer block: enough ops to catch a leak anywhere in forward or backward.
class TinyBlock extends Module {
  ln1 = new LayerNorm(16);
  qkv = new Linear(16, 48);
  proj = new Linear(16, 16);
  ln2 = new LayerNorm(16);
  fc1 = new Linear(16, 64);
  fc2 = new Linear(64, 16);
  head = new Linear(16, 11);

  forward(x: Tensor): Tensor {
    const [b, s] = x.shape as [number, number, number];
    const [q, k, v] = this.qkv.forward(this.ln1.forward(x)).split(16, -1) as [Tensor, Tensor, Tensor];
    const heads = (t: Tensor) => t.reshape(b, s, 2, 8).permute(0, 2, 1, 3);
    const scores = heads(q).matmul(heads(k).transpose(-2, -1)).mul(1 / Math.sqrt(8));
    const attn = F.dropout(F.softmax(scores, -1), 0.1, this.training).matmul(heads(v));
    const h = x.add(this.proj.forward(attn.permute(0, 2, 1, 3).reshape(b, s, 16)));
    return h.add(this.fc2.forward(F.gelu(this.fc1.forward(this.ln2.forward(h)), 'tanh')));
  }
}

describe('memory', () => {
  it('returns to its baseline after a forward + backward step', () => {
    manualSeed(1);
    const model = new TinyBlock();
    const baseline = memoryStats().allocated;
    const liveBaseline = liveTensorCount();
    for (let step = 0; step < 3; step++) {
      scope(() => {
        const x = randn([2, 5, 16]);
        const labels = randint(0, 11, [2, 5]);
        const logits = model.head.forward(model.forward(x));
        const loss = F.crossEntropy(logits, labels);
        loss.backward();
        noGrad(() => {
          for (const p of model.parameters()) p.sub_(p.grad as Tensor, 0.01);
        });
        model.zeroGrad();
      });
      expect(memoryStats().allocated).toBe(baseline);
      expect(liveTensorCount()).toBe(liveBaseline);
    }
    model.dispose();
  });
});
