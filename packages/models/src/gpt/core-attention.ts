// Core attention ("core_attn", what selective recomputation recomputes): Q Kᵀ, then Megatron's
// fused scale + mask + softmax (one kernel, fp32 inside, as Megatron's FusedScaleMaskSoftmax),
// attention dropout, and the product with V. Key/value heads are repeated to serve their query
// group. With the causal mask alone, no dropout and no bias, F.attention runs instead (the fused
// FlashAttention kernels on CUDA in bf16). ALiBi biases, and masks that differ between heads, take the unfused path: with 16-bit
// inputs and softmaxInFp32 its scale, mask and softmax run in fp32 and the probabilities return
// to the input dtype.
import { F, scope, type Tensor } from '@tessera/core';
import type { TensorParallel } from '@tessera/tensor-parallel';

export interface CoreAttentionOptions {
  /** 1 / sqrt(head size). */
  scale: number;
  softmaxInFp32: boolean;
  /** Attention dropout probability (0 when not training). */
  dropout: number;
  tp: TensorParallel;
  /** The mask is exactly the causal mask: without dropout or a bias, F.attention's fused kernels can run. */
  causalOnly?: boolean;
}

/** [s, b, groups, d] -> [s, b, groups * repeats, d], each group's head repeated (repeat_interleave). */
function repeatKv(x: Tensor, repeats: number): Tensor {
  if (repeats === 1) return x;
  const [s, b, g, d] = x.shape as [number, number, number, number];
  return x.reshape(s, b, g, 1, d).expand(s, b, g, repeats, d).reshape(s, b, g * repeats, d);
}

/** Scale, ALiBi bias, mask and softmax as separate ops (fp32 inside with softmaxInFp32). */
function unfusedSoftmax(scores: Tensor, mask: Tensor | undefined, bias: Tensor | undefined, o: CoreAttentionOptions): Tensor {
  const dtype = scores.dtype;
  const upcast = o.softmaxInFp32 && (dtype === 'bf16' || dtype === 'f16');
  let x = upcast ? scores.float() : scores;
  x = x.mul(o.scale);
  if (bias) x = x.add(bias.to(x.dtype));
  if (mask) x = x.maskedFill(mask, -10000.0);
  const probs = F.softmax(x, -1);
  return upcast ? probs.to(dtype) : probs;
}

/**
 * q [sq, b, np, d], k and v [sk, b, ng, d] (ng divides np), mask broadcastable to [b, np, sq, sk]
 * (true = masked), bias (ALiBi) broadcastable to the scores -> context [sq, b, np * d].
 */
export function coreAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, bias: Tensor | undefined, o: CoreAttentionOptions): Tensor {
  return scope(() => {
    const [sq, b, np, d] = q.shape as [number, number, number, number];
    const sk = k.shape[0] as number;
    const repeats = np / (k.shape[2] as number);
    const kk = repeatKv(k, repeats);
    const vv = repeatKv(v, repeats);
    if (o.causalOnly && !bias && o.dropout === 0) {
      // FlashAttention on CUDA in bf16 (no s x s scores in memory), else the same composed path.
      return F.attention(q, kk, vv, { scale: o.scale, causal: true }).reshape(sq, b, np * d);
    }
    // [b * np, sq, d] x [b * np, d, sk]: batch index = batch * np + head, as Megatron's view.
    const qb = q.permute(1, 2, 0, 3).reshape(b * np, sq, d);
    const kt = kk.permute(1, 2, 3, 0).reshape(b * np, d, sk);
    const scores = F.bmm(qb, kt).reshape(b, np, sq, sk);
    let probs = !bias && (!mask || F.scaledMaskedSoftmaxTakes(mask, scores.shape)) ? F.scaledMaskedSoftmax(scores, { scale: o.scale, mask }) : unfusedSoftmax(scores, mask, bias, o);
    if (o.dropout > 0) {
      const drop = () => F.dropout(probs, o.dropout, true);
      // Heads differ between TP ranks, so without sequence parallelism their masks come from the
      // TP stream (with it, the whole block already runs inside the fork).
      probs = o.tp.sequenceParallel ? drop() : o.tp.rng.fork(drop);
    }
    const vb = vv.permute(1, 2, 0, 3).reshape(b * np, sk, d);
    const context = F.bmm(probs.reshape(b * np, sq, sk), vb); // [b * np, sq, d]
    return context.reshape(b, np, sq, d).permute(2, 0, 1, 3).reshape(sq, b, np * d);
  });
}
