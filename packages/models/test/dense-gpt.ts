// An independent, deliberately plain GPT forward for tests: batch-first [b, s, h], one head at a
// time, RoPE and ALiBi from float64 formulas, weights read from a TP=1 GPTModel's state dict by
// their Megatron-Core names. It shares no code with src/gpt beyond core's ops.
import { arange, cat, F, scope, type Tensor, tensor } from '@tessera/core';
import type { GPTModel } from '../src/gpt/model.ts';

function norm(model: GPTModel, x: Tensor, sd: Record<string, Tensor>, name: string): Tensor {
  const c = model.config;
  return c.normalization === 'RMSNorm'
    ? F.rmsNorm(x, sd[`${name}.weight`], c.layernormEpsilon)
    : F.layerNorm(x, c.hiddenSize, sd[`${name}.weight`], sd[`${name}.bias`], c.layernormEpsilon);
}

function rope(x: Tensor, positions: number[], dim: number, base: number): Tensor {
  // x [b, s, d] for one head; rotate the first `dim` channels in halves.
  const [b, s, d] = x.shape as [number, number, number];
  const half = dim / 2;
  const cos: number[] = [];
  const sin: number[] = [];
  for (const p of positions) {
    for (let j = 0; j < dim; j++) {
      const angle = p * base ** (-(2 * (j % half)) / dim);
      cos.push(Math.cos(angle));
      sin.push(Math.sin(angle));
    }
  }
  const cosT = tensor(cos, { shape: [1, s, dim] });
  const sinT = tensor(sin, { shape: [1, s, dim] });
  const rot = x.narrow(2, 0, dim);
  const swapped = cat([rot.narrow(2, half, half).neg(), rot.narrow(2, 0, half)], 2);
  const out = rot.mul(cosT).add(swapped.mul(sinT));
  return dim === d ? out : cat([out, x.narrow(2, dim, d - dim)], 2).reshape(b, s, d);
}

function slopes(n: number): number[] {
  const p2 = (k: number) => Array.from({ length: k }, (_, i) => 2 ** ((-8 / k) * (i + 1)));
  if (Number.isInteger(Math.log2(n))) return p2(n);
  const lower = 2 ** Math.floor(Math.log2(n));
  return [...p2(lower), ...p2(2 * lower).filter((_, i) => i % 2 === 0).slice(0, n - lower)];
}

/** Full-vocabulary logits [b, s, paddedVocab] of a TP=1 model, in eval mode semantics (no dropout). */
export function denseLogits(model: GPTModel, ids: Tensor): Tensor {
  const c = model.config;
  const sd = model.stateDict();
  const [b, s] = ids.shape as [number, number];
  const d = c.kvChannels;
  const qpg = c.numAttentionHeads / c.numQueryGroups;
  return scope(() => {
    let x = F.embedding(ids, sd['embedding.word_embeddings.weight'] as Tensor);
    if (c.positionEmbeddingType === 'learned_absolute') x = x.add(F.embedding(arange(s).reshape(1, s), sd['embedding.position_embeddings.weight'] as Tensor));
    const positions = Array.from({ length: s }, (_, i) => i);
    const future = arange(s).reshape(s, 1).lt(arange(s).reshape(1, s)); // [s, s] true above the diagonal
    for (let l = 0; l < c.numLayers; l++) {
      const p = `decoder.layers.${l}`;
      const qkv = F.linear(norm(model, x, sd, `${p}.input_layernorm`), sd[`${p}.self_attention.linear_qkv.weight`] as Tensor, sd[`${p}.self_attention.linear_qkv.bias`]);
      const heads: Tensor[] = [];
      for (let h = 0; h < c.numAttentionHeads; h++) {
        const g = Math.floor(h / qpg);
        const base = g * (qpg + 2) * d;
        let q = qkv.narrow(2, base + (h % qpg) * d, d);
        let k = qkv.narrow(2, base + qpg * d, d);
        const v = qkv.narrow(2, base + (qpg + 1) * d, d);
        if (c.positionEmbeddingType === 'rope') {
          q = rope(q, positions, c.rotaryDim, c.rotaryBase);
          k = rope(k, positions, c.rotaryDim, c.rotaryBase);
        }
        let scores = q.matmul(k.transpose(1, 2)).div(Math.sqrt(d)); // [b, s, s]
        if (c.positionEmbeddingType === 'alibi') {
          const rel = arange(s, undefined, 1, { dtype: 'f32' }).reshape(1, s).sub(arange(s, undefined, 1, { dtype: 'f32' }).reshape(s, 1));
          scores = scores.add(rel.mul(slopes(c.numAttentionHeads)[h] as number));
        }
        heads.push(scores.maskedFill(future, -1e9).softmax(-1).matmul(v));
      }
      const attn = F.linear(cat(heads, 2), sd[`${p}.self_attention.linear_proj.weight`] as Tensor, sd[`${p}.self_attention.linear_proj.bias`]);
      x = x.add(attn);
      const h1 = F.linear(norm(model, x, sd, `${p}.pre_mlp_layernorm`), sd[`${p}.mlp.linear_fc1.weight`] as Tensor, sd[`${p}.mlp.linear_fc1.bias`]);
      const act = c.swiglu ? h1.narrow(2, 0, c.ffnHiddenSize).silu().mul(h1.narrow(2, c.ffnHiddenSize, c.ffnHiddenSize)) : h1.gelu('tanh');
      x = x.add(F.linear(act, sd[`${p}.mlp.linear_fc2.weight`] as Tensor, sd[`${p}.mlp.linear_fc2.bias`]));
    }
    x = norm(model, x, sd, 'decoder.final_layernorm');
    const out = sd['output_layer.weight'] ?? (sd['embedding.word_embeddings.weight'] as Tensor);
    return F.linear(x, out).reshape(b, s, -1);
  });
}
