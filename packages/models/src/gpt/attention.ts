// Self-attention (Megatron-Core's SelfAttention with the local spec): a column-parallel fused QKV
// projection whose rows are grouped per query group ([q heads of the group | k | v] for each
// group, each TP rank holding whole groups), RoPE on q and k, core attention (optionally
// recomputed in backward), and a row-parallel output projection. Multi-head attention without
// RoPE, bias or dropout under the causal mask alone attends on the projection's output directly.
import { checkpoint, F, Module, scope, type Tensor } from '@tessera/core';
import { ColumnParallelLinear, initNormal, RowParallelLinear, scaledInitNormal } from '@tessera/tensor-parallel';
import type { BuildContext } from './build-context.ts';
import { coreAttention } from './core-attention.ts';
import { applyRotary, type RotaryAngles } from './rotary.ts';

/** Per-forward inputs every layer shares. */
export interface AttentionInputs {
  /** true = masked, broadcastable to [b, heads, s, s]. */
  mask: Tensor | undefined;
  /** The mask is the causal mask alone (no user mask): attention may use the fused causal kernels. */
  causalOnly: boolean;
  rotary: RotaryAngles | undefined;
  /** ALiBi bias for this rank's heads, [1, heads, s, s]. */
  alibi: Tensor | undefined;
}

export class SelfAttention extends Module {
  readonly ctx: BuildContext;
  /** Query heads and key/value groups on this TP rank. */
  readonly headsPerRank: number;
  readonly groupsPerRank: number;
  /** Recompute core attention in backward (selective recomputation). */
  recomputeCoreAttention = false;
  linear_qkv: ColumnParallelLinear;
  linear_proj: RowParallelLinear;

  constructor(ctx: BuildContext) {
    super();
    this.ctx = ctx;
    const { config: c, tp } = ctx;
    this.headsPerRank = c.numAttentionHeads / tp.size;
    this.groupsPerRank = c.numQueryGroups / tp.size;
    const qkvOut = (c.numAttentionHeads + 2 * c.numQueryGroups) * c.kvChannels;
    const qkv = ctx.child('linear_qkv');
    this.linear_qkv = new ColumnParallelLinear(c.hiddenSize, qkvOut, {
      tp, bias: c.addBiasLinear || c.addQkvBias, initMethod: initNormal(c.initMethodStd), generator: qkv.generator('weight'), ...ctx.factory,
    });
    const proj = ctx.child('linear_proj');
    this.linear_proj = new RowParallelLinear(c.numAttentionHeads * c.kvChannels, c.hiddenSize, {
      tp, bias: c.addBiasLinear, inputIsParallel: true, initMethod: scaledInitNormal(c.initMethodStd, c.numLayers), generator: proj.generator('weight'), ...ctx.factory,
    });
  }

  /** x [s(/tp), b, h] -> [s(/tp), b, h]. */
  forward(x: Tensor, inputs: AttentionInputs): Tensor {
    const { config: c, tp } = this.ctx;
    return scope(() => {
      const mixed = this.linear_qkv.forward(x).output; // [s, b, groupsPerRank * (q + k + v) * d]
      const [s, b] = mixed.shape as [number, number];
      const d = c.kvChannels;
      const qPerGroup = this.headsPerRank / this.groupsPerRank;
      const grouped = mixed.reshape(s, b, this.groupsPerRank, (qPerGroup + 2) * d);
      const dropout = this.training ? c.attentionDropout : 0;
      const recompute = this.recomputeCoreAttention && this.training;
      if (qPerGroup === 1 && !inputs.rotary && inputs.causalOnly && !inputs.alibi && dropout === 0) {
        // Multi-head attention on coreAttention's F.attention path: each head's row is [q | k | v],
        // which attentionPacked reads in place (no split here, no concatenation in backward).
        const run = (qkv: Tensor) => F.attentionPacked(qkv, { scale: 1 / Math.sqrt(d), causal: true }).reshape(s, b, this.headsPerRank * d);
        const context = recompute ? checkpoint(run, grouped) : run(grouped);
        return this.linear_proj.forward(context).output;
      }
      const [qg, k0, v] = grouped.split([qPerGroup * d, d, d], 3) as [Tensor, Tensor, Tensor];
      let q = qg.reshape(s, b, this.headsPerRank, d);
      let k = k0;
      if (inputs.rotary) {
        q = applyRotary(q, inputs.rotary);
        k = applyRotary(k, inputs.rotary);
      }
      const opts = { scale: 1 / Math.sqrt(d), softmaxInFp32: c.attentionSoftmaxInFp32, dropout, tp, causalOnly: inputs.causalOnly };
      const extras = [inputs.mask, inputs.alibi].filter((t): t is Tensor => t !== undefined);
      const run = (qq: Tensor, kk: Tensor, vv: Tensor, ...rest: Tensor[]) => {
        const mask = inputs.mask ? rest.shift() : undefined;
        const alibi = inputs.alibi ? rest.shift() : undefined;
        return coreAttention(qq, kk, vv, mask, alibi, opts);
      };
      const context = recompute ? checkpoint(run, q, k, v, ...extras) : run(q, k, v, ...extras);
      return this.linear_proj.forward(context).output;
    });
  }
}
