// Differentiable neural-network functions: softmax, log-softmax, LayerNorm, RMSNorm, dropout,
// cross entropy and MSE. Statistics and losses are computed in fp32 whatever the input dtype.
import { defineFunction } from '../autograd/function.ts';
import { isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import type { Generator } from '../random.ts';
import { normDim, sameShape, shapeString } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { view } from './broadcast.ts';
import { cast, div, mul, square, sub } from './pointwise.ts';
import { mean, sum } from './reduction.ts';
import { reshape } from './shape.ts';
import { scope } from '../scope.ts';

function checkFloating(op: string, x: Tensor): void {
  x._check();
  if (!isFloatingDtype(x.dtype)) throw new Error(`${op}: needs a floating dtype, got ${x.dtype}`);
}

const SoftmaxFn = defineFunction({
  name: 'softmax',
  forward(ctx, x: Tensor, dim: number, log: boolean) {
    const y = k.softmax(x, dim, log);
    ctx.saveForBackward(y);
    ctx.dim = dim;
    ctx.log = log;
    return y;
  },
  backward(ctx, gy) {
    const [y] = ctx.savedTensors as [Tensor];
    return [k.softmaxBackward(y, gy, ctx.dim as number, ctx.log as boolean)];
  },
});

export function softmax(x: Tensor, dim = -1): Tensor {
  checkFloating('softmax', x);
  return SoftmaxFn(x, normDim(dim, x.rank), false);
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  checkFloating('logSoftmax', x);
  return SoftmaxFn(x, normDim(dim, x.rank), true);
}

const MaskedSoftmaxFn = defineFunction({
  name: 'scaledMaskedSoftmax',
  forward(ctx, x: Tensor, scale: number, causal: boolean, mask: Tensor | undefined) {
    const y = k.maskedSoftmax(x, scale, { causal, mask });
    ctx.saveForBackward(y, ...(mask ? [mask] : []));
    ctx.scale = scale;
    ctx.causal = causal;
    return y;
  },
  backward(ctx, gy) {
    const [y, mask] = ctx.savedTensors as [Tensor, Tensor | undefined];
    return [k.maskedSoftmaxBackward(y, gy, ctx.scale as number, { causal: ctx.causal as boolean, mask })];
  },
});

export interface ScaledMaskedSoftmaxOptions {
  /** Multiplies the scores before masking (Megatron's softmax scale, e.g. 1 / sqrt(head size)). */
  scale?: number;
  /** Masks key j for query i when j > i + (sk - sq) (upper triangle when sq = sk). */
  causal?: boolean;
  /** Bool, true = masked, shaped [b or 1, 1, sq or 1, sk]. */
  mask?: Tensor;
}

/** Whether scaledMaskedSoftmax reads this mask for scores [b, heads, sq, sk]: bool [b or 1, 1, sq or 1, sk]. */
export function scaledMaskedSoftmaxTakes(mask: Tensor, scoresShape: readonly number[]): boolean {
  const [b, , sq, sk] = scoresShape;
  const [mb, mh, ms, mk] = mask.shape;
  return mask.dtype === 'bool' && mask.rank === 4 && (mb === 1 || mb === b) && mh === 1 && (ms === 1 || ms === sq) && mk === sk;
}

/**
 * Megatron's fused scale + mask + softmax over attention scores x [b, heads, sq, sk]:
 * softmax(masked ? -10000 : x * scale) along sk, computed in fp32 whatever x's dtype, returned in
 * x's dtype. One kernel forward and one backward, instead of an upcast, scale, fill and softmax.
 */
export function scaledMaskedSoftmax(x: Tensor, o: ScaledMaskedSoftmaxOptions = {}): Tensor {
  checkFloating('scaledMaskedSoftmax', x);
  if (x.rank !== 4) throw new Error(`scaledMaskedSoftmax: scores must be [b, heads, sq, sk], got ${shapeString(x.shape)}`);
  const [b, , sq, sk] = x.shape as [number, number, number, number];
  const m = o.mask;
  if (m) {
    m._check();
    if (!scaledMaskedSoftmaxTakes(m, x.shape)) throw new Error(`scaledMaskedSoftmax: mask must be bool [${b} or 1, 1, ${sq} or 1, ${sk}] (true = masked), got ${m.dtype} ${shapeString(m.shape)}`);
  }
  if (o.causal && sk < sq) throw new Error(`scaledMaskedSoftmax: a causal mask needs at least as many keys (${sk}) as queries (${sq})`);
  return MaskedSoftmaxFn(x, o.scale ?? 1, o.causal ?? false, m);
}

const NormFn = defineFunction({
  name: 'norm',
  forward(ctx, x: Tensor, weight: Tensor | undefined, bias: Tensor | undefined, cols: number, eps: number, rms: boolean) {
    const r = k.norm(x, weight, bias, cols, eps, rms);
    ctx.saveForBackward(x, r.rstd, ...(weight ? [weight] : []), ...(r.mean ? [r.mean] : []));
    ctx.cols = cols;
    ctx.rms = rms;
    ctx.hasWeight = weight !== undefined;
    return r.out;
  },
  backward(ctx, gy) {
    const [x, rstd, ...rest] = ctx.savedTensors as Tensor[];
    const weight = ctx.hasWeight ? rest.shift() : undefined;
    const meanT = ctx.rms ? undefined : rest.shift();
    const { gx, gw, gb } = k.normBackward(
      gy, x as Tensor, weight, meanT, rstd as Tensor, ctx.cols as number, ctx.rms as boolean,
      ctx.needsInputGrad[1] === true, ctx.needsInputGrad[2] === true,
    );
    const asWeight = (g: Tensor | undefined) => (g && weight && g.dtype !== weight.dtype ? k.cast(g, weight.dtype) : g);
    return [gx, asWeight(gw) ?? null, asWeight(gb) ?? null];
  },
});

function checkNormParams(op: string, x: Tensor, cols: number, weight?: Tensor, bias?: Tensor): void {
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (!p) continue;
    p._check();
    if (p.numel !== cols) throw new Error(`${op}: the ${name} has ${p.numel} elements, but the normalised size is ${cols}`);
    if (p.device !== x.device) throw new Error(`${op}: the ${name} is on ${p.device}, the input on ${x.device}`);
    if (!isFloatingDtype(p.dtype)) throw new Error(`${op}: the ${name} must be floating, got ${p.dtype}`);
  }
}

