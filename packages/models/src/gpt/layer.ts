// One pre-LN decoder layer (Megatron-Core's TransformerLayer, local spec):
//   x = x + dropout(attention(input_layernorm(x)));  x = x + dropout(mlp(pre_mlp_layernorm(x)))
// The hidden dropout draws from the default generator (inside the TP fork with sequence parallelism,
// where the whole block runs).
import { F, Module, scope, type Tensor } from '@tessera/core';
import { type AttentionInputs, SelfAttention } from './attention.ts';
import type { BuildContext } from './build-context.ts';
import { Mlp } from './mlp.ts';
import { buildNorm, type Norm } from './norm.ts';

export class TransformerLayer extends Module {
  readonly ctx: BuildContext;
  input_layernorm: Norm;
  self_attention: SelfAttention;
  pre_mlp_layernorm: Norm;
  mlp: Mlp;

  constructor(ctx: BuildContext) {
    super();
    this.ctx = ctx;
    this.input_layernorm = buildNorm(ctx.child('input_layernorm'));
    this.self_attention = new SelfAttention(ctx.child('self_attention'));
    this.pre_mlp_layernorm = buildNorm(ctx.child('pre_mlp_layernorm'));
    this.mlp = new Mlp(ctx.child('mlp'));
  }

  /** x [s(/tp), b, h] -> the same shape. */
  forward(x: Tensor, inputs: AttentionInputs): Tensor {
    const p = this.training ? this.ctx.config.hiddenDropout : 0;
    return scope(() => {
      const attn = this.self_attention.forward(this.input_layernorm.forward(x), inputs);
      const mid = x.add(F.dropout(attn, p, p > 0));
      const mlp = this.mlp.forward(this.pre_mlp_layernorm.forward(mid));
      return mid.add(F.dropout(mlp, p, p > 0));
    });
  }
}
