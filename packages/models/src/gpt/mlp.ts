// The MLP: a column-parallel fc1 (for SwiGLU holding [gate; up], interleaved so each TP rank keeps
// its gate rows then its up rows), the activation, and a row-parallel fc2. With GELU the two GEMMs
// and the activation run as one fused function between the layers' TP mappings (Megatron's
// bias-activation fusion, carried into the GEMM epilogues); at TP = 1 fc2's bias joins it too.
import { F, Module, scope, type Tensor } from '@tessera/core';
import { ColumnParallelLinear, initNormal, RowParallelLinear, scaledInitNormal } from '@tessera/tensor-parallel';
import type { BuildContext } from './build-context.ts';

export class Mlp extends Module {
  readonly ctx: BuildContext;
  linear_fc1: ColumnParallelLinear;
  linear_fc2: RowParallelLinear;

  constructor(ctx: BuildContext) {
    super();
    this.ctx = ctx;
    const { config: c, tp } = ctx;
    const fc1 = ctx.child('linear_fc1');
    this.linear_fc1 = new ColumnParallelLinear(c.hiddenSize, (c.swiglu ? 2 : 1) * c.ffnHiddenSize, {
      tp, bias: c.addBiasLinear, stride: c.swiglu ? 2 : 1, initMethod: initNormal(c.initMethodStd), generator: fc1.generator('weight'), ...ctx.factory,
    });
    const fc2 = ctx.child('linear_fc2');
    this.linear_fc2 = new RowParallelLinear(c.ffnHiddenSize, c.hiddenSize, {
      tp, bias: c.addBiasLinear, inputIsParallel: true, initMethod: scaledInitNormal(c.initMethodStd, c.numLayers), generator: fc2.generator('weight'), ...ctx.factory,
    });
  }

  forward(x: Tensor): Tensor {
    if (!this.ctx.config.swiglu) return scope(() => this.#geluFused(x));
    return scope(() => {
      const [gate, up] = this.linear_fc1.forward(x).output.chunk(2, -1) as [Tensor, Tensor];
      return this.linear_fc2.forward(gate.silu().mul(up)).output;
    });
  }

  /** fc2(gelu_tanh(fc1(x))) (Megatron's bias_gelu: tanh approximation) with the activation inside the GEMMs. */
  #geluFused(x: Tensor): Tensor {
    const fc1 = this.linear_fc1;
    const fc2 = this.linear_fc2;
    const w1 = fc1.weight as Tensor;
    const b1 = fc1.bias;
    if (fc2.tp.size === 1) return F.linearGeluLinear(fc1.enterRegion(x), w1, b1, fc2.weight, fc2.bias);
    return fc2.exitRegion(F.linearGeluLinear(fc1.enterRegion(x), w1, b1, fc2.weight));
  }
}