/** LayerNorm over the trailing `normalizedShape` dimensions (biased variance, fp32 statistics). */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
  checkFloating('layerNorm', x);
  const dims = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.rank - dims.length);
  if (dims.length > x.rank || !sameShape(tail, dims)) {
    throw new Error(`layerNorm: normalizedShape ${shapeString(dims)} does not match the end of ${shapeString(x.shape)}`);
  }
  const cols = dims.reduce((p, d) => p * d, 1);
  checkNormParams('layerNorm', x, cols, weight, bias);
  return NormFn(x, weight, bias, cols, eps, false);
}

/** RMSNorm over the last dimension: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: Tensor, weight?: Tensor, eps = 1e-5): Tensor {
  checkFloating('rmsNorm', x);
  const cols = x.shape[x.rank - 1] ?? 1;
  checkNormParams('rmsNorm', x, cols, weight);
  return NormFn(x, weight, undefined, cols, eps, true);
}

const DropoutFn = defineFunction({
  name: 'dropout',
  forward(ctx, x: Tensor, p: number, generator: Generator | undefined) {
    const { out, mask } = k.dropout(x, p, generator);
    ctx.saveForBackward(mask);
    ctx.scale = 1 / (1 - p);
    return out;
  },
  backward(ctx, gy) {
    const [mask] = ctx.savedTensors as [Tensor];
    return [k.maskedScale(gy, mask, ctx.scale as number)];
  },
});

/** Zeroes each element with probability p and scales the rest by 1/(1-p) (a view of x when not training). */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  checkFloating('dropout', x);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return reshape(x, x.shape);
  if (p === 1) return mul(x, 0);
  return DropoutFn(x, p, generator);
}

const CrossEntropyFn = defineFunction({
  name: 'crossEntropy',
  forward(ctx, logits: Tensor, labels: Tensor, ignoreIndex: number, smoothing: number) {
    const { loss, lse } = k.crossEntropy(logits, labels, ignoreIndex, smoothing);
    ctx.saveForBackward(logits, labels, lse);
    ctx.ignoreIndex = ignoreIndex;
    ctx.smoothing = smoothing;
    return loss;
  },
  backward(ctx, gloss) {
    const [logits, labels, lse] = ctx.savedTensors as [Tensor, Tensor, Tensor];
    return [k.crossEntropyBackward(logits, labels, lse, gloss, ctx.ignoreIndex as number, ctx.smoothing as number), null];
  },
});

export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing (default -100, as in PyTorch). */
  ignoreIndex?: number;
  labelSmoothing?: number;
  /** 'mean' over the targets that are not ignored (default), 'sum', or 'none' (per position). */
  reduction?: 'mean' | 'sum' | 'none';
}

/** Cross entropy of logits [..., vocab] against integer targets [...], computed in fp32. */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  checkFloating('crossEntropy', logits);
  target._check();
  if (target.dtype !== 'i32' && target.dtype !== 'i64') throw new Error(`crossEntropy: targets must be i32 or i64, got ${target.dtype}`);
  const vocab = logits.shape[logits.rank - 1] as number;
  if (logits.rank < 1 || !sameShape(logits.shape.slice(0, -1), target.shape)) {
    throw new Error(`crossEntropy: logits ${shapeString(logits.shape)} need targets of shape ${shapeString(logits.shape.slice(0, -1))}, got ${shapeString(target.shape)}`);
  }
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const smoothing = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`crossEntropy: unknown reduction '${reduction}'`);
  const rows = target.numel;
  // Composite: the scope frees the intermediate views and counts, keeping only the result.
  return scope(() => {
    const perRow = CrossEntropyFn(reshape(logits, [rows, vocab]), view(target, [rows]), ignoreIndex, smoothing);
    if (reduction === 'none') return reshape(perRow, target.shape);
    const total = sum(perRow);
    if (reduction === 'sum') return total;
    const counted = k.binary('ne', target, k.full([], ignoreIndex, target.dtype, target.device));
    return div(total, k.reduce('sum', view(counted, [rows]), 0, false, 'f32').values);
  });
}

/** Mean squared error (or its sum, or per element). */
export function mseLoss(input: Tensor, target: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  checkFloating('mseLoss', input);
  return scope(() => {
    const sq = square(sub(input, cast(target, input.dtype)));
    if (reduction === 'none') return sq;
    return reduction === 'sum' ? sum(sq) : mean(sq);
  });
}
