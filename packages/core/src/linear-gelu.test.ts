// F.linearGeluLinear (the GPT MLP with GELU in its GEMMs' epilogues) against the same function
// composed from F.linear and gelu('tanh'): outputs, every gradient, gradient-accumulation fusion
// into fp32 main grads, finite differences, and its argument checks.
import { describe, expect, it } from 'vitest';
import { F, scope, type Tensor, zeros } from './index.ts';
import { gradcheck, relativeError, seededTensor } from '../test/helpers.ts';

function mlpInputs(dtype: 'f32' | 'f64' | 'bf16', withBiases: boolean) {
  const x = seededTensor([3, 2, 8], 1, { dtype, requiresGrad: true });
  const w1 = seededTensor([16, 8], 2, { dtype, requiresGrad: true });
  const b1 = withBiases ? seededTensor([16], 3, { dtype, requiresGrad: true }) : undefined;
  const w2 = seededTensor([8, 16], 4, { dtype, requiresGrad: true });
  const b2 = withBiases ? seededTensor([8], 5, { dtype, requiresGrad: true }) : undefined;
  return { x, w1, b1, w2, b2 };
}

const composed = (x: Tensor, w1: Tensor, b1: Tensor | undefined, w2: Tensor, b2: Tensor | undefined) => F.linear(F.linear(x, w1, b1).gelu('tanh'), w2, b2);

function valuesAndGrads(fused: boolean, dtype: 'f32' | 'bf16', withBiases: boolean): number[][] {
  return scope(() => {
    const t = mlpInputs(dtype, withBiases);
    const y = (fused ? F.linearGeluLinear : composed)(t.x, t.w1, t.b1, t.w2, t.b2);
    y.float().mul(seededTensor([...y.shape], 9)).sum().backward();
    const leaves = [t.x, t.w1, t.b1, t.w2, t.b2].filter((v): v is Tensor => v !== undefined);
    return [y.toArray(), ...leaves.map((v) => (v.grad as Tensor).toArray())];
  });
}

describe('F.linearGeluLinear', () => {
  for (const dtype of ['f32', 'bf16'] as const)
    for (const withBiases of [true, false])
      it(`equals linear -> gelu('tanh') -> linear in ${dtype}${withBiases ? ' with biases' : ' without biases'}, value and gradients`, () => {
        const fused = valuesAndGrads(true, dtype, withBiases);
        const ref = valuesAndGrads(false, dtype, withBiases);
        expect(fused.length).toBe(ref.length);
        // The CPU composes the epilogues from the same kernels, in the same order: identical numbers.
        fused.forEach((v, i) => {
          expect(v).toEqual(ref[i]);
        });
      });

  it('passes finite differences in f64', () => {
    const t = mlpInputs('f64', true);
    gradcheck((x, w1, b1, w2, b2) => F.linearGeluLinear(x, w1, b1, w2, b2).sum(), [t.x, t.w1, t.b1 as Tensor, t.w2, t.b2 as Tensor]);
  });

  it('accumulates both weight gradients into fp32 main grads and runs their hooks', () => {
    scope(() => {
      const ref = mlpInputs('f32', true);
      composed(ref.x, ref.w1, ref.b1, ref.w2, ref.b2).sum().backward();
      const t = mlpInputs('f32', true);
      t.w1.mainGrad = zeros([16, 8]);
      t.w2.mainGrad = zeros([8, 16]);
      let hooks = 0;
      for (const w of [t.w1, t.w2]) w.registerPostAccumulateGradHook(() => hooks++);
      F.linearGeluLinear(t.x, t.w1, t.b1, t.w2, t.b2).sum().backward();
      expect(t.w1.grad).toBeNull();
      expect(t.w2.grad).toBeNull();
      expect(hooks).toBe(2);
      expect(relativeError(t.w1.mainGrad.toArray(), (ref.w1.grad as Tensor).toArray())).toBeLessThan(1e-6);
      expect(relativeError(t.w2.mainGrad.toArray(), (ref.w2.grad as Tensor).toArray())).toBeLessThan(1e-6);
      expect((t.b1 as Tensor).grad?.toArray()).toEqual((ref.b1 as Tensor).grad?.toArray());
      t.w1.mainGrad.dispose();
      t.w2.mainGrad.dispose();
    });
  });

  it('names the mismatch in bad arguments', () => {
    scope(() => {
      const t = mlpInputs('f32', true);
      expect(() => F.linearGeluLinear(t.x, t.w1, t.b1, t.w1)).toThrow(/w2 must be \[out, 16\] to follow w1 \[16, 8\]/);
      expect(() => F.linearGeluLinear(t.x, t.w2, undefined, t.w1)).toThrow(/the input \[3, 2, 8\] must end in 16/);
      expect(() => F.linearGeluLinear(t.x, t.w1, t.b2, t.w2)).toThrow(/b1 must be \[16\]/);
      expect(() => F.linearGeluLinear(t.x, t.w1, t.b1, t.w2, t.b1)).toThrow(/b2 must be \[8\]/);
      expect(() => F.linearGeluLinear(t.x, t.w1, (t.b1 as Tensor).to('f64'), t.w2)).toThrow(/b1 is f64 but the input is f32/);
    });
  });
});
