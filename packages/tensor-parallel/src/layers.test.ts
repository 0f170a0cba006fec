// The parallel layers at TP = 1 (the single-device case) against core's dense ops, forward and
// backward, and the gradient-accumulation fusion into mainGrad. TP > 1: distributed.test.ts.
import { F, Generator, noGrad, randint, randn, scope, type Tensor, zeros } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { diff } from '../test/helpers.ts';
import {
  copyToTensorParallelRegion, gatherFromSequenceParallelRegion, gatherFromTensorParallelRegion, reduceFromTensorParallelRegion,
  reduceScatterToSequenceParallelRegion, scatterToSequenceParallelRegion, scatterToTensorParallelRegion,
} from './mappings.ts';
import { ColumnParallelLinear } from './layers/column.ts';
import { RowParallelLinear } from './layers/row.ts';
import { VocabParallelEmbedding } from './layers/vocab-embedding.ts';
import { tensorParallel } from './tensor-parallel.ts';

const tp = tensorParallel(undefined, { sequenceParallel: true });

/** Gradients of sum(out * probe) w.r.t. x and the given parameters. */
function grads(out: Tensor, probe: Tensor, x: Tensor, params: Tensor[]): number[][] {
  out.mul(probe).sum().backward();
  const g = [x, ...params].map((t) => t.grad?.toArray() ?? []);
  for (const t of [x, ...params]) {
    t.grad?.dispose();
    t.grad = null;
  }
  return g;
}

describe('tensor-parallel layers at TP=1', () => {
  it('the single-device TensorParallel has no group and sequence parallelism off', () => {
    expect(tp.size).toBe(1);
    expect(tp.group).toBeUndefined();
    expect(tp.sequenceParallel).toBe(false);
  });

  it('every mapping is the identity', () => {
    const x = randn([4, 2, 6]);
    for (const f of [copyToTensorParallelRegion, reduceFromTensorParallelRegion, scatterToTensorParallelRegion, gatherFromTensorParallelRegion,
      scatterToSequenceParallelRegion, gatherFromSequenceParallelRegion, reduceScatterToSequenceParallelRegion]) {
      expect(f(x, tp)).toBe(x);
    }
  });

  it('ColumnParallelLinear equals F.linear, forward and backward; skipBiasAdd returns the bias', () => {
    scope(() => {
      const layer = new ColumnParallelLinear(6, 10, { tp, generator: new Generator(1) });
      noGrad(() => layer.bias?.copy_(randn([10])));
      const x = randn([5, 3, 6], { requiresGrad: true });
      const probe = randn([5, 3, 10]);
      const { output, bias } = layer.forward(x);
      expect(bias).toBeUndefined();
      const got = grads(output, probe, x, [layer.weight as Tensor, layer.bias as Tensor]);
      const ref = F.linear(x, layer.weight as Tensor, layer.bias);
      expect(diff(output, ref)).toBe(0);
      expect(grads(ref, probe, x, [layer.weight as Tensor, layer.bias as Tensor])).toEqual(got);
      const skip = new ColumnParallelLinear(6, 10, { tp, skipBiasAdd: true });
      const r = skip.forward(x);
      expect(r.bias).toBe(skip.bias);
      expect(diff(r.output, F.linear(x, skip.weight as Tensor))).toBe(0);
    });
  });

  it('RowParallelLinear equals F.linear, forward and backward', () => {
    scope(() => {
      const layer = new RowParallelLinear(6, 4, { tp, generator: new Generator(2) });
      noGrad(() => layer.bias?.copy_(randn([4])));
      const x = randn([5, 3, 6], { requiresGrad: true });
      const probe = randn([5, 3, 4]);
      const { output } = layer.forward(x);
      const got = grads(output, probe, x, [layer.weight, layer.bias as Tensor]);
      const ref = F.linear(x, layer.weight, layer.bias);
      expect(diff(output, ref)).toBeLessThan(1e-6);
      const want = grads(ref, probe, x, [layer.weight, layer.bias as Tensor]);
      got.forEach((g, i) => {
        expect(Math.max(...g.map((v, j) => Math.abs(v - (want[i]?.[j] as number))))).toBeLessThan(1e-5);
      });
    });
  });

  it('VocabParallelEmbedding equals F.embedding', () => {
    scope(() => {
      const emb = new VocabParallelEmbedding(20, 8, { tp });
      const ids = randint(0, 20, [3, 5]);
      const out = emb.forward(ids);
      expect(diff(out, F.embedding(ids, emb.weight))).toBe(0);
      out.sum().backward();
      expect(emb.weight.grad?.shape).toEqual([20, 8]);
    });
  });

  it('weight gradients accumulate straight into an fp32 mainGrad (gradient-accumulation fusion)', () => {
    scope(() => {
      const layer = new ColumnParallelLinear(6, 4, { tp, dtype: 'bf16', bias: false });
      const w = layer.weight as Tensor;
      w.mainGrad = zeros([4, 6]);
      const x = randn([3, 6], { dtype: 'bf16' });
      let hooks = 0;
      w.registerPostAccumulateGradHook(() => hooks++);
      for (let i = 0; i < 2; i++) layer.forward(x).output.float().sum().backward();
      expect(w.grad).toBeNull();
      expect(hooks).toBe(2);
      // d(sum of outputs)/dW: every row is the column sum of x, twice, summed exactly in fp32.
      const ref = x.float().sum(0).reshape(1, 6).expand(4, 6).mul(2);
      expect(diff(w.mainGrad, ref)).toBeLessThan(1e-5);
      w.mainGrad.dispose();
      w.mainGrad = null;
    });
  });
});
