// Cross entropy over vocab-partitioned logits without gathering them (Megatron's
// vocab_parallel_cross_entropy): the max, the target logit and the sum of exponentials are each
// all-reduced over the TP group, so every rank gets every token's loss. Computed in fp32.
// Label smoothing follows Megatron exactly, including its quirk: K is the LOCAL vocabulary size
// and the mean of log-probabilities is over this rank's part only, so at TP > 1 the smoothed loss
// differs slightly between TP ranks (and from the TP = 1 value).
import { defineFunction, F, type Tensor } from '@tessera/core';
import { allReduce } from './comm.ts';
import type { TensorParallel } from './tensor-parallel.ts';

export interface VocabParallelCrossEntropyOptions {
  /** Megatron's label smoothing α in (0, 1); 0 (the default) turns it off. */
  labelSmoothing?: number;
  /** Targets equal to this get loss 0 and no gradient (Megatron has none; default: none). */
  ignoreIndex?: number;
}

/** An ignoreIndex no target can equal. */
const NO_IGNORE = -(2 ** 31);

/** Reduction over the TP group (the input itself when there is no group). */
function reduceOver(x: Tensor, tp: TensorParallel, op: 'sum' | 'max' = 'sum'): Tensor {
  return tp.size === 1 ? x : allReduce(x, tp, op);
}

const VocabParallelCE = defineFunction({
  name: 'vocabParallelCrossEntropy',
  forward(ctx, logits: Tensor, target: Tensor, tp: TensorParallel, smoothing: number, ignoreIndex: number | undefined) {
    const x = logits.float();
    const k = x.shape[x.rank - 1] as number;
    const start = tp.rank * k;
    const max = reduceOver(x.max(-1, true), tp, 'max');
    const shifted = x.sub(max);
    // This rank's targets: the others' become 0 (any valid index) and contribute zero below.
    const outside = target.lt(start).logicalOr(target.ge(start + k));
    const local = target.sub(start).maskedFill(outside, 0);
    const picked = shifted.gather(-1, local.unsqueeze(-1)).squeeze(-1).maskedFill(outside, 0);
    const predicted = reduceOver(picked, tp);
    const exp = shifted.exp();
    const sumExp = reduceOver(exp.sum(-1), tp);
    const logSumExp = sumExp.log();
    let loss = logSumExp.sub(predicted);
    const softmax = exp.div(sumExp.unsqueeze(-1));
    let s = 0;
    if (smoothing > 0) {
      // Megatron: α spread over the K - 1 other classes, i.e. s = α K / (K - 1) against the uniform
      // mean. log p = shifted - log Σexp (Megatron takes log(softmax), which is -inf where it underflows).
      s = (smoothing * k) / (k - 1);
      const meanLogProbs = shifted.mean(-1).sub(logSumExp);
      loss = loss.mul(1 - s).sub(meanLogProbs.mul(s));
    }
    const ignored = ignoreIndex === undefined ? undefined : target.eq(ignoreIndex);
    if (ignored) loss = loss.maskedFill(ignored, 0);
    ctx.saveForBackward(softmax, local, outside, ...(ignored ? [ignored] : []));
    ctx.s = s;
    ctx.dtype = logits.dtype;
    return loss;
  },
  backward(ctx, gloss) {
    const [softmax, local, outside, ignored] = ctx.savedTensors as [Tensor, Tensor, Tensor, Tensor | undefined];
    const s = ctx.s as number;
    const k = softmax.shape[softmax.rank - 1] as number;
    // (softmax - s / K) * g, then -(1 - s) * g at the target on the rank that owns it.
    let scale = gloss.float();
    if (ignored) scale = scale.maskedFill(ignored, 0);
    const perRow = scale.unsqueeze(-1);
    let grad = softmax.mul(perRow);
    if (s > 0) grad = grad.sub(perRow.mul(s / k));
    const atTarget = perRow.mul(-(1 - s)).maskedFill(outside.unsqueeze(-1), 0);
    grad = grad.scatterAdd(-1, local.unsqueeze(-1), atTarget);
    return [grad.to(ctx.dtype as Tensor['dtype']), null, null, null, null];
  },
});

/**
 * Per-token fp32 loss [...] from logits [..., vocab / tp] (this rank's vocabulary slice) and
 * integer targets [...] in the full vocabulary.
 */
export function vocabParallelCrossEntropy(logits: Tensor, target: Tensor, tp: TensorParallel, opts: VocabParallelCrossEntropyOptions = {}): Tensor {
  if (target.dtype !== 'i32' && target.dtype !== 'i64') throw new Error(`vocabParallelCrossEntropy: targets must be i32 or i64, got ${target.dtype}`);
  const lead = logits.shape.slice(0, -1);
  if (logits.rank < 1 || lead.length !== target.rank || lead.some((d, i) => d !== target.shape[i])) {
    throw new Error(`vocabParallelCrossEntropy: logits [${logits.shape.join(', ')}] need targets of shape [${lead.join(', ')}], got [${target.shape.join(', ')}]`);
  }
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`vocabParallelCrossEntropy: labelSmoothing must be in [0, 1), got ${smoothing}`);
  if (smoothing > 0 && (logits.shape[logits.rank - 1] as number) < 2) {
    throw new Error('vocabParallelCrossEntropy: label smoothing needs at least 2 classes per tensor-parallel rank');
  }
  if (tp.size === 1) {
    // One rank holds the whole vocabulary: core's fused kernel computes the same thing (its
    // smoothing s is Megatron's α K / (K - 1)); with no ignoreIndex every target must be valid.
    const k = logits.shape[logits.rank - 1] as number;
    return F.crossEntropy(logits, target, { reduction: 'none', ignoreIndex: opts.ignoreIndex ?? NO_IGNORE, labelSmoothing: smoothing > 0 ? (smoothing * k) / (k - 1) : 0 });
  }
  return VocabParallelCE(logits, target, tp, smoothing, opts.ignoreIndex);
}
