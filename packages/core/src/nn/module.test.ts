import { describe, expect, it } from 'vitest';
import {
  Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, Parameter, RMSNorm, Sequential, manualSeed, scope, type Tensor, tensor, zeros,
} from '../index.ts';

class Block extends Module {
  norm = new LayerNorm(4);
  fc = new Linear(4, 3);
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.norm.forward(x));
  }
}

class Net extends Module {
  embed = new Embedding(10, 4);
  blocks = new ModuleList([new Block(), new Block()].map((b) => b));
  head = new Linear(4, 2, { bias: false });
  scale: Parameter;
  constructor() {
    super();
    this.scale = new Parameter(zeros([1]));
    this.registerBuffer('steps', tensor([0], { dtype: 'i64' }));
  }
}

describe('Module', () => {
  it('finds parameters, children and buffers by dotted name', () => {
    const net = new Net();
    expect([...net.namedParameters()].map(([n]) => n)).toEqual([
      'scale', 'embed.weight', 'blocks.0.norm.weight', 'blocks.0.norm.bias', 'blocks.0.fc.weight', 'blocks.0.fc.bias',
      'blocks.1.norm.weight', 'blocks.1.norm.bias', 'blocks.1.fc.weight', 'blocks.1.fc.bias', 'head.weight',
    ]);
    expect(Object.keys(net.stateDict())).toContain('steps');
    expect(net.numParameters()).toBe(1 + 40 + 2 * (8 + 15) + 8);
    net.eval();
    expect([...net.modules()].every((m) => !m.training)).toBe(true);
    net.dispose();
  });

  it('loads a state dict and reports every problem at once', () => {
    const a = new Net();
    const b = new Net();
    b.loadStateDict(a.stateDict());
    expect(b.head.weight.toArray()).toEqual(a.head.weight.toArray());
    const bad = { ...a.stateDict(), extra: tensor([1]) } as Record<string, Tensor>;
    delete bad['head.weight'];
    bad['embed.weight'] = zeros([3, 3]);
    expect(() => b.loadStateDict(bad)).toThrow(/3 problem\(s\)[\s\S]*'embed.weight' has shape \[3, 3\], the module expects \[10, 4\][\s\S]*missing keys: head.weight[\s\S]*unexpected keys: extra/);
    expect(() => b.loadStateDict({ ...a.stateDict(), extra: tensor([1]) }, { strict: false })).not.toThrow();
    a.dispose();
    b.dispose();
  });

  it('converts parameters in place with to()', () => {
    const lin = new Linear(3, 2);
    const w = lin.weight;
    lin.to('bf16');
    expect(lin.weight).toBe(w);
    expect(w.dtype).toBe('bf16');
    expect(lin.bias?.dtype).toBe('bf16');
    lin.dispose();
  });

  it('initialises layers like torch.nn', () => {
    manualSeed(0);
    const lin = new Linear(100, 50);
    const w = lin.weight.toArray();
    const bound = 1 / Math.sqrt(100);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.9);
    const ln = new LayerNorm(8);
    expect(ln.weight?.toArray()).toEqual(new Array(8).fill(1));
    expect(ln.bias?.toArray()).toEqual(new Array(8).fill(0));
    const rms = new RMSNorm(8);
    expect(rms.weight?.toArray()).toEqual(new Array(8).fill(1));
    expect(() => new Linear(0, 3)).toThrow(/positive integer/);
    for (const m of [lin, ln, rms]) m.dispose();
  });

  it('runs a Sequential forward and backward', () => {
    scope(() => {
      const seq = new Sequential(new Linear(4, 8), new Dropout(0), new LayerNorm(8), new Linear(8, 1));
      const y = seq.forward(tensor([[1, 2, 3, 4]]));
      expect(y.shape).toEqual([1, 1]);
      y.sum().backward();
      for (const p of seq.parameters()) expect(p.grad?.shape).toEqual(p.shape);
      seq.zeroGrad();
      expect([...seq.parameters()].every((p) => p.grad === null)).toBe(true);
      seq.dispose();
    });
  });
});
