import { describe, expect, it } from 'vitest';
import {
  defineFunction, enableGrad, isGradEnabled, linear, liveTensorCount, memoryStats, noGrad, scope, type Tensor, tensor, zeros,
} from './index.ts';

describe('autograd', () => {
  it('accumulates gradients over several backward calls', () => {
    scope(() => {
      const x = tensor([1, 2, 3], { requiresGrad: true });
      x.mul(x).sum().backward();
      expect(x.grad?.toArray()).toEqual([2, 4, 6]);
      x.mul(3).sum().backward();
      expect(x.grad?.toArray()).toEqual([5, 7, 9]);
      x.grad?.dispose();
    });
  });

  it('sums gradients of a tensor used several times', () => {
    scope(() => {
      const x = tensor([2], { requiresGrad: true });
      const y = x.mul(x).mul(x).add(x.mul(4)); // x^3 + 4x -> 3x^2 + 4 = 16
      y.sum().backward();
      expect(x.grad?.item()).toBe(16);
      x.grad?.dispose();
    });
  });

  it('gives each leaf its own gradient memory', () => {
    scope(() => {
      const a = tensor([1, 2], { requiresGrad: true });
      const b = tensor([3, 4], { requiresGrad: true });
      a.add(b).sum().backward();
      a.grad?.mul_(10);
      expect(b.grad?.toArray()).toEqual([1, 1]);
      a.grad?.dispose();
      b.grad?.dispose();
    });
  });

  it('accumulates into an fp32 mainGrad and runs post-accumulate hooks', () => {
    scope(() => {
      const w = tensor([1, 2], { dtype: 'bf16', requiresGrad: true });
      w.mainGrad = zeros([2]);
      const seen: string[] = [];
      w.registerPostAccumulateGradHook((p) => seen.push(p.describe()));
      w.mul(3).sum().backward();
      w.mul(3).sum().backward();
      expect(w.grad).toBeNull();
      expect(w.mainGrad.toArray()).toEqual([6, 6]);
      expect(seen).toEqual(['bf16[2] on cpu', 'bf16[2] on cpu']);
      w.mainGrad.dispose();
    });
  });

  it('fuses the weight-gradient GEMM into mainGrad for linear', () => {
    scope(() => {
      const x = tensor([[1, 2], [3, 4]]);
      const w = tensor([[1, 0], [0, 1], [1, 1]], { requiresGrad: true });
      w.mainGrad = zeros([3, 2]);
      let hooks = 0;
      w.registerPostAccumulateGradHook(() => hooks++);
      x.matmul(w.t()).sum().backward(); // reference: the engine accumulates into mainGrad
      const viaMatmul = w.mainGrad.toArray();
      expect(viaMatmul).toEqual([4, 6, 4, 6, 4, 6]);
      w.mainGrad.zero_();
      linear(x, w).sum().backward(); // fused: the GEMM writes into mainGrad with beta = 1
      expect(w.mainGrad.toArray()).toEqual(viaMatmul);
      expect(w.grad).toBeNull();
      expect(hooks).toBe(2);
      w.mainGrad.dispose();
    });
  });

  it('records nothing under noGrad, also across await', async () => {
    const x = tensor([1], { requiresGrad: true });
    expect(noGrad(() => x.mul(2).requiresGrad)).toBe(false);
    await noGrad(async () => {
      await Promise.resolve();
      expect(isGradEnabled()).toBe(false);
      expect(enableGrad(() => isGradEnabled())).toBe(true);
    });
    expect(isGradEnabled()).toBe(true);
    x.dispose();
  });

  it('frees saved tensors as backward consumes them, and refuses a second pass', () => {
    scope(() => {
      const x = tensor([1, 2, 3], { requiresGrad: true });
      const y = x.exp().sum();
      y.backward();
      expect(() => y.backward()).toThrow(/already used by an earlier backward/);
      const z = x.exp().sum();
      z.backward(undefined, { retainGraph: true });
      z.backward();
      expect(x.grad?.toArray().map((v) => Math.round(v * 1000))).toEqual([8155, 22167, 60257]);
      x.grad?.dispose();
    });
  });

  it('releases the whole graph when its outputs are disposed without backward', () => {
    const before = memoryStats().allocated;
    const liveBefore = liveTensorCount();
    const x = tensor(new Float32Array(1000), { requiresGrad: true });
    scope(() => {
      x.exp().mul(2).tanh().sum(); // never backwarded
    });
    x.dispose();
    expect(memoryStats().allocated).toBe(before);
    expect(liveTensorCount()).toBe(liveBefore);
  });

  it('runs custom functions', () => {
    const Cube = defineFunction({
      name: 'cube',
      forward(ctx, x: Tensor) {
        ctx.saveForBackward(x);
        return x.mul(x).mul(x);
      },
      backward(ctx, gy) {
        const [x] = ctx.savedTensors as [Tensor];
        return [gy.mul(x.mul(x).mul(3))];
      },
    });
    scope(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      const y = Cube(x);
      expect(y.toArray()).toEqual([1, 8]);
      y.sum().backward();
      expect(x.grad?.toArray()).toEqual([3, 12]);
      x.grad?.dispose();
    });
  });

  it('names the function whose backward returns a wrongly shaped gradient', () => {
    const Bad = defineFunction({
      name: 'badShape',
      forward(_ctx, x: Tensor) {
        return x.mul(1);
      },
      backward(_ctx, gy) {
        return [gy.sum()];
      },
    });
    scope(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      expect(() => Bad(x).sum().backward()).toThrow(/badShape backward: the gradient for input 0 has shape \[\], expected \[2\]/);
    });
  });

  it('refuses implicit gradients for non-scalars and in-place updates of tracked tensors', () => {
    scope(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      expect(() => x.mul(2).backward()).toThrow(/one-element tensor/);
      expect(() => x.add_(1)).toThrow(/inside noGrad/);
      noGrad(() => x.add_(1));
      expect(x.toArray()).toEqual([2, 3]);
      expect(() => tensor([1]).backward()).toThrow(/does not require grad/);
    });
  });
});

