// The MLP: a column-parallel fc1 (for SwiGLU holding [gate; up], interleaved so each TP rank keeps
// its gate rows then its up rows), the activation, and a row-parallel fc2.
import { Module, scope, type Tensor } from '@tessera/core';
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
    return scope(() => {
      const h = this.linear_fc1.forward(x).output;
      let act: Tensor;
      if (this.ctx.config.swiglu) {
        const [gate, up] = h.chunk(2, -1) as [Tensor, Tensor];
        act = gate.silu().mul(up);
      } else act = h.gelu('tanh'); // Megatron's bias_gelu: bias added by fc1, tanh approximation
      return this.linear_fc2.forward(act).output;
    });
  }
}