describe('checkpoint', () => {
  it('gives the same gradients as the plain block, dropout included', async () => {
    const { checkpoint, F, Linear, manualSeed } = await import('./index.ts');
    manualSeed(5);
    const fc = new Linear(6, 6);
    const block = (x: Tensor) => F.dropout(fc.forward(x).tanh(), 0.3).mul(x);
    const run = (useCheckpoint: boolean) =>
      scope(() => {
        manualSeed(9);
        const x = tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i)), { shape: [4, 6], requiresGrad: true });
        const y = useCheckpoint ? checkpoint(block, x) : block(x);
        y.square().sum().backward();
        const out = { y: y.toArray(), gx: x.grad?.toArray(), gw: fc.weight.grad?.toArray() };
        fc.zeroGrad();
        x.grad?.dispose();
        return out;
      });
    const plain = run(false);
    const recomputed = run(true);
    expect(recomputed.y).toEqual(plain.y);
    expect(recomputed.gx).toEqual(plain.gx);
    expect(recomputed.gw).toEqual(plain.gw);
    fc.dispose();
  });

  it('keeps only the inputs alive between forward and backward', async () => {
    const { checkpoint } = await import('./index.ts');
    scope(() => {
      const x = tensor(new Float32Array(1000), { requiresGrad: true });
      const before = memoryStats().allocated;
      const y = checkpoint((t) => t.exp().mul(2).tanh(), x);
      // The block's intermediates (exp, mul) are gone; only the output was added.
      expect(memoryStats().allocated - before).toBe(4000);
      y.sum().backward();
      expect(x.grad?.shape).toEqual([1000]);
      x.grad?.dispose();
    });
  });
});

describe('contexts inside synchronous sections', () => {
  it('honours noGrad/enableGrad and nested scopes inside a custom forward', () => {
    const seen: boolean[] = [];
    const Probe = defineFunction({
      name: 'probe',
      forward(_ctx, x: Tensor) {
        seen.push(isGradEnabled());
        seen.push(enableGrad(() => isGradEnabled()));
        seen.push(noGrad(() => enableGrad(() => noGrad(() => isGradEnabled()))));
        const inner = scope(() => x.mul(2).add(1)); // temporaries of the nested scope are freed
        return inner.mul(1);
      },
      backward(_ctx, gy) {
        return [gy.mul(2)];
      },
    });
    const live = liveTensorCount();
    scope(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      const y = Probe(x);
      expect(y.toArray()).toEqual([3, 5]);
      expect(seen).toEqual([false, true, false]);
      y.sum().backward();
      expect(x.grad?.toArray()).toEqual([2, 2]);
      x.grad?.dispose();
    });
    expect(liveTensorCount()).toBe(live);
  });
});

describe('gradient-accumulation fusion', () => {
  it('accumulates a bf16 weight gradient in fp32 without rounding it to bf16 first', () => {
    scope(() => {
      // Column sums 1 + 2^-7 + 1 + 2^-6 = 2.0234375 need 8 mantissa bits: bf16 cannot hold them.
      const x = tensor([[1 + 2 ** -7, 1], [1 + 2 ** -6, 1]], { dtype: 'bf16' });
      const w = tensor([[1, 0]], { dtype: 'bf16', requiresGrad: true });
      w.mainGrad = zeros([1, 2]);
      linear(x, w).float().sum().backward();
      expect(w.mainGrad.toArray()).toEqual([2.0234375, 2]);
      w.mainGrad.dispose();
    });
  });
});
